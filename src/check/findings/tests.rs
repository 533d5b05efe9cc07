//! Findings of made-up results, one concern per test.

use super::*;
use crate::config::Config;
use crate::probe::legacy::{LegacyReport, LegacyVersion};
use crate::probe::{ProbeFailure, ProbeReason};
use crate::x509::{ChainError, ChainReport};
use std::collections::BTreeSet;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn target() -> Arc<Target> {
    Config::parse("targets:\n  - address: shop.example:443\n")
        .unwrap()
        .targets[0]
        .clone()
}

fn cert(subject: &str, issuer: &str, days_left: i64) -> Arc<CertFacts> {
    Arc::new(CertFacts {
        not_before: NOW - 10 * 86_400,
        dns_names: vec!["shop.example".into()],
        is_ca: subject != "CN=shop.example",
        self_issued: false,
        // A public leaf comes with SCTs from two logs (Chrome's ask for up to 180 days).
        scts: if subject == "CN=shop.example" {
            (1..=2u8)
                .map(|i| crate::x509::ct::Sct {
                    log_id: [i; 32],
                    timestamp_ms: 0,
                })
                .collect()
        } else {
            Vec::new()
        },
        ..CertFacts::example(subject, issuer, NOW + days_left * 86_400)
    })
}

fn result(errors: &[ChainError], leaf_days: i64) -> ProbeResult {
    let certs = vec![
        cert("CN=shop.example", "CN=Inter", leaf_days),
        cert("CN=Inter", "CN=Root", 900),
    ];
    let mut r = ProbeResult::new();
    r.chain = Some(ChainReport {
        in_path: vec![true; certs.len()],
        expiry: certs.iter().map(|c| c.not_after).min(),
        certs,
        errors: errors.iter().copied().collect::<BTreeSet<_>>(),
        private_anchor: false,
        detail: None,
        judged: true,
        anchored: errors.is_empty(),
        stapled_scts: Vec::new(),
        anchor: None,
    });
    r
}

fn codes(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
    findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[test]
fn issue_11_reasons_get_their_own_advice() {
    for (reason, says) in [
        (ChainError::SelfSigned, "CA:FALSE"),
        (ChainError::AnchorExpired, "current root"),
        (ChainError::AnchorNotYetValid, "current root"),
        (ChainError::AnchorUnusable, "basicConstraints CA:TRUE"),
        (ChainError::WeakKey, "RSA 2048+"),
        (ChainError::PathNotBuilt, "without the self-issued"),
        (ChainError::Malformed, "unknown critical extension"),
    ] {
        let f = assess(&target(), &result(&[reason], 90), NOW, 28.0);
        let finding = f
            .iter()
            .find(|f| f.code == reason.as_str())
            .unwrap_or_else(|| panic!("no finding for {reason:?}: {f:?}"));
        assert_eq!(finding.severity, Severity::Broken);
        let advice = finding.advice.as_deref().unwrap_or("");
        assert!(advice.contains(says), "{reason:?}: {advice}");
        assert!(
            !advice.contains("use a key of at least")
                && !advice.contains("reissue it as a TLS server certificate"),
            "{reason:?}: {advice}"
        );
    }
}

#[test]
fn a_healthy_chain_is_all_ok() {
    let f = assess(&target(), &result(&[], 90), NOW, 28.0);
    assert_eq!(worst(&f), Severity::Ok);
    assert_eq!(
        codes(&f),
        [("chain_valid", Severity::Ok), ("expiry", Severity::Ok)]
    );
    assert!(
        f[1].message
            .contains("the leaf (CN=shop.example) is valid for 90 days"),
        "{f:?}"
    );
}

#[test]
fn expiring_within_warn_days_needs_attention() {
    let f = assess(&target(), &result(&[], 10), NOW, 28.0);
    assert_eq!(worst(&f), Severity::Attention);
    assert_eq!(f[0].code, "expiring_soon");
    assert!(f[0].message.contains("expires in 10 days, on"), "{f:?}");
    assert!(f[0].advice.as_deref().unwrap().contains("renew"));
    // The threshold is the caller's.
    assert_eq!(
        worst(&assess(&target(), &result(&[], 10), NOW, 7.0)),
        Severity::Ok
    );
}

#[test]
fn missing_intermediate_is_broken_with_the_fix() {
    let mut r = result(&[ChainError::MissingIntermediate], 90);
    r.aia = Some(Box::new(crate::probe::aia::AiaOutcome {
        completed_from: vec!["http://ca.example/inter.der".into()],
        error: None,
    }));
    let f = assess(&target(), &r, NOW, 28.0);
    assert_eq!(worst(&f), Severity::Broken);
    assert_eq!(f[0].code, "missing_intermediate");
    assert!(
        f[0].message.contains("http://ca.example/inter.der"),
        "{f:?}"
    );
    assert!(
        f[0].advice.as_deref().unwrap().contains("full chain"),
        "{f:?}"
    );
}

#[test]
fn expired_and_misnamed_are_both_told() {
    let mut r = result(&[ChainError::Expired, ChainError::HostnameMismatch], -3);
    let t = Config::parse("targets:\n  - address: other.example:443\n").unwrap();
    r.failure = None;
    let f = assess(&t.targets[0], &r, NOW, 28.0);
    assert_eq!(
        codes(&f),
        [
            ("expired", Severity::Broken),
            ("hostname_mismatch", Severity::Broken)
        ]
    );
    assert!(
        f[0].message.contains("expired on") && f[0].message.contains("3 days ago"),
        "{f:?}"
    );
    assert!(f[1]
        .message
        .contains("does not cover other.example (it covers shop.example)"));
}

#[test]
fn weak_crypto_and_legacy_protocols_need_attention() {
    let mut r = result(&[], 90);
    if let Some(chain) = r.chain.as_mut() {
        let mut leaf = (*chain.certs[0]).clone();
        leaf.key_algorithm = "RSA";
        leaf.key_bits = 1024;
        chain.certs[0] = Arc::new(leaf);
    }
    r.legacy = Some(LegacyReport {
        enabled: [(LegacyVersion::Tls10, true), (LegacyVersion::Tls11, false)].into(),
        inconclusive: Vec::new(),
        checked_at: std::time::SystemTime::now(),
        served: None,
    });
    let f = assess(&target(), &r, NOW, 28.0);
    assert_eq!(worst(&f), Severity::Attention);
    let attention: Vec<_> = f
        .iter()
        .filter(|f| f.severity == Severity::Attention)
        .collect();
    assert_eq!(attention[0].code, "rsa_key_lt_2048");
    assert!(attention[0].message.contains("RSA key of 1024 bits"));
    assert_eq!(attention[1].code, "legacy_protocol");
    assert_eq!(attention[1].message, "the server still accepts TLS 1.0");
    assert!(f.iter().any(|f| f.message == "the server refuses TLS 1.1"));
}

#[test]
fn unreachable_is_broken_and_legacy_only_says_why() {
    let mut r = ProbeResult::new();
    r.failure = Some(ProbeFailure::new(ProbeReason::ConnectRefused, "refused"));
    let f = assess(&target(), &r, NOW, 28.0);
    assert_eq!(codes(&f), [("connect_refused", Severity::Broken)]);
    assert!(f[0].message.contains("shop.example:443"));

    let mut r = result(&[], 90);
    r.failure = Some(ProbeFailure::new(
        ProbeReason::ProtocolVersion,
        "no common version",
    ));
    r.tls = Some(crate::probe::TlsSession {
        version: crate::probe::TlsVersion::Tls10,
        cipher: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA".into(),
        group: "".into(),
    });
    let f = assess(&target(), &r, NOW, 28.0);
    assert_eq!(f[0].code, "protocol_version");
    assert!(f[0].message.contains("speaks only TLS 1.0"), "{f:?}");
    assert!(f[0].advice.as_deref().unwrap().contains("enable TLS 1.2"));
}

#[test]
fn clock_skew_over_five_minutes_needs_attention() {
    assert_eq!(clock_finding(None), None);
    assert_eq!(clock_finding(Some(2.4)).unwrap().severity, Severity::Ok);
    assert!(clock_finding(Some(0.4))
        .unwrap()
        .message
        .contains("to the second"));
    let f = clock_finding(Some(-3600.0)).unwrap();
    assert_eq!(f.severity, Severity::Attention);
    assert!(f.message.contains("1h behind"), "{}", f.message);
}

#[test]
fn a_starttls_timeout_is_advised_by_how_far_the_dialogue_got() {
    use crate::probe::Stall;
    let advice = |stall: Option<Stall>| {
        let mut r = ProbeResult::new();
        r.failure = Some(ProbeFailure::new(
            ProbeReason::StarttlsTimeout,
            "SMTP STARTTLS: the server's greeting was unfinished at the probe timeout; it had sent \"220-mx\\r\\n\"",
        ));
        r.starttls_stall = stall;
        let f = assess(&target(), &r, NOW, 28.0);
        let finding = f.iter().find(|f| f.code == "starttls_timeout").unwrap();
        assert_eq!(finding.severity, Severity::Broken);
        assert!(finding.message.contains("220-mx"), "{finding:?}");
        finding.advice.clone().unwrap_or_default()
    };
    let postscreen = advice(Some(Stall::Unfinished));
    assert!(
        postscreen.contains("raise the target's timeout above the server's greeting delay")
            && postscreen.contains("postscreen_greet_wait"),
        "{postscreen}"
    );
    assert!(!postscreen.contains("implicit-TLS"), "{postscreen}");
    assert!(advice(Some(Stall::Silent)).contains("implicit-TLS port"));
    assert!(advice(None).contains("implicit-TLS port"));
    let unanswered = advice(Some(Stall::Unanswered));
    assert!(
        unanswered.contains("stopped answering") && !unanswered.contains("implicit-TLS"),
        "{unanswered}"
    );
}

#[test]
fn the_renewal_window_is_told_and_an_early_or_missed_one_needs_attention() {
    use crate::probe::renewal::{RenewalError, RenewalOutcome, RenewalReason, RenewalWindow};
    let with = |window| {
        let mut r = result(&[], 80); // leaf from NOW - 10 d to NOW + 80 d: natural point NOW + 50 d
        r.renewal = Some(Box::new(RenewalOutcome {
            directory: "https://acme.example/dir".into(),
            window,
        }));
        r
    };
    let window = |start: i64, end: i64| {
        Ok(RenewalWindow {
            start: NOW + start * 86_400,
            end: NOW + end * 86_400,
            explanation_url: None,
        })
    };
    let found = |r: &ProbeResult| {
        assess(&target(), r, NOW, 28.0)
            .into_iter()
            .filter(|f| f.code.starts_with("renewal") || f.code == "http_status")
            .collect::<Vec<_>>()
    };
    let usual = found(&with(window(49, 51)));
    assert_eq!(codes(&usual), [("renewal_window", Severity::Ok)]);
    assert!(
        usual[0].message.contains("suggests renewing from"),
        "{:?}",
        usual
    );
    let early = found(&with(window(-1, 1)));
    assert_eq!(
        codes(&early),
        [("renewal_requested_early", Severity::Attention)]
    );
    assert!(early[0].message.contains("51 days before"), "{:?}", early);
    assert!(early[0].advice.as_deref().unwrap().contains("revoke"));
    // A 90-day leaf with 10 days left (natural point 20 days ago) whose window, at its usual
    // place, closed two days ago: missed.
    let mut missed = with(window(-22, -2));
    missed.chain.as_mut().unwrap().certs[0] = Arc::new(CertFacts {
        not_before: NOW - 80 * 86_400,
        ..(*cert("CN=shop.example", "CN=Inter", 10)).clone()
    });
    let missed = found(&missed);
    assert_eq!(
        codes(&missed),
        [("renewal_window_missed", Severity::Attention)]
    );
    let failed = found(&with(Err(RenewalError::new(
        RenewalReason::Fetch(crate::fetch::FetchReason::HttpStatus),
        "https://acme.example/ari/x: HTTP status 404 Not Found",
    ))));
    assert_eq!(codes(&failed), [("http_status", Severity::Note)]);
    assert!(
        failed[0].message.contains("could not be learnt"),
        "{:?}",
        failed
    );
}

#[test]
fn a_public_leaf_without_the_scts_browsers_require_is_broken() {
    let with_scts = |n: u8, private: bool| {
        let mut r = result(&[], 90);
        let chain = r.chain.as_mut().unwrap();
        chain.private_anchor = private;
        let mut leaf = (*chain.certs[0]).clone();
        leaf.scts.truncate(n as usize);
        chain.certs[0] = Arc::new(leaf);
        let ct = ["no_scts", "too_few_logs"];
        let mut f = assess(&target(), &r, NOW, 28.0);
        f.retain(|f| ct.contains(&f.code));
        f
    };
    assert!(
        codes(&with_scts(2, false)).is_empty(),
        "two logs for 100 days"
    );
    let none = with_scts(0, false);
    assert_eq!(codes(&none), [("no_scts", Severity::Broken)]);
    assert!(none[0].message.contains("no SCT"), "{:?}", none[0]);
    assert!(none[0].advice.as_deref().unwrap().contains("SCTs embedded"));
    let one = with_scts(1, false);
    assert_eq!(codes(&one), [("too_few_logs", Severity::Broken)]);
    assert!(
        one[0].message.contains("from 1 distinct logs (2 required"),
        "{:?}",
        one[0]
    );
    assert!(
        codes(&with_scts(0, true)).is_empty(),
        "a private CA is exempt"
    );
}
