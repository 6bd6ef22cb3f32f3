#!/usr/bin/env bash
# scripts/crowd.sh [N...]: the crowd benchmark (issue 14) at several sizes.
#
# For each N (default: 1000 5000 10000 20000), `rtmfp bench --crowd N`
# opens N Flash NetConnections against a fresh `rtmfp server` on loopback,
# holds them idle for $HOLD seconds (default 30) and prints a table: open
# times, probe connects while idle, the server's CPU while idle and its
# memory per session.  With RTMFP_CPP_DIR set (rtmfp-cpp's test/ directory,
# built outside this repository: ../shared/interop/), the same crowd runs
# against its `tcserver` too, side by side.
#
# Long runs only: CI runs a 300-client version (rtmfp-cli/tests/crowd.rs).
# Needs the open-file limit above N (root raises it by itself).
set -euo pipefail
cd "$(dirname "$0")/.."
HOLD="${HOLD:-30}"
RATE="${RATE:-1000}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000 20000)
cargo build --release -q -p rtmfp-cli
RTMFP="${CARGO_TARGET_DIR:-target}/release/rtmfp"
for n in "${sizes[@]}"; do
  echo "== rtmfp server, $n clients"
  "$RTMFP" bench --crowd "$n" --hold "$HOLD" --rate "$RATE"
  if [ -n "${RTMFP_CPP_DIR:-}" ]; then
    port=$((20000 + RANDOM % 20000))
    "$RTMFP_CPP_DIR/tcserver" -B "127.0.0.1:$port" -H -S >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    echo "== rtmfp-cpp tcserver, $n clients"
    "$RTMFP" bench --crowd "$n" --hold "$HOLD" --rate "$RATE" \
      --server "127.0.0.1:$port" --server-pid "$pid" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
done
