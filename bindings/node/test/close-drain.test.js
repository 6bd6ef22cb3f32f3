'use strict'
// close() delivers what reached the endpoint before it was called: a
// 'flow' event that was on its way to JS can still be accepted, and the
// messages that already arrived on that flow come before 'close'.
//
// The race is made certain rather than likely: the sender runs in a
// worker thread while this thread is blocked (Atomics.wait), so that the
// receiver's 'flow' event is still queued for this thread when the
// sender's send() resolves (the receiving endpoint has the message) and
// close() is called.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const rtmfp = require('..')
const { within, next, connected } = require('./helpers')

const PKG = path.resolve(__dirname, '..')

// The worker: connects to the peer in workerData, sends one message,
// reports that send() resolved (slot 0 = 1, or 2 on failure), then stays
// open until told to close.
const SENDER = `
const { workerData, parentPort } = require('node:worker_threads')
const { Endpoint } = require(workerData.pkg)
const flag = new Int32Array(workerData.flag)
const alice = new Endpoint({ bind: '127.0.0.1:0' })
async function main() {
  const session = await alice.connectPeer(workerData.peerId, workerData.address, { timeout: 10000 })
  await session.openFlow('chat').send('hello')
}
main().then(
  () => Atomics.store(flag, 0, 1),
  (e) => { parentPort.postMessage(String(e)); Atomics.store(flag, 0, 2) },
).finally(() => {
  Atomics.notify(flag, 0)
  parentPort.once('message', () => alice.close().then(() => parentPort.close()))
})
`

async function sendWhileBlocked(t, onBlockedEnd) {
  const bob = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  const got = []
  const order = []
  bob.on('session', (session) => {
    session.on('flow', (flow) => {
      order.push('flow')
      flow.accept().on('message', (data) => {
        order.push('message')
        got.push(data.toString())
      })
    })
  })
  bob.on('close', () => order.push('close'))
  const flag = new Int32Array(new SharedArrayBuffer(8))
  const worker = new Worker(SENDER, {
    eval: true,
    workerData: { pkg: PKG, peerId: bob.peerId, address: bob.address, flag: flag.buffer },
  })
  t.after(() => worker.terminate())
  const errors = []
  worker.on('message', (m) => errors.push(m))
  // Let the session open (this thread must run for bob to answer it),
  // then block until alice's send() resolved: bob's endpoint has the
  // message; its 'flow' event waits for this thread.
  await within(next(bob, 'session'), "bob's session")
  // 'not-equal': it had settled before this thread got here.
  const waited = Atomics.wait(flag, 0, 0, 10_000)
  assert.notEqual(waited, 'timed-out', 'the send did not settle within 10 s')
  assert.equal(Atomics.load(flag, 0), 1, `the send failed: ${errors.join(', ')}`)
  const closing = onBlockedEnd(bob)
  // Alice closes only after bob: her close would race with bob's accept
  // (a session that the far end closed has no flows left to accept).
  const closed = closing.finally(() => worker.postMessage('close'))
  return { closed, got, order }
}

test("close() right after the far end has a message: the 'flow' handler still accepts, the message comes before 'close'", async (t) => {
  const { closed, got, order } = await sendWhileBlocked(t, (bob) => bob.close())
  await within(closed, 'bob.close()')
  assert.deepEqual(got, ['hello'])
  assert.deepEqual(order, ['flow', 'message', 'close'])
})

test('while close() settles, the endpoint is closed to everything but the flow decisions', async (t) => {
  let connect
  const { closed, got } = await sendWhileBlocked(t, (bob) => {
    const first = bob.close()
    assert.equal(bob.close(), first)
    assert.equal(bob.closed, true)
    connect = bob.connectPeer('00'.repeat(32), '127.0.0.1:9')
    return first
  })
  await assert.rejects(connect, { code: 'ERR_RTMFP_CLOSED' })
  assert.equal(await within(closed, 'bob.close()'), true)
  assert.deepEqual(got, ['hello'])
})

// The rule of every language (core's AfterClose::Drain): after close()
// the object's last events, the ones that say how the close went, are
// still delivered, in order, and then it ends ('close'); close() resolves
// after both.

test("close(): the session's 'close' (reason local) comes before the endpoint's 'close'", async (t) => {
  const { a, sa } = await connected(t)
  const order = []
  sa.on('close', (reason) => order.push(`session ${reason}`))
  a.on('close', () => order.push('endpoint'))
  assert.equal(await within(a.close(), 'a.close()'), true)
  assert.deepEqual(order, ['session local', 'endpoint'])
})

test("close(): a NetConnection's \"NetConnection.Connect.Closed\" comes before its 'close'", async (t) => {
  const srv = new rtmfp.Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const nc = new rtmfp.NetConnection({ bind: '127.0.0.1:0' })
  await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
  const order = []
  nc.on('netStatus', (info) => order.push(info.code))
  nc.on('close', () => order.push('close'))
  assert.equal(await within(nc.close(), 'nc.close()'), true)
  assert.deepEqual(order, ['NetConnection.Connect.Closed', 'close'])
})

test("close(): a server's last 'disconnect' comes before its 'close'", async (t) => {
  const srv = new rtmfp.Server({ bind: '127.0.0.1:0' })
  const nc = new rtmfp.NetConnection({ bind: '127.0.0.1:0' })
  t.after(() => nc.close())
  const connected = next(srv, 'connect')
  await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
  await connected
  const order = []
  srv.on('disconnect', () => order.push('disconnect'))
  srv.on('close', () => order.push('close'))
  await within(srv.close(), 'srv.close()')
  assert.deepEqual(order, ['disconnect', 'close'])
})
