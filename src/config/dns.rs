//! The DNS checks of an endpoint (`caa:`, `caa_identity:`, `dane:`): whether the name's CAA
//! records (RFC 8659) still let the CA that issued the served leaf issue the next one, and
//! whether its TLSA records (RFC 6698, at `_<port>._tcp.<server_name>`) match the served chain.
//! Opt-in, per target or in `defaults:`; never part of the TLS verdict (see
//! `docs/dns-checks.md`).

use std::net::{IpAddr, SocketAddr};

use serde_saphyr::{Location, Spanned};

/// The name servers of `dns.name_servers`, in order: `ip` (port 53) or `ip:port`, IPv6 in
/// brackets with a port. Empty when unset: `/etc/resolv.conf`'s are asked.
pub(super) fn name_servers(
    raw: Option<&super::raw::RawDns>,
) -> Result<Vec<SocketAddr>, (Location, String)> {
    let list = raw.and_then(|d| d.name_servers.as_ref());
    let mut servers = Vec::new();
    for entry in list.into_iter().flatten() {
        let text = entry.value.trim();
        let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
            text.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        match parsed {
            Some(addr) if addr.port() != 0 => servers.push(addr),
            _ => {
                return Err((
                    entry.referenced,
                    format!(
                        "dns.name_servers: {text:?} is not an IP address with an optional port (192.0.2.53, 127.0.0.1:5353, [2001:db8::53]:53)"
                    ),
                ))
            }
        }
    }
    Ok(servers)
}

/// The DNS checks of one target, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DnsChecks {
    /// Look up the CAA record set of `server_name` after each probe that got a chain.
    pub caa: bool,
    /// The CAA identity (an issuer domain, lower case, e.g. `letsencrypt.org`) of the CA that
    /// issued the leaf; when unset the built-in table by issuer organisation is used.
    pub caa_identity: Option<String>,
    /// Look up the TLSA records of `_<port>._tcp.<server_name>` after each probe that got a
    /// chain, and match them against it (DANE).
    pub dane: bool,
}

/// Resolves the target's values over the defaults'; errors start with the field name and carry
/// the value's location.
pub(super) fn resolve(
    defaults: (Option<bool>, Option<&Spanned<String>>),
    target: (Option<bool>, Option<&Spanned<String>>),
) -> Result<DnsChecks, (Location, String)> {
    let identity = match target.1.or(defaults.1) {
        Some(identity) => Some(
            check_identity(&identity.value)
                .map_err(|e| (identity.referenced, format!("caa_identity: {e}")))?,
        ),
        None => None,
    };
    Ok(DnsChecks {
        caa: target.0.or(defaults.0).unwrap_or(false),
        caa_identity: identity,
        dane: false,
    })
}

/// `dane:` of a target over the defaults' (default false).
pub(super) fn dane(defaults: Option<bool>, target: Option<bool>) -> bool {
    target.or(defaults).unwrap_or(false)
}

/// A CAA identity is an issuer domain name (RFC 8659 §4.2): dot-separated labels of letters,
/// digits and inner hyphens; compared without regard to case, so kept in lower case.
fn check_identity(value: &str) -> Result<String, String> {
    let value = value.trim_end_matches('.');
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if value.is_empty() || value.len() > 253 || !value.split('.').all(label_ok) {
        return Err(format!(
            "{value:?} is not an issuer domain name (such as letsencrypt.org)"
        ));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn caa_is_off_by_default_and_on_per_target_or_in_the_defaults() {
        let c = Config::parse(
            "defaults:\n  caa_identity: LetsEncrypt.org\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n    caa: true\n    caa_identity: pki.goog\n",
        )
        .unwrap();
        assert!(!c.targets[0].dns.caa);
        assert_eq!(
            c.targets[0].dns.caa_identity.as_deref(),
            Some("letsencrypt.org")
        );
        assert!(c.targets[1].dns.caa);
        assert_eq!(c.targets[1].dns.caa_identity.as_deref(), Some("pki.goog"));
        let c = Config::parse("defaults:\n  caa: true\ntargets:\n  - address: a.example:443\n")
            .unwrap();
        assert!(c.targets[0].dns.caa);
    }

    #[test]
    fn a_malformed_identity_is_refused_where_it_is_written() {
        let e = Config::parse(
            "targets:\n  - address: a.example:443\n    caa: true\n    caa_identity: \"lets encrypt\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("line 4"), "{}", e.message);
        assert!(e.message.contains("caa_identity:"), "{}", e.message);
    }

    #[test]
    fn name_servers_are_addresses_with_an_optional_port() {
        let c = Config::parse(
            "dns:\n  name_servers: [192.0.2.53, \"127.0.0.1:5353\", \"[2001:db8::53]:54\"]\ntargets:\n  - address: a.example:443\n",
        )
        .unwrap();
        let got: Vec<String> = c.name_servers.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            got,
            ["192.0.2.53:53", "127.0.0.1:5353", "[2001:db8::53]:54"]
        );
        assert!(Config::parse("targets:\n  - address: a.example:443\n")
            .unwrap()
            .name_servers
            .is_empty());
        let e = Config::parse(
            "dns:\n  name_servers: [ns.example]\ntargets:\n  - address: a.example:443\n",
        )
        .unwrap_err();
        assert!(
            e.message.contains("line 2") && e.message.contains("dns.name_servers"),
            "{}",
            e.message
        );
    }

    #[test]
    fn caa_needs_a_name_to_look_up() {
        let e = Config::parse("targets:\n  - address: 127.0.0.1:443\n    caa: true\n").unwrap_err();
        assert!(e.message.contains("caa:"), "{}", e.message);
        let e = Config::parse("targets:\n  - path: /etc/ssl/*.pem\n    caa: true\n").unwrap_err();
        assert!(e.message.contains("caa:"), "{}", e.message);
        // From the defaults, a target without a name is simply not checked.
        let c = Config::parse("defaults:\n  caa: true\ntargets:\n  - address: 127.0.0.1:443\n  - path: /etc/ssl/*.pem\n")
            .unwrap();
        assert!(c.targets.iter().all(|t| !t.dns.caa));
    }

    #[test]
    fn dane_is_off_by_default_and_on_per_target_or_in_the_defaults() {
        let c = Config::parse(
            "defaults:\n  dane: true\ntargets:\n  - address: mx.example:25\n    starttls: smtp\n  - address: b.example:443\n    dane: false\n  - address: 127.0.0.1:443\n",
        )
        .unwrap();
        assert!(c.targets[0].dns.dane);
        assert!(!c.targets[1].dns.dane);
        // From the defaults, a target without a name is not checked.
        assert!(!c.targets[2].dns.dane);
        let c = Config::parse("targets:\n  - address: a.example:443\n").unwrap();
        assert!(!c.targets[0].dns.dane);
    }

    #[test]
    fn dane_needs_a_name_and_a_boolean_where_it_is_written() {
        let e = Config::parse("targets:\n  - address: 127.0.0.1:25\n    dane: true\n").unwrap_err();
        assert!(
            e.message.contains("line 3") && e.message.contains("dane:"),
            "{}",
            e.message
        );
        let e = Config::parse("targets:\n  - path: /etc/ssl/*.pem\n    dane: true\n").unwrap_err();
        assert!(e.message.contains("dane:"), "{}", e.message);
        let e = Config::parse("targets:\n  - address: a.example:25\n    dane: sometimes\n")
            .unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
    }
}
