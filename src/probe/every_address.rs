//! `resolve: all`: the name is resolved once, then every A and AAAA address is probed on its
//! own, concurrently, and each result is labelled `address="ip:port"`.
//!
//! Behind a load balancer or round-robin DNS each address may serve a different certificate;
//! probing only the first that answers would hide a stale one. All of a target's addresses share
//! its one deadline (the `timeout` counts from the start of the resolution) and its one
//! concurrency slot: the scheduler hands out slots per target, so a name with many addresses
//! cannot starve other targets of slots, only of their share of the network.

use tokio::time::Instant;

use super::{finish, timed, Instance, Phase, ProbeReason, ProbeResult, Prober};
use crate::config::{Address, Target};

/// Probes every address `address` (the endpoint of `target`) resolves to. When resolution
/// itself fails there is no address to label a result with: one result without the label
/// carries the failure.
pub async fn probe(prober: &Prober, target: &Target, address: &Address) -> Vec<ProbeResult> {
    let started = Instant::now();
    let deadline = started + target.timeout;
    let mut resolution = ProbeResult::new();
    let resolved = timed(
        &mut resolution,
        Phase::Dns,
        deadline,
        ProbeReason::DnsTimeout,
        async { prober.resolver.resolve(address).await },
    )
    .await;
    let mut addrs = match resolved {
        Ok(addrs) => addrs,
        Err(failure) => {
            resolution.failure = Some(failure);
            finish(&mut resolution, started);
            return vec![resolution];
        }
    };
    // A stable order keeps /metrics stable; a duplicate record would be probed twice.
    addrs.sort();
    addrs.dedup();
    let probes = addrs.into_iter().map(|addr| {
        let mut result = ProbeResult::new();
        result.instance = Some(Box::new(Instance::Address(addr.to_string())));
        result.phases = resolution.phases.clone();
        async move {
            if let Err(failure) = prober
                .connect_and_secure(target, &[addr], deadline, &mut result)
                .await
            {
                result.failure = Some(failure);
            }
            finish(&mut result, started);
            result
        }
    });
    futures_util::future::join_all(probes).await
}
