//! `promtool check metrics` on the exporter's `/metrics`: Prometheus's own naming and help-text
//! lint, the one operators and reviewers run on an exporter.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// How long promtool may take.
const LIMIT: Duration = Duration::from_secs(30);

/// Lint findings that are deliberate, each with the reason it stays.
///
/// `cert_days_to_expiry` is in days because it is the number people read first and the one
/// every expiry alert and dashboard panel shows; the base-unit fact is there beside it as
/// `cert_expiry_timestamp_seconds` (and `cert_not_after_timestamp_seconds` per certificate),
/// as docs/metrics.md explains. Renaming it would break every user's alerts for
/// a lint.
pub const ACCEPTED: &[&str] = &[r#"cert_days_to_expiry use base unit "seconds" instead of "days""#];

/// Lints `exposition` (text format 0.0.4) and returns the findings not in [`ACCEPTED`].
///
/// promtool skips families without samples, and a single setup cannot give every family a
/// sample (revocation series need OCSP and CRL servers), so each empty gauge or counter family
/// gets one sample `name 1` under its `# TYPE` line: the lint is about names, types and help
/// texts, which the sample does not change.
pub async fn unexpected_findings(promtool: &Path, exposition: &str) -> Vec<String> {
    let output = run(promtool, &with_a_sample_per_family(exposition)).await;
    output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !ACCEPTED.contains(l))
        .map(str::to_string)
        .collect()
}

/// `exposition` with a sample added to every gauge or counter family that has none.
fn with_a_sample_per_family(exposition: &str) -> String {
    let sampled: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut out = String::with_capacity(exposition.len() + 1024);
    for line in exposition.lines() {
        out.push_str(line);
        out.push('\n');
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            if matches!(kind, "gauge" | "counter") && !sampled.contains(name) {
                out.push_str(&format!("{name} 1\n"));
            }
        }
    }
    out
}

/// Pipes `text` into `promtool check metrics`; returns everything it printed. Its exit status
/// is not used: it is non-zero for any finding, accepted or not.
async fn run(promtool: &Path, text: &str) -> String {
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    let mut stdin = child.stdin.take().expect("promtool stdin");
    stdin
        .write_all(text.as_bytes())
        .await
        .expect("write to promtool");
    drop(stdin); // end of input
    let out = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("promtool check metrics did not finish")
        .expect("promtool check metrics output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
