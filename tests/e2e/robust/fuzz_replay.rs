//! The fuzz corpus, replayed on stable: every seed and every regression input (a past fuzzing
//! finding) goes through the same entry points the fuzzers call (`fuzz/src/lib.rs`), so a
//! finding stays fixed without a nightly toolchain in CI. The fuzzing itself is
//! `scripts/fuzz.sh`.

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entry;

use std::path::{Path, PathBuf};

/// Every file of `fuzz/{seeds,regressions}/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join(dir).join(target)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && !path.ends_with(".keep"))
        .collect();
    files.sort();
    files
}

/// Feeds every input of `target` to `entry`; each must return without panicking.
fn replay(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no seeds for {target} under fuzz/seeds/");
    for file in files {
        let data = std::fs::read(&file).expect("read a corpus file");
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{} panicked in {target}", file.display());
    }
}

#[test]
fn cert_chain_corpus() {
    replay("cert_chain", entry::cert_chain);
}

#[test]
fn ocsp_response_corpus() {
    replay("ocsp_response", entry::ocsp_response);
}

#[test]
fn crl_corpus() {
    replay("crl", entry::crl);
}

#[test]
fn config_corpus() {
    replay("config", entry::config);
}

#[test]
fn file_formats_corpus() {
    replay("file_formats", entry::file_formats);
}
