//! The real binary, as an operator runs it: SIGTERM ends it promptly with status 0 even with a
//! probe hanging; at `--log.level debug` with a client key, a proxy password, a PKCS#12
//! password and basic auth in use, not one secret reaches its output; and it runs as `nobody`
//! with no capability at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::{healthy_server, healthy_target};
use crate::support::binary;
use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::server::Server;
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{get, write, Metrics};

/// How long SIGTERM may take to end the process.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(6);

/// The exporter binary, started by a test, with its standard error collected as it comes.
struct Running {
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Running {
    /// Starts `binary` (after `prefix`, e.g. `setpriv ...`) on `config`, listening on a free
    /// loopback port, with `extra` flags.
    async fn start(prefix: &[&str], binary: &Path, config: &Path, extra: &[&str]) -> Running {
        let addr: SocketAddr = crate::support::ports::free_loopback_addr();
        let (program, args) = match prefix.split_first() {
            Some((program, rest)) => (PathBuf::from(program), rest.to_vec()),
            None => (binary.to_path_buf(), Vec::new()),
        };
        let mut command = Command::new(&program);
        command.args(&args);
        if !prefix.is_empty() {
            command.arg(binary);
        }
        command
            .arg("--config.file")
            .arg(config)
            .arg("--web.listen-address")
            .arg(addr.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in [
            Box::new(child.stderr.take().expect("stderr"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stdout.take().expect("stdout")),
        ] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    output.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let running = Running {
            child,
            addr,
            output,
        };
        running.wait_listening().await;
        running
    }

    /// Waits until `/-/healthy` answers (basic auth refuses it, which is an answer too).
    async fn wait_listening(&self) {
        let start = Instant::now();
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the exporter did not listen on {} within 20 s:\n{}",
                self.addr,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).to_string()
    }

    /// Scrapes `/metrics` (with `headers`) until `check` holds.
    async fn wait_until(
        &self,
        headers: &[(&str, &str)],
        check: impl Fn(&Metrics) -> bool,
    ) -> Metrics {
        let start = Instant::now();
        loop {
            let m = Metrics::parse(&get(self.addr, "/metrics", headers).await.body);
            if check(&m) {
                return m;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "condition not met within 30 s; last scrape:\n{}\nlog:\n{}",
                m.text,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit, at most [`SHUTDOWN_BOUND`].
    async fn terminate(mut self) -> (ExitStatus, Duration, String) {
        let started = Instant::now();
        // SAFETY: kill has no memory-safety preconditions; the pid is our own running child.
        let sent = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(sent, 0, "kill(SIGTERM) failed");
        let status = tokio::time::timeout(SHUTDOWN_BOUND, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "still running {SHUTDOWN_BOUND:?} after SIGTERM:\n{}",
                    self.output()
                )
            })
            .expect("wait");
        let took = started.elapsed();
        // Let the pipe readers drain what the process wrote last.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, took, self.output())
    }
}

#[tokio::test]
async fn sigterm_with_a_probe_in_flight_exits_zero_promptly() {
    let root = Ca::root("Shutdown Root");
    let dir = root.in_temp_dir();
    let healthy = healthy_server(&root).await;
    let silent = tls_server::silent().await;
    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "defaults:\n  interval: 1s\n  timeout: 1m\n  ca_file: {}/ca.pem\ntargets:\n  - name: hangs\n    address: {}\n{}",
            dir.path().display(),
            silent.addr,
            healthy_target(&healthy)
        ),
    );
    let exporter = Running::start(&[], &binary::path(), &config, &[]).await;
    // The healthy target reported; the silent one is in the middle of its one-minute probe.
    exporter
        .wait_until(&[], |m| {
            m.get("cert_probe_success", &[("target", "healthy")]) == Some(1.0)
        })
        .await;
    let (status, took, log) = exporter.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; log:\n{log}"
    );
    assert!(took < SHUTDOWN_BOUND, "{took:?}");
    assert!(log.contains("shutting down"), "{log}");
    println!(
        "SIGTERM to exit with a probe in flight: {:.3} s",
        took.as_secs_f64()
    );
}

/// A proxy that records what it is sent and refuses every CONNECT with 407.
async fn refusing_proxy(seen: Arc<Mutex<Vec<u8>>>) -> Server {
    Server::raw(move |mut stream| {
        let seen = seen.clone();
        async move {
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf).await {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = stream
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                )
                .await;
        }
    })
    .await
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_debug_level() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let proxy_password = "pr0xy-Secret-9f1c";
    let web_password = "w3b-Secret-77aa";
    let wrong_password = "wr0ng-Secret-e3e3";
    let p12_password = "p12-Secret-5b5b";

    let root = Ca::root("Secrets Root");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "ca.pem", &root.pem());
    let client = root.leaf(&LeafSpec::new("client.test", 30));
    let key_pem = client.key.serialize_pem();
    write(d, "client.pem", &pki::pem_of(&client.der));
    write(d, "client-key.pem", &key_pem);
    write(d, "p12-password", &format!("{p12_password}\n"));
    std::fs::create_dir(d.join("stores")).unwrap();
    std::fs::write(
        d.join("stores/a.p12"),
        [0x30, 0x06, 0x02, 0x01, 0x03, 0x30, 0x01, 0x00],
    )
    .unwrap();
    let hash = bcrypt::hash(web_password, 4).unwrap();
    write(
        d,
        "web.yaml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );

    let server_leaf = root.leaf(&LeafSpec::new("mtls.test", 30));
    let mtls = tls_server::tls(
        vec![server_leaf.der.clone()],
        server_leaf.private_key(),
        TlsOptions {
            client_ca: Some(root.der.clone()),
            ..TlsOptions::default()
        },
    )
    .await;
    let healthy = healthy_server(&root).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = refusing_proxy(seen.clone()).await;
    let config = write(
        d,
        "config.yaml",
        &format!(
            "defaults:\n  interval: 1s\n  timeout: 3s\n  ca_file: {dir}/ca.pem\ntargets:\n  - name: mtls\n    address: {mtls}\n    server_name: mtls.test\n    client_cert: {dir}/client.pem\n    client_key: {dir}/client-key.pem\n  - name: proxied\n    address: behind.test:443\n    proxy_url: http://prober:{proxy_password}@{proxy}\n  - name: stores\n    path: {dir}/stores/*.p12\n    password_file: {dir}/p12-password\n{healthy}",
            dir = d.display(),
            mtls = mtls.addr,
            proxy = proxy.addr,
            healthy = healthy_target(&healthy),
        ),
    );
    let web = d.join("web.yaml");
    let exporter = Running::start(
        &[],
        &binary::path(),
        &config,
        &[
            "--log.level",
            "debug",
            "--web.config.file",
            web.to_str().unwrap(),
        ],
    )
    .await;
    let good_auth = format!("Basic {}", b64(&format!("prometheus:{web_password}")));
    let bad_auth = format!("Basic {}", b64(&format!("prometheus:{wrong_password}")));
    exporter
        .wait_until(&[("Authorization", &good_auth)], |m| {
            ["mtls", "proxied", "stores", "healthy"].iter().all(|t| {
                m.get("cert_probe_timestamp_seconds", &[("target", t)])
                    .is_some()
            }) && m.value("cert_exporter_probes_total", &[("result", "failure")]) >= 6.0
        })
        .await;
    let refused = get(exporter.addr, "/metrics", &[("Authorization", &bad_auth)]).await;
    assert_eq!(refused.status, 401);
    let (status, _, log) = exporter.terminate().await;
    assert_eq!(status.code(), Some(0), "{log}");

    // The secrets were really in use: the proxy got the credentials.
    let sent = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
    let proxy_credentials = b64(&format!("prober:{proxy_password}"));
    assert!(sent.contains(&proxy_credentials), "{sent}");
    assert!(
        log.contains("proxy"),
        "the log should tell of the proxy refusal:\n{log}"
    );

    let key_der_b64 = b64_of_pem_body(&key_pem);
    let mut secrets: Vec<String> = vec![
        proxy_password.into(),
        web_password.into(),
        wrong_password.into(),
        p12_password.into(),
        proxy_credentials,
        b64(&format!("prometheus:{web_password}")),
        b64(&format!("prometheus:{wrong_password}")),
        key_der_b64.clone(),
    ];
    // Every line of the key's PEM body, and any 16-character piece of its base64.
    secrets.extend(
        key_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    secrets.extend(
        key_der_b64
            .as_bytes()
            .chunks(16)
            .filter(|c| c.len() == 16)
            .map(|c| String::from_utf8_lossy(c).to_string()),
    );
    let leaked: Vec<&String> = secrets
        .iter()
        .filter(|s| log.contains(s.as_str()))
        .collect();
    assert!(leaked.is_empty(), "secrets in the log: {leaked:?}\n{log}");
    assert!(
        log.contains("level=debug"),
        "a debug run logs at debug: {log}"
    );
}

/// The base64 of a PEM block's body, on one line.
fn b64_of_pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat()
}

/// `CapEff` and `CapPrm` of process `pid`, from /proc.
fn capabilities(pid: i32) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .filter(|l| l.starts_with("CapEff:") || l.starts_with("CapPrm:") || l.starts_with("Uid:"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn runs_as_nobody_without_capabilities() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    let prefix: Vec<&str> = if root_user {
        assert!(
            Path::new("/usr/bin/setpriv").exists(),
            "setpriv is missing: install the Debian package util-linux"
        );
        vec![
            "/usr/bin/setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    } else {
        Vec::new() // already unprivileged
    };

    let ca = Ca::root("Nobody Root");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The binary and everything it reads where `nobody` may read them.
    let exe = d.join("cert-expiry-exporter");
    std::fs::copy(binary::path(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(d, "ca.pem", &ca.pem());
    std::fs::create_dir(d.join("certs")).unwrap();
    let readable = write(&d.join("certs"), "ok.pem", &ca.pem());
    let locked = write(&d.join("certs"), "locked.pem", &ca.pem());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let healthy = healthy_server(&ca).await;
    let config = write(
        d,
        "config.yaml",
        &format!(
            "defaults:\n  interval: 1s\n  timeout: 3s\n  ca_file: {dir}/ca.pem\ntargets:\n{healthy}  - name: files\n    path: {dir}/certs/*.pem\n",
            dir = d.display(),
            healthy = healthy_target(&healthy)
        ),
    );
    for path in [&config, &readable, &d.join("ca.pem")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let exporter = Running::start(&prefix, &exe, &config, &[]).await;
    let ids = capabilities(exporter.pid());
    let m = exporter
        .wait_until(&[], |m| {
            m.get("cert_probe_success", &[("target", "healthy")]) == Some(1.0)
                && m.find("cert_probe_error_info", &[("target", "files")])
                    .len()
                    == 1
        })
        .await;
    let locked_reason = m.find(
        "cert_probe_error_info",
        &[("target", "files"), ("file", locked.to_str().unwrap())],
    );
    assert_eq!(locked_reason.len(), 1, "{}", m.text);
    assert_eq!(locked_reason[0].labels["reason"], "file_unreadable");
    assert_eq!(
        m.value(
            "cert_probe_success",
            &[("target", "files"), ("file", readable.to_str().unwrap())]
        ),
        1.0
    );
    let (status, _, log) = exporter.terminate().await;
    assert_eq!(status.code(), Some(0), "{log}");

    let uid_line = ids.iter().find(|l| l.starts_with("Uid:")).expect("Uid");
    assert!(
        !uid_line.split_whitespace().skip(1).any(|id| id == "0"),
        "runs as root: {ids:?}"
    );
    for caps in ids.iter().filter(|l| l.starts_with("Cap")) {
        let value = caps.split_whitespace().nth(1).unwrap_or("");
        assert!(
            value.chars().all(|c| c == '0'),
            "the exporter holds capabilities: {ids:?}"
        );
    }
}
