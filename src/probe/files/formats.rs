//! Turning the bytes of a certificate file into certificates: PEM, DER, PKCS#12, JKS or JCEKS.
//!
//! Pure — bytes in, certificates out, no I/O — so it can be fuzzed. The format is told from the
//! content, never from the file name (`.crt` is PEM as often as DER):
//!
//! - **PEM**: the bytes contain a `-----BEGIN ` line. Every `CERTIFICATE` block is taken, in
//!   file order; keys, CRLs and other blocks are ignored.
//! - **DER**: a SEQUENCE whose first element is a SEQUENCE (a certificate's tbsCertificate).
//!   Several certificates may follow each other.
//! - **PKCS#12**: a SEQUENCE whose first element is an INTEGER (the PFX version). Decrypted with
//!   the target's password (the empty password when none is configured); the certificate whose
//!   private key is in the file comes first, then its issuers by name, then the rest.
//! - **JKS, JCEKS**: Java keystores, told by their magic number; see [`super::keystore`].
//! - **CRL**: a PEM `X509 CRL` block in a file without a `CERTIFICATE` block, or a DER SEQUENCE
//!   that parses as a CRL (a certificate's tbsCertificate starts with its `[0]` version, a
//!   CRL's tbsCertList does not). Its issuer and dates are taken ([`crl`]); its signature is
//!   not checked, as there is no certificate to check it against.
//! - **kubeconfig**: YAML of `kind: Config`; see [`super::kubeconfig`].

use p12_keystore::error::Error as P12Error;
use p12_keystore::Pkcs12Archive;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::{keystore, kubeconfig};
use crate::probe::result::CrlFacts;
use crate::probe::ProbeReason;

/// How a certificate file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text with `-----BEGIN` blocks, of which only the `CERTIFICATE` ones are taken.
    Pem,
    /// One or more DER certificates back to back.
    Der,
    /// A PFX archive, opened with the target's `password_file` (the empty password without
    /// one).
    Pkcs12,
    /// A Java keystore, its integrity checked with the target's `password_file` (unchecked
    /// without one).
    Jks,
    /// A JCEKS Java keystore, read as [`Format::Jks`] (its secret keys have no certificate).
    Jceks,
    /// A certificate revocation list, PEM or DER: read with [`crl`], not [`decode`].
    Crl,
    /// A kubeconfig: read with [`super::kubeconfig::entries`], not [`decode`].
    Kubeconfig,
}

impl Format {
    /// Whether the format is opened with the target's `password_file`.
    pub fn takes_password(self) -> bool {
        matches!(self, Format::Pkcs12 | Format::Jks | Format::Jceks)
    }

    /// The reason a password that cannot be read or does not open the file is reported as.
    pub fn password_reason(self) -> ProbeReason {
        match self {
            Format::Jks | Format::Jceks => ProbeReason::KeystorePassword,
            _ => ProbeReason::Pkcs12Password,
        }
    }
}

/// The certificates of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The encoding, as told from the content (never from the file name).
    pub format: Format,
    /// In file order (PKCS#12: leaf first); at most the `max_certs` asked for.
    pub certs: Vec<CertificateDer<'static>>,
    /// The file held more certificates than `max_certs`; the rest were dropped.
    pub truncated: bool,
}

/// Why a file yielded no certificate. Each kind is one `reason` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The file is well-formed but holds no certificate (empty, a key alone, …).
    NoCertificate(String),
    /// The bytes are not PEM, DER or PKCS#12, or are damaged.
    Malformed(String),
    /// A PKCS#12 file whose integrity check or decryption failed with the password given.
    Pkcs12Password(String),
    /// A JKS or JCEKS keystore whose integrity digest does not match the password given.
    KeystorePassword(String),
    /// A CRL file whose CRL does not parse.
    CrlMalformed(String),
    /// A kubeconfig that does not parse, or an entry whose certificate data is not base64.
    KubeconfigMalformed(String),
}

impl DecodeError {
    /// The `reason` label of `cert_probe_error_info`.
    pub fn reason(&self) -> ProbeReason {
        match self {
            DecodeError::NoCertificate(_) => ProbeReason::FileNoCertificate,
            DecodeError::Malformed(_) => ProbeReason::FileMalformed,
            DecodeError::Pkcs12Password(_) => ProbeReason::Pkcs12Password,
            DecodeError::KeystorePassword(_) => ProbeReason::KeystorePassword,
            DecodeError::CrlMalformed(_) => ProbeReason::CrlMalformed,
            DecodeError::KubeconfigMalformed(_) => ProbeReason::KubeconfigMalformed,
        }
    }

    /// The sentence for logs.
    pub fn detail(&self) -> &str {
        match self {
            DecodeError::NoCertificate(d) | DecodeError::Malformed(d) => d,
            DecodeError::Pkcs12Password(d) | DecodeError::KeystorePassword(d) => d,
            DecodeError::CrlMalformed(d) | DecodeError::KubeconfigMalformed(d) => d,
        }
    }
}

/// Tells the format from the content.
pub fn detect(bytes: &[u8]) -> Result<Format, DecodeError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::NoCertificate("the file is empty".into()));
    }
    match bytes.get(..4) {
        Some(m) if m == keystore::JKS_MAGIC => return Ok(Format::Jks),
        Some(m) if m == keystore::JCEKS_MAGIC => return Ok(Format::Jceks),
        _ => {}
    }
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let has = |label: &[u8]| bytes.windows(label.len()).any(|w| w == label);
        if has(b"-----BEGIN X509 CRL-----") && !has(b"-----BEGIN CERTIFICATE-----") {
            return Ok(Format::Crl);
        }
        return Ok(Format::Pem);
    }
    if kubeconfig::is_kubeconfig(bytes) {
        return Ok(Format::Kubeconfig);
    }
    let not_a_certificate_file =
        || DecodeError::Malformed("neither PEM, DER nor PKCS#12 (no certificate found)".into());
    let header = der_header(bytes).ok_or_else(not_a_certificate_file)?;
    match (bytes[0], bytes.get(header.header_len)) {
        (SEQUENCE, Some(&SEQUENCE)) => {
            // A certificate's tbsCertificate opens with its explicit `[0]` version (v3, v2);
            // a CRL's tbsCertList with an INTEGER version or its signature algorithm.
            let inner = der_header(&bytes[header.header_len..]);
            let first = inner.and_then(|h| bytes.get(header.header_len + h.header_len));
            if first != Some(&EXPLICIT_0)
                && CertificateRevocationList::from_der(bytes).is_ok_and(|(rest, _)| rest.is_empty())
            {
                return Ok(Format::Crl);
            }
            Ok(Format::Der)
        }
        (SEQUENCE, Some(&INTEGER)) => Ok(Format::Pkcs12),
        _ => Err(not_a_certificate_file()),
    }
}

/// Decodes the certificates of a file in `format`, keeping at most `max_certs`.
/// `password` is used for PKCS#12 (`None`: the empty password) and Java keystores (`None`:
/// read without checking their integrity).
pub fn decode(
    bytes: &[u8],
    format: Format,
    password: Option<&str>,
    max_certs: usize,
) -> Result<Decoded, DecodeError> {
    let mut certs = match format {
        Format::Pem => pem_certificates(bytes)?,
        Format::Der => der_certificates(bytes)?,
        Format::Pkcs12 => pkcs12_certificates(bytes, password.unwrap_or(""))?,
        Format::Jks | Format::Jceks => keystore::certificates(bytes, password)?,
        Format::Crl | Format::Kubeconfig => {
            return Err(DecodeError::NoCertificate(
                "a CRL or a kubeconfig is not decoded as certificates".into(),
            ))
        }
    };
    if certs.is_empty() {
        return Err(DecodeError::NoCertificate(match format {
            Format::Pem => "PEM without a CERTIFICATE block".into(),
            Format::Der => "DER without a certificate".into(),
            Format::Pkcs12 => "PKCS#12 without a certificate".into(),
            Format::Jks => "JKS keystore without a certificate".into(),
            Format::Jceks => "JCEKS keystore without a certificate".into(),
            Format::Crl => "a CRL".into(),
            Format::Kubeconfig => "a kubeconfig".into(),
        }));
    }
    let truncated = certs.len() > max_certs;
    certs.truncate(max_certs);
    Ok(Decoded {
        format,
        certs,
        truncated,
    })
}

/// The most bytes of a name taken from a file for a label (a CRL's issuer, a kubeconfig's
/// cluster or user), so a hostile file cannot write megabyte labels.
pub const MAX_LABEL: usize = 256;

/// `text` cut at [`MAX_LABEL`]-like `max` bytes (on a character boundary), with `…` when cut.
pub fn cut_label(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The facts of a CRL file ([`Format::Crl`]): who issued it and when it goes stale. The first
/// CRL of a PEM file is taken. Its signature is not checked: a file has no issuer certificate
/// beside it to check it with.
pub fn crl(bytes: &[u8]) -> Result<CrlFacts, DecodeError> {
    let der = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let first = CertificateRevocationListDer::pem_slice_iter(bytes)
            .next()
            .ok_or_else(|| DecodeError::CrlMalformed("no X509 CRL block".into()))?;
        first
            .map_err(|e| DecodeError::CrlMalformed(format!("PEM X509 CRL block: {e}")))?
            .as_ref()
            .to_vec()
    } else {
        bytes.to_vec()
    };
    let (rest, parsed) = CertificateRevocationList::from_der(&der)
        .map_err(|e| DecodeError::CrlMalformed(format!("not a CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(DecodeError::CrlMalformed(format!(
            "{} bytes after the CRL",
            rest.len()
        )));
    }
    Ok(CrlFacts {
        issuer: cut_label(parsed.issuer().to_string(), MAX_LABEL),
        this_update: parsed.last_update().timestamp(),
        next_update: parsed.next_update().map(|t| t.timestamp()),
    })
}

const SEQUENCE: u8 = 0x30;
const EXPLICIT_0: u8 = 0xa0;
const INTEGER: u8 = 0x02;

/// The length of a DER (or BER indefinite-length) header and of the content it announces.
struct DerHeader {
    header_len: usize,
    /// `None` for BER's indefinite length (some PKCS#12 writers still use it).
    content_len: Option<usize>,
}

/// Reads the tag and length of the element at the start of `bytes`.
fn der_header(bytes: &[u8]) -> Option<DerHeader> {
    let first = *bytes.get(1)?;
    match first {
        0x00..=0x7f => Some(DerHeader {
            header_len: 2,
            content_len: Some(first as usize),
        }),
        0x80 => Some(DerHeader {
            header_len: 2,
            content_len: None,
        }),
        0x81..=0x84 => {
            let n = (first & 0x7f) as usize;
            let len_bytes = bytes.get(2..2 + n)?;
            let content_len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            Some(DerHeader {
                header_len: 2 + n,
                content_len: Some(content_len),
            })
        }
        _ => None,
    }
}

/// Every `CERTIFICATE` block of a PEM text.
fn pem_certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, DecodeError> {
    CertificateDer::pem_slice_iter(bytes)
        .enumerate()
        .map(|(i, cert)| {
            cert.map_err(|e| {
                DecodeError::Malformed(format!("PEM certificate block #{}: {e}", i + 1))
            })
        })
        .collect()
}

/// One or more DER certificates, back to back.
fn der_certificates(mut bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, DecodeError> {
    let mut certs = Vec::new();
    while !bytes.is_empty() {
        let position = certs.len() + 1;
        let total = der_header(bytes)
            .filter(|_| bytes[0] == SEQUENCE)
            .and_then(|h| Some(h.header_len + h.content_len?))
            .ok_or_else(|| {
                DecodeError::Malformed(format!("DER certificate #{position}: not a DER SEQUENCE"))
            })?;
        let Some(der) = bytes.get(..total) else {
            return Err(DecodeError::Malformed(format!(
                "DER certificate #{position}: truncated ({} of {total} bytes)",
                bytes.len()
            )));
        };
        certs.push(CertificateDer::from(der.to_vec()));
        bytes = &bytes[total..];
    }
    Ok(certs)
}

/// The certificates of a PKCS#12 file, the one with the private key first, then its issuers
/// by name, then the others in file order.
fn pkcs12_certificates(
    bytes: &[u8],
    password: &str,
) -> Result<Vec<CertificateDer<'static>>, DecodeError> {
    let archive = Pkcs12Archive::from_pkcs12(bytes, password).map_err(|e| match e {
        // The MAC is keyed by the password; without a MAC, a wrong key shows as bad padding.
        P12Error::MacError(_) | P12Error::UnpadError => DecodeError::Pkcs12Password(format!(
            "PKCS#12 integrity check failed: wrong password ({e})"
        )),
        e => DecodeError::Malformed(format!("PKCS#12: {e}")),
    })?;
    let bags = &archive.certs;
    let key_ids: Vec<&[u8]> = archive
        .keys
        .iter()
        .filter_map(|k| k.local_key_id.as_ref().map(|id| id.0.as_slice()))
        .collect();
    let leaf = bags
        .iter()
        .position(|b| {
            b.local_key_id
                .as_deref()
                .is_some_and(|id| key_ids.contains(&id))
        })
        .or_else(|| bags.iter().position(|b| b.local_key_id.is_some()));
    let mut order: Vec<usize> = Vec::with_capacity(bags.len());
    if let Some(mut current) = leaf {
        order.push(current);
        while let Some(next) = (0..bags.len()).find(|&i| {
            !order.contains(&i)
                && bags[i].cert.subject() == bags[current].cert.issuer()
                && bags[current].cert.subject() != bags[current].cert.issuer()
        }) {
            order.push(next);
            current = next;
        }
    }
    order.extend(
        (0..bags.len())
            .filter(|i| !order.contains(i))
            .collect::<Vec<_>>(),
    );
    Ok(order
        .into_iter()
        .map(|i| CertificateDer::from(bags[i].cert.as_der().to_vec()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    struct Made {
        der: Vec<u8>,
        pem: String,
    }

    fn ca(cn: &str) -> (CertificateParams, KeyPair, Made) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let made = Made {
            der: cert.der().to_vec(),
            pem: cert.pem(),
        };
        (params, key, made)
    }

    fn leaf(issuer: &Issuer<'_, &KeyPair>) -> (KeyPair, Made) {
        let params = CertificateParams::new(vec!["leaf.test".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, issuer).unwrap();
        let made = Made {
            der: cert.der().to_vec(),
            pem: cert.pem(),
        };
        (key, made)
    }

    fn decode_all(bytes: &[u8], password: Option<&str>) -> Result<Decoded, DecodeError> {
        decode(bytes, detect(bytes)?, password, 100)
    }

    #[test]
    fn pem_takes_every_certificate_in_order_and_ignores_keys() {
        let (params, key, root) = ca("Root");
        let (leaf_key, leaf) = leaf(&Issuer::from_params(&params, &key));
        let text = format!("{}{}{}", leaf.pem, leaf_key.serialize_pem(), root.pem);
        let decoded = decode_all(text.as_bytes(), None).unwrap();
        assert_eq!(decoded.format, Format::Pem);
        assert_eq!(decoded.certs.len(), 2);
        assert_eq!(decoded.certs[0].as_ref(), leaf.der.as_slice());
        assert_eq!(decoded.certs[1].as_ref(), root.der.as_slice());
        assert!(!decoded.truncated);
    }

    #[test]
    fn der_may_hold_several_certificates() {
        let (_, _, a) = ca("A");
        let (_, _, b) = ca("B");
        let decoded = decode_all(&a.der, None).unwrap();
        assert_eq!(decoded.format, Format::Der);
        assert_eq!(decoded.certs.len(), 1);
        let both = [a.der.clone(), b.der.clone()].concat();
        let decoded = decode_all(&both, None).unwrap();
        assert_eq!(decoded.certs.len(), 2);
        assert_eq!(decoded.certs[1].as_ref(), b.der.as_slice());
        let cut = &both[..both.len() - 10];
        assert!(matches!(
            decode_all(cut, None),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn nothing_to_find_is_told_apart_from_garbage() {
        let reason = |bytes: &[u8]| decode_all(bytes, None).unwrap_err().reason().as_str();
        assert_eq!(reason(b""), "file_no_certificate");
        assert_eq!(reason(b" \n\t\n"), "file_no_certificate");
        let key_only = KeyPair::generate().unwrap().serialize_pem();
        assert_eq!(reason(key_only.as_bytes()), "file_no_certificate");
        assert_eq!(reason(b"hello, I am not a certificate\n"), "file_malformed");
        assert_eq!(reason(&[0x30]), "file_malformed");
        assert_eq!(reason(&[0x30, 0x85, 1, 2, 3, 4, 5]), "file_malformed");
        assert_eq!(reason(&[0x30, 0x03, 0x04, 0x01, 0x00]), "file_malformed");
        let broken_pem = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(reason(broken_pem.as_bytes()), "file_malformed");
    }

    #[test]
    fn truncates_to_the_cap() {
        let (_, _, a) = ca("A");
        let text = a.pem.repeat(5);
        let decoded = decode(text.as_bytes(), Format::Pem, None, 3).unwrap();
        assert_eq!(decoded.certs.len(), 3);
        assert!(decoded.truncated);
    }

    /// A PKCS#12 file holding a leaf, its key and its root.
    fn pkcs12(password: &str) -> (Vec<u8>, Made, Made) {
        let (params, key, root) = ca("Root");
        let (leaf_key, leaf) = leaf(&Issuer::from_params(&params, &key));
        let chain = PrivateKeyChain::new(
            [1u8, 2, 3, 4].to_vec(),
            PrivateKey::from_der(&leaf_key.serialize_der()).unwrap(),
            [
                Certificate::from_der(&leaf.der).unwrap(),
                Certificate::from_der(&root.der).unwrap(),
            ],
        );
        let mut store = KeyStore::new();
        store.add_entry("leaf", KeyStoreEntry::PrivateKeyChain(chain));
        let bytes = store.writer(password).write().unwrap();
        (bytes, leaf, root)
    }

    #[test]
    fn pkcs12_puts_the_keyed_certificate_first() {
        let (bytes, leaf, root) = pkcs12("s3cret");
        assert_eq!(detect(&bytes).unwrap(), Format::Pkcs12);
        let decoded = decode_all(&bytes, Some("s3cret")).unwrap();
        assert_eq!(decoded.certs.len(), 2);
        assert_eq!(decoded.certs[0].as_ref(), leaf.der.as_slice());
        assert_eq!(decoded.certs[1].as_ref(), root.der.as_slice());
    }

    #[test]
    fn pkcs12_with_the_wrong_password_says_so() {
        let (bytes, _, _) = pkcs12("s3cret");
        let e = decode_all(&bytes, Some("guess")).unwrap_err();
        assert_eq!(e.reason().as_str(), "pkcs12_password", "{e:?}");
        let e = decode_all(&bytes, None).unwrap_err();
        assert_eq!(e.reason().as_str(), "pkcs12_password", "{e:?}");
    }

    #[test]
    fn pkcs12_with_an_empty_password_needs_none() {
        let (bytes, leaf, _) = pkcs12("");
        let decoded = decode_all(&bytes, None).unwrap();
        assert_eq!(decoded.certs[0].as_ref(), leaf.der.as_slice());
    }

    /// A CRL issued by a fresh CA named `cn`: (DER, PEM), nextUpdate `next` (Unix seconds).
    fn crl_of(cn: &str, next: i64) -> (Vec<u8>, String) {
        let (params, key, _) = ca(cn);
        let crl = rcgen::CertificateRevocationListParams {
            this_update: time::OffsetDateTime::from_unix_timestamp(next - 7 * 86_400).unwrap(),
            next_update: time::OffsetDateTime::from_unix_timestamp(next).unwrap(),
            crl_number: rcgen::SerialNumber::from(3u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&Issuer::from_params(&params, &key))
        .unwrap();
        (crl.der().to_vec(), crl.pem().unwrap())
    }

    #[test]
    fn crls_are_told_from_certificates_by_content() {
        let next = 1_900_000_000;
        let (der, pem) = crl_of("CRL Issuer", next);
        assert_eq!(detect(&der).unwrap(), Format::Crl);
        assert_eq!(detect(pem.as_bytes()).unwrap(), Format::Crl);
        for bytes in [der.as_slice(), pem.as_bytes()] {
            let facts = crl(bytes).unwrap();
            assert_eq!(facts.issuer, "CN=CRL Issuer");
            assert_eq!(facts.next_update, Some(next));
            assert_eq!(facts.this_update, next - 7 * 86_400);
        }
        // Certificates stay certificates, and a CRL beside certificates is ignored as before.
        let (_, _, root) = ca("Root");
        assert_eq!(detect(&root.der).unwrap(), Format::Der);
        let both = format!("{}{pem}", root.pem);
        assert_eq!(detect(both.as_bytes()).unwrap(), Format::Pem);
        assert_eq!(decode_all(both.as_bytes(), None).unwrap().certs.len(), 1);
    }

    #[test]
    fn a_crl_that_does_not_parse_is_crl_malformed() {
        let broken = "-----BEGIN X509 CRL-----\nMIIBAAAA\n-----END X509 CRL-----\n";
        let e = crl(broken.as_bytes()).unwrap_err();
        assert_eq!(e.reason().as_str(), "crl_malformed", "{e:?}");
        let (der, _) = crl_of("CRL Issuer", 1_900_000_000);
        let e = crl(&[der.as_slice(), &[0]].concat()).unwrap_err();
        assert_eq!(e.reason().as_str(), "crl_malformed", "{e:?}");
    }

    #[test]
    fn a_long_issuer_is_cut_for_its_label() {
        let long = "x".repeat(400);
        let (der, _) = crl_of(&long, 1_900_000_000);
        let issuer = crl(&der).unwrap().issuer;
        assert!(issuer.len() <= MAX_LABEL + '…'.len_utf8(), "{issuer}");
        assert!(issuer.ends_with('…'));
    }
}
