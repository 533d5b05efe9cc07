//! Why a probe did not complete: the `reason` label of `cert_probe_error_info`, one variant per
//! label value, so code branches on variants and each value is spelled once, here.

use std::fmt;

use crate::failure::{Failure, Reason};

/// Why a probe did not complete, with the sentence for logs and the `check` command.
pub type ProbeFailure = Failure<ProbeReason>;

/// The fixed reason of a probe failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeReason {
    /// The name did not resolve (or the target has no address).
    Dns,
    /// Resolution did not finish before the probe timeout.
    DnsTimeout,
    /// Connecting failed for another reason (or there was no address to connect to).
    Connect,
    /// No answer to the connection before the timeout.
    ConnectTimeout,
    /// The address refused the connection.
    ConnectRefused,
    /// No route to the address.
    ConnectUnreachable,
    /// The handshake (or the reading of a file target) did not finish in time.
    Timeout,
    /// The TLS handshake failed for a reason without a label of its own.
    TlsHandshake,
    /// No TLS version in common (the server speaks only TLS 1.0/1.1, or nothing known).
    ProtocolVersion,
    /// The server wants a client certificate and got none.
    ClientCertRequired,
    /// The server refused the client certificate presented.
    ClientCertRejected,
    /// The server's handshake signature, or its key, was refused (an RSA key under 2048 bits, a
    /// signature that does not verify, an unadvertised scheme).
    TlsServerSignature,
    /// rustls cannot parse the leaf the server sent (an unknown critical extension, an
    /// extension given twice, a v1 certificate, bad DER), so the handshake signature cannot be
    /// checked against its key.
    MalformedCertificate,
    /// A handshake message, in practice the server's Certificate message (the whole chain), is
    /// over the 64 KiB rustls accepts.
    CertificateTooLarge,
    /// The STARTTLS dialogue went wrong: the server said something unexpected.
    Starttls,
    /// The server does not offer STARTTLS.
    StarttlsUnsupported,
    /// The STARTTLS dialogue did not finish before the probe timeout.
    StarttlsTimeout,
    /// The server refused this client in words of its protocol before TLS: an XMPP stream
    /// error (`host-unknown`, …), a MySQL error packet instead of the greeting (1130: host not
    /// allowed, 1040: too many connections, …). The detail has its condition or code and text.
    StarttlsRefused,
    /// The proxy could not be reached or talked to.
    ProxyConnect,
    /// The proxy refused to open the tunnel.
    ProxyRefused,
    /// A certificate file could not be opened or read, or is not a regular file.
    FileUnreadable,
    /// A certificate file is larger than a certificate file may be.
    FileTooLarge,
    /// No file matches the target's path (or the glob is invalid).
    FileNotFound,
    /// A file holds no certificate.
    FileNoCertificate,
    /// A file's certificates do not decode.
    FileMalformed,
    /// The PKCS#12 password is wrong or cannot be read.
    Pkcs12Password,
    /// A JKS or JCEKS keystore's password is wrong (its integrity digest does not match) or
    /// cannot be read.
    KeystorePassword,
    /// A CRL file's CRL does not parse.
    CrlMalformed,
    /// A kubeconfig does not parse, or an entry's certificate data is not base64.
    KubeconfigMalformed,
    /// A URL target's server answered with an HTTP error status (404, 500, …).
    UrlHttpStatus,
    /// A URL target's body is over the cap.
    UrlTooLarge,
    /// A URL target's server could not be reached (connection, TLS, redirects).
    UrlUnreachable,
    /// A file holds more certificates than are read.
    FileTooManyCertificates,
    /// The path matches more files than are read.
    TooManyFiles,
    /// A Secret or ConfigMap key a Kubernetes target reads is empty.
    KeyEmpty,
    /// The API server refused the watch (HTTP 403: RBAC does not allow it in that namespace).
    KubernetesForbidden,
    /// The API server refused the credentials (HTTP 401).
    KubernetesUnauthorized,
    /// The API server cannot be reached (connection refused, TLS, a dropped watch).
    KubernetesUnreachable,
    /// The API server answered the watch with another error.
    KubernetesApi,
    /// `check k8s://namespace/name`: no such Secret, or none of its keys is one that is read.
    KubernetesNotFound,
    /// No client could be made: the kubeconfig, the in-cluster service account or its
    /// credentials (exec plugin, token file) are unusable.
    KubernetesConfig,
}

impl ProbeReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeReason::Dns => "dns",
            ProbeReason::DnsTimeout => "dns_timeout",
            ProbeReason::Connect => "connect",
            ProbeReason::ConnectTimeout => "connect_timeout",
            ProbeReason::ConnectRefused => "connect_refused",
            ProbeReason::ConnectUnreachable => "connect_unreachable",
            ProbeReason::Timeout => "timeout",
            ProbeReason::TlsHandshake => "tls_handshake",
            ProbeReason::ProtocolVersion => "protocol_version",
            ProbeReason::ClientCertRequired => "client_cert_required",
            ProbeReason::ClientCertRejected => "client_cert_rejected",
            ProbeReason::TlsServerSignature => "tls_server_signature",
            ProbeReason::MalformedCertificate => "malformed_certificate",
            ProbeReason::CertificateTooLarge => "certificate_too_large",
            ProbeReason::Starttls => "starttls",
            ProbeReason::StarttlsUnsupported => "starttls_unsupported",
            ProbeReason::StarttlsTimeout => "starttls_timeout",
            ProbeReason::StarttlsRefused => "starttls_refused",
            ProbeReason::ProxyConnect => "proxy_connect",
            ProbeReason::ProxyRefused => "proxy_refused",
            ProbeReason::FileUnreadable => "file_unreadable",
            ProbeReason::FileTooLarge => "file_too_large",
            ProbeReason::FileNotFound => "file_not_found",
            ProbeReason::FileNoCertificate => "file_no_certificate",
            ProbeReason::FileMalformed => "file_malformed",
            ProbeReason::Pkcs12Password => "pkcs12_password",
            ProbeReason::KeystorePassword => "keystore_password",
            ProbeReason::CrlMalformed => "crl_malformed",
            ProbeReason::KubeconfigMalformed => "kubeconfig_malformed",
            ProbeReason::UrlHttpStatus => "url_http_status",
            ProbeReason::UrlTooLarge => "url_too_large",
            ProbeReason::UrlUnreachable => "url_unreachable",
            ProbeReason::FileTooManyCertificates => "file_too_many_certificates",
            ProbeReason::TooManyFiles => "too_many_files",
            ProbeReason::KeyEmpty => "key_empty",
            ProbeReason::KubernetesForbidden => "kubernetes_forbidden",
            ProbeReason::KubernetesUnauthorized => "kubernetes_unauthorized",
            ProbeReason::KubernetesUnreachable => "kubernetes_unreachable",
            ProbeReason::KubernetesApi => "kubernetes_api",
            ProbeReason::KubernetesNotFound => "kubernetes_not_found",
            ProbeReason::KubernetesConfig => "kubernetes_config",
        }
    }
}

impl Reason for ProbeReason {
    fn as_str(self) -> &'static str {
        ProbeReason::as_str(self)
    }
}

impl fmt::Display for ProbeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
