//! Pins `/metrics` byte for byte: every family the exporter registers, in order, with its HELP
//! text and label order, rendered from a few representative snapshots and compared with the
//! golden pages in `testdata/`: `golden.*` at `metrics: {level: full}` (captured before the
//! metrics moved into this module; every series the exporter can write), `golden-default.prom`
//! at the default level, `golden-labels.prom` with every label control set. A change here is
//! a change scrapers, dashboards and alerts see.
//!
//! Then the series budget of a healthy endpoint at each level: which families and label names
//! it writes, how many series and how many bytes of page, so the default cannot grow by
//! accident.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prometheus_client::registry::Registry;

use super::target_files::{FileReport, TargetFileLoad};
use super::{render, Format};
use crate::config::{Config, Target};
use crate::fetch::FetchReason;
use crate::probe::leaves::{KeyType, LeafReport, OtherLeaf};
use crate::probe::legacy::{LegacyReport, LegacyVersion};
use crate::probe::result::{Phase, TlsSession};
use crate::probe::{Instance, ProbeFailure, ProbeReason, ProbeResult, TlsVersion};
use crate::revocation::{
    Revocation, RevocationError, RevocationReason, RevocationReport, Source, SourceReport,
};
use crate::state::State;
use crate::x509::{CertFacts, ChainError, ChainReport};

/// 2027-01-15T08:00:00Z: when every probe of the fixture finished.
const FINISHED: u64 = 1_800_000_000;
/// 2100-01-01: a notAfter no test run will pass.
const FAR: i64 = 4_102_444_800;
/// 2000-01-01: a notAfter long gone.
const GONE: i64 = 946_684_800;

fn targets(level: &str) -> Vec<Arc<Target>> {
    Config::parse(&format!(
        "defaults:
  metrics: {{level: {level}}}
targets:
  - name: shop
    address: shop.example:443
    labels: {{team: web, env: prod}}
  - name: broken
    address: broken.example:443
  - name: bundle
    path: /etc/ssl/bundle.pem
  - name: down
    address: down.example:443
  - name: dual
    address: dual.example:443
"
    ))
    .unwrap()
    .targets
}

fn cert(subject: &str, issuer: &str, not_after: i64, signature: &str) -> Arc<CertFacts> {
    Arc::new(CertFacts {
        serial: format!("{:02x}", subject.len()),
        not_before: 1_700_000_000,
        sha256_fingerprint: format!("{:064x}", not_after),
        signature_algorithm: signature.into(),
        dns_names: vec!["a.example".into(), "b.example".into()],
        is_ca: subject.contains("CA"),
        // A public leaf comes with SCTs from three logs (what Chrome asks of one issued for
        // over 180 days, as these are); CAs carry none.
        scts: if subject.contains("CA") {
            Vec::new()
        } else {
            test_scts(3)
        },
        ..CertFacts::example(subject, issuer, not_after)
    })
}

/// `n` SCTs from `n` distinct logs.
fn test_scts(n: u8) -> Vec<crate::x509::ct::Sct> {
    (1..=n)
        .map(|i| crate::x509::ct::Sct {
            log_id: [i; 32],
            timestamp_ms: 1_700_000_000_000,
        })
        .collect()
}

fn chain(certs: Vec<Arc<CertFacts>>, errors: &[ChainError], judged: bool) -> ChainReport {
    ChainReport {
        in_path: vec![judged; certs.len()],
        expiry: certs.iter().map(|c| c.not_after).min(),
        certs,
        errors: errors.iter().copied().collect::<BTreeSet<_>>(),
        private_anchor: false,
        detail: None,
        judged,
        anchor: None,
        anchored: judged && errors.is_empty(),
        stapled_scts: Vec::new(),
    }
}

fn finished() -> ProbeResult {
    let mut r = ProbeResult::new();
    r.finished_at = SystemTime::UNIX_EPOCH + Duration::from_secs(FINISHED);
    r
}

/// A valid endpoint: TLS session, anchor, client certificate asked for, stapled OCSP, an OCSP
/// responder that failed twice for one reason, legacy protocols checked.
fn valid_endpoint() -> ProbeResult {
    let mut r = finished();
    r.peer = Some("192.0.2.10:443".parse().unwrap());
    r.phases = vec![
        (Phase::Dns, Duration::from_millis(2)),
        (Phase::Connect, Duration::from_millis(5)),
        (Phase::Handshake, Duration::from_millis(20)),
        (Phase::Total, Duration::from_millis(250)),
    ]
    .into_iter()
    .collect();
    r.tls = Some(TlsSession {
        version: TlsVersion::Tls13,
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        group: "X25519".into(),
    });
    let mut report = chain(
        vec![
            cert(
                "CN=shop.example",
                "CN=Shop CA",
                FAR - 86_400,
                "ecdsa-with-SHA256",
            ),
            cert("CN=Shop CA", "CN=Root CA", FAR, "ecdsa-with-SHA256"),
        ],
        &[],
        true,
    );
    report.anchor = Some(cert(
        "CN=Root CA",
        "CN=Root CA",
        FAR + 1,
        "ecdsa-with-SHA256",
    ));
    r.chain = Some(report);
    r.client_cert_requested = true;
    r.revocation = Some(RevocationReport {
        stapled: true,
        sources: vec![
            SourceReport {
                source: Source::OcspStapled,
                revoked: Some(false),
                next_update: Some(1_800_086_400),
                errors: Vec::new(),
                notes: Vec::new(),
            },
            SourceReport {
                source: Source::Ocsp,
                revoked: None,
                next_update: None,
                errors: vec![
                    RevocationError::new(RevocationReason::Fetch(FetchReason::HttpStatus), "503"),
                    RevocationError::new(RevocationReason::Fetch(FetchReason::HttpStatus), "502"),
                    RevocationError::new(RevocationReason::Fetch(FetchReason::Timeout), "slow"),
                ],
                notes: Vec::new(),
            },
            SourceReport {
                source: Source::Crl,
                revoked: Some(true),
                next_update: None,
                errors: Vec::new(),
                notes: Vec::new(),
            },
        ],
    });
    r.legacy = Some(LegacyReport {
        enabled: [(LegacyVersion::Tls10, false), (LegacyVersion::Tls11, true)].into(),
        inconclusive: Vec::new(),
        checked_at: r.finished_at,
        served: None,
    });
    r
}

/// An invalid chain with two reasons and a SHA-1 signature, probed on every address: the
/// second address refused the connection.
fn invalid_chain() -> Vec<ProbeResult> {
    let mut first = finished();
    first.instance = Some(Box::new(Instance::Address("192.0.2.20:443".into())));
    first.peer = Some("192.0.2.20:443".parse().unwrap());
    first.phases = vec![(Phase::Total, Duration::from_millis(40))]
        .into_iter()
        .collect();
    // The name's CAA records refuse the leaf's CA.
    first.caa = Some(Box::new(crate::probe::caa::CaaReport {
        name: "broken.example".into(),
        found_at: Some("broken.example".into()),
        wildcard: false,
        identities: vec!["ca.example".into()],
        // ... named by its ACME directory's meta.caaIdentities.
        identity_source: crate::probe::caa::IdentitySource::AcmeDirectory,
        directory: Some(Box::new(crate::probe::caa::DirectoryNote {
            url: "https://acme.example/directory".into(),
            fallback: None,
        })),
        outcome: Ok(crate::probe::caa::CaaVerdict::NotListed),
    }));
    first.tls = Some(TlsSession {
        version: TlsVersion::Tls12,
        cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
        group: "".into(),
    });
    first.chain = Some(chain(
        vec![cert(
            "CN=broken.example",
            "CN=Old CA",
            GONE,
            "sha1WithRSAEncryption",
        )],
        &[ChainError::Expired, ChainError::UnknownIssuer],
        true,
    ));
    let mut second = finished();
    second.instance = Some(Box::new(Instance::Address("192.0.2.21:443".into())));
    second.phases = vec![(Phase::Connect, Duration::from_millis(1))]
        .into_iter()
        .collect();
    second.failure = Some(ProbeFailure::new(ProbeReason::ConnectRefused, "refused"));
    vec![first, second]
}

/// A certificate file holding a bundle: one certificate still valid, one lapsed.
fn file_bundle() -> ProbeResult {
    let mut r = finished();
    r.instance = Some(Box::new(Instance::File("/etc/ssl/bundle.pem".into())));
    r.phases = vec![(Phase::Read, Duration::from_micros(300))]
        .into_iter()
        .collect();
    r.chain = Some(chain(
        vec![
            cert("CN=Bundle CA 1", "CN=Bundle CA 1", FAR, "ecdsa-with-SHA256"),
            cert(
                "CN=Bundle CA 2",
                "CN=Bundle CA 2",
                GONE,
                "ecdsa-with-SHA256",
            ),
        ],
        &[],
        false,
    ));
    r
}

/// A probe that got nowhere.
fn probe_failure() -> ProbeResult {
    let mut r = finished();
    r.phases = vec![(Phase::Dns, Duration::from_millis(3))]
        .into_iter()
        .collect();
    r.failure = Some(ProbeFailure::new(ProbeReason::Dns, "no such host"));
    r
}

/// A server with an ECDSA and an RSA certificate: the probe's handshake got the ECDSA chain,
/// the RSA-only one another chain whose leaf has lapsed (with an OCSP answer), and the
/// Ed25519-only handshake timed out.
fn dual_endpoint() -> ProbeResult {
    let mut r = finished();
    r.peer = Some("192.0.2.30:443".parse().unwrap());
    r.phases = vec![(Phase::Total, Duration::from_millis(60))]
        .into_iter()
        .collect();
    r.tls = Some(TlsSession {
        version: TlsVersion::Tls13,
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        group: "X25519".into(),
    });
    let ca = || cert("CN=Dual CA", "CN=Dual CA", FAR, "ecdsa-with-SHA256");
    r.chain = Some(chain(
        vec![
            cert(
                "CN=dual.example",
                "CN=Dual CA",
                FAR - 3_600,
                "ecdsa-with-SHA256",
            ),
            ca(),
        ],
        &[],
        true,
    ));
    let rsa_leaf = Arc::new(CertFacts {
        key_algorithm: "RSA",
        key_bits: 2048,
        ..(*cert("CN=dual.example", "CN=Dual CA", GONE, "ecdsa-with-SHA256")).clone()
    });
    r.leaves = Some(Box::new(LeafReport {
        main: KeyType::Ecdsa,
        others: vec![OtherLeaf {
            key_type: KeyType::Rsa,
            chain: chain(vec![rsa_leaf, ca()], &[ChainError::Expired], true),
            revocation: Some(RevocationReport {
                stapled: false,
                sources: vec![SourceReport {
                    source: Source::Ocsp,
                    revoked: Some(false),
                    next_update: Some(1_800_086_400),
                    errors: Vec::new(),
                    notes: Vec::new(),
                }],
            }),
            aia: None,
        }],
        failures: vec![(
            KeyType::Ed25519,
            ProbeFailure::new(ProbeReason::Timeout, "slow"),
        )],
        checked_at: r.finished_at,
    }));
    // Its CAA check had no answer.
    r.caa = Some(Box::new(crate::probe::caa::CaaReport {
        name: "dual.example".into(),
        found_at: None,
        wildcard: false,
        identities: vec!["ca.example".into()],
        // The table's identity: its ACME directory could not be read.
        identity_source: crate::probe::caa::IdentitySource::Builtin,
        directory: Some(Box::new(crate::probe::caa::DirectoryNote {
            url: "https://acme.example/directory".into(),
            fallback: Some(crate::failure::Failure::new(
                crate::probe::caa::DirectoryFallback::Directory(
                    crate::probe::acme_directory::DirectoryReason::Fetch(
                        crate::fetch::FetchReason::HttpStatus,
                    ),
                ),
                "500",
            )),
        })),
        outcome: Err(crate::failure::Failure::new(
            crate::probe::caa::CaaReason::DnsServfail,
            "SERVFAIL",
        )),
    }));
    r
}

/// The registry as the exporter builds it, over the fixture, every target at `level`.
fn fixture(level: &str) -> Registry {
    let targets = targets(level);
    let state = Arc::new(State::new());
    state.store(targets[0].clone(), vec![valid_endpoint()]);
    state.store(targets[1].clone(), invalid_chain());
    state.store(targets[2].clone(), vec![file_bundle()]);
    state.store(targets[3].clone(), vec![probe_failure()]);
    state.store(targets[4].clone(), vec![dual_endpoint()]);

    let exporter = Arc::new(super::ExporterMetrics::default());
    exporter.targets.set(targets.len() as i64);
    // As the app does at every load: the defaults' cap for the series of no target.
    exporter
        .label_limit
        .set(targets[0].metrics.label_value_length_limit);
    for snapshot in state.snapshots().iter() {
        for result in &snapshot.results {
            exporter.record_probe(&snapshot.target, result);
        }
    }
    exporter.record_reload(true);

    let file_report = Arc::new(FileReport::default());
    file_report.set([
        TargetFileLoad {
            file: "/etc/cert-exporter/targets.d/a.yml".into(),
            loaded: true,
            targets: 0,
        },
        TargetFileLoad {
            file: "/etc/cert-exporter/targets.d/b.yml".into(),
            loaded: false,
            targets: 0,
        },
    ]);

    let revocation = Arc::new(Revocation::new().unwrap());
    // Requests sent to CA servers (counted by the HTTP client as they go).
    let fetches = revocation.fetches();
    fetches
        .get_or_create(&vec![("source", "ocsp"), ("result", "success")])
        .inc();
    fetches
        .get_or_create(&vec![("source", "crl"), ("result", "not_modified")])
        .inc();
    fetches
        .get_or_create(&vec![("source", "crl"), ("result", "failure")])
        .inc_by(2);
    let issuer_fetches = &revocation.http().issuer_fetches;
    issuer_fetches
        .get_or_create(&vec![("result", "success")])
        .inc();
    super::registry(state, exporter, revocation, file_report)
}

/// The page with what changes from run to run replaced: the value of series computed from the
/// clock, the build's version and revision, and the order of a counter's samples (a
/// `Family` keeps them in a hash map, so each process lists them in an order of its own).
fn normalize(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut counter = false;
    let mut samples: Vec<String> = Vec::new();
    for line in page.lines() {
        let line = line.replace(env!("CARGO_PKG_VERSION"), "VERSION").replace(
            option_env!("CERT_EXPORTER_REVISION").unwrap_or("unknown"),
            "REVISION",
        );
        if line.starts_with('#') {
            flush(&mut out, &mut samples, counter);
            if line.starts_with("# TYPE ") {
                counter = line.ends_with(" counter");
            }
            out.push_str(&line);
            out.push('\n');
            continue;
        }
        let clocked = [
            "cert_days_to_expiry{",
            "cert_exporter_config_last_reload_success_timestamp_seconds ",
        ];
        match line.rsplit_once(' ') {
            Some((series, _)) if clocked.iter().any(|c| line.starts_with(c)) => {
                samples.push(format!("{series} NOW"));
            }
            _ => samples.push(line),
        }
    }
    flush(&mut out, &mut samples, counter);
    out
}

/// Writes the samples of one family, sorted when it is a counter.
fn flush(out: &mut String, samples: &mut Vec<String>, counter: bool) {
    if counter {
        samples.sort();
    }
    for sample in samples.drain(..) {
        out.push_str(&sample);
        out.push('\n');
    }
}

fn check(level: &str, format: Format, golden: &str, name: &str) {
    let page = normalize(&render(&fixture(level), format));
    if page != golden {
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::write(&path, &page);
        let first = page
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(page.lines().count().min(golden.lines().count()));
        panic!(
            "/metrics ({format:?}) differs from {name} from line {}: {:?} (golden {:?}); the page \
             rendered now is in {}",
            first + 1,
            page.lines().nth(first),
            golden.lines().nth(first),
            path.display()
        );
    }
}

#[test]
fn text_page_is_byte_identical_to_the_golden_one() {
    check(
        "full",
        Format::Text,
        include_str!("testdata/golden.prom"),
        "golden.prom",
    );
}

#[test]
fn openmetrics_page_is_byte_identical_to_the_golden_one() {
    check(
        "full",
        Format::OpenMetrics,
        include_str!("testdata/golden.openmetrics"),
        "golden.openmetrics",
    );
}

#[test]
fn default_text_page_is_byte_identical_to_the_golden_one() {
    check(
        "default",
        Format::Text,
        include_str!("testdata/golden-default.prom"),
        "golden-default.prom",
    );
}

/// A healthy public endpoint as the probe reports it with OCSP and CRL on: every phase timed,
/// a leaf and an intermediate with long public names and an 18-byte serial, both sources
/// verified "not revoked", no staple, TLS 1.0 and 1.1 refused.
fn healthy_endpoint() -> ProbeResult {
    let mut r = finished();
    r.peer = Some("192.0.2.30:443".parse().unwrap());
    r.phases = [
        Phase::Dns,
        Phase::Connect,
        Phase::Handshake,
        Phase::Legacy,
        Phase::Revocation,
        Phase::Total,
    ]
    .into_iter()
    .map(|p| (p, Duration::from_micros(34_583)))
    .collect();
    r.tls = Some(TlsSession {
        version: TlsVersion::Tls13,
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        group: "X25519MLKEM768".into(),
    });
    let public = |subject: &str, issuer: &str, not_after: i64| {
        let mut c = (*cert(subject, issuer, not_after, "sha256WithRSAEncryption")).clone();
        c.serial = "04f3a9c2e1b07d5a6c8e2f1d3b5a7c9e0f12".into();
        c.key_algorithm = "RSA";
        c.key_bits = 2048;
        c.dns_names = vec!["www.shop.example".into(), "shop.example".into()];
        // Issued for 45 days, within the CA/Browser Forum's maximum of its time (longer is a
        // weakness of its own).
        c.not_before = not_after - 45 * 86_400;
        Arc::new(c)
    };
    let mut report = chain(
        vec![
            public(
                "CN=www.shop.example",
                "CN=R11,O=Let's Encrypt,C=US",
                FAR - 86_400,
            ),
            public(
                "CN=R11,O=Let's Encrypt,C=US",
                "CN=ISRG Root X1,O=Internet Security Research Group,C=US",
                FAR,
            ),
        ],
        &[],
        true,
    );
    report.anchor = Some(public(
        "CN=ISRG Root X1,O=Internet Security Research Group,C=US",
        "CN=ISRG Root X1,O=Internet Security Research Group,C=US",
        FAR + 1,
    ));
    r.chain = Some(report);
    let verified = |source| SourceReport {
        source,
        revoked: Some(false),
        next_update: (source == Source::Ocsp).then_some(1_800_086_400),
        errors: Vec::new(),
        notes: Vec::new(),
    };
    r.revocation = Some(RevocationReport {
        stapled: false,
        sources: vec![verified(Source::Ocsp), verified(Source::Crl)],
    });
    r.legacy = Some(LegacyReport {
        enabled: [(LegacyVersion::Tls10, false), (LegacyVersion::Tls11, false)].into(),
        inconclusive: Vec::new(),
        checked_at: r.finished_at,
        served: None,
    });
    r
}

/// The sample lines of the healthy endpoint's page at `level` (text format).
/// The text page of the configuration `config`'s first target with the one result `result`.
fn page_of(config: &str, result: &ProbeResult) -> String {
    let target = Config::parse(config).unwrap().targets.remove(0);
    let state = Arc::new(State::new());
    state.store(target, vec![result.clone()]);
    let registry = super::registry(
        state,
        Arc::new(super::ExporterMetrics::default()),
        Arc::new(Revocation::new().unwrap()),
        Arc::new(FileReport::default()),
    );
    render(&registry, Format::Text)
}

fn healthy_lines(level: &str) -> Vec<String> {
    page_of(
        &format!(
            "defaults:\n  metrics: {{level: {level}}}\ntargets:\n  - address: www.shop.example:443\n"
        ),
        &healthy_endpoint(),
    )
    .lines()
    .filter(|l| l.contains("target=\"www.shop.example:443\""))
    .map(str::to_owned)
    .collect()
}

/// `family{label,label}` for each line, sorted.
fn shape(lines: &[String]) -> Vec<String> {
    let mut shapes: Vec<String> = lines
        .iter()
        .map(|l| {
            let (name, rest) = l.split_once('{').expect("a labelled sample");
            let labels: Vec<&str> = rest
                .split("\",")
                .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
                .collect();
            format!("{name}{{{}}}", labels.join(","))
        })
        .collect();
    shapes.sort();
    shapes
}

/// The bytes a target adds to the page: its sample lines, newlines included.
fn bytes(lines: &[String]) -> usize {
    lines.iter().map(|l| l.len() + 1).sum()
}

#[test]
fn a_healthy_endpoint_costs_at_most_ten_series_and_a_kilobyte_by_default() {
    let lines = healthy_lines("default");
    // Adding a series to this list is a decision: it costs every target of every fleet.
    assert_eq!(
        shape(&lines),
        [
            "cert_anchor_not_after_timestamp_seconds{target,subject}",
            "cert_chain_valid{target}",
            "cert_days_to_expiry{target}",
            "cert_expiry_timestamp_seconds{target}",
            "cert_not_after_timestamp_seconds{target,position,subject,issuer,serial}",
            "cert_not_before_timestamp_seconds{target,position,subject,issuer,serial}",
            "cert_probe_success{target}",
            "cert_probe_timestamp_seconds{target}",
            "cert_tls_version_info{target,version}",
        ],
        "the default series of a healthy endpoint:\n{}",
        lines.join("\n")
    );
    assert!(lines.len() <= 10);
    assert!(
        bytes(&lines) <= 1024,
        "{} bytes per healthy target:\n{}",
        bytes(&lines),
        lines.join("\n")
    );
    // Probe durations are opt-in (`phases: total` or `all`): they change at every probe, so
    // they cost the most samples of all, and no alert reads them.
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("cert_probe_duration_seconds{")));
}

#[test]
fn each_level_of_a_healthy_endpoint_has_its_series_count() {
    let counts: Vec<(usize, usize)> = ["minimal", "default", "full"]
        .iter()
        .map(|level| {
            let lines = healthy_lines(level);
            (lines.len(), bytes(&lines))
        })
        .collect();
    eprintln!("healthy endpoint, (series, bytes) at minimal, default, full: {counts:?}");
    // minimal: what the alerts read; default: and the dashboards' overview; full: every
    // series, as before levels existed.
    assert_eq!(counts.iter().map(|c| c.0).collect::<Vec<_>>(), [8, 9, 29]);
    assert!(
        counts[0].1 < counts[1].1 && counts[1].1 < counts[2].1,
        "{counts:?}"
    );
}

#[test]
fn what_goes_wrong_is_written_at_every_level() {
    let mut r = healthy_endpoint();
    r.legacy.as_mut().unwrap().enabled[1].1 = true;
    r.revocation.as_mut().unwrap().sources[1].revoked = Some(true);
    for level in ["minimal", "default"] {
        let page = page_of(
            &format!(
                "defaults:
  metrics: {{level: {level}}}
targets:
  - address: a.example:443
"
            ),
            &r,
        );
        for sample in [
            "cert_legacy_protocol_enabled{target=\"a.example:443\",version=\"TLS 1.1\"} 1",
            "cert_revoked{target=\"a.example:443\",source=\"crl\"} 1",
        ] {
            assert!(page.contains(sample), "{level}: no {sample} in\n{page}");
        }
        assert!(!page.contains("version=\"TLS 1.0\"} 0"), "{level}: {page}");
        assert!(!page.contains("source=\"ocsp\"} 0"), "{level}: {page}");
    }
}

/// A publicly trusted leaf with too few SCTs is written at every level; the counts only at
/// `details`; the same leaf under a private CA (a `ca_file`) is no finding.
#[test]
fn a_public_leaf_short_of_scts_is_written_at_every_level_and_a_private_one_never() {
    let page = |level: &str, r: &ProbeResult| {
        page_of(
            &format!(
                "defaults:
  metrics: {{level: {level}}}
targets:
  - address: a.example:443
"
            ),
            r,
        )
    };
    let mut r = healthy_endpoint();
    let chain = r.chain.as_mut().unwrap();
    let mut leaf = (*chain.certs[0]).clone();
    leaf.scts.truncate(1);
    chain.certs[0] = Arc::new(leaf);
    let wrong = "cert_ct_policy_error_info{target=\"a.example:443\",reason=\"too_few_logs\"} 1";
    for level in ["minimal", "default", "full"] {
        assert!(page(level, &r).contains(wrong), "{level}");
    }
    assert!(
        page("full", &r).contains("cert_ct_scts{target=\"a.example:443\",source=\"embedded\"} 1")
    );
    assert!(!page("default", &r).contains("cert_ct_scts{"));
    r.chain.as_mut().unwrap().private_anchor = true;
    assert!(!page("minimal", &r).contains("cert_ct_policy_error_info{"));
    r.chain.as_mut().unwrap().private_anchor = false;
    let mut leaf = (*r.chain.as_ref().unwrap().certs[0]).clone();
    leaf.scts.clear();
    r.chain.as_mut().unwrap().certs[0] = Arc::new(leaf);
    assert!(page("minimal", &r).contains("reason=\"no_scts\"} 1"));
}

/// `/metrics` is streamed in pieces (`render_chunks`); put together (and decompressed) they are
/// the page `render` gives, in both formats, whatever the piece size.
#[test]
fn streamed_page_is_the_rendered_page() {
    use super::{render_chunks, RenderEnd};
    let registry = fixture("full");
    for format in [Format::Text, Format::OpenMetrics] {
        let whole = normalize(&render(&registry, format));
        for gzip in [false, true] {
            for chunk in [1, 100, 4096, super::CHUNK] {
                let mut pieces: Vec<Vec<u8>> = Vec::new();
                let end = render_chunks(&registry, format, gzip, chunk, &mut |p| {
                    pieces.push(p);
                    true
                });
                assert_eq!(end, RenderEnd::Complete);
                let last = pieces.len() - 1;
                assert!(
                    pieces[..last].iter().all(|p| p.len() >= chunk),
                    "{format:?} gzip={gzip} chunk={chunk}: a piece before the last is short"
                );
                let bytes = pieces.concat();
                let text = if gzip {
                    let mut out = String::new();
                    std::io::Read::read_to_string(
                        &mut flate2::read::GzDecoder::new(bytes.as_slice()),
                        &mut out,
                    )
                    .unwrap();
                    out
                } else {
                    String::from_utf8(bytes).unwrap()
                };
                assert_eq!(
                    normalize(&text),
                    whole,
                    "{format:?} gzip={gzip} chunk={chunk}"
                );
            }
        }
    }
    // A scraper that goes away stops the render at once.
    let mut sent = 0;
    let end = render_chunks(&registry, Format::Text, false, 100, &mut |_| {
        sent += 1;
        sent < 3
    });
    assert_eq!((end, sent), (RenderEnd::Refused, 3));
}

/// Every label control at once over the fixture: subject fields without the whole name, the
/// whole issuer beside its CN (no certificate of the fixture has an O: no `subject_O`), file
/// paths relative to the glob, and the shortest cap, 64 bytes, which the fixture's values fit
/// (`labels::tests` shows long ones cut).
const LABEL_CONTROLS: &str = "full, subject_fields: [CN, O], issuer_fields: [DN, CN], \
    file_path: relative, label_value_length_limit: 64";

#[test]
fn label_controls_page_is_byte_identical_to_the_golden_one() {
    check(
        LABEL_CONTROLS,
        Format::Text,
        include_str!("testdata/golden-labels.prom"),
        "golden-labels.prom",
    );
}

/// Every labelled sample reaches the page through `labels::encode_sample`, the one place the
/// cap on label values is applied: no other file of `metrics/` encodes a label set itself.
#[test]
fn every_sample_goes_through_the_label_cap() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name == "labels.rs" || name == "tests.rs" {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("encode_family("),
            "{name} encodes a label set itself; write samples with labels::encode_sample"
        );
    }
    assert!(files >= 8, "{files} files read from {dir}");
}

/// Fields instead of whole names: the healthy endpoint keeps its series, each certificate's
/// series carry `subject_CN`/`issuer_CN`/`issuer_O` where the names have them, and the page
/// gets shorter.
#[test]
fn subject_and_issuer_fields_replace_the_whole_names_on_the_healthy_endpoint() {
    let lines = healthy_lines("default, subject_fields: [CN], issuer_fields: [CN, O]");
    assert_eq!(
        shape(&lines),
        [
            "cert_anchor_not_after_timestamp_seconds{target,subject_CN}",
            "cert_chain_valid{target}",
            "cert_days_to_expiry{target}",
            "cert_expiry_timestamp_seconds{target}",
            "cert_not_after_timestamp_seconds{target,position,subject_CN,issuer_CN,issuer_O,serial}",
            "cert_not_before_timestamp_seconds{target,position,subject_CN,issuer_CN,issuer_O,serial}",
            "cert_probe_success{target}",
            "cert_probe_timestamp_seconds{target}",
            "cert_tls_version_info{target,version}",
        ],
        "{}",
        lines.join("\n")
    );
    assert!(lines.iter().any(|l| l.contains(
        "subject_CN=\"www.shop.example\",issuer_CN=\"R11\",issuer_O=\"Let's Encrypt\","
    )));
    assert!(lines
        .iter()
        .any(|l| l.contains("{target=\"www.shop.example:443\",subject_CN=\"ISRG Root X1\"}")));
    assert!(bytes(&lines) < bytes(&healthy_lines("default")));
}

/// A `dane: true` target's series: the match, the AD bit, the record counts, or the reason;
/// nothing for a target without the check (the golden pages pin that for the others).
#[test]
fn dane_series_are_written_for_the_targets_with_the_check() {
    use crate::probe::dane::{DaneReason, DaneReport, DaneVerdict};
    use crate::x509::dane::{DaneMatch, Matched};
    let page = |r: &ProbeResult| {
        page_of(
            "targets:
  - address: mx.example:25
    starttls: smtp
    dane: true
",
            r,
        )
    };
    let mut r = healthy_endpoint();
    r.dane = Some(Box::new(DaneReport {
        name: "_25._tcp.mx.example".into(),
        leaf_record: Some("3 1 1 00".into()),
        outcome: Ok(DaneVerdict {
            validated: true,
            records: vec!["3 1 1 00".into()],
            verdict: DaneMatch {
                usable: 1,
                unusable: 2,
                matched: Some(Matched {
                    record: "3 1 1 00".into(),
                    position: 0,
                }),
                ta_refused: None,
            },
        }),
    }));
    let text = page(&r);
    for sample in [
        "cert_dane_match{target=\"mx.example:25\"} 1",
        "cert_dane_dnssec_validated{target=\"mx.example:25\"} 1",
        "cert_dane_records{target=\"mx.example:25\",usable=\"true\"} 1",
        "cert_dane_records{target=\"mx.example:25\",usable=\"false\"} 2",
    ] {
        assert!(text.contains(sample), "no {sample} in\n{text}");
    }
    assert!(!text.contains("cert_dane_error_info{"), "{text}");
    r.dane.as_mut().unwrap().outcome = Err(crate::failure::Failure::new(
        DaneReason::DnsServfail,
        "SERVFAIL",
    ));
    let text = page(&r);
    assert!(
        text.contains("cert_dane_error_info{target=\"mx.example:25\",reason=\"dns_servfail\"} 1"),
        "{text}"
    );
    assert!(!text.contains("cert_dane_match{"), "{text}");
    r.dane = None;
    assert!(!page(&r).contains("cert_dane"));
}
