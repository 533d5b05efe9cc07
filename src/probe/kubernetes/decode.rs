//! One data key of a Secret or ConfigMap to one result, without I/O: the same decoding (PEM,
//! DER, PKCS#12 without a password) and the same chain-or-bundle judgement as a file target's.

use std::panic::AssertUnwindSafe;
use std::time::SystemTime;

use super::super::files::{formats, judge};
use super::super::{Instance, KubeKey, KubeKind, ProbeFailure, ProbeReason, ProbeResult};
use crate::x509::{bundle, TrustStore};

/// The result of the key `key` of `namespace/name`, holding `bytes`. Never fails: an empty
/// key, bytes that are not PEM or DER, a certificate that does not parse are its reason.
pub fn key_result(
    kind: KubeKind,
    namespace: &str,
    name: &str,
    key: &str,
    bytes: &[u8],
    trust: &TrustStore,
) -> ProbeResult {
    let mut result = ProbeResult::new();
    let where_ = || format!("{} {namespace}/{name} key {key}", kind.as_str());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| judge_bytes(bytes, trust)))
        .unwrap_or_else(|_| {
            (
                None,
                Some(ProbeFailure::new(
                    ProbeReason::FileMalformed,
                    "decoding failed".to_string(),
                )),
            )
        });
    result.chain = outcome.0;
    result.failure = outcome
        .1
        .map(|f| ProbeFailure::new(f.reason, format!("{}: {}", where_(), f.detail)));
    result.instance = Some(Box::new(Instance::KubeKey(Box::new(KubeKey::new(
        kind, namespace, name, key,
    )))));
    result.finished_at = SystemTime::now();
    result
}

fn judge_bytes(
    bytes: &[u8],
    trust: &TrustStore,
) -> (Option<crate::x509::ChainReport>, Option<ProbeFailure>) {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return (
            None,
            Some(ProbeFailure::new(
                ProbeReason::KeyEmpty,
                "the key is empty".to_string(),
            )),
        );
    }
    let decoded = formats::detect(bytes)
        .and_then(|format| formats::decode(bytes, format, None, bundle::MAX_BUNDLE));
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(e) => {
            return (
                None,
                Some(ProbeFailure::new(e.reason(), e.detail().to_string())),
            )
        }
    };
    let (chain, failure) = judge(&decoded.certs, trust);
    let failure = failure.or_else(|| {
        decoded.truncated.then(|| {
            ProbeFailure::new(
                ProbeReason::FileTooManyCertificates,
                format!(
                    "more than {} certificates; only the first are reported",
                    bundle::MAX_BUNDLE
                ),
            )
        })
    });
    (chain, failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> TrustStore {
        TrustStore::from_anchors(Vec::new())
    }

    fn cert_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".into()]).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_pem_certificate_is_judged_and_labelled() {
        let r = key_result(
            KubeKind::Secret,
            "prod",
            "web",
            "tls.crt",
            cert_pem().as_bytes(),
            &trust(),
        );
        assert!(r.failure.is_none(), "{:?}", r.failure);
        assert_eq!(r.chain.as_ref().map(|c| c.certs.len()), Some(1));
        let Some(Instance::KubeKey(key)) = r.instance.as_deref() else {
            panic!()
        };
        assert_eq!(
            key.labels(),
            [
                ("secret_namespace", "prod"),
                ("secret_name", "web"),
                ("secret_key", "tls.crt")
            ]
        );
    }

    #[test]
    fn bad_data_is_a_reason_on_the_key() {
        let t = trust();
        let reason = |bytes: &[u8]| {
            let r = key_result(KubeKind::ConfigMap, "ns", "cm", "ca.crt", bytes, &t);
            assert!(r.chain.is_none());
            let f = r.failure.expect("a failure");
            assert!(
                f.detail.contains("configmap ns/cm key ca.crt"),
                "{}",
                f.detail
            );
            f.reason
        };
        assert_eq!(reason(b""), ProbeReason::KeyEmpty);
        assert_eq!(reason(b"\n"), ProbeReason::KeyEmpty);
        assert_eq!(
            reason(b"not a certificate at all"),
            ProbeReason::FileMalformed
        );
        let key_only =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        assert_eq!(reason(key_only.as_bytes()), ProbeReason::FileNoCertificate);
        let broken =
            "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpE=\n-----END CERTIFICATE-----\n";
        assert_eq!(reason(broken.as_bytes()), ProbeReason::FileMalformed);
    }
}
