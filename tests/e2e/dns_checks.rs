//! The CAA check against real name servers: an authoritative knotd serving the test zone
//! `test.` on a loopback port, and a recursive unbound in front of it, both started here with
//! their state in a temp dir; the exporter asks unbound, named in its configuration
//! (`dns.name_servers`).
//!
//! knotd signs `test.` itself (DNSSEC, ECDSA P-256) and unbound validates it, with the zone's
//! key as its trust anchor: the CAA and DANE checks run over a validating resolver, as in
//! production. unbound stubs `broken.` to knotd too, which does not serve it and refuses:
//! unbound answers SERVFAIL, as for any zone whose servers fail.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;

use crate::support::pki::{Ca, Leaf, LeafSpec};
use crate::support::ports::free_udp_and_tcp_port;
use crate::support::process::{require, Daemon};
use crate::support::tls_server;
use crate::support::wait::probed_twice;
use crate::support::{write, Harness};

/// The test zone, `test.`; every CAA case has a name of its own.
const ZONE: &str = "$ORIGIN test.\n$TTL 60\n\
@ IN SOA ns.test. hostmaster.test. 1 3600 900 86400 60\n\
@ IN NS ns.test.\n\
ns IN A 127.0.0.1\n\
allowed IN CAA 0 issue \"ca.example\"\n\
allowed IN CAA 0 iodef \"mailto:caa@example.com\"\n\
allowed IN CAA 0 issue \"other-ca.example\"\n\
parent IN CAA 0 issue \"other-ca.example\"\n\
account IN CAA 0 issue \"ca.example; accounturi=https://ca.example/acct/1\"\n\
forbidden IN CAA 0 issue \"other-ca.example\"\n\
forbidden IN CAA 128 issuewild \";\"\n\
alias IN CNAME target.elsewhere\n\
target.elsewhere IN CAA 0 issue \"ca.example\"\n\
wild IN CAA 0 issue \"ca.example\"\n\
wild IN CAA 0 issuewild \"other-ca.example\"\n\
critical IN CAA 128 tbs \"unknown\"\n\
critical IN CAA 0 issue \"ca.example\"\n";

/// knotd and unbound, stopped on drop.
pub(crate) struct NameServers {
    /// Where unbound answers: what the exporter asks.
    pub(crate) resolver: SocketAddr,
    _unbound: Daemon,
    _knot: Daemon,
    _dir: tempfile::TempDir,
}

/// The zones knotd serves besides [`ZONE`]: records added to `test.`, the unsigned zone
/// `plain.` and the zone `bogus.`, signed, whose key unbound is given wrong.
#[derive(Default)]
pub(crate) struct Zones {
    pub(crate) test: String,
    pub(crate) plain: String,
    pub(crate) bogus: String,
}

/// A zone file for `origin` with an SOA, an NS and `records`.
fn zone(origin: &str, records: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 60\n@ IN SOA ns.test. hostmaster.test. 1 3600 900 86400 60\n\
         @ IN NS ns.test.\n{records}"
    )
}

/// The KSK of `zone` as knotd serves it once signed (`257 3 13 <key>`), asked with kdig.
fn ksk(kdig: &Path, knot: SocketAddr, zone: &str) -> String {
    for _ in 0..100 {
        let out = Command::new(kdig)
            .args([&format!("@{}", knot.ip()), "-p", &knot.port().to_string()])
            .args(["+short", "DNSKEY", zone])
            .output()
            .expect("kdig");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(line) = text.lines().find(|l| l.starts_with("257 ")) {
            return line.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("knotd did not serve a signed DNSKEY set for {zone}");
}

/// knotd serving `test.` (DNSSEC-signed by knotd: ECDSA P-256 keys of its own in the temp dir),
/// `plain.` (unsigned) and `bogus.` (signed); unbound validating, with test.'s KSK as the trust
/// anchor of `test.` and, to make `bogus.` fail validation, of `bogus.` too.
pub(crate) fn start_name_servers(zones: &Zones) -> NameServers {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    write(dir.path(), "test.zone", &format!("{ZONE}{}", zones.test));
    write(dir.path(), "plain.zone", &zone("plain", &zones.plain));
    write(dir.path(), "bogus.zone", &zone("bogus", &zones.bogus));
    let knot_port = free_udp_and_tcp_port();
    let knot_conf = write(
        dir.path(),
        "knot.conf",
        &format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{knot_port}\n\
             database:\n    storage: \"{d}\"\nlog:\n  - target: stderr\n    any: info\n\
             policy:\n  - id: test\n    algorithm: ecdsap256sha256\n    ksk-lifetime: 0\n    zsk-lifetime: 0\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n\
             zone:\n  - domain: test.\n    file: \"{d}/test.zone\"\n    dnssec-signing: on\n    dnssec-policy: test\n\
             \x20 - domain: plain.\n    file: \"{d}/plain.zone\"\n\
             \x20 - domain: bogus.\n    file: \"{d}/bogus.zone\"\n    dnssec-signing: on\n    dnssec-policy: test\n"
        ),
    );
    let mut command = Command::new(require("knotd", "knot"));
    command.arg("-c").arg(&knot_conf);
    let mut knot = Daemon::spawn("knotd", command, &dir.path().join("knot.log"));
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    knot.wait_listening(knot_addr);
    let kdig = require("kdig", "knot-dnsutils");
    let anchor = ksk(&kdig, knot_addr, "test.");
    // bogus. is signed with keys of its own: test.'s key as its anchor makes it bogus.
    ksk(&kdig, knot_addr, "bogus.");

    let port = free_udp_and_tcp_port();
    let mut stubs = String::new();
    for name in ["test.", "broken.", "plain.", "bogus."] {
        stubs += &format!("stub-zone:\n  name: \"{name}\"\n  stub-addr: 127.0.0.1@{knot_port}\n");
    }
    let unbound_conf = write(
        dir.path(),
        "unbound.conf",
        &format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  do-not-query-localhost: no\n  \
             module-config: \"validator iterator\"\n  local-zone: \"test.\" nodefault\n  \
             trust-anchor: \"test. DNSKEY {anchor}\"\n  trust-anchor: \"bogus. DNSKEY {anchor}\"\n\
             {stubs}remote-control:\n  control-enable: no\n"
        ),
    );
    let mut command = Command::new(require("unbound", "unbound"));
    command.arg("-c").arg(&unbound_conf);
    let mut unbound = Daemon::spawn("unbound", command, &dir.path().join("unbound.log"));
    let resolver = SocketAddr::from(([127, 0, 0, 1], port));
    unbound.wait_listening(resolver);
    NameServers {
        resolver,
        _unbound: unbound,
        _knot: knot,
        _dir: dir,
    }
}

/// A target block for `server_name` on `port`, with `extra` lines.
fn target(name: &str, port: u16, server_name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    address: 127.0.0.1:{port}\n    server_name: {server_name}\n    caa: true\n{extra}"
    )
}

/// The exporter's configuration: asking `name_server` (`dns.name_servers`), `targets`.
pub(crate) fn config(name_server: SocketAddr, ca: &Path, targets: &str) -> String {
    format!(
        "dns:\n  name_servers: [\"{name_server}\"]\ndefaults:\n  interval: 1s\n  timeout: 5s\n  ca_file: {}\n  legacy_protocols: false\n  \
         revocation: {{ocsp: false, crl: false}}\ntargets:\n{targets}",
        ca.display()
    )
}

#[tokio::test]
async fn caa_records_allow_or_refuse_the_leafs_ca_without_touching_the_tls_verdict() {
    let dns = start_name_servers(&Zones::default());
    let root = Ca::root("CAA Test Root");
    let names = [
        "allowed.test",
        "www.parent.test",
        "account.test",
        "forbidden.test",
        "nocaa.test",
        "alias.test",
        "*.wild.test",
        "critical.test",
        "x.broken",
    ];
    let leaf = root.leaf(&LeafSpec::new("allowed.test", 90).names(&names));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let port = server.addr.port();
    let id = "    caa_identity: ca.example\n";
    let targets = [
        target("allowed", port, "allowed.test", id),
        target("parent", port, "www.parent.test", id),
        target("account", port, "account.test", id),
        target("forbidden", port, "forbidden.test", id),
        target("nocaa", port, "nocaa.test", id),
        target("alias", port, "alias.test", id),
        target("wild", port, "www.wild.test", id),
        target("critical", port, "critical.test", id),
        target("servfail", port, "x.broken", id),
        // The test CA's organisation is in no table: where CAA restricts, there is no answer.
        target("unknown", port, "allowed.test", ""),
        // ... where nothing restricts, none is needed.
        target("unknown_nocaa", port, "nocaa.test", ""),
        // Off: no series.
        "  - name: off\n    address: 127.0.0.1:{port}\n    server_name: allowed.test\n"
            .replace("{port}", &port.to_string()),
    ]
    .concat();
    let yaml = config(dns.resolver, &dir.path().join("ca.pem"), &targets);
    let h = Harness::start_in(dir, &yaml).await;
    let all = [
        "allowed",
        "parent",
        "account",
        "forbidden",
        "nocaa",
        "alias",
        "wild",
        "critical",
        "servfail",
        "unknown",
        "unknown_nocaa",
        "off",
    ];
    let m = probed_twice(&h, &all, Duration::from_secs(60)).await;
    let allowed = |t: &str| m.get("cert_caa_issuer_allowed", &[("target", t)]);
    let error =
        |t: &str, reason: &str| m.get("cert_caa_error_info", &[("target", t), ("reason", reason)]);
    // One of two issue properties names the CA.
    assert_eq!(allowed("allowed"), Some(1.0), "{}", m.text);
    // www.parent.test has no CAA set: parent.test's is the relevant one, and names another CA.
    assert_eq!(allowed("parent"), Some(0.0), "{}", m.text);
    // Parameters (an RFC 8657 account binding) do not hide the issuer domain.
    assert_eq!(allowed("account"), Some(1.0), "{}", m.text);
    // Other CAs only; the critical issuewild ";" does not matter for a plain name.
    assert_eq!(allowed("forbidden"), Some(0.0), "{}", m.text);
    // No CAA from nocaa.test up to test.: every CA may issue.
    assert_eq!(allowed("nocaa"), Some(1.0), "{}", m.text);
    // The alias's target has the set.
    assert_eq!(allowed("alias"), Some(1.0), "{}", m.text);
    // The leaf covers www.wild.test by *.wild.test: issuewild names another CA.
    assert_eq!(allowed("wild"), Some(0.0), "{}", m.text);
    // An unknown critical property forbids every CA.
    assert_eq!(allowed("critical"), Some(0.0), "{}", m.text);
    assert_eq!(allowed("servfail"), None, "{}", m.text);
    assert_eq!(error("servfail", "dns_servfail"), Some(1.0), "{}", m.text);
    assert_eq!(allowed("unknown"), None, "{}", m.text);
    assert_eq!(
        error("unknown", "unknown_identity"),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(allowed("unknown_nocaa"), Some(1.0), "{}", m.text);
    assert_eq!(allowed("off"), None, "{}", m.text);
    assert!(!m.text.contains("target=\"off\",reason"), "{}", m.text);
    for t in all {
        // Never part of the TLS verdict.
        assert_eq!(
            m.value("cert_chain_valid", &[("target", t)]),
            1.0,
            "{t}: {}",
            m.text
        );
        assert_eq!(m.value("cert_probe_success", &[("target", t)]), 1.0);
    }
    h.stop().await;
}

/// A resolver that never answers: the lookups' own timeout is the reason (CAA and DANE), not
/// the probe's.
#[tokio::test]
async fn a_silent_name_server_is_a_timeout_reason_and_the_probe_still_succeeds() {
    // A bound UDP socket that never answers (no real server can be made to stay silent).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let root = Ca::root("CAA Timeout Root");
    let leaf = root.leaf(&LeafSpec::new("allowed.test", 90));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let yaml = config(
        silent.local_addr().unwrap(),
        &dir.path().join("ca.pem"),
        &[
            target("t", server.addr.port(), "allowed.test", ""),
            dane_target("d", server.addr.port(), "allowed.test"),
        ]
        .concat(),
    )
    .replace("timeout: 5s", "timeout: 10s");
    let h = Harness::start_in(dir, &yaml).await;
    let m = h
        .wait_until(Duration::from_secs(60), |m| {
            m.get(
                "cert_caa_error_info",
                &[("target", "t"), ("reason", "dns_timeout")],
            )
            .is_some()
                && m.get(
                    "cert_dane_error_info",
                    &[("target", "d"), ("reason", "dns_timeout")],
                )
                .is_some()
        })
        .await;
    assert_eq!(m.get("cert_dane_match", &[("target", "d")]), None);
    assert_eq!(m.value("cert_probe_success", &[("target", "d")]), 1.0);
    assert_eq!(m.value("cert_chain_valid", &[("target", "d")]), 1.0);
    assert_eq!(m.get("cert_caa_issuer_allowed", &[("target", "t")]), None);
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 1.0);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    h.stop().await;
}

/// `check` reads `dns.name_servers` too, and says what to add, with exit status 1 (attention):
/// the chain is fine, the next renewal is not.
#[tokio::test]
async fn check_names_the_refusing_record_set_and_the_record_to_add() {
    let dns = start_name_servers(&Zones::default());
    let root = Ca::root("CAA Check Root");
    let leaf = root
        .leaf(&LeafSpec::new("www.parent.test", 90).names(&["www.parent.test", "allowed.test"]));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let port = server.addr.port();
    let id = "    caa_identity: ca.example\n";
    let yaml = config(
        dns.resolver,
        &dir.path().join("ca.pem"),
        &[
            target("parent", port, "www.parent.test", id),
            target("allowed", port, "allowed.test", id),
        ]
        .concat(),
    );
    let path = write(dir.path(), "config.yaml", &yaml);
    let path = path.display().to_string();
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &path, "parent"]).await;
    assert_eq!(code, 1, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    let caa = findings
        .iter()
        .find(|f| f["code"] == "caa_refused")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(
        caa["message"].as_str().unwrap().contains("parent.test"),
        "{doc:#}"
    );
    assert!(
        caa["advice"]
            .as_str()
            .unwrap()
            .contains("parent.test. CAA 0 issue \"ca.example\""),
        "{doc:#}"
    );
    let (code, doc) =
        crate::support::binary::check_json(&["--config.file", &path, "allowed"]).await;
    assert_eq!(code, 0, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["code"] == "caa_allowed"),
        "{doc:#}"
    );
}

/// A `dane: true` target block for `server_name` on `port`.
fn dane_target(name: &str, port: u16, server_name: &str) -> String {
    format!(
        "  - name: {name}\n    address: 127.0.0.1:{port}\n    server_name: {server_name}\n    dane: true\n"
    )
}

/// The TLSA association data of `der` as `openssl` computes it (an oracle apart from the
/// exporter's code): the SHA-256 or SHA-512 (`digest`) of the certificate, or of its
/// SubjectPublicKeyInfo (`spki`), in hex.
pub(crate) fn openssl_digest(dir: &Path, der: &[u8], spki: bool, digest: &str) -> String {
    let pem = write(
        dir,
        "digest-input.pem",
        &crate::support::pki::pem_of(&rustls::pki_types::CertificateDer::from(der.to_vec())),
    );
    let select = if spki {
        "openssl x509 -noout -pubkey -in \"$1\" | openssl pkey -pubin -outform DER"
    } else {
        "openssl x509 -outform DER -in \"$1\""
    };
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{select} | openssl dgst -{digest} -r"))
        .arg("sh")
        .arg(&pem)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.split_whitespace().next().unwrap().to_string();
    assert_eq!(hex.len(), if digest == "sha256" { 64 } else { 128 });
    hex
}

/// A TLS server whose certificate can be replaced while it runs, as a renewal does: the same
/// name, the same port, a new leaf with a new key.
struct Renewable {
    server: crate::support::server::Server,
    slot: Arc<Slot>,
}

#[derive(Debug)]
struct Slot(Mutex<Arc<CertifiedKey>>);

impl rustls::server::ResolvesServerCert for Slot {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.lock().unwrap().clone())
    }
}

fn certified(chain: Vec<CertificateDer<'static>>, leaf: &Leaf) -> Arc<CertifiedKey> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let key = provider
        .key_provider
        .load_private_key(leaf.private_key())
        .unwrap();
    Arc::new(CertifiedKey::new(chain, key))
}

impl Renewable {
    async fn serve(chain: Vec<CertificateDer<'static>>, leaf: &Leaf) -> Renewable {
        let slot = Arc::new(Slot(Mutex::new(certified(chain, leaf))));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(slot.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let server = crate::support::server::Server::raw(move |stream| {
            let acceptor = acceptor.clone();
            async move { tls_server::greet(&acceptor, stream).await }
        })
        .await;
        Renewable { server, slot }
    }

    fn renew(&self, chain: Vec<CertificateDer<'static>>, leaf: &Leaf) {
        *self.slot.0.lock().unwrap() = certified(chain, leaf);
    }
}

/// DANE against knotd and a validating unbound: DANE-EE and DANE-TA records with each selector
/// and matching type, a renewal that breaks the match, PKIX and foreign records, an unsigned
/// zone, a bogus one, no records, and an answer too big for UDP; never the TLS verdict.
#[tokio::test]
async fn tlsa_records_match_the_served_chain_and_say_whether_dnssec_validated_them() {
    let root = Ca::root("DANE Test Root");
    let names = [
        "ee.test",
        "ta.test",
        "ta2.test",
        "renew.test",
        "mixed.test",
        "big.test",
        "none.test",
        "empty.test",
        "ee.plain",
        "ee.bogus",
    ];
    let spec = LeafSpec::new("ee.test", 90).names(&names);
    let leaf = root.leaf(&spec);
    // The renewed leaf: same names, a new key.
    let renewed = root.leaf(&spec);
    let other = root.leaf(&spec);
    let served = vec![leaf.der.clone(), root.der.clone()];
    let server = tls_server::tls(
        served.clone(),
        leaf.private_key(),
        tls_server::TlsOptions::default(),
    )
    .await;
    let renewable = Renewable::serve(served.clone(), &leaf).await;
    let dir = root.in_temp_dir();
    let d = dir.path();
    let leaf_spki = openssl_digest(d, &leaf.der, true, "sha256");
    let renewed_spki = openssl_digest(d, &renewed.der, true, "sha256");
    let root_cert = openssl_digest(d, &root.der, false, "sha256");
    let root_spki512 = openssl_digest(d, &root.der, true, "sha512");
    let (p, rp) = (server.addr.port(), renewable.server.addr.port());
    let full = |der: &[u8]| hex::encode(der);
    let zones = Zones {
        test: format!(
            "_{p}._tcp.ee IN TLSA 3 1 1 {leaf_spki}\n\
             _{p}._tcp.ta IN TLSA 2 0 1 {root_cert}\n\
             _{p}._tcp.ta2 IN TLSA 2 1 2 {root_spki512}\n\
             _{rp}._tcp.renew IN TLSA 3 1 1 {leaf_spki}\n\
             _{p}._tcp.mixed IN TLSA 1 1 1 {leaf_spki}\n\
             _{p}._tcp.mixed IN TLSA 3 1 1 {renewed_spki}\n\
             _{p}._tcp.big IN TLSA 3 0 0 {}\n\
             _{p}._tcp.big IN TLSA 3 0 0 {}\n\
             _{p}._tcp.big IN TLSA 3 0 0 {}\n\
             _{p}._tcp.big IN TLSA 2 0 0 {}\n\
             _{p}._tcp.empty IN TXT \"no TLSA here\"\n",
            full(&other.der),
            full(&renewed.der),
            full(&leaf.der),
            full(&root.der),
        ),
        plain: format!("_{p}._tcp.ee IN TLSA 3 1 1 {leaf_spki}\n"),
        bogus: format!("_{p}._tcp.ee IN TLSA 3 1 1 {leaf_spki}\n"),
    };
    let dns = start_name_servers(&zones);
    let cases = [
        ("ee", p, "ee.test"),
        ("ta", p, "ta.test"),
        ("ta2", p, "ta2.test"),
        ("renew", rp, "renew.test"),
        ("mixed", p, "mixed.test"),
        ("big", p, "big.test"),
        ("none", p, "none.test"),
        ("empty", p, "empty.test"),
        ("plain", p, "ee.plain"),
        ("bogus", p, "ee.bogus"),
    ];
    let mut targets: String = cases
        .iter()
        .map(|(n, port, s)| dane_target(n, *port, s))
        .collect();
    targets += &format!("  - name: off\n    address: 127.0.0.1:{p}\n    server_name: ee.test\n");
    let yaml = config(dns.resolver, &d.join("ca.pem"), &targets);
    let h = Harness::start_in(dir, &yaml).await;
    let mut all: Vec<&str> = cases.iter().map(|c| c.0).collect();
    all.push("off");
    let m = probed_twice(&h, &all, Duration::from_secs(60)).await;
    let matched = |t: &str| m.get("cert_dane_match", &[("target", t)]);
    let validated = |t: &str| m.get("cert_dane_dnssec_validated", &[("target", t)]);
    let records =
        |t: &str, usable: &str| m.get("cert_dane_records", &[("target", t), ("usable", usable)]);
    for t in ["ee", "ta", "ta2", "renew", "big"] {
        assert_eq!(matched(t), Some(1.0), "{t}: {}", m.text);
        assert_eq!(validated(t), Some(1.0), "{t}: {}", m.text);
    }
    // A PKIX-EE record of the served key is unusable; the DANE-EE one names another key.
    assert_eq!(matched("mixed"), Some(0.0), "{}", m.text);
    assert_eq!(records("mixed", "true"), Some(1.0), "{}", m.text);
    assert_eq!(records("mixed", "false"), Some(1.0), "{}", m.text);
    // Four full certificates: more than a 1232-byte UDP answer, so asked again over TCP.
    assert_eq!(records("big", "true"), Some(4.0), "{}", m.text);
    // Unsigned: found and matching, and not validated.
    assert_eq!(matched("plain"), Some(1.0), "{}", m.text);
    assert_eq!(validated("plain"), Some(0.0), "{}", m.text);
    let error = |t: &str| m.reasons("cert_dane_error_info", t);
    assert_eq!(error("bogus"), ["dns_servfail"], "{}", m.text);
    assert_eq!(error("none"), ["dns_nxdomain"], "{}", m.text);
    assert_eq!(error("empty"), ["no_records"], "{}", m.text);
    for t in ["bogus", "none", "empty"] {
        assert_eq!(matched(t), None, "{t}: {}", m.text);
    }
    for t in ["ee", "ta", "renew", "plain"] {
        assert!(error(t).is_empty(), "{t}: {}", m.text);
    }
    assert!(!m.text.contains("target=\"off\",usable"), "{}", m.text);
    assert_eq!(matched("off"), None, "{}", m.text);
    for t in &all {
        // Never part of the TLS verdict.
        assert_eq!(
            m.value("cert_chain_valid", &[("target", t)]),
            1.0,
            "{t}: {}",
            m.text
        );
        assert_eq!(m.value("cert_probe_success", &[("target", t)]), 1.0, "{t}");
    }

    // The renewal: a new key under the same name, the TLSA record not updated.
    renewable.renew(vec![renewed.der.clone(), root.der.clone()], &renewed);
    let m = h
        .wait_until(Duration::from_secs(60), |m| {
            m.get("cert_dane_match", &[("target", "renew")]) == Some(0.0)
        })
        .await;
    assert_eq!(
        m.get("cert_dane_dnssec_validated", &[("target", "renew")]),
        Some(1.0)
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "renew")]), 1.0);
    let path = h.config_path.display().to_string();

    // `check` calls the mismatch broken (validating clients refuse it) and prints the record
    // to publish: the renewed leaf's key, as openssl computes it.
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &path, "renew"]).await;
    assert_eq!(code, 2, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    let dane = findings
        .iter()
        .find(|f| f["code"] == "dane_mismatch")
        .unwrap_or_else(|| panic!("{doc:#}"));
    let advice = dane["advice"].as_str().unwrap();
    assert!(
        advice.contains(&format!(
            "_{rp}._tcp.renew.test. IN TLSA 3 1 1 {renewed_spki}"
        )),
        "{doc:#}"
    );
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &path, "plain"]).await;
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        doc["results"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "dane_unsigned"),
        "{doc:#}"
    );
    h.stop().await;
}

/// A resolver that answers wrongly, as no real one can be made to: a datagram that does not
/// decode, an answer to another question, and a stray answer with another id before the real
/// one. Each is told by the name asked; the first two are `dns_malformed`, the stray answer is
/// skipped and the real (empty) one read. A closed port is asked first, and passed over.
#[tokio::test]
async fn answers_that_do_not_answer_the_query_are_malformed_and_strays_are_skipped() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resolver = socket.local_addr().unwrap();
    let _task = crate::support::server::Task::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let query = &buf[..n];
            // The query echoed as an answer: QR set, NOERROR, no records.
            let mut echo = query.to_vec();
            echo[2] |= 0x80;
            let contains = |word: &[u8]| query.windows(word.len()).any(|w| w == word);
            if contains(b"garbage") {
                let _ = socket
                    .send_to(&[query[0], query[1], 0x81, 0x80, 0xff], from)
                    .await;
            } else if contains(b"other") {
                // One letter of the name changed: an answer to another question.
                let at = query.windows(5).position(|w| w == b"other").unwrap();
                echo[at] = b'x';
                let _ = socket.send_to(&echo, from).await;
            } else {
                // Another id, and another question: read, it would be malformed.
                let mut stray = echo.clone();
                stray[1] ^= 0x01;
                let at = query.windows(5).position(|w| w == b"stray").unwrap();
                stray[at] = b'x';
                let _ = socket.send_to(&stray, from).await;
                let _ = socket.send_to(&echo, from).await;
            }
        }
    });
    let root = Ca::root("DANE Malformed Root");
    let leaf = root.leaf(&LeafSpec::new("garbage.test", 90).names(&[
        "garbage.test",
        "other.test",
        "stray.test",
    ]));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let port = server.addr.port();
    let yaml = config(
        resolver,
        &dir.path().join("ca.pem"),
        &[
            dane_target("garbage", port, "garbage.test"),
            dane_target("other", port, "other.test"),
            dane_target("stray", port, "stray.test"),
        ]
        .concat(),
    );
    // A closed port first (the kernel refuses the datagram): the lookup moves on to the next
    // server, and its failure is the more telling one.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let yaml = yaml.replace(
        &format!("name_servers: [\"{resolver}\"]"),
        &format!("name_servers: [\"{closed}\", \"{resolver}\"]"),
    );
    assert!(yaml.contains(&closed.to_string()), "{yaml}");
    let h = Harness::start_in(dir, &yaml).await;
    let m = probed_twice(&h, &["garbage", "other", "stray"], Duration::from_secs(60)).await;
    let error = |t: &str| m.reasons("cert_dane_error_info", t);
    assert_eq!(error("garbage"), ["dns_malformed"], "{}", m.text);
    assert_eq!(error("other"), ["dns_malformed"], "{}", m.text);
    assert_eq!(error("stray"), ["no_records"], "{}", m.text);
    for t in ["garbage", "other", "stray"] {
        assert_eq!(m.value("cert_chain_valid", &[("target", t)]), 1.0, "{t}");
    }
    h.stop().await;
}
