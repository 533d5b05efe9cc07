//! The DANE check (RFC 6698, RFC 7671, RFC 7672 for SMTP): do the TLSA records of
//! `_<port>._tcp.<server_name>` match the served chain, and did the resolver validate them
//! with DNSSEC? After a probe that got a chain, for targets with `dane: true`.
//!
//! The query is sent here rather than through hickory's resolver, whose lookups do not expose
//! the answer's header: the AD bit is the validating resolver's word that the answer was
//! DNSSEC-validated (RFC 6840 §5.7: a query with AD set asks for it, without the DO bit's
//! signatures). It goes to the resolver's name servers in order, over UDP with EDNS (1232-byte
//! payload), and over TCP when the answer is truncated; an answer must carry the query's id and
//! question. The AD bit is only as trustworthy as the path to the resolver: a resolver on the
//! same host or network (RFC 6698 §4.1). Matching is [`crate::x509::dane`]'s. Nothing here
//! touches the TLS verdict.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::failure::{Failure, Reason};
use crate::x509::dane::{self, Association, DaneMatch};

/// How long one query waits for its answer (UDP, or a TCP exchange after truncation).
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Rounds over the name servers, as the resolver's attempts.
const ATTEMPTS: usize = 2;

/// The EDNS payload size offered (the DNS flag day 2020 value).
const UDP_PAYLOAD: u16 = 1232;

/// The largest UDP answer read; a longer datagram is cut and then fails to decode.
const UDP_BUFFER: usize = 4096;

/// The largest answer over TCP accepted (a TLSA set of a few dozen full certificates).
const TCP_MAX: usize = 32 * 1024;

/// Datagrams with another id (late answers, spoofs) skipped before giving up on a query.
const STRAY_MAX: usize = 16;

/// Why the DANE check has no verdict (the `reason` label of `cert_dane_error_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaneReason {
    /// No name server answered in time.
    DnsTimeout,
    /// SERVFAIL: the zone's servers failed, or DNSSEC validation did (a bogus answer).
    DnsServfail,
    /// The TLSA name does not exist (NXDOMAIN).
    DnsNxdomain,
    /// The name exists and has no TLSA records.
    NoRecords,
    /// An answer that does not parse, or does not answer the question asked.
    DnsMalformed,
    /// Any other failure: REFUSED and other response codes, no name server to ask, a socket
    /// error.
    DnsFailed,
}

impl Reason for DaneReason {
    fn as_str(self) -> &'static str {
        match self {
            DaneReason::DnsTimeout => "dns_timeout",
            DaneReason::DnsServfail => "dns_servfail",
            DaneReason::DnsNxdomain => "dns_nxdomain",
            DaneReason::NoRecords => "no_records",
            DaneReason::DnsMalformed => "dns_malformed",
            DaneReason::DnsFailed => "dns_failed",
        }
    }
}

/// What the TLSA records say about the served chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaneVerdict {
    /// Whether the resolver set the AD bit: the records were DNSSEC-validated.
    pub validated: bool,
    /// The records as served (`3 1 1 <hex>`), at most [`RECORDS_KEPT`].
    pub records: Vec<String>,
    /// The usable and unusable counts and the matching record.
    pub verdict: DaneMatch,
}

/// The most records a report keeps for `check`'s words.
pub const RECORDS_KEPT: usize = 8;

/// The outcome of one DANE check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaneReport {
    /// The TLSA name looked up, `_<port>._tcp.<server_name>`, without the final dot.
    pub name: String,
    /// The `3 1 1` record of the served leaf (its key's SHA-256): what to publish.
    pub leaf_record: Option<String>,
    /// The verdict, or why there is none.
    pub outcome: Result<DaneVerdict, Failure<DaneReason>>,
}

/// The TLSA name of `server_name` at `port` (RFC 6698 §3).
pub fn tlsa_name(server_name: &str, port: u16) -> String {
    format!(
        "_{port}._tcp.{}",
        server_name.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// Runs the check for `server_name` at `port` against the served `chain` (DER, leaf first),
/// asking `servers`.
pub async fn check<C: AsRef<[u8]>>(
    servers: &[SocketAddr],
    server_name: &str,
    port: u16,
    chain: &[C],
) -> DaneReport {
    let name = tlsa_name(server_name, port);
    let leaf_record = chain
        .first()
        .and_then(|leaf| Association::of(leaf.as_ref(), dane::DANE_EE, 1, 1))
        .map(|a| a.presentation());
    let outcome = lookup(servers, &name).await.map(|answer| DaneVerdict {
        validated: answer.authentic,
        records: answer
            .records
            .iter()
            .take(RECORDS_KEPT)
            .map(Association::presentation)
            .collect(),
        verdict: dane::judge(
            &answer.records,
            chain,
            server_name,
            crate::clock::unix_now(),
        ),
    });
    DaneReport {
        name,
        leaf_record,
        outcome,
    }
}

/// A TLSA answer: the records, and whether the AD bit was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// The AD bit of the answer.
    pub authentic: bool,
    /// The TLSA records of the answer section (after any CNAME the resolver followed).
    pub records: Vec<Association>,
}

/// The TLSA records at `name`, asking `servers` in order, [`ATTEMPTS`] rounds: the first
/// answer with records, or saying there are none (NXDOMAIN, an empty answer), decides; any
/// other failure (a timeout, SERVFAIL, REFUSED, a malformed answer, a refused port) moves on
/// to the next server. When none decides, the reason is the most telling failure seen
/// ([`rank`]: a SERVFAIL over a malformed answer over other failures over a timeout).
pub async fn lookup(servers: &[SocketAddr], name: &str) -> Result<TlsaAnswer, Failure<DaneReason>> {
    let qname = Name::from_ascii(name)
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .map_err(|e| Failure::new(DaneReason::DnsFailed, format!("TLSA {name}: {e}")))?;
    let mut last = Failure::new(
        DaneReason::DnsFailed,
        "no name server to ask (dns.name_servers is empty and /etc/resolv.conf names none)",
    );
    let mut tried = 0;
    for _ in 0..ATTEMPTS {
        for server in servers {
            match exchange(*server, &qname).await {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    let again =
                        !matches!(e.reason, DaneReason::DnsNxdomain | DaneReason::NoRecords);
                    let failure =
                        Failure::new(e.reason, format!("TLSA {name} at {server}: {}", e.detail));
                    if !again {
                        return Err(failure);
                    }
                    if tried == 0 || rank(failure.reason) >= rank(last.reason) {
                        last = failure;
                    }
                    tried += 1;
                }
            }
        }
    }
    Err(last)
}

/// How much a failure tells, for the one [`lookup`] reports when every server failed.
fn rank(reason: DaneReason) -> u8 {
    match reason {
        DaneReason::DnsTimeout => 0,
        DaneReason::DnsFailed => 1,
        DaneReason::DnsMalformed => 2,
        DaneReason::DnsServfail => 3,
        DaneReason::DnsNxdomain | DaneReason::NoRecords => 4,
    }
}

/// One query to `server`: UDP, then TCP when truncated.
async fn exchange(server: SocketAddr, qname: &Name) -> Result<TlsaAnswer, Failure<DaneReason>> {
    let id = query_id()?;
    let query = query_bytes(id, qname)?;
    let udp = tokio::time::timeout(QUERY_TIMEOUT, over_udp(server, &query, id))
        .await
        .map_err(|_| timeout("over UDP"))??;
    let message = if udp.metadata.truncation {
        let tcp = tokio::time::timeout(QUERY_TIMEOUT, over_tcp(server, &query))
            .await
            .map_err(|_| timeout("over TCP after a truncated UDP answer"))??;
        if tcp.metadata.id != id {
            return Err(malformed("the TCP answer carries another id"));
        }
        tcp
    } else {
        udp
    };
    read_answer(&message, qname)
}

fn timeout(how: &str) -> Failure<DaneReason> {
    Failure::new(
        DaneReason::DnsTimeout,
        format!(
            "no answer {how} within {}",
            humantime::format_duration(QUERY_TIMEOUT)
        ),
    )
}

fn malformed(detail: impl Into<String>) -> Failure<DaneReason> {
    Failure::new(DaneReason::DnsMalformed, detail)
}

fn failed(e: impl std::fmt::Display) -> Failure<DaneReason> {
    Failure::new(DaneReason::DnsFailed, e.to_string())
}

/// A random query id.
fn query_id() -> Result<u16, Failure<DaneReason>> {
    let mut bytes = [0u8; 2];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| failed("no random query id"))?;
    Ok(u16::from_be_bytes(bytes))
}

/// The query: RD and AD set (RFC 6840 §5.7), EDNS with [`UDP_PAYLOAD`], DO clear.
fn query_bytes(id: u16, qname: &Name) -> Result<Vec<u8>, Failure<DaneReason>> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.metadata.authentic_data = true;
    message.add_query(Query::query(qname.clone(), RecordType::TLSA));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message.set_edns(edns);
    message.to_vec().map_err(failed)
}

/// Sends `query` over UDP and reads datagrams until one carries `id` (a bounded number).
async fn over_udp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
) -> Result<Message, Failure<DaneReason>> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(failed)?;
    // Connected: datagrams from other addresses are dropped by the kernel.
    socket.connect(server).await.map_err(failed)?;
    socket.send(query).await.map_err(failed)?;
    let mut buffer = vec![0u8; UDP_BUFFER];
    for _ in 0..STRAY_MAX {
        let n = socket.recv(&mut buffer).await.map_err(failed)?;
        let message = Message::from_vec(&buffer[..n])
            .map_err(|e| malformed(format!("an answer that does not decode: {e}")))?;
        if message.metadata.id == id && message.metadata.message_type == MessageType::Response {
            return Ok(message);
        }
    }
    Err(malformed(format!(
        "{STRAY_MAX} datagrams, none answering the query's id"
    )))
}

/// Sends `query` over TCP (two-byte length first) and reads one answer of at most [`TCP_MAX`].
async fn over_tcp(server: SocketAddr, query: &[u8]) -> Result<Message, Failure<DaneReason>> {
    let mut stream = TcpStream::connect(server).await.map_err(failed)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(failed)?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.map_err(failed)?;
    let length = u16::from_be_bytes(length) as usize;
    if length > TCP_MAX {
        return Err(malformed(format!(
            "a {length}-byte answer over TCP, more than the {TCP_MAX} accepted"
        )));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.map_err(failed)?;
    Message::from_vec(&body).map_err(|e| malformed(format!("an answer that does not decode: {e}")))
}

/// The TLSA answer `message` gives to the question for `qname`, or why it gives none.
pub fn read_answer(message: &Message, qname: &Name) -> Result<TlsaAnswer, Failure<DaneReason>> {
    let question_ok = message.queries.len() == 1
        && message.queries[0].name().eq_ignore_root(qname)
        && message.queries[0].query_type() == RecordType::TLSA
        && message.queries[0].query_class() == DNSClass::IN;
    if !question_ok {
        return Err(malformed("the answer's question is not the one asked"));
    }
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            return Err(Failure::new(
                DaneReason::DnsNxdomain,
                format!("{qname} does not exist (NXDOMAIN)"),
            ))
        }
        ResponseCode::ServFail => {
            return Err(Failure::new(
                DaneReason::DnsServfail,
                "SERVFAIL (the zone's servers failed, or DNSSEC validation did)",
            ))
        }
        other => return Err(failed(format!("the resolver answered {other}"))),
    }
    let records: Vec<Association> = message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TLSA(tlsa) => Some(Association {
                usage: tlsa.cert_usage.into(),
                selector: tlsa.selector.into(),
                matching: tlsa.matching.into(),
                data: tlsa.cert_data.clone(),
            }),
            _ => None,
        })
        .collect();
    if records.is_empty() {
        return Err(Failure::new(
            DaneReason::NoRecords,
            format!("{qname} has no TLSA records"),
        ));
    }
    Ok(TlsaAnswer {
        authentic: message.metadata.authentic_data,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::TLSA;
    use hickory_resolver::proto::rr::Record;

    fn qname() -> Name {
        Name::from_ascii("_25._tcp.mx.example.").unwrap()
    }

    fn answer(code: ResponseCode, ad: bool, records: &[(u8, u8, u8, &[u8])]) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.metadata.authentic_data = ad;
        m.add_query(Query::query(qname(), RecordType::TLSA));
        for (u, s, t, d) in records {
            let tlsa = TLSA::new((*u).into(), (*s).into(), (*t).into(), d.to_vec());
            m.add_answer(Record::from_rdata(qname(), 60, RData::TLSA(tlsa)));
        }
        // Through the wire format, as an answer arrives.
        Message::from_vec(&m.to_vec().unwrap()).unwrap()
    }

    #[test]
    fn the_name_is_port_and_protocol_under_the_server_name() {
        assert_eq!(tlsa_name("MX.Example.com.", 25), "_25._tcp.mx.example.com");
        assert_eq!(
            tlsa_name("www.example.com", 443),
            "_443._tcp.www.example.com"
        );
    }

    #[test]
    fn an_answer_gives_its_records_and_its_ad_bit() {
        let a = read_answer(
            &answer(ResponseCode::NoError, true, &[(3, 1, 1, &[1; 32])]),
            &qname(),
        )
        .unwrap();
        assert!(a.authentic);
        assert_eq!(a.records.len(), 1);
        assert_eq!(
            (
                a.records[0].usage,
                a.records[0].selector,
                a.records[0].matching
            ),
            (3, 1, 1)
        );
        // Unknown numbers survive the parse, for the check to count as unusable.
        let a = read_answer(
            &answer(ResponseCode::NoError, false, &[(9, 7, 5, b"x")]),
            &qname(),
        )
        .unwrap();
        assert!(!a.authentic);
        assert_eq!(
            (
                a.records[0].usage,
                a.records[0].selector,
                a.records[0].matching
            ),
            (9, 7, 5)
        );
    }

    #[test]
    fn every_failure_has_its_reason() {
        let reason = |m: Message| read_answer(&m, &qname()).unwrap_err().reason;
        assert_eq!(
            reason(answer(ResponseCode::NoError, true, &[])),
            DaneReason::NoRecords
        );
        assert_eq!(
            reason(answer(ResponseCode::NXDomain, true, &[])),
            DaneReason::DnsNxdomain
        );
        assert_eq!(
            reason(answer(ResponseCode::ServFail, false, &[])),
            DaneReason::DnsServfail
        );
        assert_eq!(
            reason(answer(ResponseCode::Refused, false, &[])),
            DaneReason::DnsFailed
        );
        let mut other = answer(ResponseCode::NoError, true, &[(3, 1, 1, &[1; 32])]);
        other.queries[0].set_name(Name::from_ascii("_443._tcp.mx.example.").unwrap());
        assert_eq!(reason(other), DaneReason::DnsMalformed);
        let mut none = answer(ResponseCode::NoError, true, &[(3, 1, 1, &[1; 32])]);
        none.queries.clear();
        assert_eq!(reason(none), DaneReason::DnsMalformed);
    }

    #[test]
    fn the_query_asks_for_tlsa_with_ad_and_without_do() {
        let bytes = query_bytes(0x1234, &qname()).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.authentic_data && m.metadata.recursion_desired);
        assert_eq!(m.queries[0].query_type(), RecordType::TLSA);
        let edns = m.edns.as_ref().unwrap();
        assert_eq!(edns.max_payload(), UDP_PAYLOAD);
        assert!(!edns.flags().dnssec_ok);
    }

    #[tokio::test]
    async fn no_name_server_is_a_reason_not_a_hang() {
        let e = lookup(&[], "_25._tcp.mx.example").await.unwrap_err();
        assert_eq!(e.reason, DaneReason::DnsFailed);
    }
}
