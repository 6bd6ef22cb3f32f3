'use strict'
// new Server({ cluster }): a node of a rendezvous cluster on Redis.  A
// name registered on one node resolves on another; Redis unreachable
// throws ERR_RTMFP_IO saying so.  Starts its own redis-server (Debian
// package redis-server) on a free port; skipped without it.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { spawn, spawnSync } = require('node:child_process')
const rtmfp = require('..')
const { within } = require('./helpers')

const { NetConnection, Server } = rtmfp
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0

/** A free TCP port on loopback. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts TCP connections on `port`. */
async function listening(port) {
  const deadline = Date.now() + 10000
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error('redis-server did not start')
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('Redis unreachable: the constructor throws ERR_RTMFP_IO', async () => {
  const url = `redis://127.0.0.1:${await freePort()}/`
  assert.throws(() => new Server({ bind: '127.0.0.1:0', cluster: url }), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_IO')
    assert.match(e.message, /Redis is unreachable/)
    return true
  })
})

test('a name registered on one node resolves on another', { skip: HAVE_REDIS ? false : 'redis-server is not installed' }, async (t) => {
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.after(() => redis.kill('SIGKILL'))
  await listening(port)
  const cluster = `redis://127.0.0.1:${port}/`
  const nodes = [new Server({ bind: '127.0.0.1:0', cluster }), new Server({ bind: '127.0.0.1:0', cluster })]
  t.after(() => Promise.all(nodes.map((n) => n.close())))
  const connect = async (srv) => {
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    t.after(() => nc.close())
    await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
    return nc
  }
  const owner = await connect(nodes[0])
  const seeker = await connect(nodes[1])
  await within(owner.registerName('node-owner'), 'registerName')
  // The second node has no such client: Redis answers.
  assert.equal(await within(seeker.lookupName('node-owner'), 'lookupName'), owner.nearID)
  await assert.rejects(seeker.lookupName('nobody'), { code: 'ERR_RTMFP_CALL_FAILED' })
})
