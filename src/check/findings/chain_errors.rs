//! What each reason a chain is invalid means, and what to do about it.

use super::{days_text, which, Finding, Severity, DAY};
use crate::check::format_utc;
use crate::config::Target;
use crate::probe::ProbeResult;
use crate::x509::{CertFacts, ChainError, ChainReport};

/// The finding for `error` of `chain`, whose path certificates are `path` (position, facts),
/// judged at `now`.
pub(super) fn finding(
    error: ChainError,
    target: &Target,
    result: &ProbeResult,
    chain: &ChainReport,
    path: &[(usize, &CertFacts)],
    now: i64,
) -> Finding {
    use Severity::*;
    match error {
            ChainError::Expired => {
                let gone: Vec<String> = path
                    .iter()
                    .filter(|(_, c)| now > c.not_after)
                    .map(|(i, c)| {
                        format!(
                            "{} expired on {} ({} ago)",
                            which(*i, c),
                            format_utc(c.not_after),
                            days_text((now - c.not_after) as f64 / DAY)
                        )
                    })
                    .collect();
                Finding::new(Broken, error.as_str(), gone.join("; "))
                    .advice("renew the certificate and deploy the new one (and reload the server)")
            }
            ChainError::NotYetValid => {
                let early: Vec<String> = path
                    .iter()
                    .filter(|(_, c)| now < c.not_before)
                    .map(|(i, c)| format!("{} is valid only from {}", which(*i, c), format_utc(c.not_before)))
                    .collect();
                Finding::new(Broken, error.as_str(), early.join("; ")).advice(
                    "it was deployed too early, or a clock is wrong (this machine's: see the clock line)",
                )
            }
            ChainError::MissingIntermediate => {
                let from = result
                    .aia
                    .as_ref()
                    .map(|a| a.completed_from.join(", "))
                    .unwrap_or_default();
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!(
                        "the server does not send its intermediate certificate: the chain is \
                         complete only with the issuer published at {from}; browsers may cope, \
                         curl, Java, Go and most apps fail"
                    ),
                )
                .advice("configure the full chain (leaf + intermediates, e.g. fullchain.pem) on the server")
            }
            ChainError::UnknownIssuer => {
                let issuer = chain.certs.last().map(|c| c.issuer.as_str()).unwrap_or("");
                let mut f = Finding::new(
                    Broken,
                    error.as_str(),
                    format!("the chain does not lead to a trusted root (it stops at issuer {issuer})"),
                )
                .advice(
                    "use a certificate from a publicly trusted CA and send its intermediates, or \
                     trust the private CA with --ca-file (ca_file in the configuration)",
                );
                if let Some(e) = result.aia.as_ref().and_then(|a| a.error.as_ref()) {
                    f.message.push_str(&format!("; the leaf's caIssuers URL did not help: {e}"));
                }
                f
            }
            ChainError::SelfSigned => Finding::new(
                Broken,
                error.as_str(),
                "the certificate is self-signed and not trusted",
            )
            .advice(
                "replace it with one from a CA, or trust it explicitly with --ca-file (then issue \
                 it with basicConstraints CA:FALSE: rustls clients refuse a CA certificate as a \
                 server's, and `openssl req -x509` makes CA:TRUE by default)",
            ),
            ChainError::HostnameMismatch => {
                let leaf = &chain.certs[0];
                let covered: Vec<&str> = leaf
                    .dns_names
                    .iter()
                    .chain(&leaf.ip_addresses)
                    .map(String::as_str)
                    .collect();
                let covered = if covered.is_empty() {
                    "no name at all".to_string()
                } else {
                    covered.join(", ")
                };
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!("the certificate does not cover {} (it covers {covered})", target.server_name),
                )
                .advice("issue a certificate that names it, or check which virtual host SNI reaches")
            }
            ChainError::UnsupportedSignatureAlgorithm => Finding::new(
                Broken,
                error.as_str(),
                "a signature in the chain uses an algorithm or key modern clients reject \
                 (SHA-1, MD5, RSA under 2048 bits, …; see the weak-crypto lines)",
            )
            .advice("reissue with SHA-256 and an RSA 2048+ or ECDSA P-256 key"),
            ChainError::BadSignature => Finding::new(
                Broken,
                error.as_str(),
                "a signature in the chain does not verify",
            )
            .advice("the chain mixes certificates that do not belong together: deploy the chain the CA issued"),
            ChainError::InvalidPurpose => Finding::new(
                Broken,
                error.as_str(),
                "the leaf is not meant for TLS servers (extendedKeyUsage without serverAuth, or a CA certificate)",
            )
            .advice(
                "reissue it as a TLS server certificate (extendedKeyUsage serverAuth, \
                 basicConstraints CA:FALSE)",
            ),
            ChainError::AnchorExpired | ChainError::AnchorNotYetValid => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain ends at a trust anchor outside its validity ({}); OpenSSL-, Go- \
                     and Java-based clients refuse the chain",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice(
                "reissue the intermediate (and leaf) under a current root and distribute that \
                 root (ca_file, clients' trust stores); an expired root cannot be renewed in place",
            ),
            ChainError::AnchorUnusable => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain ends at a trust anchor strict clients refuse ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice(
                "reissue the root with basicConstraints CA:TRUE (critical) and only standard \
                 extensions, then the chain under it; or trust the right root in ca_file",
            ),
            ChainError::WeakKey => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "a key of the chain is one no rustls client accepts ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice("reissue with an RSA 2048+ (up to 8192) or ECDSA P-256/P-384 key"),
            ChainError::PathNotBuilt => Finding::new(
                Broken,
                error.as_str(),
                "every signature verifies up to a trust anchor, but rustls-webpki cannot build \
                 this path (self-issued intermediates, as in a CA key rollover)",
            )
            .advice(
                "send the chain without the self-issued (rollover) certificates, leaf to the \
                 intermediate the current root signed",
            ),
            ChainError::ConstraintViolation => Finding::new(
                Broken,
                error.as_str(),
                "a CA's name or path-length constraints forbid this chain",
            )
            .advice("issue the certificate from a CA allowed to issue for this name"),
            ChainError::Revoked => {
                let sources: Vec<&str> = result
                    .revocation
                    .iter()
                    .flat_map(|r| &r.sources)
                    .filter(|s| s.revoked == Some(true))
                    .map(|s| s.source.as_str())
                    .collect();
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!("a certificate of the chain is revoked (according to {})", sources.join(", ")),
                )
                .advice("issue and deploy a new certificate; if the key may have leaked, a new key too")
            }
            ChainError::Malformed => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "a certificate does not parse, or uses an encoding strict parsers refuse ({})",
                    chain.detail.as_deref().unwrap_or("malformed")
                ),
            )
            .advice(
                "deploy the certificate files the CA issued, unmodified; if they are so, the CA \
                 must reissue (no unknown critical extension, a v3 certificate, each extension \
                 once)",
            ),
            ChainError::Invalid => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain does not verify ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            ),
    }
}
