//! The label controls of a target's `metrics:` settings, applied where labels are written: the
//! cap on the length of every label value ([`encode_sample`], the one way a sample reaches the
//! page), the subject and issuer labels of a certificate ([`push_names`]), and the `file` label
//! of a file target (in [`super::base_labels`]).
//!
//! A value longer than the cap is cut at a UTF-8 character boundary and ends with the marker
//! `…` (U+2026) and the first 8 hex digits of the SHA-256 of the whole value, all within the
//! cap: two long values that differ only after the cut stay two series, and the digest can be
//! checked against the certificate (`printf %s "$value" | sha256sum | cut -c1-8`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, LabelSetEncoder, MetricEncoder};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::config::{MetricsSettings, DEFAULT_LABEL_VALUE_LENGTH_LIMIT};
use crate::x509::CertFacts;

use super::Labels;

/// What ends a cut value, before the digest.
pub const MARKER: &str = "…";
/// Hex digits of the digest after the marker.
const DIGEST_HEX: usize = 8;

/// The cap on the label values of the series that belong to no target (a cached CRL's `url`,
/// a target file's `file`): `defaults.metrics.label_value_length_limit`, set at every load.
#[derive(Debug)]
pub struct LabelLimit(AtomicUsize);

impl Default for LabelLimit {
    fn default() -> Self {
        LabelLimit(AtomicUsize::new(DEFAULT_LABEL_VALUE_LENGTH_LIMIT))
    }
}

impl LabelLimit {
    /// Takes the limit of a newly loaded configuration.
    pub fn set(&self, limit: usize) {
        self.0.store(limit, Ordering::Relaxed);
    }

    /// The limit in force.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Writes one sample of a gauge family with its labels, each value capped at `limit` bytes.
/// Every sample of every family with labels from outside the exporter goes through here.
pub(crate) fn encode_sample<N>(
    family: &mut MetricEncoder,
    labels: &[(&str, &str)],
    limit: usize,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    ConstGauge::new(value).encode(family.encode_family(&Capped { labels, limit })?)
}

/// A label set whose values are cut to `limit` bytes as they are written.
struct Capped<'a> {
    labels: &'a [(&'a str, &'a str)],
    limit: usize,
}

impl EncodeLabelSet for Capped<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        for (key, value) in self.labels {
            let mut label = encoder.encode_label();
            let mut key_encoder = label.encode_label_key()?;
            key_encoder.write_str(key)?;
            let mut value_encoder = key_encoder.encode_label_value()?;
            match cut(value, self.limit) {
                None => value_encoder.write_str(value)?,
                Some(kept) => {
                    value_encoder.write_str(kept)?;
                    value_encoder.write_str(MARKER)?;
                    let digest = crate::shard::stable_hash(value) >> (64 - 4 * DIGEST_HEX);
                    write!(value_encoder, "{digest:08x}")?;
                }
            }
            value_encoder.finish()?;
        }
        Ok(())
    }
}

/// The part of `value` kept before the marker when it is longer than `limit` bytes: the
/// longest prefix ending at a character boundary that leaves room for the marker and digest.
fn cut(value: &str, limit: usize) -> Option<&str> {
    if value.len() <= limit {
        return None;
    }
    let mut end = limit.saturating_sub(MARKER.len() + DIGEST_HEX);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Some(&value[..end])
}

/// A label value as written under `limit`, for tests and for the `check` of a value by hand.
#[cfg(test)]
pub(crate) fn capped(value: &str, limit: usize) -> String {
    match cut(value, limit) {
        None => value.to_owned(),
        Some(kept) => {
            let digest = crate::shard::stable_hash(value) >> (64 - 4 * DIGEST_HEX);
            format!("{kept}{MARKER}{digest:08x}")
        }
    }
}

/// Adds the subject labels of `cert` that `settings` asks for (`subject`, `subject_CN`, …),
/// then, unless `subject_only`, its issuer labels.
pub(crate) fn push_names<'a>(
    labels: &mut Labels<'a>,
    cert: &'a CertFacts,
    settings: &MetricsSettings,
    subject_only: bool,
) {
    let subject = settings.subject_labels;
    if subject.whole {
        labels.push(("subject", cert.subject.as_str()));
    }
    for field in subject.fields.iter() {
        if let Some(value) = cert.subject_fields.get(field) {
            labels.push((field.subject_label(), value));
        }
    }
    if subject_only {
        return;
    }
    let issuer = settings.issuer_labels;
    if issuer.whole {
        labels.push(("issuer", cert.issuer.as_str()));
    }
    for field in issuer.fields.iter() {
        if let Some(value) = cert.issuer_fields.get(field) {
            labels.push((field.issuer_label(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_written_as_they_are() {
        assert_eq!(capped("CN=shop.example", 32), "CN=shop.example");
        let exactly = "x".repeat(32);
        assert_eq!(capped(&exactly, 32), exactly);
    }

    #[test]
    fn long_values_are_cut_to_the_limit_with_marker_and_digest() {
        let long = "a".repeat(100);
        let out = capped(&long, 32);
        assert_eq!(out.len(), 32);
        assert!(out.starts_with(&"a".repeat(21)), "{out}");
        // The digest is that of the whole value: the first 8 hex digits of its SHA-256.
        let sha = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            long.as_bytes(),
        ));
        assert_eq!(out, format!("{}…{}", "a".repeat(21), &sha[..8]));
        // The example of docs/metrics.md#label-controls.
        let names =
            "www.shop.example,shop.example,api.shop.example,static.shop.example,cdn.shop.example";
        assert_eq!(
            capped(names, 64),
            "www.shop.example,shop.example,api.shop.example,static…d7aff167"
        );
        // Two values alike up to the cut stay apart.
        let other = format!("{}b", "a".repeat(99));
        assert_ne!(capped(&other, 32), out);
    }

    #[test]
    fn the_cut_falls_on_a_character_boundary() {
        // "é" is two bytes: 21 bytes of room end inside the eleventh.
        let long = "é".repeat(50);
        let out = capped(&long, 32);
        assert!(out.len() <= 32, "{out}");
        assert!(out.starts_with(&"é".repeat(10)), "{out}");
        assert!(!out.starts_with(&"é".repeat(11)), "{out}");
    }

    /// A page at the shortest cap, 64 bytes, with long values from outside: a file's path, a
    /// subject, a label of the configuration, a target file's path. Each is cut to exactly
    /// what `capped` says; what the exporter makes itself (the fingerprint) is whole.
    #[test]
    fn long_outside_values_are_cut_on_the_page_and_nothing_else() {
        use std::collections::BTreeSet;
        use std::sync::Arc;

        use crate::config::Config;
        use crate::metrics::target_files::{FileReport, TargetFileLoad};
        use crate::metrics::{registry, render, ExporterMetrics, Format};
        use crate::probe::{Instance, ProbeResult};
        use crate::revocation::Revocation;
        use crate::state::State;
        use crate::x509::ChainReport;

        let note = "n".repeat(100);
        let config = Config::parse(&format!(
            "defaults:\n  metrics: {{level: full, label_value_length_limit: 64}}\n\
             targets:\n  - name: files\n    path: /srv/certs/**/*.pem\n    labels: {{note: {note}}}\n"
        ))
        .unwrap();
        let path = format!("/srv/certs/{}/site.pem", "d".repeat(80));
        let subject = format!("CN={}", "s".repeat(100));
        let fingerprint = "f".repeat(64);
        let cert = Arc::new(CertFacts {
            sha256_fingerprint: fingerprint.clone(),
            ..CertFacts::example(&subject, "CN=Issuer", 4_102_444_800)
        });
        let mut result = ProbeResult::new();
        result.instance = Some(Box::new(Instance::File(path.clone())));
        result.chain = Some(ChainReport {
            in_path: vec![false],
            expiry: Some(cert.not_after),
            certs: vec![cert],
            errors: BTreeSet::new(),
            private_anchor: false,
            detail: None,
            judged: false,
            anchor: None,
            anchored: false,
            stapled_scts: Vec::new(),
        });
        let state = Arc::new(State::new());
        state.store(config.targets[0].clone(), vec![result]);
        let exporter = Arc::new(ExporterMetrics::default());
        exporter.label_limit.set(config.label_value_length_limit);
        let files = Arc::new(FileReport::default());
        let target_file = format!("/etc/cert-exporter/{}.yml", "t".repeat(60));
        files.set([TargetFileLoad {
            file: target_file.clone(),
            loaded: true,
            targets: 1,
        }]);
        let revocation = Arc::new(Revocation::new().unwrap());
        let page = render(&registry(state, exporter, revocation, files), Format::Text);

        let (file, subject, note) = (capped(&path, 64), capped(&subject, 64), capped(&note, 64));
        assert_eq!(file.len(), 64);
        assert!(
            file.starts_with("/srv/certs/ddd") && file.contains(MARKER),
            "{file}"
        );
        let base = format!("target=\"files\",file=\"{file}\",note=\"{note}\"");
        for line in [
            format!("cert_probe_success{{{base}}} 1.0"),
            format!(
                "cert_not_after_timestamp_seconds{{{base},position=\"0\",subject=\"{subject}\",\
                 issuer=\"CN=Issuer\",serial=\"01\"}} 4102444800.0"
            ),
            format!(
                "cert_exporter_target_file_targets{{file=\"{}\"}} 1",
                capped(&target_file, 64)
            ),
        ] {
            assert!(page.lines().any(|l| l == line), "no {line} in\n{page}");
        }
        assert!(
            page.contains(&format!("sha256_fingerprint=\"{fingerprint}\"")),
            "{page}"
        );
        // No value on the page is longer than the cap.
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let Some((_, labels)) = line.split_once('{') else {
                continue;
            };
            for kv in labels.rsplit_once('}').unwrap().0.split("\",") {
                let value = kv.split_once("=\"").unwrap().1.trim_end_matches('"');
                assert!(value.len() <= 64, "{value:?} in {line}");
            }
        }
    }
}
