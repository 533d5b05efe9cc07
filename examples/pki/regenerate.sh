#!/usr/bin/env bash
# Remakes the demo PKI that config.example.yaml reads, so the first run shows a green
# certificate without a network: a private root (ca.pem) and a leaf for localhost issued by it
# (localhost.pem). Only certificates are kept; the keys are thrown away, as nothing signs with
# them again. Fixed dates, so that a machine whose clock is behind still sees them valid: the
# leaf runs 2024-01-01 to 2049-01-01, the root to 2054. The test
# `the_example_config_is_green_offline` (tests/e2e/files.rs) fails once less than a third of
# the leaf's life is left (CertificateRenewalOverdue would fire), which is when to run this
# again with later dates.
# Needs openssl (Debian: openssl). Run from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/index.txt"
cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = demo
[demo]
database = $tmp/index.txt
new_certs_dir = $tmp
rand_serial = yes
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
organizationName = supplied
commonName = supplied
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
sign() { openssl ca -batch -notext -config "$tmp/ca.cnf" "$@"; }

ec "$tmp/ca.key"
openssl req -new -key "$tmp/ca.key" -out "$tmp/ca.csr" \
    -subj "/O=cert-expiry-exporter demo/CN=Demo Root CA"
sign -selfsign -keyfile "$tmp/ca.key" -in "$tmp/ca.csr" -out ca.pem -extensions root \
    -startdate 20240101000000Z -enddate 20540101000000Z

ec "$tmp/leaf.key"
openssl req -new -key "$tmp/leaf.key" -out "$tmp/leaf.csr" \
    -subj "/O=cert-expiry-exporter demo/CN=localhost"
sign -cert ca.pem -keyfile "$tmp/ca.key" -in "$tmp/leaf.csr" -out localhost.pem -extensions leaf \
    -startdate 20240101000000Z -enddate 20490101000000Z

openssl verify -CAfile ca.pem localhost.pem
