//! Name resolution like the system resolver (glibc with `hosts: files dns`): a name that
//! `/etc/hosts` knows is answered from it alone — both families, no query leaves the machine —
//! and every other name goes to the name servers of `/etc/resolv.conf`, A and AAAA. hickory is
//! used rather than getaddrinfo because getaddrinfo runs on tokio's blocking pool, where a
//! timeout cannot stop it and a dead DNS server would pile up blocked threads.
//!
//! hickory caches the name servers' answers, negative ones too, for their TTL; one resolver is
//! built per exporter and shared by every probe and every reload, so its cache is too.

mod hosts;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, Record, RecordType};
use hickory_resolver::{ResolverBuilder, TokioResolver};

use super::reason::{ProbeFailure, ProbeReason};
use crate::config::{Address, Host};
use hosts::HostsFile;

/// The system's hosts file.
const SYSTEM_HOSTS: &str = "/etc/hosts";

/// The longest a negative answer (NXDOMAIN, or no record of the asked type) is believed, whatever
/// the zone's SOA says (many say a day): a name added to DNS is seen within one default probe
/// interval. Shorter negative TTLs are kept; an answer without an SOA is not cached (RFC 2308).
pub const NEGATIVE_MAX_TTL: Duration = Duration::from_secs(300);

/// A shared resolver (clones share the hosts file and the cache of answers).
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    /// The hosts file asked first; `None` to ask the name servers for every name.
    hosts: Option<Arc<HostsFile>>,
    /// The name servers asked, in order, for the checks that send their own queries
    /// ([`super::dane`]).
    name_servers: Arc<[SocketAddr]>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    /// The system configuration: `/etc/hosts`, then `/etc/resolv.conf`'s name servers. When
    /// `/etc/resolv.conf` cannot be read, only `/etc/hosts` and literals resolve (never a public
    /// resolver the operator did not choose).
    pub fn from_system() -> Resolver {
        let name_servers = match hickory_resolver::system_conf::read_system_conf() {
            Ok((config, _)) => config
                .name_servers()
                .iter()
                .map(|ns| {
                    let port = ns.connections.first().map_or(53, |c| c.port);
                    SocketAddr::new(ns.ip, port)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let builder = match TokioResolver::builder_tokio() {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "cannot read the system resolver configuration; only /etc/hosts will resolve");
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], vec![]),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        Resolver::build(builder, Some(Path::new(SYSTEM_HOSTS)), &name_servers)
    }

    /// `dns.name_servers` of the configuration: `/etc/hosts` first, as [`Resolver::from_system`],
    /// then `servers` (over UDP, each at its own port) instead of `/etc/resolv.conf`'s.
    pub fn configured(servers: &[SocketAddr]) -> Resolver {
        Resolver::build(
            Resolver::servers(servers),
            Some(Path::new(SYSTEM_HOSTS)),
            servers,
        )
    }

    /// The resolver for a configuration naming `servers` (`dns.name_servers`): `system` when
    /// it names none, else [`Resolver::configured`].
    pub fn for_config(system: &Resolver, servers: &[SocketAddr]) -> Resolver {
        if servers.is_empty() {
            system.clone()
        } else {
            Resolver::configured(servers)
        }
    }

    /// A resolver that asks only `servers` (over UDP, each at its own port) and does not read
    /// `/etc/hosts`: for tests that need a name server which is silent, slow or flapping, on a
    /// loopback port of their own. Same timeouts, attempts and cache as [`Resolver::from_system`].
    pub fn with_name_servers(servers: &[SocketAddr]) -> Resolver {
        Resolver::build(Resolver::servers(servers), None, servers)
    }

    /// Like [`Resolver::from_system`], with `hosts` for `/etc/hosts` and `servers` (as in
    /// [`Resolver::with_name_servers`]) for the name servers of `/etc/resolv.conf`: for tests
    /// that check which names reach a name server, without editing the system's files.
    pub fn with_hosts_file_and_name_servers(hosts: &Path, servers: &[SocketAddr]) -> Resolver {
        Resolver::build(Resolver::servers(servers), Some(hosts), servers)
    }

    /// A builder that asks `servers` over UDP.
    fn servers(servers: &[SocketAddr]) -> ResolverBuilder<TokioRuntimeProvider> {
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp])
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        )
    }

    /// The options every resolver here shares (A and AAAA, 2 s per query, 2 attempts, answers
    /// cached for their TTL, negative ones for at most [`NEGATIVE_MAX_TTL`]), with `hosts` the
    /// hosts file asked first, if any. hickory's own hosts lookup is off: it answers A and AAAA
    /// from the file separately, so a name with only an IPv4 line still asked the name servers
    /// for AAAA at every probe.
    fn build(
        mut builder: ResolverBuilder<TokioRuntimeProvider>,
        hosts: Option<&Path>,
        name_servers: &[SocketAddr],
    ) -> Resolver {
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        opts.negative_max_ttl = Some(NEGATIVE_MAX_TTL);
        let inner = builder
            .build()
            .expect("a resolver from a parsed configuration always builds");
        Resolver {
            inner,
            hosts: hosts.map(|path| Arc::new(HostsFile::new(path))),
            name_servers: name_servers.into(),
        }
    }

    /// The name servers this resolver asks, in order (`dns.name_servers`, else
    /// `/etc/resolv.conf`'s).
    pub fn name_servers(&self) -> &[SocketAddr] {
        &self.name_servers
    }

    /// Every address of `address`, A before AAAA. Literals come back as they are; a name the
    /// hosts file knows gets the file's addresses and no query.
    pub async fn resolve(&self, address: &Address) -> Result<Vec<SocketAddr>, ProbeFailure> {
        let name = match &address.host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, address.port)]),
            Host::Name(name) => name,
        };
        if let Some(ips) = self.hosts.as_ref().and_then(|hosts| hosts.lookup(name)) {
            return Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, address.port))
                .collect());
        }
        let lookup =
            self.inner.lookup_ip(name.as_str()).await.map_err(|e| {
                ProbeFailure::new(ProbeReason::Dns, format!("resolving {name}: {e}"))
            })?;
        let addrs: Vec<SocketAddr> = lookup
            .iter()
            .map(|ip: IpAddr| SocketAddr::new(ip, address.port))
            .collect();
        if addrs.is_empty() {
            return Err(ProbeFailure::new(
                ProbeReason::Dns,
                format!("{name} has no A or AAAA record"),
            ));
        }
        Ok(addrs)
    }

    /// The records of type `record_type` at `name` (an absolute name; CNAMEs followed, as the
    /// name servers answer them), for the DNS checks ([`super::caa`]). No record (NXDOMAIN or
    /// an empty answer) is an empty list; a failure says why, as a [`LookupFailure`].
    pub async fn lookup_records(
        &self,
        name: &str,
        record_type: RecordType,
    ) -> Result<Vec<Record>, LookupFailure> {
        let fqdn = Name::from_ascii(name)
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .map_err(|e| LookupFailure::new(LookupReason::Failed, format!("{name}: {e}")))?;
        match self.inner.lookup(fqdn, record_type).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == record_type)
                .cloned()
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => {
                let reason = match &e {
                    NetError::Timeout => LookupReason::Timeout,
                    NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
                        LookupReason::Servfail
                    }
                    _ => LookupReason::Failed,
                };
                Err(LookupFailure::new(
                    reason,
                    format!("{record_type} {name}: {e}"),
                ))
            }
        }
    }
}

/// Why a lookup of the DNS checks failed (the `reason` label of their error series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupReason {
    /// No name server answered in time.
    Timeout,
    /// The resolver answered SERVFAIL (a broken zone, failed DNSSEC validation, unreachable
    /// authoritative servers).
    Servfail,
    /// Any other failure (REFUSED, a malformed answer, no name server to ask).
    Failed,
}

impl crate::failure::Reason for LookupReason {
    fn as_str(self) -> &'static str {
        match self {
            LookupReason::Timeout => "dns_timeout",
            LookupReason::Servfail => "dns_servfail",
            LookupReason::Failed => "dns_failed",
        }
    }
}

/// A failed lookup: the reason and the resolver's words.
pub type LookupFailure = crate::failure::Failure<LookupReason>;
