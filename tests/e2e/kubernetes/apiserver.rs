//! A real Kubernetes API server for the tests: `kube-apiserver` and `etcd` from the directory
//! `KUBEBUILDER_ASSETS` names (controller-runtime envtest's convention; `scripts/test.sh` makes
//! it from `../shared/k8s` and Debian's `etcd-server`), on free loopback ports, with a throwaway
//! PKI, static tokens and RBAC, all state in a temp dir. A missing binary is a failure, never a
//! skip. Both processes are killed when the [`ApiServer`] is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::ports::free_port;
use crate::support::process::{read_log, Daemon};

/// How long the API server may take to answer `/readyz` (about 3 s on an idle machine).
const READY_LIMIT: Duration = Duration::from_secs(120);

/// The token of the user with every right (`system:masters`).
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
/// The token of a user with no rights but those a test grants (`limited`).
pub const LIMITED_TOKEN: &str = "limited-token-for-tests-98765432";

/// The directory holding `kube-apiserver` and `etcd`.
fn assets() -> PathBuf {
    let dir = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "KUBEBUILDER_ASSETS is not set: these tests need a directory with kube-apiserver and etcd \
             (envtest's convention); bash scripts/test.sh makes one from ../shared/k8s and the Debian package etcd-server"
        )
    });
    for binary in ["kube-apiserver", "etcd"] {
        assert!(
            dir.join(binary).is_file(),
            "{}/{binary} is missing: KUBEBUILDER_ASSETS must hold kube-apiserver and etcd",
            dir.display()
        );
    }
    dir
}

/// etcd and a kube-apiserver in front of it.
pub struct ApiServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    etcd_port: u16,
    etcd: Option<Daemon>,
    apiserver: Option<Daemon>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ApiServer {
    /// Starts etcd and the API server and waits until the API server is ready.
    pub fn start() -> ApiServer {
        let assets = assets();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let pki = d.join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        openssl(
            &pki,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=test-apiserver-ca",
            ],
        );
        openssl(
            &pki,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "apiserver.key",
                "-out",
                "apiserver.csr",
                "-subj",
                "/CN=kube-apiserver",
            ],
        );
        std::fs::write(
            pki.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &pki,
            &[
                "x509",
                "-req",
                "-in",
                "apiserver.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "apiserver.crt",
            ],
        );
        // A client certificate of the CA for a user in system:masters (`--client-ca-file`).
        std::fs::write(pki.join("client.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
        openssl(
            &pki,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "client.key",
                "-out",
                "client.csr",
                "-subj",
                "/O=system:masters/CN=cert-user",
            ],
        );
        openssl(
            &pki,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "client.cnf",
                "-out",
                "client.crt",
            ],
        );
        openssl(&pki, &["genrsa", "-out", "sa.key", "2048"]);
        openssl(&pki, &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
        std::fs::write(
            d.join("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,admin-uid,system:masters\n{LIMITED_TOKEN},limited,limited-uid\n"),
        )
        .unwrap();
        let mut server = ApiServer {
            dir,
            port: free_port(),
            etcd_port: free_port(),
            etcd: None,
            apiserver: None,
        };
        server.start_etcd(&assets);
        server.start_apiserver();
        server
    }

    fn start_etcd(&mut self, assets: &Path) {
        let d = self.dir.path();
        let (client, peer) = (self.etcd_port, free_port());
        let mut etcd = Command::new(assets.join("etcd"));
        etcd.args(["--name", "t", "--log-level", "warn"])
            .arg("--data-dir")
            .arg(d.join("etcd"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=t=http://127.0.0.1:{peer}"));
        let mut daemon = Daemon::spawn("etcd", etcd, &d.join("etcd.log"));
        daemon.wait_listening(SocketAddr::from(([127, 0, 0, 1], client)));
        self.etcd = Some(daemon);
    }

    /// Starts (or starts again, on the same port) the API server and waits until it is ready.
    pub fn start_apiserver(&mut self) {
        let d = self.dir.path();
        let mut api = Command::new(assets().join("kube-apiserver"));
        api.current_dir(d)
            .arg(format!(
                "--etcd-servers=http://127.0.0.1:{}",
                self.etcd_port
            ))
            .arg(format!("--secure-port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--tls-cert-file=pki/apiserver.crt",
                "--tls-private-key-file=pki/apiserver.key",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-account-key-file=pki/sa.pub",
                "--service-account-signing-key-file=pki/sa.key",
                "--token-auth-file=tokens.csv",
                "--client-ca-file=pki/ca.crt",
                "--authorization-mode=RBAC",
            ])
            .arg(format!("--cert-dir={}", d.join("cert-dir").display()));
        let log = d.join("apiserver.log");
        self.apiserver = Some(Daemon::spawn("kube-apiserver", api, &log));
        let started = Instant::now();
        loop {
            let ready = Command::new("curl")
                .args(["-sf", "--max-time", "2", "--cacert"])
                .arg(self.ca())
                .arg(format!("https://127.0.0.1:{}/readyz", self.port))
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                started.elapsed() < READY_LIMIT,
                "kube-apiserver not ready after {READY_LIMIT:?}; its log:\n{}",
                read_log(&log)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Compacts etcd's history up to its current revision (through etcd's own HTTP gateway), so
    /// that a watch resumed from an older resourceVersion is answered `410 Gone`.
    pub fn compact_etcd(&self) {
        let etcd = format!("http://127.0.0.1:{}", self.etcd_port);
        let post = |path: &str, body: &str| {
            let out = Command::new("curl")
                .args(["-sf", "--max-time", "10", "-X", "POST", "-d", body])
                .arg(format!("{etcd}{path}"))
                .output()
                .expect("curl");
            assert!(out.status.success(), "POST {path} to etcd failed");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let range = post("/v3/kv/range", r#"{"key":"AA=="}"#);
        let revision = range
            .split("\"revision\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no revision in etcd's answer: {range}"));
        post(
            "/v3/kv/compaction",
            &format!(r#"{{"revision":"{revision}","physical":true}}"#),
        );
    }

    /// Stops the API server (etcd keeps the objects).
    pub fn stop_apiserver(&mut self) {
        self.apiserver = None;
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Writes a kubeconfig for `token` (server, CA file, bearer token) and returns its path.
    pub fn kubeconfig(&self, dir: &Path, name: &str, token: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: u\ncurrent-context: test\n",
                self.url(),
                self.ca().display()
            ),
        )
        .unwrap();
        path
    }

    /// Writes a kubeconfig that authenticates with the client certificate (user `cert-user`,
    /// group `system:masters`) and returns its path.
    pub fn client_cert_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("client-cert.kubeconfig");
        let pki = self.dir.path().join("pki");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: u\ncurrent-context: test\n",
                self.url(),
                self.ca().display(),
                pki.join("client.crt").display(),
                pki.join("client.key").display()
            ),
        )
        .unwrap();
        path
    }

    /// A client of the test itself, as admin.
    pub async fn admin(&self) -> kube::Client {
        let path = self.kubeconfig(self.dir.path(), "admin.kubeconfig", ADMIN_TOKEN);
        let kubeconfig = kube::config::Kubeconfig::read_from(path).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // The API server first, so that it does not log etcd going away.
        self.apiserver = None;
        self.etcd = None;
    }
}
