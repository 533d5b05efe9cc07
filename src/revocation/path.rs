//! The certificates a revocation check asks about: the served path's, each with its serial,
//! its issuer (for verifying answers) and the URLs it names.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::issuer::{find_issuer, Issuer};
use super::{ocsp, Input, RevocationError, RevocationReason};
use crate::fetch::FetchReason;

/// One path certificate with what revocation needs of it.
pub(super) struct PathCert<'a> {
    pub(super) serial: Vec<u8>,
    pub(super) issuer: Option<Issuer>,
    pub(super) ocsp_urls: &'a [String],
    pub(super) crl_urls: &'a [String],
    pub(super) subject: &'a str,
}

/// The path's certificates (leaf first, as sent) with their serial, issuer and URLs. Issuers
/// are looked for among the certificates sent, then those fetched from caIssuers URLs, then
/// the anchors.
pub(super) fn path_certs<'a>(input: &Input<'a>) -> Vec<PathCert<'a>> {
    let mut parsed: Vec<X509Certificate<'_>> = input
        .chain
        .iter()
        .take(input.report.certs.len())
        .map_while(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    let sent = parsed.len();
    parsed.extend(
        input
            .fetched_issuers
            .iter()
            .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c)),
    );
    parsed[..sent]
        .iter()
        .enumerate()
        .filter(|(i, _)| input.report.in_path.get(*i).copied().unwrap_or(false))
        .map(|(i, cert)| {
            let facts = &input.report.certs[i];
            PathCert {
                serial: ocsp::trim_zeros(cert.raw_serial()).to_vec(),
                issuer: find_issuer(cert, &parsed, input.anchors),
                ocsp_urls: &facts.ocsp_urls,
                crl_urls: &facts.crl_urls,
                subject: &facts.subject,
            }
        })
        .collect()
}

/// The URLs an HTTP client can fetch (`ldap:` distribution points are skipped).
pub(super) fn fetchable(urls: &[String]) -> Result<Vec<&str>, RevocationError> {
    let usable: Vec<&str> = urls
        .iter()
        .map(String::as_str)
        .filter(|u| {
            let lower = u.to_ascii_lowercase();
            lower.starts_with("http://") || lower.starts_with("https://")
        })
        .collect();
    if usable.is_empty() {
        Err(RevocationError::new(
            RevocationReason::Fetch(FetchReason::UnsupportedUrl),
            format!("no http(s) URL among {urls:?}"),
        ))
    } else {
        Ok(usable)
    }
}

pub(super) fn issuer_unknown(cert: &PathCert<'_>) -> RevocationError {
    RevocationError::new(
        RevocationReason::IssuerUnknown,
        format!(
            "the issuer of {:?} was neither sent nor a trust anchor, so its answers cannot be verified",
            cert.subject
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_fetched() {
        let urls = vec![
            "ldap://dir.example/cn=CA?certificateRevocationList".to_string(),
            "HTTP://crl.example/ca.crl".to_string(),
        ];
        assert_eq!(fetchable(&urls).unwrap(), ["HTTP://crl.example/ca.crl"]);
        assert_eq!(
            fetchable(&urls[..1]).unwrap_err().reason.as_str(),
            "unsupported_url"
        );
    }
}
