#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: runs every cargo-fuzz target (or
# the ones named) for SECONDS each (default 60), from a corpus seeded with
# fuzz/seeds/TARGET (captured datagrams and messages shaped like the other
# stacks'), and prints per target: executions, coverage (libFuzzer's edge
# count "cov" and feature count "ft") and crashes. A crash leaves its input
# in fuzz/artifacts/TARGET/ and fails the run.
#
# The test command runs it for 15 s a target; hours-long runs go like:
#   scripts/fuzz.sh 1800
# FUZZ_RUNS=N also ends a target after N executions, whichever comes
# first (the issue's depth: FUZZ_RUNS=10000000 scripts/fuzz.sh 1800).
# Needs cargo-fuzz (cargo install cargo-fuzz --locked). RUSTC_BOOTSTRAP=1
# lets the stable toolchain take the -Z flags cargo-fuzz passes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^rtmfp-fuzz$')
fi
LOGS="$ROOT/build/logs"
mkdir -p "$LOGS"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
rows=()
failed=0
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true; fi
  log="$LOGS/fuzz-$target.log"
  before=$(find "artifacts/$target" -type f | wc -l)
  if ! cargo fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    failed=1
    tail -40 "$log"
  fi
  after=$(find "artifacts/$target" -type f | wc -l)
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  rows+=("$(printf '%-14s %12s %8s %-24s %s' "$target" "${runs:-?}" "${secs:-?}" "${cov:-?}" "$((after - before))")")
done
printf '\n%-14s %12s %8s %-24s %s\n' target executions seconds coverage crashes
printf '%s\n' "${rows[@]}"
exit "$failed"
