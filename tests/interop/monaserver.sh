#!/usr/bin/env bash
# Starts or stops a MonaServer2 built outside this repository (see
# ../shared/interop/README.md) as an interop peer for the tests, with our own
# minimal configuration: RTMFP only, on 127.0.0.1:PORT, with an app "live".
#
#   tests/interop/monaserver.sh start MONASERVER2_DIR PORT WORKDIR
#       prints the server's URI (rtmfp://127.0.0.1:PORT/live) once it listens
#   tests/interop/monaserver.sh stop WORKDIR
#
# MONASERVER2_DIR is MonaServer2's checkout, with MonaServer/MonaServer,
# MonaBase/lib and MonaCore/lib built. Nothing of it is in this repository.
set -euo pipefail
case "${1:-}" in
start)
  dir=$2 port=$3 work=$4
  mkdir -p "$work/www/live"
  cat >"$work/MonaServer.ini" <<INI
cores=0
wwwDir="www"
dataDir="data"
[logs]
directory=log
[RTMFP]
host=127.0.0.1
port=$port
publicHost=127.0.0.1
publicPort=$port
keepalivePeer=10
[RTMP=false]
[RTMPS=false]
[HTTP=false]
[HTTPS=false]
[WS=false]
[WSS=false]
[STUN=false]
[SRT=false]
INI
  # MonaServer changes into its ini's folder and logs to log/0.log there
  # when it has no terminal.
  (cd "$work" && LD_LIBRARY_PATH="$dir/MonaBase/lib:$dir/MonaCore/lib" \
    exec "$dir/MonaServer/MonaServer" "$work/MonaServer.ini" </dev/null >"$work/stdout" 2>&1) &
  echo $! >"$work/pid"
  for _ in $(seq 100); do
    if grep -q "RTMFP server started on 127.0.0.1:$port" "$work/log/0.log" 2>/dev/null; then
      echo "rtmfp://127.0.0.1:$port/live"
      exit 0
    fi
    sleep 0.1
  done
  echo "MonaServer did not start; its log:" >&2
  cat "$work/log/0.log" "$work/stdout" >&2 2>/dev/null || true
  exit 1
  ;;
stop)
  work=$2
  if [ -f "$work/pid" ]; then
    pid=$(cat "$work/pid")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$work/pid"
  fi
  ;;
*)
  echo "usage: $0 start MONASERVER2_DIR PORT WORKDIR | stop WORKDIR" >&2
  exit 2
  ;;
esac
