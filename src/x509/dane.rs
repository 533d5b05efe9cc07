//! DANE (RFC 6698, RFC 7671): whether a served chain matches a TLSA record set. Pure: the
//! records and the certificates' DER in, the verdict out; the lookup is `probe::dane`'s.
//!
//! Usable records are those with usage 2 (DANE-TA: a certificate of the served chain other than
//! the leaf matches) or 3 (DANE-EE: the leaf matches; no name or expiry checks, RFC 7671 §5.1),
//! selector 0 (the whole certificate's DER) or 1 (its SubjectPublicKeyInfo's DER), and matching
//! type 0 (the selected bytes), 1 (their SHA-256) or 2 (their SHA-512), with association data of
//! the length the matching type implies. Everything else is unusable: counted, never a match.
//! That includes usages 0 and 1 (PKIX-TA, PKIX-EE): RFC 7672 §3.1.3 makes SMTP treat them as
//! unusable, and the exporter does the same for every protocol, so a set of PKIX-* records
//! alone never shows as a DANE match (the chain's PKIX verdict is `cert_chain_valid`'s).
//!
//! DANE-TA is matched against the certificates the server sends (RFC 7671 §5.2.2: the server
//! must send the trust anchor the record names, even a self-signed one), not the trust store.
//! A certificate matching a DANE-TA record only counts when it is the leaf's trust anchor in
//! the DANE sense: a path of signatures runs from the leaf through the sent certificates to it,
//! and the leaf covers the server name (RFC 7671 §5.2: DANE-TA keeps PKIX's name checks, where
//! DANE-EE drops them). Dates are not this check's business (the expiry alerts have them): a
//! path refused only for a date is judged again at a moment inside every sent certificate's
//! validity. A matching certificate that fails this is kept as [`DaneMatch::ta_refused`].

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The usage numbers (RFC 6698 §2.1.1, RFC 7218's acronyms).
pub const DANE_TA: u8 = 2;
/// DANE-EE: the record names the leaf itself.
pub const DANE_EE: u8 = 3;

/// One TLSA record's fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Association {
    /// The certificate usage (0–3 assigned).
    pub usage: u8,
    /// The selector: 0 the full certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// The matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The certificate association data.
    pub data: Vec<u8>,
}

impl Association {
    /// The record for `der` with `usage`, `selector` and `matching`; `None` when the selector or
    /// matching type is not one this module knows, or `der` does not parse for selector 1.
    pub fn of(der: &[u8], usage: u8, selector: u8, matching: u8) -> Option<Association> {
        let selected = select(der, selector)?;
        let data = digest(&selected, matching)?;
        Some(Association {
            usage,
            selector,
            matching,
            data,
        })
    }

    /// Why this record is unusable, or `None` when it is usable (see the module's words).
    pub fn unusable(&self) -> Option<&'static str> {
        if !matches!(self.usage, DANE_TA | DANE_EE) {
            return Some(match self.usage {
                0 | 1 => "a PKIX usage (0 or 1), which SMTP and this check treat as unusable",
                _ => "an unknown certificate usage",
            });
        }
        if self.selector > 1 {
            return Some("an unknown selector");
        }
        match (self.matching, self.data.len()) {
            (0, n) if n > 0 => None,
            (1, 32) | (2, 64) => None,
            (0..=2, _) => Some("association data of the wrong length for its matching type"),
            _ => Some("an unknown matching type"),
        }
    }

    /// The record's data as a zone file writes it: `3 1 1 <hex>`.
    pub fn presentation(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex::encode(&self.data)
        )
    }

    /// Whether this (usable) record matches the certificate `der`.
    fn matches(&self, der: &[u8]) -> bool {
        select(der, self.selector)
            .and_then(|selected| digest(&selected, self.matching))
            .is_some_and(|d| d == self.data)
    }
}

/// The bytes selector `selector` picks from `der`.
fn select(der: &[u8], selector: u8) -> Option<Vec<u8>> {
    match selector {
        0 => Some(der.to_vec()),
        1 => X509Certificate::from_der(der)
            .ok()
            .map(|(_, cert)| cert.tbs_certificate.subject_pki.raw.to_vec()),
        _ => None,
    }
}

/// `bytes` as matching type `matching` presents them.
fn digest(bytes: &[u8], matching: u8) -> Option<Vec<u8>> {
    use aws_lc_rs::digest::{digest, SHA256, SHA512};
    match matching {
        0 => Some(bytes.to_vec()),
        1 => Some(digest(&SHA256, bytes).as_ref().to_vec()),
        2 => Some(digest(&SHA512, bytes).as_ref().to_vec()),
        _ => None,
    }
}

/// A record that matched, and the certificate it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The record, as [`Association::presentation`] writes it.
    pub record: String,
    /// The position in the served chain (0 = the leaf).
    pub position: usize,
}

/// The verdict of a TLSA record set on a served chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaneMatch {
    /// How many records are usable.
    pub usable: u32,
    /// How many are not (unknown or PKIX usage, unknown selector or matching type, bad length).
    pub unusable: u32,
    /// The first usable record that matches, when one does.
    pub matched: Option<Matched>,
    /// A DANE-TA record whose certificate was sent but is not the leaf's anchor for the server
    /// name (no path of signatures to it, or the leaf does not cover the name), and why; kept
    /// to explain a mismatch.
    pub ta_refused: Option<(Matched, String)>,
}

/// Judges `records` against `chain` (the DER of the served certificates, leaf first) for
/// `server_name` at `now` (Unix seconds): DANE-EE records against the leaf, DANE-TA records
/// against every other certificate that anchors the leaf (see the module's words).
pub fn judge<C: AsRef<[u8]>>(
    records: &[Association],
    chain: &[C],
    server_name: &str,
    now: i64,
) -> DaneMatch {
    let mut verdict = DaneMatch::default();
    for record in records {
        if record.unusable().is_some() {
            verdict.unusable += 1;
            continue;
        }
        verdict.usable += 1;
        if verdict.matched.is_some() {
            continue;
        }
        let candidates = match record.usage {
            DANE_EE => 0..chain.len().min(1),
            _ => chain.len().min(1)..chain.len(),
        };
        for position in candidates {
            if !record.matches(chain[position].as_ref()) {
                continue;
            }
            let matched = Matched {
                record: record.presentation(),
                position,
            };
            let refused = match record.usage {
                DANE_EE => None,
                _ => anchors_leaf(chain, position, server_name, now).err(),
            };
            match refused {
                None => {
                    verdict.matched = Some(matched);
                    break;
                }
                Some(why) => {
                    verdict.ta_refused.get_or_insert((matched, why));
                }
            }
        }
    }
    verdict
}

/// Whether the sent certificate at `position` is the leaf's DANE-TA anchor for `server_name`:
/// a path of signatures from the leaf through the other sent certificates ends at it, and the
/// leaf covers the name. `Err` says why not.
fn anchors_leaf<C: AsRef<[u8]>>(
    chain: &[C],
    position: usize,
    server_name: &str,
    now: i64,
) -> Result<(), String> {
    let der = |i: usize| CertificateDer::from(chain[i].as_ref());
    let anchor_der = der(position);
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(|e| format!("the matching certificate is not usable as an anchor: {e:?}"))?;
    let leaf_der = der(0);
    let leaf = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the leaf does not parse: {e:?}"))?;
    let intermediates: Vec<CertificateDer<'_>> = (1..chain.len())
        .filter(|&i| i != position)
        .map(der)
        .collect();
    let ask = |t: i64| {
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            std::slice::from_ref(&anchor),
            &intermediates,
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
    };
    let date_error = |e: &webpki::Error| {
        matches!(
            e,
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
        )
    };
    let mut verified = ask(now);
    if matches!(&verified, Err(e) if date_error(e)) {
        if let Some(t) = moment_inside(chain) {
            verified = ask(t);
        }
    }
    verified.map_err(|e| format!("the leaf does not chain to it: {e:?}"))?;
    let name = match server_name.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(server_name)
            .map_err(|_| format!("{server_name:?} is not a server name"))?,
    };
    leaf.verify_is_valid_for_subject_name(&name)
        .map_err(|_| format!("the leaf does not cover {server_name}"))
}

/// A moment (Unix seconds) inside the validity of every sent certificate that parses, if
/// their periods overlap.
fn moment_inside<C: AsRef<[u8]>>(chain: &[C]) -> Option<i64> {
    let (mut from, mut until) = (i64::MIN, i64::MAX);
    for der in chain {
        if let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) {
            from = from.max(cert.validity().not_before.timestamp());
            until = until.min(cert.validity().not_after.timestamp());
        }
    }
    (from <= until).then_some(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a leaf it issued, as DER: (leaf, ca).
    fn chain() -> (Vec<u8>, Vec<u8>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["mail.example.com".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        (leaf.der().to_vec(), ca.der().to_vec())
    }

    /// [`judge`] for the name the test leaves cover, now.
    fn j<C: AsRef<[u8]>>(records: &[Association], chain: &[C]) -> DaneMatch {
        judge(records, chain, "mail.example.com", crate::clock::unix_now())
    }

    fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Association {
        Association {
            usage,
            selector,
            matching,
            data,
        }
    }

    #[test]
    fn dane_ee_matches_the_leaf_by_key_or_certificate_and_every_matching_type() {
        let (leaf, ca) = chain();
        let served = [leaf.clone(), ca.clone()];
        for selector in 0..=1 {
            for matching in 0..=2 {
                let record = Association::of(&leaf, 3, selector, matching).unwrap();
                let verdict = j(std::slice::from_ref(&record), &served);
                assert_eq!(
                    verdict.matched,
                    Some(Matched {
                        record: record.presentation(),
                        position: 0
                    }),
                    "3 {selector} {matching}"
                );
                assert_eq!((verdict.usable, verdict.unusable), (1, 0));
            }
        }
        // A DANE-EE record for the CA does not match: EE is the leaf only.
        let record = Association::of(&ca, 3, 1, 1).unwrap();
        assert_eq!(j(&[record], &served).matched, None);
    }

    #[test]
    fn dane_ta_matches_a_certificate_above_the_leaf_never_the_leaf() {
        let (leaf, ca) = chain();
        let served = [leaf.clone(), ca.clone()];
        for (selector, matching) in [(0, 1), (1, 2), (0, 0), (1, 1)] {
            let record = Association::of(&ca, 2, selector, matching).unwrap();
            let verdict = j(&[record], &served);
            assert_eq!(
                verdict.matched.map(|m| m.position),
                Some(1),
                "2 {selector} {matching}"
            );
        }
        let record = Association::of(&leaf, 2, 1, 1).unwrap();
        assert_eq!(j(std::slice::from_ref(&record), &served).matched, None);
        // The CA not sent: nothing for DANE-TA to match.
        let record = Association::of(&ca, 2, 0, 1).unwrap();
        assert_eq!(j(&[record], &[leaf]).matched, None);
    }

    #[test]
    fn dane_ta_counts_only_the_leafs_anchor_for_the_server_name() {
        let (leaf, ca) = chain();
        let (_, stranger) = chain();
        let record = Association::of(&stranger, 2, 1, 1).unwrap();
        // A sent CA that did not issue the leaf matches by its bytes but anchors nothing.
        let verdict = j(std::slice::from_ref(&record), &[&leaf, &ca, &stranger]);
        assert_eq!(verdict.matched, None);
        let (refused, why) = verdict.ta_refused.expect("the stranger is kept");
        assert_eq!(refused.position, 2);
        assert!(why.contains("does not chain"), "{why}");
        // The leaf's own CA, for a name the leaf does not cover.
        let record = Association::of(&ca, 2, 1, 1).unwrap();
        let now = crate::clock::unix_now();
        let verdict = judge(
            std::slice::from_ref(&record),
            &[&leaf, &ca],
            "other.example",
            now,
        );
        assert_eq!(verdict.matched, None);
        assert!(verdict
            .ta_refused
            .unwrap()
            .1
            .contains("does not cover other.example"));
        // Dates are not DANE's business: ten years on, the expired leaf still matches its CA.
        let later = now + 10 * 365 * 86_400;
        let verdict = judge(&[record], &[&leaf, &ca], "mail.example.com", later);
        assert_eq!(verdict.matched.map(|m| m.position), Some(1));
    }

    #[test]
    fn the_spki_selector_survives_a_renewal_with_the_same_key_and_not_a_new_key() {
        // Two certificates for one key: the 3 1 1 record of one matches the other, 3 0 1 not.
        let key = rcgen::KeyPair::generate().unwrap();
        let params = || rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        let first = params().self_signed(&key).unwrap().der().to_vec();
        let mut renewed = params();
        renewed.serial_number = Some(rcgen::SerialNumber::from(7u64));
        let renewed = renewed.self_signed(&key).unwrap().der().to_vec();
        assert_ne!(first, renewed);
        let spki = Association::of(&first, 3, 1, 1).unwrap();
        let full = Association::of(&first, 3, 0, 1).unwrap();
        assert!(j(std::slice::from_ref(&spki), &[&renewed])
            .matched
            .is_some());
        assert!(j(&[full], &[&renewed]).matched.is_none());
        let other_key = rcgen::KeyPair::generate().unwrap();
        let new_key = params().self_signed(&other_key).unwrap().der().to_vec();
        assert!(j(&[spki], &[&new_key]).matched.is_none());
    }

    #[test]
    fn unusable_records_are_counted_and_never_match() {
        let (leaf, _) = chain();
        let good = Association::of(&leaf, 3, 1, 1).unwrap();
        let with = |usage, selector, matching| {
            let mut r = good.clone();
            (r.usage, r.selector, r.matching) = (usage, selector, matching);
            r
        };
        // PKIX-TA, PKIX-EE, an unassigned usage, the private ones, unknown selector and
        // matching type, and a SHA-256 record of SHA-512's length.
        let bad = [
            with(0, 1, 1),
            with(1, 1, 1),
            with(4, 1, 1),
            with(255, 1, 1),
            with(3, 2, 1),
            with(3, 1, 3),
            with(3, 1, 255),
            rec(3, 1, 1, vec![0; 64]),
            rec(3, 0, 0, Vec::new()),
        ];
        for r in &bad {
            assert!(r.unusable().is_some(), "{}", r.presentation());
        }
        let verdict = j(&bad, &[&leaf]);
        assert_eq!(
            (verdict.usable, verdict.unusable, verdict.matched),
            (0, 9, None)
        );
        let mut set = bad.to_vec();
        set.push(good.clone());
        let verdict = j(&set, &[&leaf]);
        assert_eq!((verdict.usable, verdict.unusable), (1, 9));
        assert_eq!(verdict.matched.unwrap().record, good.presentation());
    }

    #[test]
    fn the_rfc_6698_example_records_are_classified_as_documented() {
        // RFC 6698 §2.3's first two examples: `0 0 1` (PKIX-TA, the CA certificate's SHA-256)
        // and `1 1 2` (PKIX-EE, the leaf key's SHA-512). Both are PKIX usages: unusable here
        // (RFC 7672 §3.1.3), while the same data under DANE usages is usable.
        let sha256 =
            hex::decode("d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971")
                .unwrap();
        let sha512 = hex::decode("92003ba34942dc74152e2f2c408d29eca5a520e7f2e06bb944f4dca346baf63c1b177615d466f6c4b71c216a50292bd58c9ebdd2f74e38fe51ffd48c43326cbc").unwrap();
        assert!(rec(0, 0, 1, sha256.clone()).unusable().is_some());
        assert!(rec(1, 1, 2, sha512.clone()).unusable().is_some());
        assert_eq!(rec(2, 0, 1, sha256.clone()).unusable(), None);
        assert_eq!(rec(3, 1, 2, sha512).unusable(), None);
        assert_eq!(
            rec(0, 0, 1, sha256).presentation(),
            "0 0 1 d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971"
        );
    }

    #[test]
    fn a_chain_certificate_that_does_not_parse_still_matches_by_its_bytes() {
        let junk = b"not a certificate".to_vec();
        let full = Association::of(&junk, 3, 0, 1).unwrap();
        assert!(j(&[full], &[&junk]).matched.is_some());
        assert_eq!(Association::of(&junk, 3, 1, 1), None);
        let spki = rec(3, 1, 1, vec![0; 32]);
        assert!(j(&[spki], &[&junk]).matched.is_none());
    }
}
