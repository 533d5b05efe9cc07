//! Why a revocation source gave no verdict: the `reason` label of `cert_revocation_error_info`.
//!
//! Each stage has its narrower enum ([`OcspReason`], [`CrlReason`], [`FetchReason`]), so its
//! signature says what it can fail with; all widen into [`RevocationReason`], where the labels
//! of OCSP and CRL reasons are spelled (a malformed OCSP response and a malformed CRL share
//! `malformed`). Fetch reasons keep their own labels: the fetcher serves AIA too.

use std::fmt;

use super::crl::CrlReason;
use super::ocsp::OcspReason;
use crate::failure::{Failure, Reason};
use crate::fetch::FetchReason;

/// Why a source gave no verdict, with the sentence for the log line.
pub type RevocationError = Failure<RevocationReason>;

/// The fixed reason of a revocation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RevocationReason {
    /// The HTTP side failed (or the budget ran out before an answer).
    Fetch(FetchReason),
    /// An answer (or the request built for it) does not parse.
    Malformed,
    /// A signature does not verify, or the signer is not authorised.
    BadSignature,
    /// A CRL uses a feature that is not supported (deltas, partitions, indirect CRLs).
    Unsupported,
    /// A CRL was issued by someone other than the certificate's issuer.
    WrongIssuer,
    /// The OCSP responder answered with an error status (tryLater, unauthorized, …).
    ResponderError,
    /// The OCSP response is about other certificates.
    NoMatchingResponse,
    /// The answer's thisUpdate is in the future.
    NotYetValid,
    /// The answer's nextUpdate has passed.
    Stale,
    /// The OCSP responder does not know the certificate.
    UnknownStatus,
    /// The certificate's issuer is not in the path or the trust store.
    IssuerUnknown,
    /// The OCSP response carries a nonce other than the request's (a replayed answer).
    NonceMismatch,
}

impl RevocationReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Fetch(fetch) => fetch.as_str(),
            RevocationReason::Malformed => "malformed",
            RevocationReason::BadSignature => "bad_signature",
            RevocationReason::Unsupported => "unsupported",
            RevocationReason::WrongIssuer => "wrong_issuer",
            RevocationReason::ResponderError => "responder_error",
            RevocationReason::NoMatchingResponse => "no_matching_response",
            RevocationReason::NotYetValid => "not_yet_valid",
            RevocationReason::Stale => "stale",
            RevocationReason::UnknownStatus => "unknown_status",
            RevocationReason::IssuerUnknown => "issuer_unknown",
            RevocationReason::NonceMismatch => "nonce_mismatch",
        }
    }
}

impl Reason for RevocationReason {
    fn as_str(self) -> &'static str {
        RevocationReason::as_str(self)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FetchReason> for RevocationReason {
    fn from(reason: FetchReason) -> Self {
        RevocationReason::Fetch(reason)
    }
}

impl From<OcspReason> for RevocationReason {
    fn from(reason: OcspReason) -> Self {
        match reason {
            OcspReason::Malformed => RevocationReason::Malformed,
            OcspReason::BadSignature => RevocationReason::BadSignature,
            OcspReason::ResponderError => RevocationReason::ResponderError,
            OcspReason::NoMatchingResponse => RevocationReason::NoMatchingResponse,
            OcspReason::NotYetValid => RevocationReason::NotYetValid,
            OcspReason::Stale => RevocationReason::Stale,
            OcspReason::NonceMismatch => RevocationReason::NonceMismatch,
        }
    }
}

impl From<CrlReason> for RevocationReason {
    fn from(reason: CrlReason) -> Self {
        match reason {
            CrlReason::Malformed => RevocationReason::Malformed,
            CrlReason::BadSignature => RevocationReason::BadSignature,
            CrlReason::Unsupported => RevocationReason::Unsupported,
            CrlReason::WrongIssuer => RevocationReason::WrongIssuer,
        }
    }
}

impl From<Failure<FetchReason>> for RevocationError {
    fn from(e: Failure<FetchReason>) -> Self {
        RevocationError::new(e.reason.into(), e.detail)
    }
}

impl From<Failure<OcspReason>> for RevocationError {
    fn from(e: Failure<OcspReason>) -> Self {
        RevocationError::new(e.reason.into(), e.detail)
    }
}

impl From<Failure<CrlReason>> for RevocationError {
    fn from(e: Failure<CrlReason>) -> Self {
        RevocationError::new(e.reason.into(), e.detail)
    }
}
