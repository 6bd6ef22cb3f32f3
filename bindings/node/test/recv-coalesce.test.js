'use strict'
// Receive coalescing (recvCoalesce, core's recv_coalesce): an endpoint or
// server that naps while datagrams are dense still delivers everything in
// order, the naps show in stats().io, and a negative delay throws.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const rtmfp = require('..')
const { within, next, collect } = require('./helpers')

const { Endpoint, NetConnection, Server } = rtmfp

/** Sends `count` 1 KB messages from a to b; checks they arrive in order. */
async function exchange(a, b, count) {
  const incoming = next(b, 'session')
  const sa = await within(a.connectPeer(b.peerId, b.address), 'connectPeer')
  const [sb] = await incoming
  const flowed = next(sb, 'flow')
  const flow = sa.openFlow('coalesce')
  const messages = Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from([i >> 8, i & 255]), crypto.randomBytes(1000)]))
  const sent = messages.map((m) => flow.send(m))
  const [recv] = await flowed
  const got = collect(recv, count)
  recv.accept()
  assert.deepEqual(await got, messages)
  await within(Promise.all(sent), 'delivery receipts')
}

test('a coalescing pair delivers in order, and the receiver naps', async (t) => {
  const a = new Endpoint({ bind: '127.0.0.1:0', recvCoalesce: 2 })
  const b = new Endpoint({ bind: '127.0.0.1:0', recvCoalesce: 2 })
  t.after(() => Promise.all([a.close(), b.close()]))
  await exchange(a, b, 300)
  // 300 KB over loopback is dense: the receiver read in batches.
  assert.ok((await b.stats()).io.coalescedWakeups > 0)
})

test('recvCoalesce 0 never naps', async (t) => {
  const a = new Endpoint({ bind: '127.0.0.1:0', recvCoalesce: 0 })
  const b = new Endpoint({ bind: '127.0.0.1:0', recvCoalesce: 0 })
  t.after(() => Promise.all([a.close(), b.close()]))
  await exchange(a, b, 100)
  assert.equal((await a.stats()).io.coalescedWakeups, 0)
  assert.equal((await b.stats()).io.coalescedWakeups, 0)
})

test('a server takes recvCoalesce', async (t) => {
  for (const recvCoalesce of [0, 5, 1000]) {
    // 1000 ms is taken as the most, 10 ms.
    const srv = new Server({ bind: '127.0.0.1:0', recvCoalesce })
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    try {
      await within(nc.connect(`rtmfp://${srv.address}/app/k`), 'connect')
      await within(nc.registerName('coalesced'), 'registerName')
      assert.equal(await within(nc.lookupName('coalesced'), 'lookupName'), nc.nearID)
    } finally {
      await nc.close()
      await srv.close()
    }
  }
})

test('a negative or non-number recvCoalesce throws', () => {
  for (const Make of [Endpoint, Server]) {
    for (const [value, why] of [
      [-1, 'options.recvCoalesce must be >= 0 ms, got -1'],
      ['1', 'options.recvCoalesce must be a duration, got the string "1"'],
    ]) {
      assert.throws(
        () => new Make({ bind: '127.0.0.1:0', recvCoalesce: value }),
        (e) => {
          assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT', `${Make.name} ${value}`)
          assert.equal(e.message, why)
          return true
        },
      )
    }
  }
})
