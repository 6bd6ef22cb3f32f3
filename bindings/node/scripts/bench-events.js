#!/usr/bin/env node
// Micro-benchmark of the event conversion (src/events.rs): builds the addon
// in release with the cargo feature `bench` (src/bench.rs, never in the
// package), loads it from a temporary copy, and prints, for each sample
// event, CPU nanoseconds per event (of the JS thread) for core describing
// it and for describing plus converting it to a JS object; the difference
// is the conversion.
// Each figure is the median of 9 runs of N events (default 20000).
// --addon FILE runs an addon built so before instead (to compare two).
//
//   node scripts/bench-events.js [N] [--addon FILE]
'use strict'

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const args = process.argv.slice(2)
const given = args.indexOf('--addon') >= 0 ? args.splice(args.indexOf('--addon'), 2)[1] : null
const pkgDir = path.resolve(__dirname, '..')
if (!given) {
  const manifest = path.join(pkgDir, 'Cargo.toml')
  execFileSync('cargo', ['build', '--release', '--features', 'bench', '--manifest-path', manifest], {
    stdio: 'inherit',
  })
}
const targetDir = process.env.CARGO_TARGET_DIR || path.join(pkgDir, 'target')
const addon = path.join(os.tmpdir(), `rtmfp-bench-${process.pid}.node`)
fs.copyFileSync(given || path.join(targetDir, 'release', 'librtmfp_node.so'), addon)
const { benchEvents } = require(addon)
fs.unlinkSync(addon)

// The samples of src/bench.rs, in its order.
const KINDS = ['message', 'messageDelivered', 'sessionOpened', 'media', 'netStatus', 'clientConnected']
const n = Number(args[0] || 20000)
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
benchEvents(1000) // warm-up
const runs = Array.from({ length: 9 }, () => benchEvents(n))
console.log(`${n} events of each kind, median of ${runs.length} runs (CPU ns per event)`)
console.log('| event | describe | describe + convert | convert |')
console.log('| --- | ---: | ---: | ---: |')
KINDS.forEach((kind, k) => {
  const describe = median(runs.map((r) => r[2 * k]))
  const both = median(runs.map((r) => r[2 * k + 1]))
  console.log(`| ${kind} | ${describe.toFixed(0)} | ${both.toFixed(0)} | ${(both - describe).toFixed(0)} |`)
})
