//! The `check` subcommand as a whole: targets from a configuration file, exit statuses, and
//! the exporter still being the default when no subcommand is given.

use std::time::{Duration, Instant};

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server;
use crate::support::{get, write};

use crate::support::binary::{check_json, check_text, exporter};

#[tokio::test]
async fn config_file_targets_are_all_checked_and_the_worst_decides() {
    let root = Ca::root("Check Root");
    let fine = root.leaf(&LeafSpec::new("fine.test", 90));
    let soon = root.leaf(&LeafSpec::new("soon.test", 5));
    let fine_server = tls_server::serve_leaf(&fine).await;
    let soon_server = tls_server::serve_leaf(&soon).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &root.pem());
    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "defaults:\n  timeout: 5s\n  ca_file: {}\ntargets:\n  - name: fine\n    address: {}\n    server_name: fine.test\n  - name: soon\n    address: {}\n    server_name: soon.test\n",
            ca.display(),
            fine_server.addr,
            soon_server.addr
        ),
    );
    let config = config.display().to_string();

    // Every target: the one expiring in 5 days needs attention.
    let run = check_text(&["--config.file", &config]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("fine  → "), "{}", run.stdout);
    assert!(run.stdout.contains("\nsoon  → "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("    ! attention  the leaf (CN=soon.test) expires in 5 days, on "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with(
            "summary 2 results checked: 1 fine, 1 need attention, 0 broken → NEEDS ATTENTION\n"
        ),
        "{}",
        run.stdout
    );

    // A named target only; --warn-days moves the threshold.
    let (code, doc) = check_json(&["--config.file", &config, "--warn-days", "3", "soon"]).await;
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["results"].as_array().unwrap().len(), 1);
    assert_eq!(doc["results"][0]["target"], "soon");
    let (code, _) = check_json(&["--config.file", &config, "fine"]).await;
    assert_eq!(code, 0);

    // The flag before the subcommand works too.
    let run = exporter(&["--config.file", &config, "check", "fine"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[tokio::test]
async fn unreachable_is_broken_and_bad_invocations_exit_3() {
    let closed = crate::support::ports::closed_port().await.to_string();
    let run = check_text(&["--timeout", "3s", &closed]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "    ✘ broken     nothing accepts connections on {closed}\n"
        )),
        "{}",
        run.stdout
    );

    let run = exporter(&["check", "no-port.example"]).await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("missing `:port`"), "{}", run.stderr);
    let run = exporter(&["check"]).await;
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("host:port"), "{}", run.stderr);
    let run = exporter(&["check", "--output", "yaml", "a.example:443"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = exporter(&["check", "--config.file", "/nonexistent/config.yaml"]).await;
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("/nonexistent/config.yaml"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn without_a_subcommand_the_exporter_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "config.yaml",
        "targets:\n  - name: files\n    path: /nonexistent/*.pem\n",
    );
    let port = crate::support::ports::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(crate::support::binary::path())
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &listen])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the exporter");
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(&listen).await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the exporter did not listen on {listen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let healthy = get(listen.parse().unwrap(), "/-/healthy", &[]).await;
    assert_eq!(healthy.status, 200);
    child.kill().await.expect("stop the exporter");
}

/// A leaf that breaks profile rules no client enforces (no extendedKeyUsage, a common name
/// outside its subjectAltName) is a valid chain on `/metrics` and `check` exits 0, but `check`
/// names each rule, so the operator can raise it with the CA.
#[tokio::test]
async fn profile_rules_no_client_enforces_are_findings_not_failures() {
    let root = Ca::root("Lint Root");
    let mut params = rcgen::CertificateParams::new(vec!["lint.test".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Lint Test Server");
    let server = tls_server::serve_leaf(&root.sign_leaf(&params)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &root.pem())
        .display()
        .to_string();
    let addr = server.addr.to_string();
    let (code, doc) = check_json(&["--server-name", "lint.test", "--ca-file", &ca, &addr]).await;
    assert_eq!(code, 0, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    let codes: Vec<&str> = findings
        .iter()
        .filter(|f| f["severity"] == "note")
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["lint_common_name_not_in_san", "lint_no_extended_key_usage"],
        "{doc:#}"
    );
    assert!(
        findings.iter().any(|f| f["code"] == "chain_valid"),
        "{doc:#}"
    );
}
