'use strict'
// node --test: the native addon reports the Cargo version of rtmfp-core,
// which is also the npm package version.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const rtmfp = require('..')

const pkgDir = path.resolve(__dirname, '..')
const repo = path.resolve(pkgDir, '..', '..')

// The value of `key = "..."` inside [table] of a Cargo.toml (enough TOML for
// the manifests of this repository).
function tomlString(file, table, key) {
  let current = null
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim()
    const header = line.match(/^\[([^\]]+)\]$/)
    if (header) {
      current = header[1].trim()
      continue
    }
    const kv = line.match(/^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/)
    if (current === table && kv && kv[1] === key) {
      const str = kv[2].match(/^"([^"]*)"/)
      return str ? str[1] : kv[2]
    }
  }
  return undefined
}

// rtmfp-core's version, following `version.workspace = true`.
function cargoVersion() {
  const core = path.join(repo, 'rtmfp-core', 'Cargo.toml')
  if (tomlString(core, 'package', 'version.workspace') === 'true') {
    return tomlString(path.join(repo, 'Cargo.toml'), 'workspace.package', 'version')
  }
  return tomlString(core, 'package', 'version')
}

test('version() is a semver string', () => {
  assert.equal(typeof rtmfp.version(), 'string')
  assert.match(rtmfp.version(), /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/)
})

test('version() equals package.json version', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
  assert.equal(rtmfp.version(), pkg.version)
})

test('version() equals the Cargo version of rtmfp-core', () => {
  const expected = cargoVersion()
  assert.ok(expected, 'could not read the version from Cargo.toml')
  assert.equal(rtmfp.version(), expected)
})
