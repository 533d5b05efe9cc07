//! IMAP and POP3 STARTTLS against a real Dovecot (Debian `dovecot-imapd`, `dovecot-pop3d`): its
//! configuration, runtime and state directories in a temp dir, the master in the foreground
//! (`dovecot -F -c`), listening on free loopback ports only. The probe never logs in, so the
//! password and user databases are static placeholders. Dovecot's login processes run as the
//! package's `dovenull` user, so the tests run as root (CI does).

use std::net::SocketAddr;
use std::process::Command;

use super::{assert_serves_the_chain, check_config, exporter, Certs, Terminating, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, require, Daemon};
use crate::support::write;

const PACKAGES: &str = "dovecot-imapd dovecot-pop3d";

#[tokio::test]
async fn dovecot_imap_and_pop3() {
    let dovecot = require("dovecot", PACKAGES);
    assert!(
        is_root(),
        "Dovecot's master must run as root: run these tests as root, as CI does"
    );
    let run_dir = tempfile::tempdir().unwrap();
    let dir = run_dir.path();
    // The login processes (`dovenull`) chroot into the runtime directory inside the temp dir.
    let chmod = Command::new("chmod").arg("0755").arg(dir).status().unwrap();
    assert!(chmod.success());
    let certs = Certs::new();
    let (chain, key) = certs.write_pem(dir, "mail.test");
    let [imap, pop3] = [free_port(), free_port()];
    let d = dir.display();
    let config = format!(
        "base_dir = {d}/run
state_dir = {d}/state
log_path = /dev/stderr
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{chain}
ssl_key = <{key}
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"
    );
    let config_path = write(dir, "dovecot.conf", &config);
    let mut command = Command::new(dovecot);
    command.arg("-F").arg("-c").arg(&config_path);
    let mut daemon = Terminating(Daemon::spawn("dovecot", command, &dir.join("dovecot.log")));
    for port in [imap, pop3] {
        daemon
            .0
            .wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));
    }

    let targets = format!(
        "  - name: imap\n    address: 127.0.0.1:{imap}\n    server_name: mail.test\n    starttls: imap\n\
         \x20 - name: pop3\n    address: 127.0.0.1:{pop3}\n    server_name: mail.test\n    starttls: pop3\n"
    );
    let (code, results) = check_config(certs.dir.path(), "10s", &targets).await;
    for name in ["imap", "pop3"] {
        let r = &results[name];
        assert_eq!(r["status"], "ok", "{name}: {r:#}\n{}", daemon.0.log_text());
        assert_eq!(r["chain_valid"], true, "{name}: {r:#}");
        assert_eq!(r["tls"]["version"], "TLS 1.3", "{name}: {r:#}");
    }
    assert_eq!(code, 0);

    let h = exporter(certs, "10s", &targets).await;
    let m = h.wait_for_probes(&["imap", "pop3"], WAIT).await;
    for name in ["imap", "pop3"] {
        assert!(
            m.reasons("cert_probe_error_info", name).is_empty(),
            "{name}:\n{}\nDovecot's log:\n{}",
            m.text,
            daemon.0.log_text()
        );
        assert_serves_the_chain(&m, name, "mail.test", &["connect", "starttls", "handshake"]);
    }
    h.stop().await;
    drop(daemon);
}
