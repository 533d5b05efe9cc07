//! The issuer of a certificate, as revocation needs it: its name and public key.
//!
//! OCSP identifies a certificate by hashes of its issuer's name and key, and both OCSP responses
//! and CRLs are signed by the issuer (or on its behalf). The issuer is the certificate the server
//! sent next in the path or, when the server left it out, the trust anchor the path ends at —
//! anchors carry only a name and a key, which is all that is needed here. Pure: no network.

use rustls_pki_types::TrustAnchor;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The name and key of the certificate that issued another, as full DER TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer {
    /// The issuer's subject `Name` (SEQUENCE, DER).
    pub name_der: Vec<u8>,
    /// The issuer's `SubjectPublicKeyInfo` (SEQUENCE, DER).
    pub spki_der: Vec<u8>,
}

impl Issuer {
    /// Takes name and key from a parsed certificate.
    pub fn from_cert(cert: &X509Certificate<'_>) -> Issuer {
        Issuer {
            name_der: cert.subject().as_raw().to_vec(),
            spki_der: cert.public_key().raw.to_vec(),
        }
    }

    /// Takes name and key from a trust anchor, whose fields hold the contents of the
    /// SEQUENCEs without their tag and length.
    pub fn from_anchor(anchor: &TrustAnchor<'_>) -> Issuer {
        Issuer {
            name_der: wrap_sequence(anchor.subject.as_ref()),
            spki_der: wrap_sequence(anchor.subject_public_key_info.as_ref()),
        }
    }

    /// The parsed key, for signature checks.
    pub fn spki(&self) -> Result<SubjectPublicKeyInfo<'_>, String> {
        SubjectPublicKeyInfo::from_der(&self.spki_der)
            .map(|(_, spki)| spki)
            .map_err(|e| format!("the issuer's public key does not parse: {e}"))
    }

    /// The bits of the public key (the BIT STRING's contents), which OCSP's issuerKeyHash and
    /// byKey responder IDs hash.
    pub fn key_bits(&self) -> Result<Vec<u8>, String> {
        self.spki()
            .map(|spki| spki.subject_public_key.data.to_vec())
    }
}

/// Finds the issuer of `cert` among the certificates the server sent, then among the trust
/// anchors: a candidate whose subject is `cert`'s issuer name and whose key verifies `cert`'s
/// signature. When no key verifies (an algorithm the verifier lacks), the first name match is
/// used; the OCSP or CRL signature check then decides.
pub fn find_issuer(
    cert: &X509Certificate<'_>,
    sent: &[X509Certificate<'_>],
    anchors: &[TrustAnchor<'_>],
) -> Option<Issuer> {
    let wanted = cert.issuer().as_raw();
    // Anchors hold the name without its SEQUENCE header.
    let wanted_contents = sequence_contents(wanted);
    let mut candidates: Vec<Issuer> = sent
        .iter()
        .filter(|c| c.subject().as_raw() == wanted && c.as_raw() != cert.as_raw())
        .map(Issuer::from_cert)
        .collect();
    candidates.extend(
        anchors
            .iter()
            .filter(|a| Some(a.subject.as_ref()) == wanted_contents)
            .map(Issuer::from_anchor),
    );
    let verifies = |issuer: &Issuer| signed_by(cert, issuer);
    match candidates.iter().position(verifies) {
        Some(i) => Some(candidates.swap_remove(i)),
        None => candidates.into_iter().next(),
    }
}

/// Whether `issuer`'s key verifies `cert`'s signature, remembered per (certificate, key): the
/// same chain arrives at every probe of every target behind it, and an RSA verification costs
/// more than the rest of finding the issuer. The memo is cleared whole when it grows past
/// [`MAX_REMEMBERED`] pairs, which bounds it however many certificates pass through.
fn signed_by(cert: &X509Certificate<'_>, issuer: &Issuer) -> bool {
    type Pair = ([u8; 32], [u8; 32]);
    static MEMO: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<Pair, bool>>> =
        std::sync::OnceLock::new();
    let digest = |bytes: &[u8]| -> [u8; 32] {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes")
    };
    let key = (digest(cert.as_raw()), digest(&issuer.spki_der));
    let memo = MEMO.get_or_init(Default::default);
    if let Some(known) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *known;
    }
    let verified = issuer
        .spki()
        .map(|spki| cert.verify_signature(Some(&spki)).is_ok())
        .unwrap_or(false);
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if memo.len() >= MAX_REMEMBERED {
        memo.clear();
    }
    memo.insert(key, verified);
    verified
}

/// The most (certificate, key) pairs [`signed_by`] remembers.
const MAX_REMEMBERED: usize = 65_536;

/// The contents of a DER SEQUENCE, without its tag and length.
fn sequence_contents(der: &[u8]) -> Option<&[u8]> {
    use der::{Decode, Tagged};
    let any = der::asn1::AnyRef::from_der(der).ok()?;
    (any.tag() == der::Tag::Sequence).then(|| any.value())
}

/// `contents` as a DER SEQUENCE (tag 0x30 and a definite length).
pub fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x30);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_lengths_use_the_short_and_long_forms() {
        assert_eq!(wrap_sequence(&[]), [0x30, 0]);
        assert_eq!(wrap_sequence(&[1; 3])[..2], [0x30, 3]);
        assert_eq!(wrap_sequence(&[1; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(wrap_sequence(&[1; 300])[..4], [0x30, 0x82, 1, 44]);
        for len in [0, 3, 200, 300, 70_000] {
            let contents = vec![7; len];
            assert_eq!(
                sequence_contents(&wrap_sequence(&contents)),
                Some(&contents[..])
            );
        }
        assert_eq!(
            sequence_contents(&[0x31, 0]),
            None,
            "a SET is not a SEQUENCE"
        );
        assert_eq!(sequence_contents(&[0x30, 5, 1]), None, "truncated");
    }

    #[test]
    fn unparsable_key_is_an_error_not_a_panic() {
        let issuer = Issuer {
            name_der: vec![0x30, 0],
            spki_der: vec![0x30, 3, 1, 2],
        };
        assert!(issuer.spki().is_err());
        assert!(issuer.key_bits().is_err());
    }
}
