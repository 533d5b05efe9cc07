//! `host:port` addresses as operators write them: a DNS name, an IPv4 literal or a bracketed IPv6
//! literal, and a port that must be given (guessing 443 would hide typos such as a missing `:993`).

use std::fmt;
use std::net::IpAddr;

/// The host part of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A name to resolve.
    Name(String),
    /// A literal address; no resolution needed.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Where to connect: host and TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// A name (lowercased) or an IP literal; also the SNI name when `server_name` is not set.
    pub host: Host,
    /// Always written out and never 0: no default 443 to hide a missing `:993`.
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

impl Address {
    /// Parses `host:port`, `1.2.3.4:port` or `[::1]:port`.
    pub fn parse(text: &str) -> Result<Address, String> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: missing `]` after the IPv6 address"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("{text:?}: missing `:port` after `]`"))?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("{text:?}: {ip:?} is not an IPv6 address"))?;
            (Host::Ip(ip), port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| format!("{text:?}: missing `:port` (write host:port)"))?;
            if host.contains(':') {
                return Err(format!(
                    "{text:?}: write an IPv6 address in brackets, as [addr]:port"
                ));
            }
            if host.is_empty() {
                return Err(format!("{text:?}: the host is empty"));
            }
            let host = match host.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => {
                    check_hostname(host).map_err(|e| format!("{text:?}: {e}"))?;
                    Host::Name(host.to_ascii_lowercase())
                }
            };
            (host, port)
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{text:?}: {port:?} is not a port number"))?;
        if port == 0 {
            return Err(format!("{text:?}: port 0 cannot be connected to"));
        }
        Ok(Address { host, port })
    }
}

/// Checks a `server_name` (SNI, and the name the certificate must cover) the way rustls will
/// take it when the probe runs: a DNS name, or an IP address written without brackets. The
/// one rule for every place a server name comes from: targets, target files, `/probe`
/// modules and requests, and names taken from an address's host.
pub fn check_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if rustls_pki_types::ServerName::try_from(name).is_ok() {
        return Ok(());
    }
    let bracketed = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .filter(|inner| inner.parse::<IpAddr>().is_ok());
    Err(match bracketed {
        Some(ip) => format!("{name:?}: write an IP address without brackets, as {ip}"),
        None => format!("{name:?} is not a DNS name or an IP address"),
    })
}

/// Rejects characters no DNS name can hold, so a typo fails at load time rather than as `dns`.
fn check_hostname(host: &str) -> Result<(), String> {
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".into());
    }
    // A single trailing dot (a fully qualified name) is allowed.
    let ok = host
        .strip_suffix('.')
        .unwrap_or(host)
        .split('.')
        .all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{host:?} is not a valid host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_literals() {
        let a = Address::parse("Shop.Example.com:443").unwrap();
        assert_eq!(a.host, Host::Name("shop.example.com".into()));
        assert_eq!(a.port, 443);
        let a = Address::parse("127.0.0.1:8443").unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:8443");
        let a = Address::parse("[::1]:993").unwrap();
        assert_eq!(a.to_string(), "[::1]:993");
    }

    #[test]
    fn rejects_what_cannot_be_dialled() {
        for bad in [
            "example.com",
            "::1:443",
            "[::1]443",
            "host:0",
            "host:99999",
            ":443",
            "a b:1",
            "[x]:1",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
