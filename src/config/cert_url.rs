//! URL targets (`url: http(s)://…`): certificates downloaded instead of read from disk or from
//! a handshake — a CA bundle, a published intermediate, a CRL. Checked here: that the URL
//! parses and is `http` or `https` with a host, so a typo fails `--check-config`.

/// Where a URL target's certificates are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertUrl {
    /// The URL as written.
    pub url: String,
}

/// Checks a `url:` value.
pub(super) fn check(url: &str) -> Result<CertUrl, String> {
    check_http_url(url).map_err(|problem| match problem {
        UrlProblem::NotUrl(e) => format!("{url:?} is not a URL: {e}"),
        UrlProblem::Scheme(scheme) => {
            format!("{url:?}: only http and https URLs are fetched, not {scheme}")
        }
        UrlProblem::NoHost => format!("{url:?} has no host"),
    })?;
    Ok(CertUrl { url: url.into() })
}

/// Why a value is not an `http` or `https` URL with a host; each option words it its own way.
pub(super) enum UrlProblem {
    /// It does not parse as a URL (the parser's reason).
    NotUrl(String),
    /// Its scheme, which is neither `http` nor `https`.
    Scheme(String),
    /// It names no host.
    NoHost,
}

/// Checks that `text` is an `http` or `https` URL with a host: what every option that is
/// fetched over HTTP asks of its value (`url:`, `acme_directory:`).
pub(super) fn check_http_url(text: &str) -> Result<(), UrlProblem> {
    let parsed = reqwest::Url::parse(text).map_err(|e| UrlProblem::NotUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlProblem::Scheme(parsed.scheme().to_string()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UrlProblem::NoHost);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::err;

    #[test]
    fn a_url_target_is_named_after_its_url() {
        let config =
            Config::parse("targets:\n  - url: https://pki.example/ca-bundle.pem\n").unwrap();
        let t = &config.targets[0];
        assert_eq!(t.name, "https://pki.example/ca-bundle.pem");
        assert_eq!(
            t.cert_url().unwrap().url,
            "https://pki.example/ca-bundle.pem"
        );
        assert_eq!(t.address(), None);
        assert!(!t.legacy_protocols);
    }

    #[test]
    fn bad_urls_and_mixed_kinds_point_at_the_value() {
        let e = err("targets:\n  - url: ftp://pki.example/ca.pem\n");
        assert!(
            e.contains("targets[0].url") && e.contains("http and https"),
            "{e}"
        );
        assert!(e.contains("line 2 column 10"), "{e}");
        let e = err("targets:\n  - url: not a url\n");
        assert!(e.contains("not a URL"), "{e}");
        let e = err("targets:\n  - url: http://a.example/x\n    path: /tmp/*.pem\n");
        assert!(e.contains("only one of"), "{e}");
        let e = err("targets:\n  - url: http://a.example/x\n    server_name: a.example\n");
        assert!(e.contains("server_name"), "{e}");
        let e = err("targets:\n  - url: http://a.example/x\n    password_file: /etc/hostname\n");
        assert!(e.contains("password_file"), "{e}");
    }
}
