//! From facts to verdicts: every finding of one probe result, in plain words, each with what to
//! do about it. Pure: the same [`ProbeResult`] the exporter serves as metrics goes in, a list
//! of [`Finding`]s comes out, and the worst severity decides `check`'s exit status.

use crate::config::Target;
use crate::probe::legacy::LegacyVersion;
use crate::probe::{ProbeReason, ProbeResult};
use crate::x509::{weak, CertFacts, ChainError, ChainReport};

use super::format_utc;

/// How much a finding matters; ordered from harmless to broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something that is as it should be.
    Ok,
    /// Worth knowing, nothing to fix on the server (a revocation source that did not answer).
    Note,
    /// Works today, should be fixed: expiring soon, weak crypto, legacy protocols.
    Attention,
    /// Clients fail: invalid, revoked, expired, unreachable.
    Broken,
}

impl Severity {
    /// The word used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Note => "note",
            Severity::Attention => "attention",
            Severity::Broken => "broken",
        }
    }

    /// `check`'s exit status for this severity: 0 fine, 1 attention, 2 broken.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Ok | Severity::Note => 0,
            Severity::Attention => 1,
            Severity::Broken => 2,
        }
    }
}

/// One verdict in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters; the worst decides the exit status.
    pub severity: Severity,
    /// A fixed code for scripts: the metric's reason where there is one (`expired`,
    /// `missing_intermediate`, `sha1_signature`, …).
    pub code: &'static str,
    /// What is the case.
    pub message: String,
    /// What to do about it, when anything.
    pub advice: Option<String>,
}

impl Finding {
    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            severity,
            code,
            message: message.into(),
            advice: None,
        }
    }

    fn advice(mut self, advice: impl Into<String>) -> Finding {
        self.advice = Some(advice.into());
        self
    }
}

/// The worst severity among `findings` (`Ok` when there are none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Every finding of `result`, a probe of `target` judged at `now` (Unix seconds); a path
/// certificate expiring within `warn_days` needs attention. Worst first.
pub fn assess(target: &Target, result: &ProbeResult, now: i64, warn_days: f64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(failure) = &result.failure {
        findings.push(probe_failure(
            target,
            result,
            failure.reason,
            &failure.detail,
        ));
    }
    if let Some(chain) = &result.chain {
        chain_findings(target, result, chain, now, warn_days, &mut findings);
        for (position, weakness) in weak::of_chain(chain) {
            findings.push(weakness_finding(&chain.certs[position], position, weakness));
        }
    }
    if let Some(legacy) = &result.legacy {
        legacy_findings(legacy, &mut findings);
    }
    revocation_findings(result, &mut findings);
    // Worst first; the order within a severity is the order of the checks.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// A finding about the machine running the check: its clock against the CAs' servers.
pub fn clock_finding(skew_seconds: Option<f64>) -> Option<Finding> {
    let skew = skew_seconds?;
    let (direction, amount) = if skew >= 0.0 {
        ("ahead of", skew)
    } else {
        ("behind", -skew)
    };
    let said = if amount < 1.0 {
        "this machine's clock agrees with the CA servers' to the second (HTTP Date of their answers)"
            .to_string()
    } else {
        format!(
            "this machine's clock is {} {direction} the CA servers' (HTTP Date of their answers)",
            humantime::format_duration(std::time::Duration::from_secs(amount.round() as u64))
        )
    };
    Some(if amount > 300.0 {
        Finding::new(Severity::Attention, "clock_skew", said).advice(
            "fix time synchronisation (NTP, chrony, systemd-timesyncd): expiry and \
             revocation answers are judged against this clock",
        )
    } else {
        Finding::new(Severity::Ok, "clock_skew", said)
    })
}

/// What a probe failure means, by its reason.
fn probe_failure(
    target: &Target,
    result: &ProbeResult,
    reason: ProbeReason,
    detail: &str,
) -> Finding {
    use ProbeReason::*;
    use Severity::*;
    let endpoint = target
        .address
        .as_ref()
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
        Starttls | StarttlsTimeout => broken(format!("the STARTTLS dialogue failed ({detail})"))
            .advice(
                "check the protocol: an implicit-TLS port (465, 993, 995, 636) needs no STARTTLS",
            ),
        ProxyConnect | ProxyRefused => {
            broken(format!("the proxy did not open a tunnel ({detail})"))
                .advice("check the proxy URL, its credentials and what it allows")
        }
        FileTooManyCertificates => Finding::new(Attention, code, detail.to_string())
            .advice("split the file: only the first 1,024 certificates are read"),
        TlsHandshake | FileUnreadable | FileTooLarge | FileNotFound | FileNoCertificate
        | FileMalformed | Pkcs12Password | TooManyFiles => {
            broken(format!("the probe failed: {detail}"))
        }
    }
}

/// The chain's verdict and expiry.
fn chain_findings(
    target: &Target,
    result: &ProbeResult,
    chain: &ChainReport,
    now: i64,
    warn_days: f64,
    findings: &mut Vec<Finding>,
) {
    use Severity::*;
    let path: Vec<(usize, &CertFacts)> = chain
        .certs
        .iter()
        .enumerate()
        .filter(|(i, _)| chain.in_path.get(*i).copied().unwrap_or(false))
        .map(|(i, c)| (i, c.as_ref()))
        .collect();
    for error in &chain.errors {
        let finding = match error {
            ChainError::Expired => {
                let gone: Vec<String> = path
                    .iter()
                    .filter(|(_, c)| now > c.not_after)
                    .map(|(i, c)| {
                        format!(
                            "{} expired on {} ({} ago)",
                            which(*i, c),
                            format_utc(c.not_after),
                            days_text((now - c.not_after) as f64 / DAY)
                        )
                    })
                    .collect();
                Finding::new(Broken, error.as_str(), gone.join("; "))
                    .advice("renew the certificate and deploy the new one (and reload the server)")
            }
            ChainError::NotYetValid => {
                let early: Vec<String> = path
                    .iter()
                    .filter(|(_, c)| now < c.not_before)
                    .map(|(i, c)| format!("{} is valid only from {}", which(*i, c), format_utc(c.not_before)))
                    .collect();
                Finding::new(Broken, error.as_str(), early.join("; ")).advice(
                    "it was deployed too early, or a clock is wrong (this machine's: see the clock line)",
                )
            }
            ChainError::MissingIntermediate => {
                let from = result
                    .aia
                    .as_ref()
                    .map(|a| a.completed_from.join(", "))
                    .unwrap_or_default();
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!(
                        "the server does not send its intermediate certificate: the chain is \
                         complete only with the issuer published at {from}; browsers may cope, \
                         curl, Java, Go and most apps fail"
                    ),
                )
                .advice("configure the full chain (leaf + intermediates, e.g. fullchain.pem) on the server")
            }
            ChainError::UnknownIssuer => {
                let issuer = chain.certs.last().map(|c| c.issuer.as_str()).unwrap_or("");
                let mut f = Finding::new(
                    Broken,
                    error.as_str(),
                    format!("the chain does not lead to a trusted root (it stops at issuer {issuer})"),
                )
                .advice(
                    "use a certificate from a publicly trusted CA and send its intermediates, or \
                     trust the private CA with --ca-file (ca_file in the configuration)",
                );
                if let Some(e) = result.aia.as_ref().and_then(|a| a.error.as_ref()) {
                    f.message.push_str(&format!("; the leaf's caIssuers URL did not help: {e}"));
                }
                f
            }
            ChainError::SelfSigned => Finding::new(
                Broken,
                error.as_str(),
                "the certificate is self-signed and not trusted",
            )
            .advice(
                "replace it with one from a CA, or trust it explicitly with --ca-file (then issue \
                 it with basicConstraints CA:FALSE: rustls clients refuse a CA certificate as a \
                 server's, and `openssl req -x509` makes CA:TRUE by default)",
            ),
            ChainError::HostnameMismatch => {
                let leaf = &chain.certs[0];
                let covered: Vec<&str> = leaf
                    .dns_names
                    .iter()
                    .chain(&leaf.ip_addresses)
                    .map(String::as_str)
                    .collect();
                let covered = if covered.is_empty() {
                    "no name at all".to_string()
                } else {
                    covered.join(", ")
                };
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!("the certificate does not cover {} (it covers {covered})", target.server_name),
                )
                .advice("issue a certificate that names it, or check which virtual host SNI reaches")
            }
            ChainError::UnsupportedSignatureAlgorithm => Finding::new(
                Broken,
                error.as_str(),
                "a signature in the chain uses an algorithm or key modern clients reject \
                 (SHA-1, MD5, RSA under 2048 bits, …; see the weak-crypto lines)",
            )
            .advice("reissue with SHA-256 and an RSA 2048+ or ECDSA P-256 key"),
            ChainError::BadSignature => Finding::new(
                Broken,
                error.as_str(),
                "a signature in the chain does not verify",
            )
            .advice("the chain mixes certificates that do not belong together: deploy the chain the CA issued"),
            ChainError::InvalidPurpose => Finding::new(
                Broken,
                error.as_str(),
                "the leaf is not meant for TLS servers (extendedKeyUsage without serverAuth, or a CA certificate)",
            )
            .advice(
                "reissue it as a TLS server certificate (extendedKeyUsage serverAuth, \
                 basicConstraints CA:FALSE)",
            ),
            ChainError::AnchorExpired | ChainError::AnchorNotYetValid => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain ends at a trust anchor outside its validity ({}); OpenSSL-, Go- \
                     and Java-based clients refuse the chain",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice(
                "reissue the intermediate (and leaf) under a current root and distribute that \
                 root (ca_file, clients' trust stores); an expired root cannot be renewed in place",
            ),
            ChainError::AnchorUnusable => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain ends at a trust anchor strict clients refuse ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice(
                "reissue the root with basicConstraints CA:TRUE (critical) and only standard \
                 extensions, then the chain under it; or trust the right root in ca_file",
            ),
            ChainError::WeakKey => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "a key of the chain is one no rustls client accepts ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            )
            .advice("reissue with an RSA 2048+ (up to 8192) or ECDSA P-256/P-384 key"),
            ChainError::PathNotBuilt => Finding::new(
                Broken,
                error.as_str(),
                "every signature verifies up to a trust anchor, but rustls-webpki cannot build \
                 this path (self-issued intermediates, as in a CA key rollover)",
            )
            .advice(
                "send the chain without the self-issued (rollover) certificates, leaf to the \
                 intermediate the current root signed",
            ),
            ChainError::ConstraintViolation => Finding::new(
                Broken,
                error.as_str(),
                "a CA's name or path-length constraints forbid this chain",
            )
            .advice("issue the certificate from a CA allowed to issue for this name"),
            ChainError::Revoked => {
                let sources: Vec<&str> = result
                    .revocation
                    .iter()
                    .flat_map(|r| &r.sources)
                    .filter(|s| s.revoked == Some(true))
                    .map(|s| s.source.as_str())
                    .collect();
                Finding::new(
                    Broken,
                    error.as_str(),
                    format!("a certificate of the chain is revoked (according to {})", sources.join(", ")),
                )
                .advice("issue and deploy a new certificate; if the key may have leaked, a new key too")
            }
            ChainError::Malformed => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "a certificate does not parse, or uses an encoding strict parsers refuse ({})",
                    chain.detail.as_deref().unwrap_or("malformed")
                ),
            )
            .advice(
                "deploy the certificate files the CA issued, unmodified; if they are so, the CA \
                 must reissue (no unknown critical extension, a v3 certificate, each extension \
                 once)",
            ),
            ChainError::Invalid => Finding::new(
                Broken,
                error.as_str(),
                format!(
                    "the chain does not verify ({})",
                    chain.detail.as_deref().unwrap_or("no detail")
                ),
            ),
        };
        findings.push(finding);
    }

    if chain.judged && chain.is_valid() {
        let anchor = if chain.private_anchor {
            "a private CA (ca_file)"
        } else {
            "the system's trusted roots"
        };
        let name = if target.server_name.is_empty() {
            String::new()
        } else {
            format!(" for {}", target.server_name)
        };
        findings.push(Finding::new(
            Ok,
            "chain_valid",
            format!("the chain is valid{name} and leads to {anchor}"),
        ));
    }

    // Expiry, when not already expired.
    if let Some(expiry) = chain.expiry {
        let days = (expiry - now) as f64 / DAY;
        if days >= 0.0 {
            // The path's certificates first; a bundle (no path) counts all of its own.
            let first = path
                .iter()
                .copied()
                .find(|(_, c)| c.not_after == expiry)
                .or_else(|| {
                    chain
                        .certs
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i, c.as_ref()))
                        .find(|(_, c)| c.not_after == expiry)
                })
                .map(|(i, c)| which(i, c))
                .unwrap_or_else(|| "a certificate".into());
            let (left, date) = (days_text(days), format_utc(expiry));
            findings.push(if days <= warn_days {
                Finding::new(
                    Attention,
                    "expiring_soon",
                    format!("{first} expires in {left}, on {date}"),
                )
                .advice("renew it and deploy the new certificate before then")
            } else {
                Finding::new(
                    Ok,
                    "expiry",
                    format!("{first} is valid for {left} more, until {date}"),
                )
            });
        }
    }

    // Profile rules no client enforces: worth telling the CA, never a failure.
    for (i, cert) in &path {
        for lint in cert.lints.iter().filter(|l| *i == 0 || !l.leaf_only()) {
            findings.push(
                Finding::new(
                    Note,
                    lint.as_str(),
                    format!(
                        "{} breaks a profile rule: {}",
                        which(*i, cert),
                        lint.describe()
                    ),
                )
                .advice(
                    "clients accept it today; mention it to whoever issues the certificate, \
                     as CAs and stricter clients may refuse it later",
                ),
            );
        }
    }
}

/// The finding for one weakness of the certificate at `position`.
fn weakness_finding(cert: &CertFacts, position: usize, weakness: weak::Weakness) -> Finding {
    use weak::Weakness::*;
    let who = which(position, cert);
    let (message, advice) = match weakness {
        Sha1Signature => (
            format!("{who} is signed with SHA-1 ({})", cert.signature_algorithm),
            "reissue it signed with SHA-256 or better".to_string(),
        ),
        Md5Signature => (
            format!("{who} is signed with MD5 ({})", cert.signature_algorithm),
            "reissue it signed with SHA-256 or better".to_string(),
        ),
        RsaKeyUnder2048 => (
            format!("{who} has an RSA key of {} bits", cert.key_bits),
            "reissue it with an RSA key of at least 2048 bits or an ECDSA P-256 key".to_string(),
        ),
        EcKeyUnder256 => (
            format!("{who} has an EC key of {} bits", cert.key_bits),
            "reissue it with an ECDSA P-256 (or larger) key".to_string(),
        ),
        LifetimeOverPublicMax => {
            let days = (cert.not_after - cert.not_before + 1) as f64 / DAY;
            let max = weak::public_max_days(cert.not_before).unwrap_or(0);
            (
                format!(
                    "{who} was issued for {} days, over the {max}-day maximum for publicly \
                     trusted certificates issued on {}",
                    days.ceil(),
                    format_utc(cert.not_before)
                ),
                "clients may reject it: reissue with a shorter lifetime and automate renewal (ACME)"
                    .to_string(),
            )
        }
    };
    Finding::new(Severity::Attention, weakness.as_str(), message).advice(advice)
}

/// What the legacy-protocol check found.
fn legacy_findings(legacy: &crate::probe::legacy::LegacyReport, findings: &mut Vec<Finding>) {
    let accepted: Vec<&str> = LegacyVersion::ALL
        .iter()
        .filter(|v| legacy.speaks(**v) == Some(true))
        .map(|v| v.as_str())
        .collect();
    let refused: Vec<&str> = LegacyVersion::ALL
        .iter()
        .filter(|v| legacy.speaks(**v) == Some(false))
        .map(|v| v.as_str())
        .collect();
    if !accepted.is_empty() {
        findings.push(
            Finding::new(
                Severity::Attention,
                "legacy_protocol",
                format!("the server still accepts {}", accepted.join(" and ")),
            )
            .advice(
                "switch TLS 1.0 and 1.1 off (nginx: ssl_protocols TLSv1.2 TLSv1.3; Apache: \
                 SSLProtocol -all +TLSv1.2 +TLSv1.3), after checking no old client needs them",
            ),
        );
    }
    if !refused.is_empty() {
        findings.push(Finding::new(
            Severity::Ok,
            "legacy_protocol",
            format!("the server refuses {}", refused.join(" and ")),
        ));
    }
    for (version, why) in &legacy.inconclusive {
        findings.push(Finding::new(
            Severity::Note,
            "legacy_protocol",
            format!(
                "could not tell whether the server accepts {}: {why}",
                version.as_str()
            ),
        ));
    }
}

/// Revocation sources that could not answer, and the stapling state. A verified revocation is
/// the chain's `revoked` finding.
fn revocation_findings(result: &ProbeResult, findings: &mut Vec<Finding>) {
    let Some(revocation) = &result.revocation else {
        return;
    };
    let good: Vec<&str> = revocation
        .sources
        .iter()
        .filter(|s| s.revoked == Some(false))
        .map(|s| s.source.as_str())
        .collect();
    if !good.is_empty() {
        findings.push(Finding::new(
            Severity::Ok,
            "not_revoked",
            format!("not revoked according to {}", good.join(", ")),
        ));
    }
    for source in &revocation.sources {
        for error in &source.errors {
            findings.push(Finding::new(
                Severity::Note,
                "revocation_check_failed",
                format!(
                    "{} gave no usable answer: {} ({})",
                    source.source.as_str(),
                    error.reason,
                    error.detail
                ),
            ));
        }
    }
    let leaf_has_ocsp = result
        .chain
        .as_ref()
        .and_then(|c| c.certs.first())
        .is_some_and(|leaf| !leaf.ocsp_urls.is_empty());
    if !revocation.stapled && leaf_has_ocsp {
        findings.push(
            Finding::new(
                Severity::Note,
                "ocsp_not_stapled",
                "the server does not staple an OCSP response",
            )
            .advice(
                "enable OCSP stapling (nginx: ssl_stapling on;) so clients need not ask the CA",
            ),
        );
    }
}

/// "the leaf (CN=…)" or "certificate 2 (CN=…)".
fn which(position: usize, cert: &CertFacts) -> String {
    if position == 0 {
        format!("the leaf ({})", cert.subject)
    } else {
        format!("certificate {position} ({})", cert.subject)
    }
}

/// "3 days", "1 day" (rounded to the nearest day), or "4.5 hours" under a day.
fn days_text(days: f64) -> String {
    if days < 1.0 {
        format!("{:.1} hours", days * 24.0)
    } else if days.round() == 1.0 {
        "1 day".to_string()
    } else {
        format!("{} days", days.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::legacy::LegacyReport;
    use crate::probe::{ProbeFailure, ProbeReason};
    use std::collections::BTreeSet;
    use std::sync::Arc;

    const NOW: i64 = 1_800_000_000;

    fn target() -> Arc<Target> {
        Config::parse("targets:\n  - address: shop.example:443\n")
            .unwrap()
            .targets[0]
            .clone()
    }

    fn cert(subject: &str, issuer: &str, days_left: i64) -> Arc<CertFacts> {
        Arc::new(CertFacts {
            subject: subject.into(),
            issuer: issuer.into(),
            serial: "01".into(),
            not_before: NOW - 10 * 86_400,
            not_after: NOW + days_left * 86_400,
            sha256_fingerprint: String::new(),
            key_algorithm: "EC",
            key_bits: 256,
            signature_algorithm: "ecdsa-with-SHA256".into(),
            dns_names: vec!["shop.example".into()],
            ip_addresses: Vec::new(),
            is_ca: subject != "CN=shop.example",
            self_issued: false,
            ocsp_urls: Vec::new(),
            ca_issuer_urls: Vec::new(),
            crl_urls: Vec::new(),
            lints: Vec::new(),
            refused_key: None,
            encoding_problem: None,
        })
    }

    fn result(errors: &[ChainError], leaf_days: i64) -> ProbeResult {
        let certs = vec![
            cert("CN=shop.example", "CN=Inter", leaf_days),
            cert("CN=Inter", "CN=Root", 900),
        ];
        let mut r = ProbeResult::new();
        r.chain = Some(ChainReport {
            in_path: vec![true; certs.len()],
            expiry: certs.iter().map(|c| c.not_after).min(),
            certs,
            errors: errors.iter().copied().collect::<BTreeSet<_>>(),
            private_anchor: false,
            detail: None,
            judged: true,
            anchored: errors.is_empty(),
            anchor: None,
        });
        r
    }

    fn codes(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
        findings.iter().map(|f| (f.code, f.severity)).collect()
    }

    #[test]
    fn issue_11_reasons_get_their_own_advice() {
        for (reason, says) in [
            (ChainError::SelfSigned, "CA:FALSE"),
            (ChainError::AnchorExpired, "current root"),
            (ChainError::AnchorNotYetValid, "current root"),
            (ChainError::AnchorUnusable, "basicConstraints CA:TRUE"),
            (ChainError::WeakKey, "RSA 2048+"),
            (ChainError::PathNotBuilt, "without the self-issued"),
            (ChainError::Malformed, "unknown critical extension"),
        ] {
            let f = assess(&target(), &result(&[reason], 90), NOW, 28.0);
            let finding = f
                .iter()
                .find(|f| f.code == reason.as_str())
                .unwrap_or_else(|| panic!("no finding for {reason:?}: {f:?}"));
            assert_eq!(finding.severity, Severity::Broken);
            let advice = finding.advice.as_deref().unwrap_or("");
            assert!(advice.contains(says), "{reason:?}: {advice}");
            assert!(
                !advice.contains("use a key of at least")
                    && !advice.contains("reissue it as a TLS server certificate"),
                "{reason:?}: {advice}"
            );
        }
    }

    #[test]
    fn a_healthy_chain_is_all_ok() {
        let f = assess(&target(), &result(&[], 90), NOW, 28.0);
        assert_eq!(worst(&f), Severity::Ok);
        assert_eq!(
            codes(&f),
            [("chain_valid", Severity::Ok), ("expiry", Severity::Ok)]
        );
        assert!(
            f[1].message
                .contains("the leaf (CN=shop.example) is valid for 90 days"),
            "{f:?}"
        );
    }

    #[test]
    fn expiring_within_warn_days_needs_attention() {
        let f = assess(&target(), &result(&[], 10), NOW, 28.0);
        assert_eq!(worst(&f), Severity::Attention);
        assert_eq!(f[0].code, "expiring_soon");
        assert!(f[0].message.contains("expires in 10 days, on"), "{f:?}");
        assert!(f[0].advice.as_deref().unwrap().contains("renew"));
        // The threshold is the caller's.
        assert_eq!(
            worst(&assess(&target(), &result(&[], 10), NOW, 7.0)),
            Severity::Ok
        );
    }

    #[test]
    fn missing_intermediate_is_broken_with_the_fix() {
        let mut r = result(&[ChainError::MissingIntermediate], 90);
        r.aia = Some(crate::probe::aia::AiaOutcome {
            completed_from: vec!["http://ca.example/inter.der".into()],
            error: None,
        });
        let f = assess(&target(), &r, NOW, 28.0);
        assert_eq!(worst(&f), Severity::Broken);
        assert_eq!(f[0].code, "missing_intermediate");
        assert!(
            f[0].message.contains("http://ca.example/inter.der"),
            "{f:?}"
        );
        assert!(
            f[0].advice.as_deref().unwrap().contains("full chain"),
            "{f:?}"
        );
    }

    #[test]
    fn expired_and_misnamed_are_both_told() {
        let mut r = result(&[ChainError::Expired, ChainError::HostnameMismatch], -3);
        let t = Config::parse("targets:\n  - address: other.example:443\n").unwrap();
        r.failure = None;
        let f = assess(&t.targets[0], &r, NOW, 28.0);
        assert_eq!(
            codes(&f),
            [
                ("expired", Severity::Broken),
                ("hostname_mismatch", Severity::Broken)
            ]
        );
        assert!(
            f[0].message.contains("expired on") && f[0].message.contains("3 days ago"),
            "{f:?}"
        );
        assert!(f[1]
            .message
            .contains("does not cover other.example (it covers shop.example)"));
    }

    #[test]
    fn weak_crypto_and_legacy_protocols_need_attention() {
        let mut r = result(&[], 90);
        if let Some(chain) = r.chain.as_mut() {
            let mut leaf = (*chain.certs[0]).clone();
            leaf.key_algorithm = "RSA";
            leaf.key_bits = 1024;
            chain.certs[0] = Arc::new(leaf);
        }
        r.legacy = Some(LegacyReport {
            enabled: vec![(LegacyVersion::Tls10, true), (LegacyVersion::Tls11, false)],
            inconclusive: Vec::new(),
            checked_at: std::time::SystemTime::now(),
            served: None,
        });
        let f = assess(&target(), &r, NOW, 28.0);
        assert_eq!(worst(&f), Severity::Attention);
        let attention: Vec<_> = f
            .iter()
            .filter(|f| f.severity == Severity::Attention)
            .collect();
        assert_eq!(attention[0].code, "rsa_key_lt_2048");
        assert!(attention[0].message.contains("RSA key of 1024 bits"));
        assert_eq!(attention[1].code, "legacy_protocol");
        assert_eq!(attention[1].message, "the server still accepts TLS 1.0");
        assert!(f.iter().any(|f| f.message == "the server refuses TLS 1.1"));
    }

    #[test]
    fn unreachable_is_broken_and_legacy_only_says_why() {
        let mut r = ProbeResult::new();
        r.failure = Some(ProbeFailure::new(ProbeReason::ConnectRefused, "refused"));
        let f = assess(&target(), &r, NOW, 28.0);
        assert_eq!(codes(&f), [("connect_refused", Severity::Broken)]);
        assert!(f[0].message.contains("shop.example:443"));

        let mut r = result(&[], 90);
        r.failure = Some(ProbeFailure::new(
            ProbeReason::ProtocolVersion,
            "no common version",
        ));
        r.tls = Some(crate::probe::TlsSession {
            version: crate::probe::TlsVersion::Tls10,
            cipher: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA".into(),
            group: String::new(),
        });
        let f = assess(&target(), &r, NOW, 28.0);
        assert_eq!(f[0].code, "protocol_version");
        assert!(f[0].message.contains("speaks only TLS 1.0"), "{f:?}");
        assert!(f[0].advice.as_deref().unwrap().contains("enable TLS 1.2"));
    }

    #[test]
    fn clock_skew_over_five_minutes_needs_attention() {
        assert_eq!(clock_finding(None), None);
        assert_eq!(clock_finding(Some(2.4)).unwrap().severity, Severity::Ok);
        assert!(clock_finding(Some(0.4))
            .unwrap()
            .message
            .contains("to the second"));
        let f = clock_finding(Some(-3600.0)).unwrap();
        assert_eq!(f.severity, Severity::Attention);
        assert!(f.message.contains("1h behind"), "{}", f.message);
    }
}
