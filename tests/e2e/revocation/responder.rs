//! A real OCSP responder: `openssl ocsp` (Debian package `openssl`) over an index of good and
//! revoked serials, started on a free port and killed when dropped. The same index also makes
//! DER responses to staple (`openssl ocsp -respout`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rustls::pki_types::CertificateDer;

use crate::support::openssl;
use crate::support::pki::{pem_of, Ca};
use crate::support::process::KillOnDrop;

/// One line of the responder's index.
pub struct Entry {
    pub serial: u64,
    pub revoked: bool,
}

/// The files `openssl ocsp` needs: the index, the CA, and who signs the answers.
pub struct OcspFiles {
    pub dir: tempfile::TempDir,
    index: PathBuf,
    ca: PathBuf,
    signer: PathBuf,
    signer_key: PathBuf,
    /// Name the signer by key hash (`-resp_key_id`) rather than by name.
    pub by_key: bool,
}

impl Entry {
    /// A serial the responder says is good.
    pub fn good(serial: u64) -> Entry {
        Entry {
            serial,
            revoked: false,
        }
    }
}

impl OcspFiles {
    /// An index of `entries` for certificates of `ca`, answered by `ca` itself.
    pub fn by_ca(ca: &Ca, entries: &[Entry]) -> OcspFiles {
        OcspFiles::new(&ca.der, &ca.der, &ca.key, entries)
    }

    /// Writes an index of `entries` for certificates of `ca_der`, answered by `signer` (the CA
    /// itself, a delegated responder, or — for the negative cases — anyone).
    pub fn new(
        ca_der: &CertificateDer<'_>,
        signer_der: &CertificateDer<'_>,
        signer_key: &rcgen::KeyPair,
        entries: &[Entry],
    ) -> OcspFiles {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut index = String::new();
        for e in entries {
            let (status, revoked_at) = if e.revoked {
                ("R", "240101000000Z")
            } else {
                ("V", "")
            };
            index.push_str(&format!(
                "{status}\t491231235959Z\t{revoked_at}\t{:X}\tunknown\t/CN=serial-{:x}\n",
                e.serial, e.serial
            ));
        }
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        OcspFiles {
            index: write("index.txt", &index),
            ca: write("ca.pem", &pem_of(ca_der)),
            signer: write("signer.pem", &pem_of(signer_der)),
            signer_key: write("signer.key", &signer_key.serialize_pem()),
            by_key: false,
            dir,
        }
    }

    fn responder_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "ocsp",
            "-index",
            path(&self.index),
            "-CA",
            path(&self.ca),
            "-rsigner",
            path(&self.signer),
            "-rkey",
            path(&self.signer_key),
            "-nmin",
            "60",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.by_key {
            args.push("-resp_key_id".into());
        }
        args
    }

    /// A DER OCSP response about `leaf`, made by `openssl ocsp` from the index, for stapling.
    pub fn response_for(&self, leaf: &CertificateDer<'_>) -> Vec<u8> {
        self.response_about(leaf, false)
    }

    /// Like [`OcspFiles::response_for`], to a request with a nonce of openssl's, which the
    /// response echoes: what a replayed answer looks like to a client sending its own nonce.
    pub fn response_with_nonce_for(&self, leaf: &CertificateDer<'_>) -> Vec<u8> {
        self.response_about(leaf, true)
    }

    fn response_about(&self, leaf: &CertificateDer<'_>, nonce: bool) -> Vec<u8> {
        let leaf_path = self.dir.path().join("leaf.pem");
        std::fs::write(&leaf_path, pem_of(leaf)).expect("write leaf");
        let out = self.dir.path().join("response.der");
        let output = openssl::command()
            .args(self.responder_args())
            .args(["-issuer", path(&self.ca), "-cert", path(&leaf_path)])
            .args(if nonce { &[][..] } else { &["-no_nonce"][..] })
            .args(["-respout", path(&out)])
            .output()
            .expect("run openssl ocsp");
        assert!(
            output.status.success(),
            "openssl ocsp -respout failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read(&out).expect("response written")
    }

    /// Starts `openssl ocsp` as a responder on a free port.
    pub async fn serve(&self) -> Responder {
        let log = self.dir.path().join("responder.log");
        let child = openssl::command()
            .args(self.responder_args())
            .args(["-port", "0", "-ignore_err"])
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl ocsp");
        let mut child = KillOnDrop(child);
        // openssl prints `ACCEPT [::]:PORT PID=...` once it listens.
        let port =
            openssl::wait_accepting("ocsp", &log, || child.0.try_wait().ok().flatten()).await;
        Responder {
            _child: child,
            url: format!("http://127.0.0.1:{port}/"),
            port,
        }
    }
}

/// A running `openssl ocsp` responder.
pub struct Responder {
    _child: KillOnDrop,
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    /// PORT
    pub port: u16,
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}
