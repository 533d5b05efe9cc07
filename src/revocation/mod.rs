//! Revocation: is a certificate of the served path revoked, according to the stapled OCSP
//! response, the leaf's OCSP responder and the CRLs the path's certificates name?
//!
//! Runs after the chain has been judged, within its own budget (the target's timeout again), so
//! a slow responder never hides the chain's facts. Each source gives a verified verdict or
//! errors with fixed reasons, never a guess: an answer whose signature, issuer or dates do not
//! check out is an error, not "good". A verified "revoked" from any source adds
//! [`ChainError::Revoked`] to the chain's verdict.
//!
//! One file per concern: [`ocsp`] and [`crl`] parse and verify (pure), [`issuer`] finds the
//! issuer's name and key, [`fetch`] does the HTTP, [`cache`] keeps answers between probes, and
//! [`metrics`] renders it all.

pub mod cache;
pub mod crl;
pub mod fetch;
pub mod issuer;
pub mod metrics;
pub mod ocsp;
pub mod reason;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use tokio::time::Instant;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::config::RevocationSettings;
use crate::x509::{ChainError, ChainReport};
use cache::{fresh_until, Cache, Stored};
use crl::{Crl, CrlError};
use fetch::{FetchReason, Fetcher, Got, Validators};
use issuer::{find_issuer, Issuer};
use ocsp::{CertRef, OcspAnswer, OcspStatus};
pub use reason::{RevocationError, RevocationReason};

/// Where a revocation verdict came from: the `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The OCSP response the server stapled to the handshake.
    OcspStapled,
    /// The leaf's OCSP responder (authorityInfoAccess).
    Ocsp,
    /// The CRLs of the path's certificates (cRLDistributionPoints).
    Crl,
}

impl Source {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OcspStapled => "ocsp_stapled",
            Source::Ocsp => "ocsp",
            Source::Crl => "crl",
        }
    }
}

/// What one source said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub source: Source,
    /// `Some(true)` revoked, `Some(false)` not revoked, both verified; `None` when the source
    /// gave no verified answer (then `errors` says why).
    pub revoked: Option<bool>,
    /// nextUpdate of the OCSP answer used (Unix seconds); `None` for CRLs (they are reported
    /// per URL) and for answers without one.
    pub next_update: Option<i64>,
    /// Every failure of this source (several when several CRLs failed differently).
    pub errors: Vec<RevocationError>,
}

impl SourceReport {
    fn new(source: Source) -> SourceReport {
        SourceReport {
            source,
            revoked: None,
            next_update: None,
            errors: Vec::new(),
        }
    }

    fn failed(source: Source, error: RevocationError) -> SourceReport {
        SourceReport {
            errors: vec![error],
            ..SourceReport::new(source)
        }
    }
}

/// The revocation facts of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationReport {
    /// Whether the server stapled an OCSP response (whatever it said).
    pub stapled: bool,
    /// One entry per source that applied: stapled when a response was stapled, OCSP when the
    /// leaf names a responder, CRL when a path certificate names a distribution point (and the
    /// source is switched on).
    pub sources: Vec<SourceReport>,
}

impl RevocationReport {
    /// Whether any source verified that a path certificate is revoked.
    pub fn revoked(&self) -> bool {
        self.sources.iter().any(|s| s.revoked == Some(true))
    }
}

/// What a revocation check looks at, all from the probe that just ran.
pub struct Input<'a> {
    /// The target's name, for log lines.
    pub target: &'a str,
    /// The certificates as sent, leaf first.
    pub chain: &'a [CertificateDer<'a>],
    /// The chain's verdict (which certificates form the path, their URLs).
    pub report: &'a ChainReport,
    /// The stapled OCSP response; empty when none.
    pub stapled: &'a [u8],
    /// The trust anchors, for an issuer the server did not send.
    pub anchors: &'a [TrustAnchor<'a>],
    pub settings: RevocationSettings,
}

/// A CRL as cached: the parsed list, the validators for the next conditional GET, and the
/// verdicts of its signature per issuer key asked about.
#[derive(Debug)]
pub struct CrlCopy {
    pub crl: Crl,
    validators: Validators,
    signature_checks: Mutex<HashMap<Issuer, Result<(), CrlError>>>,
}

impl CrlCopy {
    fn new(crl: Crl, validators: Validators) -> Arc<CrlCopy> {
        Arc::new(CrlCopy {
            crl,
            validators,
            signature_checks: Mutex::new(HashMap::new()),
        })
    }

    /// Verifies the CRL against `issuer`, once per issuer.
    fn verify(&self, issuer: &Issuer) -> Result<(), CrlError> {
        let mut checks = self
            .signature_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        checks
            .entry(issuer.clone())
            .or_insert_with(|| self.crl.verify(issuer))
            .clone()
    }
}

/// OCSP answers are cached per issuer key and serial.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OcspKey {
    /// The issuer's SubjectPublicKeyInfo (DER).
    issuer_spki: Vec<u8>,
    /// The certificate's serial, without leading zero bytes.
    serial: Vec<u8>,
}

/// The revocation checker: the HTTP client and the caches. Made once per process and shared by
/// every probe, across reloads.
#[derive(Debug)]
pub struct Revocation {
    fetcher: Fetcher,
    ocsp: Cache<OcspKey, OcspAnswer>,
    crls: Cache<String, Arc<CrlCopy>>,
}

/// One path certificate with what revocation needs of it.
struct PathCert<'a> {
    serial: Vec<u8>,
    issuer: Option<Issuer>,
    ocsp_urls: &'a [String],
    crl_urls: &'a [String],
    subject: &'a str,
}

impl Revocation {
    /// Builds the HTTP client; fails only when TLS cannot be set up.
    pub fn new() -> Result<Revocation, String> {
        Ok(Revocation {
            fetcher: Fetcher::new()?,
            ocsp: Cache::default(),
            crls: Cache::default(),
        })
    }

    /// Checks the path of `input` by every source its settings switch on, each within
    /// `deadline`, and returns what each said.
    pub async fn check(&self, input: &Input<'_>, deadline: Instant) -> RevocationReport {
        let now = crate::probe::unix_now();
        let mut report = RevocationReport {
            stapled: !input.stapled.is_empty(),
            sources: Vec::new(),
        };
        let path = path_certs(input);
        let Some(leaf) = path.first() else {
            return report;
        };

        if input.settings.ocsp && report.stapled {
            report.sources.push(stapled(leaf, input.stapled, now));
        }
        let responder = async {
            if !input.settings.ocsp || leaf.ocsp_urls.is_empty() {
                return None;
            }
            let outcome =
                tokio::time::timeout_at(deadline, self.ask_responder(leaf, now, deadline))
                    .await
                    .unwrap_or_else(|_| Err(budget_spent("the OCSP responder")));
            Some(ocsp_report(Source::Ocsp, outcome))
        };
        let crls = async {
            let with_crls: Vec<&PathCert<'_>> =
                path.iter().filter(|c| !c.crl_urls.is_empty()).collect();
            if !input.settings.crl || with_crls.is_empty() {
                return None;
            }
            let max = input.settings.crl_max_bytes;
            let verdicts = futures_util::future::join_all(with_crls.iter().map(|cert| async {
                tokio::time::timeout_at(deadline, self.check_crls(cert, max, now, deadline))
                    .await
                    .unwrap_or_else(|_| CrlVerdict::error(budget_spent("the CRL download")))
            }))
            .await;
            Some(crl_report(verdicts))
        };
        let (responder, crls) = tokio::join!(responder, crls);
        report.sources.extend(responder);
        report.sources.extend(crls);

        for source in &report.sources {
            for e in &source.errors {
                tracing::warn!(
                    target_name = input.target,
                    source = source.source.as_str(),
                    reason = e.reason.as_str(),
                    error = %e.detail,
                    "revocation check failed"
                );
            }
        }
        report
    }

    /// The leaf's OCSP answer: cached while fresh, else from its responders in turn.
    async fn ask_responder(
        &self,
        leaf: &PathCert<'_>,
        now: i64,
        deadline: Instant,
    ) -> Result<OcspAnswer, RevocationError> {
        let issuer = leaf.issuer.as_ref().ok_or_else(|| issuer_unknown(leaf))?;
        let urls = fetchable(leaf.ocsp_urls)?;
        let cert = CertRef {
            serial: &leaf.serial,
            issuer,
        };
        let request = ocsp::build_request(&cert)?;
        let key = OcspKey {
            issuer_spki: issuer.spki_der.clone(),
            serial: leaf.serial.clone(),
        };
        self.ocsp
            .get(&key, now, |_held| async {
                let mut last = None;
                for url in urls {
                    let body = match self.fetcher.post_ocsp(url, request.clone(), deadline).await {
                        Ok(body) => body,
                        Err(e) => {
                            last = Some(e.into());
                            continue;
                        }
                    };
                    match ocsp::verify_response(&body, &cert, crate::probe::unix_now()) {
                        Ok(answer) => {
                            return Ok(Stored {
                                value: answer,
                                fresh_until: fresh_until(
                                    now,
                                    answer.this_update,
                                    answer.next_update,
                                ),
                                usable_until: answer.next_update,
                            })
                        }
                        Err(e) => last = Some(RevocationError::from(e)),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    RevocationError::new(
                        RevocationReason::Fetch(FetchReason::UnsupportedUrl),
                        "no URL",
                    )
                }))
            })
            .await
    }

    /// The verdict of the CRLs of one certificate: its distribution points tried in turn until
    /// one gives a verified list.
    async fn check_crls(
        &self,
        cert: &PathCert<'_>,
        max_bytes: u64,
        now: i64,
        deadline: Instant,
    ) -> CrlVerdict {
        let Some(issuer) = cert.issuer.as_ref() else {
            return CrlVerdict::error(issuer_unknown(cert));
        };
        let urls = match fetchable(cert.crl_urls) {
            Ok(urls) => urls,
            Err(e) => return CrlVerdict::error(e),
        };
        let mut last = None;
        for url in urls {
            match self.crl(url, max_bytes, now, deadline).await {
                Ok(copy) => {
                    if let Err(e) = copy.verify(issuer) {
                        last = Some(RevocationError::from(e).in_url(url));
                        continue;
                    }
                    let listed = copy.crl.lists(&cert.serial);
                    let mut verdict = CrlVerdict {
                        revoked: Some(listed),
                        errors: Vec::new(),
                    };
                    if copy.crl.is_stale(now) {
                        verdict.errors.push(RevocationError::new(
                            RevocationReason::Stale,
                            format!(
                                "{url}: the CRL's nextUpdate {} has passed",
                                copy.crl.next_update.unwrap_or_default()
                            ),
                        ));
                        if !listed {
                            // "Not listed" in an outdated list proves nothing; "listed" does.
                            verdict.revoked = None;
                        }
                    }
                    return verdict;
                }
                Err(e) => last = Some(e),
            }
        }
        CrlVerdict::error(last.unwrap_or_else(|| {
            RevocationError::new(
                RevocationReason::Fetch(FetchReason::UnsupportedUrl),
                "no URL",
            )
        }))
    }

    /// The CRL at `url`: cached while fresh, else downloaded (conditionally when a copy is held).
    async fn crl(
        &self,
        url: &str,
        max_bytes: u64,
        now: i64,
        deadline: Instant,
    ) -> Result<Arc<CrlCopy>, RevocationError> {
        let copy = self
            .crls
            .get(&url.to_string(), now, |held| async move {
                let validators = held.as_ref().map(|h| &h.value.validators);
                let copy = match self
                    .fetcher
                    .get(url, validators, max_bytes, deadline)
                    .await?
                {
                    Got::NotModified => match held {
                        Some(held) => held.value,
                        None => {
                            return Err(RevocationError::new(
                                RevocationReason::Fetch(FetchReason::HttpStatus),
                                format!("{url}: 304 Not Modified to an unconditional GET"),
                            ))
                        }
                    },
                    Got::Body(body, validators) => {
                        let crl =
                            Crl::parse(body).map_err(|e| RevocationError::from(e).in_url(url))?;
                        CrlCopy::new(crl, validators)
                    }
                };
                let fetched = crate::probe::unix_now();
                Ok(Stored {
                    fresh_until: fresh_until(fetched, copy.crl.this_update, copy.crl.next_update),
                    usable_until: copy.crl.next_update,
                    value: copy,
                })
            })
            .await?;
        // A copy fetched for a target with a larger cap is not used past this target's cap.
        if copy.crl.size() as u64 > max_bytes {
            return Err(RevocationError::new(
                RevocationReason::Fetch(FetchReason::TooLarge),
                format!(
                    "{url}: {} bytes, over the {max_bytes}-byte cap",
                    copy.crl.size()
                ),
            ));
        }
        Ok(copy)
    }

    /// The HTTP fetch counter, `cert_revocation_fetches_total`.
    pub fn fetches(
        &self,
    ) -> &prometheus_client::metrics::family::Family<
        Vec<(&'static str, &'static str)>,
        prometheus_client::metrics::counter::Counter,
    > {
        &self.fetcher.fetches
    }

    /// The HTTP client, shared with the caIssuers downloads of [`crate::probe::aia`] so that
    /// they honour the same proxies and feed the same clock-skew observations.
    pub fn http(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Every cached CRL by URL, for `/metrics`.
    pub fn cached_crls(&self) -> Vec<(String, Arc<CrlCopy>)> {
        self.crls.entries()
    }
}

impl RevocationError {
    /// Prefixes the detail with the URL it concerns, when it does not name it yet.
    fn in_url(mut self, url: &str) -> RevocationError {
        if !self.detail.contains(url) {
            self.detail = format!("{url}: {}", self.detail);
        }
        self
    }
}

/// One certificate's CRL outcome.
struct CrlVerdict {
    revoked: Option<bool>,
    errors: Vec<RevocationError>,
}

impl CrlVerdict {
    fn error(e: RevocationError) -> CrlVerdict {
        CrlVerdict {
            revoked: None,
            errors: vec![e],
        }
    }
}

/// The CRL source over all path certificates: revoked when any verified list names one of
/// them; not revoked only when every certificate with distribution points got a verified,
/// current answer.
fn crl_report(verdicts: Vec<CrlVerdict>) -> SourceReport {
    let mut report = SourceReport::new(Source::Crl);
    let any_revoked = verdicts.iter().any(|v| v.revoked == Some(true));
    let all_answered = verdicts.iter().all(|v| v.revoked.is_some());
    report.revoked = if any_revoked {
        Some(true)
    } else if all_answered {
        Some(false)
    } else {
        None
    };
    for verdict in verdicts {
        report.errors.extend(verdict.errors);
    }
    report
}

/// The stapled response, verified like a responder's.
fn stapled(leaf: &PathCert<'_>, response: &[u8], now: i64) -> SourceReport {
    let outcome = match &leaf.issuer {
        None => Err(issuer_unknown(leaf)),
        Some(issuer) => ocsp::verify_response(
            response,
            &CertRef {
                serial: &leaf.serial,
                issuer,
            },
            now,
        )
        .map_err(RevocationError::from),
    };
    ocsp_report(Source::OcspStapled, outcome)
}

/// An OCSP answer as a source report: `unknown` is an error, not a verdict.
fn ocsp_report(source: Source, outcome: Result<OcspAnswer, RevocationError>) -> SourceReport {
    match outcome {
        Err(e) => SourceReport::failed(source, e),
        Ok(answer) => {
            let mut report = SourceReport::new(source);
            report.next_update = answer.next_update;
            match answer.status {
                OcspStatus::Good => report.revoked = Some(false),
                OcspStatus::Revoked { .. } => report.revoked = Some(true),
                OcspStatus::Unknown => report.errors.push(RevocationError::new(
                    RevocationReason::UnknownStatus,
                    "the responder does not know the certificate",
                )),
            }
            report
        }
    }
}

/// The path's certificates (leaf first, as sent) with their serial, issuer and URLs.
fn path_certs<'a>(input: &Input<'a>) -> Vec<PathCert<'a>> {
    let parsed: Vec<X509Certificate<'_>> = input
        .chain
        .iter()
        .take(input.report.certs.len())
        .map_while(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    parsed
        .iter()
        .enumerate()
        .filter(|(i, _)| input.report.in_path.get(*i).copied().unwrap_or(false))
        .map(|(i, cert)| {
            let facts = &input.report.certs[i];
            PathCert {
                serial: ocsp::trim_zeros(cert.raw_serial()).to_vec(),
                issuer: find_issuer(cert, &parsed, input.anchors),
                ocsp_urls: &facts.ocsp_urls,
                crl_urls: &facts.crl_urls,
                subject: &facts.subject,
            }
        })
        .collect()
}

/// The URLs an HTTP client can fetch (`ldap:` distribution points are skipped).
fn fetchable(urls: &[String]) -> Result<Vec<&str>, RevocationError> {
    let usable: Vec<&str> = urls
        .iter()
        .map(String::as_str)
        .filter(|u| {
            let lower = u.to_ascii_lowercase();
            lower.starts_with("http://") || lower.starts_with("https://")
        })
        .collect();
    if usable.is_empty() {
        Err(RevocationError::new(
            RevocationReason::Fetch(FetchReason::UnsupportedUrl),
            format!("no http(s) URL among {urls:?}"),
        ))
    } else {
        Ok(usable)
    }
}

fn issuer_unknown(cert: &PathCert<'_>) -> RevocationError {
    RevocationError::new(
        RevocationReason::IssuerUnknown,
        format!(
            "the issuer of {:?} was neither sent nor a trust anchor, so its answers cannot be verified",
            cert.subject
        ),
    )
}

fn budget_spent(what: &str) -> RevocationError {
    RevocationError::new(
        RevocationReason::Fetch(FetchReason::Timeout),
        format!("{what} did not answer within the revocation budget"),
    )
}

/// Adds the revocation verdict to the chain's: a verified revocation makes the chain invalid.
pub fn apply(report: &RevocationReport, chain: &mut ChainReport) {
    if report.revoked() {
        chain.errors.insert(ChainError::Revoked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: RevocationReason = RevocationReason::Fetch(FetchReason::Timeout);

    fn verdict(revoked: Option<bool>, reasons: &[RevocationReason]) -> CrlVerdict {
        CrlVerdict {
            revoked,
            errors: reasons
                .iter()
                .map(|r| RevocationError::new(*r, "test"))
                .collect(),
        }
    }

    #[test]
    fn crl_source_needs_every_certificate_answered_unless_one_is_revoked() {
        let r = crl_report(vec![verdict(Some(false), &[]), verdict(Some(false), &[])]);
        assert_eq!((r.revoked, r.errors.len()), (Some(false), 0));
        let r = crl_report(vec![verdict(Some(false), &[]), verdict(None, &[TIMEOUT])]);
        assert_eq!((r.revoked, r.errors.len()), (None, 1));
        let r = crl_report(vec![
            verdict(Some(true), &[RevocationReason::Stale]),
            verdict(None, &[TIMEOUT]),
        ]);
        assert_eq!((r.revoked, r.errors.len()), (Some(true), 2));
    }

    #[test]
    fn unknown_is_an_error_and_not_a_verdict() {
        let answer = |status| OcspAnswer {
            status,
            this_update: 0,
            next_update: Some(10),
        };
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Unknown)));
        assert_eq!(r.revoked, None);
        assert_eq!(r.errors[0].reason.as_str(), "unknown_status");
        assert_eq!(r.next_update, Some(10));
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Revoked { at: 5 })));
        assert_eq!(r.revoked, Some(true));
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Good)));
        assert_eq!(r.revoked, Some(false));
    }

    #[test]
    fn only_http_urls_are_fetched() {
        let urls = vec![
            "ldap://dir.example/cn=CA?certificateRevocationList".to_string(),
            "HTTP://crl.example/ca.crl".to_string(),
        ];
        assert_eq!(fetchable(&urls).unwrap(), ["HTTP://crl.example/ca.crl"]);
        assert_eq!(
            fetchable(&urls[..1]).unwrap_err().reason.as_str(),
            "unsupported_url"
        );
    }
}
