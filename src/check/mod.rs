//! `cert-expiry-exporter check`: probe once and explain, in plain words, what is wrong and
//! what to do about it.
//!
//! The probe is the exporter's own ([`crate::probe::Prober`] with revocation, the legacy-
//! protocol check, weak-crypto judgement and caIssuers downloads), so `check` says exactly
//! what the metrics would. Targets come from the command line (`host:port`, with
//! `--starttls`, `--server-name`, `--ca-file`, `--timeout`) or from a configuration file.
//! [`findings`] turns each result into verdicts with advice; [`report`] writes them for people
//! and [`json`] for scripts. The exit status is the worst severity: 0 fine, 1 needs attention,
//! 2 broken, and 3 when the check could not run (bad arguments or configuration).

pub mod findings;
pub mod json;
pub mod report;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{CheckArgs, CheckOutput};
use crate::config::{Address, Config, Target};
use crate::probe::leaves::KeyType;
use crate::probe::{ProbeResult, Prober, Resolver};
use crate::revocation::Revocation;
use crate::x509::TrustStores;
use findings::{Finding, Severity};

/// Exit status when the check could not run at all.
pub const EXIT_UNUSABLE: u8 = 3;
/// The probe budget of an endpoint given on the command line without `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One probe result with its verdicts.
#[derive(Debug)]
pub struct Checked {
    /// The target probed (as configured, or made from the command line).
    pub target: Arc<Target>,
    /// What the probe found, exactly as the exporter would serve it (for a server with
    /// several leaves, one chain of it: see [`ProbeResult::per_leaf`]).
    pub result: ProbeResult,
    /// The key type of the chain, when the server offers several leaves.
    pub key_type: Option<KeyType>,
    /// The verdicts on it, worst first.
    pub findings: Vec<Finding>,
}

/// Everything one run of `check` found.
#[derive(Debug)]
pub struct Outcome {
    /// One entry per result (a target with `resolve: all` or a glob gives several), in the
    /// order the targets were given.
    pub checked: Vec<Checked>,
    /// The local clock against the CA servers answered during the check, when any did.
    pub clock_skew_seconds: Option<f64>,
    /// The verdict on that clock.
    pub clock: Option<Finding>,
}

impl Outcome {
    /// The worst severity of every finding.
    pub fn worst(&self) -> Severity {
        self.checked
            .iter()
            .map(|c| findings::worst(&c.findings))
            .chain(self.clock.iter().map(|f| f.severity))
            .max()
            .unwrap_or(Severity::Ok)
    }
}

/// Runs `check` with `args`, writing the report to standard output; returns the exit status.
pub fn run(args: &CheckArgs) -> u8 {
    let (targets, trust) = match select_targets(args) {
        Ok(selected) => selected,
        Err(e) => {
            eprintln!("check: {e}");
            return EXIT_UNUSABLE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("check: cannot start the async runtime: {e}");
            return EXIT_UNUSABLE;
        }
    };
    // The configuration's name servers (`dns.name_servers`), else the system's.
    let name_servers = args
        .config_file
        .as_deref()
        .and_then(|path| Config::load(path).ok())
        .map(|c| c.name_servers)
        .unwrap_or_default();
    let resolver = Resolver::for_config(&Resolver::from_system(), &name_servers);
    let checking = check_targets(targets, trust, args.warn_days, resolver);
    let outcome = match runtime.block_on(checking) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("check: {e}");
            return EXIT_UNUSABLE;
        }
    };
    let now = crate::clock::unix_now();
    let text = match args.output {
        CheckOutput::Json => json::render(&outcome, now),
        CheckOutput::Text => {
            let stdout = std::io::stdout();
            let colour =
                stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report::render(&outcome, colour)
        }
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`check … | head`) is not worth a panic.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    outcome.worst().exit_code()
}

/// The targets to check and their trust stores: every configured target (or the named
/// ones) with `--config.file`, plus the endpoints given as arguments.
pub fn select_targets(args: &CheckArgs) -> Result<(Vec<Arc<Target>>, TrustStores), String> {
    let config = match &args.config_file {
        Some(path) => Some(Config::load(path).map_err(|e| format!("invalid configuration: {e}"))?),
        None => None,
    };
    let mut targets = Vec::new();
    match &config {
        Some(config) if args.targets.is_empty() => targets.extend(config.targets.iter().cloned()),
        None if args.targets.is_empty() => {
            return Err("name at least one endpoint (host:port), or give --config.file".into())
        }
        _ => {}
    }
    for arg in &args.targets {
        let configured = config
            .as_ref()
            .and_then(|c| c.targets.iter().find(|t| &t.name == arg));
        match configured {
            Some(target) => targets.push(target.clone()),
            None if arg.starts_with(KUBE_SCHEME) => targets.push(kube_target(arg, args)?),
            None => targets.push(endpoint_target(arg, args, config.is_some())?),
        }
    }
    if let Some(timeout) = args.timeout {
        if timeout.is_zero() {
            return Err("--timeout must be greater than zero".into());
        }
        targets = targets
            .into_iter()
            .map(|t| {
                Arc::new(Target {
                    timeout,
                    ..(*t).clone()
                })
            })
            .collect();
    }
    let trust = TrustStores::load(targets.iter().filter_map(|t| t.ca_file.as_deref()))
        .map_err(|e| format!("ca_file: {e}"))?;
    Ok((targets, trust))
}

/// `s` as a YAML scalar (a JSON string is one), for the one-target configurations `check`
/// writes from its command line.
fn yaml_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The options every command-line target takes (`--ca-file`, `--timeout`), as lines of the
/// one-target configuration `yaml`.
fn push_common_options(yaml: &mut String, args: &CheckArgs) {
    if let Some(ca_file) = &args.ca_file {
        yaml.push_str(&format!(
            "    ca_file: {}\n",
            yaml_quote(&ca_file.display().to_string())
        ));
    }
    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    yaml.push_str(&format!(
        "    timeout: {}\n",
        yaml_quote(&humantime::format_duration(timeout).to_string())
    ));
}

/// How a Secret is named on the command line: `k8s://namespace/name`.
const KUBE_SCHEME: &str = "k8s://";

/// A target for one Secret, `k8s://namespace/name`, read with the kubeconfig kubectl would use
/// (`$KUBECONFIG`, else `~/.kube/config`), else in-cluster; any Secret type, the default keys.
fn kube_target(arg: &str, args: &CheckArgs) -> Result<Arc<Target>, String> {
    let usage = || format!("{arg:?}: name a Secret as k8s://namespace/name");
    let rest = &arg[KUBE_SCHEME.len()..];
    let (namespace, name) = rest.split_once('/').ok_or_else(usage)?;
    if name.is_empty() || name.contains('/') {
        return Err(usage());
    }
    let kubeconfig = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).next())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".kube/config"))
                .filter(|p| p.is_file())
        });
    let mut yaml = format!(
        "targets:\n  - name: {}\n    kubernetes:\n      namespaces: [{}]\n",
        yaml_quote(arg),
        yaml_quote(namespace)
    );
    if let Some(path) = &kubeconfig {
        yaml.push_str(&format!(
            "      kubeconfig: {}\n",
            yaml_quote(&path.display().to_string())
        ));
    }
    push_common_options(&mut yaml, args);
    let config = Config::parse(&yaml).map_err(|e| format!("{arg:?}: {e}"))?;
    let mut target = (*config.targets[0]).clone();
    if let crate::config::TargetKind::Kubernetes(source) = &mut target.kind {
        source.secret_types.clear();
        source.object_name = Some(name.to_string());
    }
    Ok(Arc::new(target))
}

/// A target for an endpoint given on the command line, validated exactly as a configured one
/// would be: the options are written as a one-target configuration and loaded.
fn endpoint_target(arg: &str, args: &CheckArgs, has_config: bool) -> Result<Arc<Target>, String> {
    if let Err(e) = Address::parse(arg) {
        return Err(if has_config {
            format!("{arg:?} is neither a target of the configuration nor an endpoint: {e}")
        } else {
            format!("endpoint {e}")
        });
    }
    let mut yaml = format!("targets:\n  - address: {}\n", yaml_quote(arg));
    if let Some(name) = &args.server_name {
        yaml.push_str(&format!("    server_name: {}\n", yaml_quote(name)));
    }
    if let Some(protocol) = &args.starttls {
        yaml.push_str(&format!("    starttls: {protocol}\n"));
    }
    push_common_options(&mut yaml, args);
    let config = Config::parse(&yaml).map_err(|e| format!("endpoint {arg:?}: {e}"))?;
    config
        .targets
        .into_iter()
        .next()
        .ok_or_else(|| format!("endpoint {arg:?}: no target"))
}

/// Probes every target once, all at the same time, and judges the results.
pub async fn check_targets(
    targets: Vec<Arc<Target>>,
    trust: TrustStores,
    warn_days: f64,
    resolver: Resolver,
) -> Result<Outcome, String> {
    let revocation = Arc::new(Revocation::new()?);
    let prober = Prober::new(resolver, trust).with_revocation(revocation.clone());
    let probes = targets.iter().map(|t| prober.probe_all(t));
    let results = futures_util::future::join_all(probes).await;
    let now = crate::clock::unix_now();
    let checked = targets
        .into_iter()
        .zip(results)
        .flat_map(|(target, results)| {
            let target = target.clone();
            results
                .into_iter()
                .flat_map(ProbeResult::per_leaf)
                .map(move |(key_type, result)| Checked {
                    findings: findings::assess(&target, &result, now, warn_days),
                    target: target.clone(),
                    result,
                    key_type,
                })
        })
        .collect();
    let clock_skew_seconds = revocation.http().clock.latest().map(|o| o.skew_seconds);
    Ok(Outcome {
        checked,
        clock_skew_seconds,
        clock: findings::clock_finding(clock_skew_seconds),
    })
}

/// `2026-11-29 09:09:35 UTC` for Unix seconds, for any date a certificate can hold (years
/// 1950–9999, before 1970 too).
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(targets: &[&str]) -> CheckArgs {
        CheckArgs {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            config_file: None,
            starttls: None,
            server_name: None,
            ca_file: None,
            output: CheckOutput::Text,
            warn_days: 28.0,
            timeout: None,
        }
    }

    #[test]
    fn dates_are_utc_for_any_certificate_year() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_773_532_800), "2026-03-15 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
        assert_eq!(format_utc(-631_152_000), "1950-01-01 00:00:00 UTC");
        assert_eq!(format_utc(253_402_300_799), "9999-12-31 23:59:59 UTC");
    }

    #[test]
    fn endpoints_become_validated_targets() {
        let mut a = args(&["mail.example:25"]);
        a.starttls = Some("smtp".into());
        a.server_name = Some("mx.example".into());
        a.timeout = Some(Duration::from_secs(3));
        let (targets, _) = select_targets(&a).unwrap();
        let t = &targets[0];
        assert_eq!(t.name, "mail.example:25");
        assert_eq!(t.server_name, "mx.example");
        assert_eq!(t.timeout, Duration::from_secs(3));
        assert_eq!(t.reach.starttls, Some(crate::config::Starttls::Smtp));
        assert!(t.legacy_protocols);
    }

    #[test]
    fn bad_invocations_say_what_is_wrong() {
        let e = select_targets(&args(&[])).unwrap_err();
        assert!(e.contains("host:port"), "{e}");
        let e = select_targets(&args(&["no-port.example"])).unwrap_err();
        assert!(e.contains("missing `:port`"), "{e}");
        let mut a = args(&["a.example:443"]);
        a.ca_file = Some("/nonexistent/ca.pem".into());
        let e = select_targets(&a).unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let mut a = args(&["a.example:443"]);
        a.timeout = Some(Duration::ZERO);
        assert!(select_targets(&a).is_err());
    }

    #[test]
    fn configured_targets_are_picked_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "targets:\n  - name: shop\n    address: shop.example:443\n  - name: api\n    address: api.example:443\n",
        )
        .unwrap();
        let mut a = args(&[]);
        a.config_file = Some(path.clone());
        let (all, _) = select_targets(&a).unwrap();
        assert_eq!(all.len(), 2);
        let mut a = args(&["api", "other.example:8443"]);
        a.config_file = Some(path);
        let (some, _) = select_targets(&a).unwrap();
        let names: Vec<&str> = some.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["api", "other.example:8443"]);
    }
}
