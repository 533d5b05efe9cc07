//! Issue 4's ways of reaching a target: STARTTLS against real nginx and PostgreSQL and in-test
//! servers of the other protocols, every resolved address, HTTP CONNECT proxies (tinyproxy)
//! and mutual TLS. Assertions are on the scraped `/metrics`.

mod addresses;
mod dialogue_servers;
mod dual;
mod mail;
mod mtls;
mod postgres;
mod proxy;
mod starttls;

use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::pki::{pem_of, Ca, LeafSpec};
use crate::support::{write, Harness, Metrics};

/// How long a test waits for its first probes; generous for a loaded 2-core CI machine.
const WAIT: Duration = Duration::from_secs(30);

/// A root and intermediate, the root written to `ca.pem` in a temp dir for the exporter's
/// `ca_file`, and one leaf for the name the servers answer to.
pub struct Certs {
    pub inter: Ca,
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        let root = Ca::root("Places Root");
        let inter = root.intermediate("Places Intermediate");
        let dir = root.in_temp_dir();
        Certs { inter, dir }
    }

    /// A leaf for `spec` with the intermediate after it, and its key.
    pub fn chain(&self, spec: &LeafSpec) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let leaf = self.inter.leaf(spec);
        (
            vec![leaf.der.clone(), self.inter.der.clone()],
            leaf.private_key(),
        )
    }

    /// Writes a leaf for `name` (chain, then key) as PEM files into `dir` for system servers;
    /// returns (chain path, key path).
    pub fn write_pem(&self, dir: &std::path::Path, name: &str) -> (String, String) {
        let leaf = self.inter.leaf(&LeafSpec::new(name, 60));
        let chain = format!("{}{}", pem_of(&leaf.der), pem_of(&self.inter.der));
        let chain_path = write(dir, "server-chain.pem", &chain);
        let key_path = write(dir, "server-key.pem", &leaf.key.serialize_pem());
        (
            chain_path.display().to_string(),
            key_path.display().to_string(),
        )
    }
}

/// Starts an exporter with the certificates' root as `ca_file`, a 1s interval and `timeout`,
/// and `targets_yaml` (a list of targets, indented as under `targets:`).
pub async fn exporter(certs: Certs, timeout: &str, targets_yaml: &str) -> Harness {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: {timeout}\n  ca_file: {{dir}}/ca.pem\ntargets:\n{targets_yaml}"
    );
    Harness::start_in(certs.dir, &yaml).await
}

/// Asserts that target `t` was probed end to end: a valid chain, no probe error, and every
/// phase in `phases` timed.
pub fn assert_probed_cleanly(m: &Metrics, t: &str, phases: &[&str]) {
    let target = [("target", t)];
    assert_eq!(
        m.reasons("cert_probe_error_info", t),
        Vec::<String>::new(),
        "probe errors for {t}:\n{}",
        m.text
    );
    assert_eq!(m.value("cert_probe_success", &target), 1.0, "{t}");
    assert_eq!(m.value("cert_chain_valid", &target), 1.0, "{}", m.text);
    for phase in phases {
        assert!(
            m.get(
                "cert_probe_duration_seconds",
                &[("target", t), ("phase", phase)]
            )
            .is_some(),
            "{t}: no {phase} phase in\n{}",
            m.text
        );
    }
}
