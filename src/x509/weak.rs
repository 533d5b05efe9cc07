//! Weak cryptography in a chain: what modern clients refuse or will soon refuse, named per
//! certificate so the operator knows which one to reissue.
//!
//! Pure logic over [`CertFacts`] and the chain's verdict, no networking. Each finding is a
//! fixed reason — the `reason` label of `cert_weak_crypto_info`:
//!
//! - `sha1_signature`, `md5_signature`: the certificate is signed with a broken hash. A root's
//!   self-signature is exempt: clients trust a root by its presence in their store, never by
//!   checking its signature, so an old SHA-1 root a server still sends hurts no one.
//! - `rsa_key_lt_2048`, `ec_key_lt_256`: the certificate's own key is shorter than clients
//!   accept (RSA under 2048 bits, EC curves under 256 bits such as P-192 and P-224).
//! - `lifetime_over_public_max`: a leaf whose path ends at a *public* trust anchor (from the
//!   system store, not a `ca_file`) that was issued for longer than the CA/Browser Forum allowed
//!   at its notBefore. Private CAs are exempt: their lifetimes are their own business.

use super::chain::ChainReport;
use super::facts::CertFacts;

/// One kind of weakness; `as_str` is the label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weakness {
    /// Signed with SHA-1.
    Sha1Signature,
    /// Signed with MD5.
    Md5Signature,
    /// An RSA key under 2048 bits.
    RsaKeyUnder2048,
    /// An EC key on a curve under 256 bits.
    EcKeyUnder256,
    /// A publicly trusted leaf issued for longer than the CA/Browser Forum maximum.
    LifetimeOverPublicMax,
}

impl Weakness {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Weakness::Sha1Signature => "sha1_signature",
            Weakness::Md5Signature => "md5_signature",
            Weakness::RsaKeyUnder2048 => "rsa_key_lt_2048",
            Weakness::EcKeyUnder256 => "ec_key_lt_256",
            Weakness::LifetimeOverPublicMax => "lifetime_over_public_max",
        }
    }
}

/// Seconds in a day, as the Baseline Requirements count them (exactly 86,400).
const DAY: i64 = 86_400;

/// The maximum lifetime in days that applied to a public TLS leaf issued at `not_before` (Unix
/// seconds), or `None` before the 398-day rule (1 September 2020) took effect.
///
/// The schedule is ballot SC-081's: 398 days from 2020-09-01, 200 days from 2026-03-15, 100
/// days from 2027-03-15 and 47 days from 2029-03-15. Earlier limits (825 days, 39 months) are
/// not judged: no certificate issued under them is still valid.
pub fn public_max_days(not_before: i64) -> Option<i64> {
    // Start of each period, Unix seconds at 00:00 UTC.
    const SEP_2020: i64 = 1_598_918_400; // 2020-09-01
    const MAR_2026: i64 = 1_773_532_800; // 2026-03-15
    const MAR_2027: i64 = 1_805_068_800; // 2027-03-15
    const MAR_2029: i64 = 1_868_227_200; // 2029-03-15
    match not_before {
        t if t >= MAR_2029 => Some(47),
        t if t >= MAR_2027 => Some(100),
        t if t >= MAR_2026 => Some(200),
        t if t >= SEP_2020 => Some(398),
        _ => None,
    }
}

/// Whether a certificate's validity exceeds `max_days`. The Baseline Requirements count the
/// period from notBefore to notAfter *inclusive*, so a certificate of exactly 398 × 86,400
/// seconds between the two dates is one second too long; CAs issue one second (or a day) less.
pub fn exceeds_days(facts: &CertFacts, max_days: i64) -> bool {
    facts.not_after - facts.not_before + 1 > max_days * DAY
}

/// The weaknesses of one certificate at `position` (0 = leaf) of `report`.
pub fn of_certificate(report: &ChainReport, position: usize) -> Vec<Weakness> {
    let mut found = Vec::new();
    let Some(cert) = report.certs.get(position) else {
        return found;
    };
    let is_root = cert.is_ca && cert.self_issued;
    if !is_root {
        let sig = cert.signature_algorithm.as_str();
        if contains_ignore_case(sig, "sha1") || sig == "1.2.840.10040.4.3" {
            found.push(Weakness::Sha1Signature);
        }
        if contains_ignore_case(sig, "md5") {
            found.push(Weakness::Md5Signature);
        }
    }
    match cert.key_algorithm {
        "RSA" if cert.key_bits < 2048 => found.push(Weakness::RsaKeyUnder2048),
        "EC" if cert.key_bits < 256 => found.push(Weakness::EcKeyUnder256),
        _ => {}
    }
    if position == 0 && !cert.is_ca && chains_to_public_root(report) {
        if let Some(max) = public_max_days(cert.not_before) {
            if exceeds_days(cert, max) {
                found.push(Weakness::LifetimeOverPublicMax);
            }
        }
    }
    found
}

/// Every weakness of every certificate of `report`, as (position, weakness), in position order.
pub fn of_chain(report: &ChainReport) -> Vec<(usize, Weakness)> {
    (0..report.certs.len())
        .flat_map(|i| of_certificate(report, i).into_iter().map(move |w| (i, w)))
        .collect()
}

/// Whether the path was built to a trust anchor from the system store (not a `ca_file`).
fn chains_to_public_root(report: &ChainReport) -> bool {
    report.judged && report.anchored && !report.private_anchor
}

/// Case-insensitive substring test without allocating (runs at every scrape).
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    const MAR_2026: i64 = 1_773_532_800;

    fn cert(key: &'static str, bits: u32, sig: &str) -> CertFacts {
        CertFacts {
            not_before: MAR_2026 + 10 * DAY,
            key_algorithm: key,
            key_bits: bits,
            signature_algorithm: sig.into(),
            ..CertFacts::example("CN=leaf", "CN=ca", MAR_2026 + 50 * DAY)
        }
    }

    fn report(certs: Vec<CertFacts>, anchored: bool, private_anchor: bool) -> ChainReport {
        ChainReport {
            in_path: vec![true; certs.len()],
            certs: certs.into_iter().map(Arc::new).collect(),
            errors: BTreeSet::new(),
            expiry: None,
            private_anchor,
            detail: None,
            judged: true,
            anchored,
            stapled_scts: Vec::new(),
            anchor: None,
        }
    }

    #[test]
    fn weak_signatures_and_keys_are_named() {
        let r = report(
            vec![
                cert("RSA", 1024, "sha1WithRSAEncryption"),
                cert("EC", 224, "md5WithRSAEncryption"),
                cert("EC", 256, "ecdsa-with-SHA1"),
                cert("RSA", 2048, "sha256WithRSAEncryption"),
                cert("EC", 384, "ecdsa-with-SHA384"),
                cert("DSA", 0, "1.2.840.10040.4.3"),
            ],
            true,
            true,
        );
        assert_eq!(
            of_chain(&r),
            vec![
                (0, Weakness::Sha1Signature),
                (0, Weakness::RsaKeyUnder2048),
                (1, Weakness::Md5Signature),
                (1, Weakness::EcKeyUnder256),
                (2, Weakness::Sha1Signature),
                (5, Weakness::Sha1Signature),
            ]
        );
    }

    #[test]
    fn a_roots_self_signature_does_not_count_but_its_key_does() {
        let mut root = cert("RSA", 1024, "sha1WithRSAEncryption");
        root.is_ca = true;
        root.self_issued = true;
        let r = report(
            vec![cert("EC", 256, "ecdsa-with-SHA256"), root],
            true,
            false,
        );
        assert_eq!(of_chain(&r), vec![(1, Weakness::RsaKeyUnder2048)]);
    }

    #[test]
    fn maximum_lifetime_follows_the_ballot_schedule() {
        let day = |y: i32, m: u32, d: u32| {
            // Days from civil (proleptic Gregorian), enough for the dates tested here.
            let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let doy = (153 * m as i32 + 2) / 5 + d as i32 - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            (era as i64 * 146_097 + doe as i64 - 719_468) * DAY
        };
        assert_eq!(public_max_days(day(2019, 6, 1)), None);
        assert_eq!(public_max_days(day(2020, 9, 1)), Some(398));
        assert_eq!(public_max_days(day(2026, 3, 15) - 1), Some(398));
        assert_eq!(public_max_days(day(2026, 3, 15)), Some(200));
        assert_eq!(public_max_days(day(2027, 3, 14)), Some(200));
        assert_eq!(public_max_days(day(2027, 3, 15)), Some(100));
        assert_eq!(public_max_days(day(2029, 3, 14)), Some(100));
        assert_eq!(public_max_days(day(2029, 3, 15)), Some(47));
        assert_eq!(public_max_days(day(2040, 1, 1)), Some(47));
    }

    #[test]
    fn lifetime_is_counted_inclusively() {
        let mut c = cert("EC", 256, "ecdsa-with-SHA256");
        c.not_before = MAR_2026 + DAY;
        c.not_after = c.not_before + 200 * DAY - 1;
        assert!(!exceeds_days(&c, 200));
        c.not_after += 1;
        assert!(exceeds_days(&c, 200), "200 days plus the inclusive second");
    }

    #[test]
    fn long_lifetime_counts_only_for_a_public_leaf() {
        let mut leaf = cert("EC", 256, "ecdsa-with-SHA256");
        leaf.not_before = MAR_2026 - 30 * DAY; // the 398-day rule
        leaf.not_after = leaf.not_before + 800 * DAY;
        let public = report(vec![leaf.clone()], true, false);
        assert_eq!(
            of_chain(&public),
            vec![(0, Weakness::LifetimeOverPublicMax)]
        );
        // A private CA (ca_file anchor) is exempt.
        assert!(of_chain(&report(vec![leaf.clone()], true, true)).is_empty());
        // Without a path to an anchor nobody knows whether it is public.
        assert!(of_chain(&report(vec![leaf.clone()], false, false)).is_empty());
        // 397 days under the 398-day rule is fine; 399 is not.
        leaf.not_after = leaf.not_before + 397 * DAY;
        assert!(of_chain(&report(vec![leaf.clone()], true, false)).is_empty());
        leaf.not_after = leaf.not_before + 399 * DAY;
        assert_eq!(
            of_chain(&report(vec![leaf.clone()], true, false)),
            vec![(0, Weakness::LifetimeOverPublicMax)]
        );
        // Issued after 2026-03-15, 201 days is too long.
        leaf.not_before = MAR_2026 + DAY;
        leaf.not_after = leaf.not_before + 201 * DAY;
        assert_eq!(
            of_chain(&report(vec![leaf], true, false)),
            vec![(0, Weakness::LifetimeOverPublicMax)]
        );
    }
}
