//! File targets (`path: <glob>`): certificate files read from disk instead of from a TLS
//! handshake. (Not to be confused with target files, lists of targets: [`super::target_files`].)
//!
//! Only what can be checked once is checked here, at load time, so that a typo fails
//! `--check-config` rather than every probe: the glob's syntax and that the password file can be
//! opened. Which files the glob matches is the probe's business, as it changes between probes.

use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

/// Where a file target's certificates are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertFileSource {
    /// The glob as written, e.g. `/etc/ssl/private/**/*.pem`: `*`, `?` and `[…]` match within a
    /// path component, `**` matches any number of directories.
    pub pattern: String,
    /// A file whose content (less one trailing newline) is the password of the PKCS#12 files
    /// the glob matches. Read at every probe, so a rotated password needs no reload; never kept
    /// in the configuration, so it cannot leak through a `Debug` print.
    pub password_file: Option<PathBuf>,
}

/// Checks `path:` and `password_file:` of a file target; errors point at the offending value.
pub(super) fn resolve(
    path: &Spanned<String>,
    password_file: Option<&Spanned<PathBuf>>,
) -> Result<CertFileSource, (Location, String)> {
    check_pattern(&path.value).map_err(|e| (path.referenced, format!("path: {e}")))?;
    if let Some(password_file) = password_file {
        check_password_file(&password_file.value)
            .map_err(|e| (password_file.referenced, format!("password_file: {e}")))?;
    }
    Ok(CertFileSource {
        pattern: path.value.clone(),
        password_file: password_file.map(|p| p.value.clone()),
    })
}

/// A glob the probe can expand: not empty, valid syntax.
fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("must not be empty; name a file or a glob such as /etc/ssl/certs/*.pem".into());
    }
    glob::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("{pattern:?} is not a valid glob: {e}"))
}

/// The password file must exist and be readable now; its content is read at each probe.
fn check_password_file(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::err;

    #[test]
    fn path_target_is_named_after_its_glob_and_has_no_server() {
        let config = Config::parse(
            "targets:\n  - path: /etc/ssl/certs/*.pem\n  - name: bundle\n    path: /etc/ssl/certs/ca-certificates.crt\n    ca_file: /etc/ssl/private-ca.pem\n",
        )
        .unwrap();
        let t = &config.targets[0];
        assert_eq!(t.name, "/etc/ssl/certs/*.pem");
        assert_eq!(t.address(), None);
        assert_eq!(t.server_name, "");
        let files = t.cert_files().expect("a file target");
        assert_eq!(files.pattern, "/etc/ssl/certs/*.pem");
        assert_eq!(files.password_file, None);
        assert_eq!(config.targets[1].name, "bundle");
    }

    #[test]
    fn both_address_and_path_points_at_the_path() {
        let e = err("targets:\n  - address: a.example:443\n    path: /etc/ssl/*.pem\n");
        assert!(e.contains("targets[0].path"), "{e}");
        assert!(e.contains("not both"), "{e}");
        assert!(e.contains("line 3 column 11"), "{e}");
    }

    #[test]
    fn neither_address_nor_path_points_at_the_target() {
        let e = err("targets:\n  - name: x\n    interval: 1m\n");
        assert!(e.contains("targets[0].address: missing"), "{e}");
        assert!(e.contains("path"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn missing_password_file_points_at_its_value() {
        let e =
            err("targets:\n  - path: /tmp/*.p12\n    password_file: /nonexistent/p12-password\n");
        assert!(e.contains("targets[0].password_file"), "{e}");
        assert!(e.contains("/nonexistent/p12-password"), "{e}");
        assert!(e.contains("line 3 column 20"), "{e}");
    }

    #[test]
    fn readable_password_file_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        let config = Config::parse(&format!(
            "targets:\n  - path: /tmp/*.p12\n    password_file: {}\n",
            pw.display()
        ))
        .unwrap();
        let files = config.targets[0].cert_files().unwrap();
        assert_eq!(files.password_file.as_deref(), Some(pw.as_path()));
    }

    #[test]
    fn endpoint_only_and_file_only_keys_are_rejected() {
        let e = err("targets:\n  - address: a.example:443\n    password_file: /etc/hostname\n");
        assert!(e.contains("targets[0].password_file"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = err("targets:\n  - path: /tmp/*.pem\n    server_name: a.example\n");
        assert!(e.contains("targets[0].server_name"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn bad_globs_point_at_the_value() {
        let e = err("targets:\n  - path: \"/etc/ssl/[*.pem\"\n");
        assert!(e.contains("targets[0].path"), "{e}");
        assert!(e.contains("line 2 column 11"), "{e}");
        let e = err("targets:\n  - path: \"\"\n");
        assert!(e.contains("must not be empty"), "{e}");
    }
}
