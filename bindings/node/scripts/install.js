#!/usr/bin/env node
// npm "install" hook: build the native addon from source with cargo, so that
// `npm install path/to/bindings/node` works without @napi-rs/cli and without
// downloading any prebuilt binary.
//
// It runs `cargo build` (incremental: about a second when nothing changed)
// and copies the cdylib to rtmfp.<platform>-<arch>[-<abi>].node, the name the
// napi-generated index.js loads. If cargo is missing but an addon is already
// there, that addon is used.
//
// A package made by scripts/pack-node.sh carries a prebuilt addon, named in
// prebuilt.json: when it fits this platform it is used as it is, cargo or
// not, and nothing is built.
//
// Environment:
//   RTMFP_NODE_PROFILE=debug   build the dev profile instead of release
//   RTMFP_NODE_BUILD=source    build with cargo even if a prebuilt addon fits
//   CARGO_TARGET_DIR           honoured, as by cargo itself
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const pkgDir = path.resolve(__dirname, '..')
const binaryName = require(path.join(pkgDir, 'package.json')).napi.binaryName
const crateLib = 'rtmfp_node' // [package] name in Cargo.toml, with _ for -

function isMusl() {
  const report = process.report && process.report.getReport()
  return !(report && report.header && report.header.glibcVersionRuntime)
}

// The platformArchABI suffix napi-rs uses, e.g. linux-x64-gnu.
function platformArchAbi() {
  const { platform, arch } = process
  if (platform === 'linux') {
    if (arch === 'arm') return `linux-arm-${isMusl() ? 'musleabihf' : 'gnueabihf'}`
    return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function libFileName() {
  if (process.platform === 'win32') return `${crateLib}.dll`
  if (process.platform === 'darwin') return `lib${crateLib}.dylib`
  return `lib${crateLib}.so`
}

// The host target triple, from `rustc -vV` (null if rustc is missing).
function hostTriple() {
  const r = spawnSync('rustc', ['-vV'], { encoding: 'utf8' })
  const m = r.status === 0 && /^host: (\S+)$/m.exec(r.stdout)
  return m ? m[1] : null
}

// The packed prebuilt addon, if it fits this platform.
function prebuilt() {
  const marker = path.join(pkgDir, 'prebuilt.json')
  if (!fs.existsSync(marker)) return null
  const p = JSON.parse(fs.readFileSync(marker, 'utf8'))
  const fits =
    p.platform === process.platform && p.arch === process.arch && (p.libc !== 'glibc' || !isMusl())
  return fits && fs.existsSync(path.join(pkgDir, p.addon)) ? p.addon : null
}

function main() {
  const dest = path.join(pkgDir, `${binaryName}.${platformArchAbi()}.node`)
  const packed = process.env.RTMFP_NODE_BUILD === 'source' ? null : prebuilt()
  if (packed !== null) {
    console.log(`rtmfp: using the prebuilt ${packed} (RTMFP_NODE_BUILD=source builds it with cargo)`)
    return 0
  }
  const profile = process.env.RTMFP_NODE_PROFILE === 'debug' ? 'debug' : 'release'
  // An explicit --target, like `napi build`, so that both share artifacts.
  const target = hostTriple()
  const args = ['build', '--manifest-path', path.join(pkgDir, 'Cargo.toml'), '--lib']
  if (target) args.push('--target', target)
  if (profile === 'release') args.push('--release')

  console.log(`rtmfp: building the native addon from source (cargo ${args.join(' ')}; a few minutes the first time)`)
  const r = spawnSync('cargo', args, { stdio: 'inherit', cwd: pkgDir })
  if (r.error && r.error.code === 'ENOENT') {
    if (fs.existsSync(dest)) {
      console.log(`rtmfp: cargo not found; using the existing ${path.basename(dest)}`)
      return 0
    }
    console.error('rtmfp: building the native addon needs a Rust toolchain (cargo); see https://rustup.rs')
    return 1
  }
  if (r.status !== 0) {
    console.error(`rtmfp: cargo build failed (${r.error || `exit ${r.status}`})`)
    return 1
  }

  const targetDir = path.resolve(pkgDir, process.env.CARGO_TARGET_DIR || 'target')
  const built = path.join(targetDir, target || '', profile, libFileName())
  fs.copyFileSync(built, dest)
  console.log(`rtmfp: installed ${path.relative(pkgDir, dest)}`)
  return 0
}

process.exitCode = main()
