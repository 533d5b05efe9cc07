//! The chain series: the verdict on the served chain and why, when it (or a certificate file's
//! bundle) expires, the trust anchor it ends at, and the facts of every certificate sent (as
//! many of them as the target's `metrics:` settings ask for).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::labels::{encode_sample, push_names};
use super::{base_labels, chain_labels, chains, family, unix_seconds, Labels};
use crate::config::Certificates;
use crate::probe::ProbeResult;
use crate::state::Snapshot;
use crate::x509::bundle;

/// Seconds in a day, for `cert_days_to_expiry`.
const DAY: f64 = 86_400.0;

/// Writes the per-target chain families, `cert_days_to_expiry` exact at this moment.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    let now = unix_seconds(SystemTime::now());
    // Whole seconds, as certificates' dates are, for telling lapsed bundle certificates.
    let at = now.floor() as i64;
    family(
        e,
        s,
        "cert_chain_valid",
        "1 when the served chain verifies for the server name now",
        |snap, r, out| {
            for v in chains(r).filter(|v| v.chain.judged) {
                out.push((chain_labels(snap, r, &v), v.chain.is_valid() as u8 as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_chain_error_info",
        "1 per reason the served chain is invalid",
        |snap, r, out| {
            for v in chains(r).filter(|v| v.chain.judged) {
                for reason in &v.chain.errors {
                    let mut l = chain_labels(snap, r, &v);
                    l.push(("reason", reason.as_str()));
                    out.push((l, 1.0));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_days_to_expiry",
        "Days until the first certificate of the served path expires (negative once expired); \
         for a bundle file, the next of its certificates to expire",
        |snap, r, out| {
            for v in chains(r) {
                if let Some(expiry) = bundle::expiry_at(v.chain, at) {
                    out.push((chain_labels(snap, r, &v), (expiry as f64 - now) / DAY));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_expiry_timestamp_seconds",
        "When the first certificate of the served path expires; for a bundle file, the next \
         of its certificates to expire",
        |snap, r, out| {
            // At every level: the constant fact that compresses to nothing in Prometheus and
            // that other tools' expiry series map to (docs/migrating.md); cert_days_to_expiry
            // is its reading for people.
            for v in chains(r) {
                if let Some(expiry) = bundle::expiry_at(v.chain, at) {
                    out.push((chain_labels(snap, r, &v), expiry as f64));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_bundle_expired_certificates",
        "Certificates of a bundle file already past their notAfter (left out of its expiry)",
        |snap, r, out| {
            if let Some(chain) = r.chain.as_ref().filter(|c| !c.judged) {
                let n = bundle::expired(&chain.certs, at);
                out.push((base_labels(snap, r), n as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_anchor_not_after_timestamp_seconds",
        "notAfter of the trust anchor the served path ends at",
        |snap, r, out| {
            for v in chains(r) {
                if let Some(anchor) = &v.chain.anchor {
                    let mut l = chain_labels(snap, r, &v);
                    push_names(&mut l, anchor, &snap.target.metrics, true);
                    out.push((l, anchor.not_after as f64));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_not_after_timestamp_seconds",
        "notAfter of every certificate the server sent",
        |snap, r, out| {
            per_cert(snap, r, out, |c| c.not_after as f64);
        },
    )?;
    family(
        e,
        s,
        "cert_not_before_timestamp_seconds",
        "notBefore of every certificate the server sent",
        |snap, r, out| {
            per_cert(snap, r, out, |c| c.not_before as f64);
        },
    )?;
    cert_info(e, s)?;
    Ok(())
}

/// One sample per certificate sent that the target's `certificates` setting writes (`leaf`:
/// position 0; `path`: those of the path, every one of a certificate file; `all`: every one
/// sent), labelled by position, subject and issuer (as `subject_fields` and `issuer_fields`
/// say) and serial.
fn per_cert<'a>(
    snap: &'a Snapshot,
    r: &'a ProbeResult,
    out: &mut Vec<(Labels<'a>, f64)>,
    value: impl Fn(&crate::x509::CertFacts) -> f64,
) {
    let certificates = snap.target.metrics.certificates;
    for v in chains(r) {
        let chain = v.chain;
        for (i, cert) in chain.certs.iter().enumerate() {
            let written = match certificates {
                Certificates::None => false,
                Certificates::Leaf => i == 0,
                // A file's certificates are not judged as a path: each one counts.
                Certificates::Path => {
                    !chain.judged || chain.in_path.get(i).copied().unwrap_or(false)
                }
                Certificates::All => true,
            };
            if !written {
                continue;
            }
            let mut l = chain_labels(snap, r, &v);
            l.push(("position", position(i)));
            push_names(&mut l, cert, &snap.target.metrics, false);
            l.push(("serial", cert.serial.as_str()));
            out.push((l, value(cert)));
        }
    }
}

/// The `position` label value for index `i`, preformatted once so samples borrow rather than
/// allocate. Chains are capped at [`crate::x509::chain::MAX_CHAIN`] certificates, certificate
/// files at [`crate::x509::bundle::MAX_BUNDLE`].
pub(crate) fn position(i: usize) -> &'static str {
    static POSITIONS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = POSITIONS.get_or_init(|| {
        (0..crate::x509::chain::MAX_CHAIN.max(crate::x509::bundle::MAX_BUNDLE))
            .map(|i| i.to_string())
            .collect()
    });
    all.get(i).map(String::as_str).unwrap_or("overflow")
}

/// `cert_info`: every fact of every certificate sent, as labels (value 1). Written apart from
/// [`family`] because two labels are formatted per sample and must outlive the label set.
fn cert_info(
    e: &mut DescriptorEncoder,
    snapshots: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    let mut family = e.encode_descriptor(
        "cert_info",
        "Facts of every certificate the server sent (value 1)",
        None,
        MetricType::Gauge,
    )?;
    let mut bits = String::new();
    let mut names = String::new();
    for snap in snapshots.iter().filter(|s| s.target.metrics.cert_info) {
        let limit = snap.target.metrics.label_value_length_limit;
        for (r, v) in snap
            .results
            .iter()
            .flat_map(|r| chains(r).map(move |v| (r, v)))
        {
            for (i, cert) in v.chain.certs.iter().enumerate() {
                bits.clear();
                let _ = write!(bits, "{}", cert.key_bits);
                names.clear();
                names.push_str(&cert.dns_names.join(","));
                let mut l = chain_labels(snap, r, &v);
                l.push(("position", position(i)));
                push_names(&mut l, cert, &snap.target.metrics, false);
                l.push(("serial", cert.serial.as_str()));
                l.push(("sha256_fingerprint", cert.sha256_fingerprint.as_str()));
                l.push(("key_algorithm", cert.key_algorithm));
                l.push(("key_bits", bits.as_str()));
                l.push(("signature_algorithm", cert.signature_algorithm.as_str()));
                l.push(("dns_names", names.as_str()));
                encode_sample(&mut family, &l, limit, 1i64)?;
            }
        }
    }
    Ok(())
}
