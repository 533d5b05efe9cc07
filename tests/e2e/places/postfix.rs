//! SMTP STARTTLS against a real Postfix (Debian `postfix`): a private instance per test, its
//! main.cf, master.cf, queue and data directories in a temp dir and its master process in the
//! foreground (`master -c DIR -d`), listening on free loopback ports only. Postfix's master
//! runs as root and its servers as the package's `postfix` user, so the tests run as root (CI
//! does).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{advice_of, assert_serves_the_chain, check_config, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, read_log, require, run, Daemon};
use crate::support::write;

const PACKAGES: &str = "postfix";
/// Where Debian's `postfix` installs the master and its servers.
const DAEMON_DIR: &str = "/usr/lib/postfix/sbin";

/// A running private Postfix instance; stopped (SIGTERM to its master) when dropped.
struct Postfix {
    daemon: Daemon,
    maillog: std::path::PathBuf,
}

impl Postfix {
    /// Starts a Postfix whose main.cf is the common settings plus `main_extra`, whose master.cf
    /// is `services` plus the internal services it needs, serving the leaf `certs` made for
    /// `mail.test`; waits until every address in `addrs` accepts connections.
    fn start(
        dir: &Path,
        certs: &Certs,
        main_extra: &str,
        services: &str,
        addrs: &[SocketAddr],
    ) -> Postfix {
        require("postconf", PACKAGES);
        let master = Path::new(DAEMON_DIR).join("master");
        assert!(
            master.is_file(),
            "{} is missing: this test needs the Debian package {PACKAGES} (bash scripts/test.sh installs it)",
            master.display()
        );
        assert!(
            is_root(),
            "Postfix's master must run as root: run these tests as root, as CI does"
        );
        // The servers run as `postfix` and must reach their queue inside the temp dir.
        chmod("0755", dir);
        let (chain, key) = certs.write_pem(dir, "mail.test");
        let d = dir.display();
        for sub in ["queue/pid", "queue/public", "queue/private", "data"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for owned in ["queue/public", "queue/private", "data"] {
            run(
                "chown",
                Command::new("chown").arg("postfix").arg(dir.join(owned)),
            );
        }
        let main = format!(
            "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = {DAEMON_DIR}
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = all
myhostname = mail.test
mydestination =
mynetworks = 127.0.0.0/8, [::1]/128
alias_maps =
alias_database =
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtpd_tls_cert_file = {chain}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
{main_extra}"
        );
        write(dir, "main.cf", &main);
        let master_cf = format!(
            "{services}
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
"
        );
        write(dir, "master.cf", &master_cf);
        let mut command = Command::new(&master);
        command.arg("-c").arg(dir).arg("-d");
        // Stopped when dropped, also if it does not come up.
        let mut postfix = Postfix {
            daemon: Daemon::spawn("postfix", command, &dir.join("master.log")),
            maillog: dir.join("maillog"),
        };
        for &addr in addrs {
            postfix.daemon.wait_listening(addr);
        }
        postfix
    }

    /// Postfix's own log, for failure messages.
    fn log(&self) -> String {
        format!("{}\n{}", self.daemon.log_text(), read_log(&self.maillog))
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.daemon.terminate();
    }
}

fn chmod(mode: &str, path: &Path) {
    run("chmod", Command::new("chmod").arg(mode).arg(path));
}

/// Asserts that `check` reached the certificate of a `check` result over TLS 1.3 and found the
/// chain valid.
fn assert_checked_cleanly(r: &serde_json::Value, postfix: &Postfix) {
    let name = &r["target"];
    assert_eq!(
        r["probe_error"],
        serde_json::Value::Null,
        "{name}: {r:#}\n{}",
        postfix.log()
    );
    assert_eq!(r["chain_valid"], true, "{name}: {r:#}");
    assert_eq!(r["tls"]["version"], "TLS 1.3", "{name}: {r:#}");
}

/// A loopback address on `port`.
fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An SMTP target on `addr` for the exporter's `targets:`, with `extra` settings.
fn smtp_target(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!(
        "  - name: {name}\n    address: '{addr}'\n    server_name: mail.test\n    starttls: smtp\n{extra}"
    )
}

/// Port-25-style smtpd (`smtpd_tls_security_level=may`), a submission service (587-style, TLS
/// required) and an smtpd that refuses an EHLO that is not a domain or address literal
/// (`reject_non_fqdn_helo_hostname`, checked at EHLO with `smtpd_delay_reject=no`), over IPv4
/// and IPv6 (`EHLO [IPv6:::1]`) and with a configured name: the probe's EHLO must pass them all.
#[tokio::test]
async fn postfix_smtp_submission_and_a_strict_helo_check() {
    let run_dir = tempfile::tempdir().unwrap();
    let certs = Certs::new();
    let [mx, submission, strict, named] =
        [free_port(), free_port(), free_port(), free_port()].map(v4);
    let strict6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, free_port()));
    let strict_options = "-o smtpd_helo_required=yes -o smtpd_delay_reject=no \
                          -o smtpd_helo_restrictions=reject_invalid_helo_hostname,reject_non_fqdn_helo_hostname";
    let services = format!(
        "{mx} inet n - n - - smtpd
{submission} inet n - n - - smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_mandatory_protocols=>=TLSv1.2
{strict} inet n - n - - smtpd -o syslog_name=postfix/strict {strict_options}
{strict6} inet n - n - - smtpd -o syslog_name=postfix/strict6 {strict_options}
{named} inet n - n - - smtpd -o syslog_name=postfix/named {strict_options}"
    );
    let postfix = Postfix::start(
        run_dir.path(),
        &certs,
        "",
        &services,
        &[mx, submission, strict, strict6, named],
    );

    let targets = [
        smtp_target("mx", mx, ""),
        smtp_target("submission", submission, ""),
        smtp_target("strict", strict, ""),
        smtp_target("strict6", strict6, ""),
        // A configured EHLO name instead of the address literal.
        smtp_target("named", named, "    smtp_helo_name: prober.example.net\n"),
    ]
    .concat();
    let (code, results) = check_config(certs.dir.path(), "10s", &targets).await;
    for name in ["mx", "submission", "strict", "strict6", "named"] {
        assert_checked_cleanly(&results[name], &postfix);
    }
    // Postfix's default still allows TLS 1.0 and 1.1, which `check` finds through STARTTLS too;
    // the submission service allows only TLS 1.2 and 1.3.
    assert_eq!(
        results["submission"]["status"], "ok",
        "{:#}",
        results["submission"]
    );
    for name in ["mx", "strict", "strict6", "named"] {
        let r = &results[name];
        assert_eq!(r["status"], "attention", "{name}: {r:#}");
        assert!(advice_of(r, "legacy_protocol").contains("switch TLS 1.0 and 1.1 off"));
    }
    assert_eq!(code, 1);

    let h = exporter(certs, "10s", &targets).await;
    let names = ["mx", "submission", "strict", "strict6", "named"];
    let m = h.wait_for_probes(&names, WAIT).await;
    for name in names {
        if !m.reasons("cert_probe_error_info", name).is_empty() {
            panic!(
                "{name} failed:\n{}\nPostfix's log:\n{}",
                m.text,
                postfix.log()
            );
        }
        assert_serves_the_chain(&m, name, "mail.test", &["connect", "starttls", "handshake"]);
    }
    h.stop().await;
    let log = postfix.log();
    assert!(
        !log.contains("need fully-qualified hostname"),
        "Postfix refused an EHLO:\n{log}"
    );
    drop(postfix);
}

/// Postfix's postscreen sends `220-` at once and the final `220 ` only after its greet wait:
/// a probe whose timeout is shorter fails as `starttls_timeout` quoting the unfinished
/// greeting, and `check` advises a longer timeout (not implicit TLS); a timeout above the
/// greet wait succeeds.
#[tokio::test]
async fn postfix_postscreen_greet_wait_longer_than_the_timeout() {
    let run_dir = tempfile::tempdir().unwrap();
    let certs = Certs::new();
    let addr = v4(free_port());
    let services = format!(
        "{addr} inet n - n - 1 postscreen
smtpd pass - - n - - smtpd"
    );
    // Every new client's greeting waits 3 s (a client that passed is let through at once
    // afterwards, so the short timeout is tried first), loopback too; no DNS lists.
    let main_extra =
        "postscreen_greet_wait = 3s\npostscreen_access_list =\npostscreen_dnsbl_sites =\n";
    let postfix = Postfix::start(run_dir.path(), &certs, main_extra, &services, &[addr]);

    let short = smtp_target("short", addr, "    timeout: 1s\n");
    let (code, results) = check_config(certs.dir.path(), "1s", &short).await;
    let r = &results["short"];
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(r["probe_error"]["reason"], "starttls_timeout", "{r:#}");
    let detail = r["probe_error"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("SMTP STARTTLS: the server's greeting was unfinished at the probe timeout; it had sent \"220-mail.test"),
        "{detail}\n{}",
        postfix.log()
    );
    let advice = advice_of(r, "starttls_timeout");
    assert!(
        advice.contains("raise the target's timeout above the server's greeting delay")
            && advice.contains("postscreen_greet_wait"),
        "{advice}"
    );
    assert!(!advice.contains("implicit-TLS"), "{advice}");

    let h = exporter(certs, "1s", &short).await;
    let m = h.wait_for_probes(&["short"], WAIT).await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "short"),
        ["starttls_timeout"],
        "{}\n{}",
        m.text,
        postfix.log()
    );
    assert_eq!(m.value("cert_probe_success", &[("target", "short")]), 0.0);

    // Above the greet wait, the same port is probed cleanly.
    let patient = smtp_target("patient", addr, "");
    let (code, results) = check_config(&h.path(""), "10s", &patient).await;
    assert_checked_cleanly(&results["patient"], &postfix);
    assert_eq!(code, 1, "only TLS 1.0 and 1.1 need attention");
    h.stop().await;
    drop(postfix);
}

/// DANE for SMTP (RFC 7672) against a real Postfix: TLSA records at `_<port>._tcp.mail.test`
/// in the DNSSEC-signed test zone of `dns_checks` (knotd signing, unbound validating), read
/// after STARTTLS: `3 1 1` of Postfix's leaf and `2 1 1` of its intermediate match; a record of
/// a key Postfix no longer serves is a mismatch, which `check` calls broken (validating senders
/// refuse to deliver) with the record to publish.
#[tokio::test]
async fn dane_tlsa_records_of_a_postfix_mx_after_starttls() {
    use crate::dns_checks::{config, openssl_digest, start_name_servers, Zones};
    let run_dir = tempfile::tempdir().unwrap();
    let certs = Certs::new();
    let [ee, ta, stale] = [free_port(), free_port(), free_port()].map(v4);
    let services = format!(
        "{ee} inet n - n - - smtpd\n{ta} inet n - n - - smtpd\n{stale} inet n - n - - smtpd"
    );
    let postfix = Postfix::start(run_dir.path(), &certs, "", &services, &[ee, ta, stale]);
    let chain = std::fs::read_to_string(run_dir.path().join("server-chain.pem")).unwrap();
    let leaf = pem::parse_many(&chain).unwrap().remove(0);
    let d = certs.dir.path();
    let leaf_spki = openssl_digest(d, leaf.contents(), true, "sha256");
    let inter_spki = openssl_digest(d, &certs.inter.der, true, "sha256");
    // The key of a certificate Postfix served before its renewal.
    let old = certs
        .inter
        .leaf(&crate::support::pki::LeafSpec::new("mail.test", 60));
    let old_spki = openssl_digest(d, &old.der, true, "sha256");
    let dns = start_name_servers(&Zones {
        test: format!(
            "_{}._tcp.mail IN TLSA 3 1 1 {leaf_spki}\n_{}._tcp.mail IN TLSA 2 1 1 {inter_spki}\n\
             _{}._tcp.mail IN TLSA 3 1 1 {old_spki}\n",
            ee.port(),
            ta.port(),
            stale.port()
        ),
        ..Zones::default()
    });
    let targets = [
        smtp_target("ee", ee, "    dane: true\n"),
        smtp_target("ta", ta, "    dane: true\n"),
        smtp_target("stale", stale, "    dane: true\n"),
    ]
    .concat();
    let yaml = config(dns.resolver, &d.join("ca.pem"), &targets);
    let path = write(d, "config.yaml", &yaml);
    let path = path.display().to_string();
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &path]).await;
    let results = doc["results"].as_array().unwrap();
    let findings = |t: &str| -> Vec<serde_json::Value> {
        results
            .iter()
            .find(|r| r["target"] == t)
            .unwrap_or_else(|| panic!("{t}: {doc:#}\n{}", postfix.log()))["findings"]
            .as_array()
            .unwrap()
            .clone()
    };
    for t in ["ee", "ta"] {
        assert!(
            findings(t).iter().any(|f| f["code"] == "dane_match"),
            "{t}: {doc:#}"
        );
    }
    let mismatch = findings("stale");
    let f = mismatch
        .iter()
        .find(|f| f["code"] == "dane_mismatch")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(f["severity"], "broken", "{doc:#}");
    assert!(
        f["message"].as_str().unwrap().contains("refuse to deliver"),
        "{doc:#}"
    );
    assert!(
        f["advice"].as_str().unwrap().contains(&format!(
            "_{}._tcp.mail.test. IN TLSA 3 1 1 {leaf_spki}",
            stale.port()
        )),
        "{doc:#}"
    );
    assert_eq!(code, 2, "{doc:#}");

    let h = crate::support::Harness::start_in(certs.dir, &yaml).await;
    let m = h.wait_for_probes(&["ee", "ta", "stale"], WAIT).await;
    for (t, matched) in [("ee", 1.0), ("ta", 1.0), ("stale", 0.0)] {
        assert_eq!(
            m.get("cert_dane_match", &[("target", t)]),
            Some(matched),
            "{t}: {}",
            m.text
        );
        assert_eq!(
            m.get("cert_dane_dnssec_validated", &[("target", t)]),
            Some(1.0),
            "{t}"
        );
        assert_eq!(m.value("cert_chain_valid", &[("target", t)]), 1.0, "{t}");
    }
    h.stop().await;
    drop(postfix);
}
