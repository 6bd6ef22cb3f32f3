#!/usr/bin/env bash
# scripts/build-wheel.sh OUTDIR: the Python package for users without Rust.
#
#   OUTDIR/rtmfp-X.Y.Z-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   OUTDIR/rtmfp-X.Y.Z.tar.gz                       (the sdist)
#
# The wheel is built with maturin and zig as the C toolchain, linked against
# glibc 2.17 (manylinux2014): it installs on distributions from 2014 on, and
# one wheel serves CPython 3.9 and later (the stable ABI, abi3).  Then
# `auditwheel show` checks what it claims.  Install with
# `pip install OUTDIR/rtmfp-*.whl`: no Rust, no compiler.
#
# Needs python3 (with venv), cargo and network access to PyPI for the build
# tools (maturin, ziglang, auditwheel, installed into build/wheel-tools).
# CARGO_TARGET_DIR is honoured (default: build/wheel-target, apart from the
# development builds).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: scripts/build-wheel.sh OUTDIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Pinned build tools, in their own venv.
MATURIN_VERSION=1.16.0
ZIGLANG_VERSION=0.17.1
AUDITWHEEL_VERSION=6.8.2
TOOLS="$ROOT/build/wheel-tools"
if [ ! -x "$TOOLS/bin/maturin" ] || [ "$("$TOOLS/bin/maturin" --version)" != "maturin $MATURIN_VERSION" ]; then
  echo "build-wheel: installing maturin $MATURIN_VERSION, ziglang $ZIGLANG_VERSION, auditwheel $AUDITWHEEL_VERSION into $TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "maturin==$MATURIN_VERSION" "ziglang==$ZIGLANG_VERSION" \
    "auditwheel==$AUDITWHEEL_VERSION"
fi
export PATH="$TOOLS/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/build/wheel-target}"

echo "build-wheel: building the manylinux2014 wheel (release, zig as the linker; a few minutes)"
rm -f "$OUT"/rtmfp-*.whl "$OUT"/rtmfp-*.tar.gz
maturin build --release --strip --zig --compatibility manylinux2014 \
  -m "$ROOT/bindings/python/Cargo.toml" -o "$OUT"
echo "build-wheel: building the sdist"
maturin sdist -m "$ROOT/bindings/python/Cargo.toml" -o "$OUT"

wheel="$(ls "$OUT"/rtmfp-*.whl)"
echo "build-wheel: auditwheel show $(basename "$wheel")"
report="$(auditwheel show "$wheel")"
echo "$report"
case "$report" in
  *'"manylinux_2_17_x86_64"'*) ;;
  *) echo "build-wheel: the wheel is not manylinux_2_17 (see above)" >&2; exit 1 ;;
esac
ls -l "$OUT"
