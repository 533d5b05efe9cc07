//! Revocation: is a certificate of the served path revoked, according to the stapled OCSP
//! response, the OCSP responders and the CRLs the path's certificates name?
//!
//! Runs after the chain has been judged, within its own budget (the target's timeout again), so
//! a slow responder never hides the chain's facts. Each source gives a verified verdict or
//! errors with fixed reasons, never a guess: an answer whose signature, issuer or dates do not
//! check out is an error, not "good". A verified "revoked" from any source adds
//! [`crate::x509::ChainError::Revoked`] to the chain's verdict.
//!
//! One file per concern: [`ocsp`] and [`crl`] parse and verify (pure), [`issuer`] finds the
//! issuer's name and key, `path` lists the certificates to ask about, `report` aggregates what
//! the sources said into the verdict, and `metrics::revocation`, a layer above, renders it all.
//! This file does the checking: which source to ask, through the caches, within the budget.
//! The HTTP and the cache that keeps answers between probes are [`crate::fetch`]'s.

pub mod crl;
pub mod issuer;
pub mod ocsp;
mod path;
pub mod reason;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls_pki_types::CertificateDer;
use tokio::time::Instant;

use crate::config::RevocationSettings;
use crate::fetch::{fresh_until, Cache, FetchReason, Fetcher, Got, Stored, Validators};
use crate::x509::{ChainReport, TrustStore};
use crl::{Crl, CrlError};
use issuer::Issuer;
use ocsp::{CertRef, OcspAnswer};
use path::{fetchable, issuer_unknown, path_certs, PathCert};
pub use reason::{RevocationError, RevocationReason};
pub use report::{apply, RevocationNote, RevocationReport, SourceReport};
use report::{crl_report, ocsp_report, CrlVerdict, OcspOutcome};

/// Where a revocation verdict came from: the `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The OCSP response the server stapled to the handshake.
    OcspStapled,
    /// The OCSP responders (authorityInfoAccess) of the leaf and of the intermediates that
    /// name one.
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
    /// The trust store the chain was judged against: its anchors, for an issuer the server
    /// did not send.
    pub trust: &'a Arc<TrustStore>,
    /// Certificates downloaded from caIssuers URLs that complete the path to an anchor (the
    /// intermediate the server left out): issuers too, so the leaf's answers can be verified.
    /// Empty when none was needed or found.
    pub fetched_issuers: &'a [CertificateDer<'a>],
    /// The target's `revocation:` settings: which sources to ask, and the CRL size cap.
    pub settings: RevocationSettings,
}

/// A CRL as cached: the parsed list, the validators for the next conditional GET, and the
/// verdicts of its signature per issuer key asked about.
#[derive(Debug)]
pub struct CrlCopy {
    /// The parsed list, asked whether a serial is on it and whether it is stale.
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
        if let Some(known) = checks.get(issuer) {
            return known.clone();
        }
        let verdict = self.crl.verify(issuer);
        checks.insert(issuer.clone(), verdict.clone());
        verdict
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
        let now = crate::clock::unix_now();
        let mut report = RevocationReport {
            stapled: !input.stapled.is_empty(),
            sources: Vec::new(),
        };
        let known = path::known(input);
        let path = path_certs(input, &known);
        let Some(leaf) = path.first() else {
            return report;
        };

        if input.settings.ocsp && report.stapled {
            report.sources.push(stapled(leaf, input.stapled, now));
        }
        let responder = async {
            // The leaf and every intermediate that names a responder, asked at the same time.
            let asked: Vec<(usize, &PathCert<'_>)> = path
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.ocsp_urls.is_empty())
                .collect();
            if !input.settings.ocsp || asked.is_empty() {
                return None;
            }
            let nonce = input.settings.ocsp_nonce;
            let outcomes =
                futures_util::future::join_all(asked.iter().map(|&(i, cert)| async move {
                    let outcome = tokio::time::timeout_at(
                        deadline,
                        self.ask_responder(cert, nonce, now, deadline),
                    )
                    .await
                    .unwrap_or_else(|_| Err(budget_spent("the OCSP responder")));
                    OcspOutcome {
                        subject: cert.subject,
                        leaf: i == 0,
                        outcome,
                    }
                }))
                .await;
            Some(ocsp_report(Source::Ocsp, outcomes))
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

    /// The OCSP answer about one path certificate: cached while fresh, else from its
    /// responders in turn. With `nonce`, a fresh request with a nonce of its own goes around the
    /// cache: its answer is neither taken from the cache nor put in it, so a nonce target never
    /// sees another target's answer as its own proof of freshness, nor changes what others get.
    async fn ask_responder(
        &self,
        cert: &PathCert<'_>,
        nonce: bool,
        now: i64,
        deadline: Instant,
    ) -> Result<OcspAnswer, RevocationError> {
        let issuer = cert.issuer.ok_or_else(|| issuer_unknown(cert))?;
        let urls = fetchable(cert.ocsp_urls)?;
        let about = CertRef {
            serial: cert.serial,
            issuer,
        };
        if nonce {
            let nonce = ocsp::new_nonce()?;
            let request = ocsp::build_request(&about, Some(&nonce))?;
            return self
                .query(&urls, &request, &about, Some(&nonce), deadline)
                .await;
        }
        let request = ocsp::build_request(&about, None)?;
        let key = OcspKey {
            issuer_spki: issuer.spki_der.clone(),
            serial: cert.serial.to_vec(),
        };
        self.ocsp
            .get(&key, now, |_held| async {
                let answer = self.query(&urls, &request, &about, None, deadline).await?;
                Ok(Stored {
                    value: answer,
                    fresh_until: fresh_until(now, answer.this_update, answer.next_update),
                    usable_until: answer.next_update,
                })
            })
            .await
    }

    /// Asks the responders at `urls` in turn until one gives a verified answer. A request
    /// without a nonce goes by GET when it fits ([`ocsp::get_url`]); when the GET fails in a
    /// way a POST may not ([`post_may_help`]) it is sent again, once, by POST to the same URL.
    /// A request with a nonce is always POSTed: a GET URL unique to each request is what no
    /// HTTP cache can serve, and RFC 5019 keeps GET for cacheable requests.
    async fn query(
        &self,
        urls: &[&str],
        request: &[u8],
        about: &CertRef<'_>,
        nonce: Option<&[u8]>,
        deadline: Instant,
    ) -> Result<OcspAnswer, RevocationError> {
        let source = Source::Ocsp.as_str();
        let verify = |body: Result<bytes::Bytes, crate::fetch::http::FetchError>| {
            let body = body?;
            ocsp::verify_response_to(&body, about, nonce, crate::clock::unix_now())
                .map_err(RevocationError::from)
        };
        let mut last = None;
        for url in urls {
            if let Some(get) = nonce
                .is_none()
                .then(|| ocsp::get_url(url, request))
                .flatten()
            {
                // Errors name the responder, not the long URL of the encoded request.
                let outcome =
                    verify(self.fetcher.get_ocsp(&get, deadline, source).await).map_err(|mut e| {
                        e.detail = e.detail.replace(&get, &format!("{url} (GET)"));
                        e
                    });
                match outcome {
                    Ok(answer) => return Ok(answer),
                    Err(e) if post_may_help(&e) => {
                        tracing::debug!(url, reason = e.reason.as_str(), error = %e.detail, "OCSP GET failed, POSTing");
                    }
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            match verify(
                self.fetcher
                    .post_ocsp(url, request.to_vec(), deadline, source)
                    .await,
            ) {
                Ok(answer) => return Ok(answer),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            RevocationError::new(
                RevocationReason::Fetch(FetchReason::UnsupportedUrl),
                "no URL",
            )
        }))
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
        let Some(issuer) = cert.issuer else {
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
                    let listed = copy.crl.lists(cert.serial);
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
                    .get(url, validators, max_bytes, deadline, Source::Crl.as_str())
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
                let fetched = crate::clock::unix_now();
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

/// Whether an OCSP GET that failed with `e` is worth sending again by POST: the answer was
/// not an OCSP response at all (an HTTP error status — a responder or front that does not
/// take GET —, a body that does not parse), a non-successful status (`malformedRequest` is
/// what a responder that cannot read the GET path says), or a stale answer (an HTTP cache in
/// front may hold an old one; a POST reaches the responder). Not when the server could not be
/// reached or ran out of time (a POST would fare no better and eat the budget), nor when a
/// well-formed answer fails verification (a POST gets the same answer).
fn post_may_help(e: &RevocationError) -> bool {
    matches!(
        e.reason,
        RevocationReason::Fetch(FetchReason::HttpStatus)
            | RevocationReason::Malformed
            | RevocationReason::ResponderError
            | RevocationReason::Stale
    )
}

/// The stapled response, verified like a responder's.
fn stapled(leaf: &PathCert<'_>, response: &[u8], now: i64) -> SourceReport {
    let outcome = match leaf.issuer {
        None => Err(issuer_unknown(leaf)),
        Some(issuer) => ocsp::verify_response(
            response,
            &CertRef {
                serial: leaf.serial,
                issuer,
            },
            now,
        )
        .map_err(RevocationError::from),
    };
    ocsp_report(
        Source::OcspStapled,
        vec![OcspOutcome {
            subject: leaf.subject,
            leaf: true,
            outcome,
        }],
    )
}

fn budget_spent(what: &str) -> RevocationError {
    RevocationError::new(
        RevocationReason::Fetch(FetchReason::Timeout),
        format!("{what} did not answer within the revocation budget"),
    )
}
