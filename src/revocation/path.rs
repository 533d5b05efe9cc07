//! The certificates a revocation check asks about: the served path's, each with its serial,
//! its issuer (for verifying answers) and the URLs it names.
//!
//! The serials and issuers take parsing every certificate of the chain and comparing names and
//! keys (an issuer's key is tried on the certificate's signature): the same work for the same
//! chain at every probe of every target behind it. So they are kept per distinct chain and
//! trust store ([`Known`]), as the chain's verdict is; a chain with a certificate that has no
//! shared facts (it did not parse) is worked out afresh every time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::issuer::{find_issuer, Issuer};
use super::{ocsp, Input, RevocationError, RevocationReason};
use crate::fetch::FetchReason;
use crate::x509::{CertFacts, TrustStore};

/// One path certificate with what revocation needs of it.
pub(super) struct PathCert<'a> {
    pub(super) serial: &'a [u8],
    pub(super) issuer: Option<&'a Issuer>,
    pub(super) ocsp_urls: &'a [String],
    pub(super) crl_urls: &'a [String],
    pub(super) subject: &'a str,
}

/// What the DER of a path certificate (and the store's anchors) decide: its place in the
/// chain, its serial and its issuer.
#[derive(Debug)]
pub(super) struct Known {
    index: usize,
    serial: Vec<u8>,
    issuer: Option<Issuer>,
}

/// The path's certificates (leaf first, as sent) with their serial, issuer and URLs, from
/// `known` (see [`known`]). Issuers are looked for among the certificates sent, then those
/// fetched from caIssuers URLs, then the anchors.
pub(super) fn path_certs<'a>(input: &Input<'a>, known: &'a [Known]) -> Vec<PathCert<'a>> {
    known
        .iter()
        .map(|k| {
            let facts = &input.report.certs[k.index];
            PathCert {
                serial: &k.serial,
                issuer: k.issuer.as_ref(),
                ocsp_urls: &facts.ocsp_urls,
                crl_urls: &facts.crl_urls,
                subject: &facts.subject,
            }
        })
        .collect()
}

/// The serial and issuer of each path certificate of `input`: remembered per distinct chain
/// and trust store, worked out when not known yet.
pub(super) fn known(input: &Input<'_>) -> Arc<[Known]> {
    let report = input.report;
    // Without facts for every certificate the facts' addresses do not name the chain; an
    // issuer downloaded from caIssuers (rare: a server that leaves its intermediate out) is
    // not part of the key, so such a chain is worked out at every probe.
    if report.certs.len() != input.chain.len()
        || report.in_path.len() != report.certs.len()
        || !input.fetched_issuers.is_empty()
    {
        return work_out(input);
    }
    let key = Key {
        store: Arc::as_ptr(input.trust) as usize,
        certs: report
            .certs
            .iter()
            .zip(&report.in_path)
            .map(|(facts, in_path)| (Arc::as_ptr(facts) as usize, *in_path))
            .collect(),
    };
    let memo = MEMO.get_or_init(Default::default);
    if let Some(entry) = lock(memo).get(&key) {
        return entry.known.clone();
    }
    let known = work_out(input);
    let entry = Entry {
        _store: Arc::downgrade(input.trust),
        _certs: report.certs.iter().map(Arc::downgrade).collect(),
        known: known.clone(),
    };
    let mut memo = lock(memo);
    if memo.len() >= MAX_CHAINS {
        memo.clear();
    }
    memo.insert(key, entry);
    known
}

/// A chain as [`known`] remembers it: the trust store and each certificate's shared facts by
/// address, with whether it is in the path. The entry holds weak references to all of them,
/// so no address it names can be reused by another store or certificate while it is kept.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    store: usize,
    certs: Vec<(usize, bool)>,
}

#[derive(Debug)]
struct Entry {
    _store: Weak<TrustStore>,
    _certs: Vec<Weak<CertFacts>>,
    known: Arc<[Known]>,
}

/// The most chains [`known`] keeps; past it, the memo is emptied and fills again.
const MAX_CHAINS: usize = 4096;

static MEMO: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();

fn lock(memo: &Mutex<HashMap<Key, Entry>>) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
    memo.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parses the chain and finds each path certificate's issuer.
fn work_out(input: &Input<'_>) -> Arc<[Known]> {
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
        .map(|(i, cert)| Known {
            index: i,
            serial: ocsp::trim_zeros(cert.raw_serial()).to_vec(),
            issuer: find_issuer(cert, &parsed, input.trust.anchors()),
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
    use crate::config::RevocationSettings;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use rustls_pki_types::CertificateDer;

    fn ca(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    }

    /// root ▶ intermediate ▶ leaf: (leaf and intermediate, root).
    fn chain() -> (Vec<CertificateDer<'static>>, CertificateDer<'static>) {
        let (root_params, inter_params) = (ca("Path Root"), ca("Path Intermediate"));
        let (root_key, inter_key, leaf_key) = (
            KeyPair::generate().unwrap(),
            KeyPair::generate().unwrap(),
            KeyPair::generate().unwrap(),
        );
        let root = root_params.self_signed(&root_key).unwrap();
        let inter = inter_params
            .signed_by(
                &inter_key,
                &rcgen::Issuer::from_params(&root_params, &root_key),
            )
            .unwrap();
        let mut leaf_params = CertificateParams::new(vec!["path.test".to_string()]).unwrap();
        leaf_params.serial_number = Some(vec![0, 0, 42].into());
        let leaf = leaf_params
            .signed_by(
                &leaf_key,
                &rcgen::Issuer::from_params(&inter_params, &inter_key),
            )
            .unwrap();
        (
            vec![leaf.der().clone(), inter.der().clone()],
            root.der().clone(),
        )
    }

    fn summary(known: &[Known]) -> Vec<(usize, Vec<u8>, Option<Issuer>)> {
        known
            .iter()
            .map(|k| (k.index, k.serial.clone(), k.issuer.clone()))
            .collect()
    }

    #[test]
    fn a_chain_is_worked_out_once_per_trust_store() {
        let (chain, root) = chain();
        let trust = Arc::new(TrustStore::from_certificates(vec![root.clone()]).unwrap());
        let report = crate::x509::analyse(&chain, "path.test", &trust, crate::clock::unix_now());
        assert_eq!(report.in_path, [true, true], "{report:?}");
        let input = Input {
            target: "t",
            chain: &chain,
            report: &report,
            stapled: &[],
            trust: &trust,
            fetched_issuers: &[],
            settings: RevocationSettings::default(),
        };
        let first = known(&input);
        let afresh = summary(&work_out(&input));
        assert_eq!(summary(&first), afresh);
        // The leaf's serial without its leading zeros; its issuer the intermediate the server
        // sent, the intermediate's the anchor it did not.
        assert_eq!(afresh[0].1, [42]);
        let inter = x509_parser::parse_x509_certificate(&chain[1]).unwrap().1;
        assert_eq!(afresh[0].2, Some(Issuer::from_cert(&inter)));
        assert_eq!(
            afresh[1].2,
            Some(Issuer::from_anchor(&trust.anchors()[0])),
            "the anchor"
        );
        assert!(Arc::ptr_eq(&first, &known(&input)), "remembered");

        // Another store (a reload): worked out again, with the same answers.
        let other = Arc::new(TrustStore::from_certificates(vec![root]).unwrap());
        let again = known(&Input {
            trust: &other,
            ..input
        });
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(summary(&again), afresh);

        // A store without the root: the intermediate's issuer is unknown.
        let empty = Arc::new(TrustStore::from_anchors(Vec::new()));
        let without = known(&Input {
            trust: &empty,
            ..input
        });
        assert_eq!(without[1].issuer, None);
    }

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
