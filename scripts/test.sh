#!/usr/bin/env bash
# scripts/test.sh: install what is missing, then run every test of rtmfp.
#
# This is the one command CI runs (.ci/run execs it). It works from any
# directory, needs no stdin, and on a fresh Debian machine with Rust (rustup),
# Python 3 + pip, Node >= 20.17 + npm and gcc it installs the rest:
#   - rustfmt / clippy components (rustup), cbindgen $CBINDGEN_VERSION (cargo install)
#   - g++, pkg-config, python3-venv, ffmpeg, coturn via apt-get if missing (root only)
#   - maturin + pytest into a fresh venv build/venv (PyPI)
#   - @napi-rs/cli into bindings/node/node_modules (npm ci, lockfile)
#
# Steps, in order (the first failure stops the run):
#   tools, fmt, clippy, cargo test, header, flash server, C, Python,
#   test vectors, Node, sanitizers, NAT, README, fuzz, benchmarks, packages
#
# Independent peers, built outside the repository (../shared/interop/README.md),
# are used when these name them, and their tests skip otherwise:
#   RTMFP_CPP_DIR    rtmfp-cpp's test/ folder (tcserver, echoserver, ...)
#   LIBRTMFP_DIR     librtmfp's checkout (TestClient/TestClient, lib/)
#   MONASERVER2_DIR  MonaServer2's checkout (MonaServer/MonaServer, ...); the
#                    C, Python and Node Flash-server tests then run against it
#                    (against our own `rtmfp server` otherwise)
#
# Output: build/ (venv, C binaries, logs); it is git-ignored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CBINDGEN_VERSION=0.29.4   # the header is byte-compared: pin the generator
NODE_MIN=20.17            # @napi-rs/cli 3 needs ^20.17 || ^22.13 || >=23.5
BUILD="$ROOT/build"
LOGS="$BUILD/logs"
VENV="$BUILD/venv"
CC="${CC:-cc}"
CXX="${CXX:-c++}"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ "${CI:-}" = true ]; then
  # Clean builds: incremental compilation only costs time and disk.
  export CARGO_INCREMENTAL=0
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

mkdir -p "$LOGS"
rm -f "$LOGS"/*.log
if [ -t 1 ]; then BOLD=$'\033[1m' RED=$'\033[1;31m' RESET=$'\033[0m'; else BOLD="" RED="" RESET=""; fi

# ---------------------------------------------------------------- helpers --
T_START=$(date +%s)
STEP=""
STEP_START=$T_START
TIMINGS=()

finish_step() {
  if [ -n "$STEP" ]; then
    TIMINGS+=("$(printf '%-14s %5ss' "$STEP" "$(($(date +%s) - STEP_START))")")
  fi
}

# section NAME: print a banner and start timing a step.
section() {
  finish_step
  STEP="$1"
  STEP_START=$(date +%s)
  printf '\n%s==== %s ====%s  (%s, +%ss)\n' "$BOLD" "$1" "$RESET" "$(date +%H:%M:%S)" "$((STEP_START - T_START))"
}

die() {
  echo "test.sh: error: $*" >&2
  exit 1
}

# apt_install, need, free_port and the services the C, Python and Node
# tests talk to (start_turn_server, start_redis_server, start_flash_server).
# shellcheck source=scripts/lib/services.sh
. "$ROOT/scripts/lib/services.sh"

on_exit() {
  local rc=$?
  stop_services
  if [ $rc -ne 0 ]; then
    printf '\n%sFAILED%s in step "%s" (exit %s) after %ss\n' \
      "$RED" "$RESET" "$STEP" "$rc" "$(($(date +%s) - T_START))" >&2
  fi
}
trap on_exit EXIT

# logged NAME CMD...: run CMD, tee its output to build/logs/NAME.log.
logged() {
  local name="$1"
  shift
  "$@" 2>&1 | tee "$LOGS/$name.log"
}

# version_ge A B: A >= B for dotted versions.
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# The version every artifact must report: [workspace.package] version.
cargo_version() {
  local pkgid
  pkgid="$(cargo pkgid -p rtmfp-ffi)"
  echo "${pkgid##*[#@]}"
}

# ------------------------------------------------------------------ tools --
section "tools"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing rustup component $component"
    rustup component add "$component"
  fi
done
need "$CC" gcc
need "$CXX" g++
need pkg-config pkg-config
need python3 python3
need ffmpeg ffmpeg         # and ffprobe: rtmfp-cli/tests/ffmpeg_pipes.rs
need turnserver coturn     # a real TURN relay: tests/support/coturn.rs, TURN tests in every language
# The TURN tests skip without coturn on a developer's machine; here it is
# installed, so a missing one must fail them instead.
export RTMFP_REQUIRE_COTURN=1
need redis-server redis-server  # rtmfp-cli/tests/cluster.rs starts its own
if [ "$(id -u)" = 0 ]; then
  # Network namespaces with a shaped veth: runtime_transfer's backpressure test.
  need ip iproute2
  need tc iproute2
fi
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  die "node and npm >= $NODE_MIN are required (not installed)"
node_version="$(node --version)"
version_ge "${node_version#v}" "$NODE_MIN" || die "node $node_version is too old; need >= $NODE_MIN"

if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "installing cbindgen $CBINDGEN_VERSION (cargo install, 1-2 min)"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

VERSION="$(cargo_version)"
echo "rtmfp $VERSION"
echo "$(rustc --version); $(cbindgen --version); $($CC --version | head -n1)"
echo "$(python3 --version); node $node_version; npm $(npm --version)"

# -------------------------------------------------------------------- fmt --
section "fmt"
cargo fmt --all --check
cargo fmt --manifest-path bindings/python/Cargo.toml --check
cargo fmt --manifest-path bindings/node/Cargo.toml --check
echo "formatting ok"

# ----------------------------------------------------------------- clippy --
section "clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --manifest-path bindings/python/Cargo.toml --all-targets -- -D warnings
cargo clippy --manifest-path bindings/node/Cargo.toml --all-targets -- -D warnings

# ------------------------------------------------------------- cargo test --
section "cargo test"
logged cargo-test cargo test --workspace

# ----------------------------------------------------------------- header --
section "header"
# include/rtmfp.h is committed; it must be what cbindgen makes of rtmfp-ffi.
cbindgen --quiet --config rtmfp-ffi/cbindgen.toml --crate rtmfp-ffi --output "$BUILD/rtmfp.h"
if ! diff -u include/rtmfp.h "$BUILD/rtmfp.h"; then
  echo >&2
  echo "include/rtmfp.h is stale (diff above: committed -> generated). Regenerate it with:" >&2
  echo "  cbindgen --config rtmfp-ffi/cbindgen.toml --crate rtmfp-ffi --output include/rtmfp.h" >&2
  exit 1
fi
echo "include/rtmfp.h is up to date"

# ----------------------------------------------------------- flash server --
section "flash server"
# A Flash server for the C, Python and Node tests (start_flash_server:
# MonaServer2 when MONASERVER2_DIR names a build, our own `rtmfp server`
# otherwise, a fresh one per language), a TURN relay (coturn on loopback,
# RTMFP_TURN_URI) for the whole run, and a redis-server for the C test of
# a cluster node (RTMFP_REDIS_URL). (The Rust tests start their own.)
cargo build --quiet -p rtmfp-cli --bin rtmfp
start_turn_server

start_redis_server
echo "ready: one per language, started before its tests"

# ---------------------------------------------------------------------- C --
section "C"
cargo build -p rtmfp-ffi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LIBDIR="$TARGET_DIR/debug"
mkdir -p "$BUILD/c"
CFLAGS_STRICT=(-std=c99 -Wall -Wextra -pedantic -Werror -pthread)
# cc_strict OUT SOURCE [FLAGS...]: build one C program against librtmfp.
cc_strict() {
  local out="$1" src="$2"
  shift 2
  "$CC" "${CFLAGS_STRICT[@]}" "$@" -I include "$src" \
    -L "$LIBDIR" -lrtmfp -Wl,-rpath,"$LIBDIR" -o "$BUILD/c/$out"
}
cc_strict test_ffi tests/c/test_ffi.c -DRTMFP_EXPECTED_VERSION="\"$VERSION\""
cc_strict test_session tests/c/test_session.c
cc_strict test_p2p tests/c/test_p2p.c
cc_strict test_flv tests/c/test_flv.c
cc_strict test_flash_server tests/c/test_flash_server.c
cc_strict test_limits tests/c/test_limits.c
cc_strict test_turn tests/c/test_turn.c
cc_strict test_check tests/c/test_check.c
cc_strict test_cluster tests/c/test_cluster.c
cc_strict test_threads tests/c/test_threads.c
cc_strict test_server_asks tests/c/test_server_asks.c
cc_strict echo_server examples/c/echo_server.c
cc_strict p2p_chat examples/c/p2p_chat.c
# The misuse suite runs under AddressSanitizer (the test is instrumented,
# so libasan loads first and sees every malloc/free, the Rust library's
# included; LeakSanitizer is on).
cc_strict test_misuse_asan tests/c/test_misuse.c -g -fsanitize=address -fno-omit-frame-pointer
echo "built C tests and examples/c with ${CFLAGS_STRICT[*]}"

# run_c CMD...: run a C test; its "N passed, M failed" line goes to c.log.
: >"$LOGS/c.log"
run_c() {
  echo "--- ${*#"$BUILD/c/"}"
  "$@" 2>&1 | tee -a "$LOGS/c.log"
}
run_c "$BUILD/c/test_ffi"
run_c "$BUILD/c/test_session"
run_c "$BUILD/c/test_p2p"
run_c "$BUILD/c/test_flv"
run_c "$BUILD/c/test_threads"
run_c "$BUILD/c/test_limits"
run_c "$BUILD/c/test_server_asks"
start_flash_server
run_c "$BUILD/c/test_flash_server"
run_c "$BUILD/c/test_turn"
run_c "$BUILD/c/test_check"
run_c "$BUILD/c/test_cluster"
stop_flash_server
run_c env ASAN_OPTIONS=detect_leaks=1:detect_odr_violation=0:halt_on_error=1 \
  "$BUILD/c/test_misuse_asan"
if grep -q "Sanitizer" "$LOGS/c.log"; then
  die "AddressSanitizer reported an error (see above)"
fi
echo "test_misuse: no AddressSanitizer or LeakSanitizer report"

# examples/c/echo_server, driven by test_session's client.
echo_out="$BUILD/c/echo_server.out"
"$BUILD/c/echo_server" 127.0.0.1:0 >"$echo_out" 2>&1 &
echo_pid=$!
for _ in $(seq 300); do
  grep -q '^listening on ' "$echo_out" && break
  sleep 0.1
done
echo_addr="$(sed -n 's/^listening on //p' "$echo_out")"
if [ -z "$echo_addr" ] || ! run_c "$BUILD/c/test_session" --uri "rtmfp://$echo_addr/echo"; then
  kill "$echo_pid" 2>/dev/null || true
  cat "$echo_out"
  die "examples/c/echo_server did not echo"
fi
kill -TERM "$echo_pid"
wait "$echo_pid" || { cat "$echo_out"; die "echo_server did not exit cleanly on SIGTERM"; }
echo "examples/c/echo_server: served test_session --uri, exited on SIGTERM"

# examples/c/p2p_chat: a rendezvous server (p2p_chat server), a listener
# that registers the name "alice", and a caller "bob" that finds alice by
# name, sends her a line over their DIRECT_CONNECTIONS streams, then leaves
# (alice then leaves too). The listener's stdin is a FIFO held open here
# (end of input would make it leave).
chat_dir="$BUILD/c/p2p_chat.run"
rm -rf "$chat_dir"
mkdir -p "$chat_dir"
mkfifo "$chat_dir/alice.in"
"$BUILD/c/p2p_chat" server 127.0.0.1:0 >"$chat_dir/server.out" 2>&1 &
chat_srv_pid=$!
for _ in $(seq 300); do
  grep -q '^listening on ' "$chat_dir/server.out" && break
  sleep 0.1
done
chat_uri="rtmfp://$(sed -n 's/^listening on //p' "$chat_dir/server.out")/chat"
timeout 30 "$BUILD/c/p2p_chat" join "$chat_uri" alice <"$chat_dir/alice.in" >"$chat_dir/alice.out" 2>&1 &
chat_pid=$!
exec {chat_fd}>"$chat_dir/alice.in"
for _ in $(seq 300); do
  grep -q '^registered as alice$' "$chat_dir/alice.out" && break
  sleep 0.1
done
chat_ok=1
{ printf 'hello from p2p_chat\n'; sleep 0.5; } |
  timeout 30 "$BUILD/c/p2p_chat" join "$chat_uri" bob alice >"$chat_dir/bob.out" 2>&1 || chat_ok=0
wait "$chat_pid" || chat_ok=0
grep -q '^peer> hello from p2p_chat$' "$chat_dir/alice.out" || chat_ok=0
exec {chat_fd}>&-
kill -TERM "$chat_srv_pid" 2>/dev/null || chat_ok=0
wait "$chat_srv_pid" || chat_ok=0
if [ "$chat_ok" != 1 ]; then
  kill "$chat_pid" "$chat_srv_pid" 2>/dev/null || true
  for f in server alice bob; do echo "--- p2p_chat $f:"; cat "$chat_dir/$f.out"; done
  die "examples/c/p2p_chat: the line did not arrive"
fi
grep -q '^name alice is ' "$chat_dir/server.out" || die "p2p_chat server: no registerName"
echo "examples/c/p2p_chat: bob found alice by name through the server and sent her a line"

# The header is also valid C++ (cbindgen cpp_compat).
"$CXX" -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c++ include/rtmfp.h
"$CXX" -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I include tests/c/header_cxx.cpp
echo "include/rtmfp.h compiles as C++11"

# pkg-config: build the same test with the flags from the generated rtmfp.pc.
scripts/gen-pc.sh --profile debug
pc_flags="$(PKG_CONFIG_PATH="$LIBDIR" pkg-config --cflags --libs rtmfp)"
echo "pkg-config --cflags --libs rtmfp: $pc_flags"
# shellcheck disable=SC2086 # word-splitting the flags is intended
"$CC" "${CFLAGS_STRICT[@]}" -DRTMFP_EXPECTED_VERSION="\"$VERSION\"" \
  tests/c/test_ffi.c $pc_flags -Wl,-rpath,"$LIBDIR" -o "$BUILD/c/test_ffi_pc"
"$BUILD/c/test_ffi_pc" >/dev/null
echo "pkg-config build ok"

# The one install command, into a temporary prefix: a SONAME with the usual
# symlinks, stripped (debug info kept apart), rtmfp.pc. A program built
# through pkg-config without an rpath runs once the loader is told where
# the library is (README: ldconfig or LD_LIBRARY_PATH).
prefix="$BUILD/prefix"
rm -rf "$prefix"
scripts/install.sh --prefix "$prefix" --no-ldconfig
# Each tool's output is read whole before grep looks at it: with pipefail,
# `tool | grep -q` fails at random when grep exits at its first match and
# the tool, still writing, dies of SIGPIPE.
dynamic="$(readelf -d "$prefix/lib/librtmfp.so.0")"
grep -q 'SONAME.*\[librtmfp\.so\.0\]' <<<"$dynamic" ||
  die "the installed library has no SONAME librtmfp.so.0"
sections="$(readelf -S "$prefix/lib/librtmfp.so.0")"
if grep -q '\.debug_info' <<<"$sections"; then
  die "the installed library is not stripped"
fi
pc_installed="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs rtmfp)"
# shellcheck disable=SC2086 # pkg-config output is a list of flags
"$CC" "${CFLAGS_STRICT[@]}" -DRTMFP_EXPECTED_VERSION="\"$VERSION\"" \
  tests/c/test_ffi.c $pc_installed -o "$BUILD/c/test_ffi_installed"
needs="$(ldd "$BUILD/c/test_ffi_installed")"
grep -q 'librtmfp.so.0 => not found' <<<"$needs" ||
  die "a program linked without rpath should need the loader path"
needs="$(LD_LIBRARY_PATH="$prefix/lib" ldd "$BUILD/c/test_ffi_installed")"
grep -q "librtmfp.so.0 => $prefix/lib/" <<<"$needs" ||
  die "the loader does not find the installed librtmfp.so.0"
run_c env LD_LIBRARY_PATH="$prefix/lib" "$BUILD/c/test_ffi_installed"
echo "scripts/install.sh: SONAME librtmfp.so.0, stripped, built through pkg-config, runs"

# ----------------------------------------------------------------- Python --
section "Python"
rm -rf "$VENV"
if ! python3 -m venv "$VENV" 2>/dev/null; then
  rm -rf "$VENV"
  apt_install python3-venv
  python3 -m venv "$VENV"
fi
# maturin's build backend runs `maturin` from PATH: put the venv first.
export PATH="$VENV/bin:$PATH"
python -m pip install --quiet --progress-bar off -r bindings/python/requirements-dev.txt
# Dev profile: the tests exercise the same code (with overflow checks) and it
# compiles ~2x faster; a plain `pip install ./bindings/python` builds release.
MATURIN_PEP517_ARGS="--profile dev" \
  python -m pip install --progress-bar off --no-build-isolation ./bindings/python
# The cross-language test echoes through the Rust CLI (`rtmfp echo`); make
# sure target/debug/rtmfp is current (usually a no-op after cargo test).
cargo build --quiet -p rtmfp-cli --bin rtmfp
start_flash_server
logged pytest python -m pytest -p no:cacheprovider bindings/python/tests
stop_flash_server
# Types: the package and a typical program pass mypy --strict against the
# installed stubs (_rtmfp.pyi, py.typed).
python -m mypy --strict --cache-dir "$BUILD/mypy-cache" -p rtmfp
python -m mypy --strict --cache-dir "$BUILD/mypy-cache" bindings/python/tests/typed_usage.py

# ----------------------------------------------------------- test vectors --
section "test vectors"
# HOOK(vectors): known-answer vectors recomputed independently in Python.
if [ -f tests/vectors/gen_flash_kdf.py ]; then
  python tests/vectors/gen_flash_kdf.py --check
else
  echo "skipped: tests/vectors/gen_flash_kdf.py does not exist yet"
fi

# ------------------------------------------------------------------- Node --
section "Node"
(
  cd bindings/node
  npm ci --ignore-scripts --no-audit --no-fund
  # index.js / index.d.ts are generated by napi and committed: keep them fresh.
  cp index.js "$BUILD/index.js.committed"
  cp index.d.ts "$BUILD/index.d.ts.committed"
  # Debug build: the tests exercise the same code, and it compiles ~2x faster.
  npm run build:debug
  for f in index.js index.d.ts; do
    if ! diff -u "$BUILD/$f.committed" "$f"; then
      echo "bindings/node/$f was stale (diff above); commit the regenerated file" >&2
      exit 1
    fi
  done
)
# npm test: tsc --noEmit on test/typed-usage.ts (lib/index.d.ts and the
# generated index.d.ts), then node --test. The cross-language tests talk to
# the Rust CLI (target/debug/rtmfp, built in the Python step) and to the
# Python chat example (the venv's rtmfp); they skip, saying why, if absent.
start_flash_server
(cd bindings/node && RTMFP_PYTHON="$VENV/bin/python" logged node npm test)
stop_flash_server

# `npm install path/to/bindings/node` in a consumer project: the package's
# install script builds the addon with cargo (no @napi-rs/cli, no download).
# The addon is removed first so that the check below proves the script ran.
consumer="$BUILD/node-consumer"
rm -rf "$consumer"
mkdir -p "$consumer"
rm -f bindings/node/*.node
echo '{ "name": "rtmfp-consumer", "private": true }' >"$consumer/package.json"
(
  cd "$consumer"
  RTMFP_NODE_PROFILE=debug npm install --no-audit --no-fund --foreground-scripts "$ROOT/bindings/node"
  ls "$ROOT"/bindings/node/*.node >/dev/null 2>&1 ||
    die "npm install did not build the addon (were install scripts blocked? see npm help install-scripts)"
  got="$(node -e 'process.stdout.write(require("rtmfp").version())')"
  [ "$got" = "$VERSION" ] || die "consumer require('rtmfp').version() is '$got', expected '$VERSION'"
  echo "consumer project: require('rtmfp').version() = $got"
  # An endpoint opens, closes, and the process then exits by itself.
  got="$(timeout 20 node -e 'const { Endpoint } = require("rtmfp")
    new Endpoint({ bind: "127.0.0.1:0" }).close().then((clean) => process.stdout.write(`closed ${clean}`))')" ||
    die "consumer: an Endpoint did not open, close and exit (exit $?)"
  [ "$got" = "closed true" ] || die "consumer: Endpoint close() gave '$got'"
  echo "consumer project: new Endpoint() opened and closed; the process exited"
  # The Flash layer too: a NetConnection connects to a Server; both close.
  got="$(timeout 20 node -e 'const { Server, NetConnection } = require("rtmfp")
    const srv = new Server({ bind: "127.0.0.1:0" }), nc = new NetConnection({ bind: "127.0.0.1:0" })
    nc.connect(`rtmfp://${srv.address}/app`).then(() => Promise.all([nc.close(), srv.close()]))
      .then((c) => process.stdout.write(`closed ${c.join(" ")}`))')" ||
    die "consumer: a NetConnection to a Server did not connect, close and exit (exit $?)"
  [ "$got" = "closed true true" ] || die "consumer: NetConnection/Server close() gave '$got'"
  echo "consumer project: a NetConnection connected to a Server; both closed; the process exited"
)

# ------------------------------------------------------------- sanitizers --
section "sanitizers"
# Every C test (test_threads among them) built with -fsanitize=address
# against a librtmfp.so whose Rust code is instrumented too, LeakSanitizer
# on (scripts/sanitize.sh asan --quick: about 3 minutes, most of it the
# instrumented build). The whole pass, Python and Node on ASan builds and
# ThreadSanitizer over the runtime's, the FFI's and the threaded C tests,
# takes too long for every run: scripts/sanitize.sh (README.md, Quick start).
logged sanitizers scripts/sanitize.sh asan --quick || die "a sanitizer reported an error (build/san/logs/)"

# -------------------------------------------------------------------- NAT --
section "NAT"
# Real Linux NATs in network namespaces (iptables MASQUERADE, cone and
# symmetric), the rendezvous server and coturn on a "public" bridge:
# direct, LAN, relay-fallback and TURN paths, rtmfp check's verdicts
# (tests/nat/run.sh; SKIP when not root). About 2 minutes.
logged nat tests/nat/run.sh "$TARGET_DIR/debug/rtmfp" || die "tests/nat failed (build/logs/nat.log)"

# ----------------------------------------------------------------- README --
section "README"
# Every code block of README.md, the bindings' READMEs and docs/*.md runs as
# printed (scripts/readme-test.sh; skips are annotated in the markdown with
# their reason): the CLI, Python, Node, TypeScript and C examples, with the
# venv, addon and binaries built above.  UDP port 1935 is used as printed.
logged readme scripts/readme-test.sh

# ------------------------------------------------------------------- fuzz --
section "fuzz"
# A short run of every cargo-fuzz target (scripts/fuzz.sh, seeded from
# fuzz/seeds/; longer runs: scripts/fuzz.sh SECONDS). cargo-fuzz passes -Z
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no
# nightly is needed. Crashes fail the run.
scripts/fuzz.sh "${FUZZ_SECONDS:-10}" || die "a fuzz target failed (input in fuzz/artifacts/)"

# ------------------------------------------------------------- benchmarks --
section "benchmarks"
# Short runs of the benchmark scripts, only to show that they work (a noisy
# CI machine's figures mean little; the crowd's short run is a cargo test,
# rtmfp-cli/tests/crowd.rs): the delay of an FLV pipe through rtmfp.
cargo build --quiet --release -p rtmfp-cli --bin rtmfp
python3 scripts/flv_delay.py --seconds 3 --window 0 --rtmfp "$TARGET_DIR/release/rtmfp" ||
  die "scripts/flv_delay.py failed"
# The soak's short run: a server under a churn of clients (P2P, relay,
# relay fallback, SIGKILLed clients, garbage) for a minute; RSS, fds and
# threads must not grow (the 30-minute soak: scripts/soak.py --minutes 30).
python3 scripts/soak.py --minutes 1 --sample 10 --rtmfp "$TARGET_DIR/release/rtmfp" ||
  die "scripts/soak.py failed"

# --------------------------------------------------------------- packages --
section "packages"
# What users without Rust install: the manylinux2014 wheel (and sdist) of
# scripts/build-wheel.sh and the npm tarball of scripts/pack-node.sh, each
# installed where no cargo is on the PATH and run.
NO_CARGO_PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin"
if [ -n "$(PATH="$NO_CARGO_PATH" command -v cargo || true)" ]; then
  NO_CARGO_PATH="$(dirname "$(command -v node)"):/usr/bin:/bin"
fi
DIST="$BUILD/dist"
rm -rf "$DIST"
scripts/build-wheel.sh "$DIST" || die "scripts/build-wheel.sh failed"
rm -rf "$BUILD/wheel-venv"
python3 -m venv "$BUILD/wheel-venv"
env -i HOME="$BUILD" PATH="$NO_CARGO_PATH" "$BUILD/wheel-venv/bin/pip" install -q "$DIST"/rtmfp-*.whl ||
  die "the wheel does not install without cargo"
env -i HOME="$BUILD" PATH="$NO_CARGO_PATH" "$BUILD/wheel-venv/bin/python" - <<'PY' || die "the installed wheel does not work"
import rtmfp
with rtmfp.Endpoint("127.0.0.1:0", server=True) as a, rtmfp.Endpoint("127.0.0.1:0") as b:
    s = b.connect(f"rtmfp://{a.address}/app", timeout=10)
    print("wheel without cargo: session", s, "rtmfp", rtmfp.__version__)
PY
scripts/pack-node.sh "$DIST" || die "scripts/pack-node.sh failed"
npm_project="$BUILD/npm-project"
rm -rf "$npm_project"
mkdir -p "$npm_project"
(
  cd "$npm_project"
  env -i HOME="$BUILD" PATH="$NO_CARGO_PATH" npm init -y >/dev/null
  env -i HOME="$BUILD" PATH="$NO_CARGO_PATH" npm install --no-audit --no-fund "$DIST"/rtmfp-*.tgz >/dev/null
  [ -d node_modules/@types/node ] || die "@types/node did not come with the package"
  env -i HOME="$BUILD" PATH="$NO_CARGO_PATH" node -e "
    const rtmfp = require('rtmfp')
    const a = new rtmfp.Endpoint({ bind: '127.0.0.1:0', server: true })
    const b = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    b.connect('rtmfp://' + a.address + '/app')
      .then(() => console.log('npm package without cargo: session open, rtmfp', rtmfp.version()))
      .finally(() => Promise.all([a.close(), b.close()]))
  "
) || die "the npm package does not install or work without cargo"

# HOOK(more): later steps (system tests, interop) go here.

# ---------------------------------------------------------------- summary --
finish_step
STEP="summary"
# Add up what the runners reported.
# tally FILE LINE_REGEX: sum the "N passed" / "N failed" on matching lines.
tally() {
  [ -f "$1" ] || { echo "0 0"; return; }
  awk -v re="$2" '$0 ~ re {
      for (i = 1; i < NF; i++) {
        w = $(i + 1); gsub(/[^a-z]/, "", w)
        if (w == "passed") p += $i; else if (w == "failed") f += $i
      } } END { print p + 0, f + 0 }' "$1"
}
# Node's TAP reporter prints "# pass N" / "# fail N" instead.
tally_node() {
  [ -f "$1" ] || { echo "0 0"; return; }
  awk '$1 == "#" && $2 == "pass" { p += $3 } $1 == "#" && $2 == "fail" { f += $3 }
       END { print p + 0, f + 0 }' "$1"
}
passed=0
failed=0
for counts in "$(tally "$LOGS/cargo-test.log" '^test result: ')" \
  "$(tally "$LOGS/c.log" '^[0-9]+ passed, [0-9]+ failed$')" \
  "$(tally "$LOGS/pytest.log" '^=+ .*(passed|failed).* in [0-9.]+s')" \
  "$(tally_node "$LOGS/node.log")" \
  "$(tally "$LOGS/nat.log" '^[0-9]+ passed, [0-9]+ failed$')" \
  "$(tally "$LOGS/sanitizers.log" '^sanitizers: [0-9]+ passed, [0-9]+ failed$')" \
  "$(tally "$LOGS/readme.log" '^README blocks: ')"; do
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
done

printf '\n%s==== timings ====%s\n' "$BOLD" "$RESET"
printf '%s\n' "${TIMINGS[@]}"
printf '%-14s %5ss\n' "total" "$(($(date +%s) - T_START))"
echo
echo "total: $passed passed, $failed failed"
