#!/usr/bin/env bash
# Benchmarks of issue 6, all on loopback: CPU per probe against blackbox_exporter and a bare
# rustls handshake, ten thousand targets, dead targets, and growth from 1k to 10k targets; and
# issue 11's time to first results: 2,000 targets at a 5-minute interval, from the exporter's
# launch until every target has a result and /-/ready answers 200 (at most 60 s, then it gives up);
# and issue 13's series and page bytes per healthy target at each metrics level (part 6,
# scripts/bench-levels.sh, about half a minute), and its scrapes (part 7, `--parts scrape`, not in
# the default set): per size, render CPU and peak RSS under sequential scrapes, then under 16
# concurrent gzip and 16 concurrent plain scrapes (wrk, 10 s each), then 16 plain scrapers that
# stop reading for 10 s after 64 KiB (the page waits in the exporter), the peak reset between
# phases (/proc/PID/clear_refs); and issue 13's hundred thousand targets (`--parts hundredk`, not in
# the default set, about 12 minutes): 100,000 distinct loopback addresses at a 5-minute interval,
# peak RSS after loading the configuration, after the first round and over the second interval,
# probes and CPU in that interval, page size and render time.
#
#   bash scripts/bench.sh [--parts cpu,scale,dead,startup,levels,scrape,hundredk] [--sizes "1000 5000 10000"] [--interval 60]
#
# Installs what it needs (as root on Debian), builds the exporter with --release, runs one nginx
# with a two-level RSA-2048 chain (TLS 1.3) and prints one line per figure. A full run measures for
# about 12 minutes (after the build); --parts runs some (--parts startup: about a minute and a half). Figures are printed, never asserted.
# EXPORTER=binary measures another build; PERF_OUT=file records a perf profile during part 1;
# METRICS_LEVEL=full|minimal writes every target at that metrics level (default: the default).
# --parts instructions (not in the default set; needs valgrind): part 1 counted in instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

parts="cpu,scale,dead,startup,levels"
sizes="1000 5000 10000"
interval=60
while (($#)); do
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    *) echo "usage: $0 [--parts cpu,scale,dead,startup,levels,scrape,hundredk] [--sizes \"1000 5000 10000\"] [--interval SECONDS]" >&2; exit 2 ;;
  esac
done
has() { [[ ",$parts," == *",$1,"* ]]; }

packages=(nginx-light openssl python3 curl)
has cpu && packages+=(prometheus-blackbox-exporter wrk) # only part 1 compares with blackbox_exporter
has scrape && packages+=(wrk)
has instructions && packages+=(valgrind) # part 1 in instructions
source scripts/lib/packages.sh # (the script runs from the repository root: see cd above)
ensure_packages "${packages[@]}"

# With EXPORTER set, nothing needs building unless part 1 runs (it needs the floor).
if [ -z "${EXPORTER:-}" ] || has cpu; then
  echo "== building (release)"
  cargo build --release --quiet --bin cert-expiry-exporter --example handshake_floor
fi
# EXPORTER=path/to/binary measures another build (e.g. an older one, for before/after figures).
exporter=${EXPORTER:-$PWD/target/release/cert-expiry-exporter}
floor=$PWD/target/release/examples/handshake_floor
helper="python3 $PWD/scripts/bench_helper.py"
levels_script=$PWD/scripts/bench-levels.sh

work=$(mktemp -d /tmp/cert-exporter-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

TLS_PORT=18443 CRL_PORT=18080 DEAD_PORT=18444 BB_PORT=19115 OURS_PORT=19443
# BENCH_PORT_OFFSET=N moves every port above by N (two runs on one machine at once).
off=${BENCH_PORT_OFFSET:-0}
TLS_PORT=$((TLS_PORT + off)) CRL_PORT=$((CRL_PORT + off)) DEAD_PORT=$((DEAD_PORT + off)) BB_PORT=$((BB_PORT + off)) OURS_PORT=$((OURS_PORT + off))

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"

# --- PKI: root ▶ intermediate ▶ leaf for bench.test, RSA-2048, with a CRL the intermediate
# signs and nginx serves, so the exporter checks revocation (answers cached between probes).
pki() {
  cd "$work"
  mkdir -p ca && touch ca/index.txt && echo 1000 > ca/crlnumber
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
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:bench.test
crlDistributionPoints = URI:http://127.0.0.1:$CRL_PORT/inter.crl
EOF
  openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 3650 \
    -subj "/CN=Bench Root" -extensions v3_ca -config ca.cnf 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr -subj "/CN=Bench Intermediate" 2>/dev/null
  openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 3650 \
    -extfile ca.cnf -extensions v3_ca -out inter.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=bench.test" 2>/dev/null
  openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 365 \
    -extfile ca.cnf -extensions v3_leaf -out leaf.pem 2>/dev/null
  openssl ca -config ca.cnf -gencrl -keyfile inter.key -cert inter.pem -out inter.crl.pem 2>/dev/null
  openssl crl -in inter.crl.pem -outform DER -out inter.crl
  cat leaf.pem inter.pem > chain.pem
  cd - >/dev/null
}

nginx_up() {
  mkdir -p "$work/nginx"
  cat > "$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 16384; }
worker_rlimit_nofile 65536;
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 0.0.0.0:$TLS_PORT ssl;
    ssl_certificate $work/chain.pem;
    ssl_certificate_key $work/leaf.key;
    ssl_protocols TLSv1.3;
    ssl_session_tickets off;
    location / { return 204; }
  }
  server {
    listen 127.0.0.1:$CRL_PORT;
    root $work;
  }
}
EOF
  nginx -c "$work/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  wait_port 127.0.0.1 "$TLS_PORT"
}

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1:$2" >&2
  exit 1
}

# The address of target i: distinct loopback addresses, all reaching the one wildcard listener.
target_addr() { echo "127.$(($1 / 62500 + 1)).$(($1 / 250 % 250)).$(($1 % 250 + 1))"; }

# Writes an exporter configuration with COUNT targets (prefix, first index, port) at INTERVAL.
write_config() {
  local file=$1 interval=$2 concurrency=$3
  shift 3
  {
    echo "defaults:"
    echo "  interval: ${interval}s"
    echo "  timeout: 5s"
    echo "  concurrency: $concurrency"
    echo "  ca_file: $work/root.pem"
    # METRICS_LEVEL=full (or minimal) measures another metrics level; unset, the default.
    [ -z "${METRICS_LEVEL:-}" ] || printf '  metrics:\n    level: %s\n' "$METRICS_LEVEL"
    echo "targets:"
    while (($#)); do
      local prefix=$1 first=$2 count=$3 port=$4
      shift 4
      for ((i = first; i < first + count; i++)); do
        echo "  - {name: $prefix$i, address: \"$(target_addr "$i"):$port\", server_name: bench.test}"
      done
    done
  } > "$file"
}

# Starts the exporter on CONFIG; sets $ours.
ours_up() {
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  "$exporter" --config.file "$1" --web.listen-address "127.0.0.1:$OURS_PORT" --log.level error &
  ours=$!
  pids+=("$ours")
  wait_port 127.0.0.1 "$OURS_PORT"
}
ours_down() { kill "$ours"; wait "$ours" 2>/dev/null || true; }

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

pki
nginx_up
metrics="http://127.0.0.1:$OURS_PORT/metrics"

if has cpu; then
  echo "== 1. CPU per probe, side by side: the rustls floor, blackbox_exporter, ours, the floor again"
  # The floor runs before and after the others and its figure is the mean of both runs, so
  # that load changing during the run weighs on both sides alike.
  floor_run() { "$floor" "127.0.0.1:$TLS_PORT" bench.test "$work/root.pem" 3000 "$@"; }
  out=$(floor_run)
  floor_ms_1=$(field cpu_ms_per_handshake "$out")
  echo "floor (bare rustls handshake + webpki verification, rustls's default suites), first run: $out"

  cat > "$work/blackbox.yml" <<EOF
modules:
  tls:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: $work/root.pem
        server_name: bench.test
EOF
  prometheus-blackbox-exporter --config.file "$work/blackbox.yml" \
    --web.listen-address "127.0.0.1:$BB_PORT" --log.level=error &
  bb=$!
  pids+=("$bb")
  wait_port 127.0.0.1 "$BB_PORT"
  probe_url="http://127.0.0.1:$BB_PORT/probe?module=tls&target=127.0.0.1:$TLS_PORT"
  curl -fsS "$probe_url" | grep -q '^probe_success 1' || { echo "blackbox_exporter probe failed" >&2; exit 1; }
  wrk -t1 -c4 -d5s "$probe_url" >/dev/null # warm-up
  before=$(field cpu_seconds "$($helper cpu "$bb")")
  wrk_out=$(wrk -t1 -c4 -d30s "$probe_url")
  after=$(field cpu_seconds "$($helper cpu "$bb")")
  bb_probes=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$wrk_out")
  bb_ms=$(python3 -c "print(f'{($after - $before) * 1000 / $bb_probes:.4f}')")
  echo "blackbox_exporter: probes=$bb_probes cpu_seconds=$(python3 -c "print(round($after - $before, 2))") cpu_ms_per_probe=$bb_ms (wrk, 4 connections, 30 s, /probe)"
  kill "$bb"

  # Ours: 2,000 distinct targets every 5 s (400 probes/s); measured over 30 s after a warm-up.
  # The CPU is read after the first scrape of /metrics and before the last, so that rendering
  # the 2,000-target page for the probe count is not counted as probing.
  write_config "$work/cpu.yaml" 5 256 cpu 0 2000 "$TLS_PORT"
  ours_up "$work/cpu.yaml"
  sleep 12
  p0=$($helper probes "$metrics"); c0=$(field cpu_seconds "$($helper cpu "$ours")")
  if [ -n "${PERF_OUT:-}" ]; then
    # PERF_OUT=file records a CPU profile of the exporter over the measured 30 s.
    perf record -F 499 -g -p "$ours" -o "$PERF_OUT" -- sleep 30 2>/dev/null
  else
    sleep 30
  fi
  c1=$(field cpu_seconds "$($helper cpu "$ours")"); p1=$($helper probes "$metrics")
  probes=$(($(field success "$p1") - $(field success "$p0")))
  failures=$(($(field failure "$p1") - $(field failure "$p0")))
  ours_ms=$(python3 -c "print(f'{($c1 - $c0) * 1000 / $probes:.4f}')")
  echo "cert-expiry-exporter: probes=$probes failures=$failures cpu_seconds=$(python3 -c "print(round($c1 - $c0, 2))") cpu_ms_per_probe=$ours_ms (2000 targets, 5 s interval, 30 s)"
  page=$(curl -fsS "$metrics")
  # At the default metrics level a verified "not revoked" writes no sample (cert_revoked 0 is
  # a details series): a healthy run shows revoked on 0 targets and no errors.
  echo "  revocation: revoked on $(grep -cE '^cert_revoked\{.*\} 1(\.0)?$' <<<"$page" || true) targets," \
    "errors on $(grep -c '^cert_revocation_error_info' <<<"$page" || true);" \
    "requests sent: $(grep '^cert_revocation_fetches_total' <<<"$page" | tr '\n' ' ')"
  echo "  negotiated: $(grep -m1 '^cert_tls_cipher_info' <<<"$page" | sed 's/.*cipher="\([^"]*\)",group="\([^"]*\)".*/\1, \2/')"
  ours_down

  out=$(floor_run)
  floor_ms_2=$(field cpu_ms_per_handshake "$out")
  echo "floor, second run: $out"
  out=$(floor_run --probe-suites)
  floor_suites_ms=$(field cpu_ms_per_handshake "$out")
  echo "floor offering the probe's suite order (SHA-256 suites first): $out"
  python3 - "$floor_ms_1" "$floor_ms_2" "$floor_suites_ms" "$ours_ms" "$bb_ms" <<'EOF'
import sys
f1, f2, fs, ours, bb = map(float, sys.argv[1:])
floor = (f1 + f2) / 2
print(f"CPU per probe: floor {floor:.4f} ms (mean of {f1:.4f} and {f2:.4f}), "
      f"cert-expiry-exporter {ours:.4f} ms, blackbox_exporter {bb:.4f} ms")
print(f"ratio: ours / floor = {ours / floor:.2f}x (goal <= 1.25x); "
      f"ours / floor with the probe's suites ({fs:.4f} ms) = {ours / fs:.2f}x; "
      f"blackbox_exporter / ours = {bb / ours:.2f}x")
EOF
fi

if has instructions; then
  # Part 1 in instructions (`--parts cpu,instructions`; not in the default set, about 2 minutes):
  # per probe under callgrind, which do not depend on load. The floor (the probe's suite order):
  # 400 handshakes less 200, over 200. Ours: 20 targets every 2 s, counted from one /metrics
  # scrape to the next (the renders are not counted). CALLGRIND_KEEP=dir keeps both profiles.
  echo "== 1, in instructions: callgrind, the floor and ours"
  cg_total() { sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$1" | tail -1; }
  for n in 200 400; do
    valgrind --tool=callgrind --callgrind-out-file="$work/floor.$n.cg" \
      "$floor" "127.0.0.1:$TLS_PORT" bench.test "$work/root.pem" "$n" --probe-suites >/dev/null 2>&1
  done
  floor_ir=$((($(cg_total "$work/floor.400.cg") - $(cg_total "$work/floor.200.cg")) / 200))
  write_config "$work/cg.yaml" 2 256 cg 0 20 "$TLS_PORT"
  valgrind --tool=callgrind --callgrind-out-file="$work/ours.cg" "$exporter" --config.file "$work/cg.yaml" \
    --web.listen-address "127.0.0.1:$OURS_PORT" --log.level error >/dev/null 2>&1 &
  ours=$!
  pids+=("$ours")
  for _ in $(seq 600); do curl -fsS "$metrics" >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 20 # every certificate parsed, every cache filled
  p0=$($helper probes "$metrics")
  callgrind_control -z "$ours" >/dev/null
  sleep 30
  callgrind_control -d "$ours" >/dev/null
  p1=$($helper probes "$metrics")
  ours_down
  dump=$(ls "$work"/ours.cg.* | sort | head -1)
  # The probes inside the counted span: the calls to log_probe (one per result) in the dump;
  # the /metrics counts only when that function was inlined (they include the scrape's lag).
  probes=$(python3 - "$dump" <<'EOF'
import re, sys
names, callee, calls = {}, None, 0
for line in open(sys.argv[1]):
    m = re.match(r"^(c?)fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        if m.group(1):
            callee = names.get(m.group(2), "")
        continue
    m = re.match(r"^calls=(\d+)", line)
    if m and callee and callee.endswith("scheduler::log_probe"):
        calls += int(m.group(1))
print(calls)
EOF
)
  [ "$probes" -gt 0 ] || probes=$(($(field success "$p1") - $(field success "$p0")))
  ours_ir=$(($(cg_total "$dump") / probes))
  echo "instructions per probe (callgrind): floor $floor_ir (probe's suites), cert-expiry-exporter $ours_ir ($probes probes, failures $(($(field failure "$p1") - $(field failure "$p0")))), ratio $(python3 -c "print(f'{$ours_ir / $floor_ir:.2f}')")x"
  if [ -n "${CALLGRIND_KEEP:-}" ]; then
    cp "$dump" "$CALLGRIND_KEEP/ours.cg"
    cp "$work/floor.400.cg" "$CALLGRIND_KEEP/floor.cg"
  fi
fi

if has scale; then
  echo "== 2 and 4. Targets at a ${interval} s interval (growth: $sizes)"
  for n in $sizes; do
    write_config "$work/scale.yaml" "$interval" 256 t 0 "$n" "$TLS_PORT"
    ours_up "$work/scale.yaml"
    # Every target is probed at once at start, then moves to its slot: measure the second interval.
    sleep $((interval + 6))
    p0=$($helper probes "$metrics"); c0=$(field cpu_seconds "$($helper cpu "$ours")")
    sleep "$interval"
    p1=$($helper probes "$metrics"); probing=$($helper cpu "$ours")
    c1=$(field cpu_seconds "$probing")
    fresh=$($helper fresh "$metrics" $((interval + 6)))
    gzipped=$($helper cpu "$ours") # fresh scraped with gzip, as Prometheus does
    render=$($helper render "$metrics" 5 "$ours")
    mem=$($helper cpu "$ours")
    probes=$(($(field success "$p1") - $(field success "$p0")))
    failures=$(($(field failure "$p1") - $(field failure "$p0")))
    echo "targets=$n probes_in_one_interval=$probes failures=$failures $fresh" \
      "cpu_seconds=$(python3 -c "print(round($c1 - $c0, 2))")" \
      "cpu_ms_per_probe=$(python3 -c "print(f'{($c1 - $c0) * 1000 / max($probes, 1):.4f}')")" \
      "cpu_percent_of_one_core=$(python3 -c "print(f'{($c1 - $c0) * 100 / $interval:.1f}')")" \
      "peak_rss_mib=$(field vmhwm_mib "$probing") peak_rss_after_gzip_scrape_mib=$(field vmhwm_mib "$gzipped")" \
      "peak_rss_after_plain_scrapes_mib=$(field vmhwm_mib "$mem") $render"
    ours_down
  done
fi

if has dead; then
  echo "== 3. Dead targets: 1000 that accept and never answer, 100 healthy, 30 s interval, 5 s timeout"
  python3 - "$DEAD_PORT" <<'EOF' &
import asyncio, sys
async def hold(reader, writer):
    try:
        while await reader.read(65536):
            pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(hold, "0.0.0.0", int(sys.argv[1]), backlog=4096)
    async with server:
        await asyncio.sleep(900)
asyncio.run(main())
EOF
  pids+=($!)
  wait_port 127.0.0.1 "$DEAD_PORT"
  write_config "$work/dead.yaml" 30 256 dead 0 1000 "$DEAD_PORT" healthy 1000 100 "$TLS_PORT"
  ours_up "$work/dead.yaml"
  # All 1,100 are probed at once at start (the 1,000 dead ones hold the 256 slots for about 20 s),
  # and each second probe comes at the target's slot 15 to 45 s after its first: watch from when
  # every target keeps its steady 30 s cadence, so the start is not counted as lag.
  sleep 70
  lag=$($helper lag "$metrics" healthy 30 95)
  dead_timeouts=$(curl -fsS "$metrics" | grep -c '^cert_probe_error_info{target="dead[0-9]*",reason="timeout"}' || true)
  echo "healthy: $lag; dead targets reporting timeout: $dead_timeouts; $($helper cpu "$ours")"
  ours_down
fi

if has startup; then
  echo "== 5. Time to first results: 2000 targets, 300 s interval, 5 s timeout, concurrency 256"
  write_config "$work/startup.yaml" 300 256 s 0 2000 "$TLS_PORT"
  launched=$(date +%s.%N)
  ours_up "$work/startup.yaml"
  # From the launch (before the port is open) until all 2000 have a result, and until ready.
  echo "$($helper first "http://127.0.0.1:$OURS_PORT" 2000 "$launched" 60) $($helper cpu "$ours")"
  ours_down
  # The second probes: at a 20 s interval they land 10 to 30 s after launch, each at its target's
  # slot; an even spread is about 200 per 2 s (in lockstep, all 2000 would come at 20 s).
  echo "== 5b. Where the second probes go: 2000 targets, 20 s interval"
  write_config "$work/startup.yaml" 20 256 s 0 2000 "$TLS_PORT"
  launched=$(date +%s.%N)
  ours_up "$work/startup.yaml"
  echo "$($helper rate "$metrics" "$launched" 10 30 2)"
  ours_down
fi

if has levels; then
  echo "== 6. Series and page bytes per target at each metrics level"
  bash "$levels_script" "$exporter" | tail -n +2
fi

if has scrape; then
  echo "== 7. Scrapes at a ${interval} s interval: render CPU, then peak RSS under 16 concurrent gzip and plain scrapes (sizes: $sizes)"
  # Resets VmHWM to the current RSS, so each phase's peak is its own (Linux >= 4.0).
  reset_peak() { echo 5 > "/proc/$1/clear_refs"; }
  # wrk's completed requests and errors (a 16-connection run of 10 s; 30 s per-request timeout).
  scrapes() {
    local out
    out=$(wrk -t2 -c16 -d10s --timeout 30s "$@" "$metrics")
    echo "requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")" \
      "errors=$( (grep -E 'Socket errors|Non-2xx' <<<"$out" || echo none) | tr -s ' ' | tr '\n' ' ' | sed 's/ *$//; s/ /_/g')"
  }
  for n in $sizes; do
    write_config "$work/scrape.yaml" "$interval" 256 t 0 "$n" "$TLS_PORT"
    ours_up "$work/scrape.yaml"
    # Past the first round (every target at once), into the steady state.
    sleep $((interval + 6))
    probing=$($helper cpu "$ours")
    reset_peak "$ours"
    render=$($helper render "$metrics" 9 "$ours")
    sequential=$($helper cpu "$ours")
    reset_peak "$ours"
    gz_wrk=$(scrapes -H 'Accept-Encoding: gzip')
    gz=$($helper cpu "$ours")
    reset_peak "$ours"
    plain_wrk=$(scrapes)
    plain=$($helper cpu "$ours")
    reset_peak "$ours"
    held=$($helper hold "$metrics" 16 10 "$ours")
    echo "targets=$n peak_rss_probing_mib=$(field vmhwm_mib "$probing") rss_probing_mib=$(field vmrss_mib "$probing") $render" \
      "peak_rss_sequential_scrapes_mib=$(field vmhwm_mib "$sequential")"
    echo "  16 gzip scrapes at once, 10 s: $gz_wrk peak_rss_mib=$(field vmhwm_mib "$gz") rss_after_mib=$(field vmrss_mib "$gz")"
    echo "  16 plain scrapes at once, 10 s: $plain_wrk peak_rss_mib=$(field vmhwm_mib "$plain") rss_after_mib=$(field vmrss_mib "$plain")"
    echo "  16 plain scrapes at once that stop reading after 64 KiB for 10 s: $held"
    ours_down
  done
fi

if has hundredk; then
  # 100,000 targets (HUNDREDK=n for another count) at a 5-minute interval: distinct loopback
  # addresses 127.1.0.1 to 127.2.150.250 against the one wildcard listener, IP literals with
  # server_name, no name server. Nothing system-wide is changed: the exporter's open-file limit
  # is raised to the hard limit (ours_up); 256 probes in flight need 256 plus a few descriptors
  # (the TLS 1.0/1.1 check adds two per probe). Each probe's connection ends in TIME_WAIT on this
  # side, but every target is its own destination address, so an ephemeral port is never in
  # use twice towards one address and the range is not exhausted (the counts are printed).
  n=${HUNDREDK:-100000}
  iv=300
  echo "== 8. $n targets at a $iv s interval, 5 s timeout, concurrency 256 (about 12 minutes)"
  echo "  limits: open files $(ulimit -Hn) (hard), ephemeral ports $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)," \
    "tcp_tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse), TIME_WAIT now $(ss -tanH state time-wait | wc -l)"
  write_config "$work/hundredk.yaml" "$iv" 256 t 0 "$n" "$TLS_PORT"
  launched=$(date +%s.%N)
  ours_up "$work/hundredk.yaml"
  loaded=$($helper cpu "$ours")
  # The first round: every target at once, 256 at a time; /-/ready says 200 when all have a
  # result (polled once a second, at most one interval).
  first=$($helper ready "http://127.0.0.1:$OURS_PORT" "$launched" "$iv")
  after_first=$($helper cpu "$ours")
  # The second interval (each target's second probe is at its slot between half an interval
  # and one and a half after the first): measured from one interval plus 6 s after launch.
  sleep_until=$(python3 -c "import time; print(max(0, $launched + $iv + 6 - time.time()))")
  sleep "$sleep_until"
  p0=$($helper probes "$metrics"); c0=$(field cpu_seconds "$($helper cpu "$ours")")
  sleep "$iv"
  p1=$($helper probes "$metrics"); probing=$($helper cpu "$ours")
  c1=$(field cpu_seconds "$probing")
  fresh=$($helper fresh "$metrics" $((iv + 6)))
  render=$($helper render "$metrics" 3 "$ours")
  scraped=$($helper cpu "$ours")
  probes=$(($(field success "$p1") - $(field success "$p0")))
  failures=$(($(field failure "$p1") - $(field failure "$p0")))
  echo "targets=$n peak_rss_after_loading_mib=$(field vmhwm_mib "$loaded") $first" \
    "peak_rss_after_first_round_mib=$(field vmhwm_mib "$after_first") rss_after_first_round_mib=$(field vmrss_mib "$after_first")"
  echo "  second interval: probes_in_one_interval=$probes failures=$failures $fresh" \
    "cpu_seconds=$(python3 -c "print(round($c1 - $c0, 2))")" \
    "cpu_ms_per_probe=$(python3 -c "print(f'{($c1 - $c0) * 1000 / max($probes, 1):.4f}')")" \
    "cpu_percent_of_one_core=$(python3 -c "print(f'{($c1 - $c0) * 100 / $iv:.1f}')")" \
    "peak_rss_mib=$(field vmhwm_mib "$probing") rss_mib=$(field vmrss_mib "$probing")"
  echo "  scrapes: $render peak_rss_after_scrapes_mib=$(field vmhwm_mib "$scraped")" \
    "TIME_WAIT=$(ss -tanH state time-wait | wc -l) open_fds=$(ls /proc/"$ours"/fd | wc -l)"
  ours_down
fi
