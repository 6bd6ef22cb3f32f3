#!/usr/bin/env bash
# scripts/pack-node.sh OUTDIR: the npm package for users without Rust.
#
#   OUTDIR/rtmfp-X.Y.Z.tgz
#
# The tarball holds a prebuilt, stripped linux-x64 (glibc) addon, marked in
# prebuilt.json, which `npm install` uses as it is, cargo or not; and the
# sources a build needs elsewhere (the binding's crate, with rtmfp-core
# vendored beside it), which its install script builds with cargo when no
# prebuilt addon fits the platform.  @types/node comes with the types.
#
# The package is staged in build/node-pack/ (the checkout is not touched):
# the addon is built in release mode with @napi-rs/cli (npm ci in
# bindings/node first, if needed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: scripts/pack-node.sh OUTDIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
NODE="$ROOT/bindings/node"
STAGE="$ROOT/build/node-pack"

cd "$NODE"
[ -x node_modules/.bin/napi ] || npm ci --no-audit --no-fund
echo "pack-node: building the release addon (stripped)"
npx napi build --platform --release --strip >/dev/null
addon="$(ls rtmfp.linux-x64-gnu.node)"

rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -r lib index.js index.d.ts package.json README.md build.rs Cargo.toml Cargo.lock src scripts "$STAGE/"
cp "$addon" "$STAGE/"
# The crate's path dependency, vendored: ../../rtmfp-core becomes
# rtmfp-core/ inside the package.
mkdir -p "$STAGE/rtmfp-core"
cp -r "$ROOT/rtmfp-core/src" "$ROOT/rtmfp-core/Cargo.toml" "$STAGE/rtmfp-core/"
sed -i 's#path = "../../rtmfp-core"#path = "rtmfp-core"#' "$STAGE/Cargo.toml"
grep -q 'path = "rtmfp-core"' "$STAGE/Cargo.toml" || {
  echo "pack-node: bindings/node/Cargo.toml no longer names ../../rtmfp-core" >&2
  exit 1
}
# rtmfp-core inherits [workspace.package] fields: give the vendored copy
# its own values.
version="$(node -p "require('./package.json').version")"
python3 - "$STAGE/rtmfp-core/Cargo.toml" "$version" <<'EOF'
import re, sys
path, version = sys.argv[1], sys.argv[2]
s = open(path).read()
s = re.sub(r'(?m)^version\.workspace = true$', f'version = "{version}"', s)
s = re.sub(r'(?m)^edition\.workspace = true$', 'edition = "2021"', s)
s = re.sub(r'(?m)^rust-version\.workspace = true$', 'rust-version = "1.88"', s)
s = re.sub(r'(?m)^license\.workspace = true$', 'license = "MIT OR Apache-2.0"', s)
s = re.sub(r'(?m)^repository\.workspace = true$', '', s)
# Benches and dev-dependencies are not needed to build the library.
s = re.sub(r'(?ms)^\[dev-dependencies\].*?(?=^\[|\Z)', '', s)
s = re.sub(r'(?ms)^\[\[bench\]\].*?(?=^\[|\Z)', '', s)
open(path, 'w').write(s)
EOF
node - "$STAGE" "$(basename "$addon")" <<'EOF'
const fs = require('node:fs')
const path = require('node:path')
const [stage, addon] = process.argv.slice(2)
const pkgPath = path.join(stage, 'package.json')
const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'))
// The types need Node's: install them with the package.
pkg.dependencies = { ...(pkg.dependencies || {}), '@types/node': pkg.devDependencies['@types/node'] }
pkg.files = [...pkg.files, 'rtmfp-core/', 'prebuilt.json', 'README.md']
delete pkg.devDependencies
delete pkg.scripts.build
delete pkg.scripts['build:debug']
delete pkg.scripts.test
delete pkg.scripts.typecheck
fs.writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
fs.writeFileSync(
  path.join(stage, 'prebuilt.json'),
  JSON.stringify({ addon, platform: 'linux', arch: 'x64', libc: 'glibc', version: pkg.version }, null, 2) + '\n',
)
EOF
cd "$STAGE"
rm -f "$OUT"/rtmfp-*.tgz
npm pack --pack-destination "$OUT" --silent >/dev/null
tarball="$(ls "$OUT"/rtmfp-*.tgz)"
echo "pack-node: $tarball ($(du -h "$tarball" | cut -f1); addon $(du -h "$addon" | cut -f1))"
