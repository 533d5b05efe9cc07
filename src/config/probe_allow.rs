//! `probe_allow:`: what `/probe` may be asked to connect to.
//!
//! `/probe` makes the exporter open connections on behalf of whoever can reach its port, so it is
//! bounded by an allow-list checked against the target *as asked*, before any DNS lookup or
//! connection. Each entry is one of:
//!
//! - `*.example.com:443` — any name under `example.com` (one or more labels deep), port 443;
//! - `shop.example.com` — exactly that name, any port;
//! - `10.0.0.0/8`, `10.1.2.3`, `[fd00::]/8:636` — an IP literal in that network (or equal to
//!   that address), with an optional port;
//! - `*` or `*:443` — anything (at that port).
//!
//! Names are compared case-insensitively and without a trailing dot. A name is never matched
//! against a network entry: the check happens before resolution, so `10.0.0.0/8` permits the
//! literal `10.1.2.3:443`, not a name that happens to resolve into it.

use std::net::IpAddr;

use super::address::{Address, Host};

/// The parsed `probe_allow` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<AllowEntry>,
}

/// One entry: which hosts, and which port (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowEntry {
    hosts: Hosts,
    port: Option<u16>,
}

/// The host part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hosts {
    /// `*`: every host.
    Any,
    /// `name`: exactly this name (lowercase, no trailing dot).
    Name(String),
    /// `*.suffix`: names ending in `.suffix` (lowercase, no trailing dot).
    Subdomains(String),
    /// `ip/prefix` or a bare IP (full prefix).
    Network { base: IpAddr, prefix: u8 },
}

impl AllowList {
    /// Parses the entries; the error names the entry (by index) and what is wrong with it.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowList, String> {
        let entries = entries
            .into_iter()
            .enumerate()
            .map(|(i, text)| AllowEntry::parse(text).map_err(|e| format!("[{i}]: {text:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { entries })
    }

    /// Whether `address` (as asked, before resolution) may be probed.
    pub fn permits(&self, address: &Address) -> bool {
        self.entries.iter().any(|e| e.permits(address))
    }
}

impl AllowEntry {
    fn parse(text: &str) -> Result<AllowEntry, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty entry".into());
        }
        let (host, port) = split_port(text)?;
        let host = host.as_str();
        let hosts = if host == "*" {
            Hosts::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            Hosts::Subdomains(normal_name(suffix)?)
        } else if let Some(network) = parse_network(host)? {
            network
        } else {
            Hosts::Name(normal_name(host)?)
        };
        Ok(AllowEntry { hosts, port })
    }

    fn permits(&self, address: &Address) -> bool {
        if self.port.is_some_and(|p| p != address.port) {
            return false;
        }
        match (&self.hosts, &address.host) {
            (Hosts::Any, _) => true,
            (Hosts::Name(name), Host::Name(asked)) => same_name(asked, name),
            (Hosts::Subdomains(suffix), Host::Name(asked)) => {
                let asked = asked.trim_end_matches('.');
                asked.len() > suffix.len() + 1
                    && asked.as_bytes()[asked.len() - suffix.len() - 1] == b'.'
                    && asked[asked.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
            (Hosts::Network { base, prefix }, Host::Ip(ip)) => in_network(*ip, *base, *prefix),
            _ => false,
        }
    }
}

/// Splits `host[:port]`, where an IPv6 host is bracketed (`[fd00::]/8:443`, `[::1]`).
fn split_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("missing `]` after the IPv6 address")?;
        // The prefix may sit inside or right after the brackets: `[fd00::/8]` or `[fd00::]/8`.
        let (prefix, after) = match after.strip_prefix('/') {
            Some(tail) => {
                let end = tail.find(':').unwrap_or(tail.len());
                (Some(&tail[..end]), &tail[end..])
            }
            None => (None, after),
        };
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:port` after `]`")?,
            ),
        };
        let host = match prefix {
            Some(p) => format!("{inside}/{p}"),
            None => inside.to_string(),
        };
        (host, port)
    } else if text.matches(':').count() > 1 {
        return Err("an IPv6 address must be in brackets, such as [fd00::]/8 or [::1]:443".into());
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (text.to_string(), None),
        }
    };
    let port = match port {
        None | Some("*") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{p:?} is not a port (1-65535 or *)"))?,
        ),
    };
    Ok((host, port))
}

/// `ip/prefix` or a bare IP literal; `None` when `host` is not an IP at all (so a name).
fn parse_network(host: &str) -> Result<Option<Hosts>, String> {
    let (ip, prefix) = match host.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (host, None),
    };
    let Ok(base) = ip.parse::<IpAddr>() else {
        return match prefix {
            Some(_) => Err(format!("{ip:?} is not an IP address")),
            None => Ok(None),
        };
    };
    let max = if base.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{p:?} is not a prefix length (0-{max})"))?,
    };
    Ok(Some(Hosts::Network { base, prefix }))
}

/// A DNS name as entries store it: lowercase, no trailing dot, only name characters.
fn normal_name(name: &str) -> Result<String, String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(name)
    } else {
        Err("not a DNS name, `*.` followed by one, `*`, or an IP network such as 10.0.0.0/8".into())
    }
}

fn same_name(asked: &str, allowed: &str) -> bool {
    asked.trim_end_matches('.').eq_ignore_ascii_case(allowed)
}

/// Whether `ip` lies in `base/prefix` (an IPv4-mapped IPv6 address counts as its IPv4 address).
fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(entries.iter().copied()).unwrap()
    }

    fn permits(list: &AllowList, address: &str) -> bool {
        list.permits(&Address::parse(address).unwrap())
    }

    #[test]
    fn names_and_subdomains() {
        let l = list(&["*.example.com:443", "mail.example.org"]);
        assert!(permits(&l, "shop.example.com:443"));
        assert!(permits(&l, "a.b.EXAMPLE.com.:443"));
        assert!(
            !permits(&l, "example.com:443"),
            "the bare domain is not a subdomain"
        );
        assert!(!permits(&l, "evilexample.com:443"));
        assert!(
            !permits(&l, "shop.example.com:8443"),
            "port is part of the entry"
        );
        assert!(permits(&l, "mail.example.org:25"));
        assert!(permits(&l, "MAIL.example.org:993"));
        assert!(!permits(&l, "x.mail.example.org:25"));
    }

    #[test]
    fn networks_match_literals_only() {
        let l = list(&["10.0.0.0/8", "192.0.2.7:636", "[fd00::]/8:443", "[::1]"]);
        assert!(permits(&l, "10.200.3.4:443"));
        assert!(!permits(&l, "11.0.0.1:443"));
        assert!(permits(&l, "192.0.2.7:636"));
        assert!(!permits(&l, "192.0.2.7:443"));
        assert!(!permits(&l, "192.0.2.8:636"));
        assert!(permits(&l, "[fd12::5]:443"));
        assert!(!permits(&l, "[fd12::5]:80"));
        assert!(permits(&l, "[::1]:25"));
        assert!(
            permits(&l, "[::ffff:10.1.1.1]:443"),
            "v4-mapped counts as v4"
        );
        assert!(
            !permits(&l, "ten.example:443"),
            "a name never matches a network"
        );
    }

    #[test]
    fn wildcards() {
        assert!(permits(&list(&["*"]), "anything.example:1"));
        let l = list(&["*:443"]);
        assert!(permits(&l, "10.0.0.1:443"));
        assert!(!permits(&l, "10.0.0.1:444"));
        assert!(
            !permits(&list(&[]), "a.example:443"),
            "an empty list permits nothing"
        );
    }

    #[test]
    fn bad_entries_say_which_and_why() {
        for (entry, says) in [
            ("", "empty"),
            ("10.0.0.0/33", "prefix"),
            ("fd00::/8", "brackets"),
            ("host:0", "port"),
            ("host:https", "port"),
            ("bad host", "DNS name"),
            ("*.", "DNS name"),
            ("10.0.0.x/8", "IP address"),
        ] {
            let e = AllowList::parse(["ok.example", entry]).unwrap_err();
            assert!(e.starts_with("[1]:") && e.contains(says), "{entry:?}: {e}");
        }
    }
}
