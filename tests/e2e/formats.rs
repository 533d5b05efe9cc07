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

/// An internal CA in `dir` that publishes CRLs as `openssl ca` does: `ca.pem`, `ca.key`,
/// `ca.cnf` and its database.
fn internal_ca(d: &Path) {
    openssl::run_blocking(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Internal CA/O=Example",
        ],
    );
    write(d, "index.txt", "");
    write(d, "crlnumber", "01\n");
    write(
        d,
        "ca.cnf",
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n",
    );
}

/// `openssl ca -gencrl` in `dir` (holding `ca.pem`, `ca.key` and `ca.cnf`), with `dates`.
fn gencrl(dir: &Path, out: &str, dates: &[&str]) {
    let mut args = vec![
        "ca", "-gencrl", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-out",
    ];
    args.push(out);
    args.extend_from_slice(dates);
    openssl::run_blocking(dir, &args);
}

#[tokio::test]
async fn crl_files_report_their_issuer_next_update_and_staleness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let crls = d.join("crls");
    std::fs::create_dir(&crls).expect("mkdir");
    internal_ca(d);
    gencrl(d, "crls/fresh.pem", &["-crldays", "7"]);
    openssl::run_blocking(
        d,
        &[
            "crl",
            "-in",
            "crls/fresh.pem",
            "-outform",
            "DER",
            "-out",
            "crls/fresh.crl",
        ],
    );
    gencrl(
        d,
        "crls/stale.pem",
        &[
            "-crl_lastupdate",
            "20200101000000Z",
            "-crl_nextupdate",
            "20200108000000Z",
        ],
    );
    write(
        &crls,
        "broken.pem",
        "-----BEGIN X509 CRL-----\nMIIBAAAAAAAA\n-----END X509 CRL-----\n",
    );
    // A certificate among the CRLs is read as before.
    std::fs::copy(d.join("ca.pem"), crls.join("ca.pem")).expect("copy");

    let file = |name: &str| p(&crls.join(name));
    let (fresh_pem, fresh_der, stale, broken, cert) = (
        file("fresh.pem"),
        file("fresh.crl"),
        file("stale.pem"),
        file("broken.pem"),
        file("ca.pem"),
    );
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {}/*\n",
        crls.display()
    );
    let h = Harness::start_in(dir, &yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            m.find("cert_probe_timestamp_seconds", &[("target", "t")])
                .len()
                == 5
        })
        .await;
    let issuer = "CN=Internal CA, O=Example";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    for f in [&fresh_pem, &fresh_der] {
        let l = [("target", "t"), ("file", f.as_str()), ("issuer", issuer)];
        let next = m.value("cert_crl_file_next_update_timestamp_seconds", &l);
        let days = (next - now) / 86_400.0;
        assert!((6.9..7.1).contains(&days), "{f}: {days}\n{}", m.text);
        let this = m.value("cert_crl_file_this_update_timestamp_seconds", &l);
        assert!((now - this).abs() < 600.0, "{f}: {this}");
        assert_eq!(m.value("cert_crl_file_stale", &l), 0.0, "{f}");
        let l = [("target", "t"), ("file", f.as_str())];
        assert_eq!(m.value("cert_probe_success", &l), 1.0, "{f}");
        assert!(reasons(&m, "t", f).is_empty(), "{f}\n{}", m.text);
        // A CRL is not a certificate: no expiry series.
        assert_eq!(m.get("cert_days_to_expiry", &l), None, "{f}");
    }
    let l = [
        ("target", "t"),
        ("file", stale.as_str()),
        ("issuer", issuer),
    ];
    assert_eq!(m.value("cert_crl_file_stale", &l), 1.0, "{}", m.text);
    assert_eq!(
        m.value("cert_crl_file_next_update_timestamp_seconds", &l),
        1_578_441_600.0
    );
    assert_eq!(reasons(&m, "t", &broken), ["crl_malformed"], "{}", m.text);
    let l = [("target", "t"), ("file", broken.as_str())];
    assert_eq!(m.value("cert_probe_success", &l), 0.0);
    assert!(m.find("cert_crl_file_stale", &l).is_empty());
    let l = [("target", "t"), ("file", cert.as_str())];
    assert_eq!(m.value("cert_probe_success", &l), 1.0);
    assert!(m.get("cert_days_to_expiry", &l).is_some(), "{}", m.text);
    h.stop().await;
}

/// Runs `kubectl config` with the space-separated `args` on the kubeconfig `config`, in `dir`;
/// panics with its output when it fails or is missing.
fn kubectl_config(dir: &Path, config: &Path, args: &str) {
    let args: Vec<&str> = args.split_whitespace().collect();
    let output = std::process::Command::new("kubectl")
        .arg("config")
        .args(&args)
        .env("KUBECONFIG", config)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `kubectl` ({e}): install the Debian package `kubernetes-client` (bash scripts/test.sh does)")
        });
    assert!(
        output.status.success(),
        "kubectl config {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The labels of one kubeconfig entry of target `t`.
fn entry<'a>(file: &'a str, label: &'a str, name: &'a str) -> [(&'a str, &'a str); 3] {
    [("target", "t"), ("file", file), (label, name)]
}

const CLUSTER: &str = "kubeconfig_cluster";
const USER: &str = "kubeconfig_user";

#[tokio::test]
async fn kubeconfig_clusters_and_users_are_reported_each_under_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let kube = d.join("kube");
    std::fs::create_dir_all(kube.join("pki")).expect("mkdir");
    let root = Ca::root("Kube Root");
    let client = root.leaf(&LeafSpec::new("admin", 20));
    write(&kube.join("pki"), "ca.pem", &root.pem());
    write(d, "ca.pem", &root.pem());
    write(d, "client.pem", &pki::pem_of(&client.der));
    write(d, "client.key", &client.key.serialize_pem());
    let config = kube.join("config");
    let ca = d.join("ca.pem");
    kubectl_config(
        d,
        &config,
        &format!(
            "set-cluster prod --server=https://127.0.0.1:6443 --certificate-authority={} \
             --embed-certs=true",
            ca.display()
        ),
    );
    // A CA referenced by a path relative to the kubeconfig's directory, and one that is gone.
    kubectl_config(
        &kube,
        &config,
        "set-cluster ref --server=https://127.0.0.1:6443 --certificate-authority=pki/ca.pem",
    );
    kubectl_config(
        &kube,
        &config,
        "set-cluster gone --server=https://127.0.0.1:6443 --certificate-authority=pki/missing.pem",
    );
    kubectl_config(
        d,
        &config,
        "set-credentials admin --client-certificate=client.pem --client-key=client.key \
         --embed-certs=true",
    );
    kubectl_config(
        d,
        &config,
        "set-credentials robot --token=not-a-certificate",
    );
    // The same kubeconfig with the user's certificate data damaged.
    let text = std::fs::read_to_string(&config).expect("read");
    let damaged: String = text
        .lines()
        .map(|l| match l.split_once("client-certificate-data: ") {
            Some((indent, _)) => format!("{indent}client-certificate-data: '!!! not base64'\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(damaged, text);
    write(&kube, "damaged", &damaged);
    write(
        &kube,
        "unparsable",
        "apiVersion: v1\nkind: Config\nclusters: [\n",
    );

    let file = |name: &str| p(&kube.join(name));
    let (good, bad, unparsable) = (file("config"), file("damaged"), file("unparsable"));
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    path: {}/*\n    ca_file: {}\n",
        kube.display(),
        ca.display()
    );
    let h = Harness::start_in(dir, &yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            m.find("cert_probe_timestamp_seconds", &[("target", "t")])
                .len()
                == 9
        })
        .await;
    for f in [&good, &bad] {
        for name in ["prod", "ref"] {
            let l = entry(f, CLUSTER, name);
            assert_eq!(
                m.value("cert_probe_success", &l),
                1.0,
                "{f} {name}\n{}",
                m.text
            );
            // A CA alone is a bundle: its expiry, no verdict.
            assert!(m.get("cert_days_to_expiry", &l).is_some(), "{f} {name}");
            assert_eq!(m.get("cert_chain_valid", &l), None, "{f} {name}");
        }
        let l = entry(f, CLUSTER, "gone");
        assert_eq!(
            m.reasons_where("cert_probe_error_info", &l),
            ["file_unreadable"],
            "{f}\n{}",
            m.text
        );
        // The token user has no certificate, so no series.
        assert!(m
            .find("cert_probe_success", &entry(f, USER, "robot"))
            .is_empty());
    }
    // The client certificate is a chain, judged against ca_file.
    let l = entry(&good, USER, "admin");
    assert_eq!(m.value("cert_probe_success", &l), 1.0, "{}", m.text);
    assert_eq!(m.value("cert_chain_valid", &l), 1.0, "{}", m.text);
    let days = m.value("cert_days_to_expiry", &l);
    assert!((19.0..21.0).contains(&days), "{days}");
    let l = entry(&bad, USER, "admin");
    assert_eq!(m.value("cert_probe_success", &l), 0.0, "{}", m.text);
    assert_eq!(
        m.reasons_where("cert_probe_error_info", &l),
        ["kubeconfig_malformed"]
    );
    // A kubeconfig that does not parse is one result for the file.
    let l = [("target", "t"), ("file", unparsable.as_str())];
    let samples = m.find("cert_probe_error_info", &l);
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].labels["reason"], "kubeconfig_malformed");
    assert!(!samples[0].labels.contains_key("kubeconfig_cluster"));
    h.stop().await;
}

/// Starts Debian's nginx on a free loopback port serving `root` (over TLS with `tls`, a chain
/// and key file); its access log is `run/access.log`.
fn nginx_serving(
    run: &Path,
    root: &Path,
    tls: Option<(&Path, &Path)>,
) -> (crate::support::process::Daemon, u16) {
    use crate::support::process::{require, spawn_nginx};
    let nginx = require("nginx", "nginx-light");
    let port = crate::support::ports::free_port();
    let dir = run.display();
    let (ssl, certs) = match tls {
        Some((chain, key)) => (
            " ssl",
            format!(
                "ssl_certificate {};\n        ssl_certificate_key {};",
                chain.display(),
                key.display()
            ),
        ),
        None => ("", String::new()),
    };
    let config = format!(
        "master_process off;
pid {dir}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    types {{ text/html html; application/x-pem-file pem; application/pkix-cert der; }}
    default_type application/octet-stream;
    access_log {dir}/access.log;
    server {{
        listen 127.0.0.1:{port}{ssl};
        {certs}
        root {root};
    }}
}}
",
        root = root.display()
    );
    let config_path = write(run, "nginx.conf", &config);
    let daemon = spawn_nginx(
        &nginx,
        &config_path,
        &dir.to_string(),
        &run.join("nginx.log"),
        &[port],
    );
    (daemon, port)
}

#[tokio::test]
async fn url_targets_download_bundles_intermediates_and_crls_conditionally() {
    let run = tempfile::tempdir().expect("tempdir");
    let www = run.path().join("www");
    std::fs::create_dir(&www).expect("mkdir");
    let root = Ca::root("Url Root");
    let inter = root.intermediate("Url Intermediate");
    let other = Ca::root("Url Other Root");
    write(&www, "bundle.pem", &(root.pem() + &other.pem()));
    let inter_der = rustls_pki_types::pem::PemObject::from_pem_slice(inter.pem().as_bytes())
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
        .expect("pem");
    std::fs::write(www.join("inter.der"), inter_der).expect("write");
    write(
        &www,
        "login.html",
        "<!DOCTYPE html><html><body>Please log in</body></html>\n",
    );
    let big = std::fs::File::create(www.join("big.pem")).expect("big");
    big.set_len(5 * 1024 * 1024).expect("sparse"); // over the 4 MiB cap
                                                   // The CRL an internal CA publishes, in DER as distribution points serve it.
    internal_ca(run.path());
    gencrl(run.path(), "crl.pem", &["-crldays", "7"]);
    openssl::run_blocking(
        run.path(),
        &[
            "crl",
            "-in",
            "crl.pem",
            "-outform",
            "DER",
            "-out",
            "www/ca.crl",
        ],
    );
    let (nginx, port) = nginx_serving(run.path(), &www, None);
    let closed = crate::support::ports::free_port();

    let base = format!("http://127.0.0.1:{port}");
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 5s\n  metrics: {{level: full}}\ntargets:\n\
         \x20 - name: bundle\n    url: {base}/bundle.pem\n\
         \x20 - name: inter\n    url: {base}/inter.der\n\
         \x20 - name: crl\n    url: {base}/ca.crl\n\
         \x20 - name: html\n    url: {base}/login.html\n\
         \x20 - name: missing\n    url: {base}/missing.pem\n\
         \x20 - name: big\n    url: {base}/big.pem\n\
         \x20 - name: closed\n    url: http://127.0.0.1:{closed}/ca.pem\n"
    );
    let h = Harness::start(&yaml).await;
    let names = ["bundle", "inter", "crl", "html", "missing", "big", "closed"];
    let m = h.wait_for_probes(&names, WAIT).await;
    // A CA bundle: every certificate, no verdict.
    let l = [("target", "bundle")];
    assert_eq!(m.value("cert_probe_success", &l), 1.0, "{}", m.text);
    assert_eq!(m.get("cert_chain_valid", &l), None);
    let mut subjects: Vec<_> = m
        .find("cert_info", &l)
        .iter()
        .map(|s| s.labels["subject"].replace(O, ""))
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["CN=Url Other Root", "CN=Url Root"]);
    // A published intermediate in DER.
    let l = [("target", "inter")];
    assert_eq!(m.value("cert_probe_success", &l), 1.0, "{}", m.text);
    let info = m.find("cert_info", &l);
    assert_eq!(
        info[0].labels["subject"].replace(O, ""),
        "CN=Url Intermediate"
    );
    assert!(m.get("cert_days_to_expiry", &l).is_some());
    assert!(m
        .get(
            "cert_probe_duration_seconds",
            &[("target", "inter"), ("phase", "fetch")]
        )
        .is_some());
    // The published CRL, watched by its dates.
    let l = [("target", "crl"), ("issuer", "CN=Internal CA, O=Example")];
    assert_eq!(m.value("cert_crl_file_stale", &l), 0.0, "{}", m.text);
    let next = m.value("cert_crl_file_next_update_timestamp_seconds", &l);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(((next - now) / 86_400.0 - 7.0).abs() < 0.1, "{next}");
    // What goes wrong, each with its reason.
    for (target, reason) in [
        ("html", "file_malformed"),
        ("missing", "url_http_status"),
        ("big", "url_too_large"),
        ("closed", "url_unreachable"),
    ] {
        assert_eq!(
            m.value("cert_probe_success", &[("target", target)]),
            0.0,
            "{target}"
        );
        assert_eq!(
            m.reasons("cert_probe_error_info", target),
            [reason],
            "{target}\n{}",
            m.text
        );
    }
    // Probed again: conditional GETs that nginx answers 304, the held copy reported.
    let access = run.path().join("access.log");
    let answered_304 = |path: &str| {
        std::fs::read_to_string(&access)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&format!("GET {path} ")) && l.contains("\" 304 "))
    };
    let m = h
        .wait_until(WAIT, |_| {
            answered_304("/bundle.pem") && answered_304("/inter.der")
        })
        .await;
    let m = h
        .wait_until(WAIT, |later| {
            later.value("cert_probe_timestamp_seconds", &[("target", "bundle")])
                > m.value("cert_probe_timestamp_seconds", &[("target", "bundle")])
        })
        .await;
    assert_eq!(
        m.value("cert_probe_success", &[("target", "bundle")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(m.find("cert_info", &[("target", "bundle")]).len(), 2);
    assert_eq!(m.value("cert_probe_success", &[("target", "inter")]), 1.0);
    let not_modified = [("source", "url"), ("result", "not_modified")];
    assert!(
        m.value("cert_revocation_fetches_total", &not_modified) >= 2.0,
        "{}",
        m.text
    );
    h.stop().await;
    drop(nginx);
}

#[tokio::test]
async fn a_url_target_over_https_is_verified_with_the_system_trust_store() {
    let run = tempfile::tempdir().expect("tempdir");
    let d = run.path();
    let www = d.join("www");
    std::fs::create_dir(&www).expect("mkdir");
    // The server's own CA, made the "system" store of the exporter process by SSL_CERT_FILE.
    let tls_root = Ca::root("Url TLS Root");
    let leaf = tls_root.leaf(&LeafSpec::new("127.0.0.1", 30));
    write(d, "system-roots.pem", &tls_root.pem());
    let chain = write(d, "server.pem", &pki::pem_of(&leaf.der));
    let key = write(d, "server.key", &leaf.key.serialize_pem());
    let published = Ca::root("Published Root");
    write(&www, "ca.pem", &published.pem());
    let (nginx, port) = nginx_serving(d, &www, Some((&chain, &key)));
    let listen = crate::support::ports::free_loopback_addr();
    let config = write(
        d,
        "config.yaml",
        &format!(
            "defaults:\n  interval: 1s\n  timeout: 5s\n  metrics: {{level: full}}\ntargets:\n\
             \x20 - name: https\n    url: https://127.0.0.1:{port}/ca.pem\n"
        ),
    );
    let child = tokio::process::Command::new(crate::support::binary::path())
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &listen.to_string()])
        .env("SSL_CERT_FILE", d.join("system-roots.pem"))
        .env_remove("SSL_CERT_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the exporter binary");
    let started = std::time::Instant::now();
    let m = loop {
        let text = match tokio::net::TcpStream::connect(listen).await {
            Ok(_) => {
                crate::support::http::get(listen, "/metrics", &[])
                    .await
                    .body
            }
            Err(_) => String::new(),
        };
        let m = Metrics::parse(&text);
        if m.get("cert_probe_success", &[("target", "https")]) == Some(1.0) {
            break m;
        }
        assert!(
            started.elapsed() < WAIT,
            "not probed within {WAIT:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let info = m.find("cert_info", &[("target", "https")]);
    assert_eq!(
        info[0].labels["subject"].replace(O, ""),
        "CN=Published Root"
    );
    drop(child);
    drop(nginx);
}
