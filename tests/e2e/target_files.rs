//! `target_files:`: target lists in files of their own, picked up when they appear, change,
//! break or vanish; and `--shard`, which splits the combined list between replicas.

use std::time::Duration;

use cert_expiry_exporter::app::{self, Exporter, WebSettings};
use cert_expiry_exporter::shard::Shard;

use crate::support::tls_server;
use crate::support::{get, write, Harness, Metrics};

const WAIT: Duration = Duration::from_secs(20);

fn targets_yaml(addr: &str, names: &[&str]) -> String {
    let mut yaml = String::from("targets:\n");
    for name in names {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {addr}\n    server_name: shop.test\n"
        ));
    }
    yaml
}

fn probed(m: &Metrics, name: &str) -> bool {
    m.get("cert_probe_success", &[("target", name)]) == Some(1.0)
}

fn file_ok(m: &Metrics, file: &str) -> Option<f64> {
    m.get(
        "cert_exporter_target_file_last_load_successful",
        &[("file", file)],
    )
}

#[tokio::test]
async fn files_appear_change_break_and_vanish() {
    let (server, dir) = tls_server::shop_server("Files Root").await;
    let addr = server.addr.to_string();
    let yaml = format!(
        "defaults:\n  interval: 300ms\n  timeout: 2s\n  ca_file: {{dir}}/ca.pem\ntarget_files: [targets/*.yaml]\ntarget_files_refresh_interval: 200ms\ntargets:\n  - name: main\n    address: {addr}\n    server_name: shop.test\n"
    );
    let h = Harness::start_in(dir, &yaml).await;
    let a = h.path("targets/a.yaml").display().to_string();
    h.wait_for_probes(&["main"], WAIT).await;

    // Added: its targets are probed, with the main file's defaults (ca_file).
    write(
        &h.path("targets"),
        "a.yaml",
        &targets_yaml(&addr, &["a1", "a2"]),
    );
    let m = h
        .wait_until(WAIT, |m| probed(m, "a1") && probed(m, "a2"))
        .await;
    assert_eq!(file_ok(&m, &a), Some(1.0));
    assert_eq!(
        m.value("cert_exporter_target_file_targets", &[("file", &a)]),
        2.0
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "a1")]), 1.0);
    assert_eq!(m.value("cert_exporter_targets", &[]), 3.0);

    // Changed: a1 goes, a3 comes, a2 stays.
    write(
        &h.path("targets"),
        "a.yaml",
        &targets_yaml(&addr, &["a2", "a3"]),
    );
    let m = h
        .wait_until(WAIT, |m| {
            probed(m, "a3") && m.get("cert_probe_success", &[("target", "a1")]).is_none()
        })
        .await;
    assert!(probed(&m, "a2"));

    // Broken: reported, and its previous targets keep being probed.
    write(
        &h.path("targets"),
        "a.yaml",
        "targets:\n  - name: a4\n    adress: nowhere\n",
    );
    let m = h.wait_until(WAIT, |m| file_ok(m, &a) == Some(0.0)).await;
    let before = m.value("cert_probe_timestamp_seconds", &[("target", "a3")]);
    let m = h
        .wait_until(WAIT, |m| {
            m.value("cert_probe_timestamp_seconds", &[("target", "a3")]) > before
        })
        .await;
    assert!(probed(&m, "a2") && m.get("cert_probe_success", &[("target", "a4")]).is_none());

    // A second file reusing a name is rejected whole; the first keeps it.
    write(
        &h.path("targets"),
        "b.yaml",
        &targets_yaml(&addr, &["b1", "a2"]),
    );
    let b = h.path("targets/b.yaml").display().to_string();
    let m = h.wait_until(WAIT, |m| file_ok(m, &b) == Some(0.0)).await;
    assert!(m.get("cert_probe_success", &[("target", "b1")]).is_none());

    // Removed: its targets and its file series disappear.
    std::fs::remove_file(h.path("targets/a.yaml")).unwrap();
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_probe_success", &[("target", "a2")]).is_none() && file_ok(m, &a).is_none()
        })
        .await;
    assert!(probed(&m, "main"));
    // With a2 gone, b.yaml is no longer a duplicate once it is rewritten.
    write(
        &h.path("targets"),
        "b.yaml",
        &targets_yaml(&addr, &["b1", "a2"]),
    );
    h.wait_until(WAIT, |m| probed(m, "b1") && file_ok(m, &b) == Some(1.0))
        .await;
    h.stop().await;
}

#[test]
fn check_config_names_the_file_and_line_of_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    let main = write(
        dir.path(),
        "config.yaml",
        "target_files: [t/*.yaml]\ntargets:\n  - name: shop\n    address: shop.example:443\n",
    );
    write(
        &dir.path().join("t"),
        "x.yaml",
        "targets:\n  - address: a.example:443\n  - name: shop\n    address: b.example:443\n",
    );
    let loaded = app::load(&main).unwrap();
    let e = cert_expiry_exporter::inventory::check_files(&loaded.config).unwrap_err();
    assert!(
        e.contains("t/x.yaml")
            && e.contains("line 3 column 11")
            && e.contains("main configuration"),
        "{e}"
    );
}

#[tokio::test]
async fn shards_split_the_targets_between_replicas() {
    let (server, dir) = tls_server::shop_server("Files Root").await;
    let names: Vec<String> = (0..24).map(|i| format!("t{i:02}")).collect();
    let mut yaml = String::from(
        "defaults:\n  interval: 300ms\n  timeout: 2s\n  ca_file: {dir}/ca.pem\ntargets:\n",
    );
    for name in &names {
        yaml.push_str(&format!("  - name: {name}\n    address: {}\n", server.addr));
    }
    let h = Harness::start_in(dir, &yaml).await;
    let mut replicas = Vec::new();
    for index in 0..3 {
        let loaded = app::load(&h.config_path).unwrap();
        let web = WebSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            config_file: None,
        };
        let shard = Shard { index, count: 3 };
        replicas.push(
            Exporter::start_sharded(&h.config_path, loaded, web, shard)
                .await
                .unwrap(),
        );
    }
    let mut owner = std::collections::BTreeMap::new();
    for (i, replica) in replicas.iter().enumerate() {
        let shard = Shard {
            index: i as u32,
            count: 3,
        };
        let expected: Vec<&String> = names.iter().filter(|n| shard.owns(n)).collect();
        assert!(
            !expected.is_empty() && expected.len() < names.len(),
            "{expected:?}"
        );
        let deadline = std::time::Instant::now() + WAIT;
        let m = loop {
            let m = Metrics::parse(&get(replica.local_addr, "/metrics", &[]).await.body);
            if expected.iter().all(|n| probed(&m, n)) || std::time::Instant::now() > deadline {
                break m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(m.value("cert_exporter_targets", &[]), expected.len() as f64);
        for sample in m.find("cert_probe_success", &[]) {
            let name = sample.labels["target"].clone();
            assert!(
                owner.insert(name.clone(), i).is_none(),
                "{name} probed by two shards"
            );
        }
    }
    assert_eq!(
        owner.len(),
        names.len(),
        "every target probed by one shard: {owner:?}"
    );
    for replica in replicas {
        replica.shutdown().await;
    }
    h.stop().await;
}

#[test]
fn a_bad_shard_flag_is_refused_with_the_reason() {
    let out = std::process::Command::new(crate::support::binary::path())
        .args(["--shard", "exporter-3/3", "--check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--shard") && err.contains("below the count"),
        "{err}"
    );
}
