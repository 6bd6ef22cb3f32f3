'use strict'
// node --test: the options interfaces of lib/index.d.ts are core's table
// of options (rtmfp_core::host::options), as scripts/option_stubs.py
// writes them from the table this addon was built with; its CheckReport
// is the addon's NativeCheckReport, as scripts/event_stubs.py writes it.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const native = require('../index.js')

const repo = path.resolve(__dirname, '..', '..', '..')
const generator = path.join(repo, 'scripts', 'option_stubs.py')
const eventGenerator = path.join(repo, 'scripts', 'event_stubs.py')
const python = process.env.RTMFP_PYTHON || 'python3'
const HAVE_PYTHON = spawnSync(python, ['--version'], { stdio: 'ignore' }).status === 0

test('the generated options interfaces are fresh', { skip: HAVE_PYTHON ? false : `${python} is not installed` }, () => {
  const r = spawnSync(python, [generator, '--check', '--table', '-'], { input: native.optionTable(), encoding: 'utf8' })
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`)
})

test('the generated CheckReport interface is fresh', { skip: HAVE_PYTHON ? false : `${python} is not installed` }, () => {
  const r = spawnSync(python, [eventGenerator, '--check', '--node'], { encoding: 'utf8' })
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}`)
})

test('every row of the table is typed in lib/index.d.ts, under its camelCase key', () => {
  const rows = JSON.parse(native.optionTable())
  assert.ok(rows.length >= 33)
  const dts = fs.readFileSync(path.join(__dirname, '..', 'lib', 'index.d.ts'), 'utf8')
  // Rows a wrapper expresses another way: a keys file is `keys` as a
  // path, the asks are the hooks, a NetConnection asks per NetStream.
  const expressed = { keysFile: 'keys', askConnect: 'onConnect', askPublish: 'onPublish', askPlay: 'onPlay', peerConnectMode: 'onPeerConnect' }
  for (const row of rows) {
    const key = expressed[row.camel] ?? row.camel
    assert.match(dts, new RegExp(`^\\s+${key}\\??[(:]`, 'm'), `${row.name} (${key}) is not in lib/index.d.ts`)
  }
})
