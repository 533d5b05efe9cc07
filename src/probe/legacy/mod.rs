//! The legacy-protocol check: does the server still speak TLS 1.0 or TLS 1.1?
//!
//! rustls speaks neither, so this is a small, separate exchange: over a new connection to the
//! address the probe reached (through the same proxy tunnel and STARTTLS dialogue, when the
//! target has them) it sends a ClientHello offering only TLS 1.0 ([`hello`]), reads the
//! plaintext ServerHello and, when the server agrees, its Certificate message ([`answer`]),
//! and hangs up. Then the same with TLS 1.1 on another connection, at the same time. No key is
//! exchanged and nothing is encrypted: everything cryptographic stays in rustls.
//!
//! What it gives the probe:
//! - `cert_legacy_protocol_enabled{version}`: 1 when the server chose the offered version, 0
//!   when it refused (an alert, another version, or hanging up). A version whose check tells
//!   nothing (timeout, connection refused, garbage) has no series for that probe.
//! - For a server that speaks *only* TLS 1.0 or 1.1 (the rustls handshake fails with
//!   `protocol_version`), the chain it sent in the legacy handshake, so expiry and the chain's
//!   verdict are still reported (see [`LegacyReport::served`]).
//!
//! Cost: two extra connections, so answers are cached per target and address for
//! [`RECHECK`] — servers rarely change their protocol versions, and the alert waits an hour
//! anyway. A probe whose handshake failed with `protocol_version` always checks afresh, as it
//! needs the chain. Everything runs within the probe's own deadline, after the handshake.

mod answer;
mod hello;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::reason::{ProbeFailure, ProbeReason};
use super::result::{Phase, ProbeResult, TlsSession, TlsVersion};
use super::tls::Captured;
use super::{connect, proxy, starttls, Prober};
use crate::config::Target;
pub use answer::{version_name, Answer};

/// How long a target's answers are reused before the server is asked again.
pub const RECHECK: Duration = Duration::from_secs(3600);

/// A protocol version the check asks for; `as_str` is the `version` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LegacyVersion {
    /// TLS 1.0 (RFC 2246), deprecated by RFC 8996.
    #[default]
    Tls10,
    /// TLS 1.1 (RFC 4346), deprecated by RFC 8996.
    Tls11,
}

impl LegacyVersion {
    /// Both, oldest first.
    pub const ALL: [LegacyVersion; 2] = [LegacyVersion::Tls10, LegacyVersion::Tls11];

    /// The label value, as `cert_tls_version_info` writes versions.
    pub fn as_str(self) -> &'static str {
        TlsVersion::from(self).as_str()
    }

    /// The version number a hello carries.
    fn wire(self) -> u16 {
        match self {
            LegacyVersion::Tls10 => 0x0301,
            LegacyVersion::Tls11 => 0x0302,
        }
    }
}

impl From<LegacyVersion> for TlsVersion {
    fn from(version: LegacyVersion) -> TlsVersion {
        match version {
            LegacyVersion::Tls10 => TlsVersion::Tls10,
            LegacyVersion::Tls11 => TlsVersion::Tls11,
        }
    }
}

/// A handshake a server completed up to its certificates in a legacy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyHandshake {
    /// The version the server chose (the one offered).
    pub version: LegacyVersion,
    /// IANA name of the suite the server chose.
    pub cipher: std::borrow::Cow<'static, str>,
    /// The certificates it sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// The versions that gave an answer, and whether the server speaks each, in the order they
/// were asked: at most one per version, so held inline. Every endpoint's stored result has
/// these (the check is on by default); a vector cost a heap block per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Answers {
    slots: [(LegacyVersion, bool); 2],
    len: u8,
}

impl Answers {
    /// Adds the answer for `version`, which has none yet.
    pub fn push(&mut self, answer: (LegacyVersion, bool)) {
        let len = usize::from(self.len);
        debug_assert!(len < self.slots.len(), "one answer per version");
        if let Some(slot) = self.slots.get_mut(len) {
            *slot = answer;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for Answers {
    type Target = [(LegacyVersion, bool)];

    fn deref(&self) -> &Self::Target {
        &self.slots[..usize::from(self.len)]
    }
}

impl std::ops::DerefMut for Answers {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.slots[..usize::from(self.len)]
    }
}

impl<'a> IntoIterator for &'a Answers {
    type Item = &'a (LegacyVersion, bool);
    type IntoIter = std::slice::Iter<'a, (LegacyVersion, bool)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(LegacyVersion, bool)> for Answers {
    fn from_iter<I: IntoIterator<Item = (LegacyVersion, bool)>>(iter: I) -> Answers {
        let mut answers = Answers::default();
        for answer in iter.into_iter().take(2) {
            answers.push(answer);
        }
        answers
    }
}

impl From<[(LegacyVersion, bool); 2]> for Answers {
    fn from(slots: [(LegacyVersion, bool); 2]) -> Answers {
        Answers { slots, len: 2 }
    }
}

/// What the check found for one target and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyReport {
    /// Per version that gave an answer: whether the server speaks it.
    pub enabled: Answers,
    /// Why the other versions gave no answer, for the log and the `check` command.
    pub inconclusive: Vec<(LegacyVersion, String)>,
    /// When the server was asked (earlier than the probe when the answer was cached).
    pub checked_at: SystemTime,
    /// The newest legacy handshake that reached the certificates; only filled when the probe
    /// asked for the chain (its own handshake failed with `protocol_version`), and taken out
    /// by the probe before the report is stored.
    pub served: Option<Box<LegacyHandshake>>,
}

impl LegacyReport {
    /// Whether the server speaks `version`, if known.
    pub fn speaks(&self, version: LegacyVersion) -> Option<bool> {
        self.enabled
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, on)| *on)
    }
}

/// Answers kept between probes, per target name and address. Shared across reloads.
#[derive(Debug, Default)]
pub struct LegacyCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<(String, SocketAddr), Cached>,
    /// When entries of targets no longer probed were last dropped.
    swept: Option<Instant>,
}

/// A conclusive report as the cache keeps it: the two answers and their time, no lists (one
/// entry per target and address, so a hundred thousand targets keep this many).
#[derive(Debug, Clone, Copy)]
struct Cached {
    /// When it was put, for [`RECHECK`].
    at: Instant,
    checked_at: SystemTime,
    /// Per version of [`LegacyVersion::ALL`], whether the server speaks it, when it answered.
    enabled: [Option<bool>; 2],
}

impl Cached {
    fn report(&self) -> LegacyReport {
        LegacyReport {
            enabled: LegacyVersion::ALL
                .iter()
                .zip(self.enabled)
                .filter_map(|(version, on)| on.map(|on| (*version, on)))
                .collect(),
            inconclusive: Vec::new(),
            checked_at: self.checked_at,
            served: None,
        }
    }
}

impl LegacyCache {
    fn get(&self, key: &(String, SocketAddr)) -> Option<LegacyReport> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .entries
            .get(key)
            .filter(|cached| cached.at.elapsed() < RECHECK)
            .map(Cached::report)
    }

    /// Keeps the answers of `report`, which is conclusive (no inconclusive version), without
    /// its chain.
    fn put(&self, key: (String, SocketAddr), report: &LegacyReport) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Forget targets and addresses not probed for a while (removed, or DNS moved on),
        // at most once per RECHECK so thousands of targets do not each scan them all.
        if inner.swept.is_none_or(|at| at.elapsed() >= RECHECK) {
            inner
                .entries
                .retain(|_, cached| cached.at.elapsed() < 2 * RECHECK);
            inner.swept = Some(Instant::now());
        }
        let kept = Cached {
            at: Instant::now(),
            checked_at: report.checked_at,
            enabled: LegacyVersion::ALL.map(|version| report.speaks(version)),
        };
        inner.entries.insert(key, kept);
    }
}

/// Runs the check for `target`, whose probe reached `peer` (the proxy, when it has one), before
/// `deadline`. `need_chain` asks for a fresh check that keeps the certificates. `None` when the
/// target has the check switched off.
pub async fn check(
    cache: &LegacyCache,
    target: &Target,
    peer: SocketAddr,
    deadline: Instant,
    need_chain: bool,
) -> Option<LegacyReport> {
    if !target.legacy_protocols {
        return None;
    }
    let key = (target.name.clone(), peer);
    if !need_chain {
        if let Some(cached) = cache.get(&key) {
            return Some(cached);
        }
    }
    let asks = LegacyVersion::ALL.map(|version| async move {
        let outcome = tokio::time::timeout_at(deadline, ask(target, peer, version, deadline)).await;
        let outcome = outcome.unwrap_or_else(|_| Err("no answer before the probe timeout".into()));
        (version, outcome)
    });
    let answers = futures_util::future::join_all(asks).await;

    let mut report = LegacyReport {
        enabled: Answers::default(),
        inconclusive: Vec::new(),
        checked_at: SystemTime::now(),
        served: None,
    };
    for (version, outcome) in answers {
        match outcome {
            Ok(Answer::Accepted {
                cipher_suite,
                chain,
            }) => {
                report.enabled.push((version, true));
                if need_chain && !chain.is_empty() {
                    report.served = Some(Box::new(LegacyHandshake {
                        version,
                        cipher: hello::suite_name(cipher_suite),
                        chain,
                    }));
                }
            }
            Ok(Answer::Refused(why)) => {
                tracing::debug!(target_name = %target.name, version = version.as_str(), why, "legacy protocol refused");
                report.enabled.push((version, false));
            }
            Err(why) => {
                tracing::debug!(target_name = %target.name, version = version.as_str(), why, "legacy protocol check inconclusive");
                report.inconclusive.push((version, why));
            }
        }
    }
    if report.inconclusive.is_empty() {
        cache.put(key, &report);
    }
    Some(report)
}

/// The legacy step of a probe, after its handshake: asks the address the probe reached (when it
/// reached one and time is left), and when the handshake failed with `protocol_version` and
/// the legacy handshake got certificates, hands them to the chain's judgement in `captured`
/// and records the legacy version and suite as the session. The probe's failure reason stays
/// `protocol_version`: modern clients still cannot connect.
pub(in crate::probe) async fn step(
    prober: &Prober,
    target: &Target,
    failure: Option<&ProbeFailure>,
    captured: &mut Captured,
    deadline: Instant,
    result: &mut ProbeResult,
) {
    let Some(peer) = result.peer else { return };
    if Instant::now() >= deadline {
        return;
    }
    let need_chain = captured.chain.is_empty()
        && failure.is_some_and(|f| f.reason == ProbeReason::ProtocolVersion);
    let started = Instant::now();
    let Some(mut report) = check(&prober.caches.legacy, target, peer, deadline, need_chain).await
    else {
        return;
    };
    result.phases.push((Phase::Legacy, started.elapsed()));
    // The certificates go to the judgement; the snapshot keeps no DER.
    if let Some(served) = report.served.take() {
        let served = *served;
        captured.chain = served.chain;
        result.tls = Some(TlsSession {
            version: served.version.into(),
            cipher: served.cipher,
            group: "".into(),
        });
    }
    result.legacy = Some(report);
}

/// One version over one new connection: reach the server as the probe did, say hello, read.
async fn ask(
    target: &Target,
    peer: SocketAddr,
    version: LegacyVersion,
    deadline: Instant,
) -> Result<Answer, String> {
    let mut stream = open(target, peer, deadline).await?;
    let sni = sni(&target.server_name);
    let hello = hello::client_hello(version.wire(), sni);
    tokio::io::AsyncWriteExt::write_all(&mut stream, &hello)
        .await
        .map_err(|e| format!("sending the hello: {e}"))?;
    answer::read(&mut stream, version.wire()).await
}

/// A connection to `peer` that is ready for a ClientHello: through the target's proxy tunnel
/// and STARTTLS dialogue when it has them. The caller bounds the dialogues with `deadline`
/// too.
async fn open(target: &Target, peer: SocketAddr, deadline: Instant) -> Result<TcpStream, String> {
    let (mut stream, _) = connect::connect(&[peer], deadline)
        .await
        .map_err(|f| f.detail)?;
    if let (Some(proxy_url), Some(address)) = (&target.reach.proxy, target.address()) {
        proxy::open_tunnel(&mut stream, proxy_url, address)
            .await
            .map_err(|f| f.detail)?;
    }
    match target.reach.starttls {
        Some(protocol) => {
            let names = starttls::Names::of(target, &stream);
            starttls::upgrade(protocol, stream, names, deadline)
                .await
                .map_err(|e| e.failure.detail)
        }
        None => Ok(stream),
    }
}

/// SNI carries DNS names only, as in the rustls handshake.
fn sni(server_name: &str) -> Option<&str> {
    let literal = server_name.parse::<std::net::IpAddr>().is_ok()
        || server_name
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .is_some_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok());
    (!literal && !server_name.is_empty()).then_some(server_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_is_sent_for_names_only() {
        assert_eq!(sni("shop.example"), Some("shop.example"));
        assert_eq!(sni("127.0.0.1"), None);
        assert_eq!(sni("::1"), None);
        assert_eq!(sni(""), None);
    }

    #[test]
    fn cache_keeps_answers_without_the_chain() {
        let cache = LegacyCache::default();
        let key = ("t".to_string(), "127.0.0.1:443".parse().unwrap());
        let report = LegacyReport {
            enabled: [(LegacyVersion::Tls10, true), (LegacyVersion::Tls11, false)].into(),
            inconclusive: Vec::new(),
            checked_at: SystemTime::now(),
            served: Some(Box::new(LegacyHandshake {
                version: LegacyVersion::Tls10,
                cipher: "x".into(),
                chain: vec![CertificateDer::from(vec![1, 2, 3])],
            })),
        };
        cache.put(key.clone(), &report);
        let cached = cache.get(&key).unwrap();
        assert_eq!(cached.speaks(LegacyVersion::Tls10), Some(true));
        assert_eq!(cached.speaks(LegacyVersion::Tls11), Some(false));
        assert!(cached.served.is_none());
        assert_eq!(
            cached.enabled, report.enabled,
            "the answers, in their order"
        );
        assert!(cached.inconclusive.is_empty());
        assert_eq!(cached.checked_at, report.checked_at);
        assert!(cache.get(&("other".to_string(), key.1)).is_none());
    }
}
