//! What a probe failure means, by its reason.

use super::{Finding, Severity};
use crate::config::Target;
use crate::probe::{ProbeReason, ProbeResult, Stall};

/// The advice for a dialogue the server broke off or answered unexpectedly.
const IMPLICIT_TLS: &str =
    "check the protocol: an implicit-TLS port (465, 993, 995, 636) needs no STARTTLS";

/// The finding for a probe that failed with `reason`.
pub(super) fn finding(
    target: &Target,
    result: &ProbeResult,
    reason: ProbeReason,
    detail: &str,
) -> Finding {
    use ProbeReason::*;
    use Severity::*;
    let endpoint = target
        .address()
        .map(|a| a.to_string())
        .unwrap_or_else(|| target.name.clone());
    let code = reason.as_str();
    let broken = |message: String| Finding::new(Broken, code, message);
    match reason {
        Dns | DnsTimeout => broken(format!(
            "the name of {endpoint} does not resolve ({detail})"
        ))
        .advice("check the name and this machine's DNS resolvers"),
        ConnectRefused => broken(format!("nothing accepts connections on {endpoint}"))
            .advice("check that the service runs and listens on that port"),
        ConnectTimeout | ConnectUnreachable | Connect => {
            broken(format!("cannot connect to {endpoint} ({detail})"))
                .advice("check firewalls, routing and the port")
        }
        Timeout => broken(format!(
            "the TLS handshake did not finish in time ({detail})"
        ))
        .advice("check that the port speaks TLS directly (not STARTTLS) and the server's load"),
        ProtocolVersion => match &result.tls {
            Some(tls) => broken(format!(
                "the server speaks only {} (no TLS 1.2 or 1.3): modern clients cannot connect; \
                 its certificate was read over {}",
                tls.version, tls.version
            ))
            .advice("enable TLS 1.2 and TLS 1.3 on the server, then switch the old versions off"),
            None => broken(
                "the server offers no TLS version modern clients speak (TLS 1.2 or 1.3)".into(),
            )
            .advice("enable TLS 1.2 and TLS 1.3 on the server"),
        },
        MalformedCertificate => broken(detail.to_string()).advice(
            "reissue the certificate as X.509 v3, each extension once, with no critical \
             extension clients do not know (`openssl x509 -noout -text` shows them); no TLS \
             client built on rustls connects until then",
        ),
        CertificateTooLarge => broken(detail.to_string()).advice(
            "send a smaller chain: leave the root out, drop certificates the path does not \
             need, and split a certificate with thousands of names into several",
        ),
        TlsServerSignature => broken(format!(
            "modern clients refuse the server's key or handshake signature ({detail})"
        ))
        .advice("use a key of at least RSA 2048 bits or ECDSA P-256"),
        ClientCertRequired => Finding::new(
            Note,
            code,
            "the server requires a client certificate (mutual TLS) to complete the handshake",
        )
        .advice("give one with client_cert/client_key in the configuration to check the rest"),
        ClientCertRejected => broken("the server rejected the client certificate presented".into())
            .advice(
                "check that the client certificate is valid and issued by a CA the server trusts",
            ),
        StarttlsUnsupported => broken(format!("the server does not offer STARTTLS ({detail})"))
            .advice("enable TLS in the service, or check the protocol and port"),
        StarttlsRefused => {
            let advice = match target.reach.starttls {
                Some(crate::config::Starttls::Xmpp) => {
                    "set server_name to a domain the server hosts (the stream asks for it); \
                     the server's own words are above"
                }
                Some(crate::config::Starttls::Mysql) => {
                    "let the exporter's address connect: an account with no rights for its host \
                     (CREATE USER 'cert-expiry-exporter'@'<exporter address>' ACCOUNT LOCK), or \
                     raise max_connections if the server is full; the probe never logs in"
                }
                _ => "the server's own words are above: it refuses this client before TLS",
            };
            broken(format!(
                "the server refused the connection before TLS ({detail})"
            ))
            .advice(advice)
        }
        Starttls => broken(format!("the STARTTLS dialogue failed ({detail})")).advice(IMPLICIT_TLS),
        StarttlsTimeout => {
            let finding = broken(format!(
                "the STARTTLS dialogue did not finish in time ({detail})"
            ));
            match result.starttls_stall {
                Some(Stall::Unfinished) => finding.advice(
                    "the server was still sending when the timeout ran out: some servers hold \
                     back the end of their greeting on purpose (Postfix's postscreen sends the \
                     last `220` line after postscreen_greet_wait, 6 s by default), so raise the \
                     target's timeout above the server's greeting delay",
                ),
                Some(Stall::Unanswered) => finding.advice(
                    "the server stopped answering in the middle of the dialogue: check its log \
                     and load, or raise the target's timeout",
                ),
                Some(Stall::Silent) | None => finding.advice(
                    "the server said nothing: check the protocol (an implicit-TLS port such as \
                     465, 993, 995 or 636 waits for the client's TLS hello and needs no \
                     STARTTLS), or the server's load",
                ),
            }
        }
        ProxyConnect | ProxyRefused => {
            broken(format!("the proxy did not open a tunnel ({detail})"))
                .advice("check the proxy URL, its credentials and what it allows")
        }
        FileTooManyCertificates => Finding::new(Attention, code, detail.to_string())
            .advice("split the file: only the first 1,024 certificates are read"),
        KubernetesForbidden => broken(format!("the API server refused the watch ({detail})"))
            .advice("give the service account get/list/watch on secrets (and configmaps) there: see docs/kubernetes.md"),
        KubernetesUnauthorized | KubernetesConfig => {
            broken(format!("no usable Kubernetes credentials ({detail})"))
                .advice("check the kubeconfig (or, in a pod, the service account token)")
        }
        KubernetesNotFound => broken(detail.to_string())
            .advice("check the namespace and name (kubectl get secret -n NAMESPACE NAME) and that its certificate is under tls.crt or ca.crt"),
        KubernetesUnreachable | KubernetesApi => {
            broken(format!("the Kubernetes API server did not answer ({detail})"))
                .advice("check the server URL of the kubeconfig and that the API server runs")
        }
        TlsHandshake | FileUnreadable | FileTooLarge | FileNotFound | FileNoCertificate
        | FileMalformed | Pkcs12Password | KeystorePassword | CrlMalformed
        | KubeconfigMalformed | TooManyFiles | UrlHttpStatus | UrlTooLarge | UrlUnreachable
        | KeyEmpty => {
            broken(format!("the probe failed: {detail}"))
        }
    }
}
