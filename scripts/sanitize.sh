#!/usr/bin/env bash
# scripts/sanitize.sh: the tests of every language boundary against a
# sanitizer-instrumented rtmfp.
#
# Usage: scripts/sanitize.sh [asan|tsan|all] [--quick]     (default: all)
#
#   asan  AddressSanitizer (and LeakSanitizer for C). The Rust code is
#         instrumented (-Zsanitizer=address; RUSTC_BOOTSTRAP=1 lets the
#         stable toolchain take the flag, its prebuilt std stays as it is):
#         - librtmfp.so, with every C test of scripts/test.sh built with
#           -fsanitize=address against it (LeakSanitizer on): test_ffi,
#           test_session, test_p2p, test_flv, test_flash_server (against a
#           Flash server), test_turn (coturn), test_check, test_cluster
#           (redis-server), test_misuse, test_threads, test_server_asks, test_limits;
#         - the Python extension, with bindings/python/tests (pytest);
#         - the Node addon, with bindings/node/test (node --test).
#         Python and Node are not instrumented: libasan is LD_PRELOADed
#         into them and leak detection is off (CPython and V8 keep memory
#         until exit by design).
#   tsan  ThreadSanitizer: std must be instrumented too (or every lock in
#         it is a false race), so this builds it (cargo +nightly
#         -Zbuild-std, rust-src). Runs:
#         - rtmfp-core's runtime, host and Flash loopback tests (the
#           driver thread, event queues, blocking calls from other
#           threads) and rtmfp-ffi's unit tests;
#         - the threaded C tests, built with -fsanitize=thread against a
#           TSan librtmfp.so: test_threads (callbacks on the dispatcher
#           thread, sends from many threads, close and free while sending),
#           test_session, test_p2p, test_misuse.
#   --quick  only the C tests (what scripts/test.sh runs: asan C tests).
#
# Both build with an explicit --target so that build scripts and proc
# macros are not instrumented, into their own target directories
# (${CARGO_TARGET_DIR:-target}/asan, .../tsan). Suppressions, each with the
# reason it is a false positive: tests/sanitizers/. Any report not
# suppressed, or any failing test, makes the script exit 1.
#
# Output: build/san/ (logs/ has one log per run); git-ignored.
# Installs what it needs on a fresh Debian machine (as scripts/test.sh):
# gcc, coturn, redis-server, ffmpeg (apt), the nightly toolchain's
# rust-src (rustup), maturin + pytest in build/san/venv (PyPI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE=all
QUICK=""
for arg in "$@"; do
  case "$arg" in
    asan | tsan | all) MODE="$arg" ;;
    --quick) QUICK=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "usage: scripts/sanitize.sh [asan|tsan|all] [--quick]" >&2
      exit 2
      ;;
  esac
done

BUILD="$ROOT/build/san"
LOGS="$BUILD/logs"
TARGET_BASE="${CARGO_TARGET_DIR:-$ROOT/target}"
HOST=x86_64-unknown-linux-gnu
SUPP="$ROOT/tests/sanitizers"
CC="${CC:-gcc}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Builds run at a lower priority (the machine may be shared: the tests,
# which have timeouts, keep theirs); RTMFP_BUILD_NICE=0 for none.
NICE=(nice -n "${RTMFP_BUILD_NICE:-10}")

die() {
  echo "sanitize.sh: error: $*" >&2
  exit 1
}

# shellcheck source=scripts/lib/services.sh
. "$ROOT/scripts/lib/services.sh"
trap stop_services EXIT

mkdir -p "$LOGS" "$BUILD/c"
rm -f "$LOGS"/*.log

T_START=$(date +%s)
TIMINGS=()
PHASE=""
PHASE_START=$T_START
phase() {
  if [ -n "$PHASE" ]; then
    TIMINGS+=("$(printf '%-22s %5ss' "$PHASE" "$(($(date +%s) - PHASE_START))")")
  fi
  PHASE="$1"
  PHASE_START=$(date +%s)
  [ "$1" = end ] || printf '\n==== sanitize: %s ====  (%s, +%ss)\n' "$1" "$(date +%H:%M:%S)" "$((PHASE_START - T_START))"
}

# Every run's output is kept in a log; a run fails if it exits non-zero or
# if its log holds a sanitizer report.
REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: reported|runtime error:'
FAILED=()
RAN=0
# run NAME CMD...: run CMD (output to $LOGS/NAME.log), record the outcome.
run() {
  local name="$1" rc=0
  shift
  echo "--- $name"
  RAN=$((RAN + 1))
  "$@" >"$LOGS/$name.log" 2>&1 || rc=$?
  # The closing lines ("N passed, M failed", pytest's, node's summary).
  grep -E '^[0-9]+ passed, [0-9]+ failed$|^=+ .*(passed|failed).* in [0-9.]+s|^# (pass|fail) [0-9]+$|^test result: ' \
    "$LOGS/$name.log" | sed 's/^/    /' | tail -n 6 || true
  if grep -qE "$REPORT_RE" "$LOGS/$name.log"; then
    grep -E -A 12 "$REPORT_RE" "$LOGS/$name.log" | head -n 60
    echo "*** $name: sanitizer report (full log: $LOGS/$name.log)"
    FAILED+=("$name (sanitizer report)")
  elif [ $rc -ne 0 ]; then
    tail -n 30 "$LOGS/$name.log"
    echo "*** $name: exit $rc (full log: $LOGS/$name.log)"
    FAILED+=("$name (exit $rc)")
  else
    echo "    ok"
  fi
}

# ------------------------------------------------------------------ tools --
phase tools
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup"
host="$(rustc -vV | sed -n 's/^host: //p')"
[ "$host" = "$HOST" ] || die "the sanitizer builds are set up for $HOST, not $host"
need "$CC" gcc
need python3 python3
need turnserver coturn
need redis-server redis-server
need ffmpeg ffmpeg
# As in scripts/test.sh: the TURN tests must not skip for want of coturn.
export RTMFP_REQUIRE_COTURN=1
if [ "$MODE" != asan ]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (for -Zbuild-std)"
    rustup toolchain install nightly --profile minimal --component rust-src
  fi
  if [ ! -d "$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "installing rust-src for nightly (-Zbuild-std)"
    rustup component add rust-src --toolchain nightly
  fi
fi
VERSION="$(cargo pkgid -p rtmfp-ffi)"
VERSION="${VERSION##*[#@]}"

# The Flash server and the `rtmfp` of the cross-language tests: the plain
# debug CLI (not instrumented; Python and Node children inherit LD_PRELOAD,
# which an ASan-linked Rust binary would not take).
"${NICE[@]}" cargo build --quiet -p rtmfp-cli --bin rtmfp
PLAIN_TARGET="$TARGET_BASE"
RTMFP_SERVER_BIN="$PLAIN_TARGET/debug/rtmfp"
start_turn_server
start_redis_server

CFLAGS_C=(-std=c99 -Wall -Wextra -pedantic -Werror -pthread -g -O1 -fno-omit-frame-pointer -I include)
# cc_san address|thread LIBDIR TEST: build tests/c/TEST.c with
# -fsanitize=..., linked against LIBDIR/librtmfp.so.
#
# ThreadSanitizer: the runtime must be as new as the instrumentation in
# the Rust library (gcc 12's libtsan lacks __tsan_memcpy and friends that
# LLVM now emits), so the test is linked with nightly Rust's own TSan
# runtime (the one rustc links into its TSan executables) instead of
# -ltsan; -rdynamic exports its interceptors and entry points to
# librtmfp.so. gcc's instrumentation calls the same entry points.
cc_san() {
  local san="$1" libdir="$2" t="$3" out="$BUILD/c/$3.$1"
  local -a def=(-DRTMFP_EXPECTED_VERSION="\"$VERSION\"")
  if [ "$san" = thread ]; then
    "$CC" "${CFLAGS_C[@]}" -fsanitize=thread "${def[@]}" -c "tests/c/$t.c" -o "$out.o"
    "$CC" -pthread -rdynamic "$out.o" -Wl,--whole-archive "$TSAN_RT" -Wl,--no-whole-archive \
      -L "$libdir" -lrtmfp -Wl,-rpath,"$libdir" -ldl -lm -lrt -o "$out"
  else
    "$CC" "${CFLAGS_C[@]}" -fsanitize="$san" "${def[@]}" "tests/c/$t.c" \
      -L "$libdir" -lrtmfp -Wl,-rpath,"$libdir" -o "$out"
  fi
}

# ------------------------------------------------------------------- ASan --
asan() {
  phase "asan: build"
  local target="$TARGET_BASE/asan" libdir libasan
  local -a cargo_env=(env RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$target"
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes")
  "${cargo_env[@]}" "${NICE[@]}" cargo build -p rtmfp-ffi --target "$HOST"
  libdir="$target/$HOST/debug"
  local c_tests=(test_ffi test_session test_p2p test_flv test_flash_server test_turn
    test_check test_cluster test_misuse test_threads test_server_asks test_limits)
  for t in "${c_tests[@]}"; do cc_san address "$libdir" "$t"; done

  phase "asan: C"
  # The tests are instrumented, so libasan comes first; LeakSanitizer is on.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:suppressions=$SUPP/asan.supp"
  export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
  for t in "${c_tests[@]}"; do
    if [ "$t" = test_flash_server ]; then start_flash_server; fi
    run "asan-$t" "$BUILD/c/$t.address"
    if [ "$t" = test_flash_server ]; then stop_flash_server; fi
  done
  [ -z "$QUICK" ] || return 0

  # Python and Node load the instrumented library into an uninstrumented
  # interpreter: libasan goes first by LD_PRELOAD. Leak detection is off:
  # the interpreters keep memory until exit.
  libasan="$("$CC" -print-file-name=libasan.so)"
  [ -f "$libasan" ] || die "no libasan.so next to $CC"
  local -a asan_run=(env LD_PRELOAD="$libasan"
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:suppressions=$SUPP/asan.supp"
    CARGO_TARGET_DIR="$PLAIN_TARGET")

  phase "asan: Python build"
  local venv="$BUILD/venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || {
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv"
    }
  fi
  # The pinned maturin and pytest of bindings/python/requirements-dev.txt.
  local -a pins
  mapfile -t pins < <(grep -E '^(maturin|pytest)==' bindings/python/requirements-dev.txt)
  "$venv/bin/python" -m pip install --quiet --progress-bar off "${pins[@]}"
  rm -rf "$BUILD/wheels"
  "${cargo_env[@]}" "${NICE[@]}" "$venv/bin/maturin" build --quiet --profile dev --target "$HOST" \
    -m bindings/python/Cargo.toml -o "$BUILD/wheels"
  "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$BUILD"/wheels/rtmfp-*.whl

  phase "asan: Python tests"
  start_flash_server
  run asan-pytest "${asan_run[@]}" PATH="$venv/bin:$PATH" \
    "$venv/bin/python" -m pytest -p no:cacheprovider bindings/python/tests
  stop_flash_server

  phase "asan: Node build"
  "${cargo_env[@]}" "${NICE[@]}" cargo build --manifest-path bindings/node/Cargo.toml --lib --target "$HOST"
  mkdir -p "$BUILD/node"
  # require() takes a .node file by its extension.
  cp "$target/$HOST/debug/librtmfp_node.so" "$BUILD/node/rtmfp.asan.node"

  phase "asan: Node tests"
  start_flash_server
  # index.js loads the addon NAPI_RS_NATIVE_LIBRARY_PATH names: the
  # package's own (non-ASan) build is left alone.
  run asan-node "${asan_run[@]}" NAPI_RS_NATIVE_LIBRARY_PATH="$BUILD/node/rtmfp.asan.node" \
    RTMFP_PYTHON="$venv/bin/python" sh -c 'cd bindings/node && exec node --test test/*.test.js'
  stop_flash_server
}

# ------------------------------------------------------------------- TSan --
tsan() {
  phase "tsan: build"
  local target="$TARGET_BASE/tsan" libdir
  # -Zbuild-std: std instrumented too. RUSTDOCFLAGS: doctests are not run.
  local -a cargo_tsan=(env CARGO_TARGET_DIR="$target"
    RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes")
  local -a zstd=(-Zbuild-std --target "$HOST")
  export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp"
  "${cargo_tsan[@]}" "${NICE[@]}" cargo +nightly build "${zstd[@]}" -p rtmfp-ffi
  TSAN_RT="$(rustup run nightly rustc --print sysroot)/lib/rustlib/$HOST/lib/librustc-nightly_rt.tsan.a"
  [ -f "$TSAN_RT" ] || die "no TSan runtime at $TSAN_RT"
  libdir="$target/$HOST/debug"
  local c_tests=(test_threads test_session test_p2p test_misuse)
  for t in "${c_tests[@]}"; do cc_san thread "$libdir" "$t"; done

  phase "tsan: C"
  for t in "${c_tests[@]}"; do
    run "tsan-$t" "$BUILD/c/$t.thread"
  done
  [ -z "$QUICK" ] || return 0

  phase "tsan: Rust build+tests"
  # The multi-threaded tests: the runtime's driver thread and the threads
  # that call into it (runtime_*), the Flash layer over it, the host's
  # check, and the FFI's handles, dispatcher and callbacks (unit tests).
  local core_tests=(runtime_loopback runtime_transfer runtime_many_sessions
    runtime_dh_blocking runtime_layer runtime_turn flash_loopback check_loopback)
  local -a tests=()
  for t in "${core_tests[@]}"; do tests+=(--test "$t"); done
  # Built first at low priority, then run (the same command is a no-op
  # build then).
  "${cargo_tsan[@]}" "${NICE[@]}" cargo +nightly test --no-run "${zstd[@]}" -p rtmfp-core "${tests[@]}"
  "${cargo_tsan[@]}" "${NICE[@]}" cargo +nightly test --no-run "${zstd[@]}" -p rtmfp-ffi --lib
  run tsan-rtmfp-core "${cargo_tsan[@]}" cargo +nightly test "${zstd[@]}" -p rtmfp-core "${tests[@]}"
  run tsan-rtmfp-ffi "${cargo_tsan[@]}" cargo +nightly test "${zstd[@]}" -p rtmfp-ffi --lib
}

case "$MODE" in
  asan) asan ;;
  tsan) tsan ;;
  all)
    asan
    tsan
    ;;
esac
phase end

echo
echo "==== sanitize: timings ===="
printf '%s\n' "${TIMINGS[@]}"
printf '%-22s %5ss\n' total "$(($(date +%s) - T_START))"
echo
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "sanitizers: $((RAN - ${#FAILED[@]})) passed, ${#FAILED[@]} failed"
  printf '  failed: %s\n' "${FAILED[@]}"
  exit 1
fi
echo "sanitizers: $RAN passed, 0 failed"
