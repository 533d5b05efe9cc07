//! Kubernetes targets (`kubernetes:`): certificates held in Secrets (and, opted in, ConfigMaps)
//! read from the API server, watched rather than polled (see `crate::probe::kubernetes`).
//!
//! What can be checked once is checked here, so that a typo fails `--check-config`: the
//! kubeconfig file can be opened, namespaces are DNS labels, key globs parse, the selector and
//! the Secret types are not empty. Whether the API server answers is the watch's business.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

/// The Secret type read when `secret_types` is not set.
pub const DEFAULT_SECRET_TYPE: &str = "kubernetes.io/tls";
/// The data keys read when `keys` is not set.
pub const DEFAULT_KEYS: &[&str] = &["tls.crt", "ca.crt"];
/// Objects asked for per page of the initial LIST when `page_size` is not set (kube-rs's own
/// default, small enough that one page of TLS Secrets is a few megabytes at most).
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// The `kubernetes:` block as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    /// A kubeconfig file; absent: the in-cluster service account.
    pub kubeconfig: Option<Spanned<PathBuf>>,
    /// The namespaces watched, one watch each; absent: all namespaces, one watch.
    pub namespaces: Option<Spanned<Vec<Spanned<String>>>>,
    /// The Secret types read, selected on the server (`type=` field selector, one watch per
    /// type); default `[kubernetes.io/tls]`.
    pub secret_types: Option<Spanned<Vec<Spanned<String>>>>,
    /// Globs of the data keys that hold certificates; default `["tls.crt", "ca.crt"]`.
    pub keys: Option<Spanned<Vec<Spanned<String>>>>,
    /// A label selector (`team=web,tier!=dev`), passed to the server as is.
    pub label_selector: Option<Spanned<String>>,
    /// Whether ConfigMaps are read too (keys as above); default false.
    pub configmaps: Option<bool>,
    /// Objects per page of the initial LIST (and of every relist).
    pub page_size: Option<Spanned<u32>>,
}

/// Where a Kubernetes target's certificates are, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KubeSource {
    /// The kubeconfig file; `None`: in-cluster configuration.
    pub kubeconfig: Option<PathBuf>,
    /// The namespaces watched; empty: all namespaces.
    pub namespaces: Vec<String>,
    /// The Secret types read, each its own server-side selected watch; empty (only from
    /// `check k8s://…`): any type, one watch.
    pub secret_types: Vec<String>,
    /// Globs of the data keys read.
    pub keys: Vec<String>,
    /// The label selector, when set.
    pub label_selector: Option<String>,
    /// Whether ConfigMaps are watched as well.
    pub configmaps: bool,
    /// Objects per page of a LIST.
    pub page_size: u32,
    /// One object only (`metadata.name=` field selector): what `check k8s://namespace/name`
    /// reads. Never set by the configuration file.
    pub object_name: Option<String>,
}

impl KubeSource {
    /// Whether the data key `key` is one this source reads.
    pub fn wants_key(&self, key: &str) -> bool {
        self.keys
            .iter()
            .any(|k| glob::Pattern::new(k).is_ok_and(|p| p.matches(key)))
    }
}

/// Checks a `kubernetes:` block; errors point at the offending value and start with the field.
pub(super) fn resolve(block: &Spanned<RawKubernetes>) -> Result<KubeSource, (Location, String)> {
    let raw = &block.value;
    if let Some(path) = &raw.kubeconfig {
        std::fs::File::open(&path.value).map_err(|e| {
            (
                path.referenced,
                format!(
                    "kubernetes.kubeconfig: cannot read {}: {e}",
                    path.value.display()
                ),
            )
        })?;
    }
    let namespaces = list(raw.namespaces.as_ref(), "namespaces", block.referenced)?;
    for (i, ns) in raw
        .namespaces
        .iter()
        .flat_map(|l| l.value.iter())
        .enumerate()
    {
        check_dns_label(&ns.value).map_err(|e| {
            (
                ns.referenced,
                format!("kubernetes.namespaces[{i}]: {:?} {e}", ns.value),
            )
        })?;
    }
    let mut seen = std::collections::HashSet::new();
    for (i, ns) in raw
        .namespaces
        .iter()
        .flat_map(|l| l.value.iter())
        .enumerate()
    {
        if !seen.insert(ns.value.as_str()) {
            return Err((
                ns.referenced,
                format!("kubernetes.namespaces[{i}]: {:?} is listed twice", ns.value),
            ));
        }
    }
    let secret_types = match raw.secret_types {
        Some(_) => list(raw.secret_types.as_ref(), "secret_types", block.referenced)?,
        None => vec![DEFAULT_SECRET_TYPE.to_string()],
    };
    for (i, t) in raw
        .secret_types
        .iter()
        .flat_map(|l| l.value.iter())
        .enumerate()
    {
        if t.value.trim().is_empty() || t.value.contains(',') {
            return Err((
                t.referenced,
                format!(
                    "kubernetes.secret_types[{i}]: {:?} is not a Secret type such as kubernetes.io/tls or Opaque",
                    t.value
                ),
            ));
        }
    }
    let keys = match raw.keys {
        Some(_) => list(raw.keys.as_ref(), "keys", block.referenced)?,
        None => DEFAULT_KEYS.iter().map(|k| k.to_string()).collect(),
    };
    for (i, k) in raw.keys.iter().flat_map(|l| l.value.iter()).enumerate() {
        if k.value.is_empty() {
            return Err((
                k.referenced,
                format!("kubernetes.keys[{i}]: must not be empty; give a key such as tls.crt or a glob such as \"*.pem\""),
            ));
        }
        glob::Pattern::new(&k.value).map_err(|e| {
            (
                k.referenced,
                format!(
                    "kubernetes.keys[{i}]: {:?} is not a valid glob: {e}",
                    k.value
                ),
            )
        })?;
    }
    if let Some(selector) = &raw.label_selector {
        if selector.value.trim().is_empty() {
            return Err((
                selector.referenced,
                "kubernetes.label_selector: empty; leave it out to read every object, or give one such as team=web".into(),
            ));
        }
    }
    let page_size = match &raw.page_size {
        Some(p) if p.value == 0 => {
            return Err((
                p.referenced,
                "kubernetes.page_size: must be at least 1".into(),
            ))
        }
        Some(p) => p.value,
        None => DEFAULT_PAGE_SIZE,
    };
    Ok(KubeSource {
        kubeconfig: raw.kubeconfig.as_ref().map(|p| p.value.clone()),
        namespaces: if raw.namespaces.is_some() {
            namespaces
        } else {
            Vec::new()
        },
        secret_types,
        keys,
        label_selector: raw.label_selector.as_ref().map(|s| s.value.clone()),
        configmaps: raw.configmaps.unwrap_or(false),
        page_size,
        object_name: None,
    })
}

/// The values of a list that, when given, must not be empty.
fn list(
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    field: &str,
    block: Location,
) -> Result<Vec<String>, (Location, String)> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.value.is_empty() {
        let at = if list.referenced == Location::UNKNOWN {
            block
        } else {
            list.referenced
        };
        return Err((
            at,
            format!("kubernetes.{field}: the list is empty; leave it out for the default"),
        ));
    }
    Ok(list.value.iter().map(|v| v.value.clone()).collect())
}

/// A namespace name: an RFC 1123 label (lower-case letters, digits and `-`, at most 63).
fn check_dns_label(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("is not a namespace name (lower-case letters, digits and '-', at most 63)")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, TargetKind};

    use crate::config::tests::err;

    #[test]
    fn defaults_read_tls_secrets_cluster_wide() {
        let config = Config::parse("targets:\n  - kubernetes: {}\n").unwrap();
        let t = &config.targets[0];
        assert_eq!(t.name, "kubernetes");
        let TargetKind::Kubernetes(k) = &t.kind else {
            panic!("not a kubernetes target: {:?}", t.kind)
        };
        assert_eq!(k.kubeconfig, None);
        assert!(k.namespaces.is_empty());
        assert_eq!(k.secret_types, ["kubernetes.io/tls"]);
        assert_eq!(k.keys, ["tls.crt", "ca.crt"]);
        assert_eq!(k.label_selector, None);
        assert!(!k.configmaps);
        assert!(k.wants_key("tls.crt") && !k.wants_key("tls.key"));
        assert!(!t.legacy_protocols);
    }

    #[test]
    fn every_setting_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, "apiVersion: v1\n").unwrap();
        let config = Config::parse(&format!(
            "targets:\n  - name: cluster\n    kubernetes:\n      kubeconfig: {}\n      namespaces: [prod, staging]\n      secret_types: [kubernetes.io/tls, Opaque]\n      keys: [\"*.pem\", tls.crt]\n      label_selector: team=web\n      configmaps: true\n      page_size: 50\n",
            kc.display()
        ))
        .unwrap();
        let TargetKind::Kubernetes(k) = &config.targets[0].kind else {
            panic!()
        };
        assert_eq!(k.kubeconfig.as_deref(), Some(kc.as_path()));
        assert_eq!(k.namespaces, ["prod", "staging"]);
        assert_eq!(k.secret_types, ["kubernetes.io/tls", "Opaque"]);
        assert!(k.wants_key("ca.pem") && k.wants_key("tls.crt") && !k.wants_key("ca.crt"));
        assert_eq!(k.label_selector.as_deref(), Some("team=web"));
        assert!(k.configmaps);
        assert_eq!(k.page_size, 50);
    }

    #[test]
    fn mistakes_point_at_their_value() {
        let e = err("targets:\n  - kubernetes:\n      kubeconfig: /nonexistent/kubeconfig\n");
        assert!(
            e.contains("targets[0].kubernetes.kubeconfig: cannot read"),
            "{e}"
        );
        assert!(e.contains("line 3 column 19"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      namespaces: [prod, Staging]\n");
        assert!(e.contains("kubernetes.namespaces[1]"), "{e}");
        assert!(e.contains("line 3 column 26"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      namespaces: [prod, prod]\n");
        assert!(e.contains("listed twice"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      namespaces: []\n");
        assert!(
            e.contains("kubernetes.namespaces: the list is empty"),
            "{e}"
        );
        let e = err("targets:\n  - kubernetes:\n      keys: [\"[tls\"]\n");
        assert!(e.contains("kubernetes.keys[0]"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      secret_types: [\"\"]\n");
        assert!(e.contains("kubernetes.secret_types[0]"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      label_selector: \" \"\n");
        assert!(e.contains("kubernetes.label_selector: empty"), "{e}");
        let e = err("targets:\n  - kubernetes:\n      page_size: 0\n");
        assert!(
            e.contains("kubernetes.page_size: must be at least 1"),
            "{e}"
        );
        let e = err("targets:\n  - kubernetes:\n      namespace: prod\n");
        assert!(e.contains("namespace"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn a_kubernetes_target_is_neither_endpoint_nor_files() {
        let e = err("targets:\n  - path: /tmp/*.pem\n    kubernetes: {}\n");
        assert!(e.contains("targets[0].kubernetes"), "{e}");
        assert!(e.contains("only one of"), "{e}");
        let e = err("targets:\n  - kubernetes: {}\n    server_name: a.example\n");
        assert!(e.contains("targets[0].server_name"), "{e}");
        let e = err("targets:\n  - kubernetes: {}\n    password_file: /etc/hostname\n");
        assert!(e.contains("targets[0].password_file"), "{e}");
        let e = err("targets:\n  - kubernetes: {}\n    labels: {secret_name: x}\n");
        assert!(e.contains("targets[0].labels.secret_name"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        // Other targets may use those names (a file target reading a mounted Secret).
        Config::parse("targets:\n  - path: /tmp/*.pem\n    labels: {secret_name: x}\n").unwrap();
    }
}
