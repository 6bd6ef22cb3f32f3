'use strict'
// Server hooks (onConnect / onPublish / onPlay): they decide before the
// client is answered, on core's ask mode; rejections carry their reason to
// the client; a hook nobody answers in time refuses; a client that leaves
// while its request waits ends it.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const rtmfp = require('..')
const { within, next, status } = require('./helpers')

const { NetConnection, NetStream, Server } = rtmfp

function server(t, options = {}) {
  const srv = new Server({ bind: '127.0.0.1:0', ...options })
  t.after(() => srv.close())
  return srv
}

function client(t) {
  const nc = new NetConnection({ bind: '127.0.0.1:0' })
  t.after(() => nc.close())
  return nc
}

/** Connects; resolves to the rejection's NetStatus info, or fails. */
async function rejection(nc, uri) {
  let info = null
  await assert.rejects(within(nc.connect(uri), 'the rejection'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_REJECTED')
    info = e.info
    return true
  })
  assert.equal(info.code, 'NetConnection.Connect.Rejected')
  assert.equal(nc.connected, false)
  return info
}

test('onConnect rejects with its reason before the client is answered; accepts otherwise', async (t) => {
  const asked = []
  const srv = server(t, {
    onConnect: (request) => {
      asked.push(request)
      return request.app.startsWith('private') ? 'private apps are closed' : true
    },
  })
  const rejected = next(srv, 'reject')
  const nc = client(t)
  const seen = []
  nc.on('netStatus', (info) => seen.push(info.code))
  const info = await rejection(nc, `rtmfp://${srv.address}/private/KEY`)
  assert.equal(info.description, 'private apps are closed')
  assert.deepEqual(seen, ['NetConnection.Connect.Rejected']) // never Success first
  assert.equal((await rejected)[0].reason, 'private apps are closed')
  assert.equal(asked.length, 1)
  assert.equal(asked[0].app, 'private/KEY')
  assert.equal(asked[0].key, 'KEY')
  assert.equal(asked[0].peerId, nc.nearID)
  assert.match(asked[0].address, /^127\.0\.0\.1:\d+$/)

  // A Promise verdict, accepted.
  srv.onConnect = async () => true
  const ok = client(t)
  await within(ok.connect(`rtmfp://${srv.address}/app`), 'connect')
  assert.equal(ok.connected, true)

  // A hook that throws refuses, with an 'error' event.
  srv.onConnect = () => {
    throw new Error('hook bug')
  }
  const errored = next(srv, 'error')
  const bad = client(t)
  const refused = await rejection(bad, `rtmfp://${srv.address}/app`)
  assert.equal(refused.description, "the server's onConnect failed")
  assert.equal((await errored)[0].message, 'hook bug')

  // No hook: not asked.
  srv.onConnect = null
  const plain = client(t)
  await within(plain.connect(`rtmfp://${srv.address}/app`), 'connect')
  assert.throws(() => {
    srv.onConnect = 42
  }, { code: 'ERR_RTMFP_INVALID_ARGUMENT' })
})

test('onPublish refuses a publish with its reason; onPlay accepts a play', async (t) => {
  const srv = server(t)
  srv.onPublish = ({ name }) => (name === 'secret' ? 'no such channel' : true)
  srv.onPlay = ({ name }) => name === 'live'
  const alice = client(t)
  const bob = client(t)
  await within(alice.connect(`rtmfp://${srv.address}/app`), 'connect')
  await within(bob.connect(`rtmfp://${srv.address}/app`), 'connect')
  const secret = new NetStream(alice)
  const bad = status(secret, 'NetStream.Publish.BadName')
  Promise.resolve(secret.publish('secret')).catch(() => {})
  assert.equal((await bad).description, 'no such channel')
  const live = new NetStream(alice)
  const started = status(live, 'NetStream.Publish.Start')
  live.publish('live')
  await started
  const play = new NetStream(bob)
  const playing = status(play, 'NetStream.Play.Start')
  play.play('live')
  await playing
  const other = new NetStream(bob)
  const failed = status(other, 'NetStream.Play.Failed')
  Promise.resolve(other.play('other')).catch(() => {})
  assert.equal((await failed).description, "rejected by the server's onPlay")
})

test('a hook that does not answer within hookTimeout refuses; a client that leaves ends its ask', async (t) => {
  const pending = []
  const srv = server(t, {
    hookTimeout: 300,
    onConnect: () => new Promise((resolve) => pending.push(resolve)),
  })
  const ends = []
  srv.on('askEnd', (e) => ends.push(e))
  // A verdict that comes too late does nothing, and says so: an 'error'
  // with core's reason (ERR_RTMFP_STATE, as C's RTMFP_ERR_WRONG_STATE).
  const lateErrors = []
  srv.on('error', (e) => lateErrors.push(e))
  const slow = client(t)
  const start = Date.now()
  const info = await rejection(slow, `rtmfp://${srv.address}/app`)
  assert.equal(info.description, 'no answer from the server application')
  assert.ok(Date.now() - start >= 250)
  // The server's 'askEnd' and the client's rejection come from two
  // threads: either may reach JS first.
  if (ends.length === 0) await next(srv, 'askEnd')
  assert.equal(ends.length, 1)
  assert.equal(ends[0].end, 'expired')
  const lateExpired = next(srv, 'error')
  pending.shift()(true) // too late: nothing happens but the report
  const [expired] = await lateExpired
  assert.ok(expired instanceof rtmfp.RtmfpError)
  assert.equal(expired.code, 'ERR_RTMFP_STATE')
  assert.equal(expired.askId, ends[0].id)
  assert.equal(expired.hook, 'onConnect')
  assert.match(expired.message, /the ask expired: its default verdict was applied; nothing was done$/)

  // The client leaves while its connect waits.
  srv.onConnect = () => new Promise((resolve) => pending.push(resolve))
  const gone = next(srv, 'askEnd')
  const leaver = new NetConnection({ bind: '127.0.0.1:0' })
  const connecting = leaver.connect(`rtmfp://${srv.address}/app`).catch(() => {})
  await within(
    (async () => {
      while (pending.length === 0) await new Promise((r) => setTimeout(r, 10))
    })(),
    'the ask',
  )
  await leaver.close()
  await connecting
  const [ended] = await gone
  assert.equal(ended.end, 'gone')
  const lateGone = next(srv, 'error')
  pending.shift()(true) // too late: nothing happens but the report
  const [goneError] = await lateGone
  assert.equal(goneError.code, 'ERR_RTMFP_STATE')
  assert.equal(goneError.askId, ended.id)
  assert.match(goneError.message, /the client went away while the request waited/)
  assert.equal((await srv.sessions()).length, 0)
  assert.equal(lateErrors.length, 2)
})

test('a late verdict with no error listener is a process warning', async (t) => {
  const pending = []
  const srv = server(t, {
    hookTimeout: 200,
    onConnect: () => new Promise((resolve) => pending.push(resolve)),
  })
  const ended = next(srv, 'askEnd')
  const nc = client(t)
  await rejection(nc, `rtmfp://${srv.address}/app`)
  await ended
  const warned = next(process, 'warning')
  pending.shift()('too late')
  const [warning] = await warned
  assert.equal(warning.code, 'RTMFP_SERVER_HOOK')
  assert.match(warning.message, /^onConnect's verdict did nothing: ask \d+: the ask expired/)
})
