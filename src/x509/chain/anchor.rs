//! The trust anchor as part of the verdict: webpki ignores an anchor's dates and extensions,
//! strict clients (OpenSSL, Go, Java) do not, so a path ending at an anchor they refuse is
//! turned down, and the first such path is kept to say why.

use std::sync::Arc;

use super::ChainError;
use crate::x509::facts::CertFacts;
use crate::x509::trust::AnchorCert;

/// A path webpki verified up to an anchor that strict clients refuse.
pub(super) struct Rejected {
    pub(super) reason: ChainError,
    pub(super) detail: String,
    pub(super) used: Vec<Vec<u8>>,
    pub(super) anchor: Option<Arc<CertFacts>>,
    pub(super) private: bool,
}

/// Why strict clients refuse a path ending at this anchor at `now`, if they do. An anchor
/// that is the leaf itself (a pinned self-signed certificate) needs no CA flag.
pub(super) fn anchor_problem(
    cert: &AnchorCert,
    is_leaf: bool,
    now: i64,
) -> Option<(ChainError, String)> {
    let name = cert
        .facts
        .as_ref()
        .map(|f| f.subject.clone())
        .unwrap_or_else(|| "the trust anchor".to_string());
    if !is_leaf {
        if let Some(why) = &cert.unusable {
            return Some((
                ChainError::AnchorUnusable,
                format!("trust anchor {name}: {why}"),
            ));
        }
    }
    let facts = cert.facts.as_ref()?;
    if now > facts.not_after {
        return Some((
            ChainError::AnchorExpired,
            format!("trust anchor {name} expired on {}", utc(facts.not_after)),
        ));
    }
    if now < facts.not_before {
        return Some((
            ChainError::AnchorNotYetValid,
            format!(
                "trust anchor {name} is valid only from {}",
                utc(facts.not_before)
            ),
        ));
    }
    None
}

/// A Unix time as RFC 3339 UTC, for details.
pub(super) fn utc(t: i64) -> String {
    match u64::try_from(t) {
        Ok(secs) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        )
        .to_string(),
        Err(_) => format!("{t} (Unix seconds)"),
    }
}
