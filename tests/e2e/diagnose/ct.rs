//! Certificate Transparency served for real: leaves with an embedded SCT list (made with
//! rcgen, well-formed SCTs from made-up logs) served by an in-process rustls server, probed by
//! the exporter and judged by `check` as the real binary. Under a private CA (`ca_file`) the
//! SCTs are counted and nothing is judged; with the same kind of root made the exporter's
//! *system* store (`SSL_CERT_FILE`, which rustls-native-certs reads), a leaf without enough
//! SCTs is a broken finding. SCTs in a stapled OCSP response: no OCSP responder the tests can
//! run adds them, so the test server staples a well-formed response written here (its
//! signature is junk: revocation refuses it, the SCTs are counted all the same).

use std::time::Duration;

use cert_expiry_exporter::x509::ct::encode_sct_list;
use rcgen::{CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose};
use time::OffsetDateTime;

use crate::support::pki::{Ca, Leaf};
use crate::support::tls_server;
use crate::support::{write, Harness};

const WAIT: Duration = Duration::from_secs(20);

/// A well-formed `OCSPResponse` (status good, signature junk) whose single response about
/// `serial` carries SCTs from `logs` distinct logs.
fn stapled_response_with_scts(serial: &[u8], logs: u8) -> Vec<u8> {
    use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
    use der::Encode;
    use x509_cert::spki::AlgorithmIdentifierOwned;
    let alg = |oid: &str| AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: None,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let time = x509_ocsp::OcspGeneralizedTime(
        GeneralizedTime::from_unix_duration(Duration::from_secs(now.as_secs() - 60)).unwrap(),
    );
    let scts: Vec<_> = (1..=logs).map(|i| ([i; 32], 1_700_000_000_000)).collect();
    let single = x509_ocsp::SingleResponse {
        cert_id: x509_ocsp::CertId {
            hash_algorithm: alg("1.3.14.3.2.26"),
            issuer_name_hash: OctetString::new(vec![1; 20]).unwrap(),
            issuer_key_hash: OctetString::new(vec![2; 20]).unwrap(),
            serial_number: x509_cert::serial_number::SerialNumber::new(serial).unwrap(),
        },
        cert_status: x509_ocsp::CertStatus::Good(Null),
        this_update: time,
        next_update: None,
        single_extensions: Some(vec![x509_cert::ext::Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.5"),
            critical: false,
            extn_value: OctetString::new(encode_sct_list(&scts)).unwrap(),
        }]),
    };
    let basic = x509_ocsp::BasicOcspResponse {
        tbs_response_data: x509_ocsp::ResponseData {
            version: x509_ocsp::Version::V1,
            responder_id: x509_ocsp::ResponderId::ByKey(OctetString::new(vec![3; 20]).unwrap()),
            produced_at: time,
            responses: vec![single],
            response_extensions: None,
        },
        signature_algorithm: alg("1.2.840.10045.4.3.2"),
        signature: BitString::from_bytes(&[0; 8]).unwrap(),
        certs: None,
    };
    x509_ocsp::OcspResponse {
        response_status: x509_ocsp::OcspResponseStatus::Successful,
        response_bytes: Some(x509_ocsp::ResponseBytes {
            response_type: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1"),
            response: OctetString::new(basic.to_der().unwrap()).unwrap(),
        }),
    }
    .to_der()
    .unwrap()
}

/// Serves `leaf` with `ocsp` stapled.
async fn serve_stapled(leaf: &Leaf, ocsp: Vec<u8>) -> tls_server::Server {
    let opts = tls_server::TlsOptions {
        ocsp,
        ..Default::default()
    };
    tls_server::tls(vec![leaf.der.clone()], leaf.private_key(), opts).await
}

/// The serial of every test leaf (the stapled responses are about it).
const SERIAL: [u8; 3] = [0x0c, 0x7a, 0x55];

/// A 90-day leaf for `name` signed by `ca` with SCTs from `logs` distinct logs embedded
/// (none: no SCT list extension at all).
fn leaf_with_scts(ca: &Ca, name: &str, logs: u8) -> Leaf {
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(89);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.serial_number = Some(SERIAL.to_vec().into());
    if logs > 0 {
        let scts: Vec<_> = (1..=logs).map(|i| ([i; 32], 1_700_000_000_000)).collect();
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                encode_sct_list(&scts),
            ));
    }
    ca.sign_leaf(&params)
}

/// `check --output json --server-name name addr` as the real binary, with `roots` as its
/// system trust store.
async fn check_with_system_roots(
    roots: &std::path::Path,
    name: &str,
    addr: &str,
) -> (i32, serde_json::Value) {
    let output = tokio::process::Command::new(crate::support::binary::path())
        .args(["check", "--output", "json", "--server-name", name, addr])
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run the exporter binary");
    let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), doc)
}

fn ct_codes(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["results"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "no_scts" || f["code"] == "too_few_logs")
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn scts_under_a_private_ca_are_counted_and_never_judged() {
    let root = Ca::root("CT Private Root");
    let with = tls_server::serve_leaf(&leaf_with_scts(&root, "ct.test", 2)).await;
    let without = tls_server::serve_leaf(&leaf_with_scts(&root, "ct.test", 0)).await;
    let stapled = serve_stapled(
        &leaf_with_scts(&root, "ct.test", 1),
        stapled_response_with_scts(&SERIAL, 2),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &root.pem());
    let yaml = format!(
        "defaults:\n  metrics: {{level: full}}\n  interval: 1s\n  timeout: 5s\n  ca_file: {}\ntargets:\n  - name: with\n    address: {}\n    server_name: ct.test\n  - name: without\n    address: {}\n    server_name: ct.test\n  - name: stapled\n    address: {}\n    server_name: ct.test\n",
        ca.display(),
        with.addr,
        without.addr,
        stapled.addr
    );
    let h = Harness::start(&yaml).await;
    let m = h
        .wait_for_probes(&["with", "without", "stapled"], WAIT)
        .await;
    for (target, embedded, stapled) in [
        ("with", 2.0, 0.0),
        ("without", 0.0, 0.0),
        ("stapled", 1.0, 2.0),
    ] {
        assert_eq!(m.value("cert_chain_valid", &[("target", target)]), 1.0);
        let count = |source| m.get("cert_ct_scts", &[("target", target), ("source", source)]);
        assert_eq!(count("embedded"), Some(embedded), "{target}: {}", m.text);
        assert_eq!(count("ocsp_stapled"), Some(stapled), "{target}: {}", m.text);
    }
    assert!(
        m.find("cert_ct_policy_error_info", &[]).is_empty(),
        "a private CA is exempt:\n{}",
        m.text
    );
    h.stop().await;

    let (code, doc) = crate::support::binary::check_json(&[
        "--server-name",
        "ct.test",
        "--ca-file",
        &ca.display().to_string(),
        &without.addr.to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{doc:#}");
    assert!(ct_codes(&doc).is_empty(), "{doc:#}");
    let ct = &doc["results"][0]["certificate_transparency"];
    assert_eq!(ct["judged"], false, "a private CA: {doc:#}");
    assert_eq!(ct["shortfall"], serde_json::Value::Null, "{doc:#}");
}

#[tokio::test]
async fn a_public_leaf_without_the_scts_browsers_require_is_broken() {
    let root = Ca::root("CT Public Root");
    let dir = tempfile::tempdir().unwrap();
    let roots = write(dir.path(), "system-roots.pem", &root.pem());
    for (logs, expected) in [(0u8, Some("no_scts")), (1, Some("too_few_logs")), (2, None)] {
        let server = tls_server::serve_leaf(&leaf_with_scts(&root, "ct.test", logs)).await;
        let (code, doc) =
            check_with_system_roots(&roots, "ct.test", &server.addr.to_string()).await;
        let codes = ct_codes(&doc);
        let ct = &doc["results"][0]["certificate_transparency"];
        assert_eq!(ct["scts"]["embedded"], logs as u64, "{doc:#}");
        assert_eq!(ct["scts"]["ocsp_stapled"], 0, "{doc:#}");
        assert_eq!(ct["judged"], true, "{doc:#}");
        assert_eq!(ct["required_embedded_logs"], 2, "{doc:#}");
        assert_eq!(ct["shortfall"], serde_json::json!(expected), "{doc:#}");
        match expected {
            Some(reason) => {
                assert_eq!(code, 2, "{logs} logs: {doc:#}");
                assert_eq!(
                    codes,
                    [(reason.to_string(), "broken".to_string())],
                    "{doc:#}"
                );
            }
            None => {
                assert!(codes.is_empty(), "{logs} logs: {doc:#}");
                assert_eq!(code, 0, "{logs} logs: {doc:#}");
            }
        }
    }
    // One embedded log, two in the stapled response about the leaf: compliant. The same
    // response about another serial counts nothing. (The junk signature of the response is
    // a revocation finding of its own, whatever the SCTs.)
    let leaf = leaf_with_scts(&root, "ct.test", 1);
    for (serial, expected) in [(&SERIAL[..], vec![]), (&[0x01][..], vec!["too_few_logs"])] {
        let server = serve_stapled(&leaf, stapled_response_with_scts(serial, 2)).await;
        let (_, doc) = check_with_system_roots(&roots, "ct.test", &server.addr.to_string()).await;
        let codes: Vec<String> = ct_codes(&doc).into_iter().map(|c| c.0).collect();
        assert_eq!(codes, expected, "stapled about {serial:02x?}: {doc:#}");
    }
}
