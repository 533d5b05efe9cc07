//! Issue 16's Kubernetes targets against a real API server (`kubernetes/apiserver.rs`): Secrets
//! and ConfigMaps created, renewed and deleted through the API with `/metrics` following, bad
//! data in keys, a namespace the exporter's user may not read beside one it may, many Secrets
//! over several LIST pages, and the API server stopped and started again under a running watch.

mod apiserver;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use rcgen::{CertificateParams, DnType, KeyPair};
use time::OffsetDateTime;

use crate::support::{Harness, Metrics};
use apiserver::{ApiServer, ADMIN_TOKEN, LIMITED_TOKEN};

/// Bounds every wait on the exporter (a watch event is on `/metrics` within a second or so; the
/// bound is for a loaded CI machine and for the watch's backoff after a restart).
const WAIT: Duration = Duration::from_secs(90);

/// A self-signed certificate for `cn` that expires `days` from now, and that moment (Unix s).
fn cert(cn: &str, days: i64) -> (String, i64) {
    let mut params = CertificateParams::new(vec![format!("{cn}.example")]).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    let not_after = (now + time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap();
    params.not_after = not_after;
    let key = KeyPair::generate().expect("key");
    let pem = params.self_signed(&key).expect("self-signed").pem();
    (pem, not_after.unix_timestamp())
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..ObjectMeta::default()
    }
}

fn secret(ns: &str, name: &str, type_: &str, data: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: meta(ns, name),
        type_: Some(type_.into()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// A `kubernetes.io/tls` Secret (the type requires both keys).
fn tls_secret(ns: &str, name: &str, crt: &[u8]) -> Secret {
    secret(
        ns,
        name,
        "kubernetes.io/tls",
        &[("tls.crt", crt), ("tls.key", b"not read")],
    )
}

async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

async fn create(client: &kube::Client, s: Secret) {
    let ns = s.metadata.namespace.clone().unwrap();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &s)
        .await
        .unwrap_or_else(|e| panic!("create secret {:?}: {e}", s.metadata.name));
}

/// The exporter on one Kubernetes target `k8s` with these `kubernetes:` settings.
async fn exporter(settings: &str) -> Harness {
    let yaml = format!("targets:\n  - name: k8s\n    kubernetes:\n{settings}");
    Harness::start(&yaml).await
}

/// The series of one Secret key.
fn key_labels<'a>(ns: &'a str, name: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("target", "k8s"),
        ("secret_namespace", ns),
        ("secret_name", name),
        ("secret_key", key),
    ]
}

fn expiry(m: &Metrics, ns: &str, name: &str, key: &str) -> Option<f64> {
    m.get("cert_expiry_timestamp_seconds", &key_labels(ns, name, key))
}

fn reasons(m: &Metrics, labels: &[(&str, &str)]) -> Vec<String> {
    m.reasons_where("cert_probe_error_info", labels)
}

fn has_secret(m: &Metrics, name: &str) -> bool {
    m.samples
        .iter()
        .any(|s| s.labels.get("secret_name").map(String::as_str) == Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_watched_renewed_deleted_and_judged() {
    let server = ApiServer::start();
    let admin = server.admin().await;
    namespace(&admin, "prod").await;
    let (web_pem, web_expiry) = cert("web", 30);
    create(&admin, tls_secret("prod", "web", web_pem.as_bytes())).await;
    // Opaque: not read with the default `secret_types`, though its key matches.
    let (opaque_pem, _) = cert("opaque", 10);
    create(
        &admin,
        secret(
            "prod",
            "opaque",
            "Opaque",
            &[("tls.crt", opaque_pem.as_bytes())],
        ),
    )
    .await;
    // Bad data, one Secret per case; each is a reason on its key, and the watch goes on.
    create(&admin, tls_secret("prod", "empty", b"")).await;
    create(
        &admin,
        tls_secret("prod", "garbage", b"hello, not a certificate"),
    )
    .await;
    let broken = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpE=\n-----END CERTIFICATE-----\n";
    create(&admin, tls_secret("prod", "broken", broken.as_bytes())).await;
    // A ConfigMap CA bundle (read with `configmaps: true`).
    let (ca_pem, ca_expiry) = cert("bundle-ca", 400);
    let maps: Api<ConfigMap> = Api::namespaced(admin.clone(), "prod");
    let map = ConfigMap {
        metadata: meta("prod", "trust"),
        data: Some(BTreeMap::from([
            ("ca.crt".to_string(), ca_pem.clone()),
            ("other".to_string(), "ignored".to_string()),
        ])),
        ..ConfigMap::default()
    };
    maps.create(&PostParams::default(), &map).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "kubeconfig", ADMIN_TOKEN);
    // page_size 2: the five TLS Secrets come over three pages.
    let h = exporter(&format!(
        "      kubeconfig: {}\n      configmaps: true\n      page_size: 2\n",
        kubeconfig.display()
    ))
    .await;
    let m = h
        .wait_until(WAIT, |m| {
            expiry(m, "prod", "web", "tls.crt").is_some()
                && m.get(
                    "cert_probe_success",
                    &[("target", "k8s"), ("watch", "configmaps/*")],
                ) == Some(1.0)
        })
        .await;
    assert_eq!(
        expiry(&m, "prod", "web", "tls.crt"),
        Some(web_expiry as f64)
    );
    assert_eq!(
        m.value("cert_probe_success", &key_labels("prod", "web", "tls.crt")),
        1.0
    );
    assert!(
        !has_secret(&m, "opaque"),
        "Opaque Secrets are not read by default:\n{}",
        m.text
    );
    assert_eq!(
        m.value(
            "cert_probe_success",
            &[
                ("target", "k8s"),
                ("watch", "secrets/*/type=kubernetes.io/tls")
            ]
        ),
        1.0
    );
    // tls.key is not one of the keys read.
    assert!(expiry(&m, "prod", "web", "tls.key").is_none());
    assert_eq!(
        reasons(&m, &key_labels("prod", "empty", "tls.crt")),
        ["key_empty"]
    );
    assert_eq!(
        reasons(&m, &key_labels("prod", "garbage", "tls.crt")),
        ["file_malformed"]
    );
    assert_eq!(
        reasons(&m, &key_labels("prod", "broken", "tls.crt")),
        ["file_malformed"]
    );
    let cm = [
        ("target", "k8s"),
        ("configmap_namespace", "prod"),
        ("configmap_name", "trust"),
        ("configmap_key", "ca.crt"),
    ];
    assert_eq!(
        m.get("cert_expiry_timestamp_seconds", &cm),
        Some(ca_expiry as f64)
    );
    assert!(
        !m.text.contains("configmap_key=\"other\""),
        "only the keys asked for:\n{}",
        m.text
    );

    // Renewed: the new expiry follows the watch event.
    let (renewed_pem, renewed_expiry) = cert("web", 90);
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "prod");
    secrets
        .replace("web", &PostParams::default(), &{
            let mut s = secrets.get("web").await.unwrap();
            s.data = tls_secret("prod", "web", renewed_pem.as_bytes()).data;
            s
        })
        .await
        .unwrap();
    h.wait_until(WAIT, |m| {
        expiry(m, "prod", "web", "tls.crt") == Some(renewed_expiry as f64)
    })
    .await;

    // Fixed: a bad key that gets a certificate loses its reason.
    let (fixed_pem, fixed_expiry) = cert("empty", 60);
    secrets
        .replace("empty", &PostParams::default(), &{
            let mut s = secrets.get("empty").await.unwrap();
            s.data = tls_secret("prod", "empty", fixed_pem.as_bytes()).data;
            s
        })
        .await
        .unwrap();
    let m = h
        .wait_until(WAIT, |m| {
            expiry(m, "prod", "empty", "tls.crt") == Some(fixed_expiry as f64)
        })
        .await;
    assert!(reasons(&m, &key_labels("prod", "empty", "tls.crt")).is_empty());

    // Deleted: every series of the Secret goes.
    secrets
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    maps.delete("trust", &DeleteParams::default())
        .await
        .unwrap();
    let m = h
        .wait_until(WAIT, |m| {
            !has_secret(m, "web") && !m.text.contains("configmap_name=\"trust\"")
        })
        .await;
    assert!(has_secret(&m, "garbage"), "the others stay:\n{}", m.text);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_namespace_beside_an_allowed_one_and_many_pages() {
    let server = ApiServer::start();
    let admin = server.admin().await;
    for ns in ["allowed", "denied"] {
        namespace(&admin, ns).await;
    }
    // `limited` may read Secrets in `allowed` only, with the Role the deploy/ manifests ship.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/secrets/role.yaml"
    ))
    .unwrap();
    let mut role: Role =
        serde_saphyr::from_str(&shipped).expect("deploy/kubernetes/secrets/role.yaml");
    role.metadata.namespace = Some("allowed".into());
    let roles: Api<Role> = Api::namespaced(admin.clone(), "allowed");
    roles.create(&PostParams::default(), &role).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), "allowed");
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: meta("allowed", "read-secrets"),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "cert-expiry-exporter".into(),
                },
                subjects: Some(vec![Subject {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "User".into(),
                    name: "limited".into(),
                    ..Subject::default()
                }]),
            },
        )
        .await
        .unwrap();
    // Thousands of Secrets in `allowed`, read over several pages of 500 (the API server's
    // continue tokens between them).
    const MANY: usize = 2000;
    let (pem, not_after) = cert("many", 45);
    stream::iter(0..MANY)
        .for_each_concurrent(16, |i| {
            let (admin, pem) = (admin.clone(), pem.clone());
            async move {
                create(
                    &admin,
                    tls_secret("allowed", &format!("s{i:04}"), pem.as_bytes()),
                )
                .await
            }
        })
        .await;
    create(&admin, tls_secret("denied", "hidden", pem.as_bytes())).await;

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "kubeconfig", LIMITED_TOKEN);
    let h = exporter(&format!(
        "      kubeconfig: {}\n      namespaces: [allowed, denied]\n      page_size: 500\n",
        kubeconfig.display()
    ))
    .await;
    let denied = [
        ("target", "k8s"),
        ("watch", "secrets/denied/type=kubernetes.io/tls"),
    ];
    let allowed = [
        ("target", "k8s"),
        ("watch", "secrets/allowed/type=kubernetes.io/tls"),
    ];
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_probe_success", &allowed) == Some(1.0)
                && m.get("cert_probe_success", &denied) == Some(0.0)
        })
        .await;
    assert_eq!(reasons(&m, &denied), ["kubernetes_forbidden"]);
    let read = m
        .find(
            "cert_expiry_timestamp_seconds",
            &[("target", "k8s"), ("secret_namespace", "allowed")],
        )
        .len();
    assert_eq!(read, MANY, "every Secret of every page");
    assert_eq!(
        expiry(&m, "allowed", "s1999", "tls.crt"),
        Some(not_after as f64)
    );
    assert!(!has_secret(&m, "hidden"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_stopped_and_started_again_under_the_watch() {
    let mut server = ApiServer::start();
    let admin = server.admin().await;
    namespace(&admin, "prod").await;
    let (pem, _) = cert("before", 30);
    create(&admin, tls_secret("prod", "before", pem.as_bytes())).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "kubeconfig", ADMIN_TOKEN);
    let h = exporter(&format!(
        "      kubeconfig: {}\n      namespaces: [prod]\n",
        kubeconfig.display()
    ))
    .await;
    let watch = [
        ("target", "k8s"),
        ("watch", "secrets/prod/type=kubernetes.io/tls"),
    ];
    h.wait_until(WAIT, |m| {
        has_secret(m, "before") && m.get("cert_probe_success", &watch) == Some(1.0)
    })
    .await;

    server.stop_apiserver();
    let m = h
        .wait_until(WAIT, |m| m.get("cert_probe_success", &watch) == Some(0.0))
        .await;
    assert_eq!(reasons(&m, &watch), ["kubernetes_unreachable"]);
    assert!(
        has_secret(&m, "before"),
        "what was read stays reported:\n{}",
        m.text
    );

    server.start_apiserver();
    let admin = server.admin().await;
    let (pem, after_expiry) = cert("after", 20);
    create(&admin, tls_secret("prod", "after", pem.as_bytes())).await;
    let m = h
        .wait_until(WAIT, |m| {
            expiry(m, "prod", "after", "tls.crt") == Some(after_expiry as f64)
                && m.get("cert_probe_success", &watch) == Some(1.0)
        })
        .await;
    assert!(reasons(&m, &watch).is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_410_gone_drops_what_was_deleted_while_away() {
    let mut server = ApiServer::start();
    let admin = server.admin().await;
    namespace(&admin, "prod").await;
    let (pem, _) = cert("kept", 30);
    for name in ["kept", "gone"] {
        create(&admin, tls_secret("prod", name, pem.as_bytes())).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "kubeconfig", ADMIN_TOKEN);
    let h = exporter(&format!(
        "      kubeconfig: {}\n      namespaces: [prod]\n",
        kubeconfig.display()
    ))
    .await;
    h.wait_until(WAIT, |m| has_secret(m, "kept") && has_secret(m, "gone"))
        .await;

    // Away from the exporter (its API server stopped; another one on another port, same
    // etcd), "gone" is deleted and "new" created; etcd's history is compacted, so the watch
    // cannot resume from where it was and must list again.
    server.stop_apiserver();
    let exporters_port = server.port;
    server.port = crate::support::ports::free_port();
    server.start_apiserver();
    let other = server.admin().await;
    let secrets: Api<Secret> = Api::namespaced(other.clone(), "prod");
    secrets
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap();
    create(&other, tls_secret("prod", "new", pem.as_bytes())).await;
    server.compact_etcd();
    server.stop_apiserver();
    server.port = exporters_port;
    server.start_apiserver();

    let m = h
        .wait_until(WAIT, |m| has_secret(m, "new") && !has_secret(m, "gone"))
        .await;
    assert!(has_secret(&m, "kept"), "{}", m.text);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_one_secret_named_on_the_command_line() {
    let server = ApiServer::start();
    let admin = server.admin().await;
    namespace(&admin, "prod").await;
    let (pem, not_after) = cert("one", 40);
    // Opaque: `check k8s://` reads a Secret whatever its type.
    create(
        &admin,
        secret("prod", "one", "Opaque", &[("tls.crt", pem.as_bytes())]),
    )
    .await;
    create(&admin, tls_secret("prod", "other", pem.as_bytes())).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "kubeconfig", ADMIN_TOKEN);
    let check = |what: &'static str| {
        let kubeconfig = kubeconfig.clone();
        async move {
            let out = tokio::process::Command::new(crate::support::binary::path())
                .args(["check", "--output", "json", what])
                .env("KUBECONFIG", &kubeconfig)
                .output()
                .await
                .expect("run the exporter binary");
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "no JSON ({e}): {}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            (out.status.code(), doc)
        }
    };
    let (code, doc) = check("k8s://prod/one").await;
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "only the Secret's key: {doc:#}");
    let r = &results[0];
    assert_eq!(r["instance"]["value"], "prod/one/tls.crt", "{doc:#}");
    assert_eq!(r["expiry"]["unix"], not_after, "{doc:#}");
    // Self-signed: the chain is not trusted, so the check is not clean.
    assert_ne!(code, Some(0), "{doc:#}");

    let (code, doc) = check("k8s://prod/missing").await;
    assert_eq!(code, Some(2), "{doc:#}");
    assert_eq!(
        doc["results"][0]["probe_error"]["reason"], "kubernetes_not_found",
        "{doc:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_with_a_client_certificate() {
    let server = ApiServer::start();
    let admin = server.admin().await;
    namespace(&admin, "prod").await;
    let (pem, not_after) = cert("mtls", 12);
    create(&admin, tls_secret("prod", "mtls", pem.as_bytes())).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.client_cert_kubeconfig(dir.path());
    let h = exporter(&format!("      kubeconfig: {}\n", kubeconfig.display())).await;
    let watch = [
        ("target", "k8s"),
        ("watch", "secrets/*/type=kubernetes.io/tls"),
    ];
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_probe_success", &watch).is_some()
                && (m.get("cert_probe_success", &watch) == Some(0.0)
                    || expiry(m, "prod", "mtls", "tls.crt").is_some())
        })
        .await;
    assert_eq!(
        m.get("cert_probe_success", &watch),
        Some(1.0),
        "{:?}",
        reasons(&m, &watch)
    );
    assert_eq!(
        expiry(&m, "prod", "mtls", "tls.crt"),
        Some(not_after as f64)
    );
    h.stop().await;
}
