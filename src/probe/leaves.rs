//! Every leaf a server offers: nginx, Apache and HAProxy can serve an RSA and an ECDSA
//! certificate (and an Ed25519 one) on one port, and pick by the signature schemes the client
//! offers. The probe's own handshake offers every scheme and so sees only the server's
//! favourite; clients that can take only the other one get a certificate nobody watches.
//!
//! So after the handshake, on new connections to the address the probe reached (through the
//! same proxy tunnel and STARTTLS dialogue, with the same client certificate), one handshake
//! per [`KeyType`] offers only that type's schemes ([`super::tls::handshake_offering`]). A
//! chain whose leaf differs from the main one is judged like it (chain verdict, revocation,
//! the missing intermediate) and reported beside it ([`LeafReport::others`]); metrics then give
//! each chain's series a `key_type` label. A server with one certificate refuses the
//! handshakes it has no key for (or sends the same leaf): nothing changes for it.
//!
//! Cost: three more handshakes, so which key types the server has a leaf for is cached per
//! target and address for [`RECHECK`], as the legacy-protocol check caches its answers. The
//! other leaves themselves are fetched again at every probe (one handshake per other
//! certificate, none for a server with one), so a renewed one is seen as soon as the main one
//! would be; each chain is judged on every probe (the verdicts are cached per distinct chain,
//! revocation answers in their own caches).
//! An extra handshake that fails for another reason than the server's refusal (a timeout, a
//! refused connection, a STARTTLS dialogue gone wrong) is a reason of its own
//! ([`LeafReport::failures`]), never the probe's: the main result stands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use rustls::SignatureScheme;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::reason::{ProbeFailure, ProbeReason};
use super::result::ProbeResult;
use super::tls::{self, Captured};
use super::{aia, connect, judge, proxy, starttls, Prober};
use crate::config::Target;
use crate::revocation::RevocationReport;
use crate::x509::{CertFacts, ChainReport, TrustStore};

/// How long what the extra handshakes found is reused before the server is asked again.
pub const RECHECK: Duration = Duration::from_secs(3600);

/// The kind of key a leaf holds, as far as choosing a certificate goes; `as_str` is the
/// `key_type` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    /// RSA (signing with RSA-PSS or PKCS#1 v1.5).
    Rsa,
    /// ECDSA over a NIST curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// Every type a handshake is made for, in the order they are asked and listed.
    pub const ALL: [KeyType; 3] = [KeyType::Rsa, KeyType::Ecdsa, KeyType::Ed25519];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ecdsa => "ecdsa",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// The type of a certificate's key; `None` for keys no TLS 1.2/1.3 server signs with here
    /// (DSA, Ed448, unknown).
    pub fn of(cert: &CertFacts) -> Option<KeyType> {
        match cert.key_algorithm {
            "RSA" => Some(KeyType::Rsa),
            "EC" => Some(KeyType::Ecdsa),
            "Ed25519" => Some(KeyType::Ed25519),
            _ => None,
        }
    }

    /// Whether a handshake offering this type's schemes may offer `scheme`.
    fn allows(self, scheme: SignatureScheme) -> bool {
        use SignatureScheme as S;
        match self {
            KeyType::Rsa => matches!(
                scheme,
                S::RSA_PSS_SHA256
                    | S::RSA_PSS_SHA384
                    | S::RSA_PSS_SHA512
                    | S::RSA_PKCS1_SHA256
                    | S::RSA_PKCS1_SHA384
                    | S::RSA_PKCS1_SHA512
                    | S::RSA_PKCS1_SHA1
            ),
            KeyType::Ecdsa => matches!(
                scheme,
                S::ECDSA_NISTP256_SHA256
                    | S::ECDSA_NISTP384_SHA384
                    | S::ECDSA_NISTP521_SHA512
                    | S::ECDSA_SHA1_Legacy
            ),
            KeyType::Ed25519 => scheme == S::ED25519,
        }
    }

    /// The schemes a handshake for this type offers (the provider's, filtered).
    fn schemes(self) -> Vec<SignatureScheme> {
        crate::tls_provider::provider()
            .signature_verification_algorithms
            .supported_schemes()
            .into_iter()
            .filter(|s| self.allows(*s))
            .collect()
    }
}

/// Another chain the server offers, judged like the main one.
#[derive(Debug, Clone)]
pub struct OtherLeaf {
    /// The type of its leaf's key (the `key_type` label).
    pub key_type: KeyType,
    /// The chain and its verdict.
    pub chain: ChainReport,
    /// What OCSP and CRLs said of it, when the prober checks revocation.
    pub revocation: Option<RevocationReport>,
    /// What the caIssuers download found for it, when its path did not build.
    pub aia: Option<aia::AiaOutcome>,
}

/// What the extra handshakes found for one result.
#[derive(Debug, Clone)]
pub struct LeafReport {
    /// The type of the main chain's leaf (the one the probe's own handshake got).
    pub main: KeyType,
    /// The other leaves, each of another key type, in [`KeyType::ALL`] order. Empty for a
    /// server with one certificate.
    pub others: Vec<OtherLeaf>,
    /// The key types whose handshake told nothing, and why.
    pub failures: Vec<(KeyType, ProbeFailure)>,
    /// When the server was asked (earlier than the probe when the answers were cached).
    pub checked_at: SystemTime,
}

impl LeafReport {
    /// Whether the server offers more than one leaf: then every chain's series carry
    /// `key_type`.
    pub fn several(&self) -> bool {
        !self.others.is_empty()
    }
}

/// What one extra handshake found. Every target's cache entry keeps one per key type, most of
/// them `Refused` or `Main`, so the rare chain is boxed: 16 bytes an answer instead of 56.
#[derive(Debug, Clone)]
enum Found {
    /// A chain, with what was stapled to it.
    Chain(Box<Served>),
    /// The server refused a handshake with only these schemes: it has no such certificate.
    Refused,
    /// The main leaf again, as kept in the cache (without its DER: most servers have one
    /// certificate, and thousands of targets would each keep a copy of their chain).
    Main,
}

/// The chain of another leaf, with what was stapled to it.
#[derive(Debug, Clone)]
struct Served {
    chain: Vec<CertificateDer<'static>>,
    ocsp_response: Vec<u8>,
}

impl Found {
    /// Whether this is a chain whose leaf is not `main_leaf`.
    fn other_leaf(&self, main_leaf: &CertificateDer<'_>) -> bool {
        matches!(self, Found::Chain(served) if served.chain.first().is_some_and(|leaf| leaf != main_leaf))
    }
}

/// Answers kept between probes, per target name and address. Shared across reloads.
#[derive(Debug, Default)]
pub struct LeafCache {
    inner: Mutex<CacheInner>,
}

type Answers = Vec<(KeyType, Found)>;

/// Answers as a cache entry keeps them: boxed as a slice, without a vector's capacity word.
type Kept = Box<[(KeyType, Found)]>;

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<(String, SocketAddr), (Instant, SystemTime, Kept)>,
    /// When entries of targets no longer probed were last dropped.
    swept: Option<Instant>,
}

impl LeafCache {
    fn get(&self, key: &(String, SocketAddr)) -> Option<(SystemTime, Answers)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .entries
            .get(key)
            .filter(|(at, _, _)| at.elapsed() < RECHECK)
            .map(|(_, checked, answers)| (*checked, answers.to_vec()))
    }

    /// Replaces the answers of a fresh entry, keeping when it was made (the next full look is
    /// still due an hour after it).
    fn update(&self, key: &(String, SocketAddr), answers: &Answers) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = inner.entries.get_mut(key) {
            entry.2 = answers.as_slice().into();
        }
    }

    fn put(&self, key: (String, SocketAddr), checked: SystemTime, answers: &Answers) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // As the legacy cache: forget what was not asked for a while, at most once per RECHECK.
        if inner.swept.is_none_or(|at| at.elapsed() >= RECHECK) {
            inner
                .entries
                .retain(|_, (at, _, _)| at.elapsed() < 2 * RECHECK);
            inner.swept = Some(Instant::now());
        }
        inner
            .entries
            .insert(key, (Instant::now(), checked, answers.as_slice().into()));
    }
}

/// Whether the probe's own outcome makes the extra handshakes worth it: a chain arrived over
/// rustls from an address the probe reached, with time left. A server that speaks only
/// TLS 1.0/1.1 (its chain came from the legacy check) cannot be asked over rustls.
pub(super) fn wanted(
    captured: &Captured,
    failure: Option<&ProbeFailure>,
    result: &ProbeResult,
    deadline: Instant,
) -> bool {
    !captured.chain.is_empty()
        && result.peer.is_some()
        && failure.is_none_or(|f| f.reason != ProbeReason::ProtocolVersion)
        && Instant::now() < deadline
}

/// Asks `peer` (or the cache) for the leaf of every key type, before `deadline` (a budget of
/// the look's own, the target's timeout from its start), and judges each chain whose leaf is
/// not `main_leaf`. The report is made once the main chain is judged ([`report`]).
pub(super) async fn discover(
    prober: &Prober,
    target: &Target,
    peer: SocketAddr,
    main_leaf: &CertificateDer<'static>,
    trust: &Arc<TrustStore>,
    deadline: Instant,
) -> Discovered {
    let key = (target.name.clone(), peer);
    let cache = &prober.caches.leaves;
    // A leaf cached as another is the main one now: the server's preference changed, and
    // which leaf the main type's handshake gives is not known. Ask everything again.
    let cached = cache.get(&key).filter(|(_, answers)| {
        !answers.iter().any(|(_, found)| {
            matches!(found, Found::Chain(served) if served.chain.first() == Some(main_leaf))
        })
    });
    let (checked_at, answers, failures) = match cached {
        Some((checked_at, mut answers)) => {
            // Which key types the server has is known for the hour; the other leaves
            // themselves are fetched afresh, so a renewed one is seen at the next probe.
            let others: Vec<KeyType> = answers
                .iter()
                .filter(|(_, found)| found.other_leaf(main_leaf))
                .map(|(key_type, _)| *key_type)
                .collect();
            let (fresh, failures) = ask(target, peer, &others, deadline).await;
            for (key_type, found) in fresh {
                if let Some(slot) = answers.iter_mut().find(|(k, _)| *k == key_type) {
                    slot.1 = found;
                }
            }
            // A type that failed keeps its last chain: its series go on, beside the reason.
            if !others.is_empty() && failures.is_empty() {
                cache.update(&key, &without_main(&answers, main_leaf));
            }
            (checked_at, answers, failures)
        }
        None => {
            let checked_at = SystemTime::now();
            let (answers, failures) = ask(target, peer, &KeyType::ALL, deadline).await;
            if failures.is_empty() {
                cache.put(key, checked_at, &without_main(&answers, main_leaf));
            }
            (checked_at, answers, failures)
        }
    };
    // Each distinct leaf once, the main one not again.
    let mut seen: Vec<&CertificateDer<'static>> = vec![main_leaf];
    let mut chains = Vec::new();
    for (asked, found) in &answers {
        if let Found::Chain(served) = found {
            let Served {
                chain,
                ocsp_response,
            } = &**served;
            if chain.first().is_some_and(|leaf| !seen.contains(&leaf)) {
                seen.push(&chain[0]);
                chains.push((*asked, chain.clone(), ocsp_response.clone()));
            }
        }
    }
    let judged = chains
        .into_iter()
        .map(|(asked, chain, ocsp_response)| async move {
            let captured = Captured {
                chain,
                ocsp_response,
                ..Captured::default()
            };
            let mut scratch = ProbeResult::new();
            // No directory: the renewal window is the main leaf's only.
            judge::judge_chain(prober, target, &captured, trust, None, &mut scratch).await;
            (asked, scratch)
        });
    let judged = futures_util::future::join_all(judged).await;
    Discovered {
        judged,
        failures,
        checked_at,
    }
}

/// `answers` as the cache keeps them: the main leaf's chain as [`Found::Main`].
fn without_main(answers: &Answers, main_leaf: &CertificateDer<'_>) -> Answers {
    answers
        .iter()
        .map(|(key_type, found)| match found {
            Found::Chain(served) if served.chain.first().is_some_and(|l| l == main_leaf) => {
                (*key_type, Found::Main)
            }
            other => (*key_type, other.clone()),
        })
        .collect()
}

/// The other chains found and judged, before the main chain's key type is known.
pub(super) struct Discovered {
    judged: Vec<(KeyType, ProbeResult)>,
    failures: Vec<(KeyType, ProbeFailure)>,
    checked_at: SystemTime,
}

/// The report for a result whose main chain is `main` (judged): the other chains keep the
/// type of their leaf's key (the type asked for, when it has none of the known ones), one
/// chain per type, the main one first. `None` when the main leaf's key has no known type, and
/// when the server has no other leaf and every other type's look ended in a refusal (the
/// report would say nothing, and most servers have one leaf).
pub(super) fn report(main: &ChainReport, discovered: Discovered) -> Option<LeafReport> {
    let main_type = KeyType::of(main.certs.first()?)?;
    let mut others: Vec<OtherLeaf> = Vec::new();
    for (asked, result) in discovered.judged {
        let Some(chain) = result.chain else { continue };
        let key_type = chain
            .certs
            .first()
            .and_then(|leaf| KeyType::of(leaf))
            .unwrap_or(asked);
        if key_type == main_type || others.iter().any(|o| o.key_type == key_type) {
            // A second leaf of one type (a load balancer's pool, a server that rotates):
            // one series per type, the first found.
            continue;
        }
        others.push(OtherLeaf {
            key_type,
            chain,
            revocation: result.revocation,
            aia: result.aia.map(|aia| *aia),
        });
    }
    others.sort_by_key(|o| o.key_type);
    if others.is_empty() && discovered.failures.is_empty() {
        // One leaf, every other type refused: nothing to report, nothing stored per target.
        return None;
    }
    Some(LeafReport {
        main: main_type,
        others,
        failures: discovered.failures,
        checked_at: discovered.checked_at,
    })
}

/// One handshake per key type of `types`, all at once, each on a connection of its own.
async fn ask(
    target: &Target,
    peer: SocketAddr,
    types: &[KeyType],
    deadline: Instant,
) -> (Answers, Vec<(KeyType, ProbeFailure)>) {
    let asks = types.iter().map(|&key_type| async move {
        let outcome = tokio::time::timeout_at(deadline, ask_one(target, peer, key_type, deadline))
            .await
            .unwrap_or_else(|_| {
                Err(ProbeFailure::new(
                    ProbeReason::Timeout,
                    format!(
                        "the handshake offering only {} signature schemes did not finish before \
                         the probe timeout",
                        key_type.as_str()
                    ),
                ))
            });
        (key_type, outcome)
    });
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    for (key_type, outcome) in futures_util::future::join_all(asks).await {
        match outcome {
            Ok(found) => answers.push((key_type, found)),
            Err(failure) => {
                tracing::debug!(
                    target_name = %target.name,
                    key_type = key_type.as_str(),
                    error = %failure.detail,
                    "looking for another leaf failed"
                );
                failures.push((key_type, failure));
            }
        }
    }
    (answers, failures)
}

/// One handshake offering only `key_type`'s schemes, over a new connection reached as the
/// probe reached the server.
async fn ask_one(
    target: &Target,
    peer: SocketAddr,
    key_type: KeyType,
    deadline: Instant,
) -> Result<Found, ProbeFailure> {
    let stream = open(target, peer, deadline).await?;
    let client_cert = target
        .reach
        .client_identity
        .as_ref()
        .map(|identity| identity.certified_key());
    let schemes = key_type.schemes();
    let handshake = tls::handshake_offering(
        stream,
        &target.server_name,
        client_cert,
        deadline,
        Some(&schemes),
    )
    .await;
    judge_outcome(handshake.captured, handshake.stream.err())
}

/// What a restricted handshake says: a chain when certificates arrived (whatever followed:
/// a server that sends its only certificate anyway fails on the scheme, after it was read);
/// a refusal when the server turned the hello down at the TLS level; otherwise a failure.
fn judge_outcome(captured: Captured, failure: Option<ProbeFailure>) -> Result<Found, ProbeFailure> {
    if !captured.chain.is_empty() {
        return Ok(Found::Chain(Box::new(Served {
            chain: captured.chain,
            ocsp_response: captured.ocsp_response,
        })));
    }
    match failure {
        Some(f)
            if matches!(
                f.reason,
                ProbeReason::TlsHandshake
                    | ProbeReason::ProtocolVersion
                    | ProbeReason::TlsServerSignature
            ) =>
        {
            Ok(Found::Refused)
        }
        Some(f) => Err(f),
        // A completed handshake always has a chain; none is as good as a refusal.
        None => Ok(Found::Refused),
    }
}

/// A connection to `peer` ready for a ClientHello: through the target's proxy tunnel and
/// STARTTLS dialogue when it has them.
async fn open(
    target: &Target,
    peer: SocketAddr,
    deadline: Instant,
) -> Result<TcpStream, ProbeFailure> {
    let (mut stream, _) = connect::connect(&[peer], deadline).await?;
    if let (Some(proxy_url), Some(address)) = (&target.reach.proxy, target.address()) {
        proxy::open_tunnel(&mut stream, proxy_url, address).await?;
    }
    match target.reach.starttls {
        Some(protocol) => {
            let names = starttls::Names::of(target, &stream);
            starttls::upgrade(protocol, stream, names, deadline)
                .await
                .map_err(|e| e.failure)
        }
        None => Ok(stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_offers_only_its_own_schemes() {
        let rsa = KeyType::Rsa.schemes();
        assert!(rsa.contains(&SignatureScheme::RSA_PSS_SHA256), "{rsa:?}");
        assert!(rsa.contains(&SignatureScheme::RSA_PKCS1_SHA256), "{rsa:?}");
        let ecdsa = KeyType::Ecdsa.schemes();
        assert!(ecdsa.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
        assert_eq!(KeyType::Ed25519.schemes(), vec![SignatureScheme::ED25519]);
        assert!(rsa.iter().all(|s| !ecdsa.contains(s)));
        // No scheme is offered for two types (ML-DSA, which no server certificate uses yet,
        // for none).
        let all = crate::tls_provider::provider()
            .signature_verification_algorithms
            .supported_schemes();
        for scheme in all {
            let owners = KeyType::ALL.iter().filter(|t| t.allows(scheme)).count();
            assert!(owners <= 1, "{scheme:?}");
        }
    }

    #[test]
    fn a_refusal_is_no_leaf_and_a_failure_to_connect_a_reason() {
        let refused = ProbeFailure::new(ProbeReason::TlsHandshake, "alert");
        assert!(matches!(
            judge_outcome(Captured::default(), Some(refused.clone())),
            Ok(Found::Refused)
        ));
        let refused_connection = ProbeFailure::new(ProbeReason::ConnectRefused, "refused");
        let outcome = judge_outcome(Captured::default(), Some(refused_connection));
        assert_eq!(outcome.unwrap_err().reason, ProbeReason::ConnectRefused);
        // Certificates that arrived count, whatever failed after them.
        let sent = Captured {
            chain: vec![CertificateDer::from(vec![1, 2, 3])],
            ..Captured::default()
        };
        assert!(matches!(
            judge_outcome(sent, Some(refused)),
            Ok(Found::Chain(_))
        ));
    }

    /// A judged chain whose leaf has a key of `algorithm`.
    fn judged(algorithm: &'static str, not_after: i64) -> ProbeResult {
        let leaf = CertFacts {
            key_algorithm: algorithm,
            ..CertFacts::example("CN=a.example", "CN=CA", not_after)
        };
        let mut r = ProbeResult::new();
        r.chain = Some(ChainReport {
            certs: vec![std::sync::Arc::new(leaf)],
            in_path: vec![true],
            errors: Default::default(),
            expiry: Some(not_after),
            private_anchor: false,
            detail: None,
            judged: true,
            anchor: None,
            anchored: true,
            stapled_scts: Vec::new(),
        });
        r
    }

    #[test]
    fn each_key_type_is_reported_once_the_main_one_first_and_by_the_leaf_s_key() {
        let main = judged("EC", 1).chain.unwrap();
        let discovered = Discovered {
            judged: vec![
                // Another ECDSA leaf (a pool behind the address): the main one wins.
                (KeyType::Ecdsa, judged("EC", 2)),
                // Asked for Ed25519, got RSA: it counts as RSA; the second RSA leaf does not.
                (KeyType::Ed25519, judged("RSA", 3)),
                (KeyType::Rsa, judged("RSA", 4)),
                // A key no type names keeps the type asked for.
                (KeyType::Ed25519, judged("DSA", 5)),
            ],
            failures: Vec::new(),
            checked_at: SystemTime::UNIX_EPOCH,
        };
        let found = report(&main, discovered).unwrap();
        assert_eq!(found.main, KeyType::Ecdsa);
        let others: Vec<(KeyType, Option<i64>)> = found
            .others
            .iter()
            .map(|o| (o.key_type, o.chain.expiry))
            .collect();
        assert_eq!(
            others,
            [(KeyType::Rsa, Some(3)), (KeyType::Ed25519, Some(5))]
        );
        assert!(found.several());
        // A main leaf of no known type: no report, so no key_type labels.
        let odd = judged("DSA", 1).chain.unwrap();
        let none = Discovered {
            judged: Vec::new(),
            failures: Vec::new(),
            checked_at: SystemTime::UNIX_EPOCH,
        };
        assert!(report(&odd, none).is_none());
    }

    #[test]
    fn a_cached_answer_is_small() {
        // Every target keeps three (one per key type) for the hour; most are not chains.
        let size = std::mem::size_of::<(KeyType, Found)>();
        assert!(size <= 24, "a cached answer is {size} bytes");
    }

    #[test]
    fn cache_keeps_answers_per_target_and_address() {
        let cache = LeafCache::default();
        let key = ("t".to_string(), "127.0.0.1:443".parse().unwrap());
        let answers = vec![(KeyType::Rsa, Found::Refused)];
        cache.put(key.clone(), SystemTime::UNIX_EPOCH, &answers);
        let (checked, cached) = cache.get(&key).unwrap();
        assert_eq!(checked, SystemTime::UNIX_EPOCH);
        assert!(matches!(cached[..], [(KeyType::Rsa, Found::Refused)]));
        assert!(cache.get(&("other".to_string(), key.1)).is_none());
        // An update replaces the answers, not the time they were first had.
        let leaf = CertificateDer::from(vec![1, 2, 3]);
        let found = Found::Chain(Box::new(Served {
            chain: vec![leaf.clone()],
            ocsp_response: Vec::new(),
        }));
        cache.update(&key, &vec![(KeyType::Rsa, found)]);
        let (checked, cached) = cache.get(&key).unwrap();
        assert_eq!(checked, SystemTime::UNIX_EPOCH);
        assert!(
            !cached[0].1.other_leaf(&leaf),
            "the main leaf is no other leaf"
        );
        assert!(cached[0].1.other_leaf(&CertificateDer::from(vec![9])));
        assert!(!Found::Refused.other_leaf(&leaf));
        assert!(!Found::Main.other_leaf(&leaf));
        // The cache keeps no copy of the main chain.
        let kept = without_main(&cached, &leaf);
        assert!(matches!(kept[..], [(KeyType::Rsa, Found::Main)]));
    }
}
