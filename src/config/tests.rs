//! Every configuration mistake gives a message that says where it is.

use super::*;

/// The message a configuration that must be refused gets; shared by every `config` test module.
pub(super) fn err(yaml: &str) -> String {
    Config::parse(yaml)
        .expect_err("config should be rejected")
        .to_string()
}

#[test]
fn full_example_parses_with_defaults_applied() {
    let config = Config::parse(
        r#"
defaults:
  interval: 1m
  timeout: 5s
  concurrency: 8
  labels: {env: prod}
targets:
  - name: shop
    address: shop.example.com:443
    labels: {team: payments}
  - address: "[::1]:8443"
    server_name: internal.example
    timeout: 2s
"#,
    )
    .unwrap();
    assert_eq!(config.concurrency, 8);
    let shop = &config.targets[0];
    assert_eq!(shop.name, "shop");
    assert_eq!(shop.server_name, "shop.example.com");
    assert_eq!(shop.interval, Duration::from_secs(60));
    assert_eq!(shop.timeout, Duration::from_secs(5));
    assert_eq!(shop.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(
        shop.labels.get("team").map(String::as_str),
        Some("payments")
    );
    let v6 = &config.targets[1];
    assert_eq!(v6.name, "[::1]:8443");
    assert_eq!(v6.server_name, "internal.example");
    assert_eq!(v6.timeout, Duration::from_secs(2));
}

#[test]
fn unknown_key_names_line_and_column() {
    let e = err("targets:\n  - address: a.example:443\n    sni: b.example\n");
    assert!(e.contains("sni"), "{e}");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("column 5"), "{e}");
}

#[test]
fn unknown_top_level_key_names_line() {
    let e = err("target:\n  - address: a.example:443\n");
    assert!(e.contains("target"), "{e}");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn wrong_type_names_line() {
    let e = err("defaults:\n  concurrency: lots\ntargets:\n  - address: a.example:443\n");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn bad_duration_names_line() {
    let e = err("defaults:\n  interval: 5 parsecs\ntargets:\n  - address: a.example:443\n");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn invalid_yaml_names_line() {
    let e = err("targets:\n  - address: [unclosed\n");
    assert!(e.contains("line"), "{e}");
}

#[test]
fn semantic_errors_name_the_field() {
    let cases = [
        ("targets: []\n", "targets"),
        ("defaults: {interval: 1m}\n", "targets"),
        ("targets:\n  - address: a.example\n", "targets[0].address"),
        ("targets:\n  - address: a.example:443\n    timeout: 0s\n", "targets[0].timeout"),
        ("targets:\n  - address: a.example:443\n    interval: 0s\n", "targets[0].interval"),
        (
            "targets:\n  - address: a.example:443\n  - address: b.example:443\n    name: a.example:443\n",
            "targets[1].name",
        ),
        ("targets:\n  - address: a.example:443\n    labels: {target: x}\n", "targets[0].labels.target"),
        ("targets:\n  - address: a.example:443\n    labels: {1bad: x}\n", "targets[0].labels.1bad"),
        ("defaults: {concurrency: 0}\ntargets:\n  - address: a.example:443\n", "defaults.concurrency"),
        ("", "empty"),
    ];
    for (yaml, needle) in cases {
        let e = err(yaml);
        assert!(
            e.contains(needle),
            "{yaml:?} gave {e:?}, expected it to mention {needle:?}"
        );
        if !yaml.is_empty() && !yaml.starts_with("defaults: {interval") {
            assert!(e.contains("line "), "{yaml:?} gave {e:?} without a line");
        }
    }
}

#[test]
fn duplicate_names_are_rejected_at_the_second_name() {
    let e = err("targets:\n  - name: x\n    address: a.example:443\n  - name: x\n    address: b.example:443\n");
    assert!(e.contains("unique"), "{e}");
    assert!(e.contains("line 4 column 11"), "{e}");
}

#[test]
fn address_without_port_points_at_the_value() {
    let e = err("targets:\n  - name: x\n    address: a.example\n");
    assert!(e.contains("line 3 column 14"), "{e}");
}

#[test]
fn legacy_protocols_default_on_and_switch_off_per_target_or_default() {
    let config = Config::parse(
        "targets:\n  - name: a\n    address: a.example:443\n  - name: b\n    address: b.example:443\n    legacy_protocols: false\n  - name: files\n    path: /etc/ssl/*.pem\n",
    )
    .unwrap();
    let on: Vec<bool> = config.targets.iter().map(|t| t.legacy_protocols).collect();
    assert_eq!(
        on,
        [true, false, false],
        "a file target has no server to ask"
    );
    let config = Config::parse(
        "defaults:\n  legacy_protocols: false\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n    legacy_protocols: true\n",
    )
    .unwrap();
    let on: Vec<bool> = config.targets.iter().map(|t| t.legacy_protocols).collect();
    assert_eq!(on, [false, true]);
}

#[test]
fn legacy_protocols_on_a_file_target_is_refused_where_it_stands() {
    let e = err("targets:\n  - path: /etc/ssl/*.pem\n    legacy_protocols: true\n");
    assert!(e.contains("legacy_protocols"), "{e}");
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn server_name_must_be_a_dns_name_or_an_ip_literal() {
    for (name, says) in [
        ("bad name with spaces", "not a DNS name or an IP address"),
        ("\"[::1]\"", "without brackets"),
        ("\"[10.0.0.1]\"", "without brackets"),
        ("under-score-ends-.example", "not a DNS name"),
        ("host:443", "not a DNS name"),
        ("\"\"", "must not be empty"),
    ] {
        let e = err(&format!(
            "targets:\n  - address: a.example:443\n    server_name: {name}\n"
        ));
        assert!(
            e.starts_with("line 3 column 18: targets[0].server_name:"),
            "{name}: {e}"
        );
        assert!(e.contains(says), "{name}: {e}");
    }
    for good in [
        "shop.example.com",
        "::1",
        "10.0.0.1",
        "a_b.example",
        "fqdn.example.",
    ] {
        let config = Config::parse(&format!(
            "targets:\n  - address: a.example:443\n    server_name: \"{good}\"\n"
        ))
        .unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(config.targets[0].server_name, good);
    }
}

#[test]
fn a_server_name_taken_from_the_address_is_checked_too() {
    // The address's host parses as a name to resolve, but is no name a certificate can cover.
    for host in ["host-.example", "db.123", "0"] {
        let e = err(&format!("targets:\n  - address: {host}:443\n"));
        assert!(
            e.starts_with("line 2 column 14: targets[0].server_name:"),
            "{e}"
        );
        assert!(e.contains(host) && e.contains("set server_name"), "{e}");
    }
    // An explicit server_name makes such an address usable.
    Config::parse("targets:\n  - address: db.123:443\n    server_name: db.example\n").unwrap();
}

#[test]
fn metrics_level_is_default_unless_set_and_groups_override_it_key_by_key() {
    use super::{Certificates, MetricsLevel, MetricsSettings, Phases};
    let c = Config::parse(
        "defaults:\n  metrics: {level: minimal, phases: total}\ntargets:\n  - address: a.example:443\n  - address: b.example:443\n    metrics: {level: full, cert_info: false}\n  - address: c.example:443\n    metrics: {certificates: all}\n",
    )
    .unwrap();
    let minimal = MetricsSettings::of_level(MetricsLevel::Minimal);
    assert_eq!(
        *c.targets[0].metrics,
        MetricsSettings {
            phases: Phases::Total,
            ..minimal.clone()
        }
    );
    // The target's level, with the defaults' `phases` still over it.
    assert_eq!(
        *c.targets[1].metrics,
        MetricsSettings {
            phases: Phases::Total,
            cert_info: false,
            ..MetricsSettings::of_level(MetricsLevel::Full)
        }
    );
    assert_eq!(
        *c.targets[2].metrics,
        MetricsSettings {
            phases: Phases::Total,
            certificates: Certificates::All,
            ..minimal
        }
    );
    let plain = Config::parse("targets:\n  - address: a.example:443\n").unwrap();
    assert_eq!(*plain.targets[0].metrics, MetricsSettings::default());
    assert_eq!(
        MetricsSettings::default(),
        MetricsSettings::of_level(MetricsLevel::Default)
    );
}

#[test]
fn a_wrong_metrics_block_is_refused_with_its_line_and_column() {
    let e = err("targets:\n  - address: a.example:443\n    metrics: {level: verbose}\n");
    assert!(e.contains("line 3") && e.contains("verbose"), "{e}");
    let e = err("defaults:\n  metrics:\n    phase: all\ntargets:\n  - address: a.example:443\n");
    assert!(e.contains("line 3") && e.contains("phase"), "{e}");
}

/// The inline sizes of the per-target configuration types, printed so that the figures of
/// docs/performance.md §8 can be read again (`cargo test --lib config::tests::type_sizes --
/// --nocapture`).
#[test]
fn type_sizes() {
    use std::mem::size_of;
    let sizes = [
        ("Target", size_of::<Target>()),
        ("RawTarget", size_of::<RawTarget>()),
        ("Spanned<RawTarget>", size_of::<Spanned<RawTarget>>()),
        ("TargetKind", size_of::<TargetKind>()),
        ("Reach", size_of::<Reach>()),
        ("MetricsSettings", size_of::<MetricsSettings>()),
        ("RevocationSettings", size_of::<RevocationSettings>()),
        ("AcmeDirectory", size_of::<AcmeDirectory>()),
        ("DnsChecks", size_of::<DnsChecks>()),
        ("Address", size_of::<Address>()),
        ("KubeSource", size_of::<KubeSource>()),
        ("RawMetrics", size_of::<RawMetrics>()),
        ("RawRevocation", size_of::<RawRevocation>()),
        (
            "RawKubernetes",
            size_of::<Spanned<kubernetes::RawKubernetes>>(),
        ),
    ];
    for (name, size) in sizes {
        println!("size_of::<{name}>() = {size}");
    }
    // Every configured target holds one for as long as it is configured (§8 of
    // docs/performance.md: 624 bytes before the rare and inherited parts were shared or boxed).
    assert!(
        size_of::<Target>() <= 288,
        "Target grew to {} bytes: box or share what most targets do not set",
        size_of::<Target>()
    );
}

/// `url:` and `acme_directory:` share one URL check and keep their own words.
#[test]
fn url_options_word_their_url_mistakes_their_own_way() {
    let cases = [
        (
            "targets:\n  - url: ftp://pki.example/ca.pem\n",
            "line 2 column 10: targets[0].url: \"ftp://pki.example/ca.pem\": only http and https URLs are fetched, not ftp",
        ),
        (
            "targets:\n  - url: not a url\n",
            "line 2 column 10: targets[0].url: \"not a url\" is not a URL: relative URL without a base",
        ),
        (
            "targets:\n  - address: a.example:443\n    acme_directory: ftp://acme.example/dir\n",
            "line 3 column 21: targets[0].acme_directory: \"ftp://acme.example/dir\": an ACME directory is fetched over http or https, not ftp",
        ),
        (
            "defaults:\n  acme_directory: sometimes\ntargets:\n  - address: a.example:443\n",
            "line 2 column 19: defaults.acme_directory: \"sometimes\" is neither `auto`, `off` nor a URL of an ACME directory: relative URL without a base",
        ),
    ];
    for (yaml, message) in cases {
        assert_eq!(err(yaml), message, "{yaml}");
    }
}
