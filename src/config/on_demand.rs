//! `/probe` settings: the named `modules:` a request may pick, and the `probe_allow:` list.
//!
//! A module is a named block of target settings (`{starttls: smtp, timeout: 5s}`) over the
//! `defaults:`; a request without `module=` uses the defaults alone. Modules are resolved when the
//! configuration loads, so a broken module (an unreadable client certificate, a bad proxy URL)
//! is a load-time error with its line and column, and a request only fills in the address.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_saphyr::{Location, Spanned};

use super::address::{check_server_name, Address};
use super::probe_allow::AllowList;
use super::raw::{RawDefaults, RawTarget};
use super::reach::{self, ReachDefaults, Starttls};
use super::{at, resolve_settings, Target, TargetKind, TargetSettings};

/// Every `starttls:` value, for parsing the `starttls` query parameter.
const STARTTLS: [Starttls; 8] = [
    Starttls::Smtp,
    Starttls::Imap,
    Starttls::Pop3,
    Starttls::Ftp,
    Starttls::Ldap,
    Starttls::Postgres,
    Starttls::Mysql,
    Starttls::Xmpp,
];

/// What `/probe` may do, from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OnDemandSpec {
    /// What may be probed; `None` when `probe_allow` is not configured, and `/probe` is off.
    pub allow: Option<AllowList>,
    /// The named modules.
    pub modules: BTreeMap<String, Module>,
    /// The settings a request without `module=` gets: the defaults alone.
    pub default_module: Module,
}

/// One module: the settings of a target, without an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    template: Arc<TargetSettings>,
    /// The module's own `server_name`, used when the request gives none.
    server_name: Option<String>,
}

/// What a `/probe` request asks for.
#[derive(Debug, Clone, Default)]
pub struct OnDemandRequest<'a> {
    /// `target=`: the `host:port` to probe, which becomes the `target` label; empty when the
    /// parameter is missing (a bad request).
    pub target: &'a str,
    /// `module=`: the configured module whose settings apply; `None` or empty for the
    /// `defaults:` alone.
    pub module: Option<&'a str>,
    /// `server_name=`: the SNI and the name to check, over the module's; otherwise the
    /// target's host.
    pub server_name: Option<&'a str>,
    /// `starttls=`: a `starttls:` value (`smtp`, …) over the module's; still text, checked
    /// when the target is built.
    pub starttls: Option<&'a str>,
}

/// Why a request cannot be served: bad parameters, or a target the allow-list refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A parameter is missing or wrong (HTTP 400).
    BadRequest(String),
    /// `/probe` is off or the target is not allowed (HTTP 403).
    Forbidden(String),
}

impl OnDemandSpec {
    /// The `ca_file`s of the modules (and the defaults), whose trust stores `/probe` needs.
    pub fn ca_files(&self) -> impl Iterator<Item = &std::path::Path> {
        std::iter::once(&self.default_module)
            .chain(self.modules.values())
            .filter_map(|m| m.template.ca_file.as_deref())
    }

    /// Builds the target a request asks for, or says why not.
    pub fn target(&self, request: &OnDemandRequest<'_>) -> Result<Target, Refusal> {
        let bad = |m: String| Refusal::BadRequest(m);
        if request.target.is_empty() {
            return Err(bad(
                "the `target` parameter is missing; give target=host:port".into(),
            ));
        }
        let address = Address::parse(request.target).map_err(|e| bad(format!("target: {e}")))?;
        let module = match request.module {
            None | Some("") => &self.default_module,
            Some(name) => self.modules.get(name).ok_or_else(|| {
                let known: Vec<&str> = self.modules.keys().map(String::as_str).collect();
                bad(format!(
                    "module: {name:?} is not configured (modules: {known:?})"
                ))
            })?,
        };
        let starttls = match request.starttls {
            None | Some("") => module.template.reach.starttls,
            Some(text) => Some(
                STARTTLS
                    .into_iter()
                    .find(|p| p.as_str() == text)
                    .ok_or_else(|| {
                        let known: Vec<&str> = STARTTLS.iter().map(|p| p.as_str()).collect();
                        bad(format!("starttls: {text:?} is not one of {known:?}"))
                    })?,
            ),
        };
        let server_name = match request.server_name {
            Some(name) => name.to_string(),
            None => module
                .server_name
                .clone()
                .unwrap_or_else(|| address.host.to_string()),
        };
        check_server_name(&server_name).map_err(|e| bad(format!("server_name: {e}")))?;
        let Some(allow) = &self.allow else {
            return Err(Refusal::Forbidden(
                "/probe is off: no probe_allow list is configured".into(),
            ));
        };
        if !allow.permits(&address) {
            return Err(Refusal::Forbidden(format!(
                "target {:?} is not in the probe_allow list",
                request.target
            )));
        }
        let mut target = module.template.as_ref().clone().into_target(
            request.target.to_string(),
            TargetKind::Endpoint(address),
            server_name,
        );
        target.reach.starttls = starttls;
        Ok(target)
    }
}

/// Resolves `probe_allow:` and `modules:`; errors start with `line L column C` and the key.
pub(super) fn resolve(
    defaults: &RawDefaults,
    reach_defaults: &ReachDefaults,
    allow: Option<&Spanned<Vec<Spanned<String>>>>,
    modules: Option<&BTreeMap<String, Spanned<RawTarget>>>,
) -> Result<OnDemandSpec, String> {
    let allow = allow
        .map(|list| {
            AllowList::parse(list.value.iter().map(|e| e.value.as_str())).map_err(|e| {
                // Point at the entry when the message names one (`[i]: ...`).
                let loc = e
                    .strip_prefix('[')
                    .and_then(|rest| rest.split_once(']'))
                    .and_then(|(i, _)| i.parse::<usize>().ok())
                    .and_then(|i| list.value.get(i))
                    .map_or(list.referenced, |entry| entry.referenced);
                format!("{}: probe_allow{e}", at(&loc))
            })
        })
        .transpose()?;
    let blank = Spanned::new(empty_target(), Location::UNKNOWN, Location::UNKNOWN);
    let default_module = module(defaults, reach_defaults, &blank)
        .map_err(|(loc, e)| format!("{}: defaults.{e}", at(&loc)))?;
    let mut resolved = BTreeMap::new();
    for (name, raw) in modules.into_iter().flatten() {
        let module = module(defaults, reach_defaults, raw)
            .map_err(|(loc, e)| format!("{}: modules.{name}.{e}", at(&loc)))?;
        resolved.insert(name.clone(), module);
    }
    Ok(OnDemandSpec {
        allow,
        modules: resolved,
        default_module,
    })
}

/// One module from its raw block; the keys that make no sense without a fixed target are refused.
fn module(
    defaults: &RawDefaults,
    reach_defaults: &ReachDefaults,
    raw: &Spanned<RawTarget>,
) -> Result<Module, (Location, String)> {
    let here = raw.referenced;
    let r = &raw.value;
    let refused = [
        ("name", r.name.as_ref().map(|n| n.referenced)),
        ("address", r.address.as_ref().map(|a| a.referenced)),
        ("path", r.path.as_ref().map(|p| p.referenced)),
        ("url", r.url.as_ref().map(|u| u.referenced)),
        ("kubernetes", r.kubernetes.as_ref().map(|k| k.referenced)),
        (
            "password_file",
            r.password_file.as_ref().map(|p| p.referenced),
        ),
        ("interval", r.interval.map(|_| here)),
    ];
    if let Some((key, loc)) = refused.iter().find_map(|(k, l)| l.map(|l| (k, l))) {
        return Err((
            loc,
            format!("{key}: a module is not a target; the request names the target (target=host:port) and Prometheus sets the pace"),
        ));
    }
    let reach = reach::resolve_reach(reach_defaults, r.reach(), here)?;
    if let Some(m) = &r.metrics {
        super::metrics::check(m)?;
        if let Some((key, loc)) = m.file_label_at() {
            return Err((
                loc,
                format!("metrics.{key}: shapes the `file` label of a file target; /probe probes endpoints"),
            ));
        }
    }
    if let Some(d) = &r.acme_directory {
        super::acme::check(d)?;
    }
    let template = resolve_settings(defaults, r.clone(), reach).map_err(|e| (here, e))?;
    if let Some(name) = &r.server_name {
        check_server_name(&name.value)
            .map_err(|e| (name.referenced, format!("server_name: {e}")))?;
    }
    Ok(Module {
        template: Arc::new(template),
        server_name: r.server_name.as_ref().map(|name| name.value.clone()),
    })
}

/// A target block with nothing set, for the default module.
fn empty_target() -> RawTarget {
    serde_saphyr::from_str("{}").expect("an empty mapping is a valid target block")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn spec(yaml: &str) -> OnDemandSpec {
        Config::parse(yaml).unwrap().on_demand
    }

    fn ask<'a>(target: &'a str) -> OnDemandRequest<'a> {
        OnDemandRequest {
            target,
            ..OnDemandRequest::default()
        }
    }

    #[test]
    fn off_without_an_allow_list() {
        let s = spec("targets: [{address: a.example:443}]\n");
        assert!(matches!(
            s.target(&ask("a.example:443")),
            Err(Refusal::Forbidden(_))
        ));
        // Bad parameters are still a 400, whatever the list.
        assert!(matches!(
            s.target(&ask("nope")),
            Err(Refusal::BadRequest(_))
        ));
    }

    #[test]
    fn modules_fill_in_settings() {
        let s = spec(
            "defaults: {timeout: 9s}\nprobe_allow: ['*.example.com:*']\nmodules:\n  smtp: {starttls: smtp, timeout: 5s}\n  named: {server_name: other.example}\n",
        );
        let t = s.target(&ask("mx.example.com:25")).unwrap();
        assert_eq!(t.timeout.as_secs(), 9);
        assert_eq!(t.reach.starttls, None);
        assert_eq!(t.server_name, "mx.example.com");
        assert_eq!(t.name, "mx.example.com:25");
        let t = s
            .target(&OnDemandRequest {
                module: Some("smtp"),
                ..ask("mx.example.com:25")
            })
            .unwrap();
        assert_eq!(
            (t.timeout.as_secs(), t.reach.starttls),
            (5, Some(Starttls::Smtp))
        );
        let t = s
            .target(&OnDemandRequest {
                module: Some("named"),
                starttls: Some("imap"),
                ..ask("mx.example.com:143")
            })
            .unwrap();
        assert_eq!(t.server_name, "other.example");
        assert_eq!(t.reach.starttls, Some(Starttls::Imap));
        for bad in [
            OnDemandRequest {
                module: Some("nope"),
                ..ask("a.example.com:1")
            },
            OnDemandRequest {
                starttls: Some("smtps"),
                ..ask("a.example.com:1")
            },
            OnDemandRequest {
                server_name: Some(""),
                ..ask("a.example.com:1")
            },
            OnDemandRequest {
                server_name: Some("bad name with spaces"),
                ..ask("a.example.com:1")
            },
            OnDemandRequest {
                server_name: Some("[::1]"),
                ..ask("a.example.com:1")
            },
            ask(""),
        ] {
            assert!(
                matches!(s.target(&bad), Err(Refusal::BadRequest(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            s.target(&ask("a.example.org:1")),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn config_errors_are_located() {
        let e = Config::parse("probe_allow: [ok.example, '10.0.0.0/40']\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 1 column 27: probe_allow[1]:"), "{e}");
        let e = Config::parse("probe_allow: ['*']\nmodules:\n  m: {address: a.example:1}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("modules.m.address:"),
            "{e}"
        );
        let e = Config::parse("probe_allow: ['*']\nmodules:\n  m: {starttls: smtps}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
