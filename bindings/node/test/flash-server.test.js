'use strict'
// Interop with a Flash server we did not write (MonaServer2 in
// scripts/test.sh when MONASERVER2_DIR names a build; our own `rtmfp
// server` otherwise): NetConnections connect to $RTMFP_FLASH_SERVER_URI, one
// publishes through the server, the other plays, and the audio arrives byte
// for byte. Skipped without RTMFP_FLASH_SERVER_URI.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const rtmfp = require('..')
const { within, status } = require('./helpers')

const { NetConnection, NetStream } = rtmfp
const URI = process.env.RTMFP_FLASH_SERVER_URI || ''

test('publish and play through a Flash server', { skip: URI ? false : 'RTMFP_FLASH_SERVER_URI is not set' }, async (t) => {
  const connect = async () => {
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    t.after(() => nc.close())
    await within(nc.connect(URI), 'connect')
    return nc
  }
  const alice = await connect()
  const bob = await connect()
  assert.match(alice.nearID, /^[0-9a-f]{64}$/)
  assert.match(alice.farID, /^[0-9a-f]{64}$/)

  const pub = new NetStream(alice)
  const started = status(pub, 'NetStream.Publish.Start')
  pub.publish('node-interop')
  await started
  const play = new NetStream(bob)
  const frames = Array.from({ length: 30 }, (_, i) =>
    Buffer.concat([Buffer.from([0xaf, 0x01]), Buffer.alloc(20 + i * 5, i)]),
  )
  const got = []
  const all = within(
    new Promise((resolve) =>
      play.on('media', (m) => {
        if (m.type === 'audio') got.push(m.data)
        if (got.length === frames.length) resolve()
      }),
    ),
    'every audio message',
  )
  const playing = status(play, 'NetStream.Play.Start')
  play.play('node-interop')
  await playing
  for (const [i, f] of frames.entries()) assert.equal(await pub.sendAudio(i * 23, f), 1)
  await all
  assert.equal(got.length, frames.length)
  for (const [i, f] of frames.entries()) assert.ok(got[i].equals(f), `audio ${i} byte for byte`)
})
