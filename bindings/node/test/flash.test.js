'use strict'
// The Flash layer: a Node rendezvous Server with Node NetConnections;
// DIRECT_CONNECTIONS publish/play by peer ID, onPeerConnect, developer
// keys, registerName/lookupName, errors and lifetime.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const dgram = require('node:dgram')
const { spawn } = require('node:child_process')
const rtmfp = require('..')
const { within, next, status } = require('./helpers')

const { NetConnection, NetStream, Server } = rtmfp
const HEX64 = /^[0-9a-f]{64}$/

/** A server on loopback; `t.after` closes it. */
function server(t, options = {}) {
  const srv = new Server({ bind: '127.0.0.1:0', ...options })
  t.after(() => srv.close())
  return srv
}

/** A NetConnection connected to `srv` (app "app", or `path`). */
async function peer(t, srv, path = 'app', options = {}) {
  const nc = new NetConnection({ bind: '127.0.0.1:0', ...options })
  t.after(() => nc.close())
  await within(nc.connect(`rtmfp://${srv.address}/${path}`), 'connect')
  return nc
}

test('DIRECT_CONNECTIONS: a Node server introduces two Node peers; media by peer ID, byte-exact', async (t) => {
  const srv = server(t)
  const connects = []
  srv.on('connect', (c) => connects.push(c))
  const introduced = next(srv, 'introduce')
  const [alice, bob] = [await peer(t, srv), await peer(t, srv)]

  // Flash's properties.
  for (const nc of [alice, bob]) {
    assert.equal(nc.connected, true)
    assert.match(nc.nearID, HEX64)
    assert.equal(nc.farID, srv.peerId)
    assert.match(nc.nearNonce, /^[0-9a-f]+$/)
    assert.match(nc.farNonce, /^[0-9a-f]+$/)
    assert.equal(nc.farAddress, srv.address)
  }
  assert.notEqual(alice.nearID, bob.nearID)
  const sessions = await srv.sessions()
  assert.deepEqual(sessions.map((c) => c.peerId).sort(), [alice.nearID, bob.nearID].sort())
  assert.ok(sessions.every((c) => c.connected && c.app === 'app'))
  assert.deepEqual(connects.map((c) => c.peerId).sort(), [alice.nearID, bob.nearID].sort())

  // Alice publishes to peers; Bob plays her stream by her peer ID.
  const pub = new NetStream(alice, NetStream.DIRECT_CONNECTIONS)
  assert.equal(pub.kind, 'direct')
  assert.equal(alice.maxPeerConnections, 8)
  const asked = []
  pub.onPeerConnect = (subscriber) => {
    asked.push(subscriber)
    return true
  }
  const started = status(pub, 'NetStream.Publish.Start')
  await pub.publish('live')
  await started
  const opened = next(pub, 'peerStreamOpened')
  const sub = new NetStream(bob, alice.nearID)
  assert.equal(sub.farID, alice.nearID)
  const playing = status(sub, 'NetStream.Play.Start')
  const media = []
  sub.on('media', (m) => media.push(m))
  await sub.play('live')
  await playing
  const [subscriber] = await opened
  assert.equal(asked.length, 1)
  assert.equal(asked[0].farID, bob.nearID)
  assert.equal(subscriber.farID, bob.nearID)
  assert.equal(subscriber.name, 'live')
  assert.deepEqual(pub.peerStreams, [subscriber])
  const intro = (await introduced)[0]
  assert.equal(intro.peerId, alice.nearID)

  // Audio, video and data messages: every one arrives, in order, exact.
  // Audio and video go on flows of their own: each arrives in order.
  const sent = []
  const counts = []
  for (let i = 0; i < 60; i++) {
    const data = crypto.randomBytes(1 + crypto.randomInt(i % 10 === 0 ? 30_000 : 1_500))
    const type = i % 3 === 0 ? 'video' : 'audio'
    if (type === 'video') data[0] = i === 0 ? 0x17 : 0x27 // AVC key frame, then inter frames
    sent.push({ type, timestamp: i * 20, data })
    counts.push(type === 'video' ? pub.sendVideo(i * 20, data) : pub.sendAudio(i * 20, data))
  }
  counts.push(pub.send('onCue', 'text', 42, { nested: [true, null] }))
  assert.deepEqual(await within(Promise.all(counts), 'sends'), new Array(61).fill(1))
  await within(
    (async () => {
      while (media.length < 61) await new Promise((r) => setTimeout(r, 20))
    })(),
    `61 messages (got ${media.length})`,
  )
  assert.equal(media.length, 61)
  for (const type of ['audio', 'video']) {
    const want = sent.filter((m) => m.type === type)
    const got = media.filter((m) => m.type === type)
    assert.equal(got.length, want.length, type)
    for (let i = 0; i < want.length; i++) {
      assert.equal(got[i].timestamp, want[i].timestamp, `${type} ${i}`)
      assert.ok(got[i].data.equals(want[i].data), `${type} ${i} differs`)
    }
  }
  const data = media.filter((m) => m.type === 'data')
  assert.equal(data.length, 1)
  assert.equal(data[0].messageType, rtmfp.MessageType.DATA)
  assert.deepEqual(data[0].values, ['onCue', 'text', 42, { nested: [true, null] }])

  // Closing the publishing stream ends the subscriber's play.
  const gone = next(pub, 'peerStreamClosed')
  const unpublished = status(sub, 'NetStream.Play.UnpublishNotify')
  pub.close()
  assert.equal(pub.closed, true)
  assert.equal((await gone)[0].farID, bob.nearID)
  await unpublished
  assert.deepEqual(pub.peerStreams, [])
  await assert.rejects(pub.sendAudio(0, Buffer.alloc(1)), { code: 'ERR_RTMFP_CLOSED' })
})

test('onPeerConnect: the second subscriber is rejected and sees NetStream.Connect.Rejected', async (t) => {
  const srv = server(t)
  const alice = await peer(t, srv)
  const bob = await peer(t, srv)
  const carol = await peer(t, srv)
  const pub = new NetStream(alice, NetStream.DIRECT_CONNECTIONS)
  let asked = 0
  pub.onPeerConnect = (subscriber) => {
    asked++
    return subscriber.farID === bob.nearID
  }
  await pub.publish('cam')

  const first = new NetStream(bob, alice.nearID)
  const accepted = status(first, 'NetStream.Play.Start')
  first.play('cam')
  await accepted

  const second = new NetStream(carol, alice.nearID)
  const rejected = status(second, 'NetStream.Connect.Rejected')
  second.play('cam')
  const info = await rejected
  assert.equal(info.level, 'error')
  assert.equal(asked, 2)
  assert.equal(pub.peerStreams.length, 1)
  assert.equal(pub.peerStreams[0].farID, bob.nearID)

  // A callback that throws rejects too, and the error is reported.
  const dave = await peer(t, srv)
  pub.onPeerConnect = () => {
    throw new Error('policy bug')
  }
  const reported = next(pub, 'error')
  const third = new NetStream(dave, alice.nearID)
  const rejectedToo = status(third, 'NetStream.Connect.Rejected')
  third.play('cam')
  const [err] = await reported
  assert.match(err.message, /policy bug/)
  await rejectedToo
  assert.equal(pub.peerStreams.length, 1)
})

test('maxPeerConnections: subscribers beyond it are rejected', async (t) => {
  const srv = server(t)
  const alice = await peer(t, srv, 'app', { maxPeerConnections: 1 })
  assert.equal(alice.maxPeerConnections, 1)
  const [bob, carol] = [await peer(t, srv), await peer(t, srv)]
  const pub = new NetStream(alice, NetStream.DIRECT_CONNECTIONS)
  await pub.publish('one')
  const first = new NetStream(bob, alice.nearID)
  const ok = status(first, 'NetStream.Play.Start')
  first.play('one')
  await ok
  const second = new NetStream(carol, alice.nearID)
  const refused = status(second, 'NetStream.Connect.Rejected')
  second.play('one')
  assert.match((await refused).description, /max/)
  alice.maxPeerConnections = 2
  assert.throws(() => {
    alice.maxPeerConnections = -1
  }, { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})

test('developer keys: a bad key gives NetConnection.Connect.Rejected', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rtmfp-keys-')), 'keys.txt')
  fs.writeFileSync(file, '# keys\nfile-key\n\n')
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }))
  for (const keys of [['good-key', 'other'], file]) {
    const srv = server(t, { keys })
    const good = Array.isArray(keys) ? 'good-key' : 'file-key'
    const rejected = next(srv, 'reject')

    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    t.after(() => nc.close())
    const seen = []
    nc.on('netStatus', (info) => seen.push(info.code))
    await assert.rejects(within(nc.connect(`rtmfp://${srv.address}/app/bad-key`), 'rejection'), (e) => {
      assert.equal(e.code, 'ERR_RTMFP_REJECTED')
      assert.equal(e.info.code, 'NetConnection.Connect.Rejected')
      return true
    })
    assert.equal(seen[0], 'NetConnection.Connect.Rejected')
    assert.equal(nc.connected, false)
    assert.equal((await rejected)[0].peerId, nc.nearID)

    // The same NetConnection connects again (a new identity) with a good key.
    const before = nc.nearID
    await within(nc.connect(`rtmfp://${srv.address}/app/${good}`), 'connect')
    assert.equal(nc.connected, true)
    assert.notEqual(nc.nearID, before)
  }
  assert.throws(() => new Server({ keys: 42 }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => new Server({ bind: '127.0.0.1:0', keys: '/no/such/keys/file' }), { code: 'ERR_RTMFP_IO' })
})

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve))
}

test('registerName / lookupName', async (t) => {
  const srv = server(t)
  const registered = next(srv, 'registerName')
  const [alice, bob] = [await peer(t, srv), await peer(t, srv)]
  await within(alice.registerName('alice'), 'registerName')
  assert.deepEqual((await registered)[0], { peerId: alice.nearID, name: 'alice' })
  assert.equal(await within(bob.lookupName('alice'), 'lookupName'), alice.nearID)
  await assert.rejects(bob.lookupName('nobody'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_CALL_FAILED')
    assert.equal(e.info.code, 'NetConnection.Call.Failed')
    return true
  })
  await assert.rejects(bob.registerName('alice'), { code: 'ERR_RTMFP_CALL_FAILED' })
  assert.deepEqual((await srv.sessions()).find((c) => c.peerId === alice.nearID).names, ['alice'])
  // The name goes with its holder.
  await alice.close()
  await within(
    (async () => {
      for (;;) {
        try {
          await bob.lookupName('alice')
        } catch (e) {
          if (e.code === 'ERR_RTMFP_CALL_FAILED') return
          throw e
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    })(),
    'the name to go',
  )
  assert.throws(() => bob.registerName(''), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => bob.lookupName(7), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})

test('publish and play through the server', async (t) => {
  const srv = server(t)
  const published = next(srv, 'publish')
  const [alice, bob] = [await peer(t, srv), await peer(t, srv)]
  const pub = new NetStream(alice)
  assert.equal(pub.kind, 'server')
  const started = status(pub, 'NetStream.Publish.Start')
  pub.publish('show')
  await started
  assert.equal((await published)[0].name, 'show')
  const play = new NetStream(bob)
  const got = next(play, 'media')
  const playing = status(play, 'NetStream.Play.Start')
  play.play('show')
  await playing
  // The server relays video from a key frame on.
  const frame = Buffer.from('\x17frame', 'latin1')
  assert.equal(await pub.sendVideo(5, frame), 1)
  const [m] = await got
  assert.equal(m.type, 'video')
  assert.ok(m.data.equals(frame))
  const streams = await srv.streams()
  assert.equal(streams.length, 1)
  assert.equal(streams[0].name, 'show')
  assert.equal(streams[0].publisherId, alice.nearID)
})

test('Flash errors: bad arguments throw, state and closed errors, unreachable server', async (t) => {
  const nc = new NetConnection({ bind: '127.0.0.1:0' })
  t.after(() => nc.close())
  assert.equal(nc.nearID, null)
  assert.equal(nc.connected, false)
  assert.throws(() => new NetStream(nc, NetStream.DIRECT_CONNECTIONS), { code: 'ERR_RTMFP_STATE' })
  assert.throws(() => new NetStream({}), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => nc.lookupName('x'), { code: 'ERR_RTMFP_STATE' })
  assert.throws(() => nc.connect('http://example.com/app'), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => nc.connect(42), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => new NetConnection({ bind: 'nowhere' }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => new NetConnection({ maxPeerConnections: 1.5 }), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })

  // An unknown host rejects (the name is resolved off the JS thread).
  const lost = new NetConnection({ bind: '127.0.0.1:0' })
  await assert.rejects(within(lost.connect('rtmfp://no-such-host.invalid/app'), 'resolution'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT')
    assert.match(e.message, /no-such-host\.invalid/)
    return true
  })

  // A server that never answers: a timeout, bounded; the attempt ends
  // with NetConnection.Connect.Failed.
  const silent = dgram.createSocket('udp4')
  await new Promise((resolve) => silent.bind(0, '127.0.0.1', resolve))
  t.after(() => silent.close())
  const statuses = []
  nc.on('netStatus', (i) => statuses.push(i.code))
  const start = Date.now()
  const connecting = nc.connect(`rtmfp://127.0.0.1:${silent.address().port}/app`, { timeout: 300 })
  assert.throws(() => nc.connect('rtmfp://127.0.0.1/app'), { code: 'ERR_RTMFP_STATE' })
  const ns = new NetStream(nc, NetStream.DIRECT_CONNECTIONS) // allowed while connecting
  await assert.rejects(connecting, { code: 'ERR_RTMFP_TIMEOUT' })
  assert.ok(Date.now() - start < 3000)
  await within(once(nc, 'close'), 'the failed connection to end')
  assert.deepEqual(statuses, ['NetConnection.Connect.Failed'])
  assert.equal(ns.closed, true)
  await assert.rejects(ns.publish('x'), { code: 'ERR_RTMFP_CLOSED' })

  // Calls on a live connection that do not fit the stream's kind.
  const srv = server(t)
  const live = await peer(t, srv)
  const direct = new NetStream(live, NetStream.DIRECT_CONNECTIONS)
  await assert.rejects(direct.play('x'), { code: 'ERR_RTMFP_STATE' })
  await assert.rejects(direct.sendAudio(0, Buffer.alloc(1)), { code: 'ERR_RTMFP_STATE' })
  assert.throws(() => new NetStream(live, 'not a peer id'), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => direct.sendAudio(-1, Buffer.alloc(1)), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => direct.sendData(0, () => {}), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  assert.throws(() => direct.publish(''), { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
  await live.close()
  assert.equal(live.connected, false)
  await assert.rejects(direct.publish('late'), { code: 'ERR_RTMFP_CLOSED' })
  assert.throws(() => live.registerName('late'), { code: 'ERR_RTMFP_STATE' })
  assert.equal(await live.close(), true) // closing again is fine
})

/** Runs `script` in a child `node -e`; resolves { code, out, ms }. */
function runNode(script, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const start = Date.now()
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, RTMFP_PKG: path.resolve(__dirname, '..') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child still running after ${timeoutMs} ms; output: ${out}`))
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, ms: Date.now() - start })
    })
  })
}

test('a process with a server and two NetConnections exits by itself after close()', async () => {
  const r = await runNode(`
    const { Server, NetConnection, NetStream } = require(process.env.RTMFP_PKG)
    ;(async () => {
      const srv = new Server({ bind: '127.0.0.1:0' })
      const uri = 'rtmfp://' + srv.address + '/app'
      const a = new NetConnection({ bind: '127.0.0.1:0' })
      const b = new NetConnection({ bind: '127.0.0.1:0' })
      await Promise.all([a.connect(uri), b.connect(uri)])
      const pub = new NetStream(a, NetStream.DIRECT_CONNECTIONS)
      await pub.publish('x')
      const sub = new NetStream(b, a.nearID)
      const got = new Promise((resolve) => sub.on('media', (m) => resolve(m.data.toString())))
      const opened = new Promise((resolve) => pub.on('peerStreamOpened', resolve))
      sub.play('x')
      await opened
      await pub.sendAudio(0, Buffer.from('ping'))
      console.log('got', await got)
      console.log('clean', await a.close(), await b.close(), await srv.close())
      // Nothing else: the process must exit now, by itself.
    })()`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /got ping/)
  assert.match(r.out, /clean true true true/)
  assert.ok(r.ms < 8000, `took ${r.ms} ms`)
})

test('an idle server and an ended NetConnection do not keep the process alive', async () => {
  const r = await runNode(`
    const { Server, NetConnection } = require(process.env.RTMFP_PKG)
    const srv = new Server({ bind: '127.0.0.1:0' })
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    nc.connect('rtmfp://' + srv.address + '/app/x').then(() => {
      console.log('connected', srv.closed)
      return nc.close()
    }).then((clean) => console.log('closed', clean))`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /connected false/)
  assert.match(r.out, /closed true/)
  assert.ok(r.ms < 8000, `took ${r.ms} ms`)
})

test('NetConnections and servers leak no thread and no file descriptor', { timeout: 120_000 }, async () => {
  const counts = () => ({
    threads: fs.readdirSync('/proc/self/task').length,
    fds: fs.readdirSync('/proc/self/fd').length,
  })
  const cycle = async () => {
    const srv = new Server({ bind: '127.0.0.1:0' })
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
    await nc.registerName('n')
    await nc.close()
    await srv.close()
  }
  await cycle() // warm up
  const before = counts()
  for (let i = 0; i < 10; i++) await cycle()
  assert.deepEqual(counts(), before)
})

test('keyLog: a server, a NetConnection and endpoints log their session keys', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmfp-keylog-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' '))
  const srvLog = path.join(dir, 'server.keys')
  const ncLog = path.join(dir, 'nc.keys')
  const srv = server(t, { keyLog: srvLog })
  const nc = await peer(t, srv, 'app', { keyLog: ncLog })
  await nc.close()
  const [s] = lines(srvLog)
  const [c] = lines(ncLog)
  for (const l of [s, c]) {
    assert.equal(l[0], 'RTMFP_SESSION')
    assert.equal(l.length, 8)
    assert.match(l[2], /^[0-9a-f]{32}$/)
  }
  // One session from both ends: mirrored keys.
  assert.deepEqual([s[2], s[3]], [c[3], c[2]])

  const epLog = path.join(dir, 'endpoints.keys')
  const a = new rtmfp.Endpoint({ bind: '127.0.0.1:0', server: true, keyLog: epLog })
  const b = new rtmfp.Endpoint({ bind: '127.0.0.1:0', keyLog: epLog })
  t.after(() => Promise.all([a.close(), b.close()]))
  await within(b.connect(`rtmfp://${a.address}/app`), 'endpoint connect')
  assert.equal(lines(epLog).length, 2)

  assert.throws(() => new Server({ bind: '127.0.0.1:0', keyLog: dir }), (e) => e.code === 'ERR_RTMFP_IO' && /key log/.test(e.message))
  assert.throws(() => new Server({ keyLog: 7 }), (e) => e.code === 'ERR_RTMFP_INVALID_ARGUMENT' && /options.keyLog/.test(e.message))
})
