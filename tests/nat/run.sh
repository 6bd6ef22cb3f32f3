#!/usr/bin/env bash
# tests/nat/run.sh: rtmfp through real Linux NATs built from network
# namespaces (iptables MASQUERADE), a rendezvous server and coturn on a
# "public" network, and `rtmfp publish --direct` / `rtmfp play --peer`.
#
# Usage: tests/nat/run.sh [RTMFP_BINARY] [CASE...]
#   RTMFP_BINARY  default $RTMFP_BIN, else target/debug/rtmfp (repo-relative,
#                 or $CARGO_TARGET_DIR/debug/rtmfp when that is set)
#   CASE          run only these cases (names as printed); default all
# Environment:
#   NAT_TEST_TURN=0|1      force the TURN cases off/on (default: on when
#                          `rtmfp play --help` mentions --turn)
#   NAT_TEST_FALLBACK=0|1  force the automatic-fallback cases off/on
#                          (default: on when `rtmfp play --help` mentions
#                          "fallback")
#   NAT_TEST_KEEP=1        keep the logs directory (printed at the end)
#   NAT_TEST_CAPTURE=1     per case: tcpdump of br0 (public.txt) and
#                          `conntrack -E` of both NATs (conntrack-natX.log)
#
# Needs root (network namespaces, iptables). Not root, or namespaces not
# available: prints SKIP and exits 0. Installs iptables, ethtool, python3,
# conntrack and coturn with apt-get when they are missing (without coturn
# the TURN cases stay pending; without conntrack the logs lack its tables).
#
# Topology, rebuilt for every case (nothing leaves these namespaces):
#
#   rn-pub: bridge br0: 203.0.113.10 (rtmfp server :1935, its check
#           service :3479 :3480), 203.0.113.11 (check service :3479 :3480),
#           203.0.113.30 (coturn :3478, user test:secret)
#     |-- [rn-wirenatA] -- rn-natA  wan 203.0.113.101, lan0 10.0.1.1/24
#     |                      |-- rn-a1 10.0.1.2 (the player)
#     |                      `-- rn-a2 10.0.1.3 (the publisher when both share a NAT)
#     `-- [rn-wirenatB] -- rn-natB  wan 203.0.113.102, lan0 10.0.2.1/24
#                            `-- rn-b1 10.0.2.2 (the publisher)
#
# A NAT is "cone" (MASQUERADE: keeps the source port when it can, so the
# mapping is endpoint-independent), or "sym" (MASQUERADE --random-fully: a
# new random port for every destination). A "filtered" case adds the input
# filter a home router has (unsolicited packets to the router itself are
# dropped before conntrack confirms them); the others have none. A delay D
# puts tests/nat/wire.py (a userspace cable: this kernel may lack netem)
# between each NAT's wan and br0, D/2 each way, so D one way between the
# NATs.
#
# Cases (names: the publisher's NAT, then the player's):
#   cone-cone-25ms, cone-cone-filtered   direct play, path direct
#   cone-cone-nofilter                   no direct path (docs/nat.md); with
#                                        the fallback: every tag, any path
#   one-nat                              both behind natA: path over the LAN
#   sym-sym-server                       publish and play through the server
#   {cone-sym,sym-cone,sym-sym}-fallback direct play falls back to the server
#                                        relay
#   {cone-sym,sym-cone,sym-sym}-turn     the publisher uses --turn: path
#                                        through coturn
#   check-cone, check-cone-filtered, check-sym   rtmfp check's verdicts
#   turn-setup                           coturn itself (turnutils_uclient)
#   udp-blocked-turn                     the player's UDP only reaches
#                                        coturn: play --turn
#
# Each case prints
# `PASS name`, `FAIL name: why` or `PENDING name: why`
# (a case waiting for a feature not in this binary); the last line is
# `N passed, M failed`. Exit status 1 if any case failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${1:-${RTMFP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/rtmfp}}"
shift || true
ONLY=("$@")

if [ "$(id -u)" != 0 ]; then
  echo "SKIP tests/nat: not root (network namespaces and iptables need root)"
  exit 0
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns add rn-probe$$ 2>/dev/null; then
  echo "SKIP tests/nat: network namespaces unavailable"
  exit 0
fi
ip netns del rn-probe$$
[ -x "$BIN" ] || { echo "tests/nat: no rtmfp binary at $BIN (build it: cargo build -p rtmfp-cli --bin rtmfp)" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=""
want() { # want CMD PACKAGE: install it if missing and possible
  command -v "$1" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1; then
    [ -n "$APT_UPDATED" ] || { apt-get update -qq >/dev/null 2>&1; APT_UPDATED=1; }
    echo "installing (apt): $2"
    apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1
  fi
  command -v "$1" >/dev/null 2>&1
}
need() { # need CMD PACKAGE: SKIP the whole run without it
  want "$1" "$2" && return 0
  echo "SKIP tests/nat: $1 missing (Debian package $2)"
  exit 0
}
need iptables iptables
need ss iproute2
need ethtool ethtool
need python3 python3
want conntrack conntrack || echo "tests/nat: no conntrack tool: result logs will lack the NATs' conntrack tables"
HAVE_COTURN=1
want turnserver coturn || { HAVE_COTURN=0; echo "tests/nat: no coturn: TURN cases pending"; }

HELP="$("$BIN" play --help 2>&1)"
HAVE_TURN="${NAT_TEST_TURN:-$(grep -q -- '--turn' <<<"$HELP" && echo 1 || echo 0)}"
[ "$HAVE_COTURN" = 1 ] || HAVE_TURN=0
HAVE_FALLBACK="${NAT_TEST_FALLBACK:-$(grep -qi 'fallback' <<<"$HELP" && echo 1 || echo 0)}"

LOGS="$(mktemp -d /tmp/rtmfp-nat.XXXXXX)"
NSS=(rn-pub rn-natA rn-natB rn-a1 rn-a2 rn-b1 rn-wirenatA rn-wirenatB)
PIDS=()
SERVER=203.0.113.10
TURN=203.0.113.30
SERVER2=203.0.113.11         # the check service's second IP
TURN_USER=test TURN_PASS=secret
URI="rtmfp://$SERVER:1935/nattest#cam"
SECS=3                       # synthetic stream length
WANT_AUDIO=$((43 * SECS)) WANT_VIDEO=$((25 * SECS)) WANT_DATA=1
CASE_TIMEOUT=30

stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
  for p in "${NSS[@]}"; do ip netns del "$p" 2>/dev/null; done
}
cleanup() {
  stop_all
  if [ "${NAT_TEST_KEEP:-0}" = 1 ] || [ "${FAILED:-0}" != 0 ]; then
    echo "logs: $LOGS"
  else
    rm -rf "$LOGS"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# nooffload NS IFACE: checksums computed in software, so that a frame
# copied by wire.py carries a valid one.
nooffload() {
  ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || true
}

# nat_router NAME WAN_IP LAN_NET(10.0.X) KIND DELAY_MS FILTER(0|1)
nat_router() {
  local n=$1 wan=$2 lan=$3 kind=$4 delay=$5 filter=$6
  if [ "$delay" != 0 ]; then
    # wan -- [rn-wireX: x <wire.py> y] -- br0, DELAY/2 each way on each
    # side, so DELAY one way between the two NATs.
    ip netns add "rn-wire$n"
    ip -n "rn-wire$n" link add x type veth peer name wan netns "rn-$n"
    ip -n "rn-wire$n" link add y type veth peer name "w-$n" netns rn-pub
    nooffload "rn-wire$n" x; nooffload "rn-wire$n" y
    ip -n "rn-wire$n" link set x promisc on up
    ip -n "rn-wire$n" link set y promisc on up
    ip netns exec "rn-wire$n" python3 "$ROOT/tests/nat/wire.py" x y "$(awk -v d="$delay" 'BEGIN { print d / 2 }')" \
      >"$CASE_DIR/wire$n.log" 2>&1 &
    PIDS+=($!)
  else
    ip -n rn-pub link add "w-$n" type veth peer name wan netns "rn-$n"
  fi
  nooffload rn-pub "w-$n"; nooffload "rn-$n" wan
  ip -n rn-pub link set "w-$n" master br0 up
  nsx "rn-$n" sysctl -qw net.ipv4.ip_forward=1
  ip -n "rn-$n" link set lo up
  ip -n "rn-$n" addr add "$wan/24" dev wan
  ip -n "rn-$n" link set wan up
  ip -n "rn-$n" link add lan0 type bridge
  ip -n "rn-$n" addr add "$lan.1/24" dev lan0
  ip -n "rn-$n" link set lan0 up
  local rand=""
  [ "$kind" = sym ] && rand="--random-fully"
  nsx "rn-$n" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE $rand
  if [ "$filter" = 1 ]; then
    # A home router's input filter: nothing unsolicited reaches the router.
    nsx "rn-$n" iptables -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    nsx "rn-$n" iptables -A INPUT -i wan -j DROP
  fi
  if [ "$n" = natA ] && [ "${BLOCK_A:-0}" = 1 ]; then
    # A firewall that lets UDP out only to the TURN server.
    nsx "rn-$n" iptables -A FORWARD -i lan0 -p udp -d $TURN --dport 3478 -j ACCEPT
    nsx "rn-$n" iptables -A FORWARD -i lan0 -p udp -j DROP
  fi
  # Byte counters: where did the traffic from the inside go?
  nsx "rn-$n" iptables -N COUNT
  nsx "rn-$n" iptables -I FORWARD -o wan -j COUNT
  nsx "rn-$n" iptables -A COUNT -d $SERVER -m comment --comment server
  nsx "rn-$n" iptables -A COUNT -d $TURN -m comment --comment turn
  nsx "rn-$n" iptables -A COUNT -d 203.0.113.101 -m comment --comment natA
  nsx "rn-$n" iptables -A COUNT -d 203.0.113.102 -m comment --comment natB
}

# client NAME ROUTER LAN_NET HOST
client() {
  local c=$1 r=$2 lan=$3 host=$4
  ip netns add "rn-$c"
  ip -n "rn-$r" link add "l-$c" type veth peer name eth0 netns "rn-$c"
  nooffload "rn-$r" "l-$c"; nooffload "rn-$c" eth0
  ip -n "rn-$r" link set "l-$c" master lan0 up
  ip -n "rn-$c" link set lo up
  ip -n "rn-$c" addr add "$lan.$host/24" dev eth0
  ip -n "rn-$c" link set eth0 up
  ip -n "rn-$c" route add default via "$lan.1"
}

# topology KIND_A KIND_B DELAY_MS FILTER
topology() {
  local ka=$1 kb=$2 delay=$3 filter=$4 n
  for n in rn-pub rn-natA rn-natB; do ip netns add "$n"; done
  ip -n rn-pub link set lo up
  ip -n rn-pub link add br0 type bridge
  ip -n rn-pub addr add $SERVER/24 dev br0
  ip -n rn-pub addr add $TURN/24 dev br0
  ip -n rn-pub addr add $SERVER2/24 dev br0
  ip -n rn-pub link set br0 up
  nat_router natA 203.0.113.101 10.0.1 "$ka" "$delay" "$filter"
  nat_router natB 203.0.113.102 10.0.2 "$kb" "$delay" "$filter"
  client a1 natA 10.0.1 2
  client a2 natA 10.0.1 3
  client b1 natB 10.0.2 2
}

# bg NS LOGNAME CMD...: start in the background, remember the pid.
bg() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" timeout -k 2 "$CASE_TIMEOUT" "$@" >"$CASE_DIR/$log.log" 2>&1 &
  PIDS+=($!)
}

start_server() {
  bg rn-pub server "$BIN" server --listen $SERVER:1935 \
    --check $SERVER:3479 --check $SERVER:3480 --check $SERVER2:3479 --check $SERVER2:3480
  start_turn
  local i
  for i in $(seq 50); do
    grep -q '^listening' "$CASE_DIR/server.log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_turn() {
  [ "$HAVE_COTURN" = 1 ] || return 0
  bg rn-pub turn turnserver -n --listening-ip $TURN --relay-ip $TURN --listening-port 3478 \
    --lt-cred-mech --user "$TURN_USER:$TURN_PASS" --realm rtmfp.test --no-tls --no-dtls \
    --no-tcp-relay --no-cli --allowed-peer-ip=203.0.113.0-203.0.113.255 \
    --log-file stdout --simple-log --userdb "$CASE_DIR/turndb" --pidfile "$CASE_DIR/turn.pid"
  # coturn opens its UDP listener some time after it starts (it logs no
  # line for it at this level): a client that comes first meets an ICMP
  # port unreachable.  Wait for the socket (ss: iproute2, like ip).
  local i
  for i in $(seq 100); do
    nsx rn-pub ss -Hlun "src $TURN:3478" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "tests/nat: coturn is not listening on $TURN:3478 after 10 s" >&2
}

# counter NS NAME: bytes forwarded out of the router's wan to NAME.
counter() {
  nsx "$1" iptables -nvxL COUNT 2>/dev/null | awk -v c="/* $2 */" 'index($0, c) { print $2 }'
}

# wait_line FILE REGEX SECS
wait_line() {
  local i
  for i in $(seq $(($3 * 10))); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

PASSED=0 FAILED=0 PENDING=0
pass() { echo "PASS $CASE${1:+ ($1)}"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $CASE: $*"; FAILED=$((FAILED + 1)); }
pending() { echo "PENDING $CASE: $*"; PENDING=$((PENDING + 1)); }

selected() {
  [ ${#ONLY[@]} -eq 0 ] && return 0
  local c
  for c in "${ONLY[@]}"; do [ "$c" = "$1" ] && return 0; done
  return 1
}

# check_tags: the player's log says every tag arrived.
check_tags() {
  local line
  line="$(grep '^received' "$CASE_DIR/play.log")" || { echo "no 'received' line"; return 1; }
  local a v d
  a="$(sed -nE 's/.*audio ([0-9]+) tags.*/\1/p' <<<"$line")"
  v="$(sed -nE 's/.*video ([0-9]+) tags.*/\1/p' <<<"$line")"
  d="$(sed -nE 's/.*data ([0-9]+) tags.*/\1/p' <<<"$line")"
  if [ "${a:-0}" != $WANT_AUDIO ] || [ "${v:-0}" != $WANT_VIDEO ] || [ "${d:-0}" != $WANT_DATA ]; then
    echo "tags: $line (want audio $WANT_AUDIO, video $WANT_VIDEO, data $WANT_DATA)"
    return 1
  fi
}

# run_case NAME KIND_A KIND_B DELAY FILTER MODE EXPECT [PUB_ON] [PLAY_EXTRA...]
#   MODE: direct (publish --direct, play --peer) or server (both through
#         the server)
#   EXPECT: the path the media must take:
#     direct  straight between the NATs' public addresses
#     lan     inside natA's LAN (both clients behind it)
#     server  through the rendezvous server's relay
#     turn    through coturn
#     any     direct or a fallback (server or turn); every tag must arrive
#     none    no path: the play must fail (a known limit, documented)
#   PUB_ON: the publisher's namespace (b1 by default; a2 for one NAT)
#   PLAY_EXTRA / PUB_EXTRA (env): extra arguments
run_case() {
  CASE=$1
  local ka=$2 kb=$3 delay=$4 filter=$5 mode=$6 expect=$7 pub_on=${8:-b1}
  selected "$CASE" || return 0
  CASE_DIR="$LOGS/$CASE"
  mkdir -p "$CASE_DIR"
  local t0=$SECONDS
  topology "$ka" "$kb" "$delay" "$filter" >"$CASE_DIR/setup.log" 2>&1 || { fail "topology"; stop_all; return; }
  if [ "${NAT_TEST_CAPTURE:-0}" = 1 ]; then
    bg rn-pub public tcpdump -n -tt -l -i br0 udp
    bg rn-natA conntrack-natA conntrack -E -p udp -o timestamp
    bg rn-natB conntrack-natB conntrack -E -p udp -o timestamp
    sleep 0.5
  fi
  if ! start_server; then fail "server did not start"; stop_all; return; fi
  local pub_args=(publish "$URI" --synthetic $SECS -q) play_args=(play "$URI" -q --timeout 12)
  if [ "$mode" = direct ]; then
    pub_args+=(--direct)
  else
    pub_args+=(--wait 0)
  fi
  # shellcheck disable=SC2206
  pub_args+=(${PUB_EXTRA:-})
  if [ "$mode" = direct ]; then
    bg "rn-$pub_on" publish "$BIN" "${pub_args[@]}"
    if ! wait_line "$CASE_DIR/publish.log" '^peer ID [0-9a-f]{64}' 10; then
      fail "publisher printed no peer ID"; stop_all; return
    fi
    local id
    id="$(sed -nE 's/^peer ID ([0-9a-f]{64}).*/\1/p' "$CASE_DIR/publish.log" | head -1)"
    play_args+=(--peer "$id")
  else
    # Through the server: the player subscribes first, then the publisher
    # starts, so that nothing is published before anyone plays.
    :
  fi
  # shellcheck disable=SC2206
  play_args+=(${PLAY_EXTRA:-})
  ip netns exec rn-a1 timeout -k 2 "$CASE_TIMEOUT" "$BIN" "${play_args[@]}" >"$CASE_DIR/play.log" 2>&1 &
  local play_pid=$!
  PIDS+=($play_pid)
  if [ "$mode" != direct ]; then
    sleep 1
    bg "rn-$pub_on" publish "$BIN" "${pub_args[@]}"
  fi
  wait "$play_pid"
  local rc=$?
  sleep 0.2
  {
    echo "rc=$rc time=$((SECONDS - t0))s"
    local r
    for r in natA natB; do
      echo "$r out: to server $(counter rn-$r server) B, to turn $(counter rn-$r turn) B, to natA $(counter rn-$r natA) B, to natB $(counter rn-$r natB) B"
    done
    for r in natA natB; do echo "conntrack $r:"; nsx rn-$r conntrack -L -p udp 2>/dev/null; done
  } >"$CASE_DIR/result.log"
  local why="" media_bytes=$(( (WANT_VIDEO + WANT_AUDIO) * 40 ))
  # The publisher's wan bytes to wherever the media went; the player only
  # sends acknowledgements, so measure the publisher's side.
  local pub_to_peer pub_to_server pub_to_turn
  if [ "$pub_on" = b1 ]; then
    pub_to_peer="$(counter rn-natB natA)"; pub_to_server="$(counter rn-natB server)"; pub_to_turn="$(counter rn-natB turn)"
  else
    pub_to_peer=0; pub_to_server="$(counter rn-natA server)"; pub_to_turn="$(counter rn-natA turn)"
  fi
  pub_to_peer=${pub_to_peer:-0} pub_to_server=${pub_to_server:-0} pub_to_turn=${pub_to_turn:-0}
  local path=none
  if [ $rc = 0 ]; then
    if [ "$pub_to_turn" -gt "$media_bytes" ]; then path=turn
    elif [ "$pub_to_server" -gt "$media_bytes" ]; then path=server
    elif [ "$pub_on" = a2 ]; then path=lan
    elif [ "$pub_to_peer" -gt "$media_bytes" ]; then path=direct
    fi
  fi
  echo "path=$path (publisher out: to peer NAT $pub_to_peer B, to server $pub_to_server B, to turn $pub_to_turn B)" >>"$CASE_DIR/result.log"
  if [ "$expect" = none ]; then
    if [ $rc = 0 ]; then why="expected no path, but the play succeeded (path $path)"; fi
  elif [ $rc != 0 ]; then
    why="play exited $rc: $(grep -m1 -E 'error|did not' "$CASE_DIR/play.log" || tail -1 "$CASE_DIR/play.log")"
  elif ! why="$(check_tags)"; then
    :
  elif [ "$expect" = any ]; then
    why=""
  elif [ "$expect" != "$path" ]; then
    why="media took path $path, expected $expect (publisher out: peer NAT $pub_to_peer B, server $pub_to_server B, turn $pub_to_turn B)"
  fi
  stop_all
  if [ -z "$why" ] && [ "$expect" = none ]; then
    pass "no direct path, as expected: docs/nat.md"
  elif [ -z "$why" ]; then
    pass "path $path"
    echo "  $CASE: path $path, $((SECONDS - t0)) s" >>"$LOGS/summary"
  else
    fail "$why"
  fi
}

echo "tests/nat: binary $BIN; TURN cases $([ "$HAVE_TURN" = 1 ] && echo on || echo pending), fallback cases $([ "$HAVE_FALLBACK" = 1 ] && echo on || echo pending)"
T0=$SECONDS
stop_all   # namespaces left by an earlier run that was killed

# Direct P2P between two cone NATs, 25 ms one way on each wan.
run_case cone-cone-25ms cone cone 25 0 direct direct
# The same without delay, behind routers with an input filter (what home
# routers do): the first IHello is dropped before conntrack confirms it.
run_case cone-cone-filtered cone cone 0 1 direct direct
# Without delay and without an input filter: docs/nat.md explains why no
# direct path can open (the unsolicited first packet is confirmed as a
# conntrack entry of the router itself, and the answer that should match it
# is then given a new public port).
if [ "$HAVE_FALLBACK" = 1 ]; then
  run_case cone-cone-nofilter cone cone 0 0 direct any
else
  run_case cone-cone-nofilter cone cone 0 0 direct none
fi
# Both peers behind one NAT: direct over the LAN addresses.
run_case one-nat cone cone 0 0 direct lan a2
# Symmetric NATs: through the server's relay, which works today.
run_case sym-sym-server sym sym 0 0 server server

# Symmetric mapping on either side: no direct path; a fallback must carry
# every tag. Pending until the fallback exists.
# Names are PUBLISHER-PLAYER, as in issue 19's table; run_case takes the
# player's NAT (natA) first.
for c in cone-sym:sym:cone sym-cone:cone:sym sym-sym:sym:sym; do
  IFS=: read -r name ka kb <<<"$c"
  if [ "$HAVE_FALLBACK" = 1 ]; then
    run_case "$name-fallback" "$ka" "$kb" 10 0 direct server
  elif selected "$name-fallback"; then
    CASE="$name-fallback"; pending "needs the automatic fallback (direct play of a peer behind a symmetric NAT)"
  fi
  if [ "$HAVE_TURN" = 1 ]; then
    PUB_EXTRA="--turn turn://$TURN_USER:$TURN_PASS@$TURN:3478" run_case "$name-turn" "$ka" "$kb" 10 0 direct turn
  elif selected "$name-turn"; then
    CASE="$name-turn"; pending "needs --turn (publisher announces its TURN relayed address)"
  fi
done

# rtmfp check behind each kind of NAT: NAME NAT_KIND FILTER MAPPING
# FILTERING UNSOLICITED (the start of the `mapping` and `filtering` lines,
# and whether the `unsolicited` line, the no-input-filter router of
# docs/nat.md, must be there: yes or no).
check_case() {
  CASE=$1
  local kind=$2 filter=$3 mapping=$4 filtering=$5 unsolicited=$6
  selected "$CASE" || return 0
  CASE_DIR="$LOGS/$CASE"
  mkdir -p "$CASE_DIR"
  local t0=$SECONDS
  topology "$kind" cone 0 "$filter" >"$CASE_DIR/setup.log" 2>&1 || { fail "topology"; stop_all; return; }
  if ! start_server; then fail "server did not start"; stop_all; return; fi
  ip netns exec rn-a1 timeout -k 2 20 "$BIN" check "rtmfp://$SERVER:1935/nattest" >"$CASE_DIR/check.log" 2>&1
  local rc=$? m f u=no
  m="$(sed -nE 's/^mapping +//p' "$CASE_DIR/check.log")"
  f="$(sed -nE 's/^filtering +//p' "$CASE_DIR/check.log")"
  grep -q '^unsolicited' "$CASE_DIR/check.log" && u=yes
  stop_all
  if [ $rc != 0 ]; then
    fail "rtmfp check exited $rc: $(tail -1 "$CASE_DIR/check.log")"
  elif [[ "$m" != "$mapping"* ]] || [[ "$f" != "$filtering"* ]] || [ "$u" != "$unsolicited" ]; then
    fail "mapping '$m', filtering '$f', unsolicited-state $u; expected $mapping, $filtering, $unsolicited"
  else
    pass "mapping $mapping, filtering $filtering, unsolicited-state $u, $((SECONDS - t0)) s"
  fi
}
check_case check-cone cone 0 endpoint-independent address-and-port-dependent yes
check_case check-cone-filtered cone 1 endpoint-independent address-and-port-dependent no
check_case check-sym sym 0 "address-and-port-dependent (symmetric)" address-and-port-dependent no

# coturn itself, seen from a client whose UDP may only reach coturn: an
# allocation with our credentials, relayed traffic both ways (coturn's own
# client, so that a failure of the TURN cases below is ours, not the setup's).
turn_sanity() {
  CASE=turn-setup
  selected "$CASE" || return 0
  if [ "$HAVE_COTURN" = 0 ]; then pending "coturn is not installed"; return; fi
  CASE_DIR="$LOGS/$CASE"
  mkdir -p "$CASE_DIR"
  BLOCK_A=1 topology cone cone 0 0 >"$CASE_DIR/setup.log" 2>&1 || { fail "topology"; stop_all; return; }
  start_turn
  ip netns exec rn-a1 timeout -k 2 15 turnutils_uclient -y -c -n 20 -u "$TURN_USER" -w "$TURN_PASS" $TURN \
    >"$CASE_DIR/uclient.log" 2>&1
  local rc=$? sent recv
  sent="$(sed -nE 's/.*Total transmit time is.*//; s/.*tot_send_msgs=([0-9]+).*/\1/p' "$CASE_DIR/uclient.log" | tail -1)"
  recv="$(sed -nE 's/.*tot_recv_msgs=([0-9]+).*/\1/p' "$CASE_DIR/uclient.log" | tail -1)"
  stop_all
  if [ $rc = 0 ] && [ -n "$recv" ] && [ "$recv" -gt 0 ] && [ "$recv" = "$sent" ]; then
    pass "coturn relays $recv of $sent messages for a client whose UDP only reaches it"
  else
    fail "turnutils_uclient exited $rc, sent ${sent:-?} received ${recv:-?} ($CASE_DIR/uclient.log)"
  fi
}
turn_sanity

# A player whose UDP is blocked except to the TURN server.
if [ "$HAVE_TURN" = 1 ]; then
  # natA forwards UDP from its LAN only to coturn's port.
  BLOCK_A=1 PLAY_EXTRA="--turn turn://$TURN_USER:$TURN_PASS@$TURN:3478" run_case udp-blocked-turn cone cone 10 0 direct turn
elif selected udp-blocked-turn; then
  CASE=udp-blocked-turn; pending "needs --turn (all of the player's UDP through coturn)"
fi

echo "tests/nat: $((SECONDS - T0)) s"
[ -f "$LOGS/summary" ] && cat "$LOGS/summary"
echo "$PENDING pending"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
