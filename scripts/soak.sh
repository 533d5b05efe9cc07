#!/usr/bin/env bash
# Memory over a long run: 1,000 targets (one loopback nginx behind them, see
# scripts/lib/fleet.sh) probed every 5 s (SOAK_INTERVAL to change) by the release binary, /metrics scraped every 5 s (as a
# busy Prometheus would), the exporter's resident set and open descriptors sampled every 30 s.
# Writes the samples as CSV and prints the curve's summary: first, peak and last RSS, and the
# growth over the second half of the run (a leak grows steadily; a bounded process flattens).
#
#   bash scripts/soak.sh [minutes=30] [targets=1000] [csv=soak.csv]
#
# Needs nginx-light, openssl and curl (Debian packages). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
targets=${2:-1000}
csv=${3:-soak.csv}
interval=${SOAK_INTERVAL:-5}

cargo build --release --quiet
BINARY=$PWD/target/release/cert-expiry-exporter
source scripts/lib/fleet.sh
fleet_start "$targets" "${interval}s"

( while kill -0 "$EXPORTER_PID" 2>/dev/null; do curl -fs -o /dev/null "$EXPORTER_URL/metrics" || true; sleep 5; done ) &
scraper=$!
echo "elapsed_s,rss_kib,open_fds,probes_success,probes_failure" >"$csv"
start=$(date +%s)
end=$((start + minutes * 60))
while (( $(date +%s) < end )); do
  kill -0 "$EXPORTER_PID" || { echo "the exporter died" >&2; tail -20 "$FLEET_DIR/exporter.log" >&2; exit 1; }
  fds=$(ls "/proc/$EXPORTER_PID/fd" | wc -l)
  ok=$(metric 'cert_exporter_probes_total{result="success"}')
  failed=$(metric 'cert_exporter_probes_total{result="failure"}' || true)
  echo "$(( $(date +%s) - start )),$(rss_kib "$EXPORTER_PID"),$fds,${ok:-0},${failed:-0}" | tee -a "$csv"
  sleep 30
done
kill "$scraper" 2>/dev/null || true
python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rss = [int(r["rss_kib"]) for r in rows]
half = rows[len(rows) // 2]
last = rows[-1]
print(f"samples: {len(rows)} over {last['elapsed_s']} s")
print(f"RSS MiB: first {rss[0]/1024:.1f}, peak {max(rss)/1024:.1f}, last {rss[-1]/1024:.1f}")
print(f"RSS growth over the second half: {(int(last['rss_kib']) - int(half['rss_kib']))/1024:+.1f} MiB")
print(f"open fds: first {rows[0]['open_fds']}, last {last['open_fds']}")
print(f"probes: {float(last['probes_success']):.0f} successful, {float(last['probes_failure']):.0f} failed")
PY
