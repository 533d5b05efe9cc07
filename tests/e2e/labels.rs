//! Issue 13's label controls in the real binary: which fields of the subject and issuer become
//! labels, how a file target's `file` label shows the path, and the cap on label values, read
//! from the `/metrics` the process serves.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa};

use crate::support::pki::{pem_of, Ca};
use crate::support::ports::free_loopback_addr;
use crate::support::process::Service;
use crate::support::{binary, get, write, Metrics};

/// What the exporter writes for a value longer than `limit` bytes (ASCII here): its first
/// `limit - 11` bytes, `…`, and the first 8 hex digits of the SHA-256 of the whole value.
fn capped(value: &str, limit: usize) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}…{hex}", &value[..limit - 11])
}

#[tokio::test]
async fn the_binary_writes_chosen_name_fields_shaped_paths_and_capped_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "Labels Org");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Labels CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = Ca::self_signed(ca_params);
    let mut leaf_params = CertificateParams::new(vec!["a.test".to_string()]).expect("params");
    for (kind, value) in [
        (DnType::CountryName, "DE"),
        (DnType::OrganizationName, "Shop GmbH"),
        (DnType::OrganizationalUnitName, "Web"),
        (DnType::CommonName, "a.test"),
    ] {
        leaf_params.distinguished_name.push(kind, value);
    }
    let leaf = ca.sign_leaf(&leaf_params);
    let site = dir.path().join("certs/site");
    std::fs::create_dir_all(&site).expect("mkdir");
    write(&site, "a.pem", &(pem_of(&leaf.der) + &ca.pem()));
    // A file whose path, even relative, is longer than the cap.
    let long_dir = "d".repeat(120);
    let long = dir.path().join("certs").join(&long_dir);
    std::fs::create_dir_all(&long).expect("mkdir");
    write(&long, "b.pem", &ca.pem());

    let config = write(
        dir.path(),
        "config.yaml",
        &format!(
            "defaults:
  interval: 1h
  metrics:
    level: full
    subject_fields: [CN, O]
    issuer_fields: [O]
    label_value_length_limit: 64
targets:
  - name: relative
    path: {root}/certs/**/*.pem
    metrics: {{file_path: relative}}
  - name: trimmed
    path: {root}/certs/site/*.pem
    metrics: {{trim_path_prefix: {root}}}
"
        ),
    );
    let addr = free_loopback_addr();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--web.listen-address={addr}"),
    ];
    let mut exporter = Service::spawn(
        "cert-expiry-exporter",
        &binary::path(),
        &args,
        addr,
        &dir.path().join("exporter.log"),
    );
    // Ready once every target has its first result.
    exporter.wait_ready().await;
    let page = get(addr, "/metrics", &[]).await;
    assert_eq!(page.status, 200);
    let m = Metrics::parse(&page.body);

    // Relative to the glob's directory; the subject as CN and O only, the issuer as its O.
    let leaf = m.find(
        "cert_info",
        &[
            ("target", "relative"),
            ("file", "site/a.pem"),
            ("position", "0"),
        ],
    );
    assert_eq!(leaf.len(), 1, "{}", m.text);
    let labels = &leaf[0].labels;
    assert_eq!(labels["subject_CN"], "a.test");
    assert_eq!(labels["subject_O"], "Shop GmbH");
    assert_eq!(labels["issuer_O"], "Labels Org");
    for absent in ["subject", "issuer", "subject_OU", "subject_C", "issuer_CN"] {
        assert!(!labels.contains_key(absent), "{absent} in {labels:?}");
    }
    let ca_series = m.find(
        "cert_not_after_timestamp_seconds",
        &[
            ("target", "relative"),
            ("file", "site/a.pem"),
            ("position", "1"),
        ],
    );
    assert_eq!(ca_series[0].labels["subject_CN"], "Labels CA");
    assert_eq!(ca_series[0].labels["subject_O"], "Labels Org");

    // Less the prefix, at a component boundary.
    assert_eq!(
        m.value(
            "cert_probe_success",
            &[("target", "trimmed"), ("file", "certs/site/a.pem")]
        ),
        1.0,
        "{}",
        m.text
    );

    // The long path is cut to 64 bytes, with the marker and the digest of the whole value.
    let cut = capped(&format!("{long_dir}/b.pem"), 64);
    assert_eq!(cut.len(), 64);
    assert_eq!(
        m.value(
            "cert_probe_success",
            &[("target", "relative"), ("file", cut.as_str())]
        ),
        1.0,
        "{}",
        m.text
    );
    for sample in &m.samples {
        for (name, value) in &sample.labels {
            assert!(value.len() <= 64, "{name}={value:?} on {}", sample.name);
        }
    }
}
