//! Judging a captured chain: the verdict ([`crate::x509::analyse`]), then what the network can
//! add to it — revocation ([`crate::revocation`]) and, when the path does not build, the
//! intermediate the server left out ([`super::aia`]).
//!
//! The network part has one budget of its own, the target's `timeout`, shared by revocation
//! and the caIssuers download: a slow responder never hides the chain's facts. When the path
//! does not build and the leaf names a caIssuers URL, the download comes first, so that an
//! intermediate it finds can verify the leaf's OCSP and CRL answers (downloads are kept a day,
//! so this waits on the network only at the first probe); otherwise revocation runs alone.

use std::sync::Arc;

use tokio::time::Instant;

use super::acme_directory::OneRead;
use super::result::{Phase, ProbeResult};
use super::tls::Captured;
use super::{aia, renewal, Prober};
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
    directory: Option<&OneRead<'_>>,
    result: &mut ProbeResult,
) {
    let mut report = x509::analyse(
        &captured.chain,
        &target.server_name,
        trust,
        prober.clock.unix_now(),
    );
    if let Some(leaf) = report.certs.first() {
        if !captured.ocsp_response.is_empty() {
            report.stapled_scts =
                revocation::ocsp::stapled_scts(&captured.ocsp_response, &leaf.serial);
        }
    }
    let Some(checker) = &prober.revocation else {
        result.chain = Some(report);
        return;
    };
    let started = Instant::now();
    let budget = started + target.timeout;
    let issuers = if missing::worth_fetching(&report) {
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
    } else {
        None
    };
    let fetched: &[rustls_pki_types::CertificateDer<'_>] = match &issuers {
        Some(((Some(completion), _), _)) => &completion.issuers,
        _ => &[],
    };
    let revocation_started = Instant::now();
    let input = revocation::Input {
        target: &target.name,
        chain: &captured.chain,
        report: &report,
        stapled: &captured.ocsp_response,
        trust,
        fetched_issuers: fetched,
        settings: target.revocation,
    };
    let verdict = checker.check(&input, budget).await;
    let revocation_took = revocation_started.elapsed();
    revocation::apply(&verdict, &mut report);
    result.revocation = Some(verdict);
    result.phases.push((Phase::Revocation, revocation_took));
    if let Some(((completed, outcome), took)) = issuers {
        match &completed {
            Some(completed) => missing::mark_missing_intermediate(&mut report, &completed.report),
            None => tracing::debug!(
                target_name = %target.name,
                error = outcome.error.as_deref().unwrap_or("the downloads reach no trust anchor"),
                "no missing intermediate found"
            ),
        }
        result.phases.push((Phase::Aia, took));
        result.aia = Some(Box::new(outcome));
    }
    result.chain = Some(report);
    let renewal_started = Instant::now();
    result.renewal = renewal_window(prober, checker.http(), directory, target, captured)
        .await
        .map(Box::new);
    if result.renewal.is_some() {
        result
            .phases
            .push((Phase::RenewalInfo, renewal_started.elapsed()));
    }
}

/// The leaf's renewal window when the target has an ACME directory (RFC 9773; `directory`,
/// this probe's reading of it), with a budget of its own; whatever it says, the chain's
/// verdict stays as judged.
async fn renewal_window(
    prober: &Prober,
    http: &crate::fetch::Fetcher,
    directory: Option<&OneRead<'_>>,
    target: &Target,
    captured: &Captured,
) -> Option<renewal::RenewalOutcome> {
    let leaf = captured.chain.first()?;
    let directory = directory?;
    let window = renewal::look_up(
        &prober.caches.renewal,
        http,
        directory,
        leaf,
        // The cache's clock is the real one, whatever moment chains are judged at.
        crate::clock::unix_now(),
        Instant::now() + target.timeout,
    )
    .await;
    if let Err(e) = &window {
        tracing::debug!(target_name = %target.name, error = %e, "no renewal window");
    }
    Some(renewal::RenewalOutcome {
        directory: directory.url().to_string(),
        window,
    })
}
