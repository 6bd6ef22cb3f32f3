'use strict'
// `turn`: every datagram through a real TURN relay (coturn, started by
// scripts/test.sh as $RTMFP_TURN_URI).  A DIRECT_CONNECTIONS stream between
// two relayed NetConnections arrives byte for byte, the publisher sees its
// subscriber at the relay, not at its socket; a wrong password makes
// connect() throw ERR_RTMFP_IO naming the 401; a URI that does not parse
// throws ERR_RTMFP_INVALID_ARGUMENT.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const rtmfp = require('..')
const { within, next, status } = require('./helpers')

const { NetConnection, NetStream, Server, Endpoint } = rtmfp
const TURN = process.env.RTMFP_TURN_URI || ''
const skip = TURN ? false : 'RTMFP_TURN_URI is not set (scripts/test.sh sets it)'

function server(t) {
  const srv = new Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  return srv
}

async function relayed(t, srv, turn = TURN) {
  const nc = new NetConnection({ bind: '127.0.0.1:0', turn })
  t.after(() => nc.close())
  await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
  return nc
}

test('a direct stream between two relayed NetConnections', { skip }, async (t) => {
  const srv = server(t)
  const alice = await relayed(t, srv)
  const bob = await relayed(t, srv)
  assert.match(alice.relayedAddress, /^127\.0\.0\.1:\d+$/)
  assert.notEqual(alice.relayedAddress, alice.address)
  const pub = new NetStream(alice, NetStream.DIRECT_CONNECTIONS)
  const started = status(pub, 'NetStream.Publish.Start')
  await pub.publish('cam')
  await started
  const opened = next(pub, 'peerStreamOpened')
  const sub = new NetStream(bob, alice.nearID)
  const media = []
  sub.on('media', (m) => media.push(m))
  const playing = status(sub, 'NetStream.Play.Start')
  await sub.play('cam')
  await playing
  const [subscriber] = await opened
  assert.equal(subscriber.farID, bob.nearID)
  assert.notEqual(subscriber.farAddress, bob.address, 'seen at the relay, not the socket')

  const sent = []
  for (let i = 0; i < 40; i++) {
    const data = crypto.randomBytes(20 + i * 13)
    data[0] = 0xaf
    sent.push(data)
    assert.equal(await within(pub.sendAudio(i * 23, data), 'sendAudio'), 1)
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

test('wrong TURN credentials make connect() throw the reason', { skip }, (t) => {
  const srv = server(t)
  const [userPass, host] = TURN.slice('turn://'.length).split('@')
  const bad = `turn://${userPass.split(':')[0]}:nope@${host}`
  const nc = new NetConnection({ bind: '127.0.0.1:0', turn: bad })
  t.after(() => nc.close())
  // Like a bind error, it throws at connect(): the relay is allocated
  // before anything is sent.
  assert.throws(() => nc.connect(`rtmfp://${srv.address}/app`), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_IO')
    assert.match(e.message, /401/)
    return true
  })
})

test('a TURN URI that does not parse throws', () => {
  assert.throws(() => new Endpoint({ bind: '127.0.0.1:0', turn: 'turn://user@host' }), {
    code: 'ERR_RTMFP_INVALID_ARGUMENT',
  })
  assert.throws(() => new Endpoint({ bind: '127.0.0.1:0', turn: 42 }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})
