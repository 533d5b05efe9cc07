//! Every kind of bad configuration in one table: the file as written, what the error must say.
//! Each is loaded the way the binary loads it (`app::load`: the YAML, then the files it names),
//! and must be refused with a message naming the file, the line (where the mistake has one) and
//! the field — never a panic, never a half-loaded configuration. Plus a configuration of 100,000
//! targets, loaded by the real binary, with its time and peak memory printed.

use std::path::PathBuf;
use std::time::Instant;

use cert_expiry_exporter::app;

/// One bad configuration.
struct Case {
    /// What is wrong, for the failure message.
    what: &'static str,
    /// The file's text; `{dir}` is the test's directory.
    yaml: &'static str,
    /// Every one of these must be in the error.
    expect: &'static [&'static str],
    /// Whether the error must name a line (mistakes of the file as a whole have none).
    located: bool,
}

const CASES: &[Case] = &[
    Case {
        what: "empty file",
        yaml: "",
        expect: &["empty"],
        located: false,
    },
    Case {
        what: "invalid YAML: unclosed flow sequence",
        yaml: "targets:\n  - address: [unclosed\n",
        expect: &["line 2"],
        located: true,
    },
    Case {
        what: "invalid YAML: bad indentation",
        yaml: "targets:\n  - address: a.example:443\n   name: x\n",
        expect: &["line 3"],
        located: true,
    },
    Case {
        what: "a mapping key given twice",
        yaml: "targets:\n  - address: a.example:443\n    address: b.example:443\n",
        expect: &["line 3", "address"],
        located: true,
    },
    Case {
        what: "unknown top-level key",
        yaml: "target:\n  - address: a.example:443\n",
        expect: &["line 1", "target"],
        located: true,
    },
    Case {
        what: "unknown target key",
        yaml: "targets:\n  - address: a.example:443\n    colour: blue\n",
        expect: &["line 3 column 5", "colour"],
        located: true,
    },
    Case {
        what: "wrong type: text for a number",
        yaml: "defaults:\n  concurrency: lots\ntargets:\n  - address: a.example:443\n",
        expect: &["line 2", "lots"],
        located: true,
    },
    Case {
        what: "wrong type: a list for the address",
        yaml: "targets:\n  - address: [a, b]\n",
        expect: &["line 2"],
        located: true,
    },
    Case {
        what: "wrong type: targets is a mapping",
        yaml: "targets:\n  address: a.example:443\n",
        expect: &["line 2"],
        located: true,
    },
    Case {
        what: "negative concurrency",
        yaml: "defaults:\n  concurrency: -1\ntargets:\n  - address: a.example:443\n",
        expect: &["line 2"],
        located: true,
    },
    Case {
        what: "zero concurrency",
        yaml: "defaults:\n  concurrency: 0\ntargets:\n  - address: a.example:443\n",
        expect: &["line 2", "defaults.concurrency"],
        located: true,
    },
    Case {
        what: "bad duration",
        yaml: "defaults:\n  interval: 5 parsecs\ntargets:\n  - address: a.example:443\n",
        expect: &["line 2", "parsecs"],
        located: true,
    },
    Case {
        what: "zero timeout",
        yaml: "targets:\n  - address: a.example:443\n    timeout: 0s\n",
        expect: &["line 2", "targets[0].timeout"],
        located: true,
    },
    Case {
        what: "zero interval",
        yaml: "targets:\n  - address: a.example:443\n    interval: 0s\n",
        expect: &["line 2", "targets[0].interval"],
        located: true,
    },
    Case {
        what: "duplicate names",
        yaml: "targets:\n  - name: x\n    address: a.example:443\n  - name: x\n    address: b.example:443\n",
        expect: &["line 4 column 11", "targets[1].name", "unique"],
        located: true,
    },
    Case {
        what: "no targets key",
        yaml: "defaults: {interval: 1m}\n",
        expect: &["targets"],
        located: false,
    },
    Case {
        what: "empty target list",
        yaml: "targets: []\n",
        expect: &["line 1", "targets"],
        located: true,
    },
    Case {
        what: "address without a port",
        yaml: "targets:\n  - name: x\n    address: a.example\n",
        expect: &["line 3 column 14", "targets[0].address"],
        located: true,
    },
    Case {
        what: "IPv6 literal without brackets",
        yaml: "targets:\n  - address: 2001:db8::1:443\n",
        expect: &["line 2", "targets[0].address"],
        located: true,
    },
    Case {
        what: "port out of range",
        yaml: "targets:\n  - address: a.example:70000\n",
        expect: &["line 2", "targets[0].address"],
        located: true,
    },
    Case {
        what: "port 0",
        yaml: "targets:\n  - address: a.example:0\n",
        expect: &["line 2", "targets[0].address", "port 0"],
        located: true,
    },
    Case {
        what: "both address and path",
        yaml: "targets:\n  - address: a.example:443\n    path: /tmp/*.pem\n",
        expect: &["line 3", "targets[0].path"],
        located: true,
    },
    Case {
        what: "neither address nor path",
        yaml: "targets:\n  - name: x\n",
        expect: &["line 2", "targets[0].address"],
        located: true,
    },
    Case {
        what: "reserved label",
        yaml: "targets:\n  - address: a.example:443\n    labels: {target: x}\n",
        expect: &["line 2", "targets[0].labels.target"],
        located: true,
    },
    Case {
        what: "invalid label name",
        yaml: "targets:\n  - address: a.example:443\n    labels: {1bad: x}\n",
        expect: &["line 2", "targets[0].labels.1bad"],
        located: true,
    },
    Case {
        what: "unknown STARTTLS protocol",
        yaml: "targets:\n  - address: a.example:25\n    starttls: smtps\n",
        expect: &["line 3", "smtps"],
        located: true,
    },
    Case {
        what: "proxy URL with another scheme",
        yaml: "targets:\n  - address: a.example:443\n    proxy_url: socks5://p.example:1080\n",
        expect: &["line 3", "proxy_url"],
        located: true,
    },
    Case {
        what: "missing client_cert file",
        yaml: "targets:\n  - address: a.example:443\n    client_cert: {dir}/missing-cert.pem\n    client_key: {dir}/missing-key.pem\n",
        expect: &["line 3", "client_cert", "missing-cert.pem"],
        located: true,
    },
    Case {
        what: "client_cert without client_key",
        yaml: "targets:\n  - address: a.example:443\n    client_cert: {dir}/junk.txt\n",
        expect: &["line 3", "client_key"],
        located: true,
    },
    Case {
        what: "missing password_file",
        yaml: "targets:\n  - path: {dir}/*.p12\n    password_file: {dir}/missing-password\n",
        expect: &["line 3", "password_file", "missing-password"],
        located: true,
    },
    Case {
        what: "missing ca_file",
        yaml: "targets:\n  - address: a.example:443\n    ca_file: {dir}/missing-ca.pem\n",
        expect: &["ca_file", "missing-ca.pem"],
        located: false,
    },
    Case {
        what: "ca_file without a certificate",
        yaml: "targets:\n  - address: a.example:443\n    ca_file: {dir}/junk.txt\n",
        expect: &["ca_file", "junk.txt"],
        located: false,
    },
    Case {
        what: "a client certificate that never ends (/dev/zero)",
        yaml: "targets:\n  - address: a.example:443\n    client_cert: /dev/zero\n    client_key: /dev/zero\n",
        expect: &["line 3", "client_cert", "/dev/zero", "larger than"],
        located: true,
    },
    Case {
        what: "a CA file that never ends (/dev/zero)",
        yaml: "targets:\n  - address: a.example:443\n    ca_file: /dev/zero\n",
        expect: &["ca_file", "/dev/zero", "larger than"],
        located: false,
    },
    Case {
        what: "server_name with spaces",
        yaml: "targets:\n  - address: a.example:443\n    server_name: bad name with spaces\n",
        expect: &["line 3 column 18", "server_name", "bad name with spaces"],
        located: true,
    },
    Case {
        what: "server_name an IPv6 literal in brackets",
        yaml: "targets:\n  - address: \"[::1]:443\"\n    server_name: \"[::1]\"\n",
        expect: &["line 3 column 18", "server_name", "without brackets"],
        located: true,
    },
    Case {
        what: "server_name of a /probe module",
        yaml: "probe_allow: ['*']\nmodules:\n  m:\n    server_name: bad name\n",
        expect: &["line 4 column 18", "modules.m.server_name", "bad name"],
        located: true,
    },
    Case {
        what: "an alias bomb (billion laughs)",
        yaml: "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\ntargets:\n  - address: a.example:443\n",
        expect: &["line"],
        located: true,
    },
];

#[test]
fn every_bad_configuration_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.txt"), "not a certificate\n").unwrap();
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let path = dir.path().join(format!("case-{i}.yaml"));
        let yaml = case
            .yaml
            .replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&path, yaml).unwrap();
        let outcome = std::panic::catch_unwind(|| app::load(&path));
        let message = match outcome {
            Err(_) => {
                failures.push(format!("{}: PANICKED", case.what));
                continue;
            }
            Ok(Ok(_)) => {
                failures.push(format!("{}: was accepted", case.what));
                continue;
            }
            Ok(Err(e)) => e.to_string(),
        };
        let file_name = format!("case-{i}.yaml");
        let mut missing: Vec<&str> = case
            .expect
            .iter()
            .copied()
            .filter(|needle| !message.contains(needle))
            .collect();
        if !message.contains(&file_name) {
            missing.push("the file name");
        }
        if case.located && !message.contains("line ") {
            missing.push("a line");
        }
        if !missing.is_empty() {
            failures.push(format!("{}: {message:?} lacks {missing:?}", case.what));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn unreadable_configuration_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80, 0x7f]).unwrap();
    let directory = dir.path().join("a-directory.yaml");
    std::fs::create_dir(&directory).unwrap();
    for (path, needle) in [
        (binary, "UTF-8"),
        (directory, "directory"),
        (dir.path().join("absent.yaml"), "No such file"),
        (PathBuf::from("/dev/zero"), "larger than"),
    ] {
        let e = app::load(&path).err().expect("refused").to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(needle),
            "{e}"
        );
    }
}

/// Resources the child processes of this test process used, by `getrusage(RUSAGE_CHILDREN)`:
/// the peak resident set of the largest one, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

#[test]
fn a_configuration_of_100k_targets_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let mut yaml = String::from("defaults:\n  interval: 5m\n  timeout: 10s\ntargets:\n");
    for i in 0..100_000 {
        yaml.push_str(&format!(
            "  - name: t{i}\n    address: host-{i}.example.test:443\n    labels: {{shard: \"{}\"}}\n",
            i % 16
        ));
    }
    std::fs::write(&path, &yaml).unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(crate::support::binary::path())
        .arg("--config.file")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("100000 targets"));
    // Measured, not asserted: docs/reliability.md quotes these figures.
    println!(
        "100k targets ({} MiB of YAML): --check-config took {:.2} s, peak RSS {} MiB",
        yaml.len() >> 20,
        elapsed.as_secs_f64(),
        children_max_rss_kib() / 1024
    );
}
