//! Certificate Transparency (RFC 6962): the signed certificate timestamps (SCTs) a leaf comes
//! with, and whether a publicly trusted leaf has as many as browsers require.
//!
//! SCTs reach a client three ways: embedded in the certificate (the X.509 extension
//! 1.3.6.1.4.1.11129.2.4.2), in the TLS `signed_certificate_timestamp` extension, or in a
//! stapled OCSP response (the single-response extension 1.3.6.1.4.1.11129.2.4.5). The exporter
//! reads the first and the last: rustls 0.23's client never asks for the TLS extension (it
//! sends no `signed_certificate_timestamp` in its ClientHello and has no API to add one; a
//! server that sends the list unasked is refused as misbehaving), so SCTs delivered only in
//! TLS are not seen (docs/diagnostics.md says so).
//!
//! The rule judged is Chrome's CT policy (Apple's asks the same numbers): a leaf whose path
//! ends at a root of the system store, issued from 1 May 2018 on, is compliant when its
//! embedded SCTs come from at least 2 distinct logs (lifetime up to 180 days) or 3 (longer), or
//! when the SCTs delivered beside it (here: the stapled OCSP response's) come from at least 2
//! distinct logs. Logs are told apart by their log ID; whether a log is trusted by browsers,
//! which operator runs it, and the SCTs' signatures are not checked (that needs the browsers'
//! log lists, which the exporter does not carry), so the verdict catches a certificate issued
//! without CT, or with too few SCTs — not a forged SCT. Private CAs (a `ca_file`) are exempt:
//! no browser asks them for SCTs.

use std::collections::BTreeSet;

use super::chain::ChainReport;
use super::facts::CertFacts;

/// OID of the embedded SCT list extension, as x509-parser prints OIDs.
pub const EMBEDDED_SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
/// OID of the SCT list extension of an OCSP single response.
pub const OCSP_SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.5";

/// The most SCTs kept per source: real certificates carry 2 to 5; a list beyond this is
/// counted no further (its series and findings stay small).
pub const MAX_SCTS: usize = 32;

/// One signed certificate timestamp, as far as counting needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sct {
    /// The SHA-256 of the log's public key.
    pub log_id: [u8; 32],
    /// When the log promised to include the certificate, Unix milliseconds.
    pub timestamp_ms: u64,
}

/// Parses an SCT list from the value of its extension (in a certificate or an OCSP single
/// response: an OCTET STRING around the TLS-encoded `SignedCertificateTimestampList`).
pub fn parse_sct_list(extn_value: &[u8]) -> Result<Vec<Sct>, String> {
    let (rest, list) =
        x509_parser::extensions::parse_ct_signed_certificate_timestamp_list(extn_value)
            .map_err(|e| format!("SCT list does not parse: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the SCT list", rest.len()));
    }
    Ok(list
        .iter()
        .take(MAX_SCTS)
        .map(|s| Sct {
            log_id: *s.id.key_id,
            timestamp_ms: s.timestamp,
        })
        .collect())
}

/// Where an SCT came from; `as_str` is the `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SctSource {
    /// In the certificate's SCT list extension.
    Embedded,
    /// In the stapled OCSP response's single-response extension.
    OcspStapled,
}

impl SctSource {
    /// Every source, in label order.
    pub const ALL: [SctSource; 2] = [SctSource::Embedded, SctSource::OcspStapled];

    /// The `source` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SctSource::Embedded => "embedded",
            SctSource::OcspStapled => "ocsp_stapled",
        }
    }
}

/// Why a publicly trusted leaf falls short of the CT policy; `as_str` is the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtShortfall {
    /// No SCT from any source: the certificate was not logged (or the CA left the SCTs out).
    NoScts,
    /// SCTs, but from fewer distinct logs than required.
    TooFewLogs,
}

impl CtShortfall {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CtShortfall::NoScts => "no_scts",
            CtShortfall::TooFewLogs => "too_few_logs",
        }
    }
}

/// The CT facts of a chain's leaf and, for a publicly trusted one, the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtVerdict {
    /// Distinct logs among the embedded SCTs.
    pub embedded_logs: usize,
    /// Distinct logs among the SCTs delivered beside the certificate (stapled OCSP).
    pub delivered_logs: usize,
    /// Distinct logs the embedded SCTs must come from for this leaf's lifetime.
    pub required_embedded: usize,
    /// Why it falls short, when it does.
    pub shortfall: Option<CtShortfall>,
}

/// Distinct logs SCTs delivered beside the certificate (TLS or OCSP) must come from.
pub const REQUIRED_DELIVERED: usize = 2;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Chrome enforces CT for certificates issued from this moment (2018-05-01 00:00 UTC).
pub const ENFORCED_FROM: i64 = 1_525_132_800;

/// Distinct logs the embedded SCTs of `leaf` must come from: 2 for a lifetime of up to 180
/// days, 3 beyond (counted inclusively, as the Baseline Requirements count validity).
pub fn required_embedded(leaf: &CertFacts) -> usize {
    if leaf.not_after - leaf.not_before + 1 > 180 * DAY {
        3
    } else {
        2
    }
}

/// How many distinct logs issued `scts`.
pub fn distinct_logs<'a>(scts: impl IntoIterator<Item = &'a Sct>) -> usize {
    scts.into_iter()
        .map(|s| &s.log_id)
        .collect::<BTreeSet<_>>()
        .len()
}

/// The SCTs of `report`'s leaf from `source`.
pub fn scts(report: &ChainReport, source: SctSource) -> &[Sct] {
    match source {
        SctSource::Embedded => report.certs.first().map_or(&[], |c| c.scts.as_slice()),
        SctSource::OcspStapled => &report.stapled_scts,
    }
}

/// The CT verdict on `report`'s leaf when CT applies to it: a served chain whose path reaches
/// a trust anchor of the system store (not a `ca_file`), a leaf that is no CA, issued from
/// [`ENFORCED_FROM`] on. `None` otherwise (private, unanchored, a file's bundle).
pub fn judge(report: &ChainReport) -> Option<CtVerdict> {
    let leaf = report.certs.first()?;
    let public = report.judged && report.anchored && !report.private_anchor;
    if !public || leaf.is_ca || leaf.not_before < ENFORCED_FROM {
        return None;
    }
    let embedded_logs = distinct_logs(&leaf.scts);
    let delivered_logs = distinct_logs(&report.stapled_scts);
    let required_embedded = required_embedded(leaf);
    let compliant = embedded_logs >= required_embedded || delivered_logs >= REQUIRED_DELIVERED;
    let shortfall = match compliant {
        true => None,
        false if leaf.scts.is_empty() && report.stapled_scts.is_empty() => {
            Some(CtShortfall::NoScts)
        }
        false => Some(CtShortfall::TooFewLogs),
    };
    Some(CtVerdict {
        embedded_logs,
        delivered_logs,
        required_embedded,
        shortfall,
    })
}

/// Builds the value of an SCT list extension (for a certificate or an OCSP single response)
/// holding one SCT per `(log_id, timestamp_ms)`, each with an empty extension and a short
/// dummy ECDSA-SHA256 signature: well formed, not verifiable. For tests and test servers.
pub fn encode_sct_list(scts: &[([u8; 32], u64)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (log_id, timestamp) in scts {
        let mut sct = vec![0u8]; // v1
        sct.extend_from_slice(log_id);
        sct.extend_from_slice(&timestamp.to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
        let signature = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
        sct.extend_from_slice(&(signature.len() as u16).to_be_bytes());
        sct.extend_from_slice(&signature);
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend_from_slice(&sct);
    }
    let mut tls = (list.len() as u16).to_be_bytes().to_vec();
    tls.extend_from_slice(&list);
    // DER OCTET STRING around it.
    let mut der = vec![0x04];
    match tls.len() {
        n if n < 0x80 => der.push(n as u8),
        n if n < 0x100 => der.extend_from_slice(&[0x81, n as u8]),
        n => der.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    der.extend_from_slice(&tls);
    der
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn an_encoded_list_parses_back() {
        let value = encode_sct_list(&[(log(1), 1_700_000_000_000), (log(2), 1_700_000_000_001)]);
        let scts = parse_sct_list(&value).unwrap();
        assert_eq!(scts.len(), 2);
        assert_eq!(scts[0].log_id, log(1));
        assert_eq!(scts[1].timestamp_ms, 1_700_000_000_001);
        assert_eq!(distinct_logs(&scts), 2);
    }

    #[test]
    fn broken_lists_are_errors_never_panics() {
        let value = encode_sct_list(&[(log(1), 1), (log(2), 2)]);
        for n in 0..value.len() {
            assert!(parse_sct_list(&value[..n]).is_err(), "cut at {n}");
        }
        assert!(
            parse_sct_list(&encode_sct_list(&[])).is_err(),
            "an empty list"
        );
        assert!(parse_sct_list(b"\x04\x01\x00").is_err());
    }

    #[test]
    fn the_same_log_twice_counts_once() {
        let value = encode_sct_list(&[(log(7), 1), (log(7), 2), (log(8), 3)]);
        assert_eq!(distinct_logs(&parse_sct_list(&value).unwrap()), 2);
    }

    #[test]
    fn long_lists_are_cut() {
        let many: Vec<_> = (0..40u8).map(|i| (log(i), i as u64)).collect();
        assert_eq!(
            parse_sct_list(&encode_sct_list(&many)).unwrap().len(),
            MAX_SCTS
        );
    }

    #[test]
    fn lifetimes_up_to_180_days_need_two_logs_longer_ones_three() {
        let mut leaf = CertFacts::example("CN=a", "CN=ca", 0);
        leaf.not_before = ENFORCED_FROM;
        leaf.not_after = ENFORCED_FROM + 180 * DAY - 1;
        assert_eq!(required_embedded(&leaf), 2);
        leaf.not_after += 1;
        assert_eq!(required_embedded(&leaf), 3);
    }

    /// A leaf made by rcgen with this SCT list extension value (or none), issued for `days`
    /// (counted inclusively: notAfter is one second before notBefore plus the days).
    fn leaf_der(sct_list: Option<Vec<u8>>, days: i64) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["shop.example".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after =
            params.not_before + std::time::Duration::from_secs(days as u64 * 86_400 - 1);
        if let Some(value) = sct_list {
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                    value,
                ));
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// A served chain of this leaf whose path reached a trust anchor, public or private.
    fn report(leaf: CertFacts, private: bool) -> ChainReport {
        ChainReport {
            certs: vec![std::sync::Arc::new(leaf)],
            in_path: vec![true],
            errors: Default::default(),
            expiry: None,
            private_anchor: private,
            detail: None,
            judged: true,
            anchor: None,
            anchored: true,
            stapled_scts: Vec::new(),
        }
    }

    fn facts(der: &[u8]) -> CertFacts {
        (*CertFacts::from_der(der).unwrap()).clone()
    }

    #[test]
    fn embedded_scts_are_read_from_the_certificate() {
        let der = leaf_der(Some(encode_sct_list(&[(log(1), 5), (log(2), 6)])), 90);
        let leaf = facts(&der);
        assert_eq!(leaf.scts.len(), 2);
        assert_eq!(leaf.scts[1].log_id, log(2));
        assert_eq!(leaf.scts[1].timestamp_ms, 6);
        assert_eq!(judge(&report(leaf, false)).unwrap().shortfall, None);
    }

    #[test]
    fn a_broken_embedded_list_counts_nothing_and_breaks_nothing() {
        let leaf = facts(&leaf_der(Some(vec![0x04, 0x02, 0x00, 0x09]), 90));
        assert!(leaf.scts.is_empty());
        assert_eq!(leaf.encoding_problem, None);
        assert_eq!(
            judge(&report(leaf, false)).unwrap().shortfall,
            Some(CtShortfall::NoScts)
        );
    }

    #[test]
    fn the_public_rule_two_or_three_distinct_logs_by_lifetime() {
        let two = encode_sct_list(&[(log(1), 5), (log(2), 6)]);
        let three = encode_sct_list(&[(log(1), 5), (log(2), 6), (log(3), 7)]);
        let same_log = encode_sct_list(&[(log(1), 5), (log(1), 6), (log(1), 7)]);
        let cases = [
            (None, 90, Some(CtShortfall::NoScts)),
            (Some(two.clone()), 180, None),
            (Some(two), 181, Some(CtShortfall::TooFewLogs)),
            (Some(three), 365, None),
            (Some(same_log), 90, Some(CtShortfall::TooFewLogs)),
        ];
        for (list, days, expected) in cases {
            let verdict = judge(&report(facts(&leaf_der(list, days)), false)).unwrap();
            assert_eq!(verdict.shortfall, expected, "{days} days: {verdict:?}");
        }
    }

    #[test]
    fn two_logs_in_the_stapled_ocsp_response_suffice() {
        let leaf = facts(&leaf_der(Some(encode_sct_list(&[(log(1), 5)])), 365));
        let mut r = report(leaf, false);
        assert_eq!(judge(&r).unwrap().shortfall, Some(CtShortfall::TooFewLogs));
        r.stapled_scts = parse_sct_list(&encode_sct_list(&[(log(1), 5), (log(9), 6)])).unwrap();
        let verdict = judge(&r).unwrap();
        assert_eq!((verdict.delivered_logs, verdict.shortfall), (2, None));
        assert_eq!(scts(&r, SctSource::OcspStapled).len(), 2);
        assert_eq!(scts(&r, SctSource::Embedded).len(), 1);
    }

    #[test]
    fn private_unanchored_ca_and_pre_2018_leaves_are_not_judged() {
        let leaf = || facts(&leaf_der(None, 90));
        assert!(judge(&report(leaf(), true)).is_none(), "a ca_file anchor");
        let mut unanchored = report(leaf(), false);
        unanchored.anchored = false;
        assert!(judge(&unanchored).is_none(), "no path to any anchor");
        let mut bundle = report(leaf(), false);
        bundle.judged = false;
        assert!(judge(&bundle).is_none(), "a file's bundle");
        let mut ca = leaf();
        ca.is_ca = true;
        assert!(judge(&report(ca, false)).is_none(), "a CA certificate");
        let mut old = leaf();
        old.not_before = ENFORCED_FROM - 1;
        assert!(
            judge(&report(old, false)).is_none(),
            "issued before CT was enforced"
        );
        assert!(judge(&report(leaf(), false)).is_some());
    }

    /// Real public leaves (x509-limbo's `online::` cases, captured from the sites) carry
    /// embedded SCTs from enough distinct logs.
    #[test]
    fn real_public_leaves_meet_the_rule() {
        use base64::Engine as _;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/limbo/limbo.json");
        let suite: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut seen = 0;
        for case in suite["testcases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap_or_default();
            if !id.starts_with("online::") {
                continue;
            }
            let pem = case["peer_certificate"].as_str().unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            let leaf = facts(&der);
            if leaf.scts.is_empty() {
                continue;
            }
            seen += 1;
            let verdict = judge(&report(leaf, false)).expect("a public leaf");
            assert!(
                verdict.embedded_logs >= 2 && verdict.shortfall.is_none(),
                "{id}: {verdict:?}"
            );
        }
        assert!(seen >= 10, "only {seen} real leaves with SCTs");
    }
}
