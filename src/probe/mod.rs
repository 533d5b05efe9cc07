//! Probing one endpoint: resolve ▶ connect ▶ handshake ▶ judge the chain. File targets are
//! read instead ([`files`]: list ▶ read ▶ decode ▶ judge).
//!
//! Each stage lives in its own file and reports failure as a [`ProbeFailure`] with a fixed reason
//! label. The whole probe shares one deadline (the target's `timeout`), so a server that never
//! answers costs exactly its timeout and nothing more.
//!
//! Optional stages, per target: an HTTP CONNECT [`proxy`] instead of resolving and connecting
//! directly, a [`starttls`] dialogue before the handshake, a client certificate
//! ([`client_auth`]), and probing [`every_address`] of a name instead of the first that answers.
//!
//! Diagnostics on top of the handshake: whether the server still speaks TLS 1.0/1.1
//! ([`legacy`], on connections of its own within the same deadline), and the intermediate a
//! server fails to send, fetched from the leaf's caIssuers URL ([`aia`], alongside revocation
//! in [`judge`]), and the other certificates a server offers to clients with other signature
//! schemes ([`leaves`], also on connections of their own).

pub mod acme_directory;
pub mod aia;
pub mod caa;
pub mod client_auth;
pub mod connect;
pub mod dane;
pub mod every_address;
pub mod files;
mod judge;
pub mod kubernetes;
pub mod leaves;
pub mod legacy;
pub mod proxy;
pub mod reason;
pub mod renewal;
pub mod resolve;
pub mod result;
pub mod starttls;
pub mod tls;
pub mod url;

use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::config::{ProxyUrl, ResolveMode, Target, TargetKind};
use crate::revocation::Revocation;
use crate::x509::TrustStores;
pub use reason::{ProbeFailure, ProbeReason};
pub use resolve::Resolver;
pub use result::{
    Instance, KubeKey, KubeKind, Phase, ProbeResult, Timings, TlsSession, TlsVersion,
};
pub use starttls::Stall;

/// What every probe needs that outlives one probe: the resolver and the trust anchors.
#[derive(Debug, Clone)]
pub struct Prober {
    /// Resolves target and proxy names; clones share one cache of answers.
    pub resolver: Resolver,
    /// The trust stores of the configuration in force, one per `ca_file`, so a chain is
    /// judged against its own target's anchors.
    pub trust: TrustStores,
    /// The revocation checker with its caches, shared across reloads; `None` skips revocation
    /// (and the caIssuers downloads, which use its HTTP client).
    pub revocation: Option<Arc<Revocation>>,
    /// The caches of the legacy-protocol check and the caIssuers downloads.
    pub caches: Arc<DiagnosticCaches>,
    /// The moment chains are judged at: the system clock, save in test suites whose vectors
    /// have a validation time of their own.
    pub clock: Clock,
}

/// What the diagnostic steps keep between probes; shared across reloads, like the revocation
/// caches, so a reload does not re-ask every server for TLS 1.0.
#[derive(Debug, Default)]
pub struct DiagnosticCaches {
    /// Legacy-protocol answers per target and address.
    pub legacy: legacy::LegacyCache,
    /// Issuer certificates downloaded per caIssuers URL.
    pub issuers: aia::IssuerCache,
    /// URL targets' bodies per URL, for conditional GETs.
    pub urls: url::UrlCache,
    /// The other leaves each target and address offers.
    pub leaves: leaves::LeafCache,
    /// Renewal windows per certID (RFC 9773).
    pub renewal: renewal::RenewalCache,
    /// ACME directories per URL, for the renewal windows and the CAA identities.
    pub acme_directories: acme_directory::DirectoryCache,
}

impl Prober {
    /// A prober on the system clock, with caches of its own and no revocation checks; the
    /// `with_` methods change each.
    pub fn new(resolver: Resolver, trust: TrustStores) -> Prober {
        Prober {
            resolver,
            trust,
            revocation: None,
            caches: Arc::default(),
            clock: Clock::System,
        }
    }

    /// Judges chains at the moments `clock` gives instead of the system clock's.
    pub fn with_clock(mut self, clock: Clock) -> Prober {
        self.clock = clock;
        self
    }

    /// Keeps the diagnostic answers in `caches` (which outlive this prober).
    pub fn with_caches(mut self, caches: Arc<DiagnosticCaches>) -> Prober {
        self.caches = caches;
        self
    }

    /// Checks revocation with `checker` (whose caches outlive this prober).
    pub fn with_revocation(mut self, checker: Arc<Revocation>) -> Prober {
        self.revocation = Some(checker);
        self
    }

    /// Probes `target` and returns one result per endpoint probed or file read: one, one per
    /// resolved address with `resolve: all`, or one per file of a file target.
    pub async fn probe_all(&self, target: &Target) -> Vec<ProbeResult> {
        match &target.kind {
            TargetKind::CertFiles(source) => {
                let trust = self.trust.get(target.ca_file.as_deref());
                files::probe(target, source, trust).await
            }
            TargetKind::Kubernetes(source) => {
                let trust = self.trust.get(target.ca_file.as_deref());
                kubernetes::list_once(target, source, trust).await
            }
            TargetKind::Endpoint(address) if target.reach.resolve == ResolveMode::All => {
                every_address::probe(self, target, address).await
            }
            TargetKind::Endpoint(_) => vec![self.probe(target).await],
            TargetKind::Url(source) => {
                let trust = self.trust.get(target.ca_file.as_deref());
                let fetcher = self.revocation.as_deref().map(Revocation::http);
                vec![url::probe(target, source, fetcher, &self.caches.urls, trust).await]
            }
        }
    }

    /// Watches a Kubernetes target forever, handing `publish` every result each time they
    /// change (see [`kubernetes`]); returns at once for any other kind of target.
    pub async fn watch_kubernetes(&self, target: &Target, publish: &kubernetes::Publish<'_>) {
        if let TargetKind::Kubernetes(source) = &target.kind {
            let trust = self.trust.get(target.ca_file.as_deref());
            kubernetes::watch(source, trust, publish).await;
        }
    }

    /// Probes `target` once, within its timeout. Never fails: failures are in the result.
    pub async fn probe(&self, target: &Target) -> ProbeResult {
        let started = Instant::now();
        let deadline = started + target.timeout;
        let mut result = ProbeResult::new();
        if let Err(failure) = self.run(target, deadline, &mut result).await {
            result.failure = Some(failure);
        }
        finish(&mut result, started);
        result
    }

    async fn run(
        &self,
        target: &Target,
        deadline: Instant,
        result: &mut ProbeResult,
    ) -> Result<(), ProbeFailure> {
        let TargetKind::Endpoint(address) = &target.kind else {
            // Certificate files are read by `probe_all`, never connected to.
            return Err(ProbeFailure::new(
                ProbeReason::Dns,
                "the target has no address to probe",
            ));
        };
        if let Some(proxy) = &target.reach.proxy {
            let stream = self.tunnel(address, proxy, deadline, result).await?;
            return self.secure(target, stream, deadline, result).await;
        }
        let addrs = timed(
            result,
            Phase::Dns,
            deadline,
            ProbeReason::DnsTimeout,
            async { self.resolver.resolve(address).await },
        )
        .await?;
        self.connect_and_secure(target, &addrs, deadline, result)
            .await
    }

    /// Connects to the first of `addrs` that answers, then secures the connection.
    async fn connect_and_secure(
        &self,
        target: &Target,
        addrs: &[std::net::SocketAddr],
        deadline: Instant,
        result: &mut ProbeResult,
    ) -> Result<(), ProbeFailure> {
        let (stream, peer) = timed(
            result,
            Phase::Connect,
            deadline,
            ProbeReason::ConnectTimeout,
            async { connect::connect(addrs, deadline).await },
        )
        .await?;
        result.peer = Some(peer);
        self.secure(target, stream, deadline, result).await
    }

    /// Reaches the target through its proxy: the proxy's name is resolved (phase `dns`), then
    /// connecting to it and asking for the tunnel make up phase `connect`.
    async fn tunnel(
        &self,
        address: &crate::config::Address,
        proxy: &ProxyUrl,
        deadline: Instant,
        result: &mut ProbeResult,
    ) -> Result<TcpStream, ProbeFailure> {
        let unreachable = |f: ProbeFailure| {
            ProbeFailure::new(ProbeReason::ProxyConnect, format!("proxy: {}", f.detail))
        };
        let addrs = timed(
            result,
            Phase::Dns,
            deadline,
            ProbeReason::ProxyConnect,
            async {
                self.resolver
                    .resolve(&proxy.address)
                    .await
                    .map_err(unreachable)
            },
        )
        .await?;
        let (stream, peer) = timed(
            result,
            Phase::Connect,
            deadline,
            ProbeReason::ProxyConnect,
            async {
                let (mut stream, peer) = connect::connect(&addrs, deadline)
                    .await
                    .map_err(unreachable)?;
                let tunnel = proxy::open_tunnel(&mut stream, proxy, address);
                match tokio::time::timeout_at(deadline, tunnel).await {
                    Ok(opened) => opened.map(|()| (stream, peer)),
                    Err(_) => Err(ProbeFailure::new(
                        ProbeReason::ConnectTimeout,
                        format!(
                            "proxy {} did not open the tunnel to {} before the timeout",
                            proxy.address, address
                        ),
                    )),
                }
            },
        )
        .await?;
        result.peer = Some(peer);
        Ok(stream)
    }

    /// On a connected stream: the STARTTLS dialogue if any, the TLS handshake, the server's
    /// verdict on a client certificate, and the chain's judgement.
    async fn secure(
        &self,
        target: &Target,
        stream: TcpStream,
        deadline: Instant,
        result: &mut ProbeResult,
    ) -> Result<(), ProbeFailure> {
        let stream = match target.reach.starttls {
            Some(protocol) => {
                let names = starttls::Names::of(target, &stream);
                let start = Instant::now();
                let upgraded = starttls::upgrade(protocol, stream, names, deadline).await;
                result.phases.push((Phase::Starttls, start.elapsed()));
                match upgraded {
                    Ok(stream) => stream,
                    Err(e) => {
                        result.starttls_stall = e.stall;
                        return Err(e.failure);
                    }
                }
            }
            None => stream,
        };
        let client_cert = target
            .reach
            .client_identity
            .as_ref()
            .map(|identity| identity.certified_key());

        let phase_start = Instant::now();
        let handshake = tokio::time::timeout_at(
            deadline,
            tls::handshake(stream, &target.server_name, client_cert, deadline),
        )
        .await;
        let trust = self.trust.get(target.ca_file.as_deref());
        let (failure, captured) = match handshake {
            Ok(mut h) => {
                let failure = match &mut h.stream {
                    Ok(stream) => {
                        let session = tls::session(stream);
                        // In TLS 1.3 the server judges the client certificate after the client
                        // is done: wait for its word (an alert, if it refuses).
                        let verdict = if h.captured.client_cert_requested
                            && session.version == TlsVersion::Tls13
                        {
                            client_auth::await_verdict(stream, deadline)
                                .await
                                .err()
                                .map(|e| tls::classify(&e, &h.captured))
                        } else {
                            None
                        };
                        result.tls = Some(session);
                        verdict
                    }
                    Err(f) => Some(f.clone()),
                };
                (failure, Some(h.captured))
            }
            Err(_) => (
                Some(ProbeFailure::new(
                    ProbeReason::Timeout,
                    format!(
                        "no complete TLS handshake within the {} timeout",
                        humantime::format_duration(target.timeout)
                    ),
                )),
                None,
            ),
        };
        result
            .phases
            .push((Phase::Handshake, phase_start.elapsed()));
        // Read at most once in this probe, by the renewal lookup or the CAA check.
        let mut directory = None;
        if let Some(mut captured) = captured {
            directory = self.acme_directory(target, captured.chain.first());
            result.client_cert_requested = captured.client_cert_requested;
            legacy::step(
                self,
                target,
                failure.as_ref(),
                &mut captured,
                deadline,
                result,
            )
            .await;
            match (result.peer, captured.chain.first()) {
                (Some(peer), Some(leaf))
                    if leaves::wanted(&captured, failure.as_ref(), result, deadline) =>
                {
                    // The other leaves are looked for while the main chain is judged, on a
                    // budget of their own as the judgement's network part has: a server slow
                    // to greet (a STARTTLS greeting delay) must not make every look time out.
                    let leaf = leaf.clone();
                    let started = Instant::now();
                    let budget = started + target.timeout;
                    let discover = async {
                        let found =
                            leaves::discover(self, target, peer, &leaf, &trust, budget).await;
                        (found, started.elapsed())
                    };
                    let judge = judge::judge_chain(
                        self,
                        target,
                        &captured,
                        &trust,
                        directory.as_ref(),
                        result,
                    );
                    let ((), (discovered, took)) = tokio::join!(judge, discover);
                    result.phases.push((Phase::Leaves, took));
                    if let Some(main) = &result.chain {
                        result.leaves = leaves::report(main, discovered).map(Box::new);
                    }
                }
                (_, Some(_)) => {
                    judge::judge_chain(self, target, &captured, &trust, directory.as_ref(), result)
                        .await;
                }
                (_, None) => {}
            }
            self.check_dane(target, &captured.chain, result).await;
        }
        self.check_caa(target, directory.as_ref(), result).await;
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

impl Prober {
    /// This probe's reading of the target's ACME directory (its URL, or the built-in one of
    /// `leaf`'s CA for `auto`), when it has one and there is an HTTP client (the revocation
    /// checker's).
    fn acme_directory(
        &self,
        target: &Target,
        leaf: Option<&rustls_pki_types::CertificateDer<'_>>,
    ) -> Option<acme_directory::OneRead<'_>> {
        let http = self.revocation.as_ref()?.http();
        let url = renewal::directory_for(&target.acme_directory, leaf?)?;
        Some(acme_directory::OneRead::new(
            &self.caches.acme_directories,
            http,
            url,
        ))
    }

    /// The CAA check ([`caa`]) of a target with `caa: true` whose probe got a leaf, on a budget
    /// of its own (the target's timeout), as the judgement's network part has. Without
    /// `caa_identity`, the target's ACME directory (`directory`) is asked for the CA's
    /// identities — read already in this probe when the renewal lookup ran.
    async fn check_caa(
        &self,
        target: &Target,
        directory: Option<&acme_directory::OneRead<'_>>,
        result: &mut ProbeResult,
    ) {
        let Some(leaf) = result
            .chain
            .as_ref()
            .and_then(|c| c.certs.first())
            .filter(|_| target.dns.caa)
            .cloned()
        else {
            return;
        };
        let configured = target.dns.caa_identity.as_deref();
        let read = match (directory, configured) {
            (Some(d), None) => Some(
                d.get(crate::clock::unix_now(), Instant::now() + target.timeout)
                    .await,
            ),
            _ => None,
        };
        let identities = caa::choose(
            configured,
            directory.map(acme_directory::OneRead::url),
            read.as_ref(),
            &leaf,
        );
        let check = caa::check(
            &self.resolver,
            &target.server_name,
            &leaf,
            identities.clone(),
        );
        result.caa = Some(Box::new(
            match tokio::time::timeout(target.timeout, check).await {
                Ok(report) => report,
                Err(_) => {
                    let mut report = caa::report(&target.server_name, &leaf, identities);
                    report.outcome = Err(crate::failure::Failure::new(
                        caa::CaaReason::DnsTimeout,
                        format!(
                            "the CAA lookups took longer than the {} timeout",
                            humantime::format_duration(target.timeout)
                        ),
                    ));
                    report
                }
            },
        ));
    }
}

impl Prober {
    /// The DANE check ([`dane`]) of a target with `dane: true` whose handshake got a chain, on
    /// a budget of its own (the target's timeout), as the CAA check has.
    async fn check_dane(
        &self,
        target: &Target,
        chain: &[rustls::pki_types::CertificateDer<'static>],
        result: &mut ProbeResult,
    ) {
        let Some(address) = target.address().filter(|_| target.dns.dane) else {
            return;
        };
        if chain.is_empty() {
            return;
        }
        let servers = self.resolver.name_servers();
        let check = dane::check(servers, &target.server_name, address.port, chain);
        let report = match tokio::time::timeout(target.timeout, check).await {
            Ok(report) => report,
            Err(_) => dane::DaneReport {
                name: dane::tlsa_name(&target.server_name, address.port),
                leaf_record: None,
                outcome: Err(crate::failure::Failure::new(
                    dane::DaneReason::DnsTimeout,
                    format!(
                        "the TLSA lookup took longer than the {} timeout",
                        humantime::format_duration(target.timeout)
                    ),
                )),
            },
        };
        result.dane = Some(Box::new(report));
    }
}

/// Records the total duration and the finishing time of a probe that started at `started`.
fn finish(result: &mut ProbeResult, started: Instant) {
    result.phases.push((Phase::Total, started.elapsed()));
    // Kept until the next probe of the target: no spare room (the pushes grew it to 8).
    result.phases.shrink_to_fit();
    result.finished_at = SystemTime::now();
}

/// Runs one phase under the probe deadline and records how long it took.
async fn timed<T>(
    result: &mut ProbeResult,
    phase: Phase,
    deadline: Instant,
    timeout_reason: ProbeReason,
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
