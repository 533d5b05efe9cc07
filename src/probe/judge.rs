//! Judging a captured chain: the verdict ([`crate::x509::analyse`]), then what the network can
//! add to it — revocation ([`crate::revocation`]) and, when the path does not build, the
//! intermediate the server left out ([`super::aia`]).
//!
//! The network part has one budget of its own, the target's `timeout`, shared by revocation
//! and the caIssuers download, which run at the same time: a slow responder never hides the
//! chain's facts, and the missing-intermediate check adds no time of its own to a probe.

use std::sync::Arc;

use tokio::time::Instant;

use super::result::{Phase, ProbeResult};
use super::tls::Captured;
use super::{aia, Prober};
use crate::config::Target;
use crate::revocation;
use crate::x509::{self, missing, TrustStore};

/// Judges `captured.chain` (not empty) for `target` and stores the verdict, the revocation
/// report and the caIssuers outcome in `result`.
pub(super) async fn judge_chain(
    prober: &Prober,
    target: &Target,
    captured: &Captured,
    trust: &Arc<TrustStore>,
    result: &mut ProbeResult,
) {
    let mut report = x509::analyse(
        &captured.chain,
        &target.server_name,
        trust,
        prober.clock.unix_now(),
    );
    let Some(checker) = &prober.revocation else {
        result.chain = Some(report);
        return;
    };
    let started = Instant::now();
    let budget = started + target.timeout;
    let issuers = async {
        if !missing::worth_fetching(&report) {
            return None;
        }
        let found = aia::find_missing(
            &prober.caches.issuers,
            checker.http(),
            &captured.chain,
            &report,
            trust,
            budget,
        )
        .await;
        Some((found, started.elapsed()))
    };
    let revocation = async {
        let input = revocation::Input {
            target: &target.name,
            chain: &captured.chain,
            report: &report,
            stapled: &captured.ocsp_response,
            trust,
            settings: target.revocation,
        };
        let verdict = checker.check(&input, budget).await;
        (verdict, started.elapsed())
    };
    let (issuers, (verdict, revocation_took)) = tokio::join!(issuers, revocation);
    revocation::apply(&verdict, &mut report);
    result.revocation = Some(verdict);
    result.phases.push((Phase::Revocation, revocation_took));
    if let Some(((completed, outcome), took)) = issuers {
        match &completed {
            Some(completed) => missing::mark_missing_intermediate(&mut report, completed),
            None => tracing::debug!(
                target_name = %target.name,
                error = outcome.error.as_deref().unwrap_or("the downloads reach no trust anchor"),
                "no missing intermediate found"
            ),
        }
        result.phases.push((Phase::Aia, took));
        result.aia = Some(outcome);
    }
    result.chain = Some(report);
}
