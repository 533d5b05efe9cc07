//! Issue 4's file targets: certificate files on disk, read by the real exporter and asserted on
//! the scraped `/metrics`. PKCS#12 files are made with Debian's `openssl pkcs12 -export`, as
//! operators make them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use time::OffsetDateTime;

use crate::support::openssl;
use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::{write, Harness, Metrics};

const WAIT: Duration = Duration::from_secs(20);

/// A self-signed CA valid for `days` more days.
fn ca_expiring(cn: &str, days: i64) -> String {
    ca_valid(cn, -1, days)
}

/// A self-signed CA valid from `from` to `to` days from now (both negative: lapsed).
fn ca_valid(cn: &str, from: i64, to: i64) -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let now = OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(to);
    let key = KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Every sample of one file of target `t`.
fn of_file<'a>(m: &'a Metrics, name: &str, file: &str) -> Vec<&'a crate::support::Sample> {
    m.find(name, &[("target", "t"), ("file", file)])
}

/// The value for one file of target `t`.
fn file_value(m: &Metrics, name: &str, file: &str, extra: &[(&str, &str)]) -> f64 {
    let mut labels = vec![("target", "t"), ("file", file)];
    labels.extend_from_slice(extra);
    m.value(name, &labels)
}

/// The probe failure reasons of one file of target `t`.
fn file_reasons(m: &Metrics, file: &str) -> Vec<String> {
    of_file(m, "cert_probe_error_info", file)
        .iter()
        .filter_map(|s| s.labels.get("reason").cloned())
        .collect()
}

fn has_any_series(m: &Metrics, file: &str) -> bool {
    m.samples
        .iter()
        .any(|s| s.labels.get("file").map(String::as_str) == Some(file))
}

/// The directory of every case: a root as `ca_file`, and under `certs/` one file per format
/// and per way a file can be wrong.
struct Tree {
    dir: tempfile::TempDir,
    certs: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(certs.join("deep/er")).expect("mkdir");
        let root = Ca::root("Files Root");
        let inter = root.intermediate("Files Intermediate");
        write(dir.path(), "ca.pem", &root.pem());

        // A PEM chain: leaf + intermediate, trusted through ca_file.
        let leaf = inter.leaf(&LeafSpec::new("chain.test", 30));
        write(
            &certs,
            "chain.pem",
            &(pki::pem_of(&leaf.der) + &inter.pem()),
        );
        // A PEM bundle of two unrelated CAs, the earlier one expiring in 20 days.
        write(
            &certs,
            "bundle.pem",
            &(ca_expiring("Bundle A", 400) + &ca_expiring("Bundle B", 20)),
        );
        // DER: one leaf signed by the root itself.
        let der_leaf = root.leaf(&LeafSpec::new("der.test", 60));
        std::fs::write(certs.join("leaf.der"), der_leaf.der.as_ref()).expect("der");
        // PKCS#12 made by openssl from a leaf, its key and the intermediate.
        let p12_leaf = inter.leaf(&LeafSpec::new("p12.test", 90));
        write(dir.path(), "p12-leaf.pem", &pki::pem_of(&p12_leaf.der));
        write(dir.path(), "p12-key.pem", &p12_leaf.key.serialize_pem());
        write(dir.path(), "inter.pem", &inter.pem());
        write(dir.path(), "p12-password", "correct horse\n");
        write(dir.path(), "wrong-password", "battery staple\n");
        openssl::run_blocking(
            dir.path(),
            &[
                "pkcs12",
                "-export",
                "-in",
                "p12-leaf.pem",
                "-inkey",
                "p12-key.pem",
                "-certfile",
                "inter.pem",
                "-passout",
                "file:p12-password",
                "-out",
                "certs/keystore.p12",
            ],
        );
        // Found only through `**`.
        write(
            &certs.join("deep/er"),
            "nested.pem",
            &ca_expiring("Nested", 100),
        );
        // Wrong in every way a file can be.
        write(&certs, "empty.pem", "");
        write(&certs, "garbage.pem", "this is not a certificate\n");
        std::fs::create_dir(certs.join("directory.pem")).expect("mkdir");
        mkfifo(&certs.join("fifo.pem"));
        std::os::unix::fs::symlink("self-loop.pem", certs.join("self-loop.pem")).expect("link");
        std::os::unix::fs::symlink(&certs, certs.join("deep/loop")).expect("link");
        let big = std::fs::File::create(certs.join("big.pem")).expect("big");
        big.set_len(11 * 1024 * 1024).expect("sparse"); // over the 10 MiB cap, nothing written
        Tree { dir, certs }
    }
}

#[tokio::test]
async fn every_file_of_a_glob_is_reported_with_its_own_labels() {
    let tree = Tree::new();
    let certs = tree.certs.clone();
    let t = |name: &str| p(&certs.join(name));
    let (chain, bundle, der, p12, nested) = (
        t("chain.pem"),
        t("bundle.pem"),
        t("leaf.der"),
        t("keystore.p12"),
        t("deep/er/nested.pem"),
    );
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\n  ca_file: {dir}/ca.pem\ntargets:\n  - name: t\n    path: {dir}/certs/**/*\n    password_file: {dir}/p12-password\n    labels: {team: pki}\n";
    let h = Harness::start_in(tree.dir, yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            !m.find("cert_probe_timestamp_seconds", &[("target", "t")])
                .is_empty()
        })
        .await;

    // The PEM chain is judged as a chain: valid, both positions, expiry from the leaf.
    assert_eq!(file_value(&m, "cert_probe_success", &chain, &[]), 1.0);
    assert_eq!(file_value(&m, "cert_chain_valid", &chain, &[]), 1.0);
    assert!(file_reasons(&m, &chain).is_empty(), "{}", m.text);
    assert!(of_file(&m, "cert_chain_error_info", &chain).is_empty());
    let days = file_value(&m, "cert_days_to_expiry", &chain, &[]);
    assert!((29.9..30.1).contains(&days), "days {days}");
    let leaf_info = of_file(&m, "cert_info", &chain);
    assert_eq!(leaf_info.len(), 2, "{leaf_info:?}");
    let leaf = m.find("cert_info", &[("file", chain.as_str()), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=chain.test");
    assert_eq!(leaf[0].labels["team"], "pki");
    let inter = m.find("cert_info", &[("file", chain.as_str()), ("position", "1")]);
    assert!(inter[0].labels["subject"].contains("Files Intermediate"));
    for phase in ["read", "total"] {
        file_value(
            &m,
            "cert_probe_duration_seconds",
            &chain,
            &[("phase", phase)],
        );
    }
    // A file has no server: no TLS series, no client-certificate question.
    assert!(of_file(&m, "cert_tls_version_info", &chain).is_empty());
    assert!(of_file(&m, "cert_client_cert_requested", &chain).is_empty());

    // The bundle reports every certificate's facts, no verdict, and its earliest expiry.
    assert_eq!(file_value(&m, "cert_probe_success", &bundle, &[]), 1.0);
    assert!(
        of_file(&m, "cert_chain_valid", &bundle).is_empty(),
        "{}",
        m.text
    );
    assert!(of_file(&m, "cert_chain_error_info", &bundle).is_empty());
    let b = file_value(
        &m,
        "cert_not_after_timestamp_seconds",
        &bundle,
        &[("position", "1")],
    );
    let a = file_value(
        &m,
        "cert_not_after_timestamp_seconds",
        &bundle,
        &[("position", "0")],
    );
    assert!(b < a);
    assert_eq!(
        file_value(&m, "cert_expiry_timestamp_seconds", &bundle, &[]),
        b
    );
    let days = file_value(&m, "cert_days_to_expiry", &bundle, &[]);
    assert!((19.9..20.1).contains(&days), "days {days}");
    let second = m.find("cert_info", &[("file", bundle.as_str()), ("position", "1")]);
    assert_eq!(second[0].labels["subject"], "CN=Bundle B");

    // DER: a leaf alone, trusted through ca_file.
    assert_eq!(file_value(&m, "cert_chain_valid", &der, &[]), 1.0);
    let der_leaf = m.find("cert_info", &[("file", der.as_str()), ("position", "0")]);
    assert_eq!(der_leaf[0].labels["subject"], "CN=der.test");

    // PKCS#12 from openssl: the keyed leaf first, then the intermediate; a valid chain.
    assert_eq!(
        file_value(&m, "cert_chain_valid", &p12, &[]),
        1.0,
        "{}",
        m.text
    );
    let p12_leaf = m.find("cert_info", &[("file", p12.as_str()), ("position", "0")]);
    assert_eq!(p12_leaf[0].labels["subject"], "CN=p12.test");
    assert!(!m
        .find("cert_info", &[("file", p12.as_str()), ("position", "1")])
        .is_empty());
    let days = file_value(&m, "cert_days_to_expiry", &p12, &[]);
    assert!((89.9..90.1).contains(&days), "days {days}");

    // `**` finds the nested file; the symlink loop under deep/ did not hang the walk.
    assert_eq!(file_value(&m, "cert_probe_success", &nested, &[]), 1.0);

    // Each broken file has its reason, and no certificate series.
    for (name, reason) in [
        ("empty.pem", "file_no_certificate"),
        ("garbage.pem", "file_malformed"),
        ("fifo.pem", "file_unreadable"),
        ("self-loop.pem", "file_unreadable"),
        ("big.pem", "file_too_large"),
    ] {
        let file = t(name);
        assert_eq!(file_reasons(&m, &file), [reason], "{name}:\n{}", m.text);
        assert_eq!(file_value(&m, "cert_probe_success", &file, &[]), 0.0);
        assert!(of_file(&m, "cert_info", &file).is_empty(), "{name}");
    }
    // The directory the glob matched is skipped, and so are deep/ and deep/er/.
    assert!(!has_any_series(&m, &t("directory.pem")), "{}", m.text);
    assert!(!has_any_series(&m, &t("deep")), "{}", m.text);
    // Every file was found, and nothing else: no result without a file label.
    let files: std::collections::BTreeSet<&str> = m
        .find("cert_probe_success", &[("target", "t")])
        .iter()
        .map(|s| s.labels.get("file").map(String::as_str).unwrap_or("<none>"))
        .collect();
    let expected: std::collections::BTreeSet<String> = [
        "big.pem",
        "bundle.pem",
        "chain.pem",
        "deep/er/nested.pem",
        "empty.pem",
        "fifo.pem",
        "garbage.pem",
        "keystore.p12",
        "leaf.der",
        "self-loop.pem",
    ]
    .into_iter()
    .map(t)
    .collect();
    let expected: std::collections::BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(files, expected);
    h.stop().await;
}

#[tokio::test]
async fn files_that_come_and_go_between_probes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("mkdir");
    write(&certs, "old.pem", &ca_expiring("Old", 10));
    write(&certs, "kept.pem", &ca_expiring("Kept", 10));
    let (old, kept, new) = (
        p(&certs.join("old.pem")),
        p(&certs.join("kept.pem")),
        p(&certs.join("new.pem")),
    );
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/certs/*.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    h.wait_until(WAIT, |m| {
        has_any_series(m, &old) && has_any_series(m, &kept)
    })
    .await;

    std::fs::remove_file(&old).expect("remove");
    write(&certs, "new.pem", &ca_expiring("New", 10));
    let m = h
        .wait_until(WAIT, |m| {
            !has_any_series(m, &old) && has_any_series(m, &new)
        })
        .await;
    assert_eq!(file_value(&m, "cert_probe_success", &new, &[]), 1.0);
    assert_eq!(file_value(&m, "cert_probe_success", &kept, &[]), 1.0);
    let subject = m.find("cert_info", &[("file", new.as_str())]);
    assert_eq!(subject[0].labels["subject"], "CN=New");
    h.stop().await;
}

#[tokio::test]
async fn a_glob_matching_nothing_is_one_unlabelled_file_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("only-a-directory.pem")).expect("mkdir");
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/*.pem\n  - name: missing\n    path: {dir}/no/such/dir/cert.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h.wait_for_probes(&["t", "missing"], WAIT).await;
    for target in ["t", "missing"] {
        assert_eq!(
            m.reasons("cert_probe_error_info", target),
            ["file_not_found"]
        );
        assert_eq!(m.value("cert_probe_success", &[("target", target)]), 0.0);
        let sample = m.find("cert_probe_error_info", &[("target", target)]);
        assert!(!sample[0].labels.contains_key("file"), "{sample:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn wrong_pkcs12_password_is_its_own_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Ca::root("P12 Root");
    let leaf = root.leaf(&LeafSpec::new("p12.test", 30));
    write(dir.path(), "leaf.pem", &pki::pem_of(&leaf.der));
    write(dir.path(), "key.pem", &leaf.key.serialize_pem());
    write(dir.path(), "right", "right\n");
    write(dir.path(), "wrong", "wrong\n");
    openssl::run_blocking(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-in",
            "leaf.pem",
            "-inkey",
            "key.pem",
            "-passout",
            "file:right",
            "-out",
            "store.p12",
        ],
    );
    // openssl's legacy encryption (RC2, 3DES, SHA-1 MAC), still common in older keystores.
    openssl::run_blocking(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            "leaf.pem",
            "-inkey",
            "key.pem",
            "-passout",
            "file:right",
            "-out",
            "legacy.p12",
        ],
    );
    let store = p(&dir.path().join("store.p12"));
    let legacy = p(&dir.path().join("legacy.p12"));
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/*.p12\n    password_file: {dir}/wrong\n  - name: right\n    path: {dir}/*.p12\n    password_file: {dir}/right\n  - name: none\n    path: {dir}/store.p12\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            ["t", "right", "none"].iter().all(|t| {
                !m.find("cert_probe_timestamp_seconds", &[("target", t)])
                    .is_empty()
            })
        })
        .await;
    for file in [&store, &legacy] {
        assert_eq!(file_reasons(&m, file), ["pkcs12_password"], "{}", m.text);
        assert_eq!(file_value(&m, "cert_probe_success", file, &[]), 0.0);
        let right = [("target", "right"), ("file", file.as_str())];
        assert_eq!(m.value("cert_probe_success", &right), 1.0, "{}", m.text);
        let info = m.find("cert_info", &right);
        assert_eq!(info[0].labels["subject"], "CN=p12.test");
    }
    let none = [("target", "none"), ("file", store.as_str())];
    let reasons: Vec<_> = m
        .find("cert_probe_error_info", &none)
        .iter()
        .map(|s| s.labels["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        ["pkcs12_password"],
        "no password_file means the empty password"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_file_without_read_permission_is_unreadable() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // root reads mode-000 files anyway; the FIFO case of the glob test covers
        // file_unreadable for root.
        eprintln!("note: running as root, where chmod 000 does not stop reads; case skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = write(dir.path(), "locked.pem", &ca_expiring("Locked", 10));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let yaml =
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/*.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    let file = p(&locked);
    let m = h.wait_until(WAIT, |m| has_any_series(m, &file)).await;
    assert_eq!(file_reasons(&m, &file), ["file_unreadable"]);
    h.stop().await;
}

#[tokio::test]
async fn a_large_bundle_reports_every_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: String = (0..150)
        .map(|i| ca_expiring(&format!("Bundle CA {i:03}"), 100 + i))
        .collect();
    let bundle = p(&write(dir.path(), "ca-bundle.crt", &text));
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/ca-bundle.crt\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h.wait_until(WAIT, |m| has_any_series(m, &bundle)).await;
    assert_eq!(
        of_file(&m, "cert_not_after_timestamp_seconds", &bundle).len(),
        150
    );
    let last = m.find(
        "cert_info",
        &[("file", bundle.as_str()), ("position", "149")],
    );
    assert_eq!(last[0].labels["subject"], "CN=Bundle CA 149");
    let days = file_value(&m, "cert_days_to_expiry", &bundle, &[]);
    assert!(
        (99.9..100.1).contains(&days),
        "earliest is the first: {days}"
    );
    assert!(of_file(&m, "cert_chain_valid", &bundle).is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_bundle_reads_as_its_next_expiry_and_counts_its_lapsed_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Ca::root("Expiry Root");
    let inter = root.intermediate("Expiry Intermediate");
    write(dir.path(), "ca.pem", &root.pem());
    // Unrelated CAs, the lapsed one first (as in Debian's bundle, the file order is arbitrary).
    let bundle = p(&write(
        dir.path(),
        "bundle.pem",
        &(ca_valid("Lapsed", -400, -30) + &ca_expiring("Later", 400) + &ca_expiring("Sooner", 90)),
    ));
    let lapsed = p(&write(
        dir.path(),
        "all-lapsed.pem",
        &(ca_valid("Old A", -400, -60) + &ca_valid("Old B", -400, -20)),
    ));
    // A chain file (leaf + intermediate) whose leaf lapsed 10 days ago: still expired.
    let now = OffsetDateTime::now_utc();
    let spec = LeafSpec::new("expired.test", 0).valid(
        now - time::Duration::days(100),
        now - time::Duration::days(10),
    );
    let chain = p(&write(
        dir.path(),
        "fullchain.pem",
        &(pki::pem_of(&inter.leaf(&spec).der) + &inter.pem()),
    ));
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\n  ca_file: {dir}/ca.pem\ntargets:\n  - name: t\n    path: {dir}/*.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            [&bundle, &lapsed, &chain]
                .iter()
                .all(|f| has_any_series(m, f))
        })
        .await;
    let now = unix_now();

    // The bundle: the soonest of the valid ones is the headline; the lapsed one is counted.
    let days = file_value(&m, "cert_days_to_expiry", &bundle, &[]);
    assert!(
        (89.9..90.1).contains(&days),
        "next to lapse is Sooner: {days}\n{}",
        m.text
    );
    let sooner = file_value(
        &m,
        "cert_not_after_timestamp_seconds",
        &bundle,
        &[("subject", "CN=Sooner")],
    );
    assert_eq!(
        file_value(&m, "cert_expiry_timestamp_seconds", &bundle, &[]),
        sooner
    );
    assert_eq!(
        file_value(&m, "cert_bundle_expired_certificates", &bundle, &[]),
        1.0
    );
    // The lapsed root keeps its own series.
    let old = file_value(
        &m,
        "cert_not_after_timestamp_seconds",
        &bundle,
        &[("position", "0"), ("subject", "CN=Lapsed")],
    );
    assert!(old < now - 29.0 * 86_400.0, "{old}");
    assert!(of_file(&m, "cert_chain_valid", &bundle).is_empty());
    assert!(file_reasons(&m, &bundle).is_empty(), "{}", m.text);

    // Nothing valid left: the headline is the last to lapse, negative; all are counted.
    let days = file_value(&m, "cert_days_to_expiry", &lapsed, &[]);
    assert!(
        (-20.1..-19.9).contains(&days),
        "last to lapse is Old B: {days}"
    );
    assert_eq!(
        file_value(&m, "cert_bundle_expired_certificates", &lapsed, &[]),
        2.0
    );

    // The chain file is judged as a chain: expired, and no bundle count.
    let days = file_value(&m, "cert_days_to_expiry", &chain, &[]);
    assert!((-10.1..-9.9).contains(&days), "the leaf lapsed: {days}");
    assert_eq!(file_value(&m, "cert_chain_valid", &chain, &[]), 0.0);
    let reasons: Vec<_> = of_file(&m, "cert_chain_error_info", &chain)
        .iter()
        .filter_map(|s| s.labels.get("reason").cloned())
        .collect();
    assert!(reasons.contains(&"expired".to_string()), "{reasons:?}");
    assert!(of_file(&m, "cert_bundle_expired_certificates", &chain).is_empty());
    h.stop().await;
}

/// The file targets of config.example.yaml, as shipped (the endpoints are left out: tests
/// stay on loopback), with the repository's paths made absolute.
fn example_file_targets() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/config.example.yaml")).expect("example");
    let (head, targets) = text.split_once("\ntargets:\n").expect("a targets: list");
    let mut yaml = format!("{head}\ntargets:\n");
    for entry in targets.split("\n  - ").skip(1) {
        if entry.contains("\n    path: ") {
            yaml.push_str("  - ");
            yaml.push_str(entry);
            yaml.push('\n');
        }
    }
    yaml.replace("examples/pki/", &format!("{root}/examples/pki/"))
        .replace("interval: 15s", "interval: 1s")
}

#[tokio::test]
async fn the_example_config_is_green_offline() {
    let system = "/etc/ssl/certs/ca-certificates.crt";
    assert!(
        Path::new(system).exists(),
        "{system} is missing: install Debian's ca-certificates package (scripts/test.sh does)"
    );
    let yaml = example_file_targets();
    let demo = format!("{}/examples/pki/localhost.pem", env!("CARGO_MANIFEST_DIR"));
    assert!(
        yaml.contains(&demo),
        "the demo chain is in the example:\n{yaml}"
    );
    let h = Harness::start(&yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            has_any_series(m, system) && has_any_series(m, &demo)
        })
        .await;
    let now = unix_now();
    let at =
        |name: &str, target: &str, file: &str| m.value(name, &[("target", target), ("file", file)]);

    // The demo chain: valid against its private root, with years left.
    let d = "demo-localhost";
    assert_eq!(at("cert_probe_success", d, &demo), 1.0, "{}", m.text);
    assert_eq!(at("cert_chain_valid", d, &demo), 1.0, "{}", m.text);
    assert!(m.find("cert_probe_error_info", &[("target", d)]).is_empty());
    let leaf = [("target", d), ("file", demo.as_str()), ("position", "0")];
    let not_after = m.value("cert_not_after_timestamp_seconds", &leaf);
    let not_before = m.value("cert_not_before_timestamp_seconds", &leaf);
    assert!(
        (not_after - now) / (not_after - not_before) > 1.0 / 3.0,
        "the demo leaf is in CertificateRenewalOverdue territory: \
         run examples/pki/regenerate.sh with later dates"
    );

    // The system bundle: its headline is ahead, whatever lapsed roots it still ships.
    let s = "system-ca-bundle";
    assert_eq!(at("cert_probe_success", s, system), 1.0, "{}", m.text);
    let certs = m.find("cert_info", &[("target", s)]).len();
    assert!(certs > 100, "only {certs} certificates in {system}");
    let days = at("cert_days_to_expiry", s, system);
    assert!(days > 0.0, "system bundle reads as expired: {days}");
    let lapsed = m
        .find("cert_not_after_timestamp_seconds", &[("target", s)])
        .iter()
        .filter(|c| c.value < now)
        .count();
    assert_eq!(
        at("cert_bundle_expired_certificates", s, system),
        lapsed as f64
    );
    assert!(m.find("cert_probe_error_info", &[("target", s)]).is_empty());
    h.stop().await;
}

#[tokio::test]
async fn reading_past_the_timeout_reports_timeout_without_a_file_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = ca_expiring("Many", 10);
    for i in 0..2000 {
        write(dir.path(), &format!("{i:04}.pem"), &pem);
    }
    let yaml =
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 1ms\ntargets:\n  - name: t\n    path: {dir}/*.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            !m.find("cert_probe_timestamp_seconds", &[("target", "t")])
                .is_empty()
        })
        .await;
    let unlabelled: Vec<_> = m
        .find("cert_probe_error_info", &[("target", "t")])
        .into_iter()
        .filter(|s| !s.labels.contains_key("file"))
        .collect();
    assert_eq!(unlabelled.len(), 1, "{}", m.text);
    assert_eq!(unlabelled[0].labels["reason"], "timeout");
    let read = m.find("cert_probe_success", &[("target", "t")]).len();
    assert!(read < 2000, "all {read} files read within 1ms?");
    h.stop().await;
}

#[tokio::test]
async fn a_client_certificate_file_is_judged_without_name_or_purpose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Ca::root("Client Root");
    write(dir.path(), "ca.pem", &root.pem());
    let mut params = CertificateParams::new(vec!["client.test".to_string()]).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "kubelet");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("key");
    let client = params.signed_by(&key, &root.issuer()).expect("client cert");
    let file = p(&write(dir.path(), "client.pem", &client.pem()));
    let yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {dir}/client.pem\n    ca_file: {dir}/ca.pem\n";
    let h = Harness::start_in(dir, yaml).await;
    let m = h.wait_until(WAIT, |m| has_any_series(m, &file)).await;
    // A served chain with this leaf would be invalid_purpose and hostname_mismatch; a file
    // has neither a server name nor a fixed purpose.
    assert_eq!(
        file_value(&m, "cert_chain_valid", &file, &[]),
        1.0,
        "{}",
        m.text
    );
    assert!(of_file(&m, "cert_chain_error_info", &file).is_empty());
    h.stop().await;
}
