'use strict'
// Errors: bad arguments throw at once, unreachable hosts reject in bounded
// time, and calls after close() fail with ERR_RTMFP_CLOSED.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const dgram = require('node:dgram')
const rtmfp = require('..')
const { within, next, pair, connected } = require('./helpers')

const INVALID = { code: 'ERR_RTMFP_INVALID_ARGUMENT' }
const CLOSED = { code: 'ERR_RTMFP_CLOSED' }

// A UDP socket that takes datagrams and never answers: an unreachable peer.
async function silentPeer(t) {
  const sock = dgram.createSocket('udp4')
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve))
  t.after(() => sock.close())
  return `127.0.0.1:${sock.address().port}`
}

test('errors are RtmfpErrors with a code', () => {
  let caught
  try {
    new rtmfp.Endpoint({ bind: 'not an address' })
  } catch (e) {
    caught = e
  }
  assert.ok(caught instanceof rtmfp.RtmfpError)
  assert.ok(caught instanceof Error)
  assert.equal(caught.code, rtmfp.codes.INVALID_ARGUMENT)
  assert.match(caught.message, /bad bind address/)
  assert.equal(rtmfp.codes.CLOSED, 'ERR_RTMFP_CLOSED')
})

test('bad endpoint options throw synchronously', () => {
  assert.throws(() => new rtmfp.Endpoint('127.0.0.1:0'), INVALID)
  assert.throws(() => new rtmfp.Endpoint({ bind: 'localhost:0' }), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /IP literal/)
    return true
  })
  assert.throws(() => new rtmfp.Endpoint({ bind: 70000 }), INVALID)
  assert.throws(() => new rtmfp.Endpoint({ bind: [] }), INVALID)
  assert.throws(() => new rtmfp.Endpoint({ server: 'yes' }), INVALID)
  assert.throws(() => new rtmfp.Endpoint({ openTimeout: -1 }), /openTimeout/)
  assert.throws(() => new rtmfp.Endpoint({ idleTimeout: NaN }), INVALID)
})

test('binding a port in use fails with ERR_RTMFP_IO', (t) => {
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  t.after(() => ep.close())
  assert.throws(() => new rtmfp.Endpoint({ bind: ep.address }), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_IO')
    assert.match(e.message, /cannot bind/)
    return true
  })
})

test('bad URIs throw synchronously; an unknown host rejects', async (t) => {
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  t.after(() => ep.close())
  for (const uri of ['http://example.com/app', 'rtmfp://', 'rtmfp://host:notaport/app', 'rtmfp://[::1/x', '']) {
    assert.throws(() => ep.connect(uri), (e) => {
      assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT', uri)
      assert.match(e.message, /rtmfp:\/\/host\[:port\]/)
      return true
    })
  }
  assert.throws(() => ep.connect(42), INVALID)
  assert.throws(() => ep.connect('rtmfp://127.0.0.1/app', { timeout: -5 }), INVALID)
  await assert.rejects(within(ep.connect('rtmfp://no-such-host.invalid/app'), 'resolution'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /no-such-host\.invalid/)
    return true
  })
})

test('bad peer IDs and addresses throw synchronously', (t) => {
  const [a, b] = pair(t)
  assert.throws(() => a.connectPeer('abc', b.address), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /64 hex digits/)
    return true
  })
  assert.throws(() => a.connectPeer('zz'.repeat(32), b.address), INVALID)
  assert.throws(() => a.connectPeer(b.peerId, 'nope'), INVALID)
  assert.throws(() => a.connectPeer(b.peerId, []), INVALID)
  assert.throws(() => a.connectPeer(b.peerId, { address: '127.0.0.1', port: -1 }), INVALID)
  assert.throws(() => a.connectPeer(b.peerId, [b.address, 17]), /addresses\[1\]/)
})

test('an unreachable host rejects with ERR_RTMFP_TIMEOUT in bounded time', async (t) => {
  const silent = await silentPeer(t)
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  t.after(() => ep.close())
  let start = Date.now()
  await assert.rejects(ep.connect(`rtmfp://${silent}/app`, { timeout: 300 }), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_TIMEOUT')
    assert.match(e.message, /within 300 ms/)
    return true
  })
  assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`)
  start = Date.now()
  await assert.rejects(ep.connectPeer('ab'.repeat(32), silent, { timeout: 300 }), { code: 'ERR_RTMFP_TIMEOUT' })
  assert.ok(Date.now() - start < 3000)
  // The opening was abandoned: nothing is left waiting.
  assert.equal((await ep.stats()).openings, 0)
})

// A loopback port nobody listens on: datagrams to it draw ICMP port
// unreachable.
async function closedPort() {
  const sock = dgram.createSocket('udp4')
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve))
  const address = `127.0.0.1:${sock.address().port}`
  await new Promise((resolve) => sock.close(resolve))
  return address
}

test('a closed port fails on the ICMP error, not the timeout, and names the address', async (t) => {
  const dead = await closedPort()
  // Timeouts far longer than the test's own: only the ICMP error can end these.
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0', openTimeout: 300_000 })
  t.after(() => ep.close())
  await assert.rejects(within(ep.connect(`rtmfp://${dead}/app`, { timeout: 300_000 }), 'connect'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_SESSION')
    assert.ok(e.message.includes(`${dead} is unreachable`), e.message)
    return true
  })
  const nc = new rtmfp.NetConnection({ bind: '127.0.0.1:0' })
  t.after(() => nc.close())
  await assert.rejects(within(nc.connect(`rtmfp://${dead}/app`), 'NetConnection connect'), (e) => {
    assert.ok(e.message.includes(`${dead} is unreachable`), e.message)
    return true
  })
})

test("the endpoint's openTimeout bounds an opening too", async (t) => {
  const silent = await silentPeer(t)
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0', openTimeout: 400 })
  t.after(() => ep.close())
  const start = Date.now()
  await assert.rejects(within(ep.connectPeer('cd'.repeat(32), silent), 'open timeout'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_TIMEOUT')
    assert.match(e.message, /open timeout/)
    return true
  })
  assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`)
})

test('bad flow arguments throw synchronously', async (t) => {
  const { sa, sb } = await connected(t)
  assert.throws(() => sa.openFlow('x', { priority: 8 }), INVALID)
  assert.throws(() => sa.openFlow('x', { priority: 1.5 }), INVALID)
  assert.throws(() => sa.openFlow(Buffer.alloc(513)), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /512/)
    return true
  })
  assert.throws(() => sa.openFlow(123), INVALID)
  assert.throws(() => sa.openFlow('x', { association: {} }), INVALID)
  const flow = sa.openFlow('x')
  const other = sa.openFlow('y')
  assert.throws(() => flow.send(42), /data must be/)
  assert.throws(() => flow.send('x', { deadline: -1 }), INVALID)
  assert.throws(() => flow.send('x', { retransmit: 'no' }), INVALID)
  assert.throws(() => flow.send('x', { parent: Promise.resolve() }), INVALID)
  assert.throws(() => flow.send('x', { parent: other.send('p') }), /on this flow/)
  const incoming = next(sb, 'flow')
  await flow.send('x')
  const [recv] = await incoming
  assert.throws(() => recv.accept({ order: 'fifo' }), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /sequence/)
    return true
  })
  assert.throws(() => recv.reject(-1), INVALID)
  assert.throws(() => sa.close({ abrupt: 1 }), INVALID)
})

test('calls after close() reject or throw with ERR_RTMFP_CLOSED', async (t) => {
  const { a, b, sa } = await connected(t)
  const flow = sa.openFlow('before')
  await flow.send('sent before close')
  const sessionClosed = next(sa, 'close')
  const flowClosed = next(flow, 'close')
  const endpointClosed = next(a, 'close')
  const closing = a.close()
  assert.equal(a.closed, true)
  assert.equal(a.close(), closing) // the same promise
  assert.equal(await closing, true)
  await endpointClosed
  await sessionClosed
  await flowClosed
  assert.equal(sa.closed, true)

  await assert.rejects(a.connect('rtmfp://127.0.0.1:1935/app'), CLOSED)
  await assert.rejects(a.connectPeer(b.peerId, b.address), CLOSED)
  await assert.rejects(a.stats(), CLOSED)
  await assert.rejects(flow.send('after'), CLOSED)
  assert.throws(() => sa.openFlow('after'), CLOSED)
  await sa.close() // already closed: nothing to do
  assert.equal(await a.close(), true)
  // Bad arguments still throw first.
  assert.throws(() => a.connect(1), INVALID)
})

test('a pending connect is rejected by close()', async (t) => {
  const silent = await silentPeer(t)
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  const pending = ep.connectPeer('ef'.repeat(32), silent)
  const outcome = pending.then(
    () => null,
    (e) => e,
  )
  // Let the request reach the I/O thread, then close.
  await new Promise((resolve) => setTimeout(resolve, 50))
  await ep.close()
  const err = await within(outcome, 'rejection')
  assert.equal(err && err.code, 'ERR_RTMFP_CLOSED')
})
