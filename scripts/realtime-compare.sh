#!/usr/bin/env bash
# scripts/realtime-compare.sh [ROUNDS] [SECONDS] [-- RTCLIENT_ARGS...]
#
# The real-time media path, side by side with rtmfp-cpp: its `rtclient`
# (30 fps video frames with audio, Flash crypto) sends to our
# `rtmfp echo` and then to its own `echoserver`, SECONDS each (default 8),
# ROUNDS times (default 3), alternating; the table gives each server's CPU
# time (user + system, from /proc) per run and the ratio ours / theirs.
# Default rtclient arguments: -r 400000000 (400 Mbit/s of video, big key
# frames), the rate the issue measured.
#
# Needs RTMFP_CPP_DIR (rtmfp-cpp's test/ folder with rtclient and
# echoserver, built outside the repo: see ../shared/interop/README.md) and
# a release build (cargo build --release -p rtmfp-cli); RTMFP_BIN picks
# another binary.  Not a test: a benchmark to rerun by hand.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-3}"
SECS="${2:-8}"
shift $(($# >= 2 ? 2 : $#))
[ "${1:-}" = "--" ] && shift
ARGS=("$@")
[ ${#ARGS[@]} -eq 0 ] && ARGS=(-r 400000000)
BIN="${RTMFP_BIN:-$ROOT/target/release/rtmfp}"
CPP="${RTMFP_CPP_DIR:?set RTMFP_CPP_DIR to the test folder of rtmfp-cpp}"
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release -p rtmfp-cli" >&2; exit 1; }
for p in rtclient echoserver; do
  [ -x "$CPP/$p" ] || { echo "no $CPP/$p" >&2; exit 1; }
done
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure NAME CMD...: start the server CMD (it must listen on $PORT),
# run rtclient at it for SECS seconds, print the server's CPU seconds.
measure() {
  local name=$1 pid before after
  shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  pid=$!
  sleep 1
  before=$(cpu_ticks "$pid")
  timeout -s INT "$SECS" "$CPP/rtclient" "${ARGS[@]}" 127.0.0.1 "$PORT" >"$LOGS/$name-client.log" 2>&1 || true
  after=$(cpu_ticks "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk -v a="$after" -v b="$before" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", (a - b) / hz }'
}

echo "rtclient ${ARGS[*]} for ${SECS} s against each server, ${ROUNDS} rounds"
printf '| round | rtmfp echo CPU s | rtmfp-cpp echoserver CPU s | ratio |\n| --- | ---: | ---: | ---: |\n'
sum_ours=0
sum_theirs=0
for round in $(seq "$ROUNDS"); do
  PORT=$(free_port)
  ours=$(measure ours "$BIN" echo -l "127.0.0.1:$PORT")
  PORT=$(free_port)
  theirs=$(measure theirs "$CPP/echoserver" -B "127.0.0.1:$PORT")
  awk -v r="$round" -v o="$ours" -v t="$theirs" \
    'BEGIN { printf "| %s | %.2f | %.2f | %s |\n", r, o, t, (t > 0 ? sprintf("%.2f", o / t) : "-") }'
  sum_ours=$(awk -v a="$sum_ours" -v b="$ours" 'BEGIN { print a + b }')
  sum_theirs=$(awk -v a="$sum_theirs" -v b="$theirs" 'BEGIN { print a + b }')
done
awk -v o="$sum_ours" -v t="$sum_theirs" \
  'BEGIN { printf "| all | %.2f | %.2f | %s |\n", o, t, (t > 0 ? sprintf("%.2f", o / t) : "-") }'
