'use strict'
// The relay fallback (docs/relay-fallback.md) through the Node API: a
// `directTimeout` of 1 µs gives up the direct path before any handshake can
// finish, as two symmetric NATs would, so the player plays through the
// server relay on the same NetStream ("NetStream.Play.Relayed"), the
// publisher is told ("NetStream.Publish.Relayed"), and every message
// arrives, byte for byte.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const rtmfp = require('..')
const { within, status } = require('./helpers')

const { NetConnection, NetStream, Server } = rtmfp

async function connected(t, srv, options = {}) {
  const nc = new NetConnection({ bind: '127.0.0.1:0', ...options })
  t.after(() => nc.close())
  await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
  return nc
}

test('no direct path in time: the player plays through the server relay', async (t) => {
  const srv = new Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const alice = await connected(t, srv)
  const bob = await connected(t, srv, { directTimeout: 0.001 })
  const pub = new NetStream(alice, NetStream.DIRECT_CONNECTIONS)
  const started = status(pub, 'NetStream.Publish.Start')
  await pub.publish('cam')
  await started
  const told = status(pub, 'NetStream.Publish.Relayed')
  const sub = new NetStream(bob, alice.nearID)
  const media = []
  sub.on('media', (m) => media.push(m))
  const relayed = status(sub, 'NetStream.Play.Relayed')
  const playing = status(sub, 'NetStream.Play.Start')
  await sub.play('cam')
  const info = await relayed
  assert.match(info.description, /no direct path to peer/)
  await playing
  assert.match((await told).description, new RegExp(bob.nearID))

  const sent = []
  for (let i = 0; i < 30; i++) {
    const data = crypto.randomBytes(20 + i * 17)
    data[0] = 0xaf
    sent.push(data)
    assert.equal(await within(pub.sendAudio(i * 23, data), 'sendAudio'), 1, 'the relay is one destination')
  }
  await within(
    (async () => {
      while (media.length < sent.length) await new Promise((r) => setTimeout(r, 10))
    })(),
    'every audio message'
  )
  assert.deepEqual(
    media.map((m) => Buffer.from(m.data)),
    sent
  )
})

test('directTimeout is checked', () => {
  assert.throws(() => new NetConnection({ directTimeout: -1 }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})
