//! Issue 14's further formats of certificate files: JKS and JCEKS keystores made by Debian's
//! `keytool` (default-jdk-headless), as Java operators make them, read by the real exporter.

use std::path::Path;
use std::time::Duration;

use crate::support::openssl;
use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::{write, Harness, Metrics};

const WAIT: Duration = Duration::from_secs(30);

/// What to do when keytool is missing.
const KEYTOOL: &str =
    "install the Debian package `default-jdk-headless` (bash scripts/test.sh does)";

/// Runs `keytool` with the space-separated `args` in `dir`; panics with its output when it
/// fails or is missing.
fn keytool(dir: &Path, args: &str) {
    let args: Vec<&str> = args.split_whitespace().collect();
    let output = std::process::Command::new("keytool")
        .args(&args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `keytool` ({e}): {KEYTOOL}"));
    assert!(
        output.status.success(),
        "keytool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The `reason` labels of one file of target `target`.
fn reasons(m: &Metrics, target: &str, file: &str) -> Vec<String> {
    m.reasons_where(
        "cert_probe_error_info",
        &[("target", target), ("file", file)],
    )
}

/// The organisation `pki::Ca` names its CAs with.
const O: &str = ", O=cert-expiry-exporter tests";

/// The subjects of one file's certificates, by position, without [`O`].
fn subjects(m: &Metrics, target: &str, file: &str) -> Vec<String> {
    let mut info: Vec<_> = m
        .find("cert_info", &[("target", target), ("file", file)])
        .into_iter()
        .map(|s| {
            let position: usize = s.labels["position"].parse().expect("position");
            (position, s.labels["subject"].replace(O, ""))
        })
        .collect();
    info.sort();
    info.into_iter().map(|(_, s)| s).collect()
}

#[tokio::test]
async fn jks_and_jceks_keystores_report_key_chains_and_trusted_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("stores")).expect("mkdir");
    let root = Ca::root("Keystore Root");
    let inter = root.intermediate("Keystore Intermediate");
    let other = Ca::root("Other Root");
    write(d, "ca.pem", &root.pem());
    write(d, "other.pem", &other.pem());
    let leaf = inter.leaf(&LeafSpec::new("jks.test", 45));
    write(d, "leaf.pem", &pki::pem_of(&leaf.der));
    write(d, "key.pem", &leaf.key.serialize_pem());
    write(d, "inter.pem", &inter.pem());
    write(d, "password", "changeit\n");
    write(d, "wrong", "guessing\n");
    // The key and its chain, as a PKCS#12 keytool imports.
    openssl::run_blocking(
        d,
        &[
            "pkcs12",
            "-export",
            "-in",
            "leaf.pem",
            "-inkey",
            "key.pem",
            "-certfile",
            "inter.pem",
            "-name",
            "server",
            "-passout",
            "pass:changeit",
            "-out",
            "chain.p12",
        ],
    );
    for (store_type, file) in [
        ("JKS", "stores/server.jks"),
        ("JCEKS", "stores/server.jceks"),
    ] {
        keytool(
            d,
            &format!(
                "-importkeystore -noprompt -srckeystore chain.p12 -srcstoretype PKCS12 \
                 -srcstorepass changeit -destkeystore {file} -deststoretype {store_type} \
                 -deststorepass changeit"
            ),
        );
        // The root beside the key entry, as a trusted-certificate entry.
        keytool(
            d,
            &format!(
                "-importcert -noprompt -alias root -file ca.pem -keystore {file} \
                 -storetype {store_type} -storepass changeit"
            ),
        );
    }
    // A JCEKS secret key entry, which holds no certificate, before and after the others.
    keytool(
        d,
        "-genseckey -alias aes -keyalg AES -keysize 128 -keystore stores/server.jceks \
         -storetype JCEKS -storepass changeit -keypass changeit",
    );
    // A truststore: two unrelated trusted roots, a bundle.
    for (alias, file) in [("root", "ca.pem"), ("other", "other.pem")] {
        keytool(
            d,
            &format!(
                "-importcert -noprompt -alias {alias} -file {file} \
                 -keystore stores/trust.jks -storetype JKS -storepass changeit"
            ),
        );
    }
    // A keystore cut short: malformed, whatever the password, while the others are read.
    let whole = std::fs::read(d.join("stores/server.jks")).expect("read");
    std::fs::write(d.join("stores/truncated.jks"), &whole[..whole.len() / 2]).expect("write");

    let stores = d.join("stores");
    let (jks, jceks, trust, truncated) = (
        p(&stores.join("server.jks")),
        p(&stores.join("server.jceks")),
        p(&stores.join("trust.jks")),
        p(&stores.join("truncated.jks")),
    );
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {s}/*\n    password_file: {d}/password\n    ca_file: {d}/ca.pem\n  - name: wrong\n    path: {s}/*\n    password_file: {d}/wrong\n  - name: none\n    path: {s}/*\n",
        s = stores.display(),
        d = d.display()
    );
    let h = Harness::start_in(dir, &yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            ["t", "wrong", "none"].iter().all(|t| {
                m.find("cert_probe_timestamp_seconds", &[("target", t)])
                    .len()
                    == 4
            })
        })
        .await;

    // The key entry's chain, judged, with the trusted root after it.
    for file in [&jks, &jceks] {
        let l = [("target", "t"), ("file", file.as_str())];
        assert_eq!(m.value("cert_probe_success", &l), 1.0, "{file}\n{}", m.text);
        assert!(reasons(&m, "t", file).is_empty(), "{file}\n{}", m.text);
        assert_eq!(m.value("cert_chain_valid", &l), 1.0, "{file}\n{}", m.text);
        assert_eq!(
            subjects(&m, "t", file),
            [
                "CN=jks.test",
                "CN=Keystore Intermediate",
                "CN=Keystore Root"
            ],
            "{file}"
        );
        let days = m.value("cert_days_to_expiry", &l);
        assert!((44.0..46.0).contains(&days), "{file}: {days}");
    }
    // Trusted entries alone are a bundle: facts, no verdict.
    let l = [("target", "t"), ("file", trust.as_str())];
    assert_eq!(m.value("cert_probe_success", &l), 1.0, "{}", m.text);
    assert_eq!(m.get("cert_chain_valid", &l), None, "{}", m.text);
    assert_eq!(m.value("cert_bundle_expired_certificates", &l), 0.0);
    let mut trusted = subjects(&m, "t", &trust);
    trusted.sort();
    assert_eq!(trusted, ["CN=Keystore Root", "CN=Other Root"]);

    assert_eq!(
        reasons(&m, "t", &truncated),
        ["file_malformed"],
        "{}",
        m.text
    );
    for file in [&jks, &jceks, &trust] {
        assert_eq!(reasons(&m, "wrong", file), ["keystore_password"], "{file}");
        let l = [("target", "wrong"), ("file", file.as_str())];
        assert_eq!(m.value("cert_probe_success", &l), 0.0);
        // Without a password_file the certificates are read, unverified.
        let l = [("target", "none"), ("file", file.as_str())];
        assert_eq!(m.value("cert_probe_success", &l), 1.0, "{file}\n{}", m.text);
    }
    assert_eq!(reasons(&m, "wrong", &truncated), ["file_malformed"]);
    h.stop().await;
}
