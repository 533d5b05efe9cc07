//! Issue 5's logging check on the real binary: JSON lines at `--log.format json`, logfmt by
//! default; one warn line per failed probe naming the target and the reason, one debug line per
//! probe at `--log.level debug`, nothing per probe at the default `info`; never a password.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server::{self, Server, TlsOptions};
use crate::support::{get, write, Metrics};

/// How long the binary may take to log what a test waits for.
const LIMIT: Duration = Duration::from_secs(30);

/// The exporter binary, started on a temp config, its standard error read line by line.
struct Exporter {
    child: Child,
    lines: Lines<BufReader<ChildStderr>>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Starts the binary on `config` (with `{dir}` replaced) and the extra `flags`, listening
    /// on a port of its own choosing.
    fn start(dir: tempfile::TempDir, config: &str, flags: &[&str]) -> Exporter {
        let config = config.replace("{dir}", &dir.path().display().to_string());
        let path = write(dir.path(), "config.yaml", &config);
        let mut child = tokio::process::Command::new(crate::support::binary::path())
            .arg("--config.file")
            .arg(&path)
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the exporter binary");
        let stderr = child.stderr.take().expect("piped stderr");
        Exporter {
            child,
            lines: BufReader::new(stderr).lines(),
            seen: Vec::new(),
            _dir: dir,
        }
    }

    /// The next log line; panics with the log so far when none comes within `deadline`.
    async fn next_line(&mut self, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                self.seen.push(line.clone());
                line
            }
            Ok(Ok(None)) => panic!("the exporter closed its log; so far:\n{}", self.log()),
            Ok(Err(e)) => panic!("reading the exporter's log: {e}; so far:\n{}", self.log()),
            Err(_) => panic!(
                "the expected log lines did not come within {LIMIT:?}; so far:\n{}",
                self.log()
            ),
        }
    }

    /// The lines read so far, for failure messages.
    fn log(&self) -> String {
        self.seen.join("\n")
    }

    /// Stops the binary with SIGTERM and waits for its graceful exit.
    async fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().expect("still running") as libc::pid_t;
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + LIMIT;
        while let Ok(Ok(Some(line))) = tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            self.lines.next_line(),
        )
        .await
        {
            self.seen.push(line);
        }
        let status = tokio::time::timeout(LIMIT, self.child.wait())
            .await
            .expect("the exporter did not exit after SIGTERM")
            .expect("wait for the exporter");
        assert!(
            status.success(),
            "exit after SIGTERM: {status}\n{}",
            self.log()
        );
        self.seen
    }
}

/// A TLS server the probes succeed against (its root written to `ca.pem` in the returned
/// directory), and a port where nothing listens.
async fn working_and_failing() -> (Server, SocketAddr, tempfile::TempDir) {
    let root = Ca::root("Logging Root");
    let dir = root.in_temp_dir();
    let leaf = root.leaf(&LeafSpec::new("ok.test", 30));
    let server = tls_server::serve_leaf(&leaf).await;
    (server, crate::support::ports::closed_port().await, dir)
}

/// A password that must never appear in a log line.
const PROXY_PASSWORD: &str = "S3cr3t-Pr0xy-Pa55";

/// Three targets: `ok` works, `down` is refused, `proxied` goes through a proxy (with a
/// password) that is not there.
fn config(interval: &str, working: SocketAddr, failing: SocketAddr) -> String {
    format!(
        "defaults:\n  interval: {interval}\n  timeout: 1s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  \
         - name: ok\n    address: {working}\n    server_name: ok.test\n  \
         - name: down\n    address: {failing}\n  \
         - name: proxied\n    address: {working}\n    server_name: ok.test\n    \
         proxy_url: http://probe:{PROXY_PASSWORD}@{failing}\n"
    )
}

/// The reason a failing target's probes must log.
fn expected_reason(target: &str) -> &'static str {
    match target {
        "down" => "connect_refused",
        "proxied" => "proxy_connect",
        other => panic!("a probe of {other:?} failed"),
    }
}

/// No line holds the proxy password.
fn assert_no_secret(log: &[String]) {
    let leaks: Vec<_> = log.iter().filter(|l| l.contains(PROXY_PASSWORD)).collect();
    assert!(
        leaks.is_empty(),
        "the proxy password was logged: {leaks:#?}"
    );
}

/// A JSON log line's field as text ("" when absent or not a string).
fn text<'a>(line: &'a Value, field: &str) -> &'a str {
    line.get(field).and_then(Value::as_str).unwrap_or("")
}

#[tokio::test]
async fn json_logs_a_warn_line_per_failed_probe_and_a_debug_line_per_probe() {
    let (server, failing, dir) = working_and_failing().await;
    let mut exporter = Exporter::start(
        dir,
        &config("1s", server.addr, failing),
        &["--log.level", "debug", "--log.format", "json"],
    );
    let deadline = Instant::now() + LIMIT;
    let (mut failed, mut finished) = (0, 0);
    let mut listen: Option<SocketAddr> = None;
    while failed < 4 || finished < 2 {
        let raw = exporter.next_line(deadline).await;
        let line: Value = serde_json::from_str(&raw)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {raw}"));
        assert!(line.is_object(), "not a JSON object: {raw}");
        assert!(!text(&line, "timestamp").is_empty(), "no timestamp: {raw}");
        assert!(!text(&line, "message").is_empty(), "no message: {raw}");
        match text(&line, "message") {
            "listening" => listen = text(&line, "address").parse().ok(),
            "probe failed" => {
                assert_eq!(text(&line, "level"), "WARN", "{raw}");
                let target = text(&line, "target_name");
                assert_eq!(text(&line, "reason"), expected_reason(target), "{raw}");
                assert!(!text(&line, "error").is_empty(), "no error detail: {raw}");
                failed += 1;
            }
            "probe finished" => {
                assert_eq!(text(&line, "level"), "DEBUG", "{raw}");
                assert_eq!(text(&line, "target_name"), "ok", "{raw}");
                assert!(line["duration_seconds"].is_number(), "{raw}");
                finished += 1;
            }
            _ => {}
        }
    }
    // Exactly one warn line per failed probe: the counter is incremented before the line is
    // written, so read on until the lines catch up with it, then they must match exactly.
    let listen = listen.unwrap_or_else(|| panic!("no `listening` line:\n{}", exporter.log()));
    let metrics = Metrics::parse(&get(listen, "/metrics", &[]).await.body);
    let probes = metrics.value("cert_exporter_probes_total", &[("result", "failure")]) as usize;
    while failed < probes {
        let raw = exporter.next_line(deadline).await;
        failed += raw.contains("\"probe failed\"") as usize;
    }
    assert_eq!(
        failed,
        probes,
        "warn lines vs failed probes; log:\n{}",
        exporter.log()
    );
    assert_no_secret(&exporter.terminate().await);
}

/// The `key=value` pairs of a logfmt line (values may be double-quoted with `\"` escapes).
fn logfmt(line: &str) -> BTreeMap<String, String> {
    let mut pairs = BTreeMap::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .unwrap_or_else(|| panic!("not logfmt: {line}"));
        let key = rest[..eq].to_string();
        assert!(!key.is_empty() && !key.contains(' '), "not logfmt: {line}");
        rest = &rest[eq + 1..];
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated quote: {line}"),
                }
            };
            rest = &quoted[end..];
            value
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let value = rest[..end].to_string();
            rest = &rest[end..];
            value
        };
        pairs.insert(key, value);
        rest = rest.trim_start();
    }
    pairs
}

#[tokio::test]
async fn logfmt_is_the_default_and_info_logs_no_line_per_probe() {
    let (server, failing, dir) = working_and_failing().await;
    let mut exporter = Exporter::start(dir, &config("1s", server.addr, failing), &[]);
    let deadline = Instant::now() + LIMIT;
    let mut failed = 0;
    while failed < 4 {
        let raw = exporter.next_line(deadline).await;
        assert!(
            !raw.starts_with('{'),
            "JSON without --log.format json: {raw}"
        );
        let pairs = logfmt(&raw);
        for key in ["ts", "level", "message"] {
            assert!(pairs.contains_key(key), "no `{key}=`: {raw}");
        }
        assert_ne!(
            pairs["level"], "debug",
            "a debug line at the default level: {raw}"
        );
        if pairs["message"] == "probe failed" {
            assert_eq!(pairs["level"], "warn", "{raw}");
            let target = pairs["target_name"].as_str();
            assert_eq!(pairs["reason"], expected_reason(target), "{raw}");
            failed += 1;
        }
    }
    let log = exporter.terminate().await;
    assert_no_secret(&log);
    let shutdown = log
        .iter()
        .map(|l| logfmt(l))
        .find(|p| p["message"] == "shutting down");
    assert_eq!(
        shutdown.as_ref().map(|p| p["level"].as_str()),
        Some("info"),
        "no info line on SIGTERM:\n{}",
        log.join("\n")
    );
}

#[tokio::test]
async fn a_chain_judged_invalid_logs_webpkis_words() {
    // Eight intermediates: webpki builds paths of at most six, so the verdict is `invalid`,
    // and only the log line can say why.
    let root = Ca::root("Deep Root");
    let dir = root.in_temp_dir();
    let mut cas = vec![root];
    for i in 0..8 {
        let next = cas
            .last()
            .unwrap()
            .intermediate(&format!("Deep Intermediate {i}"));
        cas.push(next);
    }
    let leaf = cas.last().unwrap().leaf(&LeafSpec::new("deep.test", 30));
    let mut chain = vec![leaf.der.clone()];
    chain.extend(cas[1..].iter().rev().map(|ca| ca.der.clone()));
    let server = tls_server::tls(chain, leaf.private_key(), TlsOptions::default()).await;
    let config = format!(
        "defaults:\n  interval: 1s\n  timeout: 2s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  \
         - name: deep\n    address: {}\n    server_name: deep.test\n",
        server.addr
    );
    let mut exporter = Exporter::start(
        dir,
        &config,
        &["--log.level", "debug", "--log.format", "json"],
    );
    let deadline = Instant::now() + LIMIT;
    let line = loop {
        let raw = exporter.next_line(deadline).await;
        let line: Value = serde_json::from_str(&raw)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {raw}"));
        if text(&line, "message") == "probe finished" {
            break line;
        }
    };
    assert!(text(&line, "chain_errors").contains("invalid"), "{line}");
    assert!(
        text(&line, "chain_detail").contains("MaximumPathDepthExceeded"),
        "{line}"
    );
    exporter.terminate().await;
}
