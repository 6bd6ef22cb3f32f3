# shellcheck shell=bash
# scripts/lib/services.sh: helpers shared by scripts/test.sh and
# scripts/sanitize.sh (sourced, not run): installing Debian packages, and
# the services the C, Python and Node tests talk to (a TURN relay, a
# redis-server, a Flash server).
#
# The sourcing script sets ROOT and BUILD and defines die(); it stops what
# was started on exit with stop_services.

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND

APT_UPDATED=""
# apt_install PACKAGE...: install Debian packages (as root only).
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing $*; install it (Debian: apt-get install $*)"
  fi
  if [ -z "$APT_UPDATED" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  echo "installing (apt): $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# need CMD DEBIAN_PACKAGE: make sure CMD exists.
need() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# free_port udp|tcp: a port free on loopback now.
free_port() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$1"
}

# start_turn_server: coturn on loopback with long-term credentials, for
# the C, Python and Node TURN tests; exports RTMFP_TURN_URI
# (turn://USER:PASS@127.0.0.1:PORT). Its log: $BUILD/turn/turn.log.
TURN_PID=""
start_turn_server() {
  local dir="$BUILD/turn" port
  rm -rf "$dir"
  mkdir -p "$dir"
  port="$(free_port udp)"
  turnserver -n --listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$port" \
    --lt-cred-mech --user rtmfp:s3cret --realm rtmfp.test --no-tls --no-dtls --no-tcp-relay \
    --no-cli --allow-loopback-peers --simple-log --log-file stdout \
    --userdb "$dir/turndb" --pidfile "$dir/turn.pid" >"$dir/turn.log" 2>&1 &
  TURN_PID=$!
  # Wait for its UDP socket: coturn logs "Total General servers" before
  # the listener is open, and a test that comes first meets an ICMP port
  # unreachable (seen in CI).  Without ss (iproute2), the log line.
  for _ in $(seq 100); do
    if command -v ss >/dev/null 2>&1; then
      ss -Hlun "src 127.0.0.1:$port" 2>/dev/null | grep -q . && break
    else
      grep -q "Total General servers" "$dir/turn.log" 2>/dev/null && break
    fi
    sleep 0.1
  done
  export RTMFP_TURN_URI="turn://rtmfp:s3cret@127.0.0.1:$port"
  echo "coturn at $RTMFP_TURN_URI"
}

# start_redis_server: a redis-server on a free loopback port, for the C
# test of a cluster node; exports RTMFP_REDIS_URL. (The Rust, Python and
# Node cluster tests start their own.)
REDIS_PID=""
start_redis_server() {
  local port
  port="$(free_port tcp)"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$BUILD/redis.log" 2>&1 &
  REDIS_PID=$!
  export RTMFP_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "redis-server at $RTMFP_REDIS_URL"
}

# A Flash server for the C, Python and Node tests of a server we did not
# write in that language: MonaServer2 when MONASERVER2_DIR names a build,
# otherwise our own `rtmfp server` ($RTMFP_SERVER_BIN, default
# target/debug/rtmfp: another process, the Rust CLI). Each language gets a
# fresh one: MonaServer2 v2.770 sometimes aborts ("A LUAPublication ... was
# not released properly") on a publish that follows an earlier, finished
# publication, whoever the clients are (four back-to-back publishes by
# librtmfp's TestClient alone trigger it).
FLASH_SERVERS=0
FLASH_SERVER_STOP=""
# start_flash_server: sets and exports RTMFP_FLASH_SERVER_URI.
start_flash_server() {
  FLASH_SERVERS=$((FLASH_SERVERS + 1))
  if [ -n "${MONASERVER2_DIR:-}" ]; then
    local work="$BUILD/monaserver-$FLASH_SERVERS"
    rm -rf "$work"
    FLASH_SERVER_STOP="tests/interop/monaserver.sh stop '$work'"
    RTMFP_FLASH_SERVER_URI="$(tests/interop/monaserver.sh start "$MONASERVER2_DIR" $((19390 + FLASH_SERVERS)) "$work")"
    echo "MonaServer2 at $RTMFP_FLASH_SERVER_URI"
  else
    local out="$BUILD/flash-server-$FLASH_SERVERS.out"
    "${RTMFP_SERVER_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/rtmfp}" server --listen 127.0.0.1:0 >"$out" 2>&1 &
    FLASH_SERVER_STOP="kill -TERM $!; wait $! 2>/dev/null"
    for _ in $(seq 300); do
      grep -q '^listening ' "$out" && break
      sleep 0.1
    done
    RTMFP_FLASH_SERVER_URI="rtmfp://$(sed -n 's/^listening //p' "$out")/live"
    echo "MONASERVER2_DIR is not set: our own rtmfp server at $RTMFP_FLASH_SERVER_URI"
  fi
  export RTMFP_FLASH_SERVER_URI
}

stop_flash_server() {
  if [ -n "$FLASH_SERVER_STOP" ]; then eval "$FLASH_SERVER_STOP" || true; fi
  FLASH_SERVER_STOP=""
  unset RTMFP_FLASH_SERVER_URI
}

# stop_services: stop whatever of the above is still running (on exit).
stop_services() {
  stop_flash_server
  if [ -n "${TURN_PID:-}" ]; then kill "$TURN_PID" 2>/dev/null || true; fi
  if [ -n "${REDIS_PID:-}" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  TURN_PID=""
  REDIS_PID=""
}
