#!/usr/bin/env bash
# Write a pkg-config file, rtmfp.pc, next to the built librtmfp.
#
# Usage: scripts/gen-pc.sh [--profile release|debug] [--prefix DIR] [--out FILE]
#
#   Default (no --prefix): an *uninstalled* .pc for this checkout:
#     includedir=<repo>/include, libdir=<target>/<profile>
#   --prefix DIR: for an install into DIR: includedir=DIR/include,
#     libdir=DIR/lib (then copy the .pc to DIR/lib/pkgconfig/).
#   The file goes to <target>/<profile>/rtmfp.pc unless --out is given;
#   <target> is $CARGO_TARGET_DIR or <repo>/target. Default profile: release.
#
# Example (from the repo root):
#   cargo build --release -p rtmfp-ffi && scripts/gen-pc.sh
#   export PKG_CONFIG_PATH=$PWD/target/release
#   cc app.c $(pkg-config --cflags --libs rtmfp) -Wl,-rpath,$PWD/target/release
#   # static: cc app.c $(pkg-config --cflags rtmfp) target/release/librtmfp.a \
#   #           $(pkg-config --static --libs-only-l rtmfp | sed 's/-lrtmfp//')
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile=release
prefix=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gen-pc.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$profile" in dev) profile=debug ;; esac

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
pkgid="$(cd "$root" && cargo pkgid -p rtmfp-ffi)"
version="${pkgid##*[#@]}"

if [ -n "$prefix" ]; then
  libdir='${prefix}/lib'
  includedir='${prefix}/include'
else
  prefix="$root"
  libdir="$target_dir/$profile"
  includedir='${prefix}/include'
fi

# Libraries the static archive needs (rustc --print native-static-libs).
case "$(uname -s)" in
  Linux) static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" ;;
  Darwin) static_libs="-lSystem -lc -lm" ;;
  *) static_libs="" ;;
esac

out="${out:-$target_dir/$profile/rtmfp.pc}"
mkdir -p "$(dirname "$out")"
cat > "$out" <<PC
prefix=$prefix
libdir=$libdir
includedir=$includedir

Name: rtmfp
Description: RTMFP (RFC 7016) with the Flash profile (RFC 7425)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lrtmfp
Libs.private: $static_libs
PC
echo "wrote $out"
