//! The `metrics:` block of a target (or of `defaults:`): how many series a target costs.
//!
//! A level (`minimal`, `default`, `full`) sets every group at once; a group named beside it
//! overrides the level for that group. Key by key, a target's block wins over the defaults',
//! which wins over the level's choice (see [`resolve`]). The series each group adds are listed
//! in `docs/metrics.md#levels`; `crate::metrics` reads only the resolved [`MetricsSettings`].

use serde::Deserialize;

/// A preset for every group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsLevel {
    /// What the shipped alerts read, and nothing more while healthy.
    Minimal,
    /// The built-in default: `minimal` and what the shipped dashboards' overview reads (the
    /// total duration, the TLS version); at most 10 series and 1 KB for a healthy endpoint.
    Default,
    /// Every series the exporter can give (the page before levels existed).
    Full,
}

/// Which phases of `cert_probe_duration_seconds` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phases {
    /// None.
    None,
    /// `phase="total"` only.
    Total,
    /// Every phase the probe went through.
    All,
}

/// Of which certificates the per-certificate series (`cert_not_after_timestamp_seconds`,
/// `cert_not_before_timestamp_seconds`) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Certificates {
    /// None.
    None,
    /// The leaf (position 0), whose lifetime `CertificateRenewalOverdue` reads.
    Leaf,
    /// Every certificate of the path the chain was verified along (every certificate of a
    /// file, which is not judged as a path).
    Path,
    /// Every certificate sent, also those beyond the path (an old root the server still sends).
    All,
}

/// What a target's page carries, with the level and every override applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricsSettings {
    /// Phases of `cert_probe_duration_seconds`.
    pub phases: Phases,
    /// Per-certificate series.
    pub certificates: Certificates,
    /// `cert_info`, with its ten labels per certificate.
    pub cert_info: bool,
    /// `cert_tls_version_info`.
    pub tls: bool,
    /// Facts that are constant or derivable for a healthy endpoint: `cert_tls_cipher_info`, `cert_client_cert_requested`, `cert_ocsp_stapled`,
    /// `cert_ocsp_next_update_timestamp_seconds`, and the `0` samples of `cert_revoked` and
    /// `cert_legacy_protocol_enabled` (their `1` samples are always written).
    pub details: bool,
}

impl MetricsSettings {
    /// The groups a level turns on.
    pub fn of_level(level: MetricsLevel) -> MetricsSettings {
        match level {
            MetricsLevel::Minimal => MetricsSettings {
                phases: Phases::None,
                certificates: Certificates::Leaf,
                cert_info: false,
                tls: false,
                details: false,
            },
            MetricsLevel::Default => MetricsSettings {
                phases: Phases::None,
                certificates: Certificates::Leaf,
                cert_info: false,
                tls: true,
                details: false,
            },
            MetricsLevel::Full => MetricsSettings {
                phases: Phases::All,
                certificates: Certificates::All,
                cert_info: true,
                tls: true,
                details: true,
            },
        }
    }
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings::of_level(MetricsLevel::Default)
    }
}

/// `metrics:` as written; every key optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// The preset (default: `default`).
    pub level: Option<MetricsLevel>,
    /// Overrides the level's phases.
    pub phases: Option<Phases>,
    /// Overrides the level's per-certificate series.
    pub certificates: Option<Certificates>,
    /// Overrides whether `cert_info` is written.
    pub cert_info: Option<bool>,
    /// Overrides whether `cert_tls_version_info` is written.
    pub tls: Option<bool>,
    /// Overrides whether the constant and derivable facts are written.
    pub details: Option<bool>,
}

/// The target's block over the defaults' over the level, key by key: the level is the
/// target's (else the defaults', else `default`), and each group named in the target's block,
/// else in the defaults' block, overrides what that level chose.
pub fn resolve(defaults: Option<&RawMetrics>, target: Option<&RawMetrics>) -> MetricsSettings {
    fn pick<T>(
        defaults: Option<&RawMetrics>,
        target: Option<&RawMetrics>,
        f: impl Fn(&RawMetrics) -> Option<T>,
    ) -> Option<T> {
        target.and_then(&f).or_else(|| defaults.and_then(&f))
    }
    let level = pick(defaults, target, |m| m.level).unwrap_or(MetricsLevel::Default);
    let base = MetricsSettings::of_level(level);
    MetricsSettings {
        phases: pick(defaults, target, |m| m.phases).unwrap_or(base.phases),
        certificates: pick(defaults, target, |m| m.certificates).unwrap_or(base.certificates),
        cert_info: pick(defaults, target, |m| m.cert_info).unwrap_or(base.cert_info),
        tls: pick(defaults, target, |m| m.tls).unwrap_or(base.tls),
        details: pick(defaults, target, |m| m.details).unwrap_or(base.details),
    }
}
