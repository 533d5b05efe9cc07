//! The real `cert-expiry-exporter` binary, for what only a process shows: exit codes, signal
//! handling, logs on stderr and the `check` subcommand's report.

use std::path::PathBuf;
use std::process::Stdio;

/// Where Cargo built the binary under test.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cert-expiry-exporter"))
}

/// What a run of the binary printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cert-expiry-exporter args…` (the real binary) to completion, stdout piped so the
/// report is plain, and NO_COLOR unset so only the pipe decides that.
pub async fn exporter(args: &[&str]) -> Run {
    let output = tokio::process::Command::new(path())
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the exporter binary");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// `check` with `args`, parsed as JSON (`--output json` is added).
pub async fn check_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["check", "--output", "json"];
    all.extend_from_slice(args);
    let run = exporter(&all).await;
    let doc = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "check --output json printed no JSON ({e}):\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    });
    (run.code, doc)
}

/// `check` with `args`, as text.
pub async fn check_text(args: &[&str]) -> Run {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let run = exporter(&all).await;
    assert!(
        !run.stdout.contains('\x1b'),
        "piped output must be plain:\n{}",
        run.stdout
    );
    run
}
