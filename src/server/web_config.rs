//! `--web.config.file`: TLS and basic authentication for the HTTP endpoint, in the
//! exporter-toolkit format every official Prometheus exporter reads, so operators can reuse the
//! file they already have:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/exporter/tls.crt
//!   key_file: /etc/exporter/tls.key
//!   client_ca_file: /etc/exporter/clients.pem        # optional
//!   client_auth_type: RequireAndVerifyClientCert     # optional
//!   min_version: TLS12                               # TLS12 (default) or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$...                           # bcrypt hash
//! ```
//!
//! Options of the toolkit that rustls does not offer (cipher suite lists, curve preferences)
//! are refused by name rather than silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;

use crate::capped_read::{read_capped, read_text_capped, MAX_PEM_FILE};
use crate::tls_provider::provider;
use crate::x509::trust::read_pem_certificates;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTlsConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTlsConfig {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// What the HTTP server needs from the web config.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// TLS for the listener; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// User name → bcrypt hash; empty means no authentication.
    pub users: BTreeMap<String, String>,
}

impl WebConfig {
    /// Reads and checks the web config file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<WebConfig, String> {
        let at = |e: String| format!("{}: {e}", path.display());
        let text =
            read_text_capped(path, MAX_PEM_FILE).map_err(|e| at(format!("cannot read: {e}")))?;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| at(e.to_string()))?
        };
        for (user, hash) in &raw.basic_auth_users {
            bcrypt_cost(hash).map_err(|e| at(format!("basic_auth_users.{user}: {e}")))?;
        }
        let tls = raw
            .tls_server_config
            .map(|t| tls_config(&t).map(Arc::new))
            .transpose()
            .map_err(|e| at(format!("tls_server_config: {e}")))?;
        Ok(WebConfig {
            tls,
            users: raw.basic_auth_users,
        })
    }
}

/// Checks that `hash` is a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, cost, salt and digest).
fn bcrypt_cost(hash: &str) -> Result<u32, String> {
    hash.parse::<bcrypt::HashParts>()
        .map(|p| p.get_cost())
        .map_err(|_| "not a bcrypt hash (make one with `htpasswd -nBC 10 user`)".to_string())
}

/// Builds the rustls server configuration. TLS 1.0 and 1.1 are never offered: rustls does not
/// implement them.
fn tls_config(raw: &RawTlsConfig) -> Result<ServerConfig, String> {
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match raw.min_version.as_deref()
    {
        None | Some("TLS12") => vec![&rustls::version::TLS13, &rustls::version::TLS12],
        Some("TLS13") => vec![&rustls::version::TLS13],
        Some(other) => {
            return Err(format!(
            "min_version: {other:?} is not offered (TLS12 or TLS13; older versions are insecure)"
        ))
        }
    };
    if let Some(max) = raw.max_version.as_deref() {
        if !matches!(max, "TLS12" | "TLS13") {
            return Err(format!("max_version: {max:?} is not TLS12 or TLS13"));
        }
    }
    let versions: Vec<_> = match raw.max_version.as_deref() {
        Some("TLS12") => versions
            .into_iter()
            .filter(|v| v.version == rustls::ProtocolVersion::TLSv1_2)
            .collect(),
        _ => versions,
    };
    if versions.is_empty() {
        return Err("min_version is above max_version".into());
    }
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let auth_type = raw.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match (auth_type, &raw.client_ca_file) {
        ("NoClientCert", _) => builder.with_no_client_auth(),
        ("RequireAndVerifyClientCert" | "VerifyClientCertIfGiven", Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_pem_certificates(ca).map_err(|e| format!("client_ca_file: {e}"))? {
                roots.add(cert).map_err(|e| format!("client_ca_file: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if auth_type == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
        ("RequireAndVerifyClientCert" | "VerifyClientCertIfGiven", None) => {
            return Err(format!("client_auth_type {auth_type} needs client_ca_file"))
        }
        (other, _) => {
            return Err(format!(
                "client_auth_type: {other:?} is not supported (NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
            ))
        }
    };
    let chain = read_pem_certificates(&raw.cert_file).map_err(|e| format!("cert_file: {e}"))?;
    let key = read_private_key(&raw.key_file)?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads the first private key of a PEM file. The key's bytes never appear in errors or logs.
pub fn read_private_key(path: &Path) -> Result<rustls::pki_types::PrivateKeyDer<'static>, String> {
    let bytes = read_capped(path, MAX_PEM_FILE)
        .map_err(|e| format!("key_file: {}: cannot read: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|_| format!("key_file: {}: not valid PEM", path.display()))?
        .ok_or_else(|| format!("key_file: {}: holds no private key", path.display()))
}
