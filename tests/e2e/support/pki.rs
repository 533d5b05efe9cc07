//! Test certificates made with rcgen: a root, intermediates and leaves with chosen names,
//! dates and keys.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm,
};
use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate authority that can sign.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: CertificateDer<'static>,
}

/// A leaf certificate and its key.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub key: KeyPair,
}

impl Leaf {
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// What a leaf should look like.
#[derive(Clone)]
pub struct LeafSpec {
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub alg: &'static SignatureAlgorithm,
    pub serial: Option<u64>,
    pub ocsp_url: Option<String>,
    pub crl_url: Option<String>,
    pub ca_issuers_url: Option<String>,
}

impl LeafSpec {
    /// A leaf for `name`, valid from a day ago for `days` more days.
    pub fn new(name: &str, days: i64) -> LeafSpec {
        let now = OffsetDateTime::now_utc();
        LeafSpec {
            names: vec![name.to_string()],
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(days),
            alg: &rcgen::PKCS_ECDSA_P256_SHA256,
            serial: None,
            ocsp_url: None,
            crl_url: None,
            ca_issuers_url: None,
        }
    }

    pub fn valid(mut self, from: OffsetDateTime, to: OffsetDateTime) -> LeafSpec {
        self.not_before = from;
        self.not_after = to;
        self
    }

    pub fn names(mut self, names: &[&str]) -> LeafSpec {
        self.names = names.iter().map(|s| s.to_string()).collect();
        self
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    ca_params_of(cn, "cert-expiry-exporter tests")
}

fn ca_params_of(cn: &str, organization: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, organization);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(30);
    params.not_after = now + Duration::days(3650);
    params
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str) -> Ca {
        Ca::self_signed(ca_params(cn))
    }

    /// A self-signed root of the organisation (O) `organization`, for checks that go by the
    /// issuer's organisation (built-in tables of public CAs).
    pub fn root_of(cn: &str, organization: &str) -> Ca {
        Ca::self_signed(ca_params_of(cn, organization))
    }

    /// A self-signed CA made from `params` (validity, constraints, names as the test wants).
    pub fn self_signed(params: CertificateParams) -> Ca {
        let key = KeyPair::generate().expect("key");
        let der = params
            .self_signed(&key)
            .expect("self-signed CA")
            .der()
            .clone();
        Ca { params, key, der }
    }

    /// An intermediate signed by this CA.
    pub fn intermediate(&self, cn: &str) -> Ca {
        self.sign_ca(ca_params(cn))
    }

    /// A CA made from `params` with a key of its own, signed by this CA.
    pub fn sign_ca(&self, params: CertificateParams) -> Ca {
        let key = KeyPair::generate().expect("key");
        let der = self.sign(&params, &key);
        Ca { params, key, der }
    }

    /// A certificate made from `params` with a new key, signed by this CA: for leaves a
    /// [`LeafSpec`] cannot describe.
    pub fn sign_leaf(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().expect("key");
        Leaf {
            der: self.sign(params, &key),
            key,
        }
    }

    /// `params` for `key`, signed by this CA.
    fn sign(&self, params: &CertificateParams, key: &KeyPair) -> CertificateDer<'static> {
        params
            .signed_by(key, &self.issuer())
            .expect("certificate signed by a test CA")
            .der()
            .clone()
    }

    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A TLS server leaf signed by this CA.
    pub fn leaf(&self, spec: &LeafSpec) -> Leaf {
        let mut params = CertificateParams::new(spec.names.clone()).expect("names");
        params.distinguished_name.push(
            DnType::CommonName,
            spec.names.first().cloned().unwrap_or_default(),
        );
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if let Some(serial) = spec.serial {
            params.serial_number = Some(serial.into());
        }
        if let Some(url) = &spec.crl_url {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        if spec.ocsp_url.is_some() || spec.ca_issuers_url.is_some() {
            params.custom_extensions.push(aia_extension(
                spec.ocsp_url.as_deref(),
                spec.ca_issuers_url.as_deref(),
            ));
        }
        let key = KeyPair::generate_for(spec.alg).expect("leaf key");
        Leaf {
            der: self.sign(&params, &key),
            key,
        }
    }

    pub fn pem(&self) -> String {
        pem_of(&self.der)
    }

    /// A new temp dir holding this CA's certificate as `ca.pem`, for the exporter's `ca_file`.
    pub fn in_temp_dir(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        super::write(dir.path(), "ca.pem", &self.pem());
        dir
    }
}

/// A self-signed leaf (not a CA).
pub fn self_signed_leaf(name: &str) -> Leaf {
    let mut params = CertificateParams::new(vec![name.to_string()]).expect("names");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("key");
    let der = params.self_signed(&key).expect("self-signed").der().clone();
    Leaf { der, key }
}

/// PEM text of one certificate.
pub fn pem_of(der: &CertificateDer<'_>) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.as_ref().to_vec()))
}

/// authorityInfoAccess with an OCSP and/or caIssuers URL (rcgen has no builder for it).
pub fn aia_extension(ocsp: Option<&str>, ca_issuers: Option<&str>) -> rcgen::CustomExtension {
    fn der_len(len: usize) -> Vec<u8> {
        if len < 128 {
            vec![len as u8]
        } else if len < 256 {
            vec![0x81, len as u8]
        } else {
            vec![0x82, (len >> 8) as u8, len as u8]
        }
    }
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend(der_len(body.len()));
        v.extend_from_slice(body);
        v
    }
    let mut descriptions = Vec::new();
    // id-ad-ocsp 1.3.6.1.5.5.7.48.1 and id-ad-caIssuers 1.3.6.1.5.5.7.48.2
    for (oid_last, url) in [(1u8, ocsp), (2u8, ca_issuers)] {
        if let Some(url) = url {
            let oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, oid_last]);
            let name = tlv(0x86, url.as_bytes()); // [6] uniformResourceIdentifier
            let mut body = oid;
            body.extend(name);
            descriptions.extend(tlv(0x30, &body));
        }
    }
    let value = tlv(0x30, &descriptions);
    // 1.3.6.1.5.5.7.1.1
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], value)
}

/// Writes the PEM of an rcgen private key to `dir/name` and returns the path.
pub fn write_key(dir: &Path, name: &str, key: &rcgen::KeyPair) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.serialize_pem()).expect("write key");
    path
}
