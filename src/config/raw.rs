//! The configuration file exactly as written: every field optional, unknown keys rejected.
//!
//! Kept apart from the validated [`super::Config`] so that serde does the syntax (with line and
//! column in its errors) and `Config::from_raw` does the meaning.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::reach::{RawReach, ResolveMode, Starttls};
use super::stream::{self, RawTargets};

/// The top level of the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Settings every target inherits unless it sets them itself (handed to the targets'
    /// resolver as soon as it is read: see `super::stream`).
    #[serde(default, deserialize_with = "read_defaults")]
    pub defaults: Option<RawDefaults>,
    /// The endpoints to probe, where the list stands in the file; inside `Config::parse`
    /// resolved one by one as they are read (see `super::stream`).
    pub targets: Option<Spanned<RawTargets>>,
    /// Globs of extra target lists (files holding a `targets:` list), re-read when they change
    /// (see `super::target_files`).
    pub target_files: Option<Spanned<Vec<Spanned<String>>>>,
    /// How often the target files are checked for changes.
    #[serde(default, with = "humantime_serde")]
    pub target_files_refresh_interval: Option<Duration>,
    /// What `/probe` may be asked to probe; `/probe` is off without it (see `super::on_demand`).
    pub probe_allow: Option<Spanned<Vec<Spanned<String>>>>,
    /// Named blocks of target settings `/probe?module=` picks from.
    pub modules: Option<BTreeMap<String, Spanned<RawTarget>>>,
    /// The name servers to ask instead of `/etc/resolv.conf`'s (see `super::dns`).
    pub dns: Option<RawDns>,
}

/// The `dns:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// `ip` or `ip:port` (`[v6]:port`) of each name server, asked in order.
    pub name_servers: Option<Vec<Spanned<String>>>,
}

/// The `defaults:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Time between two probes of a target (`5m`, humantime); `super::DEFAULT_INTERVAL` when
    /// unset, and zero is refused.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Budget for one whole probe (DNS, connect, STARTTLS, handshake); `super::DEFAULT_TIMEOUT`
    /// when unset. Revocation checks get a second budget of the same length.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// A PEM file of extra trust anchors, added to the system store, for targets that name
    /// none of their own.
    pub ca_file: Option<PathBuf>,
    /// Probes in flight at once, over all targets and `/probe` requests; set only here, at
    /// least 1, `super::DEFAULT_CONCURRENCY` when unset.
    pub concurrency: Option<Spanned<usize>>,
    /// Constant labels on the series of every target; a target's own `labels` win key by key.
    pub labels: Option<BTreeMap<String, String>>,
    // How targets are reached (see `super::reach`); `starttls` is per target only.
    /// Whether a name's first answering address or every address is probed (default: first).
    pub resolve: Option<ResolveMode>,
    /// `http://[user:pass@]host:port` of the HTTP CONNECT proxy probes go through.
    pub proxy_url: Option<Spanned<String>>,
    /// The PEM certificate chain (leaf first) presented when a server asks for a client
    /// certificate; only together with `client_key`.
    pub client_cert: Option<Spanned<PathBuf>>,
    /// The PEM private key of `client_cert`; only together with it.
    pub client_key: Option<Spanned<PathBuf>>,
    /// The name SMTP targets give in `EHLO` (a domain or an address literal); the address
    /// literal of the connection's local address when unset.
    pub smtp_helo_name: Option<Spanned<String>>,
    /// Revocation sources and limits every target inherits (see `super::revocation`).
    pub revocation: Option<super::revocation::RawRevocation>,
    /// Whether endpoints are also asked for TLS 1.0 and 1.1 (`crate::probe::legacy`).
    pub legacy_protocols: Option<bool>,
    /// Which series every target's results are written as (see `super::metrics`).
    pub metrics: Option<super::metrics::RawMetrics>,
    /// The ACME directory (a URL, `auto` or `off`) renewal information is asked of (see
    /// `super::acme`).
    pub acme_directory: Option<Spanned<String>>,
    /// Whether endpoints' CAA records are checked (see `super::dns`; default false).
    pub caa: Option<bool>,
    /// The CAA identity of the CA that issues the endpoints' leaves (see `super::dns`).
    pub caa_identity: Option<Spanned<String>>,
    /// Whether endpoints' TLSA records are matched against their chains (see `super::dns`;
    /// default false).
    pub dane: Option<bool>,
}

/// One entry of `targets:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// The `target` label, unique and not empty; the `address` (or `path`) as written when
    /// unset.
    pub name: Option<Spanned<String>>,
    /// `host:port` of an endpoint; a target has either this or `path`.
    pub address: Option<Spanned<String>>,
    /// SNI and the name the certificate must cover (`super::address::check_server_name`).
    pub server_name: Option<Spanned<String>>,
    /// Time between two probes of this target, over `defaults.interval`.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Budget for one probe of this target, over `defaults.timeout`.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Extra trust anchors (PEM) for this target, instead of `defaults.ca_file`.
    pub ca_file: Option<PathBuf>,
    /// Constant labels on this target's series, over the defaults' key by key; names the
    /// exporter sets itself (`super::RESERVED_LABELS`) are refused.
    pub labels: Option<BTreeMap<String, String>>,
    /// A glob of certificate files to read instead of connecting (a file target).
    pub path: Option<Spanned<String>>,
    /// An `http` or `https` URL of certificates (or a CRL) to download instead of connecting
    /// (a URL target).
    pub url: Option<Spanned<String>>,
    /// Certificates in Kubernetes Secrets and ConfigMaps, watched on the API server (a
    /// Kubernetes target; see `super::kubernetes`). Boxed, as `metrics` below: both are large
    /// and rarely written, and a target file's entries are all held at once.
    pub kubernetes: Option<Box<Spanned<super::kubernetes::RawKubernetes>>>,
    /// The file holding the password of the PKCS#12 files a file target reads.
    pub password_file: Option<Spanned<PathBuf>>,
    // How this target is reached (see `super::reach`).
    /// The plain-text dialogue that upgrades the connection to TLS; only set per target.
    pub starttls: Option<Starttls>,
    /// Which of the name's addresses are probed, over `defaults.resolve`; `all` cannot be
    /// combined with a proxy.
    pub resolve: Option<ResolveMode>,
    /// The HTTP CONNECT proxy for this target, over `defaults.proxy_url`.
    pub proxy_url: Option<Spanned<String>>,
    /// The client certificate chain (PEM); with `client_key`, the pair replaces the defaults'
    /// pair whole.
    pub client_cert: Option<Spanned<PathBuf>>,
    /// The PEM private key of `client_cert`; only together with it.
    pub client_key: Option<Spanned<PathBuf>>,
    /// The name given in `EHLO` (`starttls: smtp` only), over `defaults.smtp_helo_name`.
    pub smtp_helo_name: Option<Spanned<String>>,
    /// This target's revocation settings, key by key over the defaults'.
    pub revocation: Option<super::revocation::RawRevocation>,
    /// Whether this endpoint is also asked for TLS 1.0 and 1.1 (`crate::probe::legacy`).
    pub legacy_protocols: Option<Spanned<bool>>,
    /// Which series this target's results are written as, key by key over the defaults'.
    pub metrics: Option<Box<super::metrics::RawMetrics>>,
    /// The ACME directory for this target's renewal information, over the defaults'.
    pub acme_directory: Option<Spanned<String>>,
    /// Whether this endpoint's CAA records are checked, over `defaults.caa`.
    pub caa: Option<Spanned<bool>>,
    /// The CAA identity of the CA that issues this endpoint's leaf, over the defaults'.
    pub caa_identity: Option<Spanned<String>>,
    /// Whether this endpoint's TLSA records are matched against its chain, over
    /// `defaults.dane`.
    pub dane: Option<Spanned<bool>>,
}

impl RawDefaults {
    /// The reach settings of the `defaults:` block.
    pub fn reach(&self) -> RawReach<'_> {
        RawReach {
            starttls: None,
            resolve: self.resolve,
            proxy_url: self.proxy_url.as_ref(),
            client_cert: self.client_cert.as_ref(),
            client_key: self.client_key.as_ref(),
            smtp_helo_name: self.smtp_helo_name.as_ref(),
        }
    }
}

impl RawTarget {
    /// The reach settings of this target.
    pub fn reach(&self) -> RawReach<'_> {
        RawReach {
            starttls: self.starttls,
            resolve: self.resolve,
            proxy_url: self.proxy_url.as_ref(),
            client_cert: self.client_cert.as_ref(),
            client_key: self.client_key.as_ref(),
            smtp_helo_name: self.smtp_helo_name.as_ref(),
        }
    }
}

impl RawConfig {
    /// Parses YAML text; the error names the line and column of the problem.
    pub fn parse(text: &str) -> Result<RawConfig, String> {
        if text.trim().is_empty() {
            return Err("the file is empty; it needs at least a `targets:` list".into());
        }
        serde_saphyr::from_str_with_options(text, parse_options(text.len()))
            .map_err(|e| e.to_string())
    }
}

/// `defaults:` as serde would read it, passed on to the targets' resolver.
fn read_defaults<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RawDefaults>, D::Error> {
    let defaults = Option::<RawDefaults>::deserialize(d)?;
    stream::defaults_read(defaults.as_ref());
    Ok(defaults)
}

/// serde-saphyr's default budget (250,000 nodes, 1,000,000 events) refuses a configuration of
/// about 28,000 targets. The node and event budgets grow with the text instead: every node of
/// the text itself takes at least a byte, so a large file is allowed the nodes it can hold,
/// while what the text does not pay for — aliases, anchors — keeps its default cap, and an
/// alias bomb is refused as before.
fn parse_options(text_len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: text_len.max(250_000),
            max_events: text_len.saturating_mul(2).max(1_000_000),
        },
    }
}
