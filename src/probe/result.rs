//! The one shape every probe returns, whatever failed: the state the collector renders.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::x509::ChainReport;

use super::leaves::KeyType;
use super::reason::ProbeFailure;

/// A stage of a probe, the `phase` label of `cert_probe_duration_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Resolving the target's name, or the proxy's when there is one.
    Dns,
    /// The TCP connection, and through a proxy also the `CONNECT` tunnel.
    Connect,
    /// The plain-text dialogue before TLS (`starttls:` targets).
    Starttls,
    /// The TLS handshake, and in TLS 1.3 the server's word on a client certificate.
    Handshake,
    /// The whole probe, start to finish, every phase included.
    Total,
    /// Listing, reading and decoding a certificate file (file targets).
    Read,
    /// OCSP and CRL checks, after the handshake, on a budget of their own.
    Revocation,
    /// Asking the server for TLS 1.0 and 1.1, after the handshake, within the same deadline.
    Legacy,
    /// Downloading a missing intermediate from the leaf's caIssuers URL (alongside revocation).
    Aia,
    /// Downloading a URL target's certificates.
    Fetch,
    /// Looking for the other leaves of a server with several certificates, and judging them
    /// (alongside the main chain's judgement).
    Leaves,
    /// Asking the ACME directory for the leaf's renewal window (`acme_directory:`), after the
    /// chain is judged, on a budget of its own.
    RenewalInfo,
}

/// The duration of each phase that ran, in the order they ended. Every stored result keeps
/// one, so each phase is a byte and whole microseconds in a `u32` (71 minutes, far beyond any
/// timeout; longer saturates): 8 bytes a phase instead of `Duration`'s 24, which at 100,000
/// targets with seven phases each is 11 MB (docs/performance.md §8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings(Vec<(Phase, u32)>);

impl Timings {
    /// Records that `phase` took `took`.
    pub fn push(&mut self, (phase, took): (Phase, Duration)) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.0.push((phase, micros));
    }

    /// Each phase and its duration, in the order they were recorded.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, Duration)> + '_ {
        self.0
            .iter()
            .map(|&(phase, micros)| (phase, Duration::from_micros(micros.into())))
    }

    /// How long `phase` took, if it ran.
    pub fn get(&self, phase: Phase) -> Option<Duration> {
        self.iter().find(|(p, _)| *p == phase).map(|(_, d)| d)
    }

    /// Gives back spare capacity, once the probe is over and the result is to be stored.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl FromIterator<(Phase, Duration)> for Timings {
    fn from_iter<I: IntoIterator<Item = (Phase, Duration)>>(phases: I) -> Self {
        let mut timings = Timings::default();
        for phase in phases {
            timings.push(phase);
        }
        timings
    }
}

impl Phase {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Starttls => "starttls",
            Phase::Handshake => "handshake",
            Phase::Total => "total",
            Phase::Read => "read",
            Phase::Revocation => "revocation",
            Phase::Legacy => "legacy",
            Phase::Aia => "aia",
            Phase::Fetch => "fetch",
            Phase::Leaves => "leaves",
            Phase::RenewalInfo => "renewal_info",
        }
    }
}

/// A TLS protocol version; `as_str` is the `version` label of `cert_tls_version_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0 (only over the legacy check's own handshake).
    Tls10,
    /// TLS 1.1 (only over the legacy check's own handshake).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
    /// A version rustls negotiated but does not name (none today).
    Unknown,
}

impl TlsVersion {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
            TlsVersion::Unknown => "unknown",
        }
    }

    /// The version a hello or record carries on the wire (`0x0303` is TLS 1.2).
    pub fn from_wire(version: u16) -> Option<TlsVersion> {
        match version {
            0x0301 => Some(TlsVersion::Tls10),
            0x0302 => Some(TlsVersion::Tls11),
            0x0303 => Some(TlsVersion::Tls12),
            0x0304 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of several results of one target this is; metrics give it a label of its own
/// (`address`, `file`), named there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instance {
    /// One of the addresses the target's name resolved to, `ip:port` (targets that probe every
    /// address).
    Address(String),
    /// One certificate file the target's path matched, as displayed.
    File(String),
    /// One data key of a Secret or ConfigMap a Kubernetes target read.
    KubeKey(Box<KubeKey>),
    /// One watch of a Kubernetes target (`secrets/prod/type=kubernetes.io/tls`): whether the API
    /// server answers it, and why not.
    KubeWatch(String),
}

impl Instance {
    /// The address, the path, `namespace/name/key` or the watch.
    pub fn value(&self) -> &str {
        match self {
            Instance::Address(value) | Instance::File(value) | Instance::KubeWatch(value) => value,
            Instance::KubeKey(key) => &key.display,
        }
    }
}

/// Which kind of Kubernetes object a key is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KubeKind {
    /// A `core/v1` Secret (its `data`).
    Secret,
    /// A `core/v1` ConfigMap (its `data` and `binaryData`).
    ConfigMap,
}

impl KubeKind {
    /// The labels of a key of this kind: namespace, name, key.
    pub fn label_names(self) -> [&'static str; 3] {
        match self {
            KubeKind::Secret => ["secret_namespace", "secret_name", "secret_key"],
            KubeKind::ConfigMap => ["configmap_namespace", "configmap_name", "configmap_key"],
        }
    }

    /// `secret` or `configmap`.
    pub fn as_str(self) -> &'static str {
        match self {
            KubeKind::Secret => "secret",
            KubeKind::ConfigMap => "configmap",
        }
    }
}

/// One data key of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeKey {
    /// Secret or ConfigMap.
    pub kind: KubeKind,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The data key.
    pub key: String,
    /// `namespace/name/key`, for logs and the `check` report.
    pub display: String,
}

impl KubeKey {
    /// The key `key` of the object `namespace/name`.
    pub fn new(kind: KubeKind, namespace: &str, name: &str, key: &str) -> KubeKey {
        KubeKey {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            key: key.to_string(),
            display: format!("{namespace}/{name}/{key}"),
        }
    }

    /// The three labels of this key, in the order the page lists them.
    pub fn labels(&self) -> [(&'static str, &str); 3] {
        let [ns, name, key] = self.kind.label_names();
        [(ns, &self.namespace), (name, &self.name), (key, &self.key)]
    }
}

/// What was negotiated in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// The protocol version.
    pub version: TlsVersion,
    /// IANA-style suite name, e.g. `TLS13_AES_128_GCM_SHA256` (a static name for every suite
    /// rustls or the legacy check names, so a stored result holds no copy).
    pub cipher: Cow<'static, str>,
    /// Key-exchange group, e.g. `X25519`; empty when unknown.
    pub group: Cow<'static, str>,
}

/// The entry of a file a result is about, when a file holds several that are reported apart
/// (a kubeconfig's clusters and users): one more label beside `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The label's name (`kubeconfig_cluster`, `kubeconfig_user`).
    pub label: &'static str,
    /// The entry's name, the label's value (bounded by the decoder).
    pub name: String,
}

/// What a CRL file says (file targets; see `probe::files::formats::crl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlFacts {
    /// The issuer's name as text (`CN=…, O=…`), cut to
    /// `probe::files::formats::MAX_ISSUER_LABEL` bytes for the label.
    pub issuer: String,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds; `None` when the CRL does not say (it never goes stale by date).
    pub next_update: Option<i64>,
}

/// Everything one probe of one endpoint found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// When the probe finished.
    pub finished_at: SystemTime,
    /// Which result of the target this is, when it has several (every resolved address, every
    /// matched file).
    pub instance: Option<Box<Instance>>,
    /// The address connected to (`ip:port`), when one was reached.
    pub peer: Option<std::net::SocketAddr>,
    /// Duration of each phase that ran.
    pub phases: Timings,
    /// Why the probe failed; `None` when it completed.
    pub failure: Option<ProbeFailure>,
    /// How far the STARTTLS dialogue had got when it ran out of time (`starttls_timeout`).
    pub starttls_stall: Option<super::starttls::Stall>,
    /// What the handshake negotiated, when it completed.
    pub tls: Option<TlsSession>,
    /// The served chain and its verdict, whenever certificates arrived (even if the handshake
    /// failed afterwards).
    pub chain: Option<ChainReport>,
    /// Whether the server asked for a client certificate.
    pub client_cert_requested: bool,
    /// What OCSP (stapled and responder) and CRLs said, whenever a chain was read and the
    /// prober checks revocation.
    pub revocation: Option<crate::revocation::RevocationReport>,
    /// Whether the server speaks TLS 1.0 and 1.1, when the check ran (endpoints with
    /// `legacy_protocols` on, once a connection was made).
    pub legacy: Option<crate::probe::legacy::LegacyReport>,
    /// What the caIssuers download found, when the path did not build and the leaf names one.
    pub aia: Option<Box<crate::probe::aia::AiaOutcome>>,
    /// The CA's renewal window for the leaf (RFC 9773), when the target has an ACME
    /// directory (boxed: most targets have none).
    pub renewal: Option<Box<crate::probe::renewal::RenewalOutcome>>,
    /// The CRL a file target's file holds, instead of certificates.
    pub crl: Option<Box<CrlFacts>>,
    /// The entry of the file (`instance`) this result is about, when it has several.
    pub entry: Option<Box<FileEntry>>,
    /// The other leaves the server offers to clients with other signature schemes, when the
    /// extra handshakes ran (endpoints whose handshake got a chain) and found another leaf or
    /// failed for a key type; `None` for a server with one leaf (boxed: most have one).
    pub leaves: Option<Box<crate::probe::leaves::LeafReport>>,
    /// Whether the name's CAA records still allow the leaf's CA, when the check ran
    /// (endpoints with `caa: true` whose probe got a leaf; boxed: most targets have it off).
    pub caa: Option<Box<crate::probe::caa::CaaReport>>,
    /// Whether the name's TLSA records match the served chain, when the check ran (endpoints
    /// with `dane: true` whose handshake got a chain).
    pub dane: Option<Box<crate::probe::dane::DaneReport>>,
}

impl ProbeResult {
    /// An empty result, to be filled phase by phase.
    pub fn new() -> ProbeResult {
        ProbeResult {
            finished_at: SystemTime::UNIX_EPOCH,
            instance: None,
            peer: None,
            phases: Timings::default(),
            failure: None,
            starttls_stall: None,
            tls: None,
            chain: None,
            client_cert_requested: false,
            revocation: None,
            legacy: None,
            aia: None,
            renewal: None,
            crl: None,
            entry: None,
            leaves: None,
            caa: None,
            dane: None,
        }
    }

    /// `cert_probe_success`: the probe got a certificate chain (or, from a CRL file, a CRL); for
    /// the result of a Kubernetes watch, which holds no chain of its own, that the API server
    /// answers it.
    pub fn success(&self) -> bool {
        match self.instance.as_deref() {
            Some(Instance::KubeWatch(_)) => self.failure.is_none(),
            _ => self.chain.is_some() || self.crl.is_some(),
        }
    }
}

impl ProbeResult {
    /// This result once per chain, for the `check` command: itself, then, for a server that
    /// offers several leaves, one result per other leaf with that chain, its revocation and
    /// caIssuers outcome (the probe's failure, session, legacy answers and the leaf report
    /// stay with the first). Each with its key type when there are several.
    pub fn per_leaf(self) -> Vec<(Option<KeyType>, ProbeResult)> {
        let Some(leaves) = self.leaves.as_ref().filter(|l| l.several()) else {
            return vec![(None, self)];
        };
        let main = leaves.main;
        let mut all = Vec::with_capacity(1 + leaves.others.len());
        for other in leaves.others.clone() {
            let mut r = ProbeResult::new();
            r.finished_at = self.finished_at;
            r.instance = self.instance.clone();
            r.peer = self.peer;
            r.client_cert_requested = self.client_cert_requested;
            r.chain = Some(other.chain);
            r.revocation = other.revocation;
            r.aia = other.aia.map(Box::new);
            all.push((Some(other.key_type), r));
        }
        all.insert(0, (Some(main), self));
        all
    }
}

impl Default for ProbeResult {
    fn default() -> Self {
        ProbeResult::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{Phase, ProbeResult, Timings};
    use std::time::Duration;

    /// The stored result of every target, kept until its next probe: the parts most targets
    /// never have are boxed, so a healthy endpoint's result stays at this size (704 bytes
    /// before the renewal outcome, the leaves report and the CAA report were boxed and the
    /// TLS 1.0/1.1 answers held inline; 464 after).
    /// Printed for the record (`cargo test --lib probe::result -- --nocapture`).
    #[test]
    fn a_stored_result_is_small() {
        let size = std::mem::size_of::<ProbeResult>();
        println!("ProbeResult: {size} bytes");
        assert!(size <= 504, "ProbeResult is {size} bytes");
    }

    #[test]
    fn timings_keep_microseconds_in_eight_bytes_a_phase() {
        assert_eq!(std::mem::size_of::<(Phase, u32)>(), 8);
        let timings: Timings = [
            (Phase::Dns, Duration::from_nanos(2_500)),
            (Phase::Handshake, Duration::from_millis(20)),
            (Phase::Total, Duration::from_secs(5_000)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            timings.iter().collect::<Vec<_>>(),
            [
                (Phase::Dns, Duration::from_micros(2)),
                (Phase::Handshake, Duration::from_millis(20)),
                // Beyond a u32 of microseconds (71 minutes): saturates rather than wraps.
                (Phase::Total, Duration::from_micros(u32::MAX.into())),
            ]
        );
        assert_eq!(
            timings.get(Phase::Handshake),
            Some(Duration::from_millis(20))
        );
        assert_eq!(timings.get(Phase::Connect), None);
    }
}
