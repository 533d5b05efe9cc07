//! SMTP, IMAP and POP3 STARTTLS against a real nginx mail proxy (Debian `nginx-light` and
//! `libnginx-mod-mail`). nginx answers STARTTLS before any authentication, so its `auth_http`
//! points at a loopback port nothing listens on.

use super::{assert_probed_cleanly, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{require, spawn_nginx};

/// Where Debian's `libnginx-mod-mail` installs the module.
const MAIL_MODULE: &str = "/usr/lib/nginx/modules/ngx_mail_module.so";
const PACKAGES: &str = "nginx-light libnginx-mod-mail";

#[tokio::test]
async fn smtp_imap_and_pop3_through_nginx() {
    let nginx = require("nginx", PACKAGES);
    assert!(
        std::path::Path::new(MAIL_MODULE).is_file(),
        "{MAIL_MODULE} is missing: this test needs the Debian packages {PACKAGES} (bash scripts/test.sh installs them)"
    );
    let certs = Certs::new();
    let run = tempfile::tempdir().unwrap();
    let dir = run.path().display().to_string();
    let (chain, key) = certs.write_pem(run.path(), "mail.test");
    let [smtp, imap, pop3] = [free_port(), free_port(), free_port()];
    let nowhere = free_port();
    let config = format!(
        "load_module {MAIL_MODULE};
master_process off;
pid {dir}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
mail {{
    server_name mail.test;
    auth_http 127.0.0.1:{nowhere}/auth;
    ssl_certificate {chain};
    ssl_certificate_key {key};
    starttls on;
    server {{ listen 127.0.0.1:{smtp}; protocol smtp; }}
    server {{ listen 127.0.0.1:{imap}; protocol imap; }}
    server {{ listen 127.0.0.1:{pop3}; protocol pop3; }}
}}
"
    );
    let config_path = super::write(run.path(), "nginx.conf", &config);
    let daemon = spawn_nginx(
        &nginx,
        &config_path,
        &dir,
        &run.path().join("nginx.log"),
        &[smtp, imap, pop3],
    );

    let targets = format!(
        "  - name: smtp\n    address: 127.0.0.1:{smtp}\n    server_name: mail.test\n    starttls: smtp\n\
         \x20 - name: imap\n    address: 127.0.0.1:{imap}\n    server_name: mail.test\n    starttls: imap\n\
         \x20 - name: pop3\n    address: 127.0.0.1:{pop3}\n    server_name: mail.test\n    starttls: pop3\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["smtp", "imap", "pop3"], WAIT).await;
    for name in ["smtp", "imap", "pop3"] {
        assert_probed_cleanly(&m, name, &["connect", "starttls", "handshake"]);
        let leaf = m.find("cert_info", &[("target", name), ("position", "0")]);
        assert_eq!(leaf[0].labels["subject"], "CN=mail.test", "{name}");
    }
    h.stop().await;
    drop(daemon);
}
