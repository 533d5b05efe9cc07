//! The binary itself: `--check-config`, flags, and serving on the example config.

use std::process::Command;

fn exporter() -> Command {
    Command::new(crate::support::binary::path())
}

#[test]
fn check_config_accepts_the_shipped_example() {
    let out = exporter()
        .args([
            "--config.file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml"),
            "--check-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_rejects_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "targets:\n  - address: a.example:443\n    colour: blue\n",
    )
    .unwrap();
    let out = exporter()
        .arg("--config.file")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("line 3") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = exporter()
        .args([
            "--config.file",
            "/nonexistent/config.yaml",
            "--check-config",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/config.yaml"));
}
