//! x509-limbo (C2SP's path-validation suite) judged through the real probe path.
//!
//! Every SERVER case with a peer key and a DNS or IP peer name gets a real TLS server of its own
//! (in-process tokio-rustls, serving the case's leaf and intermediates with the case's key). The
//! exporter probes it as it would any target — config parsed from YAML, the case's trusted
//! certificates as the target's `ca_file`, a real handshake over loopback — with its clock set to
//! the case's validation time. The verdict (`cert_chain_valid` and its reasons) is compared with
//! `tests/data/limbo/expectations.tsv`: any change fails the test, so every disagreement with
//! limbo is one the expectations file records and `docs/limbo.md` explains. After a deliberate
//! change, `LIMBO_BLESS=1 cargo test --test e2e limbo` rewrites the file and the table in the docs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cert_expiry_exporter::clock::Clock;
use cert_expiry_exporter::config::Config;
use cert_expiry_exporter::probe::{Prober, Resolver};
use cert_expiry_exporter::x509::TrustStores;
use futures_util::StreamExt;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use serde_json::Value;
use tokio_rustls::TlsAcceptor;

use crate::support::openssl::{s_server, SServer};
use crate::support::tls_server::Server;

/// The test data, copied from `../shared/limbo` with its licence.
fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/limbo")
}

fn expectations_path() -> PathBuf {
    data_dir().join("expectations.tsv")
}

fn docs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/limbo.md")
}

/// Markers around the figures in `docs/limbo.md` that this test keeps current.
const TABLE_START: &str = "<!-- limbo-table:start -->";
const TABLE_END: &str = "<!-- limbo-table:end -->";

/// One limbo case, as far as a TLS server and the probe need it.
struct Case {
    id: String,
    trusted: String,
    intermediates: Vec<String>,
    peer: String,
    key: String,
    peer_name: String,
    validation_time: Option<i64>,
    expected_valid: bool,
}

/// What the exporter said about one case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    /// `valid`, `invalid`, `no_chain` (the probe got no certificates) or `refused` (the config
    /// or the case's `ca_file` was refused at load, so nothing would be probed).
    outcome: String,
    /// The chain reasons, sorted and comma-separated; the load error's first words for `refused`.
    reasons: String,
}

impl Verdict {
    /// Whether the exporter accepted the chain.
    fn valid(&self) -> bool {
        self.outcome == "valid"
    }
}

/// The selected cases: SERVER validation with a peer key and a DNS or IP peer name.
fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data_dir().join("limbo.json")).expect("limbo.json");
    let suite: Value = serde_json::from_str(&text).expect("limbo.json is JSON");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    suite["testcases"]
        .as_array()
        .expect("testcases")
        .iter()
        .filter(|c| c["validation_kind"] == "SERVER")
        .filter_map(|c| {
            let key = c["peer_certificate_key"].as_str()?;
            let name = &c["expected_peer_name"];
            if !matches!(name["kind"].as_str(), Some("DNS" | "IP")) {
                return None;
            }
            Some(Case {
                id: c["id"].as_str()?.to_string(),
                trusted: strings(&c["trusted_certs"]).concat(),
                intermediates: strings(&c["untrusted_intermediates"]),
                peer: c["peer_certificate"].as_str()?.to_string(),
                key: key.to_string(),
                peer_name: name["value"].as_str()?.to_string(),
                validation_time: c["validation_time"].as_str().map(rfc3339_to_unix),
                expected_valid: c["expected_result"] == "SUCCESS",
            })
        })
        .collect()
}

fn rfc3339_to_unix(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("validation_time {text:?}: {e}"))
        .unix_timestamp()
}

/// The verdicts of limbo's own harnesses (`webpki-results.json`, `go-results.json`): whether
/// each accepted the case (`None` when it skipped it).
fn harness_results(file: &str) -> BTreeMap<String, Option<bool>> {
    let text = std::fs::read_to_string(data_dir().join(file)).expect(file);
    let doc: Value = serde_json::from_str(&text).expect("results are JSON");
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let accepted = match r["actual_result"].as_str() {
                Some("SUCCESS") => Some(true),
                Some("FAILURE") => Some(false),
                _ => None,
            };
            (r["id"].as_str().unwrap_or_default().to_string(), accepted)
        })
        .collect()
}

/// Serves exactly the case's chain with the case's key, whatever the client asks: the
/// certificates are not checked against the key or parsed here, since malformed ones are the
/// point of many cases.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("case certificates are PEM")
}

/// A TLS server for `case`, or why none can be started (a key rustls cannot sign with).
async fn serve(case: &Case) -> Result<Server, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls_pemfile::private_key(&mut case.key.as_bytes())
        .map_err(|e| format!("key: {e}"))?
        .ok_or("key: no PEM private key")?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("key: {e}"))?;
    let mut chain = pem_certs(&case.peer);
    for intermediate in &case.intermediates {
        chain.extend(pem_certs(intermediate));
    }
    let certified = Arc::new(CertifiedKey::new(chain, signing));
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let acceptor = TlsAcceptor::from(Arc::new(config));
    Ok(Server::raw(move |stream| {
        let acceptor = acceptor.clone();
        // The handshake may fail on purpose (the client refuses the leaf): nothing to do.
        async move {
            let _ = acceptor.accept(stream).await;
        }
    })
    .await)
}

/// The server of one case: rustls where it can sign with the case's key, else OpenSSL.
enum CaseServer {
    Rustls(Server),
    Openssl(SServer),
}

impl CaseServer {
    fn addr(&self) -> std::net::SocketAddr {
        match self {
            CaseServer::Rustls(s) => s.addr,
            CaseServer::Openssl(s) => s.addr,
        }
    }
}

/// Starts the case's server. Keys rustls will not sign with (RSA under 2048 bits, P-192, DSA)
/// are the point of some cases, so those are served by `openssl s_server`, which still can.
async fn start_server(case: &Case, dir: &Path, index: usize) -> CaseServer {
    match serve(case).await {
        Ok(server) => CaseServer::Rustls(server),
        Err(why) => {
            eprintln!(
                "limbo {}: rustls cannot serve it ({why}); using openssl",
                case.id
            );
            let cert = dir.join(format!("{index}-chain.pem"));
            let key = dir.join(format!("{index}-key.pem"));
            std::fs::write(
                &cert,
                format!("{}{}", case.peer, case.intermediates.concat()),
            )
            .expect("write chain");
            std::fs::write(&key, &case.key).expect("write key");
            CaseServer::Openssl(s_server(dir, &cert, &key, &[]).await)
        }
    }
}

/// Probes `case` as the exporter would a configured target, at the case's validation time.
async fn judge(case: &Case, dir: &Path, index: usize) -> Option<Verdict> {
    let server = start_server(case, dir, index).await;
    let ca_file = dir.join(format!("{index}.pem"));
    std::fs::write(&ca_file, &case.trusted).expect("write ca_file");
    let yaml = format!(
        "defaults:\n  timeout: 10s\n  legacy_protocols: false\n  revocation: {{ocsp: false, crl: false}}\n\
         targets:\n  - name: case\n    address: {}\n    server_name: {:?}\n    ca_file: {}\n",
        server.addr(),
        case.peer_name,
        ca_file.display()
    );
    let refused = |what: &str, e: String| {
        let first: String = e.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
        Some(Verdict {
            outcome: "refused".into(),
            reasons: format!("{what}: {first}").replace('\t', " "),
        })
    };
    let config = match Config::parse(&yaml) {
        Ok(config) => config,
        Err(e) => return refused("config", e.to_string()),
    };
    let trust = match TrustStores::load([ca_file.as_path()]) {
        Ok(trust) => trust,
        Err(e) => return refused("ca_file", e.replace(&dir.display().to_string(), "")),
    };
    let clock = case.validation_time.map_or(Clock::System, Clock::Fixed);
    let prober = Prober::new(Resolver::from_system(), trust).with_clock(clock);
    let result = prober.probe(&config.targets[0]).await;
    drop(server);
    Some(match result.chain {
        None => Verdict {
            outcome: "no_chain".into(),
            reasons: result
                .failure
                .map(|f| f.reason.to_string())
                .unwrap_or_default(),
        },
        Some(report) => Verdict {
            outcome: if report.is_valid() {
                "valid"
            } else {
                "invalid"
            }
            .into(),
            reasons: report
                .errors
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(","),
        },
    })
}

/// `expectations.tsv`: `id`, `outcome`, `reasons`, and a note for each disagreement with limbo.
fn read_expectations() -> BTreeMap<String, (Verdict, String)> {
    let Ok(text) = std::fs::read_to_string(expectations_path()) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let mut next = || cols.next().unwrap_or_default().to_string();
            let id = next();
            let verdict = Verdict {
                outcome: next(),
                reasons: next(),
            };
            (id, (verdict, next()))
        })
        .collect()
}

fn write_expectations(rows: &BTreeMap<String, (Verdict, String)>) {
    let mut out = String::from(
        "# x509-limbo through the probe: the exporter's verdict per case (tests/e2e/limbo.rs).\n\
         # id\toutcome\treasons\tnote (why a disagreement with limbo's expected result is chosen)\n",
    );
    for (id, (v, note)) in rows {
        writeln!(out, "{id}\t{}\t{}\t{note}", v.outcome, v.reasons).unwrap();
    }
    std::fs::write(expectations_path(), out).expect("write expectations");
}

/// The figures `docs/limbo.md` shows, computed from the verdicts.
fn table(cases: &[Case], verdicts: &BTreeMap<String, Verdict>) -> String {
    let webpki = harness_results("webpki-results.json");
    let go = harness_results("go-results.json");
    // (agree, false-valid, false-invalid, skipped/not judged) per column.
    let mut figures = [[0usize; 4]; 3];
    let mut judged = 0;
    for case in cases {
        let Some(ours) = verdicts.get(&case.id) else {
            continue;
        };
        if ours.outcome == "no_chain" {
            continue;
        }
        judged += 1;
        let answers = [
            Some(ours.valid()),
            webpki.get(&case.id).copied().flatten(),
            go.get(&case.id).copied().flatten(),
        ];
        for (column, answer) in answers.iter().enumerate() {
            let slot = match answer {
                None => 3,
                Some(a) if *a == case.expected_valid => 0,
                Some(true) => 1,
                Some(false) => 2,
            };
            figures[column][slot] += 1;
        }
    }
    let mut out = format!(
        "{judged} SERVER cases with a peer key and a DNS or IP name that yield a chain.\n\n\
         | verdict on limbo's expectation | cert-expiry-exporter | rustls-webpki 0.103.13 | Go 1.27 crypto/x509 |\n\
         |---|---|---|---|\n"
    );
    for (slot, label) in ["agree", "false valid", "false invalid", "skipped"]
        .iter()
        .enumerate()
    {
        writeln!(
            out,
            "| {label} | {} | {} | {} |",
            figures[0][slot], figures[1][slot], figures[2][slot]
        )
        .unwrap();
    }
    // Never greener than a major client: cases limbo and webpki or Go reject that the
    // exporter accepts.
    let greener: Vec<&str> = cases
        .iter()
        .filter(|c| !c.expected_valid && verdicts.get(&c.id).is_some_and(Verdict::valid))
        .filter(|c| webpki.get(&c.id) == Some(&Some(false)) || go.get(&c.id) == Some(&Some(false)))
        .map(|c| c.id.as_str())
        .collect();
    writeln!(
        out,
        "\nAccepted by the exporter though limbo and rustls-webpki or Go reject them: {}.",
        if greener.is_empty() {
            "none".to_string()
        } else {
            greener
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    )
    .unwrap();
    out
}

fn replace_table(doc: &str, table: &str) -> Option<String> {
    let start = doc.find(TABLE_START)? + TABLE_START.len();
    let end = doc.find(TABLE_END)?;
    Some(format!("{}\n{table}{}", &doc[..start], &doc[end..]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limbo_verdicts_match_the_expectations_file() {
    let cases = cases();
    assert!(cases.len() > 170, "only {} cases selected", cases.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let verdicts: BTreeMap<String, Verdict> = futures_util::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let dir = dir.path();
            async move { judge(case, dir, i).await.map(|v| (case.id.clone(), v)) }
        })
        .buffer_unordered(16)
        .filter_map(|v| async move { v })
        .collect()
        .await;

    let expected = read_expectations();
    let table = table(&cases, &verdicts);
    println!("{table}");
    if std::env::var_os("LIMBO_BLESS").is_some() {
        let rows = verdicts
            .iter()
            .map(|(id, v)| {
                let note = expected
                    .get(id)
                    .filter(|(old, _)| old == v)
                    .map(|(_, note)| note.clone())
                    .unwrap_or_default();
                (id.clone(), (v.clone(), note))
            })
            .collect();
        write_expectations(&rows);
        let doc = std::fs::read_to_string(docs_path()).expect("docs/limbo.md");
        let doc = replace_table(&doc, &table).expect("docs/limbo.md has the table markers");
        std::fs::write(docs_path(), doc).expect("write docs/limbo.md");
        return;
    }

    let mut changes = Vec::new();
    for (id, verdict) in &verdicts {
        match expected.get(id) {
            Some((want, _)) if want == verdict => {}
            Some((want, _)) => changes.push(format!(
                "{id}: expected {} [{}], got {} [{}]",
                want.outcome, want.reasons, verdict.outcome, verdict.reasons
            )),
            None => changes.push(format!("{id}: not in the expectations file")),
        }
    }
    for id in expected.keys().filter(|id| !verdicts.contains_key(*id)) {
        changes.push(format!("{id}: expected a verdict, the case gave none"));
    }
    assert!(
        changes.is_empty(),
        "limbo verdicts changed (LIMBO_BLESS=1 rewrites the expectations after a deliberate change):\n{}",
        changes.join("\n")
    );
    // Every disagreement with limbo is a documented choice.
    let cases_by_id: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let undocumented: Vec<&String> = expected
        .iter()
        .filter(|(id, (v, note))| {
            let case = cases_by_id[id.as_str()];
            v.outcome != "no_chain" && v.valid() != case.expected_valid && note.trim().is_empty()
        })
        .map(|(id, _)| id)
        .collect();
    assert!(
        undocumented.is_empty(),
        "disagreements with limbo without a note in expectations.tsv: {undocumented:?}"
    );
    let doc = std::fs::read_to_string(docs_path()).expect("docs/limbo.md");
    assert_eq!(
        replace_table(&doc, &table).as_deref(),
        Some(doc.as_str()),
        "docs/limbo.md's table is out of date (LIMBO_BLESS=1 rewrites it)"
    );
}
