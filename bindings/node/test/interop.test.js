'use strict'
// Other processes: the chat example (a rendezvous server and two peers, in
// Node and mixed with the Python chat) and the Rust CLI (`rtmfp echo`).
// The cross-language tests are skipped, with the reason, when the other
// side is not built (or speaks another protocol).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const rtmfp = require('..')
const { WAIT, within, collect } = require('./helpers')

const REPO = path.resolve(__dirname, '..', '..', '..')
const CHAT_JS = path.join(REPO, 'bindings', 'node', 'examples', 'chat.js')
const CHAT_PY = path.join(REPO, 'bindings', 'python', 'examples', 'chat.py')

/** A child process whose output is read line by line. */
class Proc {
  constructor(cmd, args, env = {}) {
    this.child = spawn(cmd, args, {
      env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.seen = []
    this.waiters = []
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)))
    let partial = ''
    const onData = (d) => {
      partial += d
      const lines = partial.split('\n')
      partial = lines.pop()
      for (const line of lines) this.#line(line)
    }
    this.child.stdout.on('data', onData)
    this.child.stderr.on('data', onData)
  }

  #line(line) {
    this.seen.push(line)
    this.waiters = this.waiters.filter((w) => {
      const m = w.pattern.exec(line)
      if (m) w.resolve(m)
      return !m
    })
  }

  /** The first line (seen already or to come) matching `pattern`. */
  expect(pattern, ms = WAIT) {
    for (const line of this.seen) {
      const m = pattern.exec(line)
      if (m) return Promise.resolve(m)
    }
    return within(
      new Promise((resolve) => this.waiters.push({ pattern, resolve })),
      `${pattern} in ${JSON.stringify(this.seen)}`,
      ms,
    )
  }

  write(text) {
    this.child.stdin.write(text)
  }

  end() {
    this.child.stdin.end()
  }

  stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

/**
 * The chat example's flow: a rendezvous server; alice registers her name;
 * bob finds her by name; they play each other's DIRECT_CONNECTIONS stream
 * and exchange a line each way; bob leaves, then alice.  `run(role, args)`
 * starts one of them (a chat.js or chat.py process).
 */
async function chat(t, run) {
  const server = run('server', ['--serve', '127.0.0.1:0'])
  t.after(() => server.stop())
  const uri = (await server.expect(/^serving on (rtmfp:\/\/\S+)/))[1]
  const peer = ['--server', uri, '--bind', '127.0.0.1:0']
  const alice = run('alice', [...peer, '--name', 'alice'])
  t.after(() => alice.stop())
  const aliceId = (await alice.expect(/^\* registered as alice \(peer ID ([0-9a-f]{64})\)/))[1]
  const bob = run('bob', [...peer, '--name', 'bob', '--find', 'alice'])
  t.after(() => bob.stop())
  assert.equal((await bob.expect(/^\* found alice: ([0-9a-f]{64})/))[1], aliceId)
  await bob.expect(/^\* talking with alice$/)
  await alice.expect(/^\* [0-9a-f]{16}\.\.\. joined$/) // bob plays her stream
  await bob.expect(/^\* alice joined$/) // she plays his back
  bob.write('hello from bob\n')
  await alice.expect(/^bob> hello from bob$/)
  alice.write('hi bob\n')
  await bob.expect(/^alice> hi bob$/)
  // The server only introduced them.
  await server.expect(new RegExp(`introduced .* to ${aliceId.slice(0, 16)}`))
  bob.end() // end of input: bob leaves
  assert.equal(await within(bob.exited, 'bob to exit'), 0)
  await alice.expect(/^\* bob left$/)
  alice.end()
  assert.equal(await within(alice.exited, 'alice to exit'), 0)
  return server
}

test('examples/chat.js: a server, and two Node peers that find each other by name', async (t) => {
  const server = await chat(t, (_, args) => new Proc(process.execPath, [CHAT_JS, ...args]))
  server.child.kill('SIGTERM')
  assert.equal(await within(server.exited, 'the server to exit'), 0)
})

/**
 * A Python whose rtmfp package has the Flash classes and whose chat.py
 * speaks this protocol (a rendezvous server, names, DIRECT_CONNECTIONS),
 * or the reason there is none.
 */
function findPythonChat() {
  if (!fs.existsSync(CHAT_PY)) return { reason: `no ${CHAT_PY}` }
  const candidates = [process.env.RTMFP_PYTHON, path.join(REPO, 'build', 'venv', 'bin', 'python'), 'python3']
  let reason = 'no Python with the rtmfp package (build/venv from scripts/test.sh, or set RTMFP_PYTHON)'
  for (const python of candidates.filter(Boolean)) {
    const probe = spawnSync(python, ['-c', 'import rtmfp; rtmfp.NetConnection; rtmfp.Server'], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    if (probe.status !== 0) continue
    const help = spawnSync(python, [CHAT_PY, '--help'], { encoding: 'utf8', timeout: 20_000 })
    const text = `${help.stdout}${help.stderr}`
    if (help.status === 0 && ['--serve', '--server', '--find', '--bind'].every((o) => text.includes(o))) {
      return { python }
    }
    reason = `${CHAT_PY} does not speak the protocol of chat.js (--serve/--server/--find)`
  }
  return { reason }
}

for (const [name, pick] of [
  ['a Node server, a Python peer and a Node peer', { server: 'node', alice: 'python', bob: 'node' }],
  ['a Python server, a Node peer and a Python peer', { server: 'python', alice: 'node', bob: 'python' }],
]) {
  test(`cross-language chat: ${name}`, async (t) => {
    const found = findPythonChat()
    if (found.python === undefined) {
      t.skip(found.reason)
      return
    }
    await chat(t, (role, args) =>
      pick[role] === 'node'
        ? new Proc(process.execPath, [CHAT_JS, ...args])
        : new Proc(found.python, [CHAT_PY, ...args]),
    )
  })
}

/** The `rtmfp` binary of the Rust CLI, if it is built and has `echo`. */
function findCli() {
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target')
  for (const profile of ['debug', 'release']) {
    const exe = path.join(target, profile, 'rtmfp')
    if (!fs.existsSync(exe)) continue
    const probe = spawnSync(exe, ['echo', '--help'], { encoding: 'utf8', timeout: 10_000 })
    if (probe.status === 0 && `${probe.stdout}${probe.stderr}`.includes('--listen')) return exe
  }
  return null
}

for (const by of ['peer ID', 'URI']) {
  test(`cross-language: a Node peer echoes through the Rust CLI (by ${by})`, async (t) => {
    const exe = findCli()
    if (exe === null) {
      t.skip(
        'no Rust CLI with an `echo --listen ADDR` subcommand in target/{debug,release}/rtmfp ' +
          '(build it with `cargo build -p rtmfp-cli`)',
      )
      return
    }
    const server = new Proc(exe, ['echo', '--listen', '127.0.0.1:0'])
    t.after(() => server.stop())
    // `rtmfp echo` prints its peer ID (fingerprint) and `listening ADDR`.
    const address = (await server.expect(/^listening (\S+)/))[1]
    const ids = server.seen.flatMap((line) => line.match(/\b[0-9a-f]{64}\b/g) || [])
    const ep = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
    t.after(() => ep.close())
    let session
    if (by === 'peer ID') {
      assert.ok(ids.length > 0, `no peer ID in ${JSON.stringify(server.seen)}`)
      session = await within(ep.connectPeer(ids[0], address), 'connectPeer')
    } else {
      session = await within(ep.connect(`rtmfp://${address}/echo`), 'connect')
    }
    if (ids.length > 0) assert.equal(session.farPeerId, ids[0])
    const flow = session.openFlow('echo')
    const returned = new Promise((resolve) => session.once('flow', resolve))
    const messages = [Buffer.from('hello rust'), crypto.randomBytes(1000), crypto.randomBytes(50_000), Buffer.alloc(0)]
    const delivered = Promise.all(messages.map((m) => flow.send(m)))
    const back = await within(returned, 'the return flow')
    assert.equal(back.association, flow) // the echo's return flow
    assert.deepEqual(await collect(back.accept(), messages.length), messages)
    await within(delivered, 'delivery receipts')
  })
}
