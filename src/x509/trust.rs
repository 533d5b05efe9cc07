//! Trust anchors: the system store, optionally extended by a target's `ca_file`.
//!
//! The system store is read once per process (it is tens of milliseconds of parsing); each
//! distinct `ca_file` becomes its own [`TrustStore`] that shares the system anchors' memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::{CertificateDer, TrustAnchor};

/// A set of trust anchors to verify paths against.
#[derive(Debug)]
pub struct TrustStore {
    system: Arc<Vec<TrustAnchor<'static>>>,
    extra: Vec<TrustAnchor<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustStore {
    /// The system store alone.
    pub fn system() -> Arc<TrustStore> {
        static SYSTEM: OnceLock<Arc<TrustStore>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let system = Arc::new(load_system_anchors());
                Arc::new(TrustStore {
                    anchors: system.as_ref().clone(),
                    system,
                    extra: Vec::new(),
                })
            })
            .clone()
    }

    /// The system store plus the certificates of a PEM file.
    pub fn with_ca_file(path: &Path) -> Result<TrustStore, String> {
        let extra = read_anchor_file(path)?;
        let system = TrustStore::system().system.clone();
        let mut anchors = system.as_ref().clone();
        anchors.extend(extra.iter().cloned());
        Ok(TrustStore {
            system,
            extra,
            anchors,
        })
    }

    /// A store of exactly these anchors, without the system's (for tests and `check --ca-file`
    /// with `--no-system-roots`).
    pub fn from_anchors(extra: Vec<TrustAnchor<'static>>) -> TrustStore {
        TrustStore {
            system: Arc::new(Vec::new()),
            anchors: extra.clone(),
            extra,
        }
    }

    /// All anchors, system first.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// Whether `anchor` came from a `ca_file` rather than the system store (a private CA).
    pub fn is_private(&self, anchor: &TrustAnchor<'_>) -> bool {
        self.extra.iter().any(|a| a.subject == anchor.subject)
            && !self.system.iter().any(|a| a.subject == anchor.subject)
    }
}

/// Reads the platform's root certificates; unreadable entries are skipped with a warning,
/// as a broken system bundle must not stop the exporter from reporting expiry.
fn load_system_anchors() -> Vec<TrustAnchor<'static>> {
    let result = rustls_native_certs::load_native_certs();
    for error in &result.errors {
        tracing::warn!(%error, "skipping part of the system certificate store");
    }
    let anchors: Vec<_> = result
        .certs
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .map(|a| a.to_owned())
        .collect();
    if anchors.is_empty() {
        tracing::warn!(
            "the system certificate store is empty; only ca_file anchors will be trusted"
        );
    }
    anchors
}

/// Reads every certificate of a PEM file as a trust anchor.
fn read_anchor_file(path: &Path) -> Result<Vec<TrustAnchor<'static>>, String> {
    let certs = read_pem_certificates(path)?;
    certs
        .iter()
        .enumerate()
        .map(|(i, der)| {
            webpki::anchor_from_trusted_cert(der)
                .map(|a| a.to_owned())
                .map_err(|e| {
                    format!(
                        "{}: certificate #{} is not usable as a trust anchor: {e:?}",
                        path.display(),
                        i + 1
                    )
                })
        })
        .collect()
}

/// Reads every `CERTIFICATE` block of a PEM file; at least one must be present.
pub fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = crate::config::read::read_capped(path, crate::config::read::MAX_PEM_FILE)
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
