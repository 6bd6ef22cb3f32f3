#!/usr/bin/env bash
# scripts/install.sh --prefix DIR: builds the C library in release mode and
# installs it, the way a distribution would:
#
#   DIR/include/rtmfp.h
#   DIR/lib/librtmfp.so.X.Y.Z       SONAME librtmfp.so.X (X = major version),
#   DIR/lib/librtmfp.so.X           stripped; the usual symlinks
#   DIR/lib/librtmfp.so
#   DIR/lib/librtmfp.a              debug info stripped
#   DIR/lib/debug/librtmfp.so.X.Y.Z.debug   the debug info, kept apart
#                                   (linked by .gnu_debuglink)
#   DIR/lib/pkgconfig/rtmfp.pc
#
# Then `cc app.c $(pkg-config --cflags --libs rtmfp)` builds a program (with
# PKG_CONFIG_PATH=DIR/lib/pkgconfig unless DIR is a standard prefix). The
# loader must find the library at run time: for /usr/local as root this
# script runs ldconfig; for another prefix, add DIR/lib to
# /etc/ld.so.conf.d/ and run ldconfig, or set LD_LIBRARY_PATH=DIR/lib, or
# link with -Wl,-rpath,DIR/lib.
#
# Options: --prefix DIR (default /usr/local), --no-ldconfig.
# Needs cargo, a C toolchain's objcopy/strip (binutils), and pkg-config to
# use the result. The in-tree library (target/*/librtmfp.so) has no SONAME,
# so that programs linked against the checkout keep working unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

prefix=/usr/local
ldconfig=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --no-ldconfig) ldconfig=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

pkgid="$(cargo pkgid -p rtmfp-ffi)"
version="${pkgid##*[#@]}"
major="${version%%.*}"
soname="librtmfp.so.$major"
real="librtmfp.so.$version"

# A separate target directory: the library with a SONAME is built apart
# from the in-tree one.
target="${CARGO_TARGET_DIR:-$ROOT/target}/install"
echo "building librtmfp $version (SONAME $soname) in $target"
CARGO_TARGET_DIR="$target" cargo rustc --quiet --release -p rtmfp-ffi --lib \
  --crate-type cdylib -- -C link-arg=-Wl,-soname,"$soname"
CARGO_TARGET_DIR="$target" cargo rustc --quiet --release -p rtmfp-ffi --lib \
  --crate-type staticlib
built="$target/release"

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/debug"
install -m 644 include/rtmfp.h "$prefix/include/rtmfp.h"

# Shared library: debug info split off, then stripped.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$built/librtmfp.so" "$tmp/$real"
objcopy --only-keep-debug "$tmp/$real" "$tmp/$real.debug"
strip --strip-unneeded "$tmp/$real"
objcopy --add-gnu-debuglink="$tmp/$real.debug" "$tmp/$real"
install -m 755 "$tmp/$real" "$prefix/lib/$real"
install -m 644 "$tmp/$real.debug" "$prefix/lib/debug/$real.debug"
ln -sfn "$real" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/librtmfp.so"

# Static library: debug info stripped (the symbols a link needs stay).
cp "$built/librtmfp.a" "$tmp/librtmfp.a"
strip --strip-debug "$tmp/librtmfp.a"
install -m 644 "$tmp/librtmfp.a" "$prefix/lib/librtmfp.a"

scripts/gen-pc.sh --prefix "$prefix" --out "$prefix/lib/pkgconfig/rtmfp.pc" >/dev/null

if [ "$ldconfig" = 1 ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1 &&
   { [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; }; then
  ldconfig
  echo "ran ldconfig"
fi

size() { stat -c %s "$1" | awk '{printf "%.1f MB", $1 / 1e6}'; }
echo "installed librtmfp $version into $prefix:"
echo "  include/rtmfp.h"
echo "  lib/$real ($(size "$prefix/lib/$real")), lib/$soname, lib/librtmfp.so"
echo "  lib/librtmfp.a ($(size "$prefix/lib/librtmfp.a"))"
echo "  lib/debug/$real.debug ($(size "$prefix/lib/debug/$real.debug"))"
echo "  lib/pkgconfig/rtmfp.pc"
case "$prefix" in
  /usr|/usr/local) ;;
  *) echo "use it: export PKG_CONFIG_PATH=$prefix/lib/pkgconfig; and at run time LD_LIBRARY_PATH=$prefix/lib (or -Wl,-rpath,$prefix/lib, or ldconfig)" ;;
esac
