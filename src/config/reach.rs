//! How the probe reaches a target and talks to it before TLS: the STARTTLS dialogue, which of the
//! resolved addresses it probes, the HTTP CONNECT proxy it goes through, and the client
//! certificate it presents.
//!
//! Kept apart from the other target settings because each of these changes the path a probe takes
//! ([`crate::probe`]) rather than how often or how long it runs.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::address::Address;
use crate::x509::client_identity::{ClientIdentity, IdentityFile};

/// A protocol whose plain-text dialogue upgrades the connection to TLS (`starttls:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Starttls {
    /// SMTP (RFC 3207): `EHLO`, then `STARTTLS` (ports 25 and 587).
    Smtp,
    /// IMAP (RFC 3501): `CAPABILITY`, then `STARTTLS` (port 143).
    Imap,
    /// POP3 (RFC 2595): `CAPA`, then `STLS` (port 110).
    Pop3,
    /// FTP (RFC 4217): `AUTH TLS` (port 21).
    Ftp,
    /// LDAP (RFC 4511): the StartTLS extended operation (port 389).
    Ldap,
    /// PostgreSQL: an SSLRequest, answered `S` by a server with SSL on (port 5432).
    Postgres,
    /// MySQL and MariaDB: an SSLRequest after the server's greeting, when it offers
    /// CLIENT_SSL (port 3306).
    Mysql,
    /// XMPP client-to-server (RFC 6120): `<starttls/>` in the stream, answered by
    /// `<proceed/>` (port 5222).
    Xmpp,
}

impl Starttls {
    /// The name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Starttls::Smtp => "smtp",
            Starttls::Imap => "imap",
            Starttls::Pop3 => "pop3",
            Starttls::Ftp => "ftp",
            Starttls::Ldap => "ldap",
            Starttls::Postgres => "postgres",
            Starttls::Mysql => "mysql",
            Starttls::Xmpp => "xmpp",
        }
    }
}

/// The name an SMTP probe gives in `EHLO` (`smtp_helo_name:`): a domain, or an address literal
/// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), as RFC 5321 §4.1.3 allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeloName(String);

impl HeloName {
    /// Checks `text` against RFC 5321's `Domain` and `address-literal`; the error says what is
    /// wrong with it.
    pub fn parse(text: &str) -> Result<HeloName, String> {
        let fail = |why: &str| Err(format!("{text:?} {why}"));
        if let Some(inner) = text.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return fail("opens an address literal with `[` but does not close it with `]`");
            };
            let literal = match inner.get(..5) {
                Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
                    inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
                }
                _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
            };
            return match literal {
                true => Ok(HeloName(text.to_string())),
                false => fail("is not an address literal: write [192.0.2.1] or [IPv6:2001:db8::1]"),
            };
        }
        if text.is_empty() {
            return fail("is empty: give a domain or an address literal such as [192.0.2.1]");
        }
        if text.len() > 255 {
            return fail("is longer than the 255 characters a domain may have");
        }
        for label in text.split('.') {
            let bytes = label.as_bytes();
            let ldh = bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
            let edges = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
            if !ldh || !edges || bytes.len() > 63 {
                return fail(
                    "is not a domain: labels of letters, digits and inner hyphens (at most 63                      each) joined by dots, or an address literal such as [192.0.2.1]",
                );
            }
        }
        Ok(HeloName(text.to_string()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which of a name's addresses are probed (`resolve:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolveMode {
    /// The first address that accepts a connection; series carry no `address` label, so they
    /// stay the same behind rotating DNS.
    #[default]
    First,
    /// Every A and AAAA address, each probed on its own and labelled `address="ip:port"`.
    All,
}

/// An HTTP proxy that tunnels probes with `CONNECT` (`proxy_url: http://[user:pass@]host:port`).
///
/// `Debug` and `Display` never show the password, so neither logs nor error messages leak it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl {
    /// Where the proxy listens.
    pub address: Address,
    /// Credentials for `Proxy-Authorization: Basic`, when the URL has a user.
    pub credentials: Option<ProxyCredentials>,
}

/// A proxy user and password, percent-decoded from the URL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyCredentials {
    /// The user, sent in the clear in the Basic credentials (and fine to log).
    pub user: String,
    /// The password: sent to the proxy only, never shown.
    pub password: String,
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.credentials {
            Some(c) => write!(f, "http://{}:***@{}", c.user, self.address),
            None => write!(f, "http://{}", self.address),
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl ProxyUrl {
    /// Parses `http://[user[:password]@]host:port[/]`. The port must be given, as for targets.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("{:?}: write it as http://host:port", redact(text)));
        };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "{:?}: only http:// proxies are supported (the tunnel itself carries TLS)",
                redact(text)
            ));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !(tail.is_empty() || tail == "/") {
            return Err(format!(
                "{:?}: a proxy URL has no path, query or fragment",
                redact(text)
            ));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let user = percent_decode(user)
                    .ok_or_else(|| format!("{:?}: bad %-escape in the user", redact(text)))?;
                let password = percent_decode(password)
                    .ok_or_else(|| format!("{:?}: bad %-escape in the password", redact(text)))?;
                if user.is_empty() {
                    return Err(format!("{:?}: the user before `@` is empty", redact(text)));
                }
                Some(ProxyCredentials { user, password })
            }
        };
        let address = Address::parse(host_port)
            .map_err(|e| format!("{:?}: the proxy address {e}", redact(text)))?;
        Ok(ProxyUrl {
            address,
            credentials,
        })
    }
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{}", &rest[end..])
        }
        None => text.to_string(),
    }
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// How one target is reached, with defaults applied and files loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Reach {
    /// The plain-text dialogue that precedes TLS, if any.
    pub starttls: Option<Starttls>,
    /// Which resolved addresses are probed.
    pub resolve: ResolveMode,
    /// The HTTP CONNECT proxy the probe goes through, if any (shared with the defaults').
    pub proxy: Option<Arc<ProxyUrl>>,
    /// The client certificate presented when the server asks for one (mutual TLS; shared
    /// with the defaults').
    pub client_identity: Option<Arc<ClientIdentity>>,
    /// The `EHLO` name of SMTP probes; `None`: the connection's local address as a literal
    /// (shared with the defaults').
    pub smtp_helo_name: Option<Arc<HeloName>>,
}

/// The reach settings as written, for a target or the `defaults:` block (borrowed, with the
/// locations errors point at).
pub struct RawReach<'a> {
    /// `starttls:`; always `None` for the `defaults:` block, which cannot set it.
    pub starttls: Option<Starttls>,
    /// `resolve:`; `None` when not written, so the defaults' (or `first`) applies.
    pub resolve: Option<ResolveMode>,
    /// `proxy_url:` as written, not yet parsed.
    pub proxy_url: Option<&'a Spanned<String>>,
    /// `client_cert:`, not yet read; half a pair without `client_key` is an error.
    pub client_cert: Option<&'a Spanned<PathBuf>>,
    /// `client_key:`, not yet read; half a pair without `client_cert` is an error.
    pub client_key: Option<&'a Spanned<PathBuf>>,
    /// `smtp_helo_name:` as written, not yet checked.
    pub smtp_helo_name: Option<&'a Spanned<String>>,
}

/// The `defaults:` part, parsed and loaded once and shared by every target.
#[derive(Debug, Clone, Default)]
pub struct ReachDefaults {
    resolve: Option<ResolveMode>,
    proxy: Option<Arc<ProxyUrl>>,
    client_identity: Option<Arc<ClientIdentity>>,
    smtp_helo_name: Option<Arc<HeloName>>,
}

impl ReachDefaults {
    /// Parses the defaults; errors carry the offending value's location and start with the key.
    pub fn from_raw(raw: RawReach<'_>) -> Result<ReachDefaults, (Location, String)> {
        Ok(ReachDefaults {
            resolve: raw.resolve,
            proxy: raw.proxy_url.map(parse_proxy).transpose()?.map(Arc::new),
            client_identity: load_identity(raw.client_cert, raw.client_key)?,
            smtp_helo_name: raw
                .smtp_helo_name
                .map(parse_helo_name)
                .transpose()?
                .map(Arc::new),
        })
    }
}

/// Combines a target's settings with the defaults. `here` is the target entry, for errors that
/// belong to no single value.
pub fn resolve_reach(
    defaults: &ReachDefaults,
    raw: RawReach<'_>,
    here: Location,
) -> Result<Reach, (Location, String)> {
    let proxy = match raw.proxy_url {
        Some(url) => Some(Arc::new(parse_proxy(url)?)),
        None => defaults.proxy.clone(),
    };
    // A pair given on the target replaces the default pair whole; half a pair is an error.
    let client_identity = if raw.client_cert.is_some() || raw.client_key.is_some() {
        load_identity(raw.client_cert, raw.client_key)?
    } else {
        defaults.client_identity.clone()
    };
    let resolve = raw.resolve.or(defaults.resolve).unwrap_or_default();
    if resolve == ResolveMode::All && proxy.is_some() {
        return Err((
            here,
            "resolve: `all` cannot be combined with proxy_url: the proxy resolves the name, \
             so there is only the one tunnel to probe"
                .into(),
        ));
    }
    let smtp_helo_name = match (raw.smtp_helo_name, raw.starttls) {
        (None, _) => defaults.smtp_helo_name.clone(),
        (Some(name), None | Some(Starttls::Smtp)) => Some(Arc::new(parse_helo_name(name)?)),
        (Some(name), Some(other)) => {
            return Err((
                name.referenced,
                format!(
                    "smtp_helo_name: only SMTP sends EHLO, and this entry has starttls: {}",
                    other.as_str()
                ),
            ))
        }
    };
    Ok(Reach {
        starttls: raw.starttls,
        resolve,
        proxy,
        client_identity,
        smtp_helo_name,
    })
}

/// Checks an `smtp_helo_name` value; the error points at the value.
fn parse_helo_name(name: &Spanned<String>) -> Result<HeloName, (Location, String)> {
    HeloName::parse(&name.value).map_err(|e| (name.referenced, format!("smtp_helo_name: {e}")))
}

/// Parses a `proxy_url` value; the error points at the value.
fn parse_proxy(url: &Spanned<String>) -> Result<ProxyUrl, (Location, String)> {
    ProxyUrl::parse(&url.value).map_err(|e| (url.referenced, format!("proxy_url: {e}")))
}

/// Loads a `client_cert`/`client_key` pair; both must be given.
fn load_identity(
    cert: Option<&Spanned<PathBuf>>,
    key: Option<&Spanned<PathBuf>>,
) -> Result<Option<Arc<ClientIdentity>>, (Location, String)> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), None) => Err((
            cert.referenced,
            "client_cert: given without client_key; name the PEM private key too".into(),
        )),
        (None, Some(key)) => Err((
            key.referenced,
            "client_key: given without client_cert; name the PEM certificate too".into(),
        )),
        (Some(cert), Some(key)) => ClientIdentity::load(&cert.value, &key.value)
            .map(|identity| Some(Arc::new(identity)))
            .map_err(|(file, message)| match file {
                IdentityFile::Cert => (cert.referenced, format!("client_cert: {message}")),
                IdentityFile::Key => (key.referenced, format!("client_key: {message}")),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_with_and_without_credentials() {
        let p = ProxyUrl::parse("http://proxy.example:3128").unwrap();
        assert_eq!(p.address.to_string(), "proxy.example:3128");
        assert!(p.credentials.is_none());
        let p = ProxyUrl::parse("HTTP://al%40ice:s%3Acret@[::1]:8080/").unwrap();
        let c = p.credentials.as_ref().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("al@ice", "s:cret"));
        assert_eq!(p.address.to_string(), "[::1]:8080");
    }

    #[test]
    fn proxy_password_never_shows() {
        let p = ProxyUrl::parse("http://u:hunter2@proxy.example:3128").unwrap();
        assert!(!format!("{p} {p:?}").contains("hunter2"));
        let e = ProxyUrl::parse("socks5://u:hunter2@proxy.example:1080").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("u:***@proxy.example"), "{e}");
    }

    #[test]
    fn bad_proxy_urls_are_rejected() {
        for bad in [
            "proxy.example:3128",
            "https://proxy.example:3128",
            "http://proxy.example",
            "http://proxy.example:3128/path",
            "http://:pw@proxy.example:3128",
            "http://u:%zz@proxy.example:3128",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    use crate::config::tests::err;

    /// A certificate and its key as PEM, made by rcgen.
    fn identity() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn unknown_enum_values_name_line_and_column() {
        let e = err("targets:\n  - address: a.example:25\n    starttls: smtps\n");
        assert!(e.contains("smtps") && e.contains("line 3 column 15"), "{e}");
        let e = err("defaults:\n  resolve: every\ntargets:\n  - address: a.example:443\n");
        assert!(e.contains("every") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn bad_proxy_url_points_at_the_value() {
        let e = err("targets:\n  - address: a.example:443\n    proxy_url: socks5://p:1080\n");
        assert!(e.contains("targets[0].proxy_url"), "{e}");
        assert!(e.contains("line 3 column 16"), "{e}");
        let e = err("defaults:\n  proxy_url: http://p\ntargets:\n  - address: a.example:443\n");
        assert!(
            e.contains("defaults.proxy_url") && e.contains("line 2 column 14"),
            "{e}"
        );
    }

    #[test]
    fn helo_names_are_domains_or_address_literals() {
        for good in [
            "mx1.example.com",
            "prober",
            "a-b.c0",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "[ipv6:::1]",
        ] {
            assert_eq!(HeloName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "cert expiry",
            "-lead.example",
            "trail-.example",
            "double..dot",
            "under_score.example",
            "[192.0.2.1",
            "[2001:db8::1]",
            "[IPv6:192.0.2.1]",
            "[300.0.0.1]",
        ] {
            assert!(HeloName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(HeloName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn smtp_helo_name_is_checked_where_it_is_written() {
        let ok = crate::config::Config::parse(
            "defaults:\n  smtp_helo_name: prober.example.net\ntargets:\n  - address: mx.example:25\n    starttls: smtp\n  - address: mx.example:587\n    starttls: smtp\n    smtp_helo_name: '[192.0.2.7]'\n",
        )
        .unwrap();
        let names: Vec<_> = ok
            .targets
            .iter()
            .map(|t| t.reach.smtp_helo_name.as_deref().map(HeloName::as_str))
            .collect();
        assert_eq!(names, [Some("prober.example.net"), Some("[192.0.2.7]")]);
        let unset = crate::config::Config::parse("targets:\n  - address: mx.example:25\n").unwrap();
        assert_eq!(unset.targets[0].reach.smtp_helo_name, None);

        let e = err("targets:\n  - address: mx.example:25\n    starttls: smtp\n    smtp_helo_name: cert-expiry exporter\n");
        assert!(
            e.contains("targets[0].smtp_helo_name") && e.contains("line 4 column 21"),
            "{e}"
        );
        assert!(e.contains("is not a domain"), "{e}");
        let e = err(
            "defaults:\n  smtp_helo_name: '[10.0.0.300]'\ntargets:\n  - address: mx.example:25\n",
        );
        assert!(
            e.contains("defaults.smtp_helo_name") && e.contains("line 2"),
            "{e}"
        );
        let e = err("targets:\n  - address: ldap.example:389\n    starttls: ldap\n    smtp_helo_name: prober.example\n");
        assert!(
            e.contains("only SMTP sends EHLO") && e.contains("line 4"),
            "{e}"
        );
    }

    #[test]
    fn resolve_all_through_a_proxy_is_rejected() {
        let e = err("targets:\n  - address: a.example:443\n    resolve: all\n    proxy_url: http://p.example:3128\n");
        assert!(
            e.contains("targets[0].resolve") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn client_key_problems_name_the_file_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = identity();
        let (_, other_key) = identity();
        let d = dir.path().display();
        std::fs::write(dir.path().join("c.pem"), cert).unwrap();
        std::fs::write(dir.path().join("k.pem"), key).unwrap();
        std::fs::write(dir.path().join("other.pem"), other_key).unwrap();

        let ok = crate::config::Config::parse(&format!(
            "defaults:\n  client_cert: {d}/c.pem\n  client_key: {d}/k.pem\ntargets:\n  - address: a.example:443\n"
        ))
        .unwrap();
        assert!(ok.targets[0].reach.client_identity.is_some());

        let e = err(&format!(
            "targets:\n  - address: a.example:443\n    client_cert: {d}/c.pem\n    client_key: {d}/missing.pem\n"
        ));
        assert!(
            e.contains("targets[0].client_key") && e.contains("missing.pem"),
            "{e}"
        );
        assert!(e.contains("line 4 column 17"), "{e}");

        let e = err(&format!(
            "targets:\n  - address: a.example:443\n    client_cert: {d}/c.pem\n    client_key: {d}/other.pem\n"
        ));
        assert!(
            e.contains("does not match") && e.contains("other.pem"),
            "{e}"
        );
        assert!(e.contains("line 4 column 17"), "{e}");

        let e = err(&format!(
            "targets:\n  - address: a.example:443\n    client_cert: {d}/k.pem\n    client_key: {d}/k.pem\n"
        ));
        assert!(
            e.contains("targets[0].client_cert") && e.contains("no PEM certificate"),
            "{e}"
        );
        assert!(e.contains("line 3 column 18"), "{e}");

        let e = err(&format!(
            "targets:\n  - address: a.example:443\n    client_cert: {d}/c.pem\n"
        ));
        assert!(
            e.contains("without client_key") && e.contains("line 3"),
            "{e}"
        );
    }
}
