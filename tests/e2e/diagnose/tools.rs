//! What the diagnostics tests drive: `openssl` (certificates rcgen cannot make, and
//! `s_server` speaking TLS 1.0/1.1 or serving weak keys), an HTTP server for caIssuers URLs
//! whose `Date` header runs an hour behind, and the real binary's `check` subcommand. Every
//! process is started with tokio::process (the test runtime is never blocked) and killed when
//! its handle is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Runs `openssl args…` in `dir`; panics with its stderr when it fails, and with a clear
/// message when openssl is not installed.
pub async fn openssl(dir: &Path, args: &[&str]) {
    let output = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `openssl` ({e}): install the Debian package `openssl` \
                 (bash scripts/test.sh does)"
            )
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA made with openssl, for leaves rcgen cannot make (SHA-1 signatures, RSA-1024 keys).
pub struct OpensslCa {
    pub dir: tempfile::TempDir,
}

impl OpensslCa {
    /// An RSA-2048 root, written to `ca.pem` / `ca.key` in a new temp dir.
    pub async fn new() -> OpensslCa {
        let dir = tempfile::tempdir().expect("tempdir");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                "/CN=Weak Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )
        .await;
        OpensslCa { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server leaf for `name` with an RSA key of `bits`, signed with `digest` (`sha1`,
    /// `sha256`), valid 30 days; returns (cert, key) paths.
    pub async fn leaf(
        &self,
        file: &str,
        name: &str,
        bits: u32,
        digest: &str,
    ) -> (PathBuf, PathBuf) {
        let dir = self.dir.path();
        let ext = format!("{file}.ext");
        std::fs::write(
            dir.join(&ext),
            format!(
                "subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n"
            ),
        )
        .expect("write extensions");
        let (key, csr, pem) = (
            format!("{file}.key"),
            format!("{file}.csr"),
            format!("{file}.pem"),
        );
        let subject = format!("/CN={name}");
        let rsa = format!("rsa:{bits}");
        openssl(
            dir,
            &[
                "req", "-newkey", &rsa, "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject,
            ],
        )
        .await;
        let digest = format!("-{digest}");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "4242",
                "-out",
                &pem,
                "-days",
                "30",
                &digest,
                "-extfile",
                &ext,
            ],
        )
        .await;
        (dir.join(pem), dir.join(key))
    }
}

/// A running `openssl s_server`, killed when dropped.
pub struct SServer {
    pub addr: SocketAddr,
    _child: tokio::process::Child,
}

/// Starts `openssl s_server` with `cert` and `key` on a free loopback port, with `extra`
/// options (`-tls1`, `-no_tls1_3`, …) and every cipher and key size allowed
/// (`DEFAULT@SECLEVEL=0`: OpenSSL 3 refuses TLS 1.0/1.1 and short keys at level 1 and up).
pub async fn s_server(dir: &Path, cert: &Path, key: &Path, extra: &[&str]) -> SServer {
    let log = dir.join(format!("s_server-{}.log", fastrand::u32(..)));
    let out = std::fs::File::create(&log).expect("log file");
    let mut command = tokio::process::Command::new("openssl");
    command
        .arg("s_server")
        .args(extra)
        .args([
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-accept",
            "127.0.0.1:0",
            "-cert",
        ])
        .arg(cert)
        .arg("-key")
        .arg(key)
        // An open, silent stdin: at end of input s_server stops after its first connection.
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot start `openssl s_server` ({e}): install the Debian package `openssl`")
    });
    // s_server prints `ACCEPT 127.0.0.1:PORT` once it listens.
    let started = Instant::now();
    loop {
        let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("ACCEPT "))
            .and_then(|a| a.trim().parse::<SocketAddr>().ok());
        if let Some(addr) = port {
            return SServer {
                addr,
                _child: child,
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("openssl s_server exited with {status} before listening:\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "openssl s_server did not listen within 10 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Path ▶ (content type, body).
type Routes = Arc<Mutex<HashMap<String, (&'static str, Vec<u8>)>>>;

/// An HTTP/1.1 server for caIssuers URLs whose `Date` header is `clock_offset` behind real
/// time, counting requests per path. Stops when dropped.
pub struct IssuerServer {
    pub addr: SocketAddr,
    routes: Routes,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: JoinHandle<()>,
}

impl Drop for IssuerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IssuerServer {
    pub async fn start(clock_offset: Duration) -> IssuerServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let routes: Routes = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let task = {
            let (routes, hits) = (routes.clone(), hits.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let (routes, hits) = (routes.clone(), hits.clone());
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let text = String::from_utf8_lossy(&head);
                        let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                        *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                        let date = httpdate::fmt_http_date(SystemTime::now() - clock_offset);
                        let route = routes.lock().unwrap().get(&path).cloned();
                        let (status, kind, body) = match route {
                            Some((kind, body)) => ("200 OK", kind, body),
                            None => ("404 Not Found", "text/plain", b"not here".to_vec()),
                        };
                        let head = format!(
                            "HTTP/1.1 {status}\r\nDate: {date}\r\nContent-Type: {kind}\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&body).await;
                    });
                }
            })
        };
        IssuerServer {
            addr,
            routes,
            hits,
            task,
        }
    }

    /// Makes `path` answer 200 with `body`.
    pub fn set(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), (content_type, body));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
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
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cert-expiry-exporter"))
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

/// The PEM of a private key from rcgen.
pub fn write_key(dir: &Path, name: &str, key: &rcgen::KeyPair) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.serialize_pem()).expect("write key");
    path
}
