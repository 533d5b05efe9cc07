//! Probing a file target: list ▶ read ▶ decode ▶ judge, one [`ProbeResult`] per file.
//!
//! Every file the glob matches gets its own result, labelled `file="<path>"`, whether it holds
//! certificates or failed to be read; a file that disappears simply is not in the next
//! snapshot, so its series go. A glob that matches nothing, a walk that hit [`MAX_FILES`] or
//! the timeout adds one result without a `file` label that says so.
//!
//! The work is blocking file I/O and parsing, so it runs on tokio's blocking pool, bounded by
//! the target's timeout: the walk stops starting new files a tenth of the timeout before the
//! deadline, so what was read is still reported with a `timeout`, and the probe stops waiting
//! at the deadline (a read stuck in the kernel, on a dead network file system, costs exactly
//! the timeout). A decoder that panics on a hostile file fails that file only.

pub mod formats;
pub mod read;
pub mod walk;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rustls_pki_types::CertificateDer;

use super::{Instance, Phase, ProbeFailure, ProbeReason, ProbeResult};
use crate::clock::unix_now;
use crate::config::{CertFileSource, Target};
use crate::x509::{self, bundle, CertFacts, ChainReport, TrustStore};
use formats::DecodeError;
pub use read::MAX_FILE_SIZE;
pub use walk::MAX_FILES;

/// Reads every file `source` matches, within `target.timeout`.
pub async fn probe(
    target: &Target,
    source: &CertFileSource,
    trust: Arc<TrustStore>,
) -> Vec<ProbeResult> {
    let started = Instant::now();
    let deadline = started + target.timeout;
    let stop_reading = deadline - target.timeout / 10;
    let job = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || read_all(&source, &trust, stop_reading))
    };
    let outcome = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), job).await;
    let failure = match outcome {
        Ok(Ok(results)) => return results,
        Ok(Err(join)) => ProbeFailure::new(
            ProbeReason::FileUnreadable,
            format!("listing the files failed: {join}"),
        ),
        Err(_) => timeout_failure(target),
    };
    vec![target_result(started, failure)]
}

/// The blocking part: walk, then read, decode and judge each file until the deadline.
fn read_all(source: &CertFileSource, trust: &TrustStore, deadline: Instant) -> Vec<ProbeResult> {
    let started = Instant::now();
    let listing = match walk::list(&source.pattern, deadline) {
        Ok(listing) => listing,
        Err(e) => {
            let failure = ProbeFailure::new(ProbeReason::FileNotFound, format!("invalid glob {e}"));
            return vec![target_result(started, failure)];
        }
    };
    let password = PasswordFile::new(source.password_file.as_deref());
    let mut results = Vec::with_capacity(listing.found.len() + 1);
    let mut timed_out = listing.timed_out;
    for found in &listing.found {
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        results.push(match found {
            walk::Found::File(path) => read_one(path, &password, trust),
            walk::Found::Unreadable(path, why) => unreadable_result(path, why),
        });
    }
    // At most one result without a `file` label, so its series stay unique.
    let target_failure = if timed_out {
        Some(ProbeFailure::new(
            ProbeReason::Timeout,
            format!(
                "read {} of the {} matching files before the timeout",
                results.len(),
                listing.found.len()
            ),
        ))
    } else if listing.truncated {
        Some(ProbeFailure::new(
            ProbeReason::TooManyFiles,
            format!(
                "{:?} matches more than {MAX_FILES} files; only the first {MAX_FILES} are read",
                source.pattern
            ),
        ))
    } else if results.is_empty() {
        let skipped = match listing.skipped_dirs {
            0 => String::new(),
            n => format!(" ({n} directories matched and were skipped)"),
        };
        Some(ProbeFailure::new(
            ProbeReason::FileNotFound,
            format!("no file matches {:?}{skipped}", source.pattern),
        ))
    } else {
        None
    };
    if let Some(failure) = target_failure {
        results.push(target_result(started, failure));
    }
    results
}

/// Reads, decodes and judges one file. Never fails: failures are in the result.
fn read_one(path: &Path, password: &PasswordFile, trust: &TrustStore) -> ProbeResult {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let bytes = read::read_certificate_file(path)?;
        let format = formats::detect(&bytes).map_err(decode_failure)?;
        let password = match format {
            formats::Format::Pkcs12 => password.read()?,
            _ => None,
        };
        formats::decode(&bytes, format, password.as_deref(), bundle::MAX_BUNDLE)
            .map_err(decode_failure)
    }))
    .unwrap_or_else(|panic| Err(panicked(path, panic)));
    let read_time = started.elapsed();
    let mut result = ProbeResult::new();
    match outcome {
        Err(failure) => result.failure = Some(failure),
        Ok(decoded) => {
            let judged =
                std::panic::catch_unwind(AssertUnwindSafe(|| judge(&decoded.certs, trust)))
                    .unwrap_or_else(|panic| (None, Some(panicked(path, panic))));
            result.chain = judged.0;
            result.failure = judged.1.or_else(|| {
                decoded.truncated.then(|| {
                    ProbeFailure::new(
                        ProbeReason::FileTooManyCertificates,
                        format!(
                            "{}: more than {} certificates; only the first are reported",
                            path.display(),
                            bundle::MAX_BUNDLE
                        ),
                    )
                })
            });
        }
    }
    result.instance = Some(Instance::File(path.display().to_string()));
    result.phases.push((Phase::Read, read_time));
    result.phases.push((Phase::Total, started.elapsed()));
    result.finished_at = SystemTime::now();
    result
}

/// The facts of every certificate; judged as a chain when the file is one, else facts only.
/// A certificate that does not parse ends the list there, with `file_malformed`.
pub(super) fn judge(
    certs: &[CertificateDer<'static>],
    trust: &TrustStore,
) -> (Option<ChainReport>, Option<ProbeFailure>) {
    let mut facts = Vec::with_capacity(certs.len());
    let mut failure = None;
    for (i, der) in certs.iter().enumerate() {
        match CertFacts::from_der(der) {
            Ok(f) => facts.push(f),
            Err(e) => {
                failure = Some(ProbeFailure::new(
                    ProbeReason::FileMalformed,
                    format!("certificate #{}: {e}", i + 1),
                ));
                break;
            }
        }
    }
    if facts.is_empty() {
        return (None, failure);
    }
    let now = unix_now();
    let report = if bundle::is_chain(&facts) {
        x509::analyse_file_chain(&certs[..facts.len()], trust, now)
    } else {
        bundle::facts_only(facts, now)
    };
    (Some(report), failure)
}

/// The result for a matched path the walk could not examine (a dangling or looping symlink,
/// a directory that cannot be listed).
fn unreadable_result(path: &Path, why: &str) -> ProbeResult {
    let mut result = ProbeResult::new();
    result.instance = Some(Instance::File(path.display().to_string()));
    result.failure = Some(ProbeFailure::new(
        ProbeReason::FileUnreadable,
        format!("{}: {why}", path.display()),
    ));
    result.phases.push((Phase::Read, std::time::Duration::ZERO));
    result
        .phases
        .push((Phase::Total, std::time::Duration::ZERO));
    result.finished_at = SystemTime::now();
    result
}

/// The one result without a `file` label: about the glob as a whole.
fn target_result(started: Instant, failure: ProbeFailure) -> ProbeResult {
    let mut result = ProbeResult::new();
    result.failure = Some(failure);
    result.phases.push((Phase::Read, started.elapsed()));
    result.phases.push((Phase::Total, started.elapsed()));
    result.finished_at = SystemTime::now();
    result
}

fn timeout_failure(target: &Target) -> ProbeFailure {
    ProbeFailure::new(
        ProbeReason::Timeout,
        format!(
            "reading the files did not finish within the {} timeout",
            humantime::format_duration(target.timeout)
        ),
    )
}

fn decode_failure(e: DecodeError) -> ProbeFailure {
    ProbeFailure::new(e.reason(), e.detail().to_string())
}

fn panicked(path: &Path, panic: Box<dyn std::any::Any + Send>) -> ProbeFailure {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ProbeFailure::new(
        ProbeReason::FileMalformed,
        format!("{}: decoding failed: {message}", path.display()),
    )
}

/// The PKCS#12 password, read from its file only when a PKCS#12 file turns up, at most once
/// per probe.
struct PasswordFile<'a> {
    path: Option<&'a Path>,
    read: std::sync::OnceLock<Result<Option<String>, ProbeFailure>>,
}

impl<'a> PasswordFile<'a> {
    fn new(path: Option<&'a Path>) -> PasswordFile<'a> {
        PasswordFile {
            path,
            read: std::sync::OnceLock::new(),
        }
    }

    /// The password (without its trailing newline); `None` when none is configured.
    fn read(&self) -> Result<Option<String>, ProbeFailure> {
        self.read
            .get_or_init(|| {
                let Some(path) = self.path else {
                    return Ok(None);
                };
                let max = crate::capped_read::MAX_PASSWORD_FILE;
                let text = crate::capped_read::read_text_capped(path, max).map_err(|e| {
                    ProbeFailure::new(
                        ProbeReason::Pkcs12Password,
                        format!("cannot read password_file {}: {e}", path.display()),
                    )
                })?;
                let password = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                Ok(Some(password.to_string()))
            })
            .clone()
    }
}
