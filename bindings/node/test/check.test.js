'use strict'
// rtmfp.check(): whether UDP reaches a server, at what address it sees us,
// what the NAT does; through a TURN relay ($RTMFP_TURN_URI, started by
// scripts/test.sh), whether the relay works.  The words are the core's.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const rtmfp = require('..')
const { within } = require('./helpers')

test('a server on loopback is reached, with no NAT', async (t) => {
  const srv = new rtmfp.Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const r = await within(rtmfp.check(`rtmfp://${srv.address}`, { bind: '127.0.0.1:0' }), 'check')
  assert.equal(r.reached, true)
  assert.equal(r.error, null)
  assert.equal(r.server, srv.address)
  assert.ok(r.rtt >= 0)
  assert.match(r.publicAddress, /^127\.0\.0\.1:\d+$/)
  assert.equal(r.mapping, null, 'no check service: not measured')
  assert.deepEqual(r.lines.slice(0, 3).map(([k]) => k), ['server', 'udp', 'public'])
  assert.equal(r.lines.at(-1)[0], 'verdict')
  assert.match(r.text, /^server {6}/)
  assert.match(r.text, /no NAT/)
})

test('a closed port is not reached, and the ICMP error ends it quickly', async () => {
  const started = Date.now()
  const r = await within(rtmfp.check('rtmfp://127.0.0.1:9', { bind: '127.0.0.1:0' }), 'check')
  assert.equal(r.reached, false)
  assert.match(r.error, /unreachable/)
  assert.equal(r.verdict, 'UDP does not reach the server')
  assert.ok(Date.now() - started < 5000)
})

const TURN = process.env.RTMFP_TURN_URI || ''
test('a TURN proxy with a wrong password is named', { skip: TURN ? false : 'RTMFP_TURN_URI is not set' }, async (t) => {
  const srv = new rtmfp.Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const [userPass, host] = TURN.slice('turn://'.length).split('@')
  const bad = `turn://${userPass.split(':')[0]}:nope@${host}`
  const r = await within(rtmfp.check(`rtmfp://${srv.address}`, { bind: '127.0.0.1:0', turn: bad }), 'check')
  assert.equal(r.reached, false)
  assert.match(Object.fromEntries(r.lines).turn, /^the TURN proxy does not work/)
  const good = await within(rtmfp.check(`rtmfp://${srv.address}`, { bind: '127.0.0.1:0', turn: TURN }), 'check')
  assert.equal(good.reached, true)
})

test('bad arguments reject', async () => {
  await assert.rejects(rtmfp.check('http://127.0.0.1'), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  await assert.rejects(rtmfp.check('rtmfp://127.0.0.1', { stun: 'nope' }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})
