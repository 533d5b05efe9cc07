//! PostgreSQL's SSLRequest against a real server (Debian `postgresql`) with `ssl = on`, in a
//! cluster made for the test in a temp dir. PostgreSQL refuses to run as root, so as root the
//! cluster belongs to the `postgres` user.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{assert_probed_cleanly, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, read_log, run};

const PACKAGES: &str = "postgresql";

/// The newest installed server's binaries, `/usr/lib/postgresql/<version>/bin`.
fn server_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL server under /usr/lib/postgresql: this test needs the Debian package {PACKAGES} (bash scripts/test.sh installs it)")
    })
}

/// A command run as the cluster's owner: `postgres` when the tests run as root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A running cluster; stopped (immediately) when dropped.
struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = as_owner(&self.pg_ctl);
        stop.arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate"]);
        let _ = stop.output();
    }
}

#[tokio::test]
async fn postgres_with_ssl_on() {
    let bin = server_bin();
    let certs = Certs::new();
    let run_dir = tempfile::tempdir().unwrap();
    let dir = run_dir.path();
    let data = dir.join("data");
    let (chain, key) = certs.write_pem(dir, "db.test");
    if is_root() {
        run("chown", &mut {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(dir);
            c
        });
    }
    // The server refuses a key others can read.
    run("chmod", &mut {
        let mut c = Command::new("chmod");
        c.arg("0600").arg(&key);
        c
    });
    run("initdb", &mut {
        let mut c = as_owner(&bin.join("initdb"));
        c.arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"]);
        c
    });
    let port = free_port();
    let options = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
         -c ssl=on -c ssl_cert_file={chain} -c ssl_key_file={key}",
        dir.display()
    );
    let log = dir.join("postgres.log");
    let pg_ctl = bin.join("pg_ctl");
    let mut start = as_owner(&pg_ctl);
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-o", &options, "start"]);
    let started = start.output().expect("pg_ctl");
    let cluster = Cluster {
        pg_ctl: pg_ctl.clone(),
        data: data.clone(),
    };
    assert!(
        started.status.success(),
        "pg_ctl start failed: {}\n{}",
        String::from_utf8_lossy(&started.stderr),
        read_log(&log)
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let targets = format!(
        "  - name: db\n    address: {addr}\n    server_name: db.test\n    starttls: postgres\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["db"], WAIT).await;
    assert_probed_cleanly(&m, "db", &["connect", "starttls", "handshake"]);
    let leaf = m.find("cert_info", &[("target", "db"), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=db.test");
    h.stop().await;
    drop(cluster);
}
