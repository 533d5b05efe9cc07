//! The HTTP client for CAs' services: GET of CRLs (conditional when we hold a copy), GET or
//! POST of OCSP requests and GET of caIssuers certificates, each capped in size and bounded by
//! a deadline.
//!
//! reqwest enforces no body limit, so bodies are read chunk by chunk and abandoned as soon as
//! they pass the cap. Every revocation request actually sent is counted in
//! `cert_revocation_fetches_total{source, result}`, which is how the caches show they work; the
//! `source` label is the caller's (revocation knows its sources, this module only HTTP).
//!
//! Proxies: the standard `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` environment
//! variables are honoured (reqwest's default), because OCSP responders and CRL distribution
//! points are the CAs' public services, which a host in a locked-down network reaches only
//! through its egress proxy. The TLS probes themselves never use a proxy.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::failure::{Failure, Reason};

/// The most bytes an OCSP response may have. Real ones are a few KiB (a signature, perhaps a
/// responder certificate); anything near this is not an OCSP response.
pub const OCSP_MAX_BYTES: u64 = 256 * 1024;

/// Redirects followed for one request: CDNs in front of CRLs redirect once, rarely twice.
const MAX_REDIRECTS: usize = 5;

/// Why a fetch got no usable body.
pub type FetchError = Failure<FetchReason>;

/// The fixed reason of a [`FetchError`]: the `reason` label of `cert_revocation_error_info`
/// when the fetch was for revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FetchReason {
    /// An HTTP status other than success (or a 304 to an unconditional request).
    HttpStatus,
    /// No complete answer before the deadline.
    Timeout,
    /// The body is over its cap.
    TooLarge,
    /// More redirects than are followed.
    RedirectLoop,
    /// No URL that can be fetched (not http or https).
    UnsupportedUrl,
    /// The server could not be reached, or the connection broke.
    Unreachable,
}

impl FetchReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchReason::HttpStatus => "http_status",
            FetchReason::Timeout => "timeout",
            FetchReason::TooLarge => "too_large",
            FetchReason::RedirectLoop => "redirect_loop",
            FetchReason::UnsupportedUrl => "unsupported_url",
            FetchReason::Unreachable => "unreachable",
        }
    }
}

impl Reason for FetchReason {
    fn as_str(self) -> &'static str {
        FetchReason::as_str(self)
    }
}

/// Validators of a copy we hold, sent so the server can answer `304 Not Modified`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` the server gave with the copy.
    pub etag: Option<String>,
    /// The `Last-Modified` the server gave with the copy.
    pub last_modified: Option<String>,
}

impl Validators {
    fn from_headers(headers: &HeaderMap) -> Validators {
        let get = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        Validators {
            etag: get(reqwest::header::ETAG),
            last_modified: get(reqwest::header::LAST_MODIFIED),
        }
    }
}

/// What a GET returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// A new body, with the validators to send next time.
    Body(Bytes, Validators),
    /// `304`: the copy we hold is still current.
    NotModified,
}

/// The HTTP client for responders and distribution points, with the fetch counter.
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    /// `cert_revocation_fetches_total{source, result}`.
    pub fetches: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// The local clock against every response's `Date` (`cert_exporter_clock_skew_seconds`).
    pub clock: std::sync::Arc<crate::clock::ClockSkew>,
    /// `cert_aia_fetches_total{result}`: caIssuers downloads ([`Fetcher::get_issuer`]).
    pub issuer_fetches: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl Fetcher {
    /// Builds the client: HTTP/1.1, rustls with aws-lc-rs for `https` URLs (rare for CRLs and
    /// OCSP, which are signed objects served over plain HTTP), no cookies, a few redirects.
    pub fn new() -> Result<Fetcher, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("cert-expiry-exporter/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for revocation checks: {e}"))?;
        Ok(Fetcher {
            client,
            fetches: Family::default(),
            clock: Default::default(),
            issuer_fetches: Family::default(),
        })
    }

    /// GETs `url`, conditionally when `held` has validators, reading at most `max_bytes`;
    /// counted under `source` in `cert_revocation_fetches_total`.
    pub async fn get(
        &self,
        url: &str,
        held: Option<&Validators>,
        max_bytes: u64,
        deadline: Instant,
        source: &'static str,
    ) -> Result<Got, FetchError> {
        let mut request = self.client.get(url);
        if let Some(v) = held {
            if let Some(etag) = &v.etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
            }
        }
        let outcome = self
            .send(request, url, max_bytes, deadline, held.is_some())
            .await;
        self.count(source, &outcome);
        outcome
    }

    /// POSTs a DER OCSP request to `url` and returns the response body; counted under `source`.
    pub async fn post_ocsp(
        &self,
        url: &str,
        request_der: Vec<u8>,
        deadline: Instant,
        source: &'static str,
    ) -> Result<Bytes, FetchError> {
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/ocsp-request")
            .header(reqwest::header::ACCEPT, "application/ocsp-response")
            .body(request_der);
        self.ocsp(request, url, deadline, source).await
    }

    /// GETs an OCSP response from `url`, which carries the encoded request in its path (RFC 6960
    /// appendix A.1); counted under `source`.
    pub async fn get_ocsp(
        &self,
        url: &str,
        deadline: Instant,
        source: &'static str,
    ) -> Result<Bytes, FetchError> {
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/ocsp-response");
        self.ocsp(request, url, deadline, source).await
    }

    /// Sends an OCSP request (either method) and returns the body.
    async fn ocsp(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        deadline: Instant,
        source: &'static str,
    ) -> Result<Bytes, FetchError> {
        let outcome = self
            .send(request, url, OCSP_MAX_BYTES, deadline, false)
            .await;
        self.count(source, &outcome);
        match outcome? {
            Got::Body(body, _) => Ok(body),
            Got::NotModified => Err(FetchError::new(
                FetchReason::HttpStatus,
                format!("{url}: 304 Not Modified to an OCSP request"),
            )),
        }
    }

    /// GETs the issuer certificate(s) a caIssuers URL serves (for [`crate::probe::aia`]),
    /// reading at most `max_bytes`, counted in `cert_aia_fetches_total` rather than with the
    /// revocation fetches.
    pub async fn get_issuer(
        &self,
        url: &str,
        max_bytes: u64,
        deadline: Instant,
    ) -> Result<Bytes, FetchError> {
        let outcome = self
            .send(self.client.get(url), url, max_bytes, deadline, false)
            .await;
        let result = if outcome.is_ok() {
            "success"
        } else {
            "failure"
        };
        self.issuer_fetches
            .get_or_create(&vec![("result", result)])
            .inc();
        match outcome? {
            Got::Body(body, _) => Ok(body),
            Got::NotModified => Err(FetchError::new(
                FetchReason::HttpStatus,
                format!("{url}: 304 Not Modified to an unconditional GET"),
            )),
        }
    }

    /// GETs an ACME document (a directory or a renewal-information answer, for
    /// `probe::renewal`), reading at most `max_bytes`, with the answer's `Retry-After` header
    /// as sent. Not counted with the revocation fetches.
    pub async fn get_acme(
        &self,
        url: &str,
        max_bytes: u64,
        deadline: Instant,
    ) -> Result<(Bytes, Option<String>), FetchError> {
        let mut retry_after = None;
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let got = self
            .send_keeping(
                request,
                url,
                max_bytes,
                deadline,
                false,
                Some(&mut retry_after),
            )
            .await?;
        match got {
            Got::Body(body, _) => Ok((body, retry_after)),
            Got::NotModified => Err(FetchError::new(
                FetchReason::HttpStatus,
                format!("{url}: 304 Not Modified to an unconditional GET"),
            )),
        }
    }

    /// Sends and reads the body, all before `deadline`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        max_bytes: u64,
        deadline: Instant,
        conditional: bool,
    ) -> Result<Got, FetchError> {
        self.send_keeping(request, url, max_bytes, deadline, conditional, None)
            .await
    }

    /// [`Fetcher::send`], also keeping the `Retry-After` header in `retry_after` when asked.
    async fn send_keeping(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        max_bytes: u64,
        deadline: Instant,
        conditional: bool,
        retry_after: Option<&mut Option<String>>,
    ) -> Result<Got, FetchError> {
        let work = async {
            let mut response = request.send().await.map_err(|e| transport_error(url, &e))?;
            self.clock.observe_headers(response.headers());
            if let Some(slot) = retry_after {
                *slot = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
            }
            let status = response.status();
            if status == StatusCode::NOT_MODIFIED && conditional {
                return Ok(Got::NotModified);
            }
            if !status.is_success() {
                return Err(FetchError::new(
                    FetchReason::HttpStatus,
                    format!("{url}: HTTP status {status}"),
                ));
            }
            let validators = Validators::from_headers(response.headers());
            if let Some(len) = response.content_length() {
                if len > max_bytes {
                    return Err(too_large(url, max_bytes, &format!("{len} bytes announced")));
                }
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport_error(url, &e))?
            {
                if body.len() as u64 + chunk.len() as u64 > max_bytes {
                    return Err(too_large(url, max_bytes, "the body kept coming"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Got::Body(body.freeze(), validators))
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::new(
                FetchReason::Timeout,
                format!("{url}: no complete answer within the revocation budget"),
            )),
        }
    }

    /// Counts one request sent, by what came of it.
    fn count(&self, source: &'static str, outcome: &Result<Got, FetchError>) {
        let result = match outcome {
            Ok(Got::Body(..)) => "success",
            Ok(Got::NotModified) => "not_modified",
            Err(_) => "failure",
        };
        self.fetches
            .get_or_create(&vec![("source", source), ("result", result)])
            .inc();
    }
}

fn too_large(url: &str, max_bytes: u64, how: &str) -> FetchError {
    FetchError::new(
        FetchReason::TooLarge,
        format!("{url}: larger than the {max_bytes}-byte cap ({how})"),
    )
}

/// A failure before any status arrived, or while the body streamed in.
fn transport_error(url: &str, e: &reqwest::Error) -> FetchError {
    // reqwest's Display omits the cause ("error sending request"); the chain says why.
    let mut detail = format!("{url}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    let reason = if e.is_timeout() {
        FetchReason::Timeout
    } else if e.is_redirect() {
        // More than MAX_REDIRECTS hops: a loop, or a chain no CA would set up.
        FetchReason::RedirectLoop
    } else if e.is_builder() {
        FetchReason::UnsupportedUrl
    } else {
        FetchReason::Unreachable
    };
    FetchError::new(reason, detail)
}
