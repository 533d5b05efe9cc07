//! OCSP (RFC 6960), the pure part: building a request for one certificate, and parsing and
//! verifying a response — stapled or from a responder — without any networking.
//!
//! A response is believed only when all of this holds:
//! - it is a successful `id-pkix-ocsp-basic` response with a SingleResponse whose CertID
//!   (issuer name hash, issuer key hash, serial) is the certificate's, under the response's own
//!   hash algorithm (SHA-1, SHA-256, SHA-384 or SHA-512);
//! - its signature over the `tbsResponseData` bytes exactly as received verifies with the
//!   issuer's key, or with the key of a delegated responder certificate carried in the response
//!   that the issuer signed, that has the OCSPSigning extended key usage and that is valid now;
//! - its thisUpdate is not in the future (five minutes of clock skew allowed) and its
//!   nextUpdate, when present, has not passed;
//! - when the request carried a nonce and the response carries one, they are the same.
//!
//! Anything else is an [`OcspError`] with a fixed reason, never a verdict. Whether a delegated
//! responder certificate carries `id-pkix-ocsp-nocheck`, and whether a nonce was echoed, is
//! told in the answer ([`Signer`], [`NonceCheck`]) for `check` to explain.
//!
//! Requests go by GET when they fit ([`get_url`], RFC 6960 appendix A.1 and RFC 5019 §5),
//! which lets CDNs in front of responders cache the answers; the parent module falls back to
//! POST.

use aws_lc_rs::digest;
use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::issuer::Issuer;
use super::reason::RevocationReason;
use crate::failure::{Failure, Reason};

/// How far in the future a thisUpdate may lie before the response is refused: responders'
/// and our clocks differ by a little.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1, RFC 8954).
const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), as x509-parser prints OIDs.
const ID_PKIX_OCSP_NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";

/// The longest request URL sent by GET: RFC 5019 §5 has clients use GET for requests of up to
/// 255 bytes in all after encoding (scheme, host, path and the encoded request), POST beyond.
pub const MAX_GET_URL: usize = 255;

/// The nonce length sent (RFC 8954: 1 to 32 octets; 32 recommended).
pub const NONCE_LEN: usize = 32;

/// The certificate a request or response is about: its serial and its issuer.
#[derive(Debug, Clone, Copy)]
pub struct CertRef<'a> {
    /// The serial's INTEGER contents as in the certificate (a leading zero byte is ignored).
    pub serial: &'a [u8],
    /// The certificate's issuer, whose name and key hashes make up the CertID.
    pub issuer: &'a Issuer,
}

/// What a verified response says about the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    /// Not revoked, as of the answer's thisUpdate.
    Good,
    /// Revoked at this Unix time.
    Revoked {
        /// The response's revocationTime, Unix seconds.
        at: i64,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// Who signed a verified answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signer {
    /// The certificate's issuer itself.
    Issuer,
    /// A delegated responder certificate the issuer signed (OCSPSigning usage). `nocheck` when
    /// it carries `id-pkix-ocsp-nocheck`, the CA's statement that clients need not check its
    /// revocation; without it RFC 6960 §4.2.2.2.1 leaves checking it to the client, which this
    /// exporter does not do (the answer is used, and `check` says so).
    Delegated {
        /// Whether the responder certificate carries `id-pkix-ocsp-nocheck`.
        nocheck: bool,
    },
}

/// What became of the nonce of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceCheck {
    /// The request carried none.
    NotSent,
    /// The response carries the request's nonce.
    Echoed,
    /// The response carries no nonce (a responder serving pre-signed answers): accepted, as
    /// RFC 8954 allows, and told in `check`.
    NotEchoed,
}

/// A verified answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspAnswer {
    /// What the responder says about the certificate.
    pub status: OcspStatus,
    /// Unix seconds.
    pub this_update: i64,
    /// Unix seconds; `None` when the responder says newer information is always available.
    pub next_update: Option<i64>,
    /// Who signed it.
    pub signer: Signer,
    /// Whether the request's nonce came back.
    pub nonce: NonceCheck,
}

/// Why a response (or a request) is unusable; the label is that of the [`RevocationReason`]
/// it widens into.
pub type OcspError = Failure<OcspReason>;

/// The fixed reason of an [`OcspError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OcspReason {
    /// The response (or the request built) does not parse.
    Malformed,
    /// The responder answered with an error status instead of a response.
    ResponderError,
    /// None of the answers is about the certificate asked for.
    NoMatchingResponse,
    /// thisUpdate lies in the future.
    NotYetValid,
    /// nextUpdate has passed.
    Stale,
    /// The signature does not verify, or the signer is not authorised.
    BadSignature,
    /// The response carries a nonce other than the request's (a replayed answer).
    NonceMismatch,
}

impl Reason for OcspReason {
    fn as_str(self) -> &'static str {
        RevocationReason::from(self).as_str()
    }
}

impl OcspError {
    fn malformed(what: impl std::fmt::Display) -> OcspError {
        OcspError::new(
            OcspReason::Malformed,
            format!("malformed OCSP response: {what}"),
        )
    }
}

/// A DER `OCSPRequest` for one certificate, with a SHA-1 CertID (what every responder
/// accepts) and, unless `nonce` is given, no nonce (so responders and CDNs may serve
/// pre-signed answers).
pub fn build_request(cert: &CertRef<'_>, nonce: Option<&[u8]>) -> Result<Vec<u8>, OcspError> {
    let fail = |what: String| {
        OcspError::new(
            OcspReason::Malformed,
            format!("cannot build the request: {what}"),
        )
    };
    let cert_id = CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(
            hash(ID_SHA1, &cert.issuer.name_der).unwrap_or_default(),
        )
        .map_err(|e| fail(e.to_string()))?,
        issuer_key_hash: OctetString::new(
            hash(ID_SHA1, &cert.issuer.key_bits().map_err(fail)?).unwrap_or_default(),
        )
        .map_err(|e| fail(e.to_string()))?,
        serial_number: SerialNumber::new(trim_zeros(cert.serial))
            .map_err(|e| fail(format!("serial: {e}")))?,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            request_extensions: match nonce {
                None => None,
                Some(nonce) => Some(vec![x509_cert::ext::Extension {
                    extn_id: ID_PKIX_OCSP_NONCE,
                    critical: false,
                    extn_value: OctetString::new(nonce_value(nonce).map_err(fail)?)
                        .map_err(|e| fail(e.to_string()))?,
                }]),
            },
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| fail(e.to_string()))
}

/// The nonce extension's value: the DER of `Nonce ::= OCTET STRING` (RFC 8954).
fn nonce_value(nonce: &[u8]) -> Result<Vec<u8>, String> {
    OctetString::new(nonce)
        .and_then(|o| o.to_der())
        .map_err(|e| format!("nonce: {e}"))
}

/// A fresh random nonce of [`NONCE_LEN`] bytes.
pub fn new_nonce() -> Result<Vec<u8>, OcspError> {
    let mut nonce = vec![0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| {
        OcspError::new(
            OcspReason::Malformed,
            "cannot build the request: no randomness for the nonce",
        )
    })?;
    Ok(nonce)
}

/// The URL that GETs `request_der` from the responder at `responder` (RFC 6960 appendix A.1:
/// the URL-encoded base64 of the DER request appended to the responder's URL, after a `/`
/// unless it ends in one), or `None` when the request must be POSTed: the URL would pass
/// [`MAX_GET_URL`] bytes, or the responder's URL has a query or fragment a path cannot follow.
pub fn get_url(responder: &str, request_der: &[u8]) -> Option<String> {
    use base64::Engine as _;
    if responder.contains(['?', '#']) {
        return None;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(request_der);
    let mut url = String::with_capacity(responder.len() + 1 + encoded.len() * 3 / 2);
    url.push_str(responder);
    if !url.ends_with('/') {
        url.push('/');
    }
    // Of base64's alphabet only `+`, `/` and `=` are not unreserved in a path segment.
    for c in encoded.chars() {
        match c {
            '+' => url.push_str("%2B"),
            '/' => url.push_str("%2F"),
            '=' => url.push_str("%3D"),
            c => url.push(c),
        }
    }
    (url.len() <= MAX_GET_URL).then_some(url)
}

/// Parses and verifies a DER `OCSPResponse` about `cert` at Unix time `now`, to a request
/// without a nonce (a stapled response, or a responder asked without one).
pub fn verify_response(der: &[u8], cert: &CertRef<'_>, now: i64) -> Result<OcspAnswer, OcspError> {
    verify_response_to(der, cert, None, now)
}

/// Like [`verify_response`], to a request that carried `nonce` when it is `Some`: a nonce in
/// the response must then be the same.
pub fn verify_response_to(
    der: &[u8],
    cert: &CertRef<'_>,
    nonce: Option<&[u8]>,
    now: i64,
) -> Result<OcspAnswer, OcspError> {
    if der.is_empty() {
        return Err(OcspError::malformed("empty"));
    }
    let response = OcspResponse::from_der(der).map_err(OcspError::malformed)?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::new(
            OcspReason::ResponderError,
            format!(
                "the responder answered {:?} instead of a response",
                response.response_status
            ),
        ));
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| OcspError::malformed("successful status without responseBytes"))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::malformed(format!(
            "response type {} is not id-pkix-ocsp-basic",
            bytes.response_type
        )));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(OcspError::malformed)?;
    let raw = RawBasic::split(basic_der).map_err(OcspError::malformed)?;

    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|single| cert_id_matches(&single.cert_id, cert))
        .ok_or_else(|| {
            OcspError::new(
                OcspReason::NoMatchingResponse,
                format!(
                    "none of the {} answers in the response is about serial {}",
                    basic.tbs_response_data.responses.len(),
                    hex::encode(trim_zeros(cert.serial))
                ),
            )
        })?;

    let (signer_spki, signer) = signer_key(&raw, cert.issuer, now)?;
    verify_signature(&signer_spki, &raw)?;
    let nonce = check_nonce(&basic, nonce)?;

    let this_update = unix(&single.this_update);
    let next_update = single.next_update.as_ref().map(unix);
    if this_update > now + CLOCK_SKEW_SECONDS {
        return Err(OcspError::new(
            OcspReason::NotYetValid,
            format!("thisUpdate {this_update} lies in the future (now {now})"),
        ));
    }
    if let Some(next) = next_update {
        if next < now {
            return Err(OcspError::new(
                OcspReason::Stale,
                format!("nextUpdate {next} has passed (now {now})"),
            ));
        }
    }
    let status = match &single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(info) => OcspStatus::Revoked {
            at: unix(&info.revocation_time),
        },
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(OcspAnswer {
        status,
        this_update,
        next_update,
        signer,
        nonce,
    })
}

/// The SCTs a stapled `OCSPResponse` carries about the certificate with this serial (lowercase
/// hex without leading zeros, as [`crate::x509::CertFacts::serial`]): the SCT list extension
/// (1.3.6.1.4.1.11129.2.4.5) of the single response for that serial. Structure only, no
/// signature check: the count is what a client would be handed (revocation verifies the
/// response for its own verdict). Empty when there is no such response, extension or list, or
/// any of them does not parse.
pub fn stapled_scts(der: &[u8], serial: &str) -> Vec<crate::x509::ct::Sct> {
    let sct_oid = ObjectIdentifier::new_unwrap(crate::x509::ct::OCSP_SCT_LIST_OID);
    let Some(bytes) = OcspResponse::from_der(der)
        .ok()
        .filter(|r| r.response_status == OcspResponseStatus::Successful)
        .and_then(|r| r.response_bytes)
        .filter(|b| b.response_type == ID_PKIX_OCSP_BASIC)
    else {
        return Vec::new();
    };
    let Ok(basic) = BasicOcspResponse::from_der(bytes.response.as_bytes()) else {
        return Vec::new();
    };
    basic
        .tbs_response_data
        .responses
        .iter()
        .filter(|single| hex::encode(trim_zeros(single.cert_id.serial_number.as_bytes())) == serial)
        .flat_map(|single| single.single_extensions.iter().flatten())
        .find(|ext| ext.extn_id == sct_oid)
        .and_then(|ext| crate::x509::ct::parse_sct_list(ext.extn_value.as_bytes()).ok())
        .unwrap_or_default()
}

/// Whether the response echoes the request's `sent` nonce (a signed extension: checked after
/// the signature). Both the RFC 8954 form (the extension's value is the DER of an OCTET
/// STRING) and the bare nonce some responders put there are taken as echoes.
fn check_nonce(basic: &BasicOcspResponse, sent: Option<&[u8]>) -> Result<NonceCheck, OcspError> {
    let Some(sent) = sent else {
        return Ok(NonceCheck::NotSent);
    };
    let echoed = basic
        .tbs_response_data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
    let Some(echoed) = echoed else {
        return Ok(NonceCheck::NotEchoed);
    };
    let value = echoed.extn_value.as_bytes();
    let expected = nonce_value(sent).map_err(OcspError::malformed)?;
    if value == expected.as_slice() || value == sent {
        Ok(NonceCheck::Echoed)
    } else {
        Err(OcspError::new(
            OcspReason::NonceMismatch,
            format!(
                "the response carries nonce {} instead of the request's {}: a replayed answer",
                hex::encode(value),
                hex::encode(&expected)
            ),
        ))
    }
}

/// The parts of a BasicOCSPResponse as received, for the signature check: re-encoding the
/// parsed structure could change bytes the signature covers.
struct RawBasic<'a> {
    tbs: &'a [u8],
    algorithm: &'a [u8],
    signature: &'a [u8],
    /// The responder ID's tag number (1 byName, 2 byKey) and contents.
    responder: (u32, &'a [u8]),
    certs: Vec<&'a [u8]>,
}

impl<'a> RawBasic<'a> {
    fn split(der: &'a [u8]) -> der::Result<RawBasic<'a>> {
        let outer = AnyRef::from_der(der)?;
        outer.tag().assert_eq(Tag::Sequence)?;
        let mut reader = SliceReader::new(outer.value())?;
        let tbs = reader.tlv_bytes()?;
        let algorithm = reader.tlv_bytes()?;
        let signature = reader.tlv_bytes()?;
        let mut certs = Vec::new();
        if !reader.is_finished() {
            let explicit = AnyRef::decode(&mut reader)?;
            let list = AnyRef::from_der(explicit.value())?;
            let mut list_reader = SliceReader::new(list.value())?;
            while !list_reader.is_finished() {
                certs.push(list_reader.tlv_bytes()?);
            }
        }

        // tbsResponseData: [0] version (optional), then the responder ID.
        let tbs_any = AnyRef::from_der(tbs)?;
        let mut tbs_reader = SliceReader::new(tbs_any.value())?;
        let mut first = AnyRef::decode(&mut tbs_reader)?;
        if is_context(first.tag(), 0) {
            first = AnyRef::decode(&mut tbs_reader)?;
        }
        let responder = match first.tag() {
            Tag::ContextSpecific { number, .. } => (u32::from(number.value()), first.value()),
            other => return Err(other.unexpected_error(None)),
        };
        Ok(RawBasic {
            tbs,
            algorithm,
            signature,
            responder,
            certs,
        })
    }
}

fn is_context(tag: Tag, n: u8) -> bool {
    matches!(tag, Tag::ContextSpecific { number, .. } if number == TagNumber::new(n))
}

/// Whether a response's CertID names `cert`.
fn cert_id_matches(id: &CertId, cert: &CertRef<'_>) -> bool {
    let Ok(key_bits) = cert.issuer.key_bits() else {
        return false;
    };
    let alg = id.hash_algorithm.oid;
    trim_zeros(id.serial_number.as_bytes()) == trim_zeros(cert.serial)
        && hash(alg, &cert.issuer.name_der).as_deref() == Some(id.issuer_name_hash.as_bytes())
        && hash(alg, &key_bits).as_deref() == Some(id.issuer_key_hash.as_bytes())
}

/// The key that must have signed the response, and whose it is: the issuer's, when the
/// responder ID names the issuer, else that of an authorised delegated responder certificate
/// in the response.
fn signer_key(
    raw: &RawBasic<'_>,
    issuer: &Issuer,
    now: i64,
) -> Result<(Vec<u8>, Signer), OcspError> {
    let issuer_bits = issuer
        .key_bits()
        .map_err(|e| OcspError::new(OcspReason::BadSignature, e))?;
    let names = |subject: &[u8], key_bits: &[u8]| match raw.responder {
        (1, name) => name == subject,
        (2, hash_tlv) => OctetString::from_der(hash_tlv)
            .map(|h| Some(h.as_bytes().to_vec()) == self::hash(ID_SHA1, key_bits))
            .unwrap_or(false),
        _ => false,
    };
    if names(&issuer.name_der, &issuer_bits) {
        return Ok((issuer.spki_der.clone(), Signer::Issuer));
    }
    let mut refusals = Vec::new();
    for der in &raw.certs {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            refusals.push("an included certificate does not parse".to_string());
            continue;
        };
        if !names(
            cert.subject().as_raw(),
            &cert.public_key().subject_public_key.data,
        ) {
            continue;
        }
        match delegation_problem(&cert, issuer, now) {
            None => {
                let nocheck = cert
                    .extensions()
                    .iter()
                    .any(|e| e.oid.to_id_string() == ID_PKIX_OCSP_NOCHECK);
                return Ok((
                    cert.public_key().raw.to_vec(),
                    Signer::Delegated { nocheck },
                ));
            }
            Some(problem) => refusals.push(format!("responder {}: {problem}", cert.subject())),
        }
    }
    let why = if refusals.is_empty() {
        "signed by a responder that is neither the issuer nor a certificate included in the response"
            .to_string()
    } else {
        refusals.join("; ")
    };
    Err(OcspError::new(OcspReason::BadSignature, why))
}

/// Why `cert` may not sign responses for `issuer`'s certificates, or `None` when it may.
fn delegation_problem(cert: &X509Certificate<'_>, issuer: &Issuer, now: i64) -> Option<String> {
    if cert.issuer().as_raw() != issuer.name_der.as_slice() {
        return Some("not issued by the certificate's issuer".into());
    }
    match issuer.spki() {
        Ok(spki) if cert.verify_signature(Some(&spki)).is_ok() => {}
        Ok(_) => return Some("its signature does not verify with the issuer's key".into()),
        Err(e) => return Some(e),
    }
    let has_eku = matches!(cert.extended_key_usage(), Ok(Some(eku)) if eku.value.ocsp_signing);
    if !has_eku {
        return Some("lacks the OCSPSigning extended key usage".into());
    }
    let validity = cert.validity();
    if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
        return Some("is outside its validity period".into());
    }
    None
}

/// Checks the response signature with `spki_der` over the tbsResponseData bytes.
fn verify_signature(spki_der: &[u8], raw: &RawBasic<'_>) -> Result<(), OcspError> {
    use x509_parser::asn1_rs::BitString;
    use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};
    let bad = |what: String| OcspError::new(OcspReason::BadSignature, what);
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| bad(format!("the signer's key does not parse: {e}")))?;
    let (_, algorithm) = AlgorithmIdentifier::from_der(raw.algorithm)
        .map_err(|e| OcspError::malformed(format!("signatureAlgorithm: {e}")))?;
    let (_, signature) = BitString::from_der(raw.signature)
        .map_err(|e| OcspError::malformed(format!("signature: {e}")))?;
    x509_parser::verify::verify_signature(&spki, &algorithm, &signature, raw.tbs)
        .map_err(|e| bad(format!("the response signature does not verify: {e}")))
}

/// The digest of `data` under the hash algorithm `oid`, when it is one OCSP uses.
fn hash(oid: ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match oid {
        o if o == ID_SHA1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        o if o == ID_SHA256 => &digest::SHA256,
        o if o == ID_SHA384 => &digest::SHA384,
        o if o == ID_SHA512 => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, data).as_ref().to_vec())
}

fn unix(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    t.0.to_unix_duration().as_secs() as i64
}

/// Drops the sign-padding zero bytes DER puts in front of serials with the top bit set.
pub fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        // A real P-256 key, so that key_bits() works and only the response is at fault.
        let key = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        )
        .expect("key");
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
        Issuer {
            name_der: super::super::issuer::wrap_sequence(&[]),
            spki_der: spki,
        }
    }

    fn check(der: &[u8]) -> OcspError {
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x10, 0x01],
            issuer: &issuer,
        };
        verify_response(der, &cert, 1_700_000_000).expect_err("must be refused")
    }

    /// An unsigned-looking but well-formed `OCSPResponse` with one single response per
    /// `(serial, single extensions)`.
    fn response_with(singles: &[(&[u8], Vec<x509_cert::ext::Extension>)]) -> Vec<u8> {
        use der::asn1::{BitString, GeneralizedTime, Null};
        let time = x509_ocsp::OcspGeneralizedTime(
            GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(1_700_000_000))
                .unwrap(),
        );
        let responses = singles
            .iter()
            .map(|(serial, exts)| x509_ocsp::SingleResponse {
                cert_id: CertId {
                    hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                        oid: ID_SHA1,
                        parameters: None,
                    },
                    issuer_name_hash: OctetString::new(vec![1; 20]).unwrap(),
                    issuer_key_hash: OctetString::new(vec![2; 20]).unwrap(),
                    serial_number: SerialNumber::new(serial).unwrap(),
                },
                cert_status: CertStatus::Good(Null),
                this_update: time,
                next_update: None,
                single_extensions: (!exts.is_empty()).then(|| exts.clone()),
            })
            .collect();
        let basic = BasicOcspResponse {
            tbs_response_data: x509_ocsp::ResponseData {
                version: Version::V1,
                responder_id: x509_ocsp::ResponderId::ByKey(OctetString::new(vec![3; 20]).unwrap()),
                produced_at: time,
                responses,
                response_extensions: None,
            },
            signature_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            },
            signature: BitString::from_bytes(&[0; 8]).unwrap(),
            certs: None,
        };
        OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(x509_ocsp::ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic.to_der().unwrap()).unwrap(),
            }),
        }
        .to_der()
        .unwrap()
    }

    fn sct_extension(logs: &[u8]) -> x509_cert::ext::Extension {
        let scts: Vec<_> = logs.iter().map(|l| ([*l; 32], 1_700_000_000_000)).collect();
        x509_cert::ext::Extension {
            extn_id: ObjectIdentifier::new_unwrap(crate::x509::ct::OCSP_SCT_LIST_OID),
            critical: false,
            extn_value: OctetString::new(crate::x509::ct::encode_sct_list(&scts)).unwrap(),
        }
    }

    #[test]
    fn stapled_scts_are_those_of_the_single_response_for_the_leaf() {
        let der = response_with(&[
            (&[0x10, 0x02], vec![sct_extension(&[9])]),
            (&[0x10, 0x01], vec![sct_extension(&[1, 2])]),
        ]);
        let scts = stapled_scts(&der, "1001");
        assert_eq!(scts.len(), 2);
        assert_eq!(scts[1].log_id, [2; 32]);
        assert_eq!(stapled_scts(&der, "1002").len(), 1);
        assert!(stapled_scts(&der, "1003").is_empty(), "no response for it");
        let without = response_with(&[(&[0x10, 0x01], Vec::new())]);
        assert!(stapled_scts(&without, "1001").is_empty(), "no extension");
        let mut broken = sct_extension(&[1]);
        broken.extn_value = OctetString::new(vec![0x04, 0x01, 0x00]).unwrap();
        let broken = response_with(&[(&[0x10, 0x01], vec![broken])]);
        assert!(
            stapled_scts(&broken, "1001").is_empty(),
            "a list that does not parse"
        );
        for cut in 0..der.len() {
            let _ = stapled_scts(&der[..cut], "1001");
        }
        assert!(stapled_scts(b"garbage", "1001").is_empty());
    }

    #[test]
    fn garbage_is_malformed() {
        for der in [
            &b""[..],
            b"garbage",
            b"<html>502 Bad Gateway</html>",
            &[0x30],
            &[0x30, 0x80, 0, 0],
            &[0xff; 64],
        ] {
            assert_eq!(check(der).reason.as_str(), "malformed", "{der:?}");
        }
    }

    #[test]
    fn a_non_successful_status_is_a_responder_error() {
        // OCSPResponse { responseStatus tryLater (3) }
        let e = check(&[0x30, 0x03, 0x0a, 0x01, 0x03]);
        assert_eq!(e.reason.as_str(), "responder_error");
        assert!(e.detail.contains("TryLater"), "{e}");
        // unauthorized (6)
        assert_eq!(
            check(&[0x30, 0x03, 0x0a, 0x01, 0x06]).reason.as_str(),
            "responder_error"
        );
    }

    #[test]
    fn successful_without_bytes_or_of_another_type_is_malformed() {
        assert_eq!(
            check(&[0x30, 0x03, 0x0a, 0x01, 0x00]).reason.as_str(),
            "malformed"
        );
        // responseBytes with id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2) instead of basic.
        let bytes = [
            0x30, 0x14, 0x0a, 0x01, 0x00, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x2b, 0x06, 0x01,
            0x05, 0x05, 0x07, 0x30, 0x01, 0x02, 0x04, 0x00,
        ];
        let e = check(&bytes);
        assert!(e.detail.contains("1.3.6.1.5.5.7.48.1.2"), "{e}");
        assert_eq!(e.reason.as_str(), "malformed", "{e}");
    }

    #[test]
    fn other_der_objects_are_malformed() {
        // A request is not a response, and neither is a certificate.
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x10, 0x01],
            issuer: &issuer,
        };
        let request = build_request(&cert, None).expect("request");
        assert_eq!(check(&request).reason.as_str(), "malformed");
        let leaf = rcgen::generate_simple_self_signed(vec!["a.test".into()]).expect("cert");
        assert_eq!(check(leaf.cert.der()).reason.as_str(), "malformed");
    }

    #[test]
    fn truncations_never_panic() {
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x10, 0x01],
            issuer: &issuer,
        };
        let request = build_request(&cert, None).expect("request");
        for len in 0..request.len() {
            assert_eq!(check(&request[..len]).reason.as_str(), "malformed");
        }
    }

    #[test]
    fn requests_carry_a_sha1_cert_id_of_the_issuer() {
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x00, 0x90, 0x01],
            issuer: &issuer,
        };
        let der = build_request(&cert, None).expect("request");
        let parsed = OcspRequest::from_der(&der).expect("parses back");
        let id = &parsed.tbs_request.request_list[0].req_cert;
        assert_eq!(id.hash_algorithm.oid, ID_SHA1);
        assert!(cert_id_matches(id, &cert));
        assert_eq!(id.issuer_name_hash.as_bytes().len(), 20);
        let other = CertRef {
            serial: &[0x90, 0x02],
            issuer: &issuer,
        };
        assert!(!cert_id_matches(id, &other));
    }

    #[test]
    fn get_urls_append_the_url_encoded_base64_request() {
        // Bytes whose base64 holds all three characters that need escaping: fb ff bf → "+/+/",
        // and one byte more pads with "==".
        let der = [0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0x01];
        assert_eq!(
            get_url("http://ocsp.example.com", &der).as_deref(),
            Some("http://ocsp.example.com/%2B%2F%2B%2F%2B%2F%2B%2FAQ%3D%3D")
        );
        // A path that ends in `/` is not given a second one; one that does not gets it.
        assert_eq!(
            get_url("http://ocsp.example.com/", &[0x30, 0x00]).as_deref(),
            Some("http://ocsp.example.com/MAA%3D")
        );
        assert_eq!(
            get_url("http://ca.example/ocsp", &[0x30, 0x00]).as_deref(),
            Some("http://ca.example/ocsp/MAA%3D")
        );
        // A query or fragment cannot be followed by a path: POST.
        assert_eq!(get_url("http://ca.example/ocsp?x=1", &[0x30, 0x00]), None);
        assert_eq!(get_url("http://ca.example/ocsp#a", &[0x30, 0x00]), None);
    }

    #[test]
    fn get_is_used_up_to_255_bytes_of_url_and_no_further() {
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x10, 0x01],
            issuer: &issuer,
        };
        let request = build_request(&cert, None).expect("request");
        let url = get_url("http://r.example/", &request).expect("a short request fits");
        // The encoded request decodes back to the very request.
        use base64::Engine as _;
        let encoded = url.strip_prefix("http://r.example/").unwrap();
        let b64 = encoded
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            request
        );
        // Pad the responder URL so the whole is exactly 255 bytes, then one more.
        let room = MAX_GET_URL - url.len();
        let exact = format!("http://r.example/{}/", "p".repeat(room - 1));
        assert_eq!(get_url(&exact, &request).map(|u| u.len()), Some(255));
        let over = format!("http://r.example/{}/", "p".repeat(room));
        assert_eq!(get_url(&over, &request), None);
    }

    #[test]
    fn a_nonce_is_carried_as_an_rfc_8954_extension() {
        let issuer = issuer();
        let cert = CertRef {
            serial: &[0x10, 0x01],
            issuer: &issuer,
        };
        let nonce = new_nonce().expect("nonce");
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_ne!(nonce, new_nonce().unwrap(), "random each time");
        let der = build_request(&cert, Some(&nonce)).expect("request");
        let parsed = OcspRequest::from_der(&der).expect("parses back");
        let ext = parsed.tbs_request.request_extensions.expect("extensions");
        assert_eq!(ext.len(), 1);
        assert_eq!(ext[0].extn_id, ID_PKIX_OCSP_NONCE);
        assert!(!ext[0].critical);
        // extnValue holds the DER of the OCTET STRING nonce.
        let inner = OctetString::from_der(ext[0].extn_value.as_bytes()).expect("inner");
        assert_eq!(inner.as_bytes(), nonce.as_slice());
        assert!(build_request(&cert, None)
            .map(|d| OcspRequest::from_der(&d).unwrap())
            .unwrap()
            .tbs_request
            .request_extensions
            .is_none());
    }

    #[test]
    fn unknown_hash_algorithms_match_nothing() {
        assert_eq!(hash(ObjectIdentifier::new_unwrap("1.2.3.4"), b"x"), None);
        assert_eq!(hash(ID_SHA256, b"x").map(|h| h.len()), Some(32));
    }
}
