//! Judging a served certificate chain, one dimension at a time.
//!
//! rustls-webpki answers "is this chain valid?" with one ranked error, and checks the hostname only
//! after the path succeeded. Operators need every reason that applies, so this module asks each
//! question separately: are the dates of every certificate in the path good *now*; does a path to
//! a trust anchor exist (asked at a moment when the dates are good, so that expiry does not hide
//! an unknown issuer); does the leaf cover the server name; are the signatures acceptable.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage, VerifiedPath};

use super::facts::CertFacts;
use super::trust::{AnchorCert, TrustStore};
use anchor::{anchor_problem, Rejected};
use webpki_errors::{classify, is_date_error, is_eku_error};

mod anchor;
#[cfg(test)]
mod tests;
mod verdicts;
mod webpki_errors;

pub use verdicts::VerdictCache;

/// The most certificates of one chain that are analysed and reported; a server sending more is
/// misconfigured or hostile, and the rest would only bloat `/metrics`.
pub const MAX_CHAIN: usize = 64;

/// Why a chain is not valid. The `as_str` values are the `reason` label of `cert_chain_error_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainError {
    /// A certificate of the path is past its notAfter.
    Expired,
    /// A certificate of the path is before its notBefore.
    NotYetValid,
    /// No path to a trust anchor, and the leaf is not self-signed.
    UnknownIssuer,
    /// The leaf signed itself and is not a trust anchor.
    SelfSigned,
    /// The path would be complete with the intermediate the server did not send.
    MissingIntermediate,
    /// The leaf does not cover the server name.
    HostnameMismatch,
    /// A signature in the path uses an algorithm (or key) verifiers reject.
    UnsupportedSignatureAlgorithm,
    /// A signature in the path does not verify.
    BadSignature,
    /// The leaf may not be used for TLS servers (extendedKeyUsage), or a CA is used as a leaf.
    InvalidPurpose,
    /// Name or path-length constraints of a CA forbid this path.
    ConstraintViolation,
    /// A certificate of the path is revoked.
    Revoked,
    /// A certificate could not be parsed (by webpki or x509-parser), or uses an encoding strict
    /// parsers refuse; `detail` has the parser's words.
    Malformed,
    /// The trust anchor the path ends at is past its notAfter (webpki ignores anchor dates;
    /// OpenSSL-, Go- and Java-based clients refuse the path).
    AnchorExpired,
    /// The trust anchor the path ends at is before its notBefore.
    AnchorNotYetValid,
    /// The trust anchor the path ends at is unusable for strict clients: no basicConstraints
    /// CA, an unknown critical extension, an encoding strict parsers refuse.
    AnchorUnusable,
    /// A key of the path no rustls client accepts (RSA under 2048 or over 8192 bits, EC
    /// curves other than P-256/P-384/P-521, DSA, Ed448).
    WeakKey,
    /// Every signature verifies along a path to a trust anchor, but rustls-webpki cannot
    /// build that path (self-issued intermediates of a key rollover): rustls clients refuse it.
    PathNotBuilt,
    /// The path failed for a reason not listed above (the log line has webpki's words).
    Invalid,
}

impl ChainError {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainError::Expired => "expired",
            ChainError::NotYetValid => "not_yet_valid",
            ChainError::UnknownIssuer => "unknown_issuer",
            ChainError::SelfSigned => "self_signed",
            ChainError::MissingIntermediate => "missing_intermediate",
            ChainError::HostnameMismatch => "hostname_mismatch",
            ChainError::UnsupportedSignatureAlgorithm => "unsupported_signature_algorithm",
            ChainError::BadSignature => "bad_signature",
            ChainError::InvalidPurpose => "invalid_purpose",
            ChainError::ConstraintViolation => "constraint_violation",
            ChainError::Revoked => "revoked",
            ChainError::Malformed => "malformed_certificate",
            ChainError::AnchorExpired => "anchor_expired",
            ChainError::AnchorNotYetValid => "anchor_not_yet_valid",
            ChainError::AnchorUnusable => "anchor_unusable",
            ChainError::WeakKey => "weak_key",
            ChainError::PathNotBuilt => "path_not_built",
            ChainError::Invalid => "invalid",
        }
    }
}

/// The verdict on a served chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Facts of each certificate as the server sent it (index = `position`, 0 = leaf).
    pub certs: Vec<Arc<CertFacts>>,
    /// Which sent certificates belong to the path from the leaf (extra ones, such as an old root
    /// the server still sends, do not count for expiry).
    pub in_path: Vec<bool>,
    /// Every reason that applies; empty when the chain is valid.
    pub errors: BTreeSet<ChainError>,
    /// The earliest notAfter of the path's certificates (Unix seconds).
    pub expiry: Option<i64>,
    /// Whether the path ends at an anchor from a `ca_file` rather than the system store.
    pub private_anchor: bool,
    /// webpki's own words for the path failure, for logs.
    pub detail: Option<String>,
    /// Whether the certificates were judged as a chain (always, for a served chain). False for
    /// a file holding a bundle of unrelated certificates ([`super::bundle`]): their facts are
    /// reported, but there is no path, no verdict and `errors` stays empty.
    pub judged: bool,
    /// The facts of the trust anchor the path ends at, when a path was built and the anchor
    /// was read from a certificate (exported as `cert_anchor_not_after_timestamp_seconds`).
    pub anchor: Option<Arc<CertFacts>>,
    /// Whether a path to a trust anchor exists (then `private_anchor` says which kind), with
    /// an intermediate fetched from the leaf's caIssuers URL when the server left it out
    /// ([`super::missing`]). Tells a publicly trusted leaf for [`super::weak`].
    pub anchored: bool,
    /// The SCTs about the leaf in the stapled OCSP response's single response for it (set by
    /// the probe, which has the response; see [`super::ct`]).
    pub stapled_scts: Vec<super::ct::Sct>,
}

impl ChainReport {
    /// True when no reason applies.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Analyses `chain` (leaf first, as sent) for `server_name` at time `now` (Unix seconds).
pub fn analyse(
    chain: &[CertificateDer<'_>],
    server_name: &str,
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    judge(chain, Some(server_name), Purpose::TlsServer, trust, now)
}

/// Analyses a chain read from a file (leaf first): dates, trust and signatures as for a served
/// chain, but no hostname (a file has no server name) and any purpose (a file may hold a
/// client or signing certificate as well as a server's).
pub fn analyse_file_chain(
    chain: &[CertificateDer<'_>],
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    judge(chain, None, Purpose::Any, trust, now)
}

/// What the leaf must be good for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// A TLS server (extendedKeyUsage serverAuth, when the extension is present).
    TlsServer,
    /// Anything: extendedKeyUsage is not judged.
    Any,
}

impl ExtendedKeyUsageValidator for Purpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        match self {
            Purpose::TlsServer => KeyUsage::server_auth().validate(iter),
            Purpose::Any => Ok(()),
        }
    }
}

/// The analysis behind [`analyse`] and [`analyse_file_chain`]: the hostname dimension is
/// skipped when `server_name` is `None`.
///
/// Each dimension is asked on its own: the dates of the path's certificates now; whether a
/// path to a usable anchor exists (asked at a moment inside the path's validity, with any
/// purpose, so neither an expiry nor a wrong extendedKeyUsage hides an unknown issuer); the
/// purpose; the anchor's own dates and usability; the keys; the signatures (re-verified here
/// when webpki calls one bad, to tell a bad signature from a weak key or a path webpki cannot
/// build); encodings strict parsers refuse; the hostname.
fn judge(
    chain: &[CertificateDer<'_>],
    server_name: Option<&str>,
    purpose: Purpose,
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    let chain = &chain[..chain.len().min(MAX_CHAIN)];
    let mut report = ChainReport {
        certs: Vec::with_capacity(chain.len()),
        in_path: vec![false; chain.len()],
        errors: BTreeSet::new(),
        expiry: None,
        private_anchor: false,
        detail: None,
        judged: true,
        anchored: false,
        anchor: None,
        stapled_scts: Vec::new(),
    };
    let mut details = Details::default();
    for der in chain {
        match super::facts_cache::facts(der) {
            Ok(facts) => report.certs.push(facts),
            Err(e) => {
                report.errors.insert(ChainError::Malformed);
                details.push(format!("certificate #{}: {e}", report.certs.len() + 1));
                // Keep positions aligned with what was sent: stop at the first unparsable one.
                report.in_path.truncate(report.certs.len());
                break;
            }
        }
    }
    if report.certs.is_empty() {
        report.detail = details.joined();
        return report;
    }

    // A chain judged before against this store, at a moment no date of it or of the store's
    // anchors separates from now, has the same verdict ([`verdicts`]). Chains with a
    // certificate that does not parse are rare and not kept.
    let key = (report.certs.len() == chain.len())
        .then(|| verdicts::Key::new(&report.certs, server_name, matches!(purpose, Purpose::Any)));
    if let Some(cached) = key.as_ref().and_then(|key| trust.verdicts.get(key, now)) {
        return cached;
    }
    let report = judge_parsed(chain, server_name, purpose, trust, now, report, details);
    if let Some(key) = key {
        let dates = report
            .certs
            .iter()
            .map(|f| (f.not_before, f.not_after))
            .chain(trust.anchor_dates());
        trust.verdicts.put(key, &report, now, dates);
    }
    report
}

/// The rest of [`judge`], once every certificate's facts are in `report`.
fn judge_parsed(
    chain: &[CertificateDer<'_>],
    server_name: Option<&str>,
    purpose: Purpose,
    trust: &TrustStore,
    now: i64,
    mut report: ChainReport,
    mut details: Details,
) -> ChainReport {
    // 1. Which sent certificates form the path, judged by names alone (signatures come later).
    let name_path = name_chained_path(&report.certs);
    for &i in &name_path {
        report.in_path[i] = true;
    }

    let leaf_der = &chain[0];
    let leaf = match EndEntityCert::try_from(leaf_der) {
        Ok(leaf) => leaf,
        Err(e) => {
            // webpki cannot parse the leaf (an unknown critical extension, a v1 certificate,
            // a bad encoding): no path can be asked for, and no rustls client accepts it.
            report.errors.insert(ChainError::Malformed);
            details.push(format!("webpki cannot parse the leaf: {e:?}"));
            finish(&mut report, &mut details, server_name, None, now);
            return report;
        }
    };
    let intermediates: Vec<CertificateDer<'_>> = chain[1..report.certs.len()]
        .iter()
        .map(|c| CertificateDer::from(c.as_ref()))
        .collect();
    let leaf_anchor = webpki::anchor_from_trusted_cert(leaf_der).ok();
    let leaf_is = |cert: &AnchorCert| {
        leaf_anchor.as_ref().is_some_and(|a| {
            a.subject.as_ref() == cert.subject.as_slice()
                && a.subject_public_key_info.as_ref() == cert.spki.as_slice()
        })
    };

    // 2. Trust. A path is only good if its anchor is: webpki ignores an anchor's dates and
    //    extensions, strict clients do not, so paths ending at an anchor they refuse are turned
    //    down here (webpki then looks for another one, as with cross-signed roots) and the
    //    first such path is kept to say why.
    let rejected: RefCell<Option<Rejected>> = RefCell::new(None);
    let check_anchor = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let Some(cert) = trust.certificate_of(path.anchor()) else {
            return Ok(());
        };
        let Some((reason, why)) = anchor_problem(cert, leaf_is(cert), now) else {
            return Ok(());
        };
        let mut slot = rejected.borrow_mut();
        if slot.is_none() {
            *slot = Some(Rejected {
                reason,
                detail: why,
                used: used_intermediates(path),
                anchor: cert.facts.clone(),
                private: trust.is_private(path.anchor()),
            });
        }
        Err(webpki::Error::UnknownIssuer)
    };
    let ask = |t: i64, eku: Purpose| {
        rejected.replace(None);
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            trust.anchors(),
            &intermediates,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64)),
            eku,
            None,
            Some(&check_anchor),
        )
        .map(|path| {
            let anchor = trust
                .certificate_of(path.anchor())
                .and_then(|c| c.facts.clone());
            (
                used_intermediates(&path),
                trust.is_private(path.anchor()),
                anchor,
            )
        })
    };
    let mut at = now;
    let mut verdict = ask(now, purpose);
    if matches!(&verdict, Err(e) if is_date_error(e)) {
        if let Some(t) = moment_inside(&report.certs, &name_path) {
            at = t;
            verdict = ask(t, purpose);
        }
    }
    if let (Err(e), Purpose::TlsServer) = (&verdict, purpose) {
        if is_eku_error(e) {
            // The purpose is wrong; ask about the path with any purpose.
            report.errors.insert(ChainError::InvalidPurpose);
            details.push(format!("{e:?}"));
            verdict = ask(at, Purpose::Any);
        }
    }

    // 3. The path positions, from webpki when it built one, else from names.
    match verdict {
        Ok((used, private, anchor)) => {
            report.private_anchor = private;
            report.anchored = true;
            report.anchor = anchor;
            set_path(&mut report, chain, &used);
        }
        Err(e) => {
            if let Some(rejected) = rejected.take() {
                // A whole path verified, up to an anchor strict clients refuse.
                report.errors.insert(rejected.reason);
                details.push(rejected.detail);
                report.anchored = true;
                report.private_anchor = rejected.private;
                report.anchor = rejected.anchor;
                set_path(&mut report, chain, &rejected.used);
            } else if !is_date_error(&e) {
                let reason = classify(&e, &report, chain, trust, &leaf_anchor, &mut details);
                report.errors.insert(reason);
            }
        }
    }

    finish(&mut report, &mut details, server_name, Some(&leaf), now);
    report
}

/// Words for the log line, several dimensions' worth.
#[derive(Default)]
struct Details(Vec<String>);

impl Details {
    fn push(&mut self, s: String) {
        if !self.0.contains(&s) {
            self.0.push(s);
        }
    }

    fn joined(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("; "))
    }
}

fn used_intermediates(path: &VerifiedPath<'_>) -> Vec<Vec<u8>> {
    path.intermediate_certificates()
        .map(|c| c.der().as_ref().to_vec())
        .collect()
}

/// Marks the leaf and the `used` intermediates as the path (replacing the path by names).
fn set_path(report: &mut ChainReport, chain: &[CertificateDer<'_>], used: &[Vec<u8>]) {
    for (i, der) in chain.iter().enumerate().take(report.certs.len()) {
        report.in_path[i] = i == 0 || used.iter().any(|u| u.as_slice() == der.as_ref());
    }
}

/// The dimensions that need no path: dates, keys and encodings of the path's certificates
/// (and the anchor's key), the expiry, the hostname; then the detail for logs.
fn finish(
    report: &mut ChainReport,
    details: &mut Details,
    server_name: Option<&str>,
    leaf: Option<&EndEntityCert<'_>>,
    now: i64,
) {
    // Dates of every path certificate, now.
    for (facts, _) in report
        .certs
        .iter()
        .zip(&report.in_path)
        .filter(|(_, p)| **p)
    {
        if now > facts.not_after {
            report.errors.insert(ChainError::Expired);
        }
        if now < facts.not_before {
            report.errors.insert(ChainError::NotYetValid);
        }
        if let Some(why) = &facts.refused_key {
            report.errors.insert(ChainError::WeakKey);
            details.push(format!("{}: {why}", facts.subject));
        }
        if let Some(why) = &facts.encoding_problem {
            report.errors.insert(ChainError::Malformed);
            details.push(format!("{}: {why}", facts.subject));
        }
    }
    if let Some(why) = report.anchor.as_ref().and_then(|a| a.refused_key.as_ref()) {
        report.errors.insert(ChainError::WeakKey);
        details.push(format!("trust anchor: {why}"));
    }
    report.expiry = report
        .certs
        .iter()
        .zip(&report.in_path)
        .filter(|(_, p)| **p)
        .map(|(f, _)| f.not_after)
        .min();

    // Hostname, whatever the path said (files have none to check).
    if let (Some(server_name), Some(leaf)) = (server_name, leaf) {
        if !covers_name(leaf, server_name) {
            report.errors.insert(ChainError::HostnameMismatch);
        }
    }
    report.detail = details.joined();
}

/// Whether the leaf covers `server_name` (a DNS name or an IP literal).
fn covers_name(leaf: &EndEntityCert<'_>, server_name: &str) -> bool {
    let name = match server_name.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => match ServerName::try_from(server_name) {
            Ok(name) => name,
            Err(_) => return false,
        },
    };
    leaf.verify_is_valid_for_subject_name(&name).is_ok()
}

/// Positions of the path built by following issuer names from the leaf through the sent
/// certificates, stopping at a self-issued certificate (a root) or when no issuer was sent.
/// Roots are left out: they are the client's to hold, and an old root a server still sends
/// must not count as the chain's expiry.
fn name_chained_path(certs: &[Arc<CertFacts>]) -> Vec<usize> {
    let mut path = vec![0];
    let mut current = 0;
    while !certs[current].self_issued {
        let next = (1..certs.len()).find(|&i| {
            !path.contains(&i) && certs[i].subject == certs[current].issuer && !certs[i].self_issued
        });
        match next {
            Some(i) => {
                path.push(i);
                current = i;
            }
            None => break,
        }
    }
    path
}

/// A Unix time inside every path certificate's validity, if one exists.
fn moment_inside(certs: &[Arc<CertFacts>], path: &[usize]) -> Option<i64> {
    let start = path.iter().map(|&i| certs[i].not_before).max()?;
    let end = path.iter().map(|&i| certs[i].not_after).min()?;
    (start <= end).then_some(start + (end - start) / 2)
}
