#!/usr/bin/env bash
# Series and page bytes per target at each metrics level (issue 13), on a live loopback
# endpoint: a leaf and an intermediate (P-256) under a private root, TLS 1.2/1.3 only (TLS 1.0
# and 1.1 refused), with a CRL distribution point and an OCSP responder that both answer
# "good", so a target is healthy with OCSP and CRL on. For each level the exporter probes
# TARGETS targets (all the same server, names t1..tN) once and the page is read:
#
#   level    series/target  bytes/target  page bytes (N targets)
#
# series/target and bytes/target are the sample lines carrying target="t1" (newlines
# included); page bytes is the whole /metrics page, process-wide series and HELP/TYPE lines
# included. Figures are printed, never asserted (src/metrics/tests.rs pins the budget).
#
#   bash scripts/bench-levels.sh [EXPORTER_BINARY]     # default: target/release, else target/debug
#
# Needs openssl, python3 and curl; takes about half a minute. Ports 28080, 28081, 28443, 28999.
set -euo pipefail
cd "$(dirname "$0")/.."
exporter=${1:-${EXPORTER:-}}
if [[ -z "$exporter" ]]; then
  for candidate in target/release/cert-expiry-exporter target/debug/cert-expiry-exporter; do
    [[ -x "$candidate" ]] && { exporter=$PWD/$candidate; break; }
  done
fi
[[ -x "$exporter" ]] || { echo "no exporter binary: build one or pass its path" >&2; exit 2; }
targets=${TARGETS:-20}
CRL_PORT=28080 OCSP_PORT=28081 TLS_PORT=28443 METRICS_PORT=28999

work=$(mktemp -d /tmp/cert-exporter-levels.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

mkdir -p ca www
echo 1000 > ca/crlnumber
cat > ca.cnf <<EOF
[ca]
default_ca = inter
[inter]
database = $work/ca/index.txt
crlnumber = $work/ca/crlnumber
default_md = sha256
default_crl_days = 30
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[v3_leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:levels.test
crlDistributionPoints = URI:http://127.0.0.1:$CRL_PORT/inter.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$OCSP_PORT/
EOF
key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" 2>/dev/null; }
key -x509 -keyout root.key -out root.pem -days 3650 -subj "/CN=Levels Root" -extensions v3_ca -config ca.cnf
key -keyout inter.key -out inter.csr -subj "/CN=Levels Intermediate"
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 3000 \
  -extfile ca.cnf -extensions v3_ca -out inter.pem 2>/dev/null
key -keyout leaf.key -out leaf.csr -subj "/CN=levels.test"
openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -set_serial 3 -days 47 \
  -extfile ca.cnf -extensions v3_leaf -out leaf.pem 2>/dev/null
# The OCSP responder's database: the leaf, valid.
expiry=$(date -u -d "$(openssl x509 -in leaf.pem -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t03\tunknown\t/CN=levels.test\n' "$expiry" > ca/index.txt
openssl ca -config ca.cnf -gencrl -keyfile inter.key -cert inter.pem -out inter.crl.pem 2>/dev/null
openssl crl -in inter.crl.pem -outform DER -out www/inter.crl

python3 -m http.server "$CRL_PORT" --bind 127.0.0.1 -d www >http.log 2>&1 & pids+=($!)
openssl ocsp -index ca/index.txt -port "$OCSP_PORT" -rsigner inter.pem -rkey inter.key \
  -CA inter.pem -nmin 60 >ocsp.log 2>&1 & pids+=($!)
openssl s_server -quiet -4 -accept "$TLS_PORT" -cert leaf.pem -cert_chain inter.pem -key leaf.key \
  -www -no_ssl3 -no_tls1 -no_tls1_1 >tls.log 2>&1 & pids+=($!)
sleep 1

echo "== series and page bytes per healthy endpoint target (OCSP and CRL on), $targets targets, $(basename "$exporter")"
printf '  %-8s %14s %13s %22s\n' level series/target bytes/target "page bytes ($targets targets)"
for level in minimal default full; do
  {
    printf 'defaults:\n  interval: 1h\n  timeout: 5s\n  ca_file: %s/root.pem\n  metrics: {level: %s}\ntargets:\n' "$work" "$level"
    for i in $(seq 1 "$targets"); do
      printf '  - name: t%d\n    address: 127.0.0.1:%d\n    server_name: levels.test\n' "$i" "$TLS_PORT"
    done
  } > "config-$level.yaml"
  "$exporter" --config.file "config-$level.yaml" --web.listen-address "127.0.0.1:$METRICS_PORT" \
    >"exporter-$level.log" 2>&1 &
  pid=$!
  # Ready once every target has its first result (at most 60 s).
  for _ in $(seq 1 600); do
    curl -fso /dev/null "http://127.0.0.1:$METRICS_PORT/-/ready" && break
    sleep 0.1
  done
  page=$(curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  one=$(grep -E '^[a-z_]+\{target="t1"[,}]' <<<"$page" || true)
  healthy=$(grep -c '^cert_chain_valid{.*} 1' <<<"$page" || true)
  wrong=$(grep -cE '^cert_(probe|chain|revocation)_error_info' <<<"$page" || true)
  printf '  %-8s %14d %13d %22d   (%d of %d targets valid, %d error series)\n' "$level" \
    "$(grep -c . <<<"$one")" "$(($(wc -c <<<"$one")))" "$(($(wc -c <<<"$page")))" \
    "$healthy" "$targets" "$wrong"
done
