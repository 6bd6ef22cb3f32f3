#!/usr/bin/env bash
# scripts/readme-test.sh: runs every code block of the READMEs as printed.
#
# The blocks of README.md, bindings/python/README.md, bindings/node/README.md
# and docs/*.md are extracted and run by scripts/readme_blocks.py (its
# docstring lists the languages and the <!-- readme-test: ... --> annotations:
# skip="reason", group=NAME, ready=, wait, input=, expect=, with-server,
# cwd=, file=, timeout=).  It prints a table (file, line, language, result)
# and "README blocks: N passed, M failed, K skipped".
#
# The context a reader has after the README's own steps, built here with
# the same target directory as scripts/test.sh (${CARGO_TARGET_DIR:-target}):
#   - `rtmfp` on PATH (target/debug), and the release builds that the
#     README's `cargo run --release` / C blocks use, built beforehand so
#     that a block is not timed on a first compile;
#   - `python` with rtmfp installed: the venv of scripts/test.sh's Python
#     section (build/venv, or $RTMFP_VENV);
#   - the Node addon built in bindings/node (test.sh's Node section) and
#     bindings/node/node_modules (tsc, @types/node);
#   - ffmpeg and ffprobe (test.sh installs them).
# It installs nothing.  Blocks that use UDP port 1935 run one group at a
# time; everything a block starts is killed when it is done.
#
# Usage: scripts/readme-test.sh [FILE.md...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${RTMFP_VENV:-$ROOT/build/venv}"

die() {
  echo "readme-test.sh: error: $*" >&2
  exit 1
}

[ -x "$VENV/bin/python" ] || die "no venv at $VENV (scripts/test.sh's Python section makes it)"
"$VENV/bin/python" -c 'import rtmfp' 2>/dev/null || die "rtmfp is not installed in $VENV"
ls bindings/node/*.node >/dev/null 2>&1 || die "the Node addon is not built (cd bindings/node && npm run build:debug)"
[ -x bindings/node/node_modules/.bin/tsc ] || die "bindings/node/node_modules is missing (cd bindings/node && npm ci)"
for tool in ffmpeg ffprobe node cc pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

echo "building: rtmfp (debug), librtmfp (debug), and both in release for the README's cargo run --release and C blocks"
cargo build --quiet -p rtmfp-cli --bin rtmfp -p rtmfp-ffi
cargo build --quiet --release -p rtmfp-cli --bin rtmfp -p rtmfp-ffi

export PATH="$TARGET_DIR/debug:$VENV/bin:$PATH"
if [ $# -eq 0 ]; then
  set -- README.md bindings/python/README.md bindings/node/README.md rtmfp-ffi/README.md docs/*.md
fi
exec python3 scripts/readme_blocks.py "$@"
