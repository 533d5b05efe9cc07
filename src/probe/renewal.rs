//! ACME Renewal Information (RFC 9773): the window in which the CA suggests the leaf be
//! renewed, asked of the target's ACME directory (`acme_directory:`, see
//! [`crate::config::acme`]).
//!
//! Runs after the chain has been judged, with a budget of its own (the target's timeout), and
//! never changes the chain's verdict: a failure is a [`RenewalReason`] of its own. The
//! directory is read for its `renewalInfo` URL through [`super::acme_directory`] (the same
//! reading the CAA check uses for `meta.caaIdentities`; kept a day, an hour without
//! `renewalInfo`); the leaf's answer is `GET renewalInfo/<certID>`, kept per certID for as
//! long as its `Retry-After` says (between [`MIN_RETRY_AFTER`] and [`MAX_RETRY_AFTER`];
//! [`DEFAULT_RETRY_AFTER`] without one), even when it does not parse. A request that got no
//! answer (unreachable, an HTTP error status, too large) is not kept: the next probe asks
//! again. Both documents are capped at [`MAX_BYTES`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use rustls_pki_types::CertificateDer;
use tokio::time::Instant;
use x509_parser::extensions::ParsedExtension;

use super::acme_directory::{self, DirectoryError, DirectoryReason, OneRead};
use crate::config::{acme, AcmeDirectory};
use crate::failure::{Failure, Reason};
use crate::fetch::{Cache, FetchReason, Fetcher, Stored};

/// The most bytes a directory or a renewal-information answer may have (real ones are well
/// under a KiB).
pub const MAX_BYTES: u64 = acme_directory::MAX_BYTES;
/// The least time an answer is kept, whatever its `Retry-After` says (a `0` must not make
/// every probe ask the CA).
pub const MIN_RETRY_AFTER: i64 = 10;
/// The most time an answer is kept: a CA that revokes early announces it through this
/// window, so it is asked at least daily.
pub const MAX_RETRY_AFTER: i64 = 24 * 3600;
/// How long an answer without a usable `Retry-After` is kept.
pub const DEFAULT_RETRY_AFTER: i64 = 6 * 3600;

/// Why the renewal window is not known: the `reason` label of `cert_renewal_info_error_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RenewalReason {
    /// The directory or the renewal-information URL could not be fetched (the fetch's own
    /// reason: `unreachable`, `timeout`, `http_status`, `too_large`, …).
    Fetch(FetchReason),
    /// The directory is not a JSON object.
    BadDirectory,
    /// The directory has no `renewalInfo` URL: the CA does not offer RFC 9773.
    NoRenewalInfo,
    /// The renewal-information answer is not JSON with a `suggestedWindow` of two RFC 3339
    /// times, the end after the start.
    BadJson,
    /// The leaf has no authorityKeyIdentifier key identifier, so it has no certID.
    NoKeyIdentifier,
}

impl RenewalReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RenewalReason::Fetch(f) => f.as_str(),
            RenewalReason::BadDirectory => "bad_directory",
            RenewalReason::NoRenewalInfo => "no_renewal_info",
            RenewalReason::BadJson => "bad_json",
            RenewalReason::NoKeyIdentifier => "no_key_identifier",
        }
    }
}

impl Reason for RenewalReason {
    fn as_str(self) -> &'static str {
        RenewalReason::as_str(self)
    }
}

/// A failed lookup.
pub type RenewalError = Failure<RenewalReason>;

/// The CA's suggested renewal window for the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalWindow {
    /// Unix seconds: renew from here…
    pub start: i64,
    /// …and before here.
    pub end: i64,
    /// The page the CA points to about this window, when it gave one.
    pub explanation_url: Option<String>,
}

impl RenewalWindow {
    /// The leaf's natural renewal point, notAfter − lifetime/3 (where
    /// `CertificateRenewalOverdue` also draws the line).
    pub fn natural_point(not_before: i64, not_after: i64) -> i64 {
        not_after - (not_after - not_before) / 3
    }

    /// Whether the window starts before the middle of the leaf's lifetime: CAs place their
    /// ordinary window near two thirds of it, so this means the CA wants the certificate
    /// replaced early (it is going to revoke it). The `CertificateEarlyRenewalRequested`
    /// alert's rule.
    pub fn is_early(&self, not_before: i64, not_after: i64) -> bool {
        self.start < not_before + (not_after - not_before) / 2
    }

    /// Whether, at `now`, the window has been open for its whole length or for a day,
    /// whichever is shorter: an ACME client renewing at a random moment of it should have
    /// replaced the certificate by then. The `CertificateRenewalWindowMissed` alert's rule.
    pub fn is_missed(&self, now: i64) -> bool {
        now - self.start > (self.end - self.start).min(MISSED_AFTER)
    }
}

/// The longest a window may stay open before the certificate counts as not renewed in it.
pub const MISSED_AFTER: i64 = 24 * 3600;

/// What the lookup for one probe gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalOutcome {
    /// The directory asked.
    pub directory: String,
    /// The window, or why there is none.
    pub window: Result<RenewalWindow, RenewalError>,
}

/// The answers per renewal-info URL and certID; shared by every target, across reloads (the
/// directories are kept by [`acme_directory::DirectoryCache`]).
#[derive(Debug, Default)]
pub struct RenewalCache {
    windows: Cache<String, Result<RenewalWindow, RenewalError>>,
}

/// The RFC 9773 certID: the base64url (unpadded) keyIdentifier of the authorityKeyIdentifier,
/// a dot, and the base64url (unpadded) content octets of the serial's DER INTEGER (with the
/// leading zero a positive serial with its high bit set carries).
pub fn cert_id(key_identifier: &[u8], serial_der: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(key_identifier),
        URL_SAFE_NO_PAD.encode(serial_der)
    )
}

/// The leaf's certID, its issuer's organisation and common name (for `auto`).
fn leaf_facts(leaf: &CertificateDer<'_>) -> Result<(String, String, String), RenewalError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| {
        RenewalError::new(
            RenewalReason::NoKeyIdentifier,
            format!("the leaf does not parse: {e}"),
        )
    })?;
    let key_id = cert
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        });
    let Some(key_id) = key_id else {
        return Err(RenewalError::new(
            RenewalReason::NoKeyIdentifier,
            "the leaf has no authorityKeyIdentifier keyIdentifier, so no RFC 9773 certID",
        ));
    };
    let organization = cert
        .issuer()
        .iter_organization()
        .find_map(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let common_name = cert
        .issuer()
        .iter_common_name()
        .find_map(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((
        cert_id(key_id, cert.tbs_certificate.raw_serial()),
        organization,
        common_name,
    ))
}

/// The directory a target's leaf is asked about: its own URL, or the built-in one of the
/// leaf's CA for `auto`; `None` for `off`, or `auto` with a CA the table does not know.
pub fn directory_for(setting: &AcmeDirectory, leaf: &CertificateDer<'_>) -> Option<String> {
    match setting {
        AcmeDirectory::Off => None,
        AcmeDirectory::Url(url) => Some(url.clone()),
        AcmeDirectory::Auto => {
            let (_, organization, common_name) = leaf_facts(leaf).ok()?;
            acme::builtin_directory(&organization, &common_name).map(str::to_string)
        }
    }
}

/// Asks `directory` (this probe's reading of it) for the renewal window of `leaf`, through
/// `cache`, before `deadline`; `now` is Unix seconds.
pub async fn look_up(
    cache: &RenewalCache,
    http: &Fetcher,
    directory: &OneRead<'_>,
    leaf: &CertificateDer<'_>,
    now: i64,
    deadline: Instant,
) -> Result<RenewalWindow, RenewalError> {
    let (id, _, _) = leaf_facts(leaf)?;
    let read = directory
        .get(now, deadline)
        .await
        .map_err(directory_error)?;
    let base = renewal_info_url(read.renewal_info.as_deref(), directory.url())?;
    let url = format!("{}/{id}", base.trim_end_matches('/'));
    cache
        .windows
        .get(&url.clone(), now, |_| async {
            let (body, retry_after) = http
                .get_acme(&url, MAX_BYTES, deadline)
                .await
                .map_err(fetch_error)?;
            // What the CA answered, even when it does not parse, is kept as it asks.
            Ok::<_, RenewalError>(Stored {
                value: parse_window(&body, &url),
                fresh_until: now + keep_for(retry_after.as_deref(), now),
                usable_until: None,
            })
        })
        .await?
}

fn directory_error(e: DirectoryError) -> RenewalError {
    let reason = match e.reason {
        DirectoryReason::Fetch(f) => RenewalReason::Fetch(f),
        DirectoryReason::BadDirectory => RenewalReason::BadDirectory,
    };
    RenewalError::new(reason, e.detail)
}

fn fetch_error(e: Failure<FetchReason>) -> RenewalError {
    RenewalError::new(RenewalReason::Fetch(e.reason), e.detail)
}

/// The `renewalInfo` URL of a directory, from its `renewalInfo` value.
fn renewal_info_url(value: Option<&str>, directory: &str) -> Result<String, RenewalError> {
    match value {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(url.to_string())
        }
        Some(url) => Err(RenewalError::new(
            RenewalReason::NoRenewalInfo,
            format!("{directory}: renewalInfo {url:?} is not an http or https URL"),
        )),
        None => Err(RenewalError::new(
            RenewalReason::NoRenewalInfo,
            format!("{directory}: the directory has no renewalInfo URL; the CA does not offer RFC 9773 renewal information"),
        )),
    }
}

/// The window of a renewal-information answer.
fn parse_window(body: &Bytes, url: &str) -> Result<RenewalWindow, RenewalError> {
    let bad = |why: String| RenewalError::new(RenewalReason::BadJson, format!("{url}: {why}"));
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let window = doc
        .get("suggestedWindow")
        .ok_or_else(|| bad("no suggestedWindow".into()))?;
    let time = |field: &str| {
        let text = window
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(format!("suggestedWindow.{field} is not a string")))?;
        parse_rfc3339(text).ok_or_else(|| {
            bad(format!(
                "suggestedWindow.{field} {text:?} is not an RFC 3339 time"
            ))
        })
    };
    let (start, end) = (time("start")?, time("end")?);
    if end <= start {
        return Err(bad(format!(
            "suggestedWindow ends ({end}) no later than it starts ({start})"
        )));
    }
    let explanation_url = doc
        .get("explanationURL")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(RenewalWindow {
        start,
        end,
        explanation_url,
    })
}

/// Unix seconds of an RFC 3339 time with `Z` or a numeric offset (fractions dropped).
fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let (local, offset) = match text.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => {
            let split = text.len().checked_sub(6)?;
            let (local, zone) = text.split_at_checked(split)?;
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            (local, sign * (h * 3600 + m * 60))
        }
    };
    let utc = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
    let secs = match utc.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Some(secs - offset)
}

/// How long an answer is kept, from its `Retry-After` (delay-seconds or an HTTP date), within
/// the floor and the ceiling.
pub fn keep_for(retry_after: Option<&str>, now: i64) -> i64 {
    let asked = retry_after.and_then(|v| {
        let v = v.trim();
        v.parse::<i64>().ok().or_else(|| {
            let at = httpdate::parse_http_date(v).ok()?;
            let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
            Some(at - now)
        })
    });
    asked
        .unwrap_or(DEFAULT_RETRY_AFTER)
        .clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_9773_example_cert_id() {
        // RFC 9773 section 4.1: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:
        // 2C:DE:01:C8:D4 and serial 0x87654321, whose DER INTEGER content is 00 87 65 43 21.
        let aki = hex::decode("69885B6B87464041E1B37B847BA0AE2CDE01C8D4").unwrap();
        let serial = hex::decode("0087654321").unwrap();
        assert_eq!(
            cert_id(&aki, &serial),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn windows_parse_with_offsets_and_bad_ones_are_refused() {
        let body = Bytes::from_static(
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00.5+01:00"},"explanationURL":"https://acme.example/why"}"#,
        );
        let w = parse_window(&body, "u").unwrap();
        assert_eq!(w.start, 1_735_790_400);
        assert_eq!(w.end, 1_735_790_400 + 86_400 - 3600);
        assert_eq!(
            w.explanation_url.as_deref(),
            Some("https://acme.example/why")
        );
        for bad in [
            &br#"{"suggestedWindow":{"start":"2025-01-03T00:00:00Z","end":"2025-01-02T00:00:00Z"}}"#[..],
            br#"{"suggestedWindow":{"start":"yesterday","end":"2025-01-02T00:00:00Z"}}"#,
            br#"{"window":{}}"#,
            b"<html>",
        ] {
            let e = parse_window(&Bytes::copy_from_slice(bad), "u").unwrap_err();
            assert_eq!(e.reason, RenewalReason::BadJson, "{e}");
        }
    }

    #[test]
    fn a_directory_without_renewal_info_says_so() {
        assert_eq!(
            renewal_info_url(Some("https://acme.example/ari"), "d").unwrap(),
            "https://acme.example/ari"
        );
        for value in [None, Some("ftp://acme.example/ari")] {
            assert_eq!(
                renewal_info_url(value, "d").unwrap_err().reason,
                RenewalReason::NoRenewalInfo
            );
        }
        // A directory that cannot be read is the renewal lookup's reason.
        let e = directory_error(DirectoryError::new(DirectoryReason::BadDirectory, "x"));
        assert_eq!(e.reason, RenewalReason::BadDirectory);
        let e = directory_error(DirectoryError::new(
            DirectoryReason::Fetch(FetchReason::Timeout),
            "x",
        ));
        assert_eq!(e.reason.as_str(), "timeout");
    }

    #[test]
    fn retry_after_is_honoured_within_floor_and_ceiling() {
        assert_eq!(keep_for(Some("120"), 0), 120);
        assert_eq!(keep_for(Some("0"), 0), MIN_RETRY_AFTER);
        assert_eq!(keep_for(Some("99999999"), 0), MAX_RETRY_AFTER);
        assert_eq!(keep_for(None, 0), DEFAULT_RETRY_AFTER);
        assert_eq!(keep_for(Some("soon"), 0), DEFAULT_RETRY_AFTER);
        // An HTTP date an hour after now.
        let now = 1_735_790_400; // Thu, 02 Jan 2025 04:00:00 GMT
        assert_eq!(keep_for(Some("Thu, 02 Jan 2025 05:00:00 GMT"), now), 3600);
        assert_eq!(
            keep_for(Some("Thu, 02 Jan 2025 03:00:00 GMT"), now),
            MIN_RETRY_AFTER
        );
    }

    #[test]
    fn early_and_missed_windows_follow_the_alert_rules() {
        let day = 86_400;
        // A 90-day leaf from 0: natural point at day 60, middle at day 45.
        assert_eq!(RenewalWindow::natural_point(0, 90 * day), 60 * day);
        let w = |start, end| RenewalWindow {
            start,
            end,
            explanation_url: None,
        };
        assert!(!w(59 * day, 61 * day).is_early(0, 90 * day));
        assert!(!w(45 * day, 61 * day).is_early(0, 90 * day));
        assert!(w(45 * day - 1, 61 * day).is_early(0, 90 * day));
        // A two-day window is missed a day after it opened; a one-hour one after the hour.
        assert!(!w(0, 2 * day).is_missed(day));
        assert!(w(0, 2 * day).is_missed(day + 1));
        assert!(!w(0, 3600).is_missed(3600));
        assert!(w(0, 3600).is_missed(3601));
    }

    #[test]
    fn reasons_have_their_labels() {
        assert_eq!(
            RenewalReason::Fetch(FetchReason::HttpStatus).as_str(),
            "http_status"
        );
        assert_eq!(RenewalReason::NoRenewalInfo.as_str(), "no_renewal_info");
        assert_eq!(RenewalReason::BadJson.as_str(), "bad_json");
    }
}
