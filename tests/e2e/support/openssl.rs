//! Debian's `openssl` command, for what rcgen cannot make or serve: SHA-1 and RSA-1024
//! leaves ([`OpensslCa`]), PKCS#12 files, v1 certificates, OCSP responders, and `s_server`
//! speaking TLS 1.0/1.1 or serving weak keys ([`s_server`]). Every test that runs openssl
//! goes through here, so a machine without it fails with one message naming the package.
//! Long-running children are killed when their handle is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What to do when openssl is missing.
const INSTALL: &str = "install the Debian package `openssl` (bash scripts/test.sh does)";

/// `openssl`, for a blocking run or a child the caller manages; panics when not installed.
pub fn command() -> std::process::Command {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "the `openssl` binary is missing: {INSTALL}");
    std::process::Command::new("openssl")
}

/// `openssl` on the test's runtime (the exporter under test runs on it too), killed when
/// dropped.
pub fn tokio_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("openssl");
    command.kill_on_drop(true);
    command
}

/// Runs `openssl args…` in `dir`; panics with its stderr when it fails, and with a clear
/// message when openssl is not installed.
pub async fn run(dir: &Path, args: &[&str]) {
    let output = tokio_command()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `openssl` ({e}): {INSTALL}"));
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Like [`run`], blocking: for tests that prepare files before any runtime work.
pub fn run_blocking(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `openssl` ({e}): {INSTALL}"));
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until the openssl server writing `log` prints `ACCEPT <addr>:PORT` (s_server and
/// `ocsp -port` both do once they listen) and returns the port; panics with the log when
/// `exited` reports an exit first or after 10 s.
pub async fn wait_accepting(
    what: &str,
    log: &Path,
    mut exited: impl FnMut() -> Option<ExitStatus>,
) -> u16 {
    let started = Instant::now();
    loop {
        let text = tokio::fs::read_to_string(log).await.unwrap_or_default();
        if let Some(port) = accepted_port(&text) {
            return port;
        }
        if let Some(status) = exited() {
            panic!("openssl {what} exited with {status} before listening:\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "openssl {what} did not listen within 10 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The port of the first `ACCEPT 127.0.0.1:PORT` or `ACCEPT [::]:PORT PID=…` line.
fn accepted_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.starts_with("ACCEPT "))?;
    let addr = line.split_whitespace().nth(1)?;
    addr.rsplit(':').next()?.parse().ok()
}

/// A CA made with openssl, for leaves rcgen cannot make (SHA-1 signatures, RSA-1024 keys).
pub struct OpensslCa {
    pub dir: tempfile::TempDir,
}

impl OpensslCa {
    /// An RSA-2048 root, written to `ca.pem` / `ca.key` in a new temp dir.
    pub async fn new() -> OpensslCa {
        let dir = tempfile::tempdir().expect("tempdir");
        run(
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
        run(
            dir,
            &[
                "req", "-newkey", &rsa, "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject,
            ],
        )
        .await;
        let digest = format!("-{digest}");
        run(
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
    let mut command = tokio_command();
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
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `openssl s_server` ({e}): {INSTALL}"));
    // s_server prints `ACCEPT 127.0.0.1:PORT` once it listens.
    let port = wait_accepting("s_server", &log, || child.try_wait().ok().flatten()).await;
    SServer {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        _child: child,
    }
}
