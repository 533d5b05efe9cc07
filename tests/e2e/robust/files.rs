//! Certificate files that are binary junk: random bytes, a DER header that claims 2 GiB, half a
//! certificate, PEM whose base64 is broken, zeros, something shaped like PKCS#12 that is not,
//! a sparse file over the size cap. Each file reports its reason; the good file in the same
//! glob and a healthy endpoint in the same exporter are reported as usual.

use super::{assert_healthy_stays_fresh, healthy_server, healthy_target, WAIT};
use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::{Harness, Metrics};

/// The `reason`s of the series of one file.
fn file_reasons(m: &Metrics, file: &str) -> Vec<String> {
    m.reasons_where(
        "cert_probe_error_info",
        &[("target", "junk"), ("file", file)],
    )
}

#[tokio::test]
async fn binary_junk_files_each_report_a_reason() {
    let root = Ca::root("Junk Root");
    let dir = root.in_temp_dir();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let leaf = root.leaf(&LeafSpec::new("good.test", 30));
    let der = leaf.der.to_vec();

    let mut rng = fastrand::Rng::with_seed(7);
    let random: Vec<u8> = (0..4096).map(|_| rng.u8(..)).collect();
    let mut huge_claim = vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x82, 0x01, 0x00];
    huge_claim.extend_from_slice(&random[..256]);
    let broken_pem = pki::pem_of(&leaf.der).replacen("MII", "M!I", 1);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random.bin", random, "file_malformed"),
        ("claims-2gib.der", huge_claim, "file_malformed"),
        ("half.der", der[..der.len() / 2].to_vec(), "file_malformed"),
        (
            "broken-base64.pem",
            broken_pem.into_bytes(),
            "file_malformed",
        ),
        ("zeros.bin", vec![0; 65536], "file_malformed"),
        (
            "not-really.p12",
            vec![0x30, 0x06, 0x02, 0x01, 0x03, 0x30, 0x01, 0x00],
            "file_malformed",
        ),
    ];
    for (name, bytes, _) in &cases {
        std::fs::write(certs.join(name), bytes).unwrap();
    }
    // Over the 10 MiB cap without using the disk: refused unread.
    let sparse = std::fs::File::create(certs.join("sparse.pem")).unwrap();
    sparse.set_len(11 << 20).unwrap();
    std::fs::write(certs.join("good.pem"), pki::pem_of(&leaf.der)).unwrap();

    let server = healthy_server(&root).await;
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 5s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: junk\n    path: {{dir}}/certs/*\n{}",
        healthy_target(&server)
    );
    let h = Harness::start_in(dir, &yaml).await;
    let path = |name: &str| certs.join(name).display().to_string();
    let good = path("good.pem");
    let m = h
        .wait_until(WAIT, |m| {
            m.get(
                "cert_probe_success",
                &[("target", "junk"), ("file", good.as_str())],
            ) == Some(1.0)
        })
        .await;
    for (name, _, reason) in &cases {
        assert_eq!(
            file_reasons(&m, &path(name)),
            [*reason],
            "{name}: {}",
            m.text
        );
        assert_eq!(
            m.value(
                "cert_probe_success",
                &[("target", "junk"), ("file", path(name).as_str())]
            ),
            0.0
        );
    }
    assert_eq!(file_reasons(&m, &path("sparse.pem")), ["file_too_large"]);
    assert!(file_reasons(&m, &good).is_empty(), "{}", m.text);
    assert_healthy_stays_fresh(&h).await;
    h.stop().await;
}
