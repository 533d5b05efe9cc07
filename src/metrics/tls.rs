//! The handshake series: the negotiated TLS version, cipher suite and group, and whether the
//! server asked for a client certificate. The version is the `tls` group of a target's `metrics:`
//! settings, the cipher and the client-certificate request its `details`.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::{base_labels, family};
use crate::state::Snapshot;

/// Writes the per-target handshake families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_tls_version_info",
        "Negotiated TLS version",
        |snap, r, out| {
            if let Some(tls) = r.tls.as_ref().filter(|_| snap.target.metrics.tls) {
                let mut l = base_labels(snap, r);
                l.push(("version", tls.version.as_str()));
                out.push((l, 1.0));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_tls_cipher_info",
        "Negotiated cipher suite and key-exchange group",
        |snap, r, out| {
            if let Some(tls) = r.tls.as_ref().filter(|_| snap.target.metrics.details) {
                let mut l = base_labels(snap, r);
                l.push(("cipher", &tls.cipher));
                l.push(("group", &tls.group));
                out.push((l, 1.0));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_client_cert_requested",
        "1 when the server asked for a client certificate",
        |snap, r, out| {
            // Only where a server was reached: a certificate file has no server to ask.
            if r.chain.is_some() && r.peer.is_some() && snap.target.metrics.details {
                out.push((base_labels(snap, r), r.client_cert_requested as u8 as f64));
            }
        },
    )?;
    Ok(())
}
