//! Properties over generated inputs (proptest): an address prints as it parses; a generated
//! configuration loads back to exactly what was written; and a chain's verdict over time is
//! monotonic — valid only between notBefore and notAfter, expired for good once expired, with
//! days to expiry falling as time passes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::Duration;

use cert_expiry_exporter::config::{Address, Config, Host};
use cert_expiry_exporter::x509::{self, ChainError, TrustStore};
use proptest::prelude::*;
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::support::pki::{Ca, LeafSpec};

/// A DNS name of 1 to 4 labels, one rustls takes as a server name (the configuration refuses
/// others): its last label is not a number, decimal or `0x` hex, which could read as IPv4.
fn dns_name() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", 1..=4)
        .prop_map(|labels| labels.join("."))
        .prop_filter("not an IPv4 literal", |n| n.parse::<Ipv4Addr>().is_err())
        .prop_filter("the last label is not a number", |n| {
            let last = n.rsplit('.').next().unwrap_or_default();
            let hex = last
                .strip_prefix("0x")
                .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
            !(hex || last.chars().all(|c| c.is_ascii_digit()))
        })
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        dns_name().prop_map(Host::Name),
        any::<u32>().prop_map(|v| Host::Ip(IpAddr::V4(Ipv4Addr::from(v)))),
        any::<u128>().prop_map(|v| Host::Ip(IpAddr::V6(Ipv6Addr::from(v)))),
    ]
}

/// Any address the configuration accepts: port 0 cannot be connected to and is refused.
fn address() -> impl Strategy<Value = Address> {
    (host(), 1u16..).prop_map(|(host, port)| Address { host, port })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_address_parses_back_from_its_display(addr in address()) {
        let text = addr.to_string();
        prop_assert_eq!(Address::parse(&text), Ok(addr));
    }

    #[test]
    fn address_parsing_never_panics(text in "\\PC{0,40}") {
        let _ = Address::parse(&text);
    }
}

/// One generated target, as written in the YAML.
#[derive(Debug, Clone)]
struct GeneratedTarget {
    name: String,
    address: Address,
    interval: Duration,
    timeout: Duration,
    team: Option<String>,
}

fn target() -> impl Strategy<Value = GeneratedTarget> {
    (
        "[A-Za-z0-9 _.:/-]{1,24}",
        address(),
        1u64..200_000,
        1u64..120_000,
        proptest::option::of("[a-z0-9 ]{0,12}"),
    )
        .prop_map(|(name, address, interval, timeout, team)| GeneratedTarget {
            name,
            address,
            interval: Duration::from_millis(interval * 1000 / 7),
            timeout: Duration::from_millis(timeout),
            team,
        })
}

/// `targets` as the YAML an operator would write (names and labels double-quoted).
fn render(targets: &[GeneratedTarget]) -> String {
    let mut yaml = String::from("defaults:\n  concurrency: 7\ntargets:\n");
    for (i, t) in targets.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: \"{}#{i}\"\n    address: \"{}\"\n    interval: {}\n    timeout: {}\n",
            t.name,
            t.address,
            humantime::format_duration(t.interval),
            humantime::format_duration(t.timeout),
        ));
        if let Some(team) = &t.team {
            yaml.push_str(&format!("    labels: {{team: \"{team}\"}}\n"));
        }
    }
    yaml
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_generated_configuration_loads_back_as_written(
        targets in proptest::collection::vec(target(), 1..20)
    ) {
        let config = Config::parse(&render(&targets)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(config.concurrency, 7);
        prop_assert_eq!(config.targets.len(), targets.len());
        for (i, (got, want)) in config.targets.iter().zip(&targets).enumerate() {
            prop_assert_eq!(&got.name, &format!("{}#{i}", want.name));
            prop_assert_eq!(got.address(), Some(&want.address));
            prop_assert_eq!(&got.server_name, &want.address.host.to_string());
            prop_assert_eq!(got.interval, want.interval);
            prop_assert_eq!(got.timeout, want.timeout);
            prop_assert_eq!(got.labels.get("team"), want.team.as_ref());
        }
    }

    #[test]
    fn configuration_parsing_never_panics(text in "\\PC{0,200}") {
        let _ = Config::parse(&text);
    }
}

/// A leaf valid for `[NOT_BEFORE, NOT_AFTER]` with its root as the only anchor, made once.
struct Dated {
    chain: Vec<CertificateDer<'static>>,
    trust: TrustStore,
}

const NOT_BEFORE: i64 = 1_700_000_000;
const NOT_AFTER: i64 = 1_800_000_000;

fn dated() -> &'static Dated {
    static DATED: OnceLock<Dated> = OnceLock::new();
    DATED.get_or_init(|| {
        let root = Ca::root("Property Root");
        let at = |t| OffsetDateTime::from_unix_timestamp(t).expect("date");
        let leaf = root.leaf(&LeafSpec::new("prop.test", 1).valid(at(NOT_BEFORE), at(NOT_AFTER)));
        let anchor = webpki::anchor_from_trusted_cert(&root.der)
            .expect("anchor")
            .to_owned();
        Dated {
            chain: vec![leaf.der.clone()],
            trust: TrustStore::from_anchors(vec![anchor]),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_verdict_over_time_is_monotonic(
        a in NOT_BEFORE - 400_000_000..NOT_AFTER + 400_000_000i64,
        b in NOT_BEFORE - 400_000_000..NOT_AFTER + 400_000_000i64,
    ) {
        let (early, late) = (a.min(b), a.max(b));
        let d = dated();
        let at = |now| x509::analyse(&d.chain, "prop.test", &d.trust, now);
        let (first, second) = (at(early), at(late));
        for (now, report) in [(early, &first), (late, &second)] {
            prop_assert_eq!(report.expiry, Some(NOT_AFTER));
            prop_assert_eq!(report.errors.contains(&ChainError::Expired), now > NOT_AFTER);
            prop_assert_eq!(report.errors.contains(&ChainError::NotYetValid), now < NOT_BEFORE);
            prop_assert_eq!(report.is_valid(), (NOT_BEFORE..=NOT_AFTER).contains(&now));
        }
        // Once expired, expired for good; once valid from, never not-yet-valid again.
        if first.errors.contains(&ChainError::Expired) {
            prop_assert!(second.errors.contains(&ChainError::Expired));
        }
        if !first.errors.contains(&ChainError::NotYetValid) {
            prop_assert!(!second.errors.contains(&ChainError::NotYetValid));
        }
        // Days to expiry, as /metrics computes it, fall as time passes.
        let days = |now: i64| (NOT_AFTER - now) as f64 / 86_400.0;
        prop_assert!(days(late) <= days(early));
    }
}

/// A TLSA answer for `_25._tcp.mx.example.` with `records`, as the wire carries it.
fn tlsa_answer(records: &[(u8, u8, u8, Vec<u8>)]) -> Vec<u8> {
    use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
    use hickory_resolver::proto::rr::{rdata::TLSA, Name, RData, Record, RecordType};
    let name = Name::from_ascii("_25._tcp.mx.example.").unwrap();
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(name.clone(), RecordType::TLSA));
    for (u, s, t, d) in records {
        let tlsa = TLSA::new((*u).into(), (*s).into(), (*t).into(), d.clone());
        m.add_answer(Record::from_rdata(name.clone(), 60, RData::TLSA(tlsa)));
    }
    m.to_vec().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a resolver sends — a TLSA answer with bytes changed anywhere, or cut short —
    /// reading it and matching its records against a chain gives a verdict or a reason, never
    /// a panic.
    #[test]
    fn a_damaged_tlsa_answer_is_a_verdict_or_a_reason_never_a_panic(
        records in proptest::collection::vec(
            (any::<u8>(), any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..80)),
            0..4,
        ),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<usize>(),
        chain in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..3),
    ) {
        use cert_expiry_exporter::probe::dane::read_answer;
        use hickory_resolver::proto::op::Message;
        use hickory_resolver::proto::rr::Name;
        let mut bytes = tlsa_answer(&records);
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let name = Name::from_ascii("_25._tcp.mx.example.").unwrap();
        if let Ok(message) = Message::from_vec(&bytes) {
            if let Ok(answer) = read_answer(&message, &name) {
                let verdict = x509::dane::judge(&answer.records, &chain, "mx.example", 1_800_000_000);
                prop_assert_eq!(
                    (verdict.usable + verdict.unusable) as usize,
                    answer.records.len()
                );
            }
        }
    }
}
