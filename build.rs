//! Records the git revision for `cert_exporter_build_info`.

fn main() {
    println!("cargo:rerun-if-env-changed=CERT_EXPORTER_REVISION");
    // Builds without .git (a Docker context) pass the revision in the environment.
    if let Ok(revision) = std::env::var("CERT_EXPORTER_REVISION") {
        println!("cargo:rustc-env=CERT_EXPORTER_REVISION={revision}");
        return;
    }
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CERT_EXPORTER_REVISION={revision}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
