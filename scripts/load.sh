#!/usr/bin/env bash
# /metrics under load while probing goes on: 1,000 targets (one loopback nginx behind them, see
# scripts/lib/fleet.sh) probed every 5 s by the release binary, while wrk scrapes /metrics as
# fast as it can. Prints wrk's figures (requests/s, latency percentiles, errors) and checks that
# the probe schedule held: probes finished during the run against what the intervals call for,
# and the oldest probe timestamp at the end.
#
#   bash scripts/load.sh [seconds=30] [connections=16] [targets=1000]
#
# Needs wrk, nginx-light, openssl and curl (Debian packages). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
connections=${2:-16}
targets=${3:-1000}
interval=5

command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
BINARY=$PWD/target/release/cert-expiry-exporter
source scripts/lib/fleet.sh
fleet_start "$targets" "${interval}s"

body=$(curl -fs "$EXPORTER_URL/metrics" | wc -c)
gzip_body=$(curl -fs -H 'Accept-Encoding: gzip' "$EXPORTER_URL/metrics" | wc -c)
before=$(metric 'cert_exporter_probes_total{result="success"}')
failures_before=$(metric 'cert_exporter_probes_total{result="failure"}' || true)
echo "== $targets targets every ${interval}s; /metrics is $body bytes ($gzip_body gzipped)"
echo "== wrk -t2 -c$connections -d${seconds}s /metrics (plain)"
wrk -t2 -c"$connections" -d"${seconds}s" --latency "$EXPORTER_URL/metrics" | tee "$FLEET_DIR/wrk.txt"
echo "== wrk -t2 -c$connections -d${seconds}s /metrics (gzip, as Prometheus asks)"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -H 'Accept-Encoding: gzip' "$EXPORTER_URL/metrics" | tee -a "$FLEET_DIR/wrk.txt"
after=$(metric 'cert_exporter_probes_total{result="success"}')
failures_after=$(metric 'cert_exporter_probes_total{result="failure"}' || true)

now=$(date +%s)
oldest=$(curl -fs "$EXPORTER_URL/metrics" | awk '/^cert_probe_timestamp_seconds/ { if (min == "" || $NF < min) min = $NF } END { printf "%d", min }')
expected=$((targets * 2 * seconds / interval))
done_probes=$(printf '%.0f' "$(echo "$after - $before" | bc)")
echo "== schedule: $done_probes successful probes in ~$((2 * seconds)) s (the intervals call for ~$expected)"
echo "   failed probes during the run: $(echo "${failures_after:-0} - ${failures_before:-0}" | bc)"
echo "   oldest probe at the end: $((now - oldest)) s ago (interval ${interval}s + timeout 5s)"
echo "   exporter RSS at the end: $(( $(rss_kib "$EXPORTER_PID") / 1024 )) MiB"
errors=$(grep -cE 'Non-2xx|Socket errors' "$FLEET_DIR/wrk.txt" || true)
if ((errors > 0)); then
  echo "wrk reported errors" >&2
  exit 1
fi
if ((now - oldest > interval + 5 + 2)); then
  echo "the probe schedule slipped under load" >&2
  exit 1
fi
