//! The exporter's configuration: the YAML file as typed Rust values.
//!
//! Loading happens in two steps, so that every mistake is reported with where it is:
//! serde-saphyr turns the text into [`RawConfig`] (it rejects unknown keys and wrong types with a
//! line and column), then [`Config::from_raw`] applies the defaults to each target and checks what
//! types cannot express (unique names, ports, positive durations). The scheduler only ever sees a
//! [`Config`], whose targets are complete and valid. The `targets:` list is the exception to the
//! two steps in memory, not in outcome: `stream` resolves each target as it is read, so that a
//! large file never holds every raw target at once, with the errors of the two steps unchanged.

pub mod acme;
mod address;
mod cert_files;
mod cert_url;
mod dns;
mod kubernetes;
mod loaded;
mod metrics;
mod on_demand;
mod probe_allow;
mod raw;
mod reach;
mod revocation;
mod stream;
mod target_files;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::capped_read::{read_text_capped, MAX_CONFIG_FILE};

pub use acme::AcmeDirectory;
use address::check_server_name;
pub use address::{Address, Host};
pub use cert_files::CertFileSource;
pub use cert_url::CertUrl;
pub use dns::DnsChecks;
pub use kubernetes::{KubeSource, DEFAULT_KEYS, DEFAULT_SECRET_TYPE};
pub use loaded::Loaded;
pub use metrics::{
    Certificates, FileLabel, MetricsLevel, MetricsSettings, NameLabels, Phases, RawMetrics,
    DEFAULT_LABEL_VALUE_LENGTH_LIMIT,
};
pub use on_demand::{Module, OnDemandRequest, OnDemandSpec, Refusal};
pub use probe_allow::AllowList;
pub use raw::{RawConfig, RawDefaults, RawTarget};
pub use reach::{HeloName, ProxyCredentials, ProxyUrl, Reach, ResolveMode, Starttls};
pub use revocation::{ByteSize, RawRevocation, RevocationSettings, DEFAULT_CRL_MAX_BYTES};
use serde_saphyr::{Location, Spanned};
pub use stream::RawTargets;
use stream::Resolved;
pub use target_files::{TargetFileEntry, TargetFileSpec};

/// Default time between two probes of one target.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// Default budget for a whole probe (DNS, connect, handshake).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of probes in flight at once. TLS handshakes are cheap on the client side,
/// so this is bounded mainly by file descriptors and by politeness to shared networks.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// Label names the exporter sets itself; a target's own `labels` may not reuse them.
pub const RESERVED_LABELS: &[&str] = &[
    "target",
    "address",
    "file",
    "position",
    "subject",
    "issuer",
    "serial",
    "reason",
    "phase",
    "version",
    "cipher",
    "group",
    "source",
    "url",
    "sha256_fingerprint",
    "key_algorithm",
    "key_bits",
    "signature_algorithm",
    "dns_names",
    "key_type",
    "instance",
    "job",
    "kubeconfig_cluster",
    "kubeconfig_user",
];

/// Label names a Kubernetes target sets itself on top of [`RESERVED_LABELS`]. Other targets may
/// use them (a file target reading a mounted Secret may well be labelled `secret_name`).
pub const KUBERNETES_LABELS: &[&str] = &[
    "watch",
    "secret_namespace",
    "secret_name",
    "secret_key",
    "configmap_namespace",
    "configmap_name",
    "configmap_key",
];

/// A validated configuration, ready for the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Probes in flight at once, across all targets.
    pub concurrency: usize,
    /// The targets, in file order, each with its defaults applied.
    pub targets: Vec<Arc<Target>>,
    /// Extra target lists in files of their own (`target_files:`), when configured.
    pub target_files: Option<TargetFileSpec>,
    /// What `/probe` may probe and with which modules.
    pub on_demand: OnDemandSpec,
    /// The longest label value of the series that belong to no target (`defaults.metrics`).
    pub label_value_length_limit: usize,
    /// The name servers probes and DNS checks ask (`dns.name_servers`), instead of
    /// `/etc/resolv.conf`'s; empty when unset.
    pub name_servers: Vec<std::net::SocketAddr>,
}

/// What a target is: a server to connect to, or certificate files to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A TLS endpoint (`address:`): where to connect.
    Endpoint(Address),
    /// Certificate files read instead of connecting (`path:`).
    CertFiles(CertFileSource),
    /// Certificates downloaded from a URL (`url:`).
    Url(CertUrl),
    /// Certificates in Kubernetes Secrets (and ConfigMaps), watched (`kubernetes:`); boxed, as
    /// it is three times the size of the other kinds and rare.
    Kubernetes(Box<KubeSource>),
}

/// One endpoint or set of certificate files to probe, with every setting resolved.
///
/// Held for every target as long as it is configured, so kept small (`tests::type_sizes`): what
/// most targets inherit whole from `defaults:` (trust anchors, labels, metrics settings, the
/// reach settings' proxy, client certificate and `EHLO` name) is shared through an `Arc`, and
/// the rare Kubernetes source is boxed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Value of the `target` label; unique in the config.
    pub name: String,
    /// An endpoint or certificate files.
    pub kind: TargetKind,
    /// SNI and the name the certificate must cover; empty for a file target, which has no
    /// server and whose certificates are not checked against a name.
    pub server_name: String,
    /// Time between two probes.
    pub interval: Duration,
    /// Budget for the whole probe.
    pub timeout: Duration,
    /// Extra trust anchors (PEM), added to the system store.
    pub ca_file: Option<Arc<Path>>,
    /// Constant labels added to every series of this target, sorted by name.
    pub labels: Arc<BTreeMap<String, String>>,
    /// STARTTLS, which addresses, proxy and client certificate.
    pub reach: Reach,
    /// Which revocation sources are consulted, and the CRL size cap.
    pub revocation: RevocationSettings,
    /// Whether the probe also asks the endpoint for TLS 1.0 and 1.1 (`legacy_protocols:`,
    /// default true; always false for a file target, which has no server to ask).
    pub legacy_protocols: bool,
    /// Which series this target's results are written as (`metrics:`, default level
    /// `default`).
    pub metrics: Arc<MetricsSettings>,
    /// Where the leaf's renewal window is asked for (`acme_directory:`, default off).
    pub acme_directory: AcmeDirectory,
    /// The DNS checks after a probe (`caa:`, `caa_identity:`, `dane:`; off by default, and always off
    /// for a target without a server name to look up).
    pub dns: DnsChecks,
}

impl Target {
    /// Where to connect, for an endpoint.
    pub fn address(&self) -> Option<&Address> {
        match &self.kind {
            TargetKind::Endpoint(address) => Some(address),
            TargetKind::CertFiles(_) | TargetKind::Url(_) | TargetKind::Kubernetes(_) => None,
        }
    }

    /// The certificate files to read, for a file target.
    pub fn cert_files(&self) -> Option<&CertFileSource> {
        match &self.kind {
            TargetKind::CertFiles(files) => Some(files),
            TargetKind::Endpoint(_) | TargetKind::Url(_) | TargetKind::Kubernetes(_) => None,
        }
    }

    /// The URL to download certificates from, for a URL target.
    pub fn cert_url(&self) -> Option<&CertUrl> {
        match &self.kind {
            TargetKind::Url(url) => Some(url),
            TargetKind::Endpoint(_) | TargetKind::CertFiles(_) | TargetKind::Kubernetes(_) => None,
        }
    }

    /// The longest one probe of this target can take: its timeout, plus a second budget of the
    /// same length for revocation checks on endpoints (see `crate::revocation`).
    pub fn longest_probe(&self) -> Duration {
        let endpoint = matches!(self.kind, TargetKind::Endpoint(_));
        let revocation = endpoint && (self.revocation.ocsp || self.revocation.crl);
        if revocation {
            self.timeout * 2
        } else {
            self.timeout
        }
    }
}

/// A configuration that could not be loaded: what is wrong and where.
#[derive(Debug)]
pub struct ConfigError {
    /// The file the problem is in (empty when loading from a string).
    pub file: String,
    /// What is wrong, with the line and column or the field where known.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = read_text_capped(path, MAX_CONFIG_FILE).map_err(|e| ConfigError {
            file: file.clone(),
            message: format!("cannot read the file: {e}"),
        })?;
        let mut config = Config::parse(&text).map_err(|mut e| {
            e.file = file;
            e
        })?;
        if let Some(spec) = &mut config.target_files {
            // Relative target-file globs are relative to the configuration file, as in Prometheus.
            spec.base_dir = path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        }
        Ok(config)
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw = stream::parse(text).map_err(|message| ConfigError {
            file: String::new(),
            message,
        })?;
        Config::from_raw(raw).map_err(|message| ConfigError {
            file: String::new(),
            message,
        })
    }

    /// Applies the defaults to every target and checks the rules types cannot express.
    fn from_raw(raw: RawConfig) -> Result<Config, String> {
        let defaults = raw.defaults.unwrap_or_default();
        let concurrency = match &defaults.concurrency {
            Some(c) if c.value == 0 => {
                return Err(format!(
                    "{}: defaults.concurrency: must be at least 1",
                    at(&c.referenced)
                ))
            }
            Some(c) => c.value,
            None => DEFAULT_CONCURRENCY,
        };
        // Targets may all come from target files or /probe requests; otherwise name one.
        let fed_elsewhere = raw.target_files.is_some() || raw.probe_allow.is_some();
        let targets = match raw.targets {
            Some(targets) => targets,
            None if fed_elsewhere => {
                Spanned::new(RawTargets::empty(), Location::UNKNOWN, Location::UNKNOWN)
            }
            None => return Err("targets: missing; name at least one target".into()),
        };
        if targets.value.is_empty() && !fed_elsewhere {
            return Err(format!(
                "{}: targets: the list is empty; name at least one target",
                at(&targets.referenced)
            ));
        }
        // Targets read by `stream` were resolved with these already.
        let (targets, streamed_reach) = match targets.value {
            RawTargets::Held(list) => (Err(list), None),
            RawTargets::Resolved(resolved) => {
                let Resolved {
                    reach_defaults,
                    outcome,
                    ..
                } = *resolved;
                (Ok(outcome), reach_defaults)
            }
        };
        let reach_defaults = streamed_reach
            .unwrap_or_else(|| reach::ReachDefaults::from_raw(defaults.reach()))
            .map_err(|(loc, e)| format!("{}: defaults.{e}", at(&loc)))?;
        if let Some(m) = &defaults.metrics {
            metrics::check(m).map_err(|(loc, e)| format!("{}: defaults.{e}", at(&loc)))?;
        }
        if let Some(d) = &defaults.acme_directory {
            acme::check(d).map_err(|(loc, e)| format!("{}: defaults.{e}", at(&loc)))?;
        }
        let label_value_length_limit =
            metrics::resolve(defaults.metrics.as_ref(), None).label_value_length_limit;
        let on_demand = on_demand::resolve(
            &defaults,
            &reach_defaults,
            raw.probe_allow.as_ref(),
            raw.modules.as_ref(),
        )?;
        for (i, pattern) in raw
            .target_files
            .iter()
            .flat_map(|l| l.value.iter())
            .enumerate()
        {
            if let Err(e) = glob::Pattern::new(&pattern.value) {
                return Err(format!(
                    "{}: target_files[{i}]: {:?} is not a valid glob: {e}",
                    at(&pattern.referenced),
                    pattern.value
                ));
            }
            if pattern.value.trim().is_empty() {
                return Err(format!(
                    "{}: target_files[{i}]: empty; give a file or a glob such as targets/*.yaml",
                    at(&pattern.referenced)
                ));
            }
        }
        let target_files = match &raw.target_files {
            Some(list) => Some(TargetFileSpec::new(
                list.value.iter().map(|p| p.value.clone()).collect(),
                match raw.target_files_refresh_interval {
                    Some(d) if d.is_zero() => {
                        return Err(
                            "target_files_refresh_interval: must be greater than zero".into()
                        )
                    }
                    Some(d) => d,
                    None => target_files::DEFAULT_REFRESH,
                },
                defaults.clone(),
                reach_defaults.clone(),
            )),
            None => None,
        };
        let resolved = match targets {
            Ok(outcome) => outcome?,
            Err(list) => {
                let mut seen = stream::Seen::default();
                let mut resolved = Vec::with_capacity(list.len());
                for (index, raw_target) in list.into_iter().enumerate() {
                    resolved.push(stream::resolve_entry(
                        &defaults,
                        &reach_defaults,
                        &mut seen,
                        index,
                        raw_target,
                    )?);
                }
                resolved
            }
        };
        let name_servers =
            dns::name_servers(raw.dns.as_ref()).map_err(|(loc, e)| format!("{}: {e}", at(&loc)))?;
        Ok(Config {
            concurrency,
            targets: resolved,
            target_files,
            on_demand,
            label_value_length_limit,
            name_servers,
        })
    }
}

/// `line L column C`, the way the syntax errors say it.
fn at(loc: &Location) -> String {
    format!("line {} column {}", loc.line(), loc.column())
}

/// Builds one [`Target`] from its raw form and the defaults. Errors carry the location of the
/// offending value (or of the target entry) and start with the field name.
fn resolve_target(
    defaults: &RawDefaults,
    reach_defaults: &reach::ReachDefaults,
    spanned: Spanned<RawTarget>,
) -> Result<Target, (Location, String)> {
    let here = spanned.referenced;
    let raw = spanned.value;
    if let Some(m) = &raw.metrics {
        metrics::check(m)?;
    }
    if let Some(d) = &raw.acme_directory {
        acme::check(d)?;
        if raw.address.is_none() {
            return Err((
                d.referenced,
                "acme_directory: renewal information is asked for the leaf an endpoint (`address:`) serves; file and URL targets have none".into(),
            ));
        }
    }
    let reach = reach::resolve_reach(reach_defaults, raw.reach(), here)?;
    if let (Some(url), true) = (&raw.url, raw.address.is_some() || raw.path.is_some()) {
        return Err((
            url.referenced,
            "url: a target has only one of `address` (an endpoint), `path` (certificate files) and `url` (certificates to download)".into(),
        ));
    }
    let (kind, default_name) = if let Some(block) = &raw.kubernetes {
        if raw.address.is_some() || raw.path.is_some() || raw.url.is_some() {
            return Err((
                block.referenced,
                "kubernetes: a target has only one of `address` (an endpoint), `path` (certificate files), `url` (certificates to download) or `kubernetes` (Secrets on an API server)".into(),
            ));
        }
        (resolve_kubernetes(&raw, block)?, "kubernetes".to_string())
    } else {
        match (&raw.address, &raw.path, &raw.url) {
        (None, None, Some(url)) => {
            let parsed =
                cert_url::check(&url.value).map_err(|e| (url.referenced, format!("url: {e}")))?;
            if let Some(password_file) = &raw.password_file {
                return Err((
                    password_file.referenced,
                    "password_file: only a file target (`path:`) reads PKCS#12 files and keystores".into(),
                ));
            }
            if raw.server_name.is_some() {
                return Err((
                    url.referenced,
                    "server_name: a URL target's certificates are not checked against a name".into(),
                ));
            }
            if let Some(legacy) = &raw.legacy_protocols {
                return Err((
                    legacy.referenced,
                    "legacy_protocols: a URL target has no TLS server to ask for TLS 1.0 or 1.1".into(),
                ));
            }
            (TargetKind::Url(parsed), url.value.clone())
        }
        (Some(address), None, _) => {
            let parsed = Address::parse(&address.value)
                .map_err(|e| (address.referenced, format!("address: {e}")))?;
            if let Some(password_file) = &raw.password_file {
                return Err((
                    password_file.referenced,
                    "password_file: only a file target (`path:`) reads PKCS#12 files".into(),
                ));
            }
            if let Some((key, loc)) = raw.metrics.as_ref().and_then(|m| m.file_label_at()) {
                return Err((
                    loc,
                    format!("metrics.{key}: shapes the `file` label of a file target (`path:`); an endpoint has none"),
                ));
            }
            (TargetKind::Endpoint(parsed), address.value.clone())
        }
        (None, Some(path), _) => {
            let files = cert_files::resolve(path, raw.password_file.as_ref())?;
            if raw.server_name.is_some() {
                return Err((
                    path.referenced,
                    "server_name: a file target has no server; its certificates are not checked against a name".into(),
                ));
            }
            if let Some(legacy) = &raw.legacy_protocols {
                return Err((
                    legacy.referenced,
                    "legacy_protocols: a file target has no server to ask for TLS 1.0 or 1.1".into(),
                ));
            }
            (TargetKind::CertFiles(files), path.value.clone())
        }
        (Some(_), Some(path), _) => {
            return Err((
                path.referenced,
                "path: a target has either `address` (an endpoint) or `path` (certificate files), not both".into(),
            ))
        }
        (None, None, None) => {
            return Err((
                here,
                "address: missing; give `address: host:port` for an endpoint, `path: <glob>` for certificate files, `url: https://…` for certificates to download or `kubernetes:` for Secrets".into(),
            ))
        }
    }
    };
    // The name rustls will be given: checked here, where its location is known.
    let server_name = match &kind {
        TargetKind::Endpoint(address) => {
            match &raw.server_name {
                Some(name) => check_server_name(&name.value)
                    .map_err(|e| (name.referenced, format!("server_name: {e}")))?,
                None => check_server_name(&address.host.to_string()).map_err(|e| {
                    let loc = raw.address.as_ref().map_or(here, |a| a.referenced);
                    (
                        loc,
                        format!("server_name: {e} (it is taken from the address; set server_name)"),
                    )
                })?,
            }
            raw.server_name
                .as_ref()
                .map(|name| name.value.clone())
                .unwrap_or_else(|| address.host.to_string())
        }
        // A file, URL or Kubernetes target has no server; its certificates are not checked
        // against a name.
        TargetKind::CertFiles(_) | TargetKind::Url(_) | TargetKind::Kubernetes(_) => String::new(),
    };
    let name = match raw.name.clone() {
        Some(name) if name.value.is_empty() => {
            return Err((name.referenced, "name: must not be empty".into()))
        }
        Some(name) => name.value,
        None => default_name,
    };
    let mut dns = dns::resolve(
        (defaults.caa, defaults.caa_identity.as_ref()),
        (raw.caa.as_ref().map(|c| c.value), raw.caa_identity.as_ref()),
    )?;
    let caa_written = raw.caa.as_ref().filter(|c| c.value).map(|c| c.referenced);
    dns.dane = dns::dane(defaults.dane, raw.dane.as_ref().map(|d| d.value));
    let dane_written = raw.dane.as_ref().filter(|d| d.value).map(|d| d.referenced);
    let mut settings = resolve_settings(defaults, raw, reach).map_err(|e| (here, e))?;
    if let TargetKind::Kubernetes(_) = kind {
        if let Some(key) = settings
            .labels
            .keys()
            .find(|k| KUBERNETES_LABELS.contains(&k.as_str()))
        {
            return Err((
                here,
                format!(
                    "labels.{key}: a Kubernetes target sets this label itself; choose another name"
                ),
            ));
        }
    }
    if let TargetKind::CertFiles(_) | TargetKind::Url(_) | TargetKind::Kubernetes(_) = kind {
        settings.legacy_protocols = false;
        // `defaults.acme_directory` applies to endpoints only.
        settings.acme_directory = AcmeDirectory::Off;
    }
    let named =
        matches!(kind, TargetKind::Endpoint(_)) && server_name.parse::<std::net::IpAddr>().is_err();
    if dns.caa && !named {
        if let Some(caa) = caa_written {
            return Err((
                caa,
                "caa: the CAA check needs an endpoint with a server name to look up (not an IP address, a file or a URL)".into(),
            ));
        }
        // Switched on in the defaults: targets without a name are left out.
        dns.caa = false;
    }
    if dns.dane && !named {
        if let Some(dane) = dane_written {
            return Err((
                dane,
                "dane: the TLSA check needs an endpoint with a server name to look up (not an IP address, a file or a URL)".into(),
            ));
        }
        dns.dane = false;
    }
    let mut target = settings.into_target(name, kind, server_name);
    target.dns = dns;
    Ok(target)
}

/// A `kubernetes:` target: the block, and none of the keys only endpoints or files have.
fn resolve_kubernetes(
    raw: &RawTarget,
    block: &Spanned<kubernetes::RawKubernetes>,
) -> Result<TargetKind, (Location, String)> {
    let source = kubernetes::resolve(block)?;
    if let Some(name) = &raw.server_name {
        return Err((
            name.referenced,
            "server_name: a Kubernetes target has no server; its certificates are not checked against a name".into(),
        ));
    }
    if let Some(password_file) = &raw.password_file {
        return Err((
            password_file.referenced,
            "password_file: only a file target (`path:`) reads PKCS#12 files with a password"
                .into(),
        ));
    }
    if let Some(legacy) = &raw.legacy_protocols {
        return Err((
            legacy.referenced,
            "legacy_protocols: a Kubernetes target has no server to ask for TLS 1.0 or 1.1".into(),
        ));
    }
    Ok(TargetKind::Kubernetes(Box::new(source)))
}

/// The settings of a target that come from its block and the defaults, before it is told what
/// it probes: what a `/probe` module holds until a request names the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TargetSettings {
    interval: Duration,
    timeout: Duration,
    ca_file: Option<Arc<Path>>,
    labels: Arc<BTreeMap<String, String>>,
    reach: Reach,
    revocation: RevocationSettings,
    legacy_protocols: bool,
    metrics: Arc<MetricsSettings>,
    acme_directory: AcmeDirectory,
}

impl TargetSettings {
    /// The target `name` probing `kind`, with SNI `server_name` (empty for certificate files).
    fn into_target(self, name: String, kind: TargetKind, server_name: String) -> Target {
        Target {
            name,
            kind,
            server_name,
            interval: self.interval,
            timeout: self.timeout,
            ca_file: self.ca_file,
            labels: self.labels,
            reach: self.reach,
            revocation: self.revocation,
            legacy_protocols: self.legacy_protocols,
            metrics: self.metrics,
            acme_directory: self.acme_directory,
            dns: DnsChecks::default(),
        }
    }
}

/// The settings of a target that have defaults; errors start with the field name.
fn resolve_settings(
    defaults: &RawDefaults,
    raw: RawTarget,
    reach: Reach,
) -> Result<TargetSettings, String> {
    let interval = raw
        .interval
        .or(defaults.interval)
        .unwrap_or(DEFAULT_INTERVAL);
    if interval.is_zero() {
        return Err("interval: must be greater than zero".into());
    }
    let timeout = raw.timeout.or(defaults.timeout).unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err("timeout: must be greater than zero".into());
    }
    let mut labels = defaults.labels.clone().unwrap_or_default();
    labels.extend(raw.labels.unwrap_or_default());
    for key in labels.keys() {
        check_label_name(key).map_err(|e| format!("labels.{key}: {e}"))?;
    }
    Ok(TargetSettings {
        interval,
        timeout,
        ca_file: raw
            .ca_file
            .or_else(|| defaults.ca_file.clone())
            .map(Arc::from),
        labels: Arc::new(labels),
        reach,
        revocation: revocation::resolve(defaults.revocation.as_ref(), raw.revocation.as_ref())?,
        legacy_protocols: raw
            .legacy_protocols
            .map(|l| l.value)
            .or(defaults.legacy_protocols)
            .unwrap_or(true),
        metrics: Arc::new(metrics::resolve(
            defaults.metrics.as_ref(),
            raw.metrics.as_deref(),
        )),
        acme_directory: acme::resolve(
            defaults.acme_directory.as_ref(),
            raw.acme_directory.as_ref(),
        )?,
    })
}

/// Checks that `name` is a valid Prometheus label name that the exporter does not set itself.
fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || name.starts_with("__") {
        return Err(
            "not a valid label name (letters, digits and _, not starting with a digit or __)"
                .into(),
        );
    }
    let dn_label = crate::x509::dn::DnField::all()
        .any(|f| f.subject_label() == name || f.issuer_label() == name);
    if RESERVED_LABELS.contains(&name) || dn_label {
        return Err("the exporter sets this label itself; choose another name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
