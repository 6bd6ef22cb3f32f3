#!/usr/bin/env bash
# The rendezvous cluster's figures (issue 17), rerunnable:
#   - lookupName calls/s and introductions/s (IHellos for a peer ID,
#     each answered with a Redirect) through one node when the target is
#     on that node (same-node), and when it is on another node
#     (cross-node: a Redis GET per lookup or IHello, plus a PUBLISH per
#     introduction);
#   - the median latency of one introduction, same-node and cross-node;
#   - the aggregate of 3 benchmark clients sent by `rtmfp redirector` to
#     3 nodes (they land one per node), the target on node 1.
# Starts its own redis-server (Debian package redis-server) on a free
# port, 3 `rtmfp server --cluster` nodes, a redirector and a publisher;
# stops them all on exit.
#
# Usage: scripts/cluster-bench.sh        (SECS=3 per measure, PROFILE=release)
#        PROFILE=debug SECS=2 scripts/cluster-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${SECS:-3}"
PROFILE="${PROFILE:-release}"
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 1; }
flag=(); [ "$PROFILE" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p rtmfp-cli --bin rtmfp --example cluster_bench
dir="${CARGO_TARGET_DIR:-target}/$PROFILE"
RTMFP="$dir/rtmfp"; BENCH="$dir/examples/cluster_bench"

tmp="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # FILE TEXT: wait (bounded) until FILE contains TEXT
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.05; done
url="redis://127.0.0.1:$rport/"
ports=()
for n in 1 2 3; do
  p="$(free_udp)"; ports+=("$p")
  "$RTMFP" server --listen "127.0.0.1:$p" --any-key --cluster "$url" --node "n$n" >"$tmp/n$n.log" 2>&1 & pids+=($!)
  wait_for "$tmp/n$n.log" "cluster "
done
rd="$(free_udp)"
"$RTMFP" redirector --listen "127.0.0.1:$rd" --cluster "$url" >"$tmp/r.log" 2>&1 & pids+=($!)
wait_for "$tmp/r.log" "nodes 3:"
"$RTMFP" publish "rtmfp://127.0.0.1:${ports[0]}/app/k#cam" --direct --name target \
  --synthetic 3600 -q >"$tmp/pub.log" 2>&1 & pids+=($!)
wait_for "$tmp/pub.log" "name \"target\" registered"
id="$(sed -n 's/^peer ID //p' "$tmp/pub.log")"

echo "cluster bench: $PROFILE build, ${SECS} s per measure, $(nproc) cores, loopback"
printf '%-34s %12s %16s %22s\n' "case" "lookups/s" "introductions/s" "intro median (us)"
row() { # LABEL LINE
  set -- "$1" $2
  printf '%-34s %12s %16s %22s\n' "$1" "$5" "$7" "$9"
}
row "1 node, same-node target" "$("$BENCH" "rtmfp://127.0.0.1:${ports[0]}/app/k" target "$id" "$SECS")"
row "1 node, cross-node target" "$("$BENCH" "rtmfp://127.0.0.1:${ports[1]}/app/k" target "$id" "$SECS")"
# Three clients at once through the redirector: one lands on each node.
for i in 1 2 3; do
  "$BENCH" "rtmfp://127.0.0.1:$rd/app/k" target "$id" "$SECS" >"$tmp/b$i.out" & bpids+=($!)
  sleep 0.3
done
wait "${bpids[@]}"
sum() { awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) s += $(i + 1) } END { printf "%.0f", s }' "$tmp"/b?.out; }
nodes="$(awk '{print $2}' "$tmp"/b?.out | sort -u | wc -l)"
printf '%-34s %12s %16s %22s\n' "3 nodes via redirector (sum)" "$(sum lookups_per_s)" "$(sum introductions_per_s)" "-"
echo "(the 3 clients landed on $nodes distinct nodes)"
