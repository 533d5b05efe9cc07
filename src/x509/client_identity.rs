//! A client identity for mutual TLS: the certificate chain and private key a target presents.
//!
//! Loaded when the configuration loads, so a missing file or a key that does not belong to the
//! certificate is a configuration error rather than a failed probe. Presenting it during a
//! handshake, and waiting for the server's verdict, is the probe's part
//! (`probe::client_auth`).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use crate::capped_read::{read_capped, MAX_PEM_FILE};
use crate::x509::trust::read_pem_certificates;

/// A client certificate chain with its private key, ready to present.
///
/// Two identities are equal when they come from the same files with the same contents, so a
/// reload after the files were renewed restarts the target with the new certificate.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// SHA-256 over the certificates and the key as read, to notice renewed files.
    contents: [u8; 32],
    certified: Arc<CertifiedKey>,
}

/// Which of the two files an identity error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityFile {
    /// `client_cert`: the certificate chain.
    Cert,
    /// `client_key`: the private key, including a key that does not match the certificate.
    Key,
}

impl ClientIdentity {
    /// Reads both files and checks that the key belongs to the first certificate.
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
    ) -> Result<ClientIdentity, (IdentityFile, String)> {
        let chain = read_pem_certificates(cert_file).map_err(|e| (IdentityFile::Cert, e))?;
        let key_pem = read_capped(key_file, MAX_PEM_FILE).map_err(|e| {
            (
                IdentityFile::Key,
                format!("{}: cannot read: {e}", key_file.display()),
            )
        })?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|e| {
                (
                    IdentityFile::Key,
                    format!("{}: not valid PEM: {e}", key_file.display()),
                )
            })?
            .ok_or_else(|| {
                (
                    IdentityFile::Key,
                    format!("{}: holds no PEM private key", key_file.display()),
                )
            })?;
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for cert in &chain {
            digest.update(cert.as_ref());
        }
        digest.update(key.secret_der());
        let mut contents = [0u8; 32];
        contents.copy_from_slice(digest.finish().as_ref());

        let signing = crate::tls_provider::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| {
                (
                    IdentityFile::Key,
                    format!("{}: unusable private key: {e}", key_file.display()),
                )
            })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err((
                    IdentityFile::Key,
                    format!(
                        "{} does not match the certificate in {}",
                        key_file.display(),
                        cert_file.display()
                    ),
                ))
            }
            Err(e) => {
                return Err((
                    IdentityFile::Cert,
                    format!(
                        "{}: the first certificate is unusable: {e}",
                        cert_file.display()
                    ),
                ))
            }
        }
        Ok(ClientIdentity {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            contents,
            certified: Arc::new(certified),
        })
    }

    /// The chain and signing key, as rustls presents them.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.certified.clone()
    }
}

impl PartialEq for ClientIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.cert_file == other.cert_file
            && self.key_file == other.key_file
            && self.contents == other.contents
    }
}

impl Eq for ClientIdentity {}

impl Hash for ClientIdentity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.cert_file.hash(state);
        self.key_file.hash(state);
        self.contents.hash(state);
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}
