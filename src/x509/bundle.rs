//! Certificate files hold either a chain or a bundle, and only a chain can be judged.
//!
//! A chain is what a TLS server would send: a leaf first, then the CAs above it
//! (`fullchain.pem`, `tls.crt`). It is judged like a served chain ([`super::chain`]), so a file
//! with the wrong intermediate shows `unknown_issuer`. A bundle is a set of certificates with
//! no leaf to judge (the system CA bundle, a `ca.crt`, several leaves in one file): every
//! certificate's facts are reported, with no verdict.
//!
//! The test is structural, from the certificates' own basicConstraints, and does not ask
//! whether they really issued each other — that is the verdict's job: a chain is at most
//! [`MAX_CHAIN`] certificates whose first is not a CA and whose others all are (or are
//! self-issued, as old v1 roots without basicConstraints are). Anything else is a bundle.
//!
//! **Expiry.** A chain's expiry is its path's earliest notAfter, expired or not: one lapsed
//! certificate breaks the chain. A bundle's certificates do not depend on each other, so an
//! old root that lapsed years ago (Debian's bundle still ships some) does not make the file
//! fail: its headline ([`headline`]) is the *next* certificate to lapse, and the ones already
//! past their notAfter are counted ([`expired`]) and keep their own per-certificate series.
//! When every certificate has lapsed, the headline is the one that lapsed last, negative.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::chain::{ChainReport, MAX_CHAIN};
use super::facts::CertFacts;

/// The most certificates of one file that are reported. The Debian system bundle holds about
/// 150; a file with more is truncated (and says so) rather than flooding `/metrics`.
pub const MAX_BUNDLE: usize = 1024;

/// Whether `certs`, in file order, look like a chain to judge rather than a bundle.
pub fn is_chain(certs: &[Arc<CertFacts>]) -> bool {
    match certs.split_first() {
        Some((leaf, issuers)) => {
            certs.len() <= MAX_CHAIN
                && !leaf.is_ca
                && issuers.iter().all(|c| c.is_ca || c.self_issued)
        }
        None => false,
    }
}

/// The expiry headline of a bundle at `now` (Unix seconds): the earliest notAfter not yet
/// passed, so `cert_days_to_expiry` warns before the next certificate lapses; when every one
/// has lapsed, the latest notAfter (the headline is then negative and stays so). `None` for
/// no certificates. A certificate lapses after its notAfter second, as for the chain verdict.
pub fn headline(certs: &[Arc<CertFacts>], now: i64) -> Option<i64> {
    let next = certs
        .iter()
        .map(|c| c.not_after)
        .filter(|&t| t >= now)
        .min();
    next.or_else(|| certs.iter().map(|c| c.not_after).max())
}

/// How many of a bundle's certificates are past their notAfter at `now`.
pub fn expired(certs: &[Arc<CertFacts>], now: i64) -> usize {
    certs.iter().filter(|c| c.not_after < now).count()
}

/// The expiry of `report` at `now`: a judged chain's path expiry as it is, a bundle's
/// [`headline`] recomputed at `now`, so that a certificate lapsing between two probes hands the
/// headline on to the next one at once, in step with [`expired`].
pub fn expiry_at(report: &ChainReport, now: i64) -> Option<i64> {
    if report.judged {
        report.expiry
    } else {
        headline(&report.certs, now)
    }
}

/// The report of a bundle at `now`: every certificate's facts, no path, no verdict, and its
/// [`headline`] as the expiry.
pub fn facts_only(certs: Vec<Arc<CertFacts>>, now: i64) -> ChainReport {
    let certs: Vec<_> = certs.into_iter().take(MAX_BUNDLE).collect();
    ChainReport {
        in_path: vec![false; certs.len()],
        expiry: headline(&certs, now),
        certs,
        errors: BTreeSet::new(),
        private_anchor: false,
        detail: None,
        judged: false,
        anchored: false,
        stapled_scts: Vec::new(),
        anchor: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &str, issuer: &str, is_ca: bool, not_after: i64) -> Arc<CertFacts> {
        Arc::new(CertFacts {
            is_ca,
            ..CertFacts::example(subject, issuer, not_after)
        })
    }

    #[test]
    fn leaf_then_cas_is_a_chain() {
        let leaf = cert("CN=leaf", "CN=inter", false, 10);
        let inter = cert("CN=inter", "CN=root", true, 20);
        let root = cert("CN=root", "CN=root", true, 30);
        assert!(is_chain(std::slice::from_ref(&leaf)));
        assert!(is_chain(&[leaf.clone(), inter.clone()]));
        assert!(is_chain(&[leaf.clone(), inter.clone(), root.clone()]));
        // The wrong intermediate is still a chain: the verdict will say unknown_issuer.
        let other = cert("CN=other", "CN=root", true, 20);
        assert!(is_chain(&[leaf.clone(), other]));
        // A v1 root without basicConstraints still counts as an issuer.
        let v1_root = cert("CN=v1", "CN=v1", false, 30);
        assert!(is_chain(&[leaf, v1_root]));
    }

    #[test]
    fn cas_first_or_several_leaves_is_a_bundle() {
        let leaf = cert("CN=leaf", "CN=inter", false, 10);
        let inter = cert("CN=inter", "CN=root", true, 20);
        let root = cert("CN=root", "CN=root", true, 30);
        assert!(!is_chain(&[]));
        assert!(!is_chain(std::slice::from_ref(&root)));
        assert!(!is_chain(&[inter.clone(), root.clone()]));
        assert!(!is_chain(&[
            leaf.clone(),
            cert("CN=b", "CN=inter", false, 5)
        ]));
        // A leaf followed by a whole CA bundle is too long to be a chain.
        let mut long = vec![leaf];
        long.extend(std::iter::repeat_n(root, MAX_CHAIN));
        assert!(!is_chain(&long));
    }

    #[test]
    fn bundle_expiry_is_the_earliest_and_has_no_verdict() {
        let report = facts_only(
            vec![
                cert("CN=a", "CN=a", true, 300),
                cert("CN=b", "CN=b", true, 100),
                cert("CN=c", "CN=c", true, 200),
            ],
            50,
        );
        assert_eq!(report.expiry, Some(100));
        assert_eq!(report.certs.len(), 3);
        assert!(!report.judged);
        assert!(report.errors.is_empty());
        assert_eq!(report.in_path, vec![false; 3]);
    }

    #[test]
    fn lapsed_certificates_are_counted_not_the_headline() {
        let certs = vec![
            cert("CN=old", "CN=old", true, 40),
            cert("CN=a", "CN=a", true, 300),
            cert("CN=b", "CN=b", true, 100),
        ];
        assert_eq!(headline(&certs, 50), Some(100));
        assert_eq!(expired(&certs, 50), 1);
        // The second of notAfter still counts as valid, the next one does not.
        assert_eq!(headline(&certs, 100), Some(100));
        assert_eq!(headline(&certs, 101), Some(300));
        assert_eq!(expired(&certs, 101), 2);
        let report = facts_only(certs, 50);
        assert_eq!(report.expiry, Some(100));
        // Recomputed at the scrape: once CN=b lapses, CN=a is next.
        assert_eq!(expiry_at(&report, 150), Some(300));
    }

    #[test]
    fn a_bundle_with_nothing_left_reads_as_its_last_expiry() {
        let certs = vec![
            cert("CN=a", "CN=a", true, 10),
            cert("CN=b", "CN=b", true, 30),
            cert("CN=c", "CN=c", true, 20),
        ];
        assert_eq!(headline(&certs, 50), Some(30));
        assert_eq!(expired(&certs, 50), 3);
        assert_eq!(headline(&[], 50), None);
        assert_eq!(expired(&[], 50), 0);
    }

    #[test]
    fn a_judged_chain_keeps_its_path_expiry() {
        let mut report = facts_only(
            vec![
                cert("CN=leaf", "CN=inter", false, 10),
                cert("CN=inter", "CN=root", true, 300),
            ],
            50,
        );
        report.judged = true;
        report.expiry = Some(10);
        assert_eq!(expiry_at(&report, 50), Some(10));
    }
}
