//! Fetching over HTTP for the certificate checks: the client that asks CAs' services (OCSP
//! responders, CRL distribution points, caIssuers URLs) and the cache that keeps their answers
//! between probes.
//!
//! Shared by [`crate::revocation`] (OCSP and CRLs) and the probe's caIssuers downloads
//! (`probe::aia`), so both honour the same proxies, caps and clock-skew observations. Below
//! revocation and the probe, above config: it knows HTTP and freshness, not what the bodies mean.
//!
//! [`http`] sends and reads, [`cache`] keeps answers with single-flight refreshes.

pub mod cache;
pub mod http;

pub use cache::{fresh_until, Cache, Stored};
pub use http::{FetchReason, Fetcher, Got, Validators};
