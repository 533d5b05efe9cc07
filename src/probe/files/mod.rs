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
pub mod keystore;
pub mod kubeconfig;
pub mod read;
pub mod walk;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls_pki_types::CertificateDer;

use super::result::{CrlFacts, FileEntry};
use super::{Instance, Phase, ProbeFailure, ProbeReason, ProbeResult};
use crate::clock::unix_now;
use crate::config::{CertFileSource, Target};
use crate::x509::{self, bundle, CertFacts, ChainReport, TrustStore};
use formats::{DecodeError, Format};
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
    let mut files_read = 0;
    for found in &listing.found {
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        files_read += 1;
        match found {
            walk::Found::File(path) => results.extend(read_one(path, &password, trust)),
            walk::Found::Unreadable(path, why) => results.push(unreadable_result(path, why)),
        }
    }
    // At most one result without a `file` label, so its series stay unique.
    let target_failure = if timed_out {
        Some(ProbeFailure::new(
            ProbeReason::Timeout,
            format!(
                "read {} of the {} matching files before the timeout",
                files_read,
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

/// What one file holds, once read and decoded.
enum Contents {
    /// Certificates (PEM, DER, PKCS#12, a Java keystore).
    Certs(formats::Decoded),
    /// A CRL.
    Crl(CrlFacts),
    /// A kubeconfig's cluster and user entries, each reported on its own.
    Kubeconfig(kubeconfig::Kubeconfig),
}

/// Reads, decodes and judges one file: one result, or one per entry of a kubeconfig. Never
/// fails: failures are in the results.
fn read_one(path: &Path, password: &PasswordFile, trust: &TrustStore) -> Vec<ProbeResult> {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let bytes = read::read_certificate_file(path)?;
        let format = formats::detect(&bytes).map_err(decode_failure)?;
        match format {
            Format::Crl => {
                return formats::crl(&bytes)
                    .map(Contents::Crl)
                    .map_err(decode_failure)
            }
            Format::Kubeconfig => {
                return kubeconfig::entries(&bytes)
                    .map(Contents::Kubeconfig)
                    .map_err(decode_failure)
            }
            _ => {}
        }
        let password = match format.takes_password() {
            true => password.read().map_err(|mut f| {
                f.reason = format.password_reason();
                f
            })?,
            false => None,
        };
        formats::decode(&bytes, format, password.as_deref(), bundle::MAX_BUNDLE)
            .map(Contents::Certs)
            .map_err(decode_failure)
    }))
    .unwrap_or_else(|panic| Err(panicked(path, panic)));
    let read_time = started.elapsed();
    let mut result = ProbeResult::new();
    match outcome {
        Err(failure) => result.failure = Some(failure),
        Ok(Contents::Crl(crl)) => result.crl = Some(Box::new(crl)),
        Ok(Contents::Certs(decoded)) => judge_into(&mut result, path, &decoded, trust),
        Ok(Contents::Kubeconfig(k)) => return kubeconfig_results(path, k, trust),
    }
    vec![finish(result, path, read_time, started)]
}

/// The result for the bytes of a URL target's body, as for a file named `what` (without a
/// `file` label or phases): certificates in PEM, DER or PKCS#12 (the empty password), a Java
/// keystore (unverified), or a CRL. A kubeconfig is read from files only: its references are
/// relative to its directory.
pub fn judge_bytes(bytes: &[u8], what: &str, trust: &TrustStore) -> ProbeResult {
    let mut result = ProbeResult::new();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let format = formats::detect(bytes)?;
        match format {
            Format::Crl => formats::crl(bytes).map(Contents::Crl),
            Format::Kubeconfig => Err(DecodeError::Malformed(
                "a kubeconfig is read from a file target only".into(),
            )),
            _ => formats::decode(bytes, format, None, bundle::MAX_BUNDLE).map(Contents::Certs),
        }
    }))
    .unwrap_or_else(|_| Err(DecodeError::Malformed("decoding failed".into())));
    match outcome {
        Err(e) => {
            result.failure = Some(ProbeFailure::new(
                e.reason(),
                format!("{what}: {} ({} bytes)", e.detail(), bytes.len()),
            ))
        }
        Ok(Contents::Crl(crl)) => result.crl = Some(Box::new(crl)),
        Ok(Contents::Certs(decoded)) => judge_into(&mut result, Path::new(what), &decoded, trust),
        Ok(Contents::Kubeconfig(_)) => {}
    }
    result
}

/// Judges decoded certificates into `result`: the chain or bundle, and a failure when a
/// certificate did not parse or the file held too many.
fn judge_into(
    result: &mut ProbeResult,
    path: &Path,
    decoded: &formats::Decoded,
    trust: &TrustStore,
) {
    let judged = std::panic::catch_unwind(AssertUnwindSafe(|| judge(&decoded.certs, trust)))
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

/// Labels `result` with its file and closes its phases.
fn finish(
    mut result: ProbeResult,
    path: &Path,
    read_time: Duration,
    started: Instant,
) -> ProbeResult {
    result.instance = Some(Box::new(Instance::File(path.display().to_string())));
    result.phases.push((Phase::Read, read_time));
    result.phases.push((Phase::Total, started.elapsed()));
    result.finished_at = SystemTime::now();
    result
}

/// One result per cluster and user of a kubeconfig that has a certificate, labelled by its
/// name; a referenced file is read relative to the kubeconfig's directory. A kubeconfig
/// without any is one `file_no_certificate` result for the file, and one with more than
/// [`kubeconfig::MAX_ENTRIES`] adds a `file_too_many_certificates` result for the file.
fn kubeconfig_results(
    path: &Path,
    config: kubeconfig::Kubeconfig,
    trust: &TrustStore,
) -> Vec<ProbeResult> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut results = Vec::with_capacity(config.entries.len() + 1);
    for entry in config.entries {
        let started = Instant::now();
        let what = format!("{} {} {:?}", path.display(), entry.kind.label(), entry.name);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let bytes = match entry.source {
                kubeconfig::Source::Data(bytes) => bytes,
                kubeconfig::Source::File(file) => read::read_certificate_file(&dir.join(file))?,
                kubeconfig::Source::Invalid(why) => {
                    return Err(ProbeFailure::new(
                        ProbeReason::KubeconfigMalformed,
                        format!("{what}: {why}"),
                    ))
                }
            };
            let format = formats::detect(&bytes).map_err(decode_failure)?;
            if !matches!(format, Format::Pem | Format::Der) {
                return Err(ProbeFailure::new(
                    ProbeReason::FileMalformed,
                    format!("{what}: not PEM or DER certificates"),
                ));
            }
            formats::decode(&bytes, format, None, bundle::MAX_BUNDLE)
                .map_err(|e| ProbeFailure::new(e.reason(), format!("{what}: {}", e.detail())))
        }))
        .unwrap_or_else(|panic| Err(panicked(path, panic)));
        let read_time = started.elapsed();
        let mut result = ProbeResult::new();
        match outcome {
            Err(failure) => result.failure = Some(failure),
            Ok(decoded) => judge_into(&mut result, path, &decoded, trust),
        }
        result.entry = Some(Box::new(FileEntry {
            label: entry.kind.label(),
            name: entry.name,
        }));
        results.push(finish(result, path, read_time, started));
    }
    let file_failure = if results.is_empty() {
        Some(ProbeFailure::new(
            ProbeReason::FileNoCertificate,
            format!(
                "{}: a kubeconfig without certificate data or files",
                path.display()
            ),
        ))
    } else if config.truncated {
        Some(ProbeFailure::new(
            ProbeReason::FileTooManyCertificates,
            format!(
                "{}: more than {} clusters and users with certificates; only the first are reported",
                path.display(),
                kubeconfig::MAX_ENTRIES
            ),
        ))
    } else {
        None
    };
    if let Some(failure) = file_failure {
        let mut result = ProbeResult::new();
        result.failure = Some(failure);
        results.push(finish(result, path, Duration::ZERO, Instant::now()));
    }
    results
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
    result.instance = Some(Box::new(Instance::File(path.display().to_string())));
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

/// The PKCS#12 or keystore password, read from its file only when such a file turns up, at
/// most once per probe.
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
