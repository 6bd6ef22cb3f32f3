#!/usr/bin/env bash
# scripts/fanout.sh [MAX_N]: the fan-out benchmark (issue 14, item 5).
#
# `rtmfp bench --fanout MAX_N --sweep`: one publisher sends a synthetic
# stream ($BITRATE, default 1M bit/s of audio and video at $FPS, default 30)
# through a fresh `rtmfp server` on loopback to N players, for N = 50, 100,
# 200, 300, ... up to MAX_N (default 3000), until quality drops twice in a
# row at one N (a drop is tried again: other work on a shared machine can
# starve one run): some player got fewer than 99 % of the messages sent in
# the $DURATION-second window (default 20) within 500 ms.  One row per N: delivered Mbit/s, the
# server's CPU and CPU seconds per delivered Gbit (1 s/Gbit is 1,000
# players of 1 Mbit/s per core), the client processes' CPU (on one machine
# they share the CPUs with the server: compare), latency p50/p99, messages
# lost and late, the verdict, and the CPU other processes took meanwhile.
#
# With SERVER=ADDR and SERVER_PID=PID the same runs go against that server
# (any RTMFP server that relays streams) instead.  PER_PROCESS (default
# 15000) players share one client process.
#
# Long runs only: CI runs a 20-player version (rtmfp-cli/tests/fanout.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX="${1:-3000}"
BITRATE="${BITRATE:-1M}"
FPS="${FPS:-30}"
DURATION="${DURATION:-20}"
RATE="${RATE:-500}"
PER_PROCESS="${PER_PROCESS:-15000}"
cargo build --release -q -p rtmfp-cli
RTMFP="${CARGO_TARGET_DIR:-target}/release/rtmfp"
server=()
if [ -n "${SERVER:-}" ]; then
  server=(--server "$SERVER")
  [ -z "${SERVER_PID:-}" ] || server+=(--server-pid "$SERVER_PID")
fi
"$RTMFP" bench --fanout "$MAX" --sweep --bitrate "$BITRATE" --fps "$FPS" \
  --duration "$DURATION" --rate "$RATE" --per-process "$PER_PROCESS" \
  "${server[@]+"${server[@]}"}"
