//! The Prometheus-side programs a test runs: find the Debian binary or fail naming the package,
//! pick a free loopback port, start it with its output in a log file, wait until it says it is
//! ready, and kill it when the test ends. Everything async, because the exporter under test
//! runs on the test's own runtime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::get;

/// How long a program may take to become ready; generous for a loaded 2-core CI machine.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// The path of `binary` in `PATH` or `/usr/bin`; panics naming the Debian `package` that
/// provides it, so a machine without it fails instead of silently skipping the test.
pub fn require(binary: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/local/bin"])
        .map(|dir| Path::new(dir).join(binary))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{binary}` is not installed: this test needs the Debian package {package} (bash scripts/test.sh installs it)")
    })
}

/// A loopback address nothing listens on right now (the port is released before returning,
/// so the program being started can bind it).
pub fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A program this test started; killed when dropped (`kill_on_drop`).
pub struct Service {
    /// What it is, for messages.
    pub name: &'static str,
    /// Where it serves HTTP.
    pub addr: SocketAddr,
    child: tokio::process::Child,
    /// Where its standard output and error go.
    log: PathBuf,
}

impl Service {
    /// Starts `binary` with `args`, its standard output and error going to `log`.
    pub fn spawn(
        name: &'static str,
        binary: &Path,
        args: &[String],
        addr: SocketAddr,
        log: &Path,
    ) -> Service {
        let out = std::fs::File::create(log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file handle");
        let child = tokio::process::Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", binary.display()));
        Service {
            name,
            addr,
            child,
            log: log.to_path_buf(),
        }
    }

    /// Waits until `GET /-/ready` answers 200; panics with the program's log if it exits or
    /// takes longer than [`READY_LIMIT`].
    pub async fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            let listening = tokio::net::TcpStream::connect(self.addr).await.is_ok();
            if listening && get(self.addr, "/-/ready", &[]).await.status == 200 {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before it was ready; its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if start.elapsed() > READY_LIMIT {
                panic!(
                    "{} not ready on {} after {READY_LIMIT:?}; its log:\n{}",
                    self.name,
                    self.addr,
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The program's output so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log.display()))
    }
}
