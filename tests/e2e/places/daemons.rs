//! Running system servers (nginx, PostgreSQL, tinyproxy) for a test: find the binary or fail with
//! what to install, pick a free loopback port, wait until the server listens, stop it at the end.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a system server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The path of `binary`, searched in `PATH` and the sbin directories; panics naming the Debian
/// packages that provide it (`bash scripts/test.sh` installs them).
pub fn require(binary: &str, packages: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|dir| Path::new(dir).join(binary))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{binary}` is not installed: this test needs the Debian packages {packages} (bash scripts/test.sh installs them)")
    })
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether the tests run as root (then servers that refuse root run as their own user).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A server process this test started; killed (by its own pid) when dropped.
pub struct Daemon {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
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
            child,
            log: log.to_path_buf(),
        }
    }

    /// Waits until `addr` accepts connections; panics with the server's log if it exits or
    /// takes too long.
    pub fn wait_listening(&mut self, addr: SocketAddr) {
        let start = Instant::now();
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
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

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server's log, for a failure message.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}
