//! STARTTLS against in-test servers: the ways a server can fail the upgrade that real servers do
//! not show on demand (SMTP and PostgreSQL without TLS stay here until real servers cover
//! them). Successful upgrades, and FTP, LDAP, MySQL and XMPP servers without TLS, are tested
//! against real daemons (`mail.rs`, `postgres.rs`, `ftp_vsftpd.rs`, `ldap_slapd.rs`,
//! `mysql_mariadb.rs`, `xmpp_prosody.rs`).

use super::dialogue_servers as servers;
use super::{exporter, Certs, WAIT};
use crate::support::pki::LeafSpec;

/// The leaf every server here presents.
fn spec() -> LeafSpec {
    LeafSpec::new("svc.test", 40)
}

/// One target line per server: `name`, address, protocol.
fn target(name: &str, addr: std::net::SocketAddr, protocol: &str) -> String {
    format!(
        "  - name: {name}\n    address: {addr}\n    server_name: svc.test\n    starttls: {protocol}\n"
    )
}

#[tokio::test]
async fn servers_that_do_not_offer_tls_are_unsupported() {
    let certs = Certs::new();
    let (c, k) = certs.chain(&spec());
    let smtp = servers::smtp(c, k, false, "").await;
    let (c, k) = certs.chain(&spec());
    let postgres = servers::postgres_without_ssl(c, k).await;
    let targets = [
        target("smtp", smtp.addr, "smtp"),
        target("postgres", postgres.addr, "postgres"),
    ]
    .concat();
    let h = exporter(certs, "5s", &targets).await;
    let names = ["smtp", "postgres"];
    let m = h.wait_for_probes(&names, WAIT).await;
    for name in names {
        assert_eq!(
            m.reasons("cert_probe_error_info", name),
            ["starttls_unsupported"],
            "{name}:\n{}",
            m.text
        );
        assert_eq!(m.value("cert_probe_success", &[("target", name)]), 0.0);
        assert!(m.get("cert_chain_valid", &[("target", name)]).is_none());
        assert!(m
            .get(
                "cert_probe_duration_seconds",
                &[("target", name), ("phase", "starttls")]
            )
            .is_some());
    }
    h.stop().await;
}

#[tokio::test]
async fn unexpected_answers_and_endless_lines_fail_the_dialogue_quickly() {
    let certs = Certs::new();
    let (c, k) = certs.chain(&spec());
    // Offers STARTTLS, then refuses it.
    let refusing = servers::smtp(
        c,
        k,
        true,
        "454 4.7.0 TLS not available due to local problem\r\n",
    )
    .await;
    let (c, k) = certs.chain(&spec());
    let endless = servers::endless_line(c, k).await;
    let (c, k) = certs.chain(&spec());
    // Speaks SMTP where IMAP was configured.
    let wrong_protocol = servers::smtp(c, k, true, "220 go\r\n").await;
    let targets = [
        target("refusing", refusing.addr, "smtp"),
        target("endless", endless.addr, "smtp"),
        target("wrong_protocol", wrong_protocol.addr, "imap"),
    ]
    .concat();
    let h = exporter(certs, "10s", &targets).await;
    let names = ["refusing", "endless", "wrong_protocol"];
    let m = h.wait_for_probes(&names, WAIT).await;
    for name in names {
        assert_eq!(
            m.reasons("cert_probe_error_info", name),
            ["starttls"],
            "{name}:\n{}",
            m.text
        );
    }
    // Given up on size, long before the 10s timeout.
    let total = m.value(
        "cert_probe_duration_seconds",
        &[("target", "endless"), ("phase", "total")],
    );
    assert!(total < 5.0, "the endless line took {total}s");
    h.stop().await;
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_in_the_starttls_phase() {
    let certs = Certs::new();
    // Waits for a ClientHello, as an implicit-TLS port (465, 993) does.
    let silent = crate::support::tls_server::silent().await;
    let h = exporter(certs, "1s", &target("silent", silent.addr, "smtp")).await;
    let m = h.wait_for_probes(&["silent"], WAIT).await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "silent"),
        ["starttls_timeout"]
    );
    let total = m.value(
        "cert_probe_duration_seconds",
        &[("target", "silent"), ("phase", "total")],
    );
    assert!((0.9..1.5).contains(&total), "a 1s timeout took {total}s");
    h.stop().await;
}
