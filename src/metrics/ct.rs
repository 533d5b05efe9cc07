//! The Certificate Transparency series: how many SCTs each chain's leaf came with, by source
//! (the `details` group: constant while the certificate is), and, at every level but only
//! while wrong, a publicly trusted leaf with fewer SCTs than browsers require
//! ([`crate::x509::ct`] has the rule).

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::{chain_labels, chains, family};
use crate::state::Snapshot;
use crate::x509::ct::{self, SctSource};

/// Writes the per-chain CT families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_ct_scts",
        "SCTs the leaf came with, by source (embedded in the certificate, in the stapled OCSP response)",
        |snap, r, out| {
            if !snap.target.metrics.details {
                return;
            }
            for v in chains(r).filter(|v| v.chain.judged && !v.chain.certs.is_empty()) {
                for source in SctSource::ALL {
                    // A file has no server to staple anything.
                    if source == SctSource::OcspStapled && r.peer.is_none() {
                        continue;
                    }
                    let mut l = chain_labels(snap, r, &v);
                    l.push(("source", source.as_str()));
                    out.push((l, ct::scts(v.chain, source).len() as f64));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_ct_policy_error_info",
        "1 while a publicly trusted leaf has SCTs from fewer distinct logs than browsers require, by reason",
        |snap, r, out| {
            for v in chains(r) {
                if let Some(shortfall) = ct::judge(v.chain).and_then(|c| c.shortfall) {
                    let mut l = chain_labels(snap, r, &v);
                    l.push(("reason", shortfall.as_str()));
                    out.push((l, 1.0));
                }
            }
        },
    )?;
    Ok(())
}
