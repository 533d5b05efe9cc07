//! Telling a missing intermediate from an unknown issuer, without networking.
//!
//! "Unknown issuer" covers two very different faults: a certificate from a CA nobody trusts, and
//! a trusted certificate whose server does not send the intermediate between it and the root —
//! common behind CDNs and load balancers configured with the leaf alone. Browsers often hide the
//! second (they fetch or cache intermediates); curl, Java, Go and most mobile apps fail. The
//! leaf's authorityInfoAccess caIssuers URL names where its issuer can be downloaded; the probe
//! fetches it ([`crate::probe::aia`]) and this module decodes what came back and asks whether
//! the served chain plus the fetched certificates reach a trust anchor. If they do, the reason
//! is `missing_intermediate`: still the server's fault, so the chain stays invalid.

use rustls_pki_types::CertificateDer;

use super::chain::{analyse_file_chain, ChainError, ChainReport};
use super::trust::TrustStore;

/// The most certificates taken from one caIssuers download (a PKCS#7 bundle may hold a few).
pub const MAX_FETCHED: usize = 16;

/// Decodes what a caIssuers URL serves: one DER certificate (RFC 5280 says
/// `application/pkix-cert`), a PKCS#7 certs-only bundle (`application/pkcs7-mime`), or PEM
/// text holding `CERTIFICATE` or `PKCS7` blocks (not standard, but served).
pub fn decode_issuers(body: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let is_pem = body.windows(11).any(|w| w == b"-----BEGIN ");
    let certs = if is_pem {
        decode_pem(body)?
    } else {
        decode_der(body)?
    };
    if certs.is_empty() {
        return Err("no certificate in the caIssuers response".into());
    }
    Ok(certs.into_iter().take(MAX_FETCHED).collect())
}

/// A DER certificate or a DER PKCS#7 bundle, told apart by the first field inside the outer
/// SEQUENCE: a certificate starts with its tbsCertificate (a SEQUENCE), a ContentInfo with
/// its content type (an OID).
fn decode_der(body: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let (tag, content, rest) = tlv(body)?;
    if tag != 0x30 {
        return Err("not DER: the body does not start with a SEQUENCE".into());
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the DER structure", rest.len()));
    }
    match content.first() {
        Some(0x30) => Ok(vec![CertificateDer::from(body.to_vec())]),
        Some(0x06) => pkcs7_certificates(content),
        _ => Err("neither a certificate nor a PKCS#7 bundle".into()),
    }
}

/// PEM text: every `CERTIFICATE` block, and the certificates of every `PKCS7` block.
fn decode_pem(body: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use base64::Engine as _;
    let text = std::str::from_utf8(body).map_err(|_| "PEM text that is not UTF-8".to_string())?;
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or("a PEM BEGIN line without its closing dashes")?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let body_start = &after[label_end + 5..];
        let end = body_start
            .find(&end_marker)
            .ok_or_else(|| format!("PEM block {label} without its END line"))?;
        let b64: String = body_start[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        rest = &body_start[end + end_marker.len()..];
        let der = match label {
            "CERTIFICATE" | "PKCS7" => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("PEM block {label}: bad base64: {e}"))?,
            _ => continue,
        };
        certs.extend(decode_der(&der)?);
        if certs.len() >= MAX_FETCHED {
            break;
        }
    }
    Ok(certs)
}

/// The certificates of a PKCS#7 ContentInfo (its content, after the outer SEQUENCE tag):
/// `signedData` whose `certificates [0] IMPLICIT SET OF Certificate` is read, all else skipped.
fn pkcs7_certificates(content_info: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let (tag, oid, rest) = tlv(content_info)?;
    if tag != 0x06 || oid != SIGNED_DATA {
        return Err("a PKCS#7 structure that is not signedData".into());
    }
    let (tag, explicit, _) = tlv(rest)?;
    if tag != 0xa0 {
        return Err("PKCS#7 signedData without its [0] content".into());
    }
    let (tag, mut signed_data, _) = tlv(explicit)?;
    if tag != 0x30 {
        return Err("PKCS#7 SignedData is not a SEQUENCE".into());
    }
    // version, digestAlgorithms, encapContentInfo, then the optional [0] certificates.
    for _ in 0..3 {
        signed_data = tlv(signed_data)?.2;
    }
    let mut certs = Vec::new();
    if let Ok((0xa0, mut set, _)) = tlv(signed_data) {
        while !set.is_empty() && certs.len() < MAX_FETCHED {
            let (tag, _, rest) = tlv(set)?;
            let whole = &set[..set.len() - rest.len()];
            if tag == 0x30 {
                certs.push(CertificateDer::from(whole.to_vec()));
            }
            set = rest;
        }
    }
    Ok(certs)
}

/// One DER TLV: (tag, contents, what follows). Definite lengths only, as DER requires.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let truncated = || "truncated DER".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
    if tag & 0x1f == 0x1f {
        return Err("DER with a multi-byte tag".into());
    }
    let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err("DER with an unsupported length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(truncated());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Judges `chain` (as served) completed with `fetched`: the report when that reaches a trust
/// anchor of `trust`, `None` when it still does not. Hostname and purpose are not asked: only
/// whether a path exists.
pub fn complete(
    chain: &[CertificateDer<'_>],
    fetched: &[CertificateDer<'_>],
    trust: &TrustStore,
    now: i64,
) -> Option<ChainReport> {
    let mut extended: Vec<CertificateDer<'_>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.as_ref()))
        .collect();
    for cert in fetched {
        if !extended.iter().any(|c| c.as_ref() == cert.as_ref()) {
            extended.push(CertificateDer::from(cert.as_ref()));
        }
    }
    let report = analyse_file_chain(&extended, trust, now);
    report.anchored.then_some(report)
}

/// Whether a served chain's verdict is one that a missing intermediate could explain, and its
/// leaf names where to fetch its issuer.
pub fn worth_fetching(report: &ChainReport) -> bool {
    report.judged
        && report.errors.contains(&ChainError::UnknownIssuer)
        && report
            .certs
            .first()
            .is_some_and(|leaf| !leaf.ca_issuer_urls.is_empty())
}

/// Records in the served chain's verdict that `completed` (the chain plus fetched issuers)
/// reaches an anchor: `unknown_issuer` becomes `missing_intermediate`, and the anchor (its
/// kind, its facts, and what is wrong with it) is taken over. Positions, dates and expiry stay
/// those of what the server sent.
pub fn mark_missing_intermediate(report: &mut ChainReport, completed: &ChainReport) {
    if report.errors.remove(&ChainError::UnknownIssuer) {
        report.errors.insert(ChainError::MissingIntermediate);
        report.anchored = true;
        report.private_anchor = completed.private_anchor;
        report.anchor = completed.anchor.clone();
        for anchor_reason in [
            ChainError::AnchorExpired,
            ChainError::AnchorNotYetValid,
            ChainError::AnchorUnusable,
        ] {
            if completed.errors.contains(&anchor_reason) {
                report.errors.insert(anchor_reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER SEQUENCE around `parts`.
    fn seq(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![tag];
        if body.len() < 128 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        out.extend(body);
        out
    }

    /// Something shaped like a certificate: a SEQUENCE whose first field is a SEQUENCE.
    fn fake_cert(n: u8) -> Vec<u8> {
        seq(0x30, &[&seq(0x30, &[&[0x02, 0x01, n]])])
    }

    fn pkcs7(certs: &[Vec<u8>]) -> Vec<u8> {
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ];
        let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        let signed = seq(
            0x30,
            &[
                &[0x02, 0x01, 0x01],             // version
                &[0x31, 0x00],                   // digestAlgorithms
                &[0x30, 0x03, 0x06, 0x01, 0x00], // encapContentInfo
                &seq(0xa0, &refs),               // certificates
                &[0x31, 0x00],                   // signerInfos
            ],
        );
        seq(0x30, &[&oid, &seq(0xa0, &[&signed])])
    }

    #[test]
    fn der_certificate_is_taken_whole() {
        let der = fake_cert(7);
        let got = decode_issuers(&der).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref(), der.as_slice());
    }

    #[test]
    fn pkcs7_bundle_yields_its_certificates() {
        let bundle = pkcs7(&[fake_cert(1), fake_cert(2)]);
        let got = decode_issuers(&bundle).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref(), fake_cert(2).as_slice());
    }

    #[test]
    fn pem_blocks_of_both_kinds_are_read() {
        use base64::Engine as _;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let text = format!(
            "junk\n-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n\
             -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
             -----BEGIN PKCS7-----\n{}\n-----END PKCS7-----\n",
            b64(&fake_cert(1)),
            b64(&pkcs7(&[fake_cert(2)]))
        );
        let got = decode_issuers(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x85\x01\x02\x03\x04\x05",
            b"\x30\x05\x02\x01\x01",
            b"<html>not found</html>",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\nAAAA",
        ] {
            assert!(decode_issuers(bad).is_err(), "{bad:?}");
        }
        // A PKCS#7 bundle without certificates holds nothing to use.
        assert!(decode_issuers(&pkcs7(&[])).is_err());
    }
}
