//! The `metrics:` block of a target (or of `defaults:`): how many series a target costs.
//!
//! A level (`minimal`, `default`, `full`) sets every group at once; a group named beside it
//! overrides the level for that group. Key by key, a target's block wins over the defaults',
//! which wins over the level's choice (see [`resolve`]). The series each group adds are listed
//! in `docs/metrics.md#levels`; `crate::metrics` reads only the resolved [`MetricsSettings`].
//!
//! Beside the groups, the label controls (`docs/metrics.md#label-controls`): which fields of a
//! certificate's subject and issuer become labels, how a file target's `file` label shows the
//! path, and the cap on the length of every label value.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::x509::dn::{DnField, DnFieldSet};

/// The longest label value written unless `label_value_length_limit` says otherwise, in bytes.
pub const DEFAULT_LABEL_VALUE_LENGTH_LIMIT: usize = 1024;
/// The shortest `label_value_length_limit` accepted: every value the exporter makes itself (a
/// SHA-256 fingerprint, 64 hex digits; a cipher suite's name) fits, so only values from outside
/// (names, paths, URLs, the configuration's own labels) are ever cut.
pub const MIN_LABEL_VALUE_LENGTH_LIMIT: usize = 64;

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

/// Which labels a certificate's subject (or issuer) is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameLabels {
    /// The whole name as one label, `subject` (or `issuer`): `DN` in the list.
    pub whole: bool,
    /// One label per field, `subject_CN` (or `issuer_CN`), …
    pub fields: DnFieldSet,
}

impl Default for NameLabels {
    /// The whole name only, as before the fields could be chosen.
    fn default() -> Self {
        NameLabels {
            whole: true,
            fields: DnFieldSet::EMPTY,
        }
    }
}

/// How a file target's `file` label shows the path of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum FileLabel {
    /// The path as the glob matched it (`file_path: full`, the default).
    #[default]
    Full,
    /// The path below the glob's literal directory (`file_path: relative`).
    Relative,
    /// The path less this leading directory, where it starts with it (`trim_path_prefix:`).
    TrimPrefix(Arc<str>),
}

impl FileLabel {
    /// The `file` label for `path`, a file the glob `pattern` matched: a part of `path`, so
    /// that distinct files keep distinct labels; the whole path where nothing would be left.
    pub fn apply<'a>(&self, pattern: &str, path: &'a str) -> &'a str {
        let base = match self {
            FileLabel::Full => return path,
            FileLabel::Relative => glob_base(pattern),
            FileLabel::TrimPrefix(prefix) => prefix,
        };
        match Path::new(path)
            .strip_prefix(base)
            .ok()
            .and_then(Path::to_str)
        {
            Some(rest) if !rest.is_empty() => rest,
            _ => path,
        }
    }
}

/// The literal directory a glob starts from: the components before the first one with a
/// wildcard, or the parent directory of a path without any (`/etc/ssl/` for both
/// `/etc/ssl/**/*.pem` and `/etc/ssl/cert.pem`).
fn glob_base(pattern: &str) -> &str {
    let wild = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    match pattern[..wild].rfind('/') {
        Some(slash) => &pattern[..=slash],
        None => "",
    }
}

/// What a target's page carries, with the level and every override applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricsSettings {
    /// Phases of `cert_probe_duration_seconds`.
    pub phases: Phases,
    /// Per-certificate series.
    pub certificates: Certificates,
    /// `cert_info`, with its ten labels per certificate.
    pub cert_info: bool,
    /// `cert_tls_version_info`.
    pub tls: bool,
    /// The subject labels of the per-certificate series, `cert_info` and the anchor's.
    pub subject_labels: NameLabels,
    /// The issuer labels of the per-certificate series and `cert_info`.
    pub issuer_labels: NameLabels,
    /// How a file target's `file` label shows the path.
    pub file_label: FileLabel,
    /// The longest label value this target's series carry, in bytes.
    pub label_value_length_limit: usize,
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
                ..MetricsSettings::labels_as_before()
            },
            MetricsLevel::Default => MetricsSettings {
                phases: Phases::None,
                certificates: Certificates::Leaf,
                cert_info: false,
                tls: true,
                details: false,
                ..MetricsSettings::labels_as_before()
            },
            MetricsLevel::Full => MetricsSettings {
                phases: Phases::All,
                certificates: Certificates::All,
                cert_info: true,
                tls: true,
                details: true,
                ..MetricsSettings::labels_as_before()
            },
        }
    }

    /// The label controls left as they were before they existed (every level has them): the
    /// whole subject and issuer, the full path, values up to
    /// [`DEFAULT_LABEL_VALUE_LENGTH_LIMIT`] bytes.
    fn labels_as_before() -> MetricsSettings {
        MetricsSettings {
            phases: Phases::None,
            certificates: Certificates::None,
            cert_info: false,
            tls: false,
            details: false,
            subject_labels: NameLabels::default(),
            issuer_labels: NameLabels::default(),
            file_label: FileLabel::Full,
            label_value_length_limit: DEFAULT_LABEL_VALUE_LENGTH_LIMIT,
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
    /// The subject labels: `DN` (the whole name, `subject`) and fields (`CN` gives
    /// `subject_CN`); default `[DN]`.
    pub subject_fields: Option<Spanned<Vec<Spanned<String>>>>,
    /// The issuer labels, as `subject_fields`.
    pub issuer_fields: Option<Spanned<Vec<Spanned<String>>>>,
    /// `full` or `relative`: how a file target's `file` label shows the path.
    pub file_path: Option<Spanned<FilePath>>,
    /// A leading directory left out of a file target's `file` label.
    pub trim_path_prefix: Option<Spanned<String>>,
    /// The longest label value, in bytes.
    pub label_value_length_limit: Option<Spanned<usize>>,
}

/// `file_path:` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilePath {
    /// The path as matched.
    Full,
    /// The path below the glob's literal directory.
    Relative,
}

impl RawMetrics {
    /// Whether the block says how the `file` label shows paths: the key that does, and where.
    pub fn file_label_at(&self) -> Option<(&'static str, Location)> {
        self.file_path
            .as_ref()
            .map(|f| ("file_path", f.referenced))
            .or_else(|| {
                let prefix = self.trim_path_prefix.as_ref();
                prefix.map(|p| ("trim_path_prefix", p.referenced))
            })
    }
}

/// Checks what types cannot say of one `metrics:` block; errors point at the value and start
/// with `metrics.<key>`.
pub fn check(raw: &RawMetrics) -> Result<(), (Location, String)> {
    for (key, list) in [
        ("subject_fields", &raw.subject_fields),
        ("issuer_fields", &raw.issuer_fields),
    ] {
        if let Some(list) = list {
            name_labels(key, list)?;
        }
    }
    if let (Some(_), Some(prefix)) = (&raw.file_path, &raw.trim_path_prefix) {
        return Err((
            prefix.referenced,
            "metrics.trim_path_prefix: give either this or `file_path`, not both".into(),
        ));
    }
    if let Some(prefix) = &raw.trim_path_prefix {
        if prefix.value.trim().is_empty() {
            return Err((
                prefix.referenced,
                "metrics.trim_path_prefix: must not be empty; name a directory such as /host"
                    .into(),
            ));
        }
    }
    if let Some(limit) = &raw.label_value_length_limit {
        if limit.value < MIN_LABEL_VALUE_LENGTH_LIMIT {
            return Err((
                limit.referenced,
                format!(
                    "metrics.label_value_length_limit: {} is too short; at least \
                     {MIN_LABEL_VALUE_LENGTH_LIMIT} bytes, which a fingerprint takes",
                    limit.value
                ),
            ));
        }
    }
    Ok(())
}

/// The labels a `subject_fields` (or `issuer_fields`) list asks for.
fn name_labels(
    key: &str,
    list: &Spanned<Vec<Spanned<String>>>,
) -> Result<NameLabels, (Location, String)> {
    let mut labels = NameLabels {
        whole: false,
        fields: DnFieldSet::EMPTY,
    };
    for (i, entry) in list.value.iter().enumerate() {
        let new = match entry.value.as_str() {
            "DN" => !std::mem::replace(&mut labels.whole, true),
            name => match DnField::from_name(name) {
                Some(field) => labels.fields.insert(field),
                None => {
                    let known: Vec<&str> = DnField::all().map(DnField::name).collect();
                    return Err((
                        entry.referenced,
                        format!(
                            "metrics.{key}[{i}]: {name:?} is not a field of a name; use DN (the \
                             whole name) or one of {}",
                            known.join(", ")
                        ),
                    ));
                }
            },
        };
        if !new {
            return Err((
                entry.referenced,
                format!("metrics.{key}[{i}]: {:?} is listed twice", entry.value),
            ));
        }
    }
    Ok(labels)
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
        // The blocks were checked (`check`), so the lists are valid here.
        subject_labels: pick(defaults, target, |m| m.subject_fields.clone())
            .and_then(|list| name_labels("subject_fields", &list).ok())
            .unwrap_or(base.subject_labels),
        issuer_labels: pick(defaults, target, |m| m.issuer_fields.clone())
            .and_then(|list| name_labels("issuer_fields", &list).ok())
            .unwrap_or(base.issuer_labels),
        // `file_path` and `trim_path_prefix` are one setting written two ways: the block that
        // names either decides it whole.
        file_label: [target, defaults]
            .into_iter()
            .flatten()
            .find(|m| m.file_label_at().is_some())
            .map_or(base.file_label, |m| {
                match (&m.trim_path_prefix, &m.file_path) {
                    (Some(prefix), _) => FileLabel::TrimPrefix(prefix.value.as_str().into()),
                    (None, Some(p)) if p.value == FilePath::Relative => FileLabel::Relative,
                    (None, _) => FileLabel::Full,
                }
            }),
        label_value_length_limit: pick(defaults, target, |m| {
            m.label_value_length_limit.as_ref().map(|l| l.value)
        })
        .unwrap_or(base.label_value_length_limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    use crate::config::tests::err;

    fn settings(yaml: &str) -> Vec<MetricsSettings> {
        Config::parse(yaml)
            .unwrap()
            .targets
            .iter()
            .map(|t| (*t.metrics).clone())
            .collect()
    }

    fn set(fields: &[DnField]) -> DnFieldSet {
        let mut set = DnFieldSet::EMPTY;
        for f in fields {
            set.insert(*f);
        }
        set
    }

    #[test]
    fn label_controls_are_as_before_unless_set() {
        let s = &settings("targets:\n  - address: a.example:443\n")[0];
        assert_eq!(s.subject_labels, NameLabels::default());
        assert!(s.subject_labels.whole && s.subject_labels.fields.is_empty());
        assert_eq!(s.issuer_labels, NameLabels::default());
        assert_eq!(s.file_label, FileLabel::Full);
        assert_eq!(s.label_value_length_limit, DEFAULT_LABEL_VALUE_LENGTH_LIMIT);
        let c = Config::parse("targets:\n  - address: a.example:443\n").unwrap();
        assert_eq!(c.label_value_length_limit, DEFAULT_LABEL_VALUE_LENGTH_LIMIT);
    }

    #[test]
    fn fields_and_limits_merge_key_by_key_target_over_defaults() {
        let yaml = "defaults:
  metrics:
    subject_fields: [CN, O]
    issuer_fields: []
    label_value_length_limit: 200
targets:
  - address: a.example:443
  - address: b.example:443
    metrics: {subject_fields: [DN, CN], label_value_length_limit: 64}
";
        let s = settings(yaml);
        assert_eq!(
            s[0].subject_labels,
            NameLabels {
                whole: false,
                fields: set(&[DnField::Cn, DnField::O]),
            }
        );
        assert_eq!(
            s[0].issuer_labels,
            NameLabels {
                whole: false,
                fields: DnFieldSet::EMPTY,
            }
        );
        assert_eq!(s[0].label_value_length_limit, 200);
        assert_eq!(
            s[1].subject_labels,
            NameLabels {
                whole: true,
                fields: set(&[DnField::Cn]),
            }
        );
        // Not named by the target: the defaults' empty list still holds.
        assert!(!s[1].issuer_labels.whole);
        assert_eq!(s[1].label_value_length_limit, 64);
        // The series of no target take the defaults' limit.
        assert_eq!(Config::parse(yaml).unwrap().label_value_length_limit, 200);
    }

    #[test]
    fn the_file_label_is_decided_whole_by_the_block_that_names_it() {
        let s = settings(
            "defaults:
  metrics: {trim_path_prefix: /host}
targets:
  - path: /host/etc/ssl/*.pem
  - path: /host/etc/ssl/*.pem
    name: relative
    metrics: {file_path: relative}
  - path: /host/etc/ssl/*.pem
    name: full
    metrics: {file_path: full}
",
        );
        assert_eq!(s[0].file_label, FileLabel::TrimPrefix("/host".into()));
        assert_eq!(s[1].file_label, FileLabel::Relative);
        assert_eq!(s[2].file_label, FileLabel::Full);
    }

    #[test]
    fn file_labels_keep_a_part_of_the_path() {
        let relative = FileLabel::Relative;
        let pattern = "/etc/ssl/private/**/*.pem";
        assert_eq!(
            relative.apply(pattern, "/etc/ssl/private/site/a.pem"),
            "site/a.pem"
        );
        assert_eq!(
            relative.apply("/etc/ssl/cert.pem", "/etc/ssl/cert.pem"),
            "cert.pem"
        );
        assert_eq!(relative.apply("/*.pem", "/a.pem"), "a.pem");
        assert_eq!(relative.apply("certs/*.pem", "certs/a.pem"), "a.pem");
        assert_eq!(relative.apply("*.pem", "a.pem"), "a.pem");
        assert_eq!(
            relative.apply("/etc/ssl/c[ae]rt.pem", "/etc/ssl/cert.pem"),
            "cert.pem"
        );
        let trim = FileLabel::TrimPrefix("/host".into());
        assert_eq!(trim.apply("", "/host/etc/ssl/a.pem"), "etc/ssl/a.pem");
        assert_eq!(
            FileLabel::TrimPrefix("/host/".into()).apply("", "/host/etc/ssl/a.pem"),
            "etc/ssl/a.pem"
        );
        // Only whole components, and never down to nothing.
        assert_eq!(trim.apply("", "/hostile/a.pem"), "/hostile/a.pem");
        assert_eq!(trim.apply("", "/host"), "/host");
        assert_eq!(trim.apply("", "/elsewhere/a.pem"), "/elsewhere/a.pem");
        assert_eq!(
            FileLabel::Full.apply(pattern, "/etc/ssl/private/a.pem"),
            "/etc/ssl/private/a.pem"
        );
    }

    #[test]
    fn wrong_label_controls_are_refused_where_they_are() {
        let e = err("defaults:\n  metrics:\n    subject_fields: [CN, cn]\ntargets:\n  - address: a.example:443\n");
        assert!(
            e.starts_with("line 3 column 26: defaults.metrics.subject_fields[1]:"),
            "{e}"
        );
        assert!(
            e.contains("\"cn\" is not a field") && e.contains("DN") && e.contains("serialNumber"),
            "{e}"
        );
        let e = err(
            "targets:\n  - address: a.example:443\n    metrics:\n      issuer_fields: [O, O]\n",
        );
        assert!(
            e.starts_with("line 4 column 26: targets[0].metrics.issuer_fields[1]:"),
            "{e}"
        );
        assert!(e.contains("listed twice"), "{e}");
        let e = err(
            "targets:\n  - address: a.example:443\n    metrics: {label_value_length_limit: 8}\n",
        );
        assert!(
            e.starts_with("line 3 column 41: targets[0].metrics.label_value_length_limit:"),
            "{e}"
        );
        assert!(e.contains("at least 64"), "{e}");
        let e = err("targets:\n  - path: /etc/ssl/*.pem\n    metrics:\n      file_path: relative\n      trim_path_prefix: /etc\n");
        assert!(
            e.starts_with("line 5 column 25: targets[0].metrics.trim_path_prefix:"),
            "{e}"
        );
        let e = err("defaults:\n  metrics: {file_path: full, trim_path_prefix: /host}\ntargets:\n  - path: /etc/*.pem\n");
        assert!(
            e.contains("defaults.metrics.trim_path_prefix") && e.contains("not both"),
            "{e}"
        );
        let e = err("targets:\n  - path: /etc/ssl/*.pem\n    metrics: {trim_path_prefix: \"\"}\n");
        assert!(
            e.contains("targets[0].metrics.trim_path_prefix: must not be empty"),
            "{e}"
        );
        // An endpoint has no `file` label to shape.
        let e = err("targets:\n  - address: a.example:443\n    metrics: {file_path: relative}\n");
        assert!(
            e.starts_with("line 3 column 26: targets[0].metrics.file_path:"),
            "{e}"
        );
        assert!(e.contains("an endpoint has none"), "{e}");
        // Unknown keys are named with where they are.
        let e =
            err("targets:\n  - address: a.example:443\n    metrics:\n      subject_field: [CN]\n");
        assert!(e.contains("line 4") && e.contains("subject_field"), "{e}");
        let e = err("targets:\n  - path: /etc/*.pem\n    metrics: {file_path: short}\n");
        assert!(e.contains("line 3") && e.contains("short"), "{e}");
        // A target's own labels cannot take a field label's name.
        let e = err("targets:\n  - address: a.example:443\n    labels: {subject_CN: x}\n");
        assert!(
            e.contains("labels.subject_CN") && e.contains("sets this label itself"),
            "{e}"
        );
        assert!(Config::parse(
            "targets:\n  - address: a.example:443\n    labels: {issuer_team: x}\n"
        )
        .is_ok());
    }

    #[test]
    fn probe_modules_have_their_blocks_checked_too() {
        let e = err("probe_allow: [\"*.example:443\"]\nmodules:\n  m:\n    metrics: {subject_fields: [XX]}\n");
        assert!(e.contains("modules.m.metrics.subject_fields[0]"), "{e}");
        let e = err("probe_allow: [\"*.example:443\"]\nmodules:\n  m:\n    metrics: {file_path: relative}\n");
        assert!(
            e.contains("line 4") && e.contains("modules.m.metrics.file_path"),
            "{e}"
        );
    }
}
