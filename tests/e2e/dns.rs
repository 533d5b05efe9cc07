//! Name resolution against a real name server: unbound, on a loopback port of its own, serving a
//! local zone and logging every query it receives, so a test can count what reached it.
//!
//! A name the hosts file knows asks no name server at all (glibc's `hosts: files dns`); a name
//! only in DNS is asked once per TTL, shared by every probe and every reload; a negative answer
//! is cached for its TTL too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cert_expiry_exporter::config::Address;
use cert_expiry_exporter::probe::Resolver;

use crate::support::pki::{Ca, LeafSpec};
use crate::support::ports::free_udp_and_tcp_port;
use crate::support::process::{require, KillOnDrop};
use crate::support::tls_server;
use crate::support::wait::probed_again;
use crate::support::{write, Harness};

/// The zone unbound serves. Its SOA's minimum (60 s) is the negative TTL of its NXDOMAIN and
/// no-record answers.
const ZONE: &str = "dns.test.";

/// unbound serving `records` (lines of zone data, e.g. `a.dns.test. 300 IN A 127.0.0.1`) in
/// [`ZONE`], nothing else; stopped on drop.
struct Unbound {
    addr: SocketAddr,
    log: PathBuf,
    child: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl Unbound {
    fn start(records: &[&str]) -> Unbound {
        let mut data = format!(
            "  local-zone: \"{ZONE}\" static\n  local-data: \"{ZONE} 3600 IN SOA ns.{ZONE} hostmaster.{ZONE} 1 3600 900 86400 60\"\n"
        );
        for record in records {
            data.push_str(&format!("  local-data: \"{record}\"\n"));
        }
        // A free port: should another process take it between the check and unbound's bind,
        // unbound exits and the next port is tried.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("unbound.log");
            let port = free_udp_and_tcp_port();
            let config = write(
                dir.path(),
                "unbound.conf",
                &format!(
                    "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  do-daemonize: no\n  \
                     username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  \
                     logfile: \"{log}\"\n  use-syslog: no\n  log-queries: yes\n  verbosity: 0\n  \
                     module-config: \"iterator\"\n{data}remote-control:\n  control-enable: no\n",
                    dir = dir.path().display(),
                    log = log.display(),
                ),
            );
            let child = Command::new(require("unbound", "unbound"))
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start unbound");
            let mut server = Unbound {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                log,
                child: KillOnDrop(child),
                _dir: dir,
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("unbound did not start on any of 5 loopback ports");
    }

    /// Waits for unbound's "start of service" line; false when it exited first.
    fn wait_ready(&mut self) -> bool {
        let limit = Instant::now() + Duration::from_secs(30);
        while Instant::now() < limit {
            if self.log_text().contains("start of service") {
                return true;
            }
            if self.child.0.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The queries unbound has received for `name` (of any type). unbound logs each one as it
    /// arrives, before it answers, so every query a finished lookup sent is counted.
    fn queries(&self, name: &str) -> usize {
        let needle = format!(" {}. ", name.trim_end_matches('.'));
        self.log_text()
            .lines()
            .filter(|line| line.contains("info: 127.0.0.1 ") && line.contains(&needle))
            .count()
    }

    /// Every query unbound has received.
    fn all_queries(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|line| line.contains("info: 127.0.0.1 "))
            .count()
    }
}

fn address(text: &str) -> Address {
    Address::parse(text).unwrap()
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn hosts_file(dir: &Path, text: &str) -> PathBuf {
    write(dir, "hosts", text)
}

#[tokio::test]
async fn a_name_in_the_hosts_file_asks_no_name_server() {
    // Every name here is in DNS too, with other addresses: an answer from the server would show.
    let dns = Unbound::start(&[
        "v4only.dns.test. 300 IN A 10.0.0.1",
        "v4only.dns.test. 300 IN AAAA 2001:db8::1",
        "alias.dns.test. 300 IN A 10.0.0.2",
        "v6only.dns.test. 300 IN A 10.0.0.3",
        "both.dns.test. 300 IN A 10.0.0.4",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let hosts = hosts_file(
        dir.path(),
        "# hosts of this test\n\
         127.0.0.1\tlocalhost\n\
         127.0.0.2   v4only.dns.test   Alias.DNS.test   # only an IPv4 line\n\
         ::1         v6only.dns.test.\n\
         127.0.0.3   both.dns.test\n\
         ::3         both.dns.test\n",
    );
    let resolver = Resolver::with_hosts_file_and_name_servers(&hosts, &[dns.addr]);

    for _ in 0..3 {
        let got = resolver.resolve(&address("v4only.dns.test:443")).await;
        assert_eq!(got.unwrap(), addrs(&["127.0.0.2:443"]));
    }
    let got = resolver.resolve(&address("alias.dns.test.:443")).await;
    assert_eq!(got.unwrap(), addrs(&["127.0.0.2:443"]));
    let got = resolver.resolve(&address("V6ONLY.dns.test:443")).await;
    assert_eq!(got.unwrap(), addrs(&["[::1]:443"]));
    let got = resolver.resolve(&address("both.dns.test:443")).await;
    assert_eq!(got.unwrap(), addrs(&["127.0.0.3:443", "[::3]:443"]));
    assert_eq!(dns.all_queries(), 0, "{}", dns.log_text());

    // The operator removes the line: the file is read again, and the name goes to DNS.
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let got = resolver.resolve(&address("v4only.dns.test:443")).await;
    assert_eq!(got.unwrap(), addrs(&["10.0.0.1:443", "[2001:db8::1]:443"]));
    assert_eq!(dns.queries("v4only.dns.test"), 2, "{}", dns.log_text());
    // ... and adds it back: no query again.
    std::fs::write(&hosts, "127.0.0.9 v4only.dns.test\n").unwrap();
    let got = resolver.resolve(&address("v4only.dns.test:443")).await;
    assert_eq!(got.unwrap(), addrs(&["127.0.0.9:443"]));
    assert_eq!(dns.all_queries(), 2, "{}", dns.log_text());
}

#[tokio::test]
async fn a_name_only_in_dns_is_asked_once_per_ttl() {
    let dns = Unbound::start(&["only-dns.dns.test. 300 IN A 127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap();
    let hosts = hosts_file(dir.path(), "127.0.0.1 localhost\n");
    let resolver = Resolver::with_hosts_file_and_name_servers(&hosts, &[dns.addr]);

    for _ in 0..5 {
        let got = resolver.resolve(&address("only-dns.dns.test:443")).await;
        assert_eq!(got.unwrap(), addrs(&["127.0.0.1:443"]));
    }
    // One A query (answered, TTL 300 s) and one AAAA query (no record, the SOA's 60 s).
    assert_eq!(dns.queries("only-dns.dns.test"), 2, "{}", dns.log_text());
    // A clone (what each prober of a reload gets) shares the cache.
    let clone = resolver.clone();
    let got = clone.resolve(&address("only-dns.dns.test:8443")).await;
    assert_eq!(got.unwrap(), addrs(&["127.0.0.1:8443"]));
    assert_eq!(dns.queries("only-dns.dns.test"), 2, "{}", dns.log_text());
}

#[tokio::test]
async fn a_negative_answer_is_cached_too() {
    let dns = Unbound::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let hosts = hosts_file(dir.path(), "127.0.0.1 localhost\n");
    let resolver = Resolver::with_hosts_file_and_name_servers(&hosts, &[dns.addr]);

    for _ in 0..5 {
        let failure = resolver
            .resolve(&address("no-such-name.dns.test:443"))
            .await
            .expect_err("NXDOMAIN");
        assert_eq!(failure.reason.as_str(), "dns", "{failure:?}");
    }
    // NXDOMAIN for A and AAAA, each asked once, then believed for the SOA's 60 s.
    assert_eq!(
        dns.queries("no-such-name.dns.test"),
        2,
        "{}",
        dns.log_text()
    );
}

/// Through the exporter: probes every second and a reload all share one resolver, so a name only
/// in DNS costs its two queries once per TTL, not once per probe.
#[tokio::test]
async fn probes_and_reloads_share_the_cache() {
    let dns = Unbound::start(&["served.dns.test. 300 IN A 127.0.0.1"]);
    let root = Ca::root("DNS Cache Root");
    let leaf = root.leaf(&LeafSpec::new("served.dns.test", 90));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let hosts = hosts_file(dir.path(), "127.0.0.1 localhost\n");
    let target = |name: &str| {
        format!(
            "  - name: {name}\n    address: served.dns.test:{port}\n",
            port = server.addr.port()
        )
    };
    let ca_file = dir.path().join("ca.pem");
    let yaml = |targets: &str| {
        format!(
            "defaults:\n  interval: 1s\n  timeout: 5s\n  ca_file: {ca}\ntargets:\n{targets}",
            ca = ca_file.display(),
        )
    };
    let resolver = Resolver::with_hosts_file_and_name_servers(&hosts, &[dns.addr]);
    let h = Harness::start_with_resolver(dir, &yaml(&target("first")), resolver).await;

    probed_again(&h, "first", 3, Duration::from_secs(30)).await;
    std::fs::write(&h.config_path, yaml(&(target("first") + &target("second")))).unwrap();
    h.exporter.as_ref().unwrap().reload().expect("reload");
    let m = probed_again(&h, "second", 3, Duration::from_secs(30)).await;
    assert_eq!(
        m.value("cert_probe_success", &[("target", "second")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "first")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(dns.queries("served.dns.test"), 2, "{}", dns.log_text());
    h.stop().await;
}
