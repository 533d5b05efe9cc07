//! A name server that goes silent, answers, and goes silent again: the target behind the name
//! reports `dns_timeout` within its budget, keeps its schedule, and recovers as soon as names
//! resolve again; a target given by IP in the same exporter never notices.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cert_expiry_exporter::probe::Resolver;
use tokio::net::UdpSocket;

use super::{assert_healthy_stays_fresh, healthy_server, healthy_target, reasons, WAIT};
use crate::support::pki::Ca;
use crate::support::server::Task;
use crate::support::wait::probed_again;
use crate::support::Harness;

/// A UDP name server on loopback that answers every A query with 127.0.0.1 (TTL 1 s) and every
/// other query with no records — while `answering`; otherwise it reads queries and says nothing.
struct NameServer {
    addr: SocketAddr,
    answering: Arc<AtomicBool>,
    _task: Task,
}

impl NameServer {
    async fn start() -> NameServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = socket.local_addr().expect("addr");
        let answering = Arc::new(AtomicBool::new(false));
        let task = {
            let answering = answering.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1500];
                while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                    if !answering.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Some(reply) = answer(&buf[..n]) {
                        let _ = socket.send_to(&reply, from).await;
                    }
                }
            })
        };
        NameServer {
            addr,
            answering,
            _task: task.into(),
        }
    }

    fn answer(&self, on: bool) {
        self.answering.store(on, Ordering::SeqCst);
    }
}

/// The reply to one DNS query: its question echoed, and an A record for 127.0.0.1 when it asks
/// for one. `None` for what is not a query with one question.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    // The question: the name's labels up to the root, then QTYPE and QCLASS.
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += 1 + usize::from(query[end]);
    }
    let question_end = end + 5;
    let question = query.get(12..question_end)?;
    let qtype = u16::from_be_bytes([query[end + 1], query[end + 2]]);
    let a = qtype == 1;
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[0..2]); // id
    reply.extend_from_slice(&[0x81, 0x80]); // response, recursion desired and available, NOERROR
    reply.extend_from_slice(&[0, 1, 0, u8::from(a), 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if a {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1]);
    }
    Some(reply)
}

#[tokio::test]
async fn a_silent_name_server_costs_its_targets_their_timeout_and_no_more() {
    let root = Ca::root("DNS Root");
    let dir = root.in_temp_dir();
    let server = healthy_server(&root).await;
    let dns = NameServer::start().await;

    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 1s\n  metrics: {{phases: total}}\n  ca_file: {dir}/ca.pem\ntargets:\n  - name: by-name\n    address: flaky.test:{port}\n    server_name: healthy.test\n{healthy}",
        dir = dir.path().display(),
        port = server.addr.port(),
        healthy = healthy_target(&server),
    );
    let resolver = Resolver::with_name_servers(&[dns.addr]);
    let h = Harness::start_with_resolver(dir, &yaml, resolver).await;

    // Silent: a timeout per probe, within the 1 s budget, on schedule.
    let m = probed_again(&h, "by-name", 2, WAIT).await;
    assert_eq!(reasons(&m, "by-name"), ["dns_timeout"], "{}", m.text);
    let total = m.value(
        "cert_probe_duration_seconds",
        &[("target", "by-name"), ("phase", "total")],
    );
    // The 1 s budget, plus scheduling slack on a busy machine.
    assert!((0.9..2.0).contains(&total), "{total} s");
    assert_healthy_stays_fresh(&h).await;

    // Answering: the next probe resolves and succeeds.
    dns.answer(true);
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_probe_success", &[("target", "by-name")]) == Some(1.0)
        })
        .await;
    assert!(reasons(&m, "by-name").is_empty(), "{}", m.text);
    assert_eq!(m.value("cert_chain_valid", &[("target", "by-name")]), 1.0);

    // Silent again: once the 1 s TTL has run out, timeouts again.
    dns.answer(false);
    let m = h
        .wait_until(WAIT, |m| reasons(m, "by-name") == ["dns_timeout"])
        .await;
    assert_eq!(m.value("cert_probe_success", &[("target", "by-name")]), 0.0);
    assert_healthy_stays_fresh(&h).await;
    h.stop().await;
}
