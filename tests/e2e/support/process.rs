//! Programs a test runs beside the exporter (nginx, PostgreSQL, tinyproxy, unbound, Prometheus,
//! Alertmanager): find the Debian binary or fail naming what to install, start it with its
//! output in a log file, wait until it serves, and kill it when the test ends — also when the
//! test fails half-way, since every handle here kills its process when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::get;

/// How long a program may take to start serving; generous for a loaded 2-core CI machine.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The path of `binary`, searched in `PATH` and the usual bin and sbin directories; panics
/// naming the Debian `packages` that provide it, so a machine without it fails instead of
/// silently skipping the test (`bash scripts/test.sh` installs them).
pub fn require(binary: &str, packages: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/bin"])
        .map(|dir| Path::new(dir).join(binary))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{binary}` is not installed: this test needs the Debian packages {packages} (bash scripts/test.sh installs them)")
    })
}

/// Whether the tests run as root (then servers that refuse root run as their own user).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `command` to completion (a daemon's set-up tool: `initdb`, `slapadd`, `postfix`, …);
/// panics with what it printed when it fails, naming it `what`.
pub fn run(what: &str, command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A program's log, for a failure message.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// A child process killed (by its own pid) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server process this test started, with its output in a log file; killed when dropped.
/// Synchronous: for servers the test waits on before the exporter runs.
pub struct Daemon {
    pub name: &'static str,
    child: KillOnDrop,
    log: PathBuf,
}

/// Starts nginx (`nginx`, Debian's binary) in the foreground on `config` with `prefix` as its
/// prefix directory, logging to `log`, and waits until it listens on every loopback port of
/// `ports`. The test's config holds the rest (its pid file, listeners, TLS).
pub fn spawn_nginx(nginx: &Path, config: &Path, prefix: &str, log: &Path, ports: &[u16]) -> Daemon {
    let mut command = Command::new(nginx);
    command
        .arg("-c")
        .arg(config)
        .args(["-p", prefix, "-e", "stderr", "-g", "daemon off;"]);
    let mut daemon = Daemon::spawn("nginx", command, log);
    for port in ports {
        daemon.wait_listening(SocketAddr::from(([127, 0, 0, 1], *port)));
    }
    daemon
}

impl Daemon {
    /// Starts `command` with its output going to `log`.
    pub fn spawn(name: &'static str, mut command: Command, log: &Path) -> Daemon {
        let out = std::fs::File::create(log).expect("daemon log");
        let err = out.try_clone().expect("daemon log");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name,
            child: KillOnDrop(child),
            log: log.to_path_buf(),
        }
    }

    /// Asks the server to stop (SIGTERM, so a master process such as Postfix's, Dovecot's or
    /// Apache's takes its children down too) and waits for it, at most [`START_LIMIT`]; the
    /// kill on drop remains for one that does not stop.
    pub fn terminate(&mut self) {
        let pid = self.child.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < START_LIMIT {
            if !matches!(self.child.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's output so far, for failure messages.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// Waits until `addr` accepts connections; panics with the server's log if it exits or
    /// takes too long.
    pub fn wait_listening(&mut self, addr: SocketAddr) {
        let start = Instant::now();
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.0.try_wait() {
                panic!(
                    "{} exited with {status} before listening on {addr}; its log:\n{}",
                    self.name,
                    read_log(&self.log)
                );
            }
            if start.elapsed() > START_LIMIT {
                panic!(
                    "{} not listening on {addr} after {START_LIMIT:?}; its log:\n{}",
                    self.name,
                    read_log(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An HTTP program this test started (Prometheus, Alertmanager), with its output in a log
/// file; killed when dropped (`kill_on_drop`). Asynchronous, because the exporter under test
/// runs on the test's own runtime.
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
    /// takes longer than [`START_LIMIT`].
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
            if start.elapsed() > START_LIMIT {
                panic!(
                    "{} not ready on {} after {START_LIMIT:?}; its log:\n{}",
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
        read_log(&self.log)
    }
}
