//! Reading a target's ACME directory (RFC 8555 §7.1.1), once for what the probe needs from it:
//! the `renewalInfo` URL for the renewal window ([`super::renewal`], RFC 9773) and
//! `meta.caaIdentities`, the CA's CAA identities, for the CAA check ([`super::caa`]).
//!
//! One [`DirectoryCache`] per process keeps each directory by URL: a directory offering
//! `renewalInfo` for [`DIRECTORY_KEEP`], one without it (or one that is not a JSON object) for
//! [`NOT_OFFERED_KEEP`]; when a later read gets no answer, the held directory still stands in
//! for a week. A read that got no answer (unreachable, an HTTP error status, over
//! [`MAX_BYTES`]) is not kept, so the next probe asks again — but within one probe the
//! directory is read at most once, whichever of the two lookups asks first ([`OneRead`]).

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::failure::{Failure, Reason};
use crate::fetch::{Cache, FetchReason, Fetcher, Stored};

/// The most bytes a directory may have (real ones are well under a KiB).
pub const MAX_BYTES: u64 = 64 * 1024;
/// How long a directory offering `renewalInfo` is reused, in seconds.
pub const DIRECTORY_KEEP: i64 = 24 * 3600;
/// How long a directory without a `renewalInfo` URL, or one that is not a JSON object, is
/// believed, in seconds.
pub const NOT_OFFERED_KEEP: i64 = 3600;
/// How long a held directory stands in when reading it again gets no answer.
pub const USABLE_FOR: i64 = 7 * DIRECTORY_KEEP;
/// The most CAA identities a directory may list; more is not a real CA's directory.
pub const MAX_CAA_IDENTITIES: usize = 32;

/// Why the directory could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirectoryReason {
    /// It could not be fetched (the fetch's own reason).
    Fetch(FetchReason),
    /// It is not a JSON object.
    BadDirectory,
}

impl DirectoryReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryReason::Fetch(f) => f.as_str(),
            DirectoryReason::BadDirectory => "bad_directory",
        }
    }
}

impl Reason for DirectoryReason {
    fn as_str(self) -> &'static str {
        DirectoryReason::as_str(self)
    }
}

/// A directory that could not be read.
pub type DirectoryError = Failure<DirectoryReason>;

/// Why a directory that was read gives no CAA identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaaIdentitiesReason {
    /// No `meta.caaIdentities` (or an empty list).
    Absent,
    /// `meta.caaIdentities` is there but not a list of issuer domain names.
    Malformed,
}

/// What the probe uses of one ACME directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// The `renewalInfo` value when it is a string (not yet checked to be a URL).
    pub renewal_info: Option<String>,
    /// `meta.caaIdentities`, lower case, or why the directory gives none.
    pub caa_identities: Result<Vec<String>, Failure<CaaIdentitiesReason>>,
}

/// The directories read, per URL; shared by every target, across reloads.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    directories: Cache<String, Result<Arc<Directory>, DirectoryError>>,
}

/// One probe's reading of its target's directory: the first [`OneRead::get`] reads it (through
/// the cache), later ones in the same probe get the same answer, failures included.
#[derive(Debug)]
pub struct OneRead<'a> {
    cache: &'a DirectoryCache,
    http: &'a Fetcher,
    url: String,
    read: OnceCell<Result<Arc<Directory>, DirectoryError>>,
}

impl<'a> OneRead<'a> {
    /// A reading of the directory at `url`, not started yet.
    pub fn new(cache: &'a DirectoryCache, http: &'a Fetcher, url: String) -> OneRead<'a> {
        OneRead {
            cache,
            http,
            url,
            read: OnceCell::new(),
        }
    }

    /// The directory's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory, read before `deadline` if this probe has not read it yet; `now` is Unix
    /// seconds.
    pub async fn get(&self, now: i64, deadline: Instant) -> Result<Arc<Directory>, DirectoryError> {
        self.read
            .get_or_init(|| read(self.cache, self.http, &self.url, now, deadline))
            .await
            .clone()
    }
}

/// The directory at `url`, through `cache`.
async fn read(
    cache: &DirectoryCache,
    http: &Fetcher,
    url: &str,
    now: i64,
    deadline: Instant,
) -> Result<Arc<Directory>, DirectoryError> {
    cache
        .directories
        .get(&url.to_string(), now, |_| async {
            let (body, _) = http
                .get_acme(url, MAX_BYTES, deadline)
                .await
                .map_err(|e| DirectoryError::new(DirectoryReason::Fetch(e.reason), e.detail))?;
            let parsed = parse(&body, url).map(Arc::new);
            // A directory without renewalInfo (or a broken one) is an answer too; read
            // again sooner, in case the CA starts offering it or mends it.
            let keep = match &parsed {
                Ok(d) if d.renewal_info.is_some() => DIRECTORY_KEEP,
                _ => NOT_OFFERED_KEEP,
            };
            Ok::<_, DirectoryError>(Stored {
                value: parsed,
                fresh_until: now + keep,
                // A directory that fails to answer later still says the same.
                usable_until: Some(now + USABLE_FOR),
            })
        })
        .await?
}

/// The parts of a directory document the probe uses.
pub fn parse(body: &Bytes, url: &str) -> Result<Directory, DirectoryError> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        DirectoryError::new(
            DirectoryReason::BadDirectory,
            format!("{url}: not a JSON ACME directory: {e}"),
        )
    })?;
    let Some(object) = doc.as_object() else {
        return Err(DirectoryError::new(
            DirectoryReason::BadDirectory,
            format!("{url}: an ACME directory is a JSON object"),
        ));
    };
    Ok(Directory {
        renewal_info: object
            .get("renewalInfo")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        caa_identities: caa_identities(object.get("meta"), url),
    })
}

/// `meta.caaIdentities`: every entry must be an issuer domain name, or none is used.
fn caa_identities(
    meta: Option<&serde_json::Value>,
    url: &str,
) -> Result<Vec<String>, Failure<CaaIdentitiesReason>> {
    let bad = |why: String| {
        Failure::new(
            CaaIdentitiesReason::Malformed,
            format!("{url}: meta.caaIdentities {why}"),
        )
    };
    let absent = || {
        Failure::new(
            CaaIdentitiesReason::Absent,
            format!("{url}: the directory has no meta.caaIdentities"),
        )
    };
    let Some(meta) = meta else {
        return Err(absent());
    };
    let Some(meta) = meta.as_object() else {
        return Err(Failure::new(
            CaaIdentitiesReason::Malformed,
            format!("{url}: meta is not a JSON object"),
        ));
    };
    let Some(value) = meta.get("caaIdentities") else {
        return Err(absent());
    };
    let Some(list) = value.as_array() else {
        return Err(bad("is not an array".into()));
    };
    if list.is_empty() {
        return Err(Failure::new(
            CaaIdentitiesReason::Absent,
            format!("{url}: meta.caaIdentities is empty"),
        ));
    }
    if list.len() > MAX_CAA_IDENTITIES {
        return Err(bad(format!(
            "has {} entries, more than the {MAX_CAA_IDENTITIES} accepted",
            list.len()
        )));
    }
    list.iter()
        .map(|entry| {
            let text = entry
                .as_str()
                .ok_or_else(|| bad(format!("has an entry that is not a string: {entry}")))?;
            is_domain(text)
                .then(|| text.to_ascii_lowercase())
                .ok_or_else(|| bad(format!("has {text:?}, which is not a domain name")))
        })
        .collect()
}

/// Whether `text` is a domain name as CAA `issue` values name issuers (RFC 8659 §4.2).
fn is_domain(text: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !text.is_empty() && text.len() <= 253 && text.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Result<Directory, DirectoryError> {
        parse(&Bytes::copy_from_slice(body.as_bytes()), "d")
    }

    fn identities(body: &str) -> Result<Vec<String>, Failure<CaaIdentitiesReason>> {
        parsed(body).unwrap().caa_identities
    }

    #[test]
    fn a_directory_gives_its_renewal_info_and_caa_identities() {
        let d = parsed(
            r#"{"newNonce":"x","renewalInfo":"https://acme.example/ari","meta":{"termsOfService":"t","caaIdentities":["LetsEncrypt.org","acme.example"]}}"#,
        )
        .unwrap();
        assert_eq!(d.renewal_info.as_deref(), Some("https://acme.example/ari"));
        assert_eq!(
            d.caa_identities.unwrap(),
            ["letsencrypt.org", "acme.example"]
        );
        // renewalInfo that is not a string is no renewalInfo.
        let d = parsed(r#"{"renewalInfo":7}"#).unwrap();
        assert_eq!(d.renewal_info, None);
    }

    #[test]
    fn absent_caa_identities_are_absent() {
        for body in [
            r#"{"newNonce":"x"}"#,
            r#"{"meta":{"termsOfService":"t"}}"#,
            r#"{"meta":{"caaIdentities":[]}}"#,
        ] {
            let e = identities(body).unwrap_err();
            assert_eq!(
                e.reason,
                CaaIdentitiesReason::Absent,
                "{body}: {}",
                e.detail
            );
        }
    }

    #[test]
    fn malformed_caa_identities_are_refused_whole() {
        for (body, says) in [
            (
                r#"{"meta":{"caaIdentities":"acme.example"}}"#,
                "not an array",
            ),
            (r#"{"meta":{"caaIdentities":{"a":1}}}"#, "not an array"),
            (
                r#"{"meta":{"caaIdentities":["acme.example",7]}}"#,
                "not a string",
            ),
            (r#"{"meta":{"caaIdentities":[null]}}"#, "not a string"),
            (
                r#"{"meta":{"caaIdentities":["acme example"]}}"#,
                "not a domain",
            ),
            (r#"{"meta":{"caaIdentities":[""]}}"#, "not a domain"),
            (
                r#"{"meta":{"caaIdentities":["-a.example"]}}"#,
                "not a domain",
            ),
            (r#"{"meta":[1]}"#, "meta is not a JSON object"),
        ] {
            let e = identities(body).unwrap_err();
            assert_eq!(e.reason, CaaIdentitiesReason::Malformed, "{body}");
            assert!(e.detail.contains(says), "{body}: {}", e.detail);
        }
        let many: Vec<String> = (0..=MAX_CAA_IDENTITIES)
            .map(|i| format!("\"ca{i}.example\""))
            .collect();
        let e = identities(&format!(
            r#"{{"meta":{{"caaIdentities":[{}]}}}}"#,
            many.join(",")
        ))
        .unwrap_err();
        assert_eq!(e.reason, CaaIdentitiesReason::Malformed);
    }

    #[test]
    fn a_document_that_is_not_a_json_object_is_a_bad_directory() {
        for body in ["<html>", "{\"meta\": ", "[1,2]", "\"x\"", ""] {
            let e = parsed(body).unwrap_err();
            assert_eq!(e.reason, DirectoryReason::BadDirectory, "{body}");
            assert_eq!(e.reason.as_str(), "bad_directory");
        }
        assert_eq!(
            DirectoryReason::Fetch(FetchReason::HttpStatus).as_str(),
            "http_status"
        );
    }
}
