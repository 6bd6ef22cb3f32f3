'use strict'
// Two endpoints exchanging flows: sessions, flows, messages, receipts.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const rtmfp = require('..')
const { within, next, connected, collect } = require('./helpers')

test('an endpoint has a peer ID and addresses', (t) => {
  const ep = new rtmfp.Endpoint({ bind: ['127.0.0.1:0'] })
  t.after(() => ep.close())
  assert.match(ep.peerId, /^[0-9a-f]{64}$/)
  assert.match(ep.address, /^127\.0\.0\.1:\d+$/)
  assert.notEqual(ep.address, '127.0.0.1:0')
  assert.deepEqual(ep.addresses, [ep.address])
  assert.equal(ep.closed, false)
  assert.ok(ep instanceof require('node:events').EventEmitter)
})

test('two endpoints exchange flows both ways, bytes exact, promises resolve on delivery', async (t) => {
  const { a, b, sa, sb } = await connected(t)
  assert.equal(sa.role, 'initiator')
  assert.equal(sb.role, 'responder')
  assert.equal(sa.farPeerId, b.peerId)
  assert.equal(sb.farPeerId, a.peerId)
  assert.equal(sa.farAddress, b.address)
  assert.equal(sb.farAddress, a.address)
  assert.equal(sa.nearNonce.length > 0, true)
  assert.deepEqual(sa.farNonce, sb.nearNonce)

  const messages = [
    Buffer.from('hello'),
    Buffer.alloc(0),
    crypto.randomBytes(1000),
    crypto.randomBytes(100_000),
    Buffer.from([0, 255, 0, 1]),
  ]
  for (const [from, to, name] of [
    [sa, sb, 'a->b'],
    [sb, sa, 'b->a'],
  ]) {
    const incoming = next(to, 'flow')
    const flow = from.openFlow(`test ${name}`, { priority: rtmfp.Priority.PRIORITY })
    assert.equal(flow.id, null) // numbered once the I/O thread opened it
    const sent = messages.map((m) => flow.send(m))
    const [recv] = await incoming
    assert.ok(recv instanceof rtmfp.RecvFlow)
    assert.equal(recv.metadata.toString(), `test ${name}`)
    assert.equal(recv.session, to)
    assert.equal(recv.association, null)
    const got = collect(recv, messages.length)
    const onSession = []
    to.on('message', (data, f) => f === recv && onSession.push(data))
    recv.accept()
    assert.deepEqual(await got, messages)
    assert.deepEqual(onSession, messages)
    await within(Promise.all(sent), 'delivery receipts')
    assert.equal(typeof flow.id, 'number')
    assert.equal(flow.session, from)
    assert.equal(flow.priority, rtmfp.Priority.PRIORITY)
    assert.equal(flow.writable, true)

    const ended = next(recv, 'end')
    const complete = next(flow, 'complete')
    flow.close()
    await ended
    await complete
    assert.equal(flow.closed, true)
    assert.equal(recv.closed, true)
    await assert.rejects(flow.send('late'), { code: 'ERR_RTMFP_CLOSED' })
  }
})

test('sends before the flow is numbered keep their order; strings and typed arrays are bytes', async (t) => {
  const { sa, sb } = await connected(t)
  const flow = sa.openFlow(new Uint8Array([1, 2]))
  const data = ['one', new Uint8Array([2, 2]), new Uint16Array([0x0303]), new DataView(new ArrayBuffer(1)), 'five']
  const sent = data.map((d) => flow.send(d))
  const reused = Buffer.from('six')
  sent.push(flow.send(reused))
  reused.write('XXX') // queued sends were copied
  const [recv] = await next(sb, 'flow')
  assert.deepEqual(recv.metadata, Buffer.from([1, 2]))
  const got = collect(recv.accept({ order: 'network' }), 6)
  assert.deepEqual(
    (await got).map((b) => b.toString('hex')),
    ['6f6e65', '0202', '0303', '00', '66697665', '736978'],
  )
  await Promise.all(sent)
})

test('return flows: association both ways', async (t) => {
  const { sa, sb } = await connected(t)
  sb.on('flow', (recv) => {
    recv.accept()
    const back = sb.openFlow('echo', { association: recv })
    recv.on('message', (data) => back.send(data))
  })
  const flow = sa.openFlow('ping')
  const returned = next(sa, 'flow')
  await flow.send('ping 1')
  const [recv] = await returned
  assert.equal(recv.association, flow)
  assert.equal(recv.metadata.toString(), 'echo')
  const got = collect(recv.accept(), 2)
  await flow.send('ping 2')
  assert.deepEqual((await got).map(String), ['ping 1', 'ping 2'])
})

test('reject(code) is seen by the sender: event, rejectCode, rejected sends', async (t) => {
  const { sa, sb } = await connected(t)
  sb.on('flow', (recv) => recv.reject(42))
  const flow = sa.openFlow('unwanted')
  const rejected = next(flow, 'rejected')
  const first = flow.send('maybe').then(
    () => 'delivered',
    (e) => e,
  )
  const [code] = await rejected
  assert.equal(code, 42)
  assert.equal(flow.rejectCode, 42)
  assert.equal(flow.writable, false)
  // Held in the receiver's buffer before the rejection, the first message
  // may have been acknowledged; if not, it was abandoned with the code.
  const outcome = await first
  if (outcome !== 'delivered') {
    assert.equal(outcome.code, 'ERR_RTMFP_FLOW_REJECTED')
    assert.equal(outcome.rejectCode, 42)
  }
  await assert.rejects(flow.send('after'), (e) => {
    assert.ok(e instanceof rtmfp.RtmfpError)
    assert.equal(e.code, 'ERR_RTMFP_FLOW_REJECTED')
    assert.equal(e.rejectCode, 42)
    return true
  })
})

test('a message past its deadline is abandoned: the promise rejects', async (t) => {
  const { sa, sb } = await connected(t)
  const flow = sa.openFlow('slow')
  const [[recv]] = await Promise.all([next(sb, 'flow'), flow.send('first')])
  recv.pause() // nothing is delivered: the sender's window fills
  recv.accept()
  // A message too big for the receiver's buffer, with a short deadline.
  const big = flow.send(Buffer.alloc(2 << 20), { deadline: 200 })
  const child = flow.send('child', { parent: big })
  await assert.rejects(within(big, 'abandonment'), { code: 'ERR_RTMFP_ABANDONED' })
  await assert.rejects(within(child, 'abandonment'), { code: 'ERR_RTMFP_ABANDONED' })
})

test('a full send buffer rejects with ERR_RTMFP_WOULD_BLOCK, then "writable"', async (t) => {
  const { sa, sb } = await connected(t)
  sb.on('flow', (recv) => recv.accept())
  const flow = sa.openFlow('bulk')
  const chunk = Buffer.alloc(1 << 20, 7)
  const results = []
  for (let i = 0; i < 8; i++) results.push(flow.send(chunk).then(() => 'ok', (e) => e.code))
  const writable = next(flow, 'writable', 30_000)
  const outcomes = await within(Promise.all(results), 'receipts', 30_000)
  assert.ok(outcomes.includes('ok'), outcomes.join())
  assert.ok(outcomes.includes('ERR_RTMFP_WOULD_BLOCK'), outcomes.join())
  await writable
  assert.equal(flow.writable, true)
  await within(flow.send('again'), 'a send after writable')
})

test('session.close(): both ends see close; stats while open', async (t) => {
  const { a, sa, sb } = await connected(t)
  await sa.openFlow('counted').send('x')
  const stats = await a.stats()
  assert.equal(stats.sessions, 1)
  assert.ok(stats.io.recvDatagrams > 0)
  const s = await sa.stats()
  assert.ok(s.packetsOut > 0)
  assert.equal(typeof s.erto, 'number')
  const far = next(sb, 'close')
  await within(sa.close(), 'session close')
  assert.equal(sa.closed, true)
  const [reason] = await far
  assert.equal(reason, 'remote')
  assert.equal(await sa.stats(), null)
  assert.throws(() => sa.openFlow('x'), { code: 'ERR_RTMFP_CLOSED' })
  await sa.close() // again: nothing to do
})

test('connect by rtmfp:// URI to a server endpoint', async (t) => {
  const server = new rtmfp.Endpoint({ bind: '127.0.0.1:0', server: true })
  const client = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  t.after(() => Promise.all([server.close(), client.close()]))
  const incoming = next(server, 'session')
  const session = await within(client.connect(`rtmfp://${server.address}/app`), 'connect')
  assert.equal(session.farPeerId, server.peerId)
  const [s] = await incoming
  const flow = session.openFlow('hi')
  // A flow reaches the far end with its first message.
  const sent = flow.send('over a URI')
  const [recv] = await next(s, 'flow')
  const got = collect(recv.accept(), 1)
  assert.equal(String((await got)[0]), 'over a URI')
  await sent
})

test('a second connect to the same peer gives the same session', async (t) => {
  const { a, b, sa } = await connected(t)
  const again = await within(a.connectPeer(b.peerId, b.address), 'second connect')
  assert.equal(again, sa)
})
