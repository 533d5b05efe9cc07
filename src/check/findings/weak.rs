//! Weak crypto and lifetimes over the public maximum: works today, should be fixed.

use super::{which, Finding, Severity, DAY};
use crate::check::format_utc;
use crate::x509::{weak, CertFacts};

/// The finding for one weakness of the certificate at `position`.
pub(super) fn finding(cert: &CertFacts, position: usize, weakness: weak::Weakness) -> Finding {
    use weak::Weakness::*;
    let who = which(position, cert);
    let (message, advice) = match weakness {
        Sha1Signature => (
            format!("{who} is signed with SHA-1 ({})", cert.signature_algorithm),
            "reissue it signed with SHA-256 or better".to_string(),
        ),
        Md5Signature => (
            format!("{who} is signed with MD5 ({})", cert.signature_algorithm),
            "reissue it signed with SHA-256 or better".to_string(),
        ),
        RsaKeyUnder2048 => (
            format!("{who} has an RSA key of {} bits", cert.key_bits),
            "reissue it with an RSA key of at least 2048 bits or an ECDSA P-256 key".to_string(),
        ),
        EcKeyUnder256 => (
            format!("{who} has an EC key of {} bits", cert.key_bits),
            "reissue it with an ECDSA P-256 (or larger) key".to_string(),
        ),
        LifetimeOverPublicMax => {
            let days = (cert.not_after - cert.not_before + 1) as f64 / DAY;
            let max = weak::public_max_days(cert.not_before).unwrap_or(0);
            (
                format!(
                    "{who} was issued for {} days, over the {max}-day maximum for publicly \
                     trusted certificates issued on {}",
                    days.ceil(),
                    format_utc(cert.not_before)
                ),
                "clients may reject it: reissue with a shorter lifetime and automate renewal (ACME)"
                    .to_string(),
            )
        }
    };
    Finding::new(Severity::Attention, weakness.as_str(), message).advice(advice)
}
