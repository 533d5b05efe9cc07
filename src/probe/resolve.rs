//! Name resolution like the system resolver: `/etc/hosts` first, then the name servers of
//! `/etc/resolv.conf`, A and AAAA. hickory is used rather than getaddrinfo because getaddrinfo
//! runs on tokio's blocking pool, where a timeout cannot stop it and a dead DNS server would
//! pile up blocked threads.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{ResolverBuilder, TokioResolver};

use super::result::ProbeFailure;
use crate::config::{Address, Host};

/// A shared resolver (it caches answers per their TTL).
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    /// The system configuration; when `/etc/resolv.conf` cannot be read, only `/etc/hosts` and
    /// literals resolve (never a public resolver the operator did not choose).
    pub fn from_system() -> Resolver {
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
        Resolver::build(builder, ResolveHosts::Always)
    }

    /// A resolver that asks only `servers` (over UDP, each at its own port) and does not read
    /// `/etc/hosts`: for tests that need a name server which is silent, slow or flapping, on a
    /// loopback port of their own. Same timeouts and attempts as [`Resolver::from_system`].
    pub fn with_name_servers(servers: &[SocketAddr]) -> Resolver {
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp])
            })
            .collect();
        let builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        );
        Resolver::build(builder, ResolveHosts::Never)
    }

    /// The options every resolver here shares (A and AAAA, 2 s per query, 2 attempts), with
    /// `hosts` deciding whether `/etc/hosts` is read first.
    fn build(mut builder: ResolverBuilder<TokioRuntimeProvider>, hosts: ResolveHosts) -> Resolver {
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.use_hosts_file = hosts;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        let inner = builder
            .build()
            .expect("a resolver from a parsed configuration always builds");
        Resolver { inner }
    }

    /// Every address of `address`, A before AAAA. Literals come back as they are.
    pub async fn resolve(&self, address: &Address) -> Result<Vec<SocketAddr>, ProbeFailure> {
        let name = match &address.host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, address.port)]),
            Host::Name(name) => name,
        };
        let lookup = self
            .inner
            .lookup_ip(name.as_str())
            .await
            .map_err(|e| ProbeFailure::new("dns", format!("resolving {name}: {e}")))?;
        let addrs: Vec<SocketAddr> = lookup
            .iter()
            .map(|ip: IpAddr| SocketAddr::new(ip, address.port))
            .collect();
        if addrs.is_empty() {
            return Err(ProbeFailure::new(
                "dns",
                format!("{name} has no A or AAAA record"),
            ));
        }
        Ok(addrs)
    }
}
