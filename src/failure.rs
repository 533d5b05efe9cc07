//! The one shape of every failure the exporter reports: a fixed reason, whose `as_str` is the
//! `reason` label value, and the sentence for logs and the `check` command.
//!
//! Each stage has its own reason enum (probe steps, OCSP, CRLs, HTTP fetches, …) so code branches
//! on variants, never on strings, and each label value is spelled once, in its enum's `as_str`.

use std::fmt;

/// A reason enum: a closed set of label values.
pub trait Reason: Copy + Eq + fmt::Debug {
    /// The label value.
    fn as_str(self) -> &'static str;
}

/// Why something failed: `reason` for the label, `detail` for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<R> {
    /// The fixed reason.
    pub reason: R,
    /// What happened, in a sentence.
    pub detail: String,
}

impl<R> Failure<R> {
    /// A failure for `reason`, described by `detail`.
    pub fn new(reason: R, detail: impl Into<String>) -> Failure<R> {
        Failure {
            reason,
            detail: detail.into(),
        }
    }
}

impl<R: Reason> fmt::Display for Failure<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

impl<R: Reason> std::error::Error for Failure<R> {}
