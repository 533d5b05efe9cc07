//! The `check` report for people: per result, how the server was reached, the protocol, the
//! chain as sent (subject, issuer, validity, key, signature), revocation, and the verdicts
//! with what to do — in colour on a terminal, plain text otherwise.

use std::fmt::Write as _;

use super::findings::{Finding, Severity};
use super::{format_utc, Checked, Outcome};
use crate::metrics::instance_label;
use crate::probe::legacy::LegacyVersion;
use crate::x509::{CertFacts, ChainReport};

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
struct Style {
    colour: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    fn severity(self, severity: Severity, text: &str) -> String {
        let code = match severity {
            Severity::Ok => "32",
            Severity::Note => "36",
            Severity::Attention => "33",
            Severity::Broken => "1;31",
        };
        self.paint(code, text)
    }
}

/// Writes the whole report; `colour` adds ANSI colours.
pub fn render(outcome: &Outcome, colour: bool) -> String {
    let style = Style { colour };
    let mut out = String::new();
    for checked in &outcome.checked {
        result(&mut out, checked, style);
        out.push('\n');
    }
    if let Some(clock) = &outcome.clock {
        let _ = writeln!(out, "{}", style.bold("clock"));
        finding(&mut out, clock, style);
        out.push('\n');
    }
    let worst = outcome.worst();
    let count = |s: Severity| {
        outcome
            .checked
            .iter()
            .filter(|c| super::findings::worst(&c.findings).exit_code() == s.exit_code())
            .count()
    };
    let _ = writeln!(
        out,
        "{} {} checked: {} fine, {} need attention, {} broken → {}",
        style.bold("summary"),
        plural(outcome.checked.len(), "result"),
        count(Severity::Ok),
        count(Severity::Attention),
        count(Severity::Broken),
        style.severity(worst, verdict_word(worst)),
    );
    out
}

/// Whether `cert`, as sent, is the trust anchor the chain's path ends at (the same
/// certificate: a root the server sends along, found again in the trust store).
fn is_the_anchor(chain: &ChainReport, cert: &CertFacts) -> bool {
    chain.anchor.as_ref().is_some_and(|anchor| {
        !anchor.sha256_fingerprint.is_empty()
            && anchor.sha256_fingerprint == cert.sha256_fingerprint
    })
}

/// One probe result.
fn result(out: &mut String, checked: &Checked, style: Style) {
    let target = &checked.target;
    let r = &checked.result;
    let mut head = style.bold(&target.name);
    if let Some(instance) = &r.instance {
        let (key, value) = (instance_label(instance), instance.value());
        let _ = write!(head, "  {key} {value}");
    }
    if let Some(key_type) = checked.key_type {
        let _ = write!(head, "  key_type {}", key_type.as_str());
    }
    if let Some(peer) = r.peer {
        let _ = write!(head, "  → {peer}");
    }
    if !target.server_name.is_empty() {
        let _ = write!(
            head,
            "  {}",
            style.dim(&format!("(server name {})", target.server_name))
        );
    }
    let _ = writeln!(out, "{head}");

    if let Some(tls) = &r.tls {
        let mut line = format!("{} {}", tls.version, tls.cipher);
        if !tls.group.is_empty() {
            let _ = write!(line, " {}", tls.group);
        }
        field(out, "protocol", &line);
    }
    if let Some(legacy) = &r.legacy {
        let parts: Vec<String> = LegacyVersion::ALL
            .iter()
            .map(|v| match legacy.speaks(*v) {
                Some(true) => format!("{} accepted", v.as_str()),
                Some(false) => format!("{} refused", v.as_str()),
                None => format!("{} unknown", v.as_str()),
            })
            .collect();
        field(out, "legacy", &parts.join(", "));
    }
    if let Some(chain) = &r.chain {
        let how = if r.peer.is_some() {
            "as sent by the server"
        } else {
            "as read from the file"
        };
        field(
            out,
            "chain",
            &format!("{how}, {}", plural(chain.certs.len(), "certificate")),
        );
        for (i, cert) in chain.certs.iter().enumerate() {
            let extra = if !chain.judged || chain.in_path.get(i).copied().unwrap_or(false) {
                String::new()
            } else if is_the_anchor(chain, cert) {
                // The path ends at it: sent by the server, trusted from the store.
                style.dim("  (the trust anchor)")
            } else {
                style.dim("  (not part of the path)")
            };
            let _ = writeln!(out, "    [{i}] {}{extra}", style.bold(&cert.subject));
            sub(out, "issuer", &cert.issuer);
            sub(
                out,
                "valid",
                &format!(
                    "{} → {}",
                    format_utc(cert.not_before),
                    format_utc(cert.not_after)
                ),
            );
            sub(
                out,
                "key",
                &format!(
                    "{} {} bits, signed with {}",
                    cert.key_algorithm, cert.key_bits, cert.signature_algorithm
                ),
            );
            let names: Vec<&str> = cert
                .dns_names
                .iter()
                .chain(&cert.ip_addresses)
                .map(String::as_str)
                .collect();
            if !names.is_empty() {
                sub(out, "names", &names.join(", "));
            }
            sub(out, "serial", &cert.serial);
            sub(out, "sha256", &cert.sha256_fingerprint);
        }
    }
    if let Some(revocation) = &r.revocation {
        let mut parts: Vec<String> = revocation
            .sources
            .iter()
            .map(|s| {
                let said = match s.revoked {
                    Some(true) => "revoked".to_string(),
                    Some(false) => "not revoked".to_string(),
                    None => {
                        let reasons: Vec<&str> =
                            s.errors.iter().map(|e| e.reason.as_str()).collect();
                        format!("no answer ({})", reasons.join(", "))
                    }
                };
                format!("{}: {said}", s.source.as_str())
            })
            .collect();
        if parts.is_empty() {
            parts.push("nothing to ask (no OCSP or CRL URL, nothing stapled)".into());
        }
        field(out, "revocation", &parts.join("; "));
    }
    let _ = writeln!(out, "  {}", style.bold("verdict"));
    for f in &checked.findings {
        finding(out, f, style);
    }
    let worst = super::findings::worst(&checked.findings);
    let _ = writeln!(
        out,
        "  {:<11} {}",
        style.bold("result"),
        style.severity(worst, verdict_word(worst))
    );
}

/// One verdict line, and its advice under it.
fn finding(out: &mut String, f: &Finding, style: Style) {
    let mark = match f.severity {
        Severity::Ok => "✔",
        Severity::Note => "·",
        Severity::Attention => "!",
        Severity::Broken => "✘",
    };
    let label = format!("{mark} {:<10}", f.severity.as_str());
    let _ = writeln!(
        out,
        "    {} {}",
        style.severity(f.severity, &label),
        f.message
    );
    if let Some(advice) = &f.advice {
        let _ = writeln!(out, "                 → {advice}");
    }
}

fn field(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "  {name:<11} {value}");
}

fn sub(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "        {name:<8} {value}");
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The overall word for a severity.
fn verdict_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok | Severity::Note => "OK",
        Severity::Attention => "NEEDS ATTENTION",
        Severity::Broken => "BROKEN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::ProbeResult;
    use std::sync::Arc;

    fn outcome(findings: Vec<Finding>) -> Outcome {
        let target = Config::parse("targets:\n  - name: shop\n    address: shop.example:443\n")
            .unwrap()
            .targets[0]
            .clone();
        Outcome {
            checked: vec![Checked {
                target,
                result: ProbeResult::new(),
                findings,
                key_type: None,
            }],
            clock_skew_seconds: None,
            clock: None,
        }
    }

    /// A root the server sends along is labelled as the anchor when the path ends at that
    /// very certificate, and as outside the path when the anchor is another one.
    #[test]
    fn a_sent_root_that_is_the_anchor_is_labelled_so() {
        let facts = |subject: &str, issuer: &str, fingerprint: &str| {
            Arc::new(CertFacts {
                sha256_fingerprint: fingerprint.into(),
                ..CertFacts::example(subject, issuer, 2_000_000_000)
            })
        };
        let root = facts("CN=Root", "CN=Root", "aa:aa");
        let chain = |anchor: Arc<CertFacts>| ChainReport {
            certs: vec![
                facts("CN=shop.example", "CN=Inter", "11:11"),
                facts("CN=Inter", "CN=Root", "22:22"),
                root.clone(),
            ],
            in_path: vec![true, true, false],
            errors: Default::default(),
            expiry: Some(2_000_000_000),
            private_anchor: true,
            detail: None,
            judged: true,
            anchor: Some(anchor),
            anchored: true,
            stapled_scts: Vec::new(),
        };
        let rendered = |chain: ChainReport| {
            let mut o = outcome(Vec::new());
            o.checked[0].result.chain = Some(chain);
            render(&o, false)
        };
        let text = rendered(chain(root.clone()));
        assert!(text.contains("[2] CN=Root  (the trust anchor)\n"), "{text}");
        assert!(!text.contains("not part of the path"), "{text}");
        assert!(text.contains("[1] CN=Inter\n"), "{text}");
        // A renewed root with the same name is the anchor; the old one sent is not.
        let text = rendered(chain(facts("CN=Root", "CN=Root", "bb:bb")));
        assert!(
            text.contains("[2] CN=Root  (not part of the path)\n"),
            "{text}"
        );
    }

    #[test]
    fn plain_text_has_no_escape_codes_and_colour_has() {
        let f = Finding {
            severity: Severity::Broken,
            code: "connect_refused",
            message: "nothing accepts connections on shop.example:443".into(),
            advice: Some("check that the service runs".into()),
        };
        let plain = render(&outcome(vec![f.clone()]), false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            plain.starts_with("shop  (server name shop.example)\n"),
            "{plain}"
        );
        assert!(plain.contains(
            "    ✘ broken     nothing accepts connections on shop.example:443\n                 → check that the service runs\n"
        ), "{plain}");
        assert!(plain.contains("  result      BROKEN\n"), "{plain}");
        assert!(
            plain.ends_with(
                "summary 1 result checked: 0 fine, 0 need attention, 1 broken → BROKEN\n"
            ),
            "{plain}"
        );
        let coloured = render(&outcome(vec![f]), true);
        assert!(coloured.contains("\x1b[1;31m"), "{coloured}");
    }
}
