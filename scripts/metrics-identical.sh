#!/usr/bin/env bash
# metrics-identical.sh BASE_REV — shows that /metrics of one configuration is byte-identical
# when served by the binary built at BASE_REV and by the binary built from the working tree
# (for a behaviour-preserving refactor). Exit 0 when identical, 1 with a diff when not, 2 when
# the comparison could not run.
#
# What it does, all on loopback and bounded in time (every wait has a timeout):
#  1. Builds the binary at BASE_REV in a temporary `git worktree` with a target dir of its own,
#     seeded with a copy of target/debug's dependencies (so only the crate rebuilds), and the
#     working tree's binary with the normal target/.
#  2. Makes certificates with openssl (a root, an intermediate and leaves) and starts one
#     `openssl s_server` per endpoint: a valid chain, an expired leaf, a leaf for the wrong
#     name, a self-signed leaf, and a leaf whose OCSP responder and CRL are on the one
#     loopback port left dead (which a target probes too).
#  3. Writes one configuration: those endpoints, file targets (examples/pki/localhost.pem
#     against examples/pki/ca.pem, and a bundle the script writes), revocation off but for the
#     leaf whose revocation sources are dead, and an interval of an hour so that only the
#     first probes run before the scrape.
#  4. Runs each binary in turn on it, waits for /-/ready (every target has its first result),
#     scrapes /metrics once and stops it.
#  5. Masks the values that change between probes and runs, sorts nothing but the
#     hash-ordered counters below (series order is part of the output), and diffs the two scrapes.
#
# Masked (value replaced by MASKED, labels and order kept):
#   cert_probe_duration_seconds, cert_probe_timestamp_seconds        (timing of each probe)
#   cert_days_to_expiry                                               (computed at scrape time)
#   cert_exporter_config_last_reload_success_timestamp_seconds       (when the config loaded)
#   process_*                                                         (RSS, CPU, fds, start time)
#   cert_exporter_build_info                                          (labels too: version, revision)
# Ordered: only the samples within cert_exporter_probes_total, cert_revocation_fetches_total and
# cert_aia_fetches_total, which prometheus-client keeps in a hash map (their order changes from
# one process to the next, even of the same binary; where the family stands is kept).
# Everything else — names, HELP/TYPE lines, label sets, series order, every other value — must
# match to the byte.
#
# Environment: KEEP=1 keeps the work directory (scrapes, logs) for a look afterwards.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BASE_REV" >&2
  exit 2
fi
base_rev=$1
repo=$(git rev-parse --show-toplevel)
cd "$repo"
base_commit=$(git rev-parse --verify "$base_rev^{commit}") || {
  echo "not a revision: $base_rev" >&2
  exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/metrics-identical.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exec 9>&- 2>/dev/null || true
  git -C "$repo" worktree remove --force "$work/base" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
fail() {
  echo "metrics-identical: $*" >&2
  exit 2
}

# A loopback port free right now (bound and released).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- 1. the two binaries ----------------------------------------------------------------
echo "== building $base_rev ($base_commit) in a temporary worktree"
git worktree add --quiet --detach "$work/base" "$base_commit"
base_target="$work/base-target"
mkdir -p "$base_target/debug/deps"
if [ -d target/debug/deps ]; then
  # Dependencies only: the crate's own artefacts and the incremental caches are rebuilt.
  cp -a target/debug/.fingerprint target/debug/build "$base_target/debug/" 2>/dev/null || true
  find target/debug/deps -maxdepth 1 -type f ! -name '*cert_expiry_exporter*' ! -name 'e2e-*' \
    -exec cp -a -t "$base_target/debug/deps" {} +
fi
(cd "$work/base" && timeout 1200 cargo build --locked --quiet --bin cert-expiry-exporter \
  --target-dir "$base_target") || fail "building $base_rev failed"
base_bin="$base_target/debug/cert-expiry-exporter"
echo "== building the working tree"
timeout 1200 cargo build --locked --quiet --bin cert-expiry-exporter || fail "building the working tree failed"
new_bin="$repo/target/debug/cert-expiry-exporter"

# --- 2. certificates and servers --------------------------------------------------------
pki="$work/pki"
mkdir -p "$pki"
ossl() { (cd "$pki" && timeout 60 openssl "$@" >/dev/null 2>&1) || fail "openssl $* failed"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 3650 \
  -subj "/CN=Identical Root" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
cat >"$pki/ca.ext" <<'EOF'
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
EOF
ossl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -subj "/CN=Identical Intermediate"
ossl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 1825 \
  -extfile ca.ext -out inter.pem
# `openssl ca` can date a leaf in the past (x509 -req cannot in OpenSSL 3.0).
mkdir -p "$pki/ca"
: >"$pki/ca/index.txt"
echo 1000 >"$pki/ca/serial"
cat >"$pki/ca.cnf" <<EOF
[ca]
default_ca = sign
[sign]
database = $pki/ca/index.txt
serial = $pki/ca/serial
new_certs_dir = $pki/ca
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
# leaf NAME DNS_NAME START END [EXTENSION]: a server leaf signed by the intermediate, in
# NAME.pem/NAME.key.
leaf() {
  cat >"$pki/$1.ext" <<EOF
subjectAltName=DNS:$2
extendedKeyUsage=serverAuth
basicConstraints=critical,CA:FALSE
${5:-}
EOF
  ossl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  ossl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -in "$1.csr" \
    -startdate "$3" -enddate "$4" -extfile "$1.ext" -out "$1.pem" -notext
}
leaf valid valid.test 20240101000000Z 20400101000000Z
leaf expired expired.test 20200101000000Z 20210101000000Z
leaf other other.test 20240101000000Z 20400101000000Z
# Revocation pointed at nothing: an OCSP responder and a CRL on the dead port.
dead_port=$(free_port)
leaf revoc revoc.test 20240101000000Z 20400101000000Z \
  "authorityInfoAccess=OCSP;URI:http://127.0.0.1:$dead_port/ocsp
crlDistributionPoints=URI:http://127.0.0.1:$dead_port/inter.crl"
ossl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 3650 \
  -subj "/CN=self.test" -addext "subjectAltName=DNS:self.test"
cat "$pki/root.pem" "$pki/self.pem" "$pki/expired.pem" examples/pki/ca.pem >"$pki/bundle.pem"

# An open FIFO as every s_server's stdin: at end of input s_server stops after one connection.
mkfifo "$work/hold"
exec 9<>"$work/hold"
# start_s_server NAME CERT KEY [CHAIN]: serves on a free loopback port (its ACCEPT line says
# which, read by port_of NAME).
start_s_server() {
  local chain=()
  if [ -n "${4:-}" ]; then chain=(-cert_chain "$pki/$4"); fi
  openssl s_server -accept 127.0.0.1:0 -cert "$pki/$2" -key "$pki/$3" "${chain[@]}" \
    <&9 >"$work/s_server-$1.log" 2>&1 &
  pids+=($!)
}
port_of() {
  local log="$work/s_server-$1.log" i port=""
  for i in $(seq 1 100); do
    port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "openssl s_server $1 did not listen within 10 s: $(cat "$log")"
  echo "$port"
}
start_s_server valid valid.pem valid.key inter.pem
start_s_server expired expired.pem expired.key inter.pem
start_s_server wrong other.pem other.key inter.pem
start_s_server self self.pem self.key
start_s_server revoc revoc.pem revoc.key inter.pem
valid_port=$(port_of valid)
expired_port=$(port_of expired)
wrong_port=$(port_of wrong)
self_port=$(port_of self)
revoc_port=$(port_of revoc)

# --- 3. the configuration ---------------------------------------------------------------
config="$work/config.yaml"
cat >"$config" <<EOF
defaults:
  interval: 1h
  timeout: 5s
  concurrency: 4
  ca_file: $pki/root.pem
  revocation: {ocsp: false, crl: false}
targets:
  - name: valid-chain
    address: 127.0.0.1:$valid_port
    server_name: valid.test
    labels: {team: web}
  - name: expired-leaf
    address: 127.0.0.1:$expired_port
    server_name: expired.test
  - name: wrong-name
    address: 127.0.0.1:$wrong_port
    server_name: wrong.test
  - name: self-signed
    address: 127.0.0.1:$self_port
    server_name: self.test
  - name: revocation-unreachable
    address: 127.0.0.1:$revoc_port
    server_name: revoc.test
    revocation: {ocsp: true, crl: true}
  - name: dead-port
    address: 127.0.0.1:$dead_port
    server_name: dead.test
  - name: example-localhost
    path: $repo/examples/pki/localhost.pem
    ca_file: $repo/examples/pki/ca.pem
  - name: bundle
    path: $pki/bundle.pem
EOF

# --- 4. one scrape per binary -----------------------------------------------------------
# scrape NAME BINARY: runs BINARY on the config, waits for /-/ready, writes NAME.metrics.
scrape() {
  local port pid i
  port=$(free_port)
  "$2" --config.file "$config" --web.listen-address "127.0.0.1:$port" >"$work/$1.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for i in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/-/ready")" = 200 ]; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || fail "$1 exited before it was ready: $(cat "$work/$1.log")"
    sleep 0.1
  done
  [ "$i" -lt 600 ] || fail "$1 not ready within 60 s: $(cat "$work/$1.log")"
  curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" >"$work/$1.metrics" || fail "scraping $1 failed"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
echo "== scraping $base_rev"
scrape base "$base_bin"
echo "== scraping the working tree"
scrape new "$new_bin"

# --- 5. mask and compare ----------------------------------------------------------------
mask() {
  python3 - "$1" <<'PY'
import re, sys

# Values that change between probes and runs.
MASK_VALUE = {
    "cert_probe_duration_seconds",
    "cert_probe_timestamp_seconds",
    "cert_days_to_expiry",
    "cert_exporter_config_last_reload_success_timestamp_seconds",
}
# Counters kept in a prometheus-client Family, a hash map whose iteration order differs from
# one process to the next (even of one binary): their samples alone are put in order.
HASH_ORDERED = {
    "cert_exporter_probes_total",
    "cert_revocation_fetches_total",
    "cert_aia_fetches_total",
}

out, run, run_name = [], [], None


def flush():
    global run, run_name
    out.extend(sorted(run))
    run, run_name = [], None


for line in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    name = re.match(r"[^{ ]*", line).group(0)
    if not line.startswith("#"):
        if name == "cert_exporter_build_info":
            line = name + "{MASKED} MASKED"
        elif name in MASK_VALUE or name.startswith("process_"):
            line = re.sub(r" [^ }]*$", " MASKED", line)
    if not line.startswith("#") and name in HASH_ORDERED:
        if run_name != name:
            flush()
            run_name = name
        run.append(line)
        continue
    flush()
    out.append(line)
flush()
sys.stdout.write("\n".join(out))
PY
}
mask "$work/base.metrics" >"$work/base.masked"
mask "$work/new.metrics" >"$work/new.masked"
lines=$(wc -l <"$work/new.masked")
masked=$(grep -c MASKED "$work/new.masked" || true)
if diff -u --label "$base_rev" --label "working tree" "$work/base.masked" "$work/new.masked"; then
  echo "identical: $lines lines of /metrics ($masked with masked values), $base_rev vs the working tree"
  exit 0
fi
echo "metrics-identical: /metrics differs between $base_rev and the working tree" >&2
exit 1
