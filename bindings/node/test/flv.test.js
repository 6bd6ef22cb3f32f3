'use strict'
// FLV byte streams on a NetStream (issue 16): a publisher pipes FLV bytes
// split at odd places into NetStream.createFlvWriteStream(), a player on
// another NetConnection reads them back from createFlvReadStream(),
// through a Node Server on loopback; the same over DIRECT_CONNECTIONS (a
// subscriber plays by the publisher's peer ID, the server carries no
// media); bytes that are not FLV; and ffmpeg's own encode piped in,
// ffprobe reading what comes out.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { Readable, Transform } = require('node:stream')
const { pipeline, finished } = require('node:stream/promises')
const rtmfp = require('..')
const { within, next, status } = require('./helpers')

const { NetConnection, NetStream, Server } = rtmfp

/** An FLV tag: type, timestamp (ms), data; with its PreviousTagSize. */
function tag(type, ts, data) {
  const head = Buffer.alloc(11)
  head[0] = type
  head.writeUIntBE(data.length, 1, 3)
  head.writeUIntBE(ts & 0xffffff, 4, 3)
  head[7] = ts >>> 24
  const size = Buffer.alloc(4)
  size.writeUInt32BE(11 + data.length)
  return Buffer.concat([head, data, size])
}

/** 2 s of 25 fps video and ~43 fps audio, random payloads. */
function syntheticFlv() {
  const tags = []
  for (let i = 0; i < 50; i++) {
    const data = Buffer.concat([Buffer.from([i % 25 === 0 ? 0x17 : 0x27, 1]), crypto.randomBytes(200 + ((53 * i) % 2500))])
    tags.push([9, i * 40, data])
  }
  for (let i = 0; i < 86; i++) tags.push([8, i * 23, Buffer.concat([Buffer.from([0xaf, 1]), crypto.randomBytes(20 + ((7 * i) % 200))])])
  tags.sort((a, b) => a[1] - b[1] || a[0] - b[0])
  return Buffer.concat([Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'), ...tags.map((t) => tag(...t))])
}

/** The audio and video tags of an FLV file, `{ type, ts, data }`, each type in order. */
function tags(flv) {
  assert.equal(flv.subarray(0, 3).toString('latin1'), 'FLV')
  const found = { 8: [], 9: [] }
  let at = 13
  while (at + 11 <= flv.length) {
    const type = flv[at] & 0x1f
    const size = flv.readUIntBE(at + 1, 3)
    const ts = flv.readUIntBE(at + 4, 3) | (flv[at + 7] << 24)
    if (type === 8 || type === 9) found[type].push(`${ts}:${crypto.createHash('sha1').update(flv.subarray(at + 11, at + 11 + size)).digest('hex').slice(0, 12)}`)
    at += 11 + size + 4
  }
  return found
}

/** `data` in pieces of odd sizes: a header in two, tags across many. */
function pieces(data) {
  const sizes = [5, 1, 7, 4096, 3, 999, 17]
  const out = []
  for (let at = 0, i = 0; at < data.length; i++) {
    const end = Math.min(at + sizes[i % sizes.length], data.length)
    out.push(data.subarray(at, end))
    at = end
  }
  return out
}

/** A Server on loopback and two NetConnections to it; `t.after` closes them. */
async function setup(t) {
  const srv = new Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const ncs = []
  for (let i = 0; i < 2; i++) {
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    t.after(() => nc.close())
    await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
    ncs.push(nc)
  }
  return ncs
}

/**
 * The player reads `name` as FLV (the Readable made before play()), the
 * publisher publishes it; returns the publishing NetStream and the Readable.
 */
async function pair(t, name, windowMs) {
  const [publisher, player] = await setup(t)
  const play = new NetStream(player)
  const rs = play.createFlvReadStream({ windowMs })
  const playing = status(play, 'NetStream.Play.Start')
  await within(play.play(name), 'play')
  await playing
  const live = new NetStream(publisher)
  const notified = status(play, 'NetStream.Play.PublishNotify')
  const started = status(live, 'NetStream.Publish.Start')
  await within(live.publish(name), 'publish')
  await started
  await notified
  return { live, play, rs }
}

/** Everything `rs` gives until its end, bounded. */
function readAll(rs) {
  const chunks = []
  rs.on('data', (c) => chunks.push(c))
  return within(finished(rs), 'the end of the FLV read stream').then(() => Buffer.concat(chunks))
}

for (const windowMs of [0, 100]) {
  test(`FLV split anywhere, through the server, comes back as FLV (window ${windowMs} ms)`, async (t) => {
    const { live, play, rs } = await pair(t, `w${windowMs}`, windowMs)
    const flv = syntheticFlv()
    const got = readAll(rs)
    const ws = live.createFlvWriteStream()
    if (windowMs === 0) {
      await within(pipeline(Readable.from(pieces(flv)), ws), 'the write pipeline')
    } else {
      Readable.from(pieces(flv)).pipe(ws)
      await within(finished(ws), "the Writable's finish")
    }
    // autoClose: the publisher's NetStream closed once everything was acknowledged.
    assert.equal(live.closed, true)
    const back = await got
    assert.deepEqual(tags(back), tags(flv))
    assert.ok(tags(back)[9].length === 50 && tags(back)[8].length === 86)
    assert.equal(play.closed, true, 'autoClose closed the player at the end')
  })
}

/**
 * A DIRECT_CONNECTIONS stream publishing `name` and a subscriber on
 * another NetConnection reading it as FLV by the publisher's peer ID (the
 * Readable made before play()), once the publisher opened its peer stream.
 * The server's publish and play events are counted in `relayed`.
 */
async function p2pPair(t, name, windowMs) {
  const srv = new Server({ bind: '127.0.0.1:0' })
  t.after(() => srv.close())
  const relayed = { publish: 0, play: 0 }
  srv.on('publish', () => relayed.publish++)
  srv.on('play', () => relayed.play++)
  const ncs = []
  for (let i = 0; i < 2; i++) {
    const nc = new NetConnection({ bind: '127.0.0.1:0' })
    t.after(() => nc.close())
    await within(nc.connect(`rtmfp://${srv.address}/app`), 'connect')
    ncs.push(nc)
  }
  const [publisher, player] = ncs
  const cam = new NetStream(publisher, NetStream.DIRECT_CONNECTIONS)
  const started = status(cam, 'NetStream.Publish.Start')
  await within(cam.publish(name), 'publish')
  await started
  const opened = next(cam, 'peerStreamOpened')
  const sub = new NetStream(player, publisher.nearID)
  const rs = sub.createFlvReadStream({ windowMs })
  const playing = status(sub, 'NetStream.Play.Start')
  await within(sub.play(name), 'play')
  const [subscriber] = await opened
  assert.equal(subscriber.farID, player.nearID)
  assert.equal(cam.peerStreams.length, 1)
  await playing
  return { srv, relayed, cam, sub, rs }
}

for (const windowMs of [0, 100]) {
  test(`FLV split anywhere, over DIRECT_CONNECTIONS, comes back as FLV (window ${windowMs} ms)`, async (t) => {
    const { srv, relayed, cam, sub, rs } = await p2pPair(t, `p2p${windowMs}`, windowMs)
    const flv = syntheticFlv()
    const got = readAll(rs)
    // autoClose: the DIRECT_CONNECTIONS stream closes once everything was
    // acknowledged, which unpublishes to the subscriber and ends its read.
    await within(pipeline(Readable.from(pieces(flv)), cam.createFlvWriteStream()), 'the write pipeline')
    assert.equal(cam.closed, true)
    const back = await got
    assert.deepEqual(tags(back), tags(flv))
    assert.ok(tags(back)[9].length === 50 && tags(back)[8].length === 86)
    assert.equal(sub.closed, true, 'autoClose closed the subscriber at the end')
    // Peer to peer: nothing was published or played through the server.
    assert.deepEqual(relayed, { publish: 0, play: 0 })
    assert.deepEqual(await within(srv.streams(), 'streams'), [])
  })
}

test('bytes that are not FLV: an error on the Writable; nothing before them is lost', async (t) => {
  const { live, rs } = await pair(t, 'bad', 0)
  const flv = syntheticFlv()
  const got = readAll(rs)
  const ws = live.createFlvWriteStream()
  await assert.rejects(
    within(pipeline(Readable.from([...pieces(flv), Buffer.from('hello, not a tag')]), ws), 'the write pipeline'),
    (e) => e.code === rtmfp.codes.INVALID_ARGUMENT && /^not FLV from byte \d+ on: tag type byte 0x68/.test(e.message),
  )
  assert.deepEqual(tags(await got), tags(flv))

  // Not FLV from the first byte.
  const [nc] = await setup(t)
  const other = new NetStream(nc)
  await within(other.publish('gif'), 'publish')
  const gif = other.createFlvWriteStream()
  gif.end(Buffer.from('GIF89a'))
  const [err] = await within(require('node:events').once(gif, 'error').catch((e) => [e]), "'error'")
  assert.equal(err.code, rtmfp.codes.INVALID_ARGUMENT)
  assert.match(err.message, /^not an FLV stream: it starts with 47 49 46/)
})

test('misuse: one FLV read stream per NetStream; options are checked', async (t) => {
  const [nc] = await setup(t)
  const ns = new NetStream(nc)
  assert.throws(() => ns.createFlvReadStream({ windowMs: -1 }), { code: rtmfp.codes.INVALID_ARGUMENT })
  assert.throws(() => ns.createFlvWriteStream({ autoClose: 'yes' }), { code: rtmfp.codes.INVALID_ARGUMENT })
  const rs = ns.createFlvReadStream({ windowMs: 0, autoClose: false })
  assert.throws(() => ns.createFlvReadStream(), { code: rtmfp.codes.STATE })
  // The header is readable at once; closing the NetStream ends the stream.
  const head = await within(new Promise((resolve) => rs.once('data', resolve)), 'the FLV header')
  assert.equal(head.subarray(0, 3).toString('latin1'), 'FLV')
  const ended = within(finished(rs), "the Readable's end")
  rs.resume()
  ns.close()
  await ended
  assert.throws(() => ns.createFlvReadStream(), { code: rtmfp.codes.STATE })
  // Destroying a Readable (autoClose) closes its NetStream.
  const playing = new NetStream(nc)
  const destroyed = playing.createFlvReadStream()
  destroyed.resume()
  destroyed.destroy()
  await within(finished(destroyed).catch(() => {}), "the Readable's close")
  assert.equal(playing.closed, true)
  const closed = new NetStream(nc)
  closed.close()
  assert.throws(() => closed.createFlvReadStream(), { code: rtmfp.codes.CLOSED })
})

function ffmpegMissing() {
  const found = ['ffmpeg', 'ffprobe'].every((p) => spawnSync(p, ['-version'], { stdio: 'ignore' }).status === 0)
  if (found) return null
  if (process.env.RTMFP_SKIP_FFMPEG === '1') return 'ffmpeg/ffprobe not found and RTMFP_SKIP_FFMPEG=1'
  throw new Error('ffmpeg and ffprobe are required (RTMFP_SKIP_FFMPEG=1 skips)')
}

/** Video and audio frame counts of ffprobe's csv output. */
function counts(csv) {
  const lines = csv.split(/\s+/)
  return { video: lines.filter((l) => l.startsWith('video')).length, audio: lines.filter((l) => l.startsWith('audio')).length }
}

function run(child, what) {
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  return within(
    new Promise((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${what} exited ${code}: ${err}`))))
    }),
    what,
  )
}

const PROBE = ['-v', 'error', '-show_entries', 'frame=media_type', '-of', 'csv=p=0']

test("ffmpeg's encode piped in, ffprobe reading what comes out: the frame counts match", async (t) => {
  const skip = ffmpegMissing()
  if (skip !== null) return t.skip(skip)
  const { live, rs } = await pair(t, 'ffmpeg', 100)
  const ffmpeg = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25',
      '-f', 'lavfi', '-i', 'sine', '-t', '2', '-c:v', 'libx264', '-c:a', 'aac', '-f', 'flv', '-'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.after(() => ffmpeg.kill())
  let ffmpegErr = ''
  ffmpeg.stderr.setEncoding('utf8').on('data', (d) => (ffmpegErr += d))
  const ffprobe = spawn('ffprobe', [...PROBE, '-'], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(() => ffprobe.kill())
  const probed = run(ffprobe, 'ffprobe of the stream')
  // What ffmpeg wrote, kept to probe it on its own.
  const encoded = []
  const keep = new Transform({
    transform(chunk, _encoding, callback) {
      encoded.push(chunk)
      callback(null, chunk)
    },
  })
  await within(
    Promise.all([pipeline(ffmpeg.stdout, keep, live.createFlvWriteStream()), pipeline(rs, ffprobe.stdin)]),
    `the pipelines (ffmpeg: ${ffmpegErr})`,
    60_000,
  )
  const got = counts(await probed)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmfp-flv-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const src = path.join(dir, 'src.flv')
  fs.writeFileSync(src, Buffer.concat(encoded))
  const want = counts(await run(spawn('ffprobe', [...PROBE, src]), 'ffprobe of the source'))
  assert.ok(want.video > 0 && want.audio > 0, JSON.stringify(want))
  assert.deepEqual(got, want)
})
