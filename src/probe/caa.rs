//! The CAA check (RFC 8659): would the CA that issued the served leaf be allowed to issue the
//! next one? After a probe that got a chain, for targets with `caa: true`.
//!
//! The relevant record set is the CAA set of the first name, climbing from the name the leaf
//! covers towards the root, that has one (CNAMEs are followed by the resolver, as for any
//! lookup; the climb goes through the original name's parents, not the alias target's). A
//! wildcard leaf (`*.example.com` covering `www.example.com`) is checked from `example.com`,
//! with `issuewild` properties when the set has any, else `issue`. The CA's CAA identities are,
//! in this order ([`choose`]): the target's `caa_identity`; the `meta.caaIdentities` of its ACME
//! directory (`acme_directory:`, read through [`super::acme_directory`] as the renewal lookup
//! reads it), when it has one and they can be read; the built-in table by the issuer's
//! organisation ([`IDENTITIES`]). Without any the answer is a reason, not a guess. Nothing here
//! touches the TLS verdict.

use std::sync::Arc;

use crate::failure::{Failure, Reason};
use crate::x509::dn::DnField;
use crate::x509::facts::CertFacts;
use hickory_resolver::proto::rr::{RData, RecordType};

use super::acme_directory::{CaaIdentitiesReason, Directory, DirectoryError, DirectoryReason};
use super::resolve::{LookupReason, Resolver};

/// The CAA identities of public CAs, by the organisation (O) of the leaf's issuer: the issuer
/// domains their CAA documentation (CP/CPS §4.2) names. Matched without regard to case.
pub const IDENTITIES: &[(&str, &[&str])] = &[
    ("Let's Encrypt", &["letsencrypt.org"]),
    ("Google Trust Services", &["pki.goog"]),
    ("Google Trust Services LLC", &["pki.goog"]),
    ("Sectigo Limited", &["sectigo.com"]),
    ("ZeroSSL", &["sectigo.com"]),
    ("DigiCert Inc", &["digicert.com"]),
    ("DigiCert, Inc.", &["digicert.com"]),
    ("GlobalSign nv-sa", &["globalsign.com"]),
    (
        "Amazon",
        &[
            "amazon.com",
            "amazontrust.com",
            "awstrust.com",
            "amazonaws.com",
        ],
    ),
    ("Buypass AS-983163327", &["buypass.com"]),
    ("Entrust, Inc.", &["entrust.net"]),
    ("SSL Corporation", &["ssl.com"]),
    ("GoDaddy.com, Inc.", &["godaddy.com"]),
    ("Starfield Technologies, Inc.", &["starfieldtech.com"]),
    ("Actalis S.p.A.", &["actalis.it"]),
    ("Asseco Data Systems S.A.", &["certum.pl"]),
];

/// Property tags whose meaning is known (RFC 8659 §4.2–4.4, RFC 8657, RFC 9495): an unknown tag
/// with the critical flag forbids issuance.
const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "contactemail",
    "contactphone",
    "issuemail",
    "issuevmc",
];

/// Why the CAA check has no answer (the `reason` label of `cert_caa_error_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaaReason {
    /// A CAA lookup timed out.
    DnsTimeout,
    /// A CAA lookup got SERVFAIL.
    DnsServfail,
    /// A CAA lookup failed otherwise.
    DnsFailed,
    /// CAA records restrict issuance, and the CA's CAA identity is not known: no
    /// `caa_identity` and the issuer's organisation is not in the built-in table.
    UnknownIdentity,
}

impl Reason for CaaReason {
    fn as_str(self) -> &'static str {
        match self {
            CaaReason::DnsTimeout => "dns_timeout",
            CaaReason::DnsServfail => "dns_servfail",
            CaaReason::DnsFailed => "dns_failed",
            CaaReason::UnknownIdentity => "unknown_identity",
        }
    }
}

/// Where the CA's CAA identities came from (the `identity_source` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentitySource {
    /// The target's `caa_identity`.
    Config,
    /// The `meta.caaIdentities` of the target's ACME directory.
    AcmeDirectory,
    /// The built-in table, by the issuer's organisation.
    Builtin,
    /// None of them: the identity is not known.
    None,
}

impl IdentitySource {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Config => "config",
            IdentitySource::AcmeDirectory => "acme_directory",
            IdentitySource::Builtin => "builtin",
            IdentitySource::None => "none",
        }
    }

    /// Where the identities came from, in words (for `check`).
    pub fn words(self) -> &'static str {
        match self {
            IdentitySource::Config => "from caa_identity",
            IdentitySource::AcmeDirectory => "from the ACME directory's meta.caaIdentities",
            IdentitySource::Builtin => "from the built-in table",
            IdentitySource::None => "not known",
        }
    }
}

/// Why the target's ACME directory gave no CAA identities, so the built-in table was asked
/// (the `directory_reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryFallback {
    /// The directory could not be read (its fetch's reason, or `bad_directory`).
    Directory(DirectoryReason),
    /// The directory has no `meta.caaIdentities`.
    NoCaaIdentities,
    /// Its `meta.caaIdentities` is not a list of domain names.
    BadCaaIdentities,
}

impl Reason for DirectoryFallback {
    fn as_str(self) -> &'static str {
        match self {
            DirectoryFallback::Directory(r) => r.as_str(),
            DirectoryFallback::NoCaaIdentities => "no_caa_identities",
            DirectoryFallback::BadCaaIdentities => "bad_caa_identities",
        }
    }
}

/// The ACME directory of a target with one, as a source of its CA's CAA identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryNote {
    /// The directory's URL.
    pub url: String,
    /// Why it gave no identities, when it was asked and gave none.
    pub fallback: Option<Failure<DirectoryFallback>>,
}

/// The CA's CAA identities and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities {
    /// The identities, lower case (empty when not known).
    pub list: Vec<String>,
    /// Their source.
    pub source: IdentitySource,
    /// The target's ACME directory, when it has one.
    pub directory: Option<Box<DirectoryNote>>,
}

/// What the relevant record set says about the leaf's CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaVerdict {
    /// No name up to the top-level domain has CAA records: every CA may issue.
    NoRecords,
    /// The set has no `issue` (or, for a wildcard, `issuewild`/`issue`) property: no restriction.
    Unrestricted,
    /// A property names the CA.
    Listed,
    /// The properties name other CAs only (or none, `issue ";"`).
    NotListed,
    /// A property with the critical flag and a tag this check does not know (named): no CA
    /// may issue (RFC 8659 §4.1).
    UnknownCritical(String),
}

impl CaaVerdict {
    /// Whether the CA may issue the next certificate.
    pub fn allowed(&self) -> bool {
        matches!(
            self,
            CaaVerdict::NoRecords | CaaVerdict::Unrestricted | CaaVerdict::Listed
        )
    }
}

/// The outcome of one CAA check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaReport {
    /// The name the check started from (the leaf's name, or a wildcard's parent).
    pub name: String,
    /// The name whose record set is the relevant one, when one was found.
    pub found_at: Option<String>,
    /// Whether the leaf covers the name by a wildcard (so `issuewild` applies).
    pub wildcard: bool,
    /// The CA's identities checked (empty when unknown).
    pub identities: Vec<String>,
    /// Where they came from.
    pub identity_source: IdentitySource,
    /// The target's ACME directory as a source of the identities, when it has one.
    pub directory: Option<Box<DirectoryNote>>,
    /// The verdict, or why there is none.
    pub outcome: Result<CaaVerdict, Failure<CaaReason>>,
}

/// One CAA property as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The issuer-critical flag.
    pub critical: bool,
    /// The tag (compared without regard to case).
    pub tag: String,
    /// The value as served.
    pub value: Vec<u8>,
}

/// The issuer domain of an `issue` or `issuewild` value (RFC 8659 §4.2: `[domain] [";"
/// parameters]`), lower case; `None` for a value naming no CA (`;`, empty) or one that is
/// malformed, which authorises no CA either.
pub fn issuer_domain(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let domain = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches([' ', '\t']);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (!domain.is_empty() && domain.split('.').all(label_ok)).then(|| domain.to_ascii_lowercase())
}

/// The verdict of the relevant record set `set` for a CA known by `identities` (lower case);
/// `None` when the set restricts issuance and `identities` is empty.
pub fn decide(set: &[Property], identities: &[String], wildcard: bool) -> Option<CaaVerdict> {
    if set.is_empty() {
        return Some(CaaVerdict::NoRecords);
    }
    if let Some(p) = set
        .iter()
        .find(|p| p.critical && !KNOWN_TAGS.iter().any(|t| p.tag.eq_ignore_ascii_case(t)))
    {
        return Some(CaaVerdict::UnknownCritical(p.tag.to_ascii_lowercase()));
    }
    let with_tag = |tag: &str| -> Vec<&Property> {
        set.iter()
            .filter(|p| p.tag.eq_ignore_ascii_case(tag))
            .collect()
    };
    let wild = with_tag("issuewild");
    let relevant = if wildcard && !wild.is_empty() {
        wild
    } else {
        with_tag("issue")
    };
    if relevant.is_empty() {
        return Some(CaaVerdict::Unrestricted);
    }
    if identities.is_empty() {
        return None;
    }
    let listed = relevant
        .iter()
        .any(|p| issuer_domain(&p.value).is_some_and(|d| identities.contains(&d)));
    Some(if listed {
        CaaVerdict::Listed
    } else {
        CaaVerdict::NotListed
    })
}

/// The CA's CAA identities from the built-in table, by the issuer's organisation.
pub fn builtin(leaf: &CertFacts) -> Vec<String> {
    let Some(org) = leaf.issuer_fields.get(DnField::O) else {
        return Vec::new();
    };
    IDENTITIES
        .iter()
        .find(|(o, _)| o.eq_ignore_ascii_case(org.trim()))
        .map(|(_, ids)| ids.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}

/// The CA's CAA identities, in order: `configured`; the `meta.caaIdentities` of the target's
/// ACME directory at `directory` (`read` is what reading it gave; `None` when it was not read,
/// as with `configured`); the built-in table by the leaf's issuer organisation.
pub fn choose(
    configured: Option<&str>,
    directory: Option<&str>,
    read: Option<&Result<Arc<Directory>, DirectoryError>>,
    leaf: &CertFacts,
) -> Identities {
    let mut note = directory.map(|url| {
        Box::new(DirectoryNote {
            url: url.to_string(),
            fallback: None,
        })
    });
    if let Some(identity) = configured {
        return Identities {
            list: vec![identity.to_string()],
            source: IdentitySource::Config,
            directory: note,
        };
    }
    if let (Some(note), Some(read)) = (note.as_mut(), read) {
        let fallback = match read {
            Ok(d) => match &d.caa_identities {
                Ok(list) => {
                    return Identities {
                        list: list.clone(),
                        source: IdentitySource::AcmeDirectory,
                        directory: Some(note.clone()),
                    }
                }
                Err(e) => Failure::new(
                    match e.reason {
                        CaaIdentitiesReason::Absent => DirectoryFallback::NoCaaIdentities,
                        CaaIdentitiesReason::Malformed => DirectoryFallback::BadCaaIdentities,
                    },
                    e.detail.clone(),
                ),
            },
            Err(e) => Failure::new(DirectoryFallback::Directory(e.reason), e.detail.clone()),
        };
        note.fallback = Some(fallback);
    }
    let list = builtin(leaf);
    Identities {
        source: if list.is_empty() {
            IdentitySource::None
        } else {
            IdentitySource::Builtin
        },
        list,
        directory: note,
    }
}

/// Where the check starts for `server_name` and `leaf`: the name itself, unless the leaf covers
/// it only by a wildcard, then the wildcard's parent (and `true`).
pub fn start(server_name: &str, leaf: &CertFacts) -> (String, bool) {
    let name = server_name.trim_end_matches('.').to_ascii_lowercase();
    let exact = leaf.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&name));
    if !exact {
        if let Some((_, parent)) = name.split_once('.') {
            let wildcard = format!("*.{parent}");
            if leaf
                .dns_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&wildcard))
            {
                return (parent.to_string(), true);
            }
        }
    }
    (name, false)
}

/// The report of a check that has not looked yet: `outcome` is `NoRecords`.
pub fn report(server_name: &str, leaf: &CertFacts, identities: Identities) -> CaaReport {
    let (name, wildcard) = start(server_name, leaf);
    CaaReport {
        name,
        found_at: None,
        wildcard,
        identities: identities.list,
        identity_source: identities.source,
        directory: identities.directory,
        outcome: Ok(CaaVerdict::NoRecords),
    }
}

/// Runs the check for `server_name`, whose served leaf is `leaf`, for a CA known by
/// `identities` ([`choose`]).
pub async fn check(
    resolver: &Resolver,
    server_name: &str,
    leaf: &CertFacts,
    identities: Identities,
) -> CaaReport {
    let mut report = report(server_name, leaf, identities);
    let (name, wildcard) = (report.name.clone(), report.wildcard);
    let mut at = name.as_str();
    let set = loop {
        match resolver
            .lookup_records(&format!("{at}."), RecordType::CAA)
            .await
        {
            Ok(records) if !records.is_empty() => {
                report.found_at = Some(at.to_string());
                break records
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::CAA(caa) => Some(Property {
                            critical: caa.issuer_critical,
                            tag: caa.tag.clone(),
                            value: caa.value.clone(),
                        }),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
            }
            Ok(_) => match at.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => at = parent,
                _ => break Vec::new(),
            },
            Err(e) => {
                let reason = match e.reason {
                    LookupReason::Timeout => CaaReason::DnsTimeout,
                    LookupReason::Servfail => CaaReason::DnsServfail,
                    LookupReason::Failed => CaaReason::DnsFailed,
                };
                report.outcome = Err(Failure::new(reason, e.detail));
                return report;
            }
        }
    };
    report.outcome = decide(&set, &report.identities, wildcard).ok_or_else(|| {
        let directory = match report.directory.as_deref() {
            Some(DirectoryNote {
                fallback: Some(f), ..
            }) => format!(" (the ACME directory gave none: {f})"),
            _ => String::new(),
        };
        Failure::new(
            CaaReason::UnknownIdentity,
            format!(
                "{} restricts issuance, and the CAA identity of the leaf's issuer ({}) is not known{directory}: set caa_identity",
                report.found_at.as_deref().unwrap_or(&name),
                leaf.issuer_fields.get(DnField::O).unwrap_or("no organisation"),
            ),
        )
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(critical: bool, tag: &str, value: &str) -> Property {
        Property {
            critical,
            tag: tag.into(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A self-signed leaf for `names`, its issuer organisation `org`.
    fn leaf(names: &[&str], org: &str) -> std::sync::Arc<CertFacts> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, org);
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        CertFacts::from_der(params.self_signed(&key).unwrap().der()).unwrap()
    }

    #[test]
    fn issuer_values_are_read_as_rfc_8659_writes_them() {
        assert_eq!(
            issuer_domain(b"letsencrypt.org").as_deref(),
            Some("letsencrypt.org")
        );
        assert_eq!(issuer_domain(b" Pki.Goog ").as_deref(), Some("pki.goog"));
        assert_eq!(
            issuer_domain(
                b"letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"
            )
            .as_deref(),
            Some("letsencrypt.org")
        );
        assert_eq!(
            issuer_domain(b"sectigo.com;").as_deref(),
            Some("sectigo.com")
        );
        // No CA, or a malformed value: authorises none.
        assert_eq!(issuer_domain(b";"), None);
        assert_eq!(issuer_domain(b""), None);
        assert_eq!(issuer_domain(b"lets encrypt"), None);
        assert_eq!(issuer_domain(b"-bad.example"), None);
        assert_eq!(issuer_domain(b"a..b"), None);
        assert_eq!(issuer_domain(&[0xff, 0xfe]), None);
    }

    #[test]
    fn the_issue_properties_decide_for_a_plain_name() {
        let le = ids(&["letsencrypt.org"]);
        assert_eq!(decide(&[], &le, false), Some(CaaVerdict::NoRecords));
        let set = [
            prop(false, "issue", "pki.goog"),
            prop(false, "ISSUE", "LetsEncrypt.org"),
        ];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::Listed));
        let set = [prop(false, "issue", "pki.goog")];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::NotListed));
        let set = [prop(false, "issue", ";")];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::NotListed));
        // Only iodef: no restriction; issuewild does not restrict a plain name.
        let set = [
            prop(false, "iodef", "mailto:caa@example.com"),
            prop(false, "issuewild", ";"),
        ];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::Unrestricted));
        // Unknown non-critical tags are ignored; unknown critical ones forbid issuance.
        let set = [
            prop(false, "tbs", "x"),
            prop(false, "issue", "letsencrypt.org"),
        ];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::Listed));
        let set = [
            prop(true, "Future", "x"),
            prop(false, "issue", "letsencrypt.org"),
        ];
        let verdict = decide(&set, &le, false).unwrap();
        assert_eq!(verdict, CaaVerdict::UnknownCritical("future".into()));
        assert!(!verdict.allowed());
        // A known tag with the critical flag is fine.
        let set = [prop(true, "issue", "letsencrypt.org")];
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::Listed));
    }

    #[test]
    fn issuewild_wins_for_a_wildcard_leaf_and_issue_stands_in_for_it() {
        let le = ids(&["letsencrypt.org"]);
        let set = [
            prop(false, "issue", "letsencrypt.org"),
            prop(false, "issuewild", "pki.goog"),
        ];
        assert_eq!(decide(&set, &le, true), Some(CaaVerdict::NotListed));
        assert_eq!(decide(&set, &le, false), Some(CaaVerdict::Listed));
        let set = [prop(false, "issue", "letsencrypt.org")];
        assert_eq!(decide(&set, &le, true), Some(CaaVerdict::Listed));
        let set = [
            prop(false, "issue", "pki.goog"),
            prop(false, "issuewild", "letsencrypt.org"),
        ];
        assert_eq!(decide(&set, &le, true), Some(CaaVerdict::Listed));
    }

    #[test]
    fn an_unknown_identity_is_no_verdict_only_where_it_matters() {
        let set = [prop(false, "issue", "letsencrypt.org")];
        assert_eq!(decide(&set, &[], false), None);
        assert_eq!(decide(&[], &[], false), Some(CaaVerdict::NoRecords));
        let set = [prop(false, "iodef", "mailto:a@b")];
        assert_eq!(decide(&set, &[], false), Some(CaaVerdict::Unrestricted));
        // Amazon has several identities; any one listed is enough.
        let amazon = ids(&["amazon.com", "amazontrust.com"]);
        let set = [prop(false, "issue", "amazontrust.com")];
        assert_eq!(decide(&set, &amazon, false), Some(CaaVerdict::Listed));
    }

    fn directory(body: &str) -> Result<Arc<Directory>, DirectoryError> {
        super::super::acme_directory::parse(&bytes::Bytes::copy_from_slice(body.as_bytes()), "d")
            .map(Arc::new)
    }

    #[test]
    fn the_identity_comes_from_config_then_the_directory_then_the_issuer_organisation() {
        let le = leaf(&["www.example.com"], "Let's Encrypt");
        let unknown = leaf(&["www.example.com"], "Shop GmbH");
        let with_ids = directory(r#"{"meta":{"caaIdentities":["acme-ca.test"]}}"#);
        let without = directory(r#"{"meta":{}}"#);
        let bad_ids = directory(r#"{"meta":{"caaIdentities":[1]}}"#);
        let broken = directory("<html>");
        let unreachable = Err(DirectoryError::new(
            DirectoryReason::Fetch(crate::fetch::FetchReason::HttpStatus),
            "d: 500",
        ));
        let url = Some("https://acme.test/dir");

        // No directory: config, else the table (or nothing).
        let got = choose(None, None, None, &le);
        assert_eq!(
            (got.list, got.source),
            (ids(&["letsencrypt.org"]), IdentitySource::Builtin)
        );
        assert_eq!(got.directory, None);
        let got = choose(Some("example-ca.test"), None, None, &le);
        assert_eq!(
            (got.list, got.source),
            (ids(&["example-ca.test"]), IdentitySource::Config)
        );
        let got = choose(None, None, None, &unknown);
        assert_eq!((got.list.len(), got.source), (0, IdentitySource::None));
        let google = leaf(&["www.example.com"], "google trust services");
        assert_eq!(choose(None, None, None, &google).list, ids(&["pki.goog"]));

        // caa_identity wins over the directory (which is not read for it).
        let got = choose(Some("example-ca.test"), url, None, &le);
        assert_eq!(got.source, IdentitySource::Config);
        assert_eq!(got.directory.unwrap().fallback, None);

        // The directory's identities win over the table, known CA or not.
        for leaf in [&le, &unknown] {
            let got = choose(None, url, Some(&with_ids), leaf);
            assert_eq!(
                (got.list, got.source),
                (ids(&["acme-ca.test"]), IdentitySource::AcmeDirectory)
            );
            let note = got.directory.unwrap();
            assert_eq!(
                (note.url.as_str(), note.fallback),
                ("https://acme.test/dir", None)
            );
        }

        // A directory that gives none falls back to the table, saying why.
        for (read, reason) in [
            (&without, "no_caa_identities"),
            (&bad_ids, "bad_caa_identities"),
            (&broken, "bad_directory"),
            (&unreachable, "http_status"),
        ] {
            let got = choose(None, url, Some(read), &le);
            assert_eq!(
                (got.list, got.source),
                (ids(&["letsencrypt.org"]), IdentitySource::Builtin),
                "{reason}"
            );
            let fallback = got.directory.unwrap().fallback.unwrap();
            assert_eq!(fallback.reason.as_str(), reason);
            let got = choose(None, url, Some(read), &unknown);
            assert_eq!((got.list.len(), got.source), (0, IdentitySource::None));
            assert_eq!(
                got.directory.unwrap().fallback.unwrap().reason.as_str(),
                reason
            );
        }
    }

    #[test]
    fn a_wildcard_leaf_starts_the_climb_at_the_parent() {
        let exact = leaf(&["www.example.com", "*.example.com"], "x");
        assert_eq!(
            start("WWW.example.com.", &exact),
            ("www.example.com".into(), false)
        );
        let wild = leaf(&["*.example.com"], "x");
        assert_eq!(
            start("www.example.com", &wild),
            ("example.com".into(), true)
        );
        // A leaf that does not cover the name at all: the name itself.
        let other = leaf(&["other.test"], "x");
        assert_eq!(
            start("www.example.com", &other),
            ("www.example.com".into(), false)
        );
    }
}
