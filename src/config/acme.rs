//! `acme_directory:`: where a target's CA publishes its ACME directory, so the probe can ask
//! for the leaf's renewal window (ACME Renewal Information, RFC 9773; `crate::probe::renewal`).
//!
//! Three forms: an `http`/`https` URL of the directory; `auto`, which picks the directory
//! from [`BUILTIN_DIRECTORIES`] by the leaf's issuer organisation or common name (a leaf of
//! another CA then gets no lookup); `off`, which turns an inherited default off. Unset means
//! `off`: the lookup is opt-in, as it sends requests to the CA's public service.

use serde_saphyr::{Location, Spanned};

use super::cert_url::{check_http_url, UrlProblem};

/// A target's renewal-information setting, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum AcmeDirectory {
    /// No renewal-information lookup (unset, or `off`).
    #[default]
    Off,
    /// The directory from the built-in table, by the leaf's issuer (`auto`).
    Auto,
    /// This directory URL.
    Url(String),
}

/// Public ACME CAs' directories, by a word of the issuing CA's organisation (or common name)
/// as it appears in their intermediates, for `acme_directory: auto`. Matched
/// case-insensitively as a substring of the leaf's issuer `O`, then `CN`.
pub const BUILTIN_DIRECTORIES: &[(&str, &str)] = &[
    (
        "Let's Encrypt",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "Google Trust Services",
        "https://dv.acme-v02.api.pki.goog/directory",
    ),
    ("ZeroSSL", "https://acme.zerossl.com/v2/DV90"),
    ("Buypass", "https://api.buypass.com/acme/directory"),
];

/// The built-in directory for a leaf issued by `organization` / `common_name`, if any.
pub fn builtin_directory(organization: &str, common_name: &str) -> Option<&'static str> {
    let matches = |field: &str, word: &str| {
        !field.is_empty() && field.to_lowercase().contains(&word.to_lowercase())
    };
    BUILTIN_DIRECTORIES
        .iter()
        .find(|(word, _)| matches(organization, word))
        .or_else(|| {
            BUILTIN_DIRECTORIES
                .iter()
                .find(|(word, _)| matches(common_name, word))
        })
        .map(|(_, url)| *url)
}

/// Checks one `acme_directory:` value; the error carries the value's location and starts
/// with the field name.
pub(super) fn check(value: &Spanned<String>) -> Result<AcmeDirectory, (Location, String)> {
    parse(&value.value).map_err(|e| (value.referenced, format!("acme_directory: {e}")))
}

fn parse(value: &str) -> Result<AcmeDirectory, String> {
    match value {
        "off" => return Ok(AcmeDirectory::Off),
        "auto" => return Ok(AcmeDirectory::Auto),
        _ => {}
    }
    check_http_url(value).map_err(|problem| match problem {
        UrlProblem::NotUrl(e) => {
            format!("{value:?} is neither `auto`, `off` nor a URL of an ACME directory: {e}")
        }
        UrlProblem::Scheme(scheme) => {
            format!("{value:?}: an ACME directory is fetched over http or https, not {scheme}")
        }
        UrlProblem::NoHost => format!("{value:?} has no host"),
    })?;
    Ok(AcmeDirectory::Url(value.to_string()))
}

/// The target's setting: its own value over the defaults'. Both were checked where their
/// locations are known; an error here names the field only.
pub(super) fn resolve(
    defaults: Option<&Spanned<String>>,
    target: Option<&Spanned<String>>,
) -> Result<AcmeDirectory, String> {
    match target.or(defaults) {
        Some(v) => parse(&v.value).map_err(|e| format!("acme_directory: {e}")),
        None => Ok(AcmeDirectory::Off),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    use crate::config::tests::err;

    #[test]
    fn a_target_inherits_the_default_directory_and_may_override_or_turn_it_off() {
        let config = Config::parse(
            "defaults:\n  acme_directory: https://acme.example/dir\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n    acme_directory: auto\n  - address: c.example:443\n    acme_directory: off\n",
        )
        .unwrap();
        assert_eq!(
            config.targets[0].acme_directory,
            AcmeDirectory::Url("https://acme.example/dir".into())
        );
        assert_eq!(config.targets[1].acme_directory, AcmeDirectory::Auto);
        assert_eq!(config.targets[2].acme_directory, AcmeDirectory::Off);
        let config = Config::parse("targets:\n  - address: a.example:443\n").unwrap();
        assert_eq!(config.targets[0].acme_directory, AcmeDirectory::Off);
    }

    #[test]
    fn bad_directories_are_refused_with_their_place() {
        let e = err(
            "targets:\n  - address: a.example:443\n    acme_directory: ftp://acme.example/dir\n",
        );
        assert!(
            e.contains("line 3 column 21")
                && e.contains("targets[0].acme_directory")
                && e.contains("http or https"),
            "{e}"
        );
        let e =
            err("defaults:\n  acme_directory: sometimes\ntargets:\n  - address: a.example:443\n");
        assert!(
            e.contains("line 2 column 19") && e.contains("defaults.acme_directory"),
            "{e}"
        );
        let e = err("targets:\n  - address: a.example:443\n    acme_directory: [a]\n");
        assert!(e.contains("line 3"), "{e}");
        let e = err("targets:\n  - path: /etc/ssl/*.pem\n    acme_directory: auto\n");
        assert!(
            e.contains("line 3 column 21") && e.contains("endpoint"),
            "{e}"
        );
        let e = err("probe_allow: ['*']\nmodules:\n  m:\n    acme_directory: gopher://x\n");
        assert!(
            e.contains("line 4 column 21") && e.contains("modules") && e.contains("http or https"),
            "{e}"
        );
        // The defaults' directory applies to endpoints only.
        let config = Config::parse(
            "defaults:\n  acme_directory: auto\ntargets:\n  - path: /etc/ssl/*.pem\n  - url: https://pki.example/ca.pem\n",
        )
        .unwrap();
        assert!(config
            .targets
            .iter()
            .all(|t| t.acme_directory == AcmeDirectory::Off));
    }

    #[test]
    fn the_builtin_table_matches_issuer_organisation_then_common_name() {
        assert_eq!(
            builtin_directory("Let's Encrypt", "R11"),
            Some("https://acme-v02.api.letsencrypt.org/directory")
        );
        assert_eq!(
            builtin_directory("Google Trust Services", "WR3"),
            Some("https://dv.acme-v02.api.pki.goog/directory")
        );
        assert_eq!(
            builtin_directory("", "ZeroSSL RSA Domain Secure Site CA"),
            Some("https://acme.zerossl.com/v2/DV90")
        );
        assert_eq!(
            builtin_directory("Buypass AS-983163327", "Buypass Class 2 CA 5"),
            Some("https://api.buypass.com/acme/directory")
        );
        assert_eq!(builtin_directory("DigiCert Inc", "DigiCert TLS RSA"), None);
        assert_eq!(builtin_directory("", ""), None);
    }
}
