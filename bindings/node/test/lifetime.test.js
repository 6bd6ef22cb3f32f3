'use strict'
// Lifetime: close() releases everything; a process whose endpoints are
// closed (or idle) exits by itself; no thread or file descriptor leaks.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')
const { spawn } = require('node:child_process')
const rtmfp = require('..')
const { within, next } = require('./helpers')

const PKG = path.resolve(__dirname, '..')

/** Runs `script` in a child `node -e`; resolves { code, signal, out, ms }. */
function runNode(script, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const start = Date.now()
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, RTMFP_PKG: PKG },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child still running after ${timeoutMs} ms; output: ${out}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, ms: Date.now() - start })
    })
  })
}

test('a process exits by itself after close(), with code 0', async () => {
  const script = `
    const rtmfp = require(process.env.RTMFP_PKG)
    ;(async () => {
      const a = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
      const b = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
      const got = new Promise((resolve) => b.on('session', (s) => s.on('flow', (f) => {
        f.accept().on('message', (data) => resolve(data.toString()))
      })))
      const session = await a.connectPeer(b.peerId, b.address)
      await session.openFlow('exit test').send('hello')
      console.log('got', await got)
      console.log('clean', await a.close(), await b.close())
      // Nothing else: the process must exit now, by itself.
    })()`
  const r = await runNode(script)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /got hello/)
  assert.match(r.out, /clean true true/)
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})

test('an idle endpoint, even unclosed, does not keep the process alive', async () => {
  const r = await runNode(`
    const rtmfp = require(process.env.RTMFP_PKG)
    const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    console.log('open', ep.address)`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /open 127\.0\.0\.1:/)
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})

test('ref() keeps the process alive until close(); a pending connect does too', async () => {
  const r = await runNode(`
    const rtmfp = require(process.env.RTMFP_PKG)
    const dgram = require('node:dgram')
    const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0', ref: true })
    const start = Date.now()
    // Only the endpoint keeps this process alive: nothing else is pending.
    setTimeout(() => {
      ep.close().then(() => console.log('closed after', Date.now() - start))
    }, 300).unref()
    const silent = dgram.createSocket('udp4')
    silent.bind(0, '127.0.0.1', () => {
      const address = '127.0.0.1:' + silent.address().port
      silent.unref()
      const other = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
      other.connectPeer('ab'.repeat(32), address, { timeout: 200 }).catch((e) => {
        console.log('connect', e.code)
        return other.close()
      })
    })`)
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /connect ERR_RTMFP_TIMEOUT/)
  assert.match(r.out, /closed after \d+/)
  assert.ok(Number(/closed after (\d+)/.exec(r.out)[1]) >= 300)
})

function counts() {
  return {
    threads: fs.readdirSync('/proc/self/task').length,
    fds: fs.readdirSync('/proc/self/fd').length,
  }
}

function threadNames() {
  return fs.readdirSync('/proc/self/task').map((t) => {
    try {
      return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim()
    } catch {
      return ''
    }
  })
}

test('each endpoint has an I/O thread and an event thread, gone after close()', async () => {
  // Warm up: libuv's thread pool starts with the first close().
  await new rtmfp.Endpoint({ bind: '127.0.0.1:0' }).close()
  const ours = () => threadNames().filter((n) => n.startsWith('rtmfp-'))
  const before = ours().length
  const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  // A thread names itself once it runs: give them a moment.
  const has = (name) => ours().includes(name)
  for (let i = 0; i < 100 && !(has('rtmfp-io') && has('rtmfp-events')); i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.ok(has('rtmfp-io') && has('rtmfp-events'), ours().join())
  await ep.close()
  // Every rtmfp thread (the runtime may have helpers of its own) is gone.
  assert.equal(ours().length, before, ours().join())
})

test('100 open/close cycles leak no thread and no file descriptor', { timeout: 120_000 }, async () => {
  // Warm up: first-use allocations (libuv's thread pool, the resolver).
  {
    const a = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    const b = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    await a.connectPeer(b.peerId, b.address)
    await Promise.all([a.close(), b.close()])
  }
  const before = counts()
  for (let i = 0; i < 100; i++) {
    const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    if (i % 10 === 0) {
      // Every tenth cycle also opens a session, a flow, a message.
      const peer = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
      const incoming = next(peer, 'session')
      const session = await within(ep.connectPeer(peer.peerId, peer.address), 'connect')
      const [far] = await incoming
      const flowSeen = next(far, 'flow')
      await within(session.openFlow('leak?').send('data'), 'delivery')
      const [recv] = await flowSeen
      recv.accept()
      await peer.close()
    }
    await ep.close()
    assert.equal(ep.closed, true)
  }
  assert.deepEqual(counts(), before)
})

test('closed endpoints are garbage collected (nothing native holds them)', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  let collected = 0
  const registry = new FinalizationRegistry(() => collected++)
  for (let i = 0; i < 20; i++) {
    const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    ep.on('close', () => {})
    registry.register(ep, i)
    await ep.close()
  }
  for (let i = 0; i < 20 && collected < 20; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // The threadsafe function (which holds the JS callback) goes after the
  // last item; allow for the one closed last.
  assert.ok(collected >= 18, `${collected} of 20 collected`)
})
