//! The `check` report for scripts: the same facts and verdicts as the text report, as one JSON
//! document. Times are both Unix seconds and UTC text; absent facts are `null`.

use serde_json::{json, Value};

use super::findings::{self, Finding};
use super::{format_utc, Checked, Outcome};
use crate::metrics::instance_label;
use crate::probe::legacy::LegacyVersion;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Renders `outcome` judged at `now` (Unix seconds), pretty-printed, with a final newline.
pub fn render(outcome: &Outcome, now: i64) -> String {
    let worst = outcome.worst();
    let doc = json!({
        "status": worst.as_str(),
        "exit_code": worst.exit_code(),
        "clock_skew_seconds": outcome.clock_skew_seconds,
        "clock": outcome.clock.as_ref().map(finding),
        "results": outcome.checked.iter().map(|c| result(c, now)).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        // Serialising a Value cannot fail short of a bug; say so rather than print nothing.
        format!("{{\"error\": \"cannot encode the report: {e}\"}}")
    });
    text.push('\n');
    text
}

fn finding(f: &Finding) -> Value {
    json!({
        "severity": f.severity.as_str(),
        "code": f.code,
        "message": f.message,
        "advice": f.advice,
    })
}

fn result(checked: &Checked, now: i64) -> Value {
    let target = &checked.target;
    let r = &checked.result;
    let worst = findings::worst(&checked.findings);
    let chain = r.chain.as_ref();
    let legacy = r.legacy.as_ref().map(|l| {
        let mut map = serde_json::Map::new();
        for version in LegacyVersion::ALL {
            map.insert(version.as_str().to_string(), json!(l.speaks(version)));
        }
        Value::Object(map)
    });
    json!({
        "target": target.name,
        "address": target.address().map(|a| a.to_string()),
        "server_name": (!target.server_name.is_empty()).then_some(&target.server_name),
        "instance": r.instance.as_ref().map(|i| json!({ "label": instance_label(i), "value": i.value() })),
        "key_type": checked.key_type.map(|k| k.as_str()),
        "peer": r.peer.map(|p| p.to_string()),
        "status": worst.as_str(),
        "probe_error": r.failure.as_ref().map(|f| json!({ "reason": f.reason.as_str(), "detail": f.detail })),
        "tls": r.tls.as_ref().map(|t| json!({ "version": t.version.as_str(), "cipher": t.cipher, "group": t.group })),
        "legacy_protocols": legacy,
        "chain_valid": chain.filter(|c| c.judged).map(|c| c.is_valid()),
        "chain_errors": chain.map(|c| c.errors.iter().map(|e| e.as_str()).collect::<Vec<_>>()).unwrap_or_default(),
        "expiry": chain.and_then(|c| c.expiry).map(|t| json!({
            "unix": t,
            "utc": format_utc(t),
            "days_left": (t - now) as f64 / DAY,
        })),
        "certificates": chain.map(|c| {
            let weak = crate::x509::weak::of_chain(c);
            c.certs.iter().enumerate().map(|(i, cert)| json!({
                "position": i,
                "in_path": c.in_path.get(i).copied().unwrap_or(false),
                "subject": cert.subject,
                "issuer": cert.issuer,
                "serial": cert.serial,
                "not_before": { "unix": cert.not_before, "utc": format_utc(cert.not_before) },
                "not_after": { "unix": cert.not_after, "utc": format_utc(cert.not_after) },
                "days_left": (cert.not_after - now) as f64 / DAY,
                "key_algorithm": cert.key_algorithm,
                "key_bits": cert.key_bits,
                "signature_algorithm": cert.signature_algorithm,
                "dns_names": cert.dns_names,
                "ip_addresses": cert.ip_addresses,
                "sha256_fingerprint": cert.sha256_fingerprint,
                "weaknesses": weak.iter().filter(|(p, _)| *p == i).map(|(_, w)| w.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()
        }).unwrap_or_default(),
        "revocation": r.revocation.as_ref().map(|rev| json!({
            "stapled": rev.stapled,
            "sources": rev.sources.iter().map(|s| json!({
                "source": s.source.as_str(),
                "revoked": s.revoked,
                "errors": s.errors.iter().map(|e| json!({ "reason": e.reason.as_str(), "detail": e.detail })).collect::<Vec<_>>(),
                "notes": s.notes.iter().map(note).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        "certificate_transparency": chain.filter(|c| c.judged && !c.certs.is_empty()).map(|c| {
            use crate::x509::ct::{self, SctSource};
            let verdict = ct::judge(c);
            json!({
                "scts": SctSource::ALL.iter().map(|s| (s.as_str().to_string(), json!(ct::scts(c, *s).len()))).collect::<serde_json::Map<_, _>>(),
                "judged": verdict.is_some(),
                "required_embedded_logs": verdict.as_ref().map(|v| v.required_embedded),
                "shortfall": verdict.and_then(|v| v.shortfall).map(|s| s.as_str()),
            })
        }),
        "missing_intermediate_from": r.aia.as_ref().map(|a| a.completed_from.clone()).unwrap_or_default(),
        "findings": checked.findings.iter().map(finding).collect::<Vec<_>>(),
    })
}

/// A revocation note as JSON.
fn note(n: &crate::revocation::RevocationNote) -> serde_json::Value {
    use crate::revocation::RevocationNote;
    match n {
        RevocationNote::DelegatedResponder { subject, nocheck } => {
            json!({ "note": "delegated_responder", "subject": subject, "nocheck": nocheck })
        }
        RevocationNote::NonceNotEchoed { subject } => {
            json!({ "note": "nonce_not_echoed", "subject": subject })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::findings::Severity;
    use crate::config::Config;
    use crate::probe::{ProbeFailure, ProbeReason, ProbeResult};

    #[test]
    fn failures_and_findings_are_in_the_document() {
        let target = Config::parse("targets:\n  - name: shop\n    address: shop.example:443\n")
            .unwrap()
            .targets[0]
            .clone();
        let mut result = ProbeResult::new();
        result.failure = Some(ProbeFailure::new(ProbeReason::ConnectRefused, "refused"));
        let outcome = Outcome {
            checked: vec![Checked {
                findings: findings::assess(&target, &result, 0, 28.0),
                target,
                result,
                key_type: None,
            }],
            clock_skew_seconds: Some(-2.5),
            clock: findings::clock_finding(Some(-2.5)),
        };
        let doc: Value = serde_json::from_str(&render(&outcome, 0)).unwrap();
        assert_eq!(doc["status"], "broken");
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(doc["clock_skew_seconds"], -2.5);
        assert_eq!(doc["clock"]["severity"], Severity::Ok.as_str());
        let r = &doc["results"][0];
        assert_eq!(r["target"], "shop");
        assert_eq!(r["address"], "shop.example:443");
        assert_eq!(r["probe_error"]["reason"], "connect_refused");
        assert_eq!(r["chain_valid"], Value::Null);
        assert_eq!(r["findings"][0]["code"], "connect_refused");
        assert!(r["findings"][0]["advice"].is_string());
    }
}
