//! Trust anchors: the system store, optionally extended by a target's `ca_file`.
//!
//! The system store is read once per process (it is tens of milliseconds of parsing); each
//! distinct `ca_file` becomes its own [`TrustStore`] that shares the system anchors' memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::{CertificateDer, TrustAnchor};

use super::chain::VerdictCache;
use super::facts::CertFacts;

/// A set of trust anchors to verify paths against.
#[derive(Debug)]
pub struct TrustStore {
    system: Arc<Vec<TrustAnchor<'static>>>,
    system_certs: Arc<Vec<Option<Arc<AnchorCert>>>>,
    extra: Vec<TrustAnchor<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    /// The certificate behind each of `anchors` (same index), when the anchor was read from one.
    certs: Vec<Option<Arc<AnchorCert>>>,
    /// The verdicts on chains judged against this store, per distinct chain.
    pub(super) verdicts: VerdictCache,
}

/// What the store knows of the certificate an anchor was taken from. webpki uses an anchor's
/// name and key alone; strict clients (OpenSSL, Go, Java) also refuse an anchor that has
/// expired, is not yet valid, is no CA or carries an extension they cannot process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorCert {
    /// The anchor certificate's facts (None when x509-parser cannot read it).
    pub facts: Option<Arc<CertFacts>>,
    /// Why strict clients refuse this certificate as a CA, if they do.
    pub unusable: Option<String>,
    /// The raw subject and subjectPublicKeyInfo, as in the [`TrustAnchor`], to tell a
    /// self-signed leaf that is its own anchor.
    pub subject: Vec<u8>,
    /// See `subject`.
    pub spki: Vec<u8>,
}

impl AnchorCert {
    /// Reads what strict clients check of an anchor certificate.
    fn new(der: &CertificateDer<'_>, anchor: &TrustAnchor<'_>) -> AnchorCert {
        let (facts, parse_error) = match super::facts_cache::facts(der) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(format!("x509-parser cannot read it: {e}"))),
        };
        let unusable = parse_error
            .or_else(|| {
                // Strict parsing (webpki's own, as for any certificate but an anchor): an
                // unknown critical extension, a critical key identifier, a v1 certificate.
                webpki::EndEntityCert::try_from(der)
                    .err()
                    .map(|e| format!("strict parsers refuse it: {e:?}"))
            })
            .or_else(|| {
                facts
                    .as_ref()
                    .and_then(|f| f.encoding_problem.clone())
                    .map(|p| format!("strict parsers refuse it: {p}"))
            })
            .or_else(|| {
                facts
                    .as_ref()
                    .filter(|f| !f.is_ca)
                    .map(|_| "it has no basicConstraints extension with CA:TRUE".to_string())
            });
        AnchorCert {
            facts,
            unusable,
            subject: anchor.subject.as_ref().to_vec(),
            spki: anchor.subject_public_key_info.as_ref().to_vec(),
        }
    }
}

impl TrustStore {
    /// The system store alone.
    pub fn system() -> Arc<TrustStore> {
        static SYSTEM: OnceLock<Arc<TrustStore>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let (anchors, certs) = load_system_anchors()
                    .into_iter()
                    .unzip::<_, _, Vec<_>, Vec<_>>();
                let system = Arc::new(anchors);
                let system_certs = Arc::new(certs);
                Arc::new(TrustStore {
                    anchors: system.as_ref().clone(),
                    certs: system_certs.as_ref().clone(),
                    system,
                    system_certs,
                    extra: Vec::new(),
                    verdicts: VerdictCache::default(),
                })
            })
            .clone()
    }

    /// The system store plus the certificates of a PEM file.
    pub fn with_ca_file(path: &Path) -> Result<TrustStore, String> {
        let (extra, extra_certs) = read_anchor_file(path)?
            .into_iter()
            .unzip::<_, _, Vec<_>, Vec<_>>();
        let system_store = TrustStore::system();
        let system = system_store.system.clone();
        let system_certs = system_store.system_certs.clone();
        let mut anchors = system.as_ref().clone();
        anchors.extend(extra.iter().cloned());
        let mut certs = system_certs.as_ref().clone();
        certs.extend(extra_certs);
        Ok(TrustStore {
            system,
            system_certs,
            extra,
            anchors,
            certs,
            verdicts: VerdictCache::default(),
        })
    }

    /// A store of exactly these anchors, without the system's (for tests and `check --ca-file`
    /// with `--no-system-roots`).
    pub fn from_anchors(extra: Vec<TrustAnchor<'static>>) -> TrustStore {
        TrustStore {
            system: Arc::new(Vec::new()),
            system_certs: Arc::new(Vec::new()),
            anchors: extra.clone(),
            certs: vec![None; extra.len()],
            extra,
            verdicts: VerdictCache::default(),
        }
    }

    /// A store of the anchors of exactly these certificates, without the system's (the limbo
    /// suite, tests). Every certificate webpki can take an anchor from is kept, with what strict
    /// clients would refuse of it (judged when a path ends there); one it cannot is an error.
    pub fn from_certificates(certs: Vec<CertificateDer<'static>>) -> Result<TrustStore, String> {
        let (extra, certs) = certs
            .iter()
            .enumerate()
            .map(|(i, der)| {
                anchor_of(der).map_err(|e| {
                    format!(
                        "certificate #{} is not usable as a trust anchor: {e}",
                        i + 1
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip::<_, _, Vec<_>, Vec<_>>();
        Ok(TrustStore {
            system: Arc::new(Vec::new()),
            system_certs: Arc::new(Vec::new()),
            anchors: extra.clone(),
            certs,
            extra,
            verdicts: VerdictCache::default(),
        })
    }

    /// The certificate behind `anchor` (one of [`TrustStore::anchors`]), when it is known.
    pub fn certificate_of(&self, anchor: &TrustAnchor<'_>) -> Option<&Arc<AnchorCert>> {
        // webpki hands back a reference into `anchors()`: find that very one (a renewed root
        // has the same name and key as its expired self), else one with the same name and key.
        let i = self
            .anchors
            .iter()
            .position(|a| std::ptr::eq(a.subject.as_ref(), anchor.subject.as_ref()))
            .or_else(|| {
                self.anchors.iter().position(|a| {
                    a.subject == anchor.subject
                        && a.subject_public_key_info == anchor.subject_public_key_info
                })
            })?;
        self.certs.get(i)?.as_ref()
    }

    /// The anchor certificate with this raw subject and subjectPublicKeyInfo, if the store
    /// holds one (a self-signed leaf that is its own anchor).
    pub fn certificate_with(&self, subject: &[u8], spki: &[u8]) -> Option<&Arc<AnchorCert>> {
        self.certs
            .iter()
            .flatten()
            .find(|c| c.subject == subject && c.spki == spki)
    }

    /// Whether some anchor has this raw subject and subjectPublicKeyInfo.
    pub fn has_anchor(&self, subject: &[u8], spki: &[u8]) -> bool {
        self.anchors
            .iter()
            .any(|a| a.subject.as_ref() == subject && a.subject_public_key_info.as_ref() == spki)
    }

    /// All anchors, system first.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The notBefore and notAfter of every anchor read from a certificate (the dates a verdict
    /// against this store can depend on).
    pub(super) fn anchor_dates(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.certs
            .iter()
            .filter_map(|c| c.as_ref()?.facts.as_ref())
            .map(|f| (f.not_before, f.not_after))
    }

    /// Whether `anchor` came from a `ca_file` rather than the system store (a private CA).
    pub fn is_private(&self, anchor: &TrustAnchor<'_>) -> bool {
        self.extra.iter().any(|a| a.subject == anchor.subject)
            && !self.system.iter().any(|a| a.subject == anchor.subject)
    }
}

/// Reads the platform's root certificates; unreadable entries are skipped with a warning,
/// as a broken system bundle must not stop the exporter from reporting expiry.
fn load_system_anchors() -> Vec<Anchored> {
    let result = rustls_native_certs::load_native_certs();
    for error in &result.errors {
        tracing::warn!(%error, "skipping part of the system certificate store");
    }
    let anchors: Vec<_> = result
        .certs
        .iter()
        .filter_map(|der| anchor_of(der).ok())
        .collect();
    if anchors.is_empty() {
        tracing::warn!(
            "the system certificate store is empty; only ca_file anchors will be trusted"
        );
    }
    anchors
}

/// An anchor and what is known of its certificate.
type Anchored = (TrustAnchor<'static>, Option<Arc<AnchorCert>>);

/// The anchor webpki takes from `der`, with the certificate's facts.
fn anchor_of(der: &CertificateDer<'_>) -> Result<Anchored, String> {
    let anchor = webpki::anchor_from_trusted_cert(der).map_err(|e| format!("{e:?}"))?;
    let cert = Arc::new(AnchorCert::new(der, &anchor));
    Ok((anchor.to_owned(), Some(cert)))
}

/// Reads every certificate of a PEM file as a trust anchor.
fn read_anchor_file(path: &Path) -> Result<Vec<Anchored>, String> {
    let certs = read_pem_certificates(path)?;
    certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            anchor_of(der).map_err(|e| {
                format!(
                    "{}: certificate #{} is not usable as a trust anchor: {e}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// Reads every `CERTIFICATE` block of a PEM file; at least one must be present.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = crate::capped_read::read_capped(path, crate::capped_read::MAX_PEM_FILE)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// One [`TrustStore`] per distinct `ca_file` of a configuration, built when the config loads so
/// that a broken CA file is a config error (and a failed reload keeps the old stores).
#[derive(Debug, Default, Clone)]
pub struct TrustStores {
    by_file: HashMap<PathBuf, Arc<TrustStore>>,
}

impl TrustStores {
    /// Loads every CA file the given paths name.
    pub fn load<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<TrustStores, String> {
        let mut by_file = HashMap::new();
        for path in paths {
            if !by_file.contains_key(path) {
                by_file.insert(
                    path.to_path_buf(),
                    Arc::new(TrustStore::with_ca_file(path)?),
                );
            }
        }
        Ok(TrustStores { by_file })
    }

    /// Adds the stores of `other` (target files bring their own `ca_file`s).
    pub fn extend(&mut self, other: &TrustStores) {
        for (path, store) in &other.by_file {
            self.by_file
                .entry(path.clone())
                .or_insert_with(|| store.clone());
        }
    }

    /// The store for a target's `ca_file` (the system store when it has none).
    pub fn get(&self, ca_file: Option<&Path>) -> Arc<TrustStore> {
        ca_file
            .and_then(|p| self.by_file.get(p).cloned())
            .unwrap_or_else(TrustStore::system)
    }
}
