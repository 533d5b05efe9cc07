//! The verdict on chains made with rcgen, one dimension at a time.

use super::*;
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair};

const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn at(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(now() + days * DAY).unwrap()
}

fn ca(cn: &str, from: i64, to: i64) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = at(from);
    p.not_after = at(to);
    p
}

fn leaf_params() -> CertificateParams {
    let mut p = CertificateParams::new(vec!["shop.test".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "shop.test");
    p.not_before = at(-1);
    p.not_after = at(30);
    p
}

fn critical(oid: &[u64], content: Vec<u8>) -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(oid, content);
    e.set_criticality(true);
    e
}

/// root -> intermediate (from `inter`) -> leaf (from `leaf`); returns (chain, root DER).
fn chain_with(
    inter: CertificateParams,
    leaf: CertificateParams,
) -> (Vec<CertificateDer<'static>>, CertificateDer<'static>) {
    let root_params = ca("Unit Root", -30, 3650);
    let root_key = KeyPair::generate().unwrap();
    let root = root_params.self_signed(&root_key).unwrap();
    let inter_key = KeyPair::generate().unwrap();
    let inter_cert = inter
        .signed_by(&inter_key, &Issuer::from_params(&root_params, &root_key))
        .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf
        .signed_by(&leaf_key, &Issuer::from_params(&inter, &inter_key))
        .unwrap();
    (
        vec![leaf_cert.der().clone(), inter_cert.der().clone()],
        root.der().clone(),
    )
}

fn verdict(chain: &[CertificateDer<'static>], root: CertificateDer<'static>) -> ChainReport {
    let trust = TrustStore::from_certificates(vec![root]).unwrap();
    analyse(chain, "shop.test", &trust, now())
}

fn reasons(r: &ChainReport) -> Vec<&'static str> {
    r.errors.iter().map(|e| e.as_str()).collect()
}

#[test]
fn a_valid_chain_reports_its_anchor() {
    let (chain, root) = chain_with(ca("Unit Inter", -30, 3000), leaf_params());
    let r = verdict(&chain, root);
    assert!(r.is_valid(), "{:?} {:?}", r.errors, r.detail);
    assert_eq!(r.anchor.as_ref().unwrap().subject, "CN=Unit Root");
}

#[test]
fn an_intermediate_webpki_cannot_parse_is_malformed_not_invalid() {
    let mut inter = ca("Unit Inter", -30, 3000);
    inter.custom_extensions.push(critical(
        &[1, 3, 6, 1, 4, 1, 55738, 666, 3],
        vec![0x05, 0x00],
    ));
    let (chain, root) = chain_with(inter, leaf_params());
    let r = verdict(&chain, root);
    assert_eq!(reasons(&r), ["malformed_certificate"]);
    assert!(r.detail.unwrap().contains("UnsupportedCriticalExtension"));
}

#[test]
fn empty_name_constraints_and_empty_aia_are_malformed() {
    // nameConstraints (2.5.29.30) with no subtrees at all: Go refuses to parse it.
    let mut inter = ca("Unit Inter", -30, 3000);
    inter
        .custom_extensions
        .push(critical(&[2, 5, 29, 30], vec![0x30, 0x00]));
    let (chain, root) = chain_with(inter, leaf_params());
    let r = verdict(&chain, root);
    assert_eq!(reasons(&r), ["malformed_certificate"], "{:?}", r.detail);
    assert!(r.detail.unwrap().contains("nameConstraints"));

    // authorityInfoAccess (1.3.6.1.5.5.7.1.1) without an access description.
    let mut leaf = leaf_params();
    leaf.custom_extensions
        .push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            vec![0x30, 0x00],
        ));
    let (chain, root) = chain_with(ca("Unit Inter", -30, 3000), leaf);
    let r = verdict(&chain, root);
    assert_eq!(reasons(&r), ["malformed_certificate"], "{:?}", r.detail);
    assert!(r.detail.unwrap().contains("authorityInfoAccess"));
}

#[test]
fn a_renewed_root_beside_its_expired_self_keeps_the_chain_valid() {
    // The same root name and key, once expired and once re-issued with new dates: the
    // expired anchor is turned down, and webpki goes on to the renewed one.
    let key = KeyPair::generate().unwrap();
    let old = ca("Renewed Root", -800, -1).self_signed(&key).unwrap();
    let renewed_params = ca("Renewed Root", -30, 3650);
    let renewed = renewed_params.self_signed(&key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params()
        .signed_by(&leaf_key, &Issuer::from_params(&renewed_params, &key))
        .unwrap();
    let chain = vec![leaf.der().clone()];
    let both =
        TrustStore::from_certificates(vec![old.der().clone(), renewed.der().clone()]).unwrap();
    let r = analyse(&chain, "shop.test", &both, now());
    assert!(r.is_valid(), "{:?} {:?}", r.errors, r.detail);
    assert!(r.anchor.unwrap().not_after > now());

    let only_old = TrustStore::from_certificates(vec![old.der().clone()]).unwrap();
    let r = analyse(&chain, "shop.test", &only_old, now());
    assert_eq!(reasons(&r), ["anchor_expired"]);
    assert!(r.anchored);
    assert!(r.anchor.unwrap().not_after < now());
}

#[test]
fn from_certificates_refuses_what_is_no_certificate() {
    assert!(TrustStore::from_certificates(vec![CertificateDer::from(vec![0x30, 0x00])]).is_err());
    assert!(TrustStore::from_certificates(Vec::new())
        .unwrap()
        .anchors()
        .is_empty());
}

#[test]
fn a_kept_verdict_is_the_verdict_judged_afresh_at_every_moment() {
    let (chain, root) = chain_with(ca("Unit Inter", -30, 3000), leaf_params());
    let kept = TrustStore::from_certificates(vec![root.clone()]).unwrap();
    // Moments inside the leaf's validity, past its notAfter, before its notBefore, at its
    // edges, and back: each verdict from the store that keeps them equals a fresh store's.
    let leaf_from = now() - DAY;
    let leaf_until = now() + 30 * DAY;
    let moments = [
        now(),
        now() + 60,
        leaf_until,
        leaf_until + 1,
        now() + 31 * DAY,
        leaf_from,
        leaf_from - 1,
        now() - 2 * DAY,
        now(),
    ];
    for t in moments {
        let fresh = TrustStore::from_certificates(vec![root.clone()]).unwrap();
        let expected = analyse(&chain, "shop.test", &fresh, t);
        assert_eq!(analyse(&chain, "shop.test", &kept, t), expected, "at {t}");
    }
    assert!(analyse(&chain, "shop.test", &kept, now()).is_valid());
    assert!(!analyse(&chain, "shop.test", &kept, leaf_until + 1).is_valid());
    // One verdict per chain, server name and purpose.
    assert_eq!(kept.verdicts.len(), 1);
    let other_name = analyse(&chain, "other.test", &kept, now());
    assert_eq!(reasons(&other_name), ["hostname_mismatch"]);
    analyse_file_chain(&chain, &kept, now());
    assert_eq!(kept.verdicts.len(), 3);
}
