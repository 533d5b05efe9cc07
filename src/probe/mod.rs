//! Probing one endpoint: resolve ▶ connect ▶ handshake ▶ judge the chain.
//!
//! Each stage lives in its own file and reports failure as a [`ProbeFailure`] with a fixed reason
//! label. The whole probe shares one deadline (the target's `timeout`), so a server that never
//! answers costs exactly its timeout and nothing more.

pub mod connect;
pub mod resolve;
pub mod result;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::config::Target;
use crate::revocation::{self, Revocation};
use crate::x509::{self, TrustStores};
pub use resolve::Resolver;
pub use result::{Phase, ProbeFailure, ProbeResult, TlsSession};

/// What every probe needs that outlives one probe: the resolver and the trust anchors.
#[derive(Debug, Clone)]
pub struct Prober {
    pub resolver: Resolver,
    pub trust: TrustStores,
    /// The revocation checker with its caches, shared across reloads; `None` skips revocation.
    pub revocation: Option<Arc<Revocation>>,
}

impl Prober {
    pub fn new(resolver: Resolver, trust: TrustStores) -> Prober {
        Prober {
            resolver,
            trust,
            revocation: None,
        }
    }

    /// Checks revocation with `checker` (whose caches outlive this prober).
    pub fn with_revocation(mut self, checker: Arc<Revocation>) -> Prober {
        self.revocation = Some(checker);
        self
    }

    /// Probes `target` and returns one result per endpoint probed (one, for now).
    pub async fn probe_all(&self, target: &Target) -> Vec<ProbeResult> {
        vec![self.probe(target).await]
    }

    /// Probes `target` once, within its timeout. Never fails: failures are in the result.
    pub async fn probe(&self, target: &Target) -> ProbeResult {
        let started = Instant::now();
        let deadline = started + target.timeout;
        let mut result = ProbeResult::new();
        if let Err(failure) = self.run(target, deadline, &mut result).await {
            result.failure = Some(failure);
        }
        result.phases.push((Phase::Total, started.elapsed()));
        result.finished_at = SystemTime::now();
        result
    }

    async fn run(
        &self,
        target: &Target,
        deadline: Instant,
        result: &mut ProbeResult,
    ) -> Result<(), ProbeFailure> {
        let addrs = timed(result, Phase::Dns, deadline, "dns_timeout", async {
            self.resolver.resolve(&target.address).await
        })
        .await?;

        let (stream, peer) = timed(result, Phase::Connect, deadline, "connect_timeout", async {
            connect::connect(&addrs, deadline).await
        })
        .await?;
        result.peer = Some(peer);

        let phase_start = Instant::now();
        let handshake =
            tokio::time::timeout_at(deadline, tls::handshake(stream, &target.server_name, None))
                .await;
        result
            .phases
            .push((Phase::Handshake, phase_start.elapsed()));
        let trust = self.trust.get(target.ca_file.as_deref());
        let (failure, captured) = match handshake {
            Ok(h) => {
                let failure = match &h.stream {
                    Ok(stream) => {
                        result.tls = Some(tls::session(stream));
                        None
                    }
                    Err(f) => Some(f.clone()),
                };
                (failure, Some(h.captured))
            }
            Err(_) => (
                Some(ProbeFailure::new(
                    "timeout",
                    format!(
                        "no complete TLS handshake within the {} timeout",
                        humantime::format_duration(target.timeout)
                    ),
                )),
                None,
            ),
        };
        if let Some(captured) = captured {
            result.client_cert_requested = captured.client_cert_requested;
            if !captured.chain.is_empty() {
                let mut report =
                    x509::analyse(&captured.chain, &target.server_name, &trust, unix_now());
                if let Some(checker) = &self.revocation {
                    // A budget of its own, so a slow responder never costs the chain's facts.
                    let started = Instant::now();
                    let input = revocation::Input {
                        target: &target.name,
                        chain: &captured.chain,
                        report: &report,
                        stapled: &captured.ocsp_response,
                        anchors: trust.anchors(),
                        settings: target.revocation,
                    };
                    let verdict = checker.check(&input, started + target.timeout).await;
                    revocation::apply(&verdict, &mut report);
                    result.revocation = Some(verdict);
                    result.phases.push((Phase::Revocation, started.elapsed()));
                }
                result.chain = Some(report);
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

/// Runs one phase under the probe deadline and records how long it took.
async fn timed<T>(
    result: &mut ProbeResult,
    phase: Phase,
    deadline: Instant,
    timeout_reason: &'static str,
    work: impl std::future::Future<Output = Result<T, ProbeFailure>>,
) -> Result<T, ProbeFailure> {
    let start = Instant::now();
    let outcome = tokio::time::timeout_at(deadline, work).await;
    result.phases.push((phase, start.elapsed()));
    match outcome {
        Ok(r) => r,
        Err(_) => Err(ProbeFailure::new(
            timeout_reason,
            format!("{} did not finish before the probe timeout", phase.as_str()),
        )),
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}
