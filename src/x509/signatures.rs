//! Signatures checked one by one, for when webpki calls a path's signature bad.
//!
//! webpki reports the most specific error of all the paths it tried, so "invalid signature"
//! can mean three things: a signature that really does not verify; an issuer key too weak for
//! its verifiers (RSA-1024); or a path it could not build although every signature on it
//! verifies (self-issued intermediates of a key rollover). This walks the issuer names from
//! the leaf through the sent certificates to the trust anchors, verifying each signature with
//! x509-parser, to tell which.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::facts::CertFacts;
use super::trust::TrustStore;

/// What the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// Every signature verifies along a path of this many certificates (leaf first, anchor
    /// excluded) to a trust anchor.
    Verified(usize),
    /// A signature cannot be verified because its issuer's key is one rustls refuses.
    WeakKey(String),
    /// A signature does not verify with its issuer's key.
    Bad(String),
    /// No issuer by name, sent or trusted.
    NoPath,
}

/// The longest path walked (webpki stops at 6 intermediates; this is only a bound).
const MAX_DEPTH: usize = 16;

/// The most signatures verified in one walk, as webpki budgets its own: a hostile server
/// sending many certificates with one name and key would otherwise make the walk explore
/// every ordering of them.
const MAX_SIGNATURES: usize = 100;

/// Walks from the leaf (`chain[0]`, whose parsed facts are `facts`) to a trust anchor.
pub fn walk(chain: &[CertificateDer<'_>], facts: &[Arc<CertFacts>], trust: &TrustStore) -> Walk {
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .take(facts.len())
        .map_while(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    if parsed.is_empty() {
        return Walk::NoPath;
    }
    let anchors: Vec<(Vec<u8>, Vec<u8>, Option<String>)> = trust
        .anchors()
        .iter()
        .map(|a| {
            let refused = trust
                .certificate_of(a)
                .and_then(|c| c.facts.as_ref())
                .and_then(|f| f.refused_key.clone());
            (
                sequence(a.subject.as_ref()),
                sequence(a.subject_public_key_info.as_ref()),
                refused,
            )
        })
        .collect();
    let mut visited = vec![0];
    let mut budget = MAX_SIGNATURES;
    step(&parsed, facts, &anchors, &mut visited, &mut budget)
}

/// One step from the last certificate of `visited`.
fn step(
    certs: &[X509Certificate<'_>],
    facts: &[Arc<CertFacts>],
    anchors: &[(Vec<u8>, Vec<u8>, Option<String>)],
    visited: &mut Vec<usize>,
    budget: &mut usize,
) -> Walk {
    let current = &certs[*visited.last().expect("the leaf")];
    let issuer = current.issuer().as_raw();
    let mut best = Walk::NoPath;
    let note = |found: Walk, best: &mut Walk| {
        let rank = |w: &Walk| match w {
            Walk::Verified(_) => 3,
            Walk::WeakKey(_) => 2,
            Walk::Bad(_) => 1,
            Walk::NoPath => 0,
        };
        if rank(&found) > rank(best) {
            *best = found;
        }
    };
    for (subject, spki, refused) in anchors {
        if subject.as_slice() != issuer {
            continue;
        }
        let Ok((_, key)) = SubjectPublicKeyInfo::from_der(spki) else {
            continue;
        };
        if *budget == 0 {
            return best;
        }
        *budget -= 1;
        match current.verify_signature(Some(&key)) {
            Ok(()) => return Walk::Verified(visited.len()),
            Err(e) => note(outcome(current, refused.as_deref(), e), &mut best),
        }
    }
    if visited.len() >= MAX_DEPTH {
        return best;
    }
    for (i, candidate) in certs.iter().enumerate() {
        if visited.contains(&i) || candidate.subject().as_raw() != issuer {
            continue;
        }
        if *budget == 0 {
            return best;
        }
        *budget -= 1;
        match current.verify_signature(Some(candidate.public_key())) {
            Ok(()) => {
                visited.push(i);
                let found = step(certs, facts, anchors, visited, budget);
                visited.pop();
                if matches!(found, Walk::Verified(_)) {
                    return found;
                }
                note(found, &mut best);
            }
            Err(e) => note(
                outcome(current, facts[i].refused_key.as_deref(), e),
                &mut best,
            ),
        }
    }
    best
}

/// A failed verification: a weak issuer key, or a bad signature.
fn outcome(cert: &X509Certificate<'_>, refused: Option<&str>, e: impl std::fmt::Display) -> Walk {
    let subject = cert.subject().to_string();
    match refused {
        Some(why) => Walk::WeakKey(format!(
            "the signature on {subject} cannot be verified: its issuer's {why}"
        )),
        None => Walk::Bad(format!("the signature on {subject} does not verify: {e}")),
    }
}

/// `content` wrapped in a DER SEQUENCE (webpki keeps names and keys without it).
fn sequence(content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x30);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    #[test]
    fn many_certificates_with_one_name_and_key_stay_within_the_budget() {
        // 40 CA certificates, one name, one key: each one's signature verifies with every
        // other's key, so an unbounded walk would try every ordering. None leads to an anchor.
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Loop CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other
            .distinguished_name
            .push(DnType::CommonName, "Elsewhere");
        let issuer = Issuer::from_params(&params, &key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut chain = vec![other.signed_by(&leaf_key, &issuer).unwrap().der().clone()];
        for _ in 0..40 {
            chain.push(params.signed_by(&key, &issuer).unwrap().der().clone());
        }
        let facts: Vec<_> = chain
            .iter()
            .map(|d| super::super::facts_cache::facts(d).unwrap())
            .collect();
        let trust = TrustStore::from_certificates(Vec::new()).unwrap();
        assert_eq!(walk(&chain, &facts, &trust), Walk::NoPath);
    }
}
