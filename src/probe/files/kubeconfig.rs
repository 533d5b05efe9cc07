//! kubeconfig files: the certificates each cluster and user entry names, without I/O.
//!
//! A kubeconfig is told by its content — YAML whose `kind` is `Config` (with `apiVersion: v1`,
//! as `kubectl config` writes it) — whatever its name (`~/.kube/config`, `admin.conf`,
//! `kubelet.conf`). Every cluster's `certificate-authority-data` (or `certificate-authority`, a
//! file) and every user's `client-certificate-data` (or `client-certificate`) is one
//! [`Entry`]; the caller decodes the data or reads the file (relative to the kubeconfig's
//! directory, as kubectl resolves it) and reports each entry on its own, labelled by
//! `kubeconfig_cluster` or `kubeconfig_user`. Entries with neither (a token, an exec plugin,
//! the system CAs) have no certificate and are left out. Keys are never read.

use base64::Engine as _;
use serde::Deserialize;

use super::formats::{cut_label, DecodeError, MAX_LABEL};

/// The most entries of one kubeconfig that are reported.
pub const MAX_ENTRIES: usize = 256;

/// Whether the entry is a cluster or a user: the label it is reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `clusters:` entry: its CA.
    Cluster,
    /// A `users:` entry: its client certificate.
    User,
}

impl Kind {
    /// The label naming the entry.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Cluster => "kubeconfig_cluster",
            Kind::User => "kubeconfig_user",
        }
    }

    /// The kubeconfig key the certificate came from, for messages.
    fn key(self, inline: bool) -> &'static str {
        match (self, inline) {
            (Kind::Cluster, true) => "certificate-authority-data",
            (Kind::Cluster, false) => "certificate-authority",
            (Kind::User, true) => "client-certificate-data",
            (Kind::User, false) => "client-certificate",
        }
    }
}

/// Where an entry's certificates are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Decoded from the `-data` key (PEM or DER).
    Data(Vec<u8>),
    /// A file the entry names, as written (relative to the kubeconfig's directory unless
    /// absolute).
    File(String),
    /// The `-data` key is not base64: the sentence saying so.
    Invalid(String),
}

/// One cluster or user of a kubeconfig that has a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Cluster or user.
    pub kind: Kind,
    /// Its `name`, cut for the label.
    pub name: String,
    /// Where its certificates are.
    pub source: Source,
}

/// The entries of a kubeconfig, clusters first, each name once (the first wins, as kubectl
/// takes it), at most [`MAX_ENTRIES`]; `truncated` when there were more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// Clusters, then users.
    pub entries: Vec<Entry>,
    /// There were more than [`MAX_ENTRIES`]; the rest were dropped.
    pub truncated: bool,
}

/// Whether `bytes` are a kubeconfig: UTF-8 with a top-level `kind: Config` line, or YAML (or
/// JSON) whose `kind` is `Config`. Cheap for files that are not: only text that mentions
/// `kind` and `Config` is parsed.
pub fn is_kubeconfig(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if !text.contains("kind") || !text.contains("Config") {
        return false;
    }
    #[derive(Deserialize)]
    struct Head {
        kind: Option<String>,
    }
    // A top-level `kind: Config` line tells a kubeconfig that no longer parses, so it is
    // reported as a broken kubeconfig rather than as an unknown file.
    let declared = text.lines().any(|line| {
        let line = line.trim_end();
        ["kind: Config", "kind: \"Config\"", "kind: 'Config'"].contains(&line)
    });
    declared
        || serde_saphyr::from_str::<Head>(text).is_ok_and(|h| h.kind.as_deref() == Some("Config"))
}

/// Reads the cluster and user entries of a kubeconfig.
pub fn entries(bytes: &[u8]) -> Result<Kubeconfig, DecodeError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| DecodeError::KubeconfigMalformed(format!("kubeconfig: not UTF-8: {e}")))?;
    let raw: Raw = serde_saphyr::from_str(text)
        .map_err(|e| DecodeError::KubeconfigMalformed(format!("kubeconfig: {e}")))?;
    let mut out = Kubeconfig {
        entries: Vec::new(),
        truncated: false,
    };
    let clusters = raw.clusters.unwrap_or_default().into_iter().map(|c| {
        let cluster = c.cluster.unwrap_or_default();
        (Kind::Cluster, c.name, cluster.data, cluster.file)
    });
    let users = raw.users.unwrap_or_default().into_iter().map(|u| {
        let user = u.user.unwrap_or_default();
        (Kind::User, u.name, user.data, user.file)
    });
    for (kind, name, data, file) in clusters.chain(users) {
        let source = match (data, file) {
            (Some(data), _) => decode(&data).map_or_else(
                |e| Source::Invalid(format!("{}: {e}", kind.key(true))),
                Source::Data,
            ),
            (None, Some(file)) if !file.is_empty() => Source::File(file),
            _ => continue,
        };
        let name = cut_label(name.unwrap_or_default(), MAX_LABEL);
        if out.entries.iter().any(|e| e.kind == kind && e.name == name) {
            continue;
        }
        if out.entries.len() == MAX_ENTRIES {
            out.truncated = true;
            break;
        }
        out.entries.push(Entry { kind, name, source });
    }
    Ok(out)
}

/// Base64 as kubectl writes it (standard alphabet, padded), tolerating line breaks.
fn decode(data: &str) -> Result<Vec<u8>, String> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("not base64 ({e})"))
}

/// The parts of a kubeconfig read here; every other key is ignored.
#[derive(Deserialize)]
struct Raw {
    clusters: Option<Vec<NamedCluster>>,
    users: Option<Vec<NamedUser>>,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: Option<String>,
    cluster: Option<Certs>,
}

#[derive(Deserialize)]
struct NamedUser {
    name: Option<String>,
    user: Option<UserCerts>,
}

#[derive(Deserialize, Default)]
struct Certs {
    #[serde(rename = "certificate-authority-data")]
    data: Option<String>,
    #[serde(rename = "certificate-authority")]
    file: Option<String>,
}

#[derive(Deserialize, Default)]
struct UserCerts {
    #[serde(rename = "client-certificate-data")]
    data: Option<String>,
    #[serde(rename = "client-certificate")]
    file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://192.0.2.1:6443
    certificate-authority-data: aGVsbG8=
- name: ref
  cluster:
    certificate-authority: ca.pem
- name: insecure
  cluster:
    insecure-skip-tls-verify: true
- name: prod
  cluster:
    certificate-authority-data: d29ybGQ=
users:
- name: admin
  user:
    client-certificate-data: \"aGVs\\nbG8=\"
    client-key-data: c2VjcmV0
- name: broken
  user:
    client-certificate-data: '!!! not base64'
- name: token
  user:
    token: abc
contexts: null
current-context: prod
";

    #[test]
    fn every_cluster_and_user_with_a_certificate_is_an_entry() {
        assert!(is_kubeconfig(CONFIG.as_bytes()));
        let k = entries(CONFIG.as_bytes()).unwrap();
        assert!(!k.truncated);
        let got: Vec<_> = k
            .entries
            .iter()
            .map(|e| (e.kind.label(), e.name.as_str(), &e.source))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            got[0],
            (
                "kubeconfig_cluster",
                "prod",
                &Source::Data(b"hello".to_vec())
            )
        );
        assert_eq!(
            got[1],
            ("kubeconfig_cluster", "ref", &Source::File("ca.pem".into()))
        );
        assert_eq!(
            got[2],
            ("kubeconfig_user", "admin", &Source::Data(b"hello".to_vec()))
        );
        assert_eq!(got[3].1, "broken");
        assert!(
            matches!(got[3].2, Source::Invalid(why) if why.contains("client-certificate-data")),
            "{got:?}"
        );
    }

    #[test]
    fn only_yaml_of_kind_config_is_a_kubeconfig() {
        assert!(!is_kubeconfig(b"kind: Pod\napiVersion: v1\n"));
        assert!(!is_kubeconfig(b"targets:\n  - path: /x # Config kind\n"));
        assert!(!is_kubeconfig(b"spec:\n  kind: Config\n"));
        assert!(!is_kubeconfig(&[0x30, 0x82, 0xff]));
        assert!(is_kubeconfig(
            b"{\"kind\": \"Config\", \"apiVersion\": \"v1\"}"
        ));
        let e = entries(b"kind: Config\nclusters: [\n").unwrap_err();
        assert_eq!(e.reason().as_str(), "kubeconfig_malformed", "{e:?}");
        let empty = entries(b"kind: Config\nclusters: null\nusers: null\n").unwrap();
        assert!(empty.entries.is_empty());
    }

    #[test]
    fn entries_are_capped() {
        let mut text = String::from("kind: Config\nclusters:\n");
        for i in 0..MAX_ENTRIES + 5 {
            text.push_str(&format!(
                "- name: c{i}\n  cluster:\n    certificate-authority: c{i}.pem\n"
            ));
        }
        let k = entries(text.as_bytes()).unwrap();
        assert_eq!(k.entries.len(), MAX_ENTRIES);
        assert!(k.truncated);
    }
}
