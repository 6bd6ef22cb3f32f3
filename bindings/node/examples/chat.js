#!/usr/bin/env node
// Find a friend by name through a rendezvous server, then talk directly.
//
// Start a rendezvous server (or use any RTMFP server with names):
//
//   $ node examples/chat.js --serve 127.0.0.1:1935
//   serving on rtmfp://127.0.0.1:1935/chat
//
// Alice connects and registers her name:
//
//   $ node examples/chat.js --server rtmfp://127.0.0.1:1935/chat --name alice
//   * registered as alice (peer ID 3f9c...)
//
// Bob finds her by name and they talk; the server only introduces them:
//
//   $ node examples/chat.js --server rtmfp://127.0.0.1:1935/chat --name bob --find alice
//   * found alice: 3f9c...
//   * talking with alice
//
// Type lines; they appear on the other side as "bob> hello".  End of input
// (Ctrl-D) or Ctrl-C leaves.
//
// How it works (Flash's own way, RFC 7425 §5.4): every peer publishes a
// DIRECT_CONNECTIONS stream named "chat" and sends each line as a data
// message ("chat", name, text) on it.  Bob looks Alice's peer ID up by
// name and plays her stream (new NetStream(nc, peerId)): the server
// introduces him to her, and the session is direct.  Alice sees a new
// subscriber and plays his stream back.  The server carries no chat at
// all.  This is the protocol of bindings/python/examples/chat.py, so Node
// and Python peers (and servers) mix.
'use strict'

const { parseArgs } = require('node:util')
const readline = require('node:readline')
const { NetConnection, NetStream, Server } = require('..')

const STREAM = 'chat'
const short = (id) => `${(id || '?').slice(0, 16)}...`
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A rendezvous server, printing what happens; runs until Ctrl-C (or SIGTERM). */
async function serve(listen) {
  const server = new Server({ bind: listen, ref: true }) // any developer key
  const at = server.address.lastIndexOf(':')
  let host = server.address.slice(0, at)
  if (host === '0.0.0.0' || host === '[::]') host = '127.0.0.1'
  console.log(`serving on rtmfp://${host}:${server.address.slice(at + 1)}/${STREAM}`)
  server.on('connect', (c) => console.log(`* ${short(c.peerId)} connected from ${c.address}`))
  server.on('registerName', ({ peerId, name }) => console.log(`* ${short(peerId)} is ${name}`))
  server.on('introduce', ({ initiator, peerId }) => console.log(`* introduced ${initiator} to ${short(peerId)}`))
  server.on('disconnect', (c) => console.log(`* ${short(c.peerId)} left`))
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.close()
  return 0
}

/** The peer ID registered as `name`, asking again until `patience` (s) runs out. */
async function find(nc, name, patience) {
  const deadline = Date.now() + patience * 1000
  for (;;) {
    try {
      return await nc.lookupName(name)
    } catch (e) {
      if (e.code !== 'ERR_RTMFP_CALL_FAILED' || Date.now() >= deadline) return null
      await sleep(200)
    }
  }
}

async function chat(args) {
  const nc = new NetConnection({ bind: args.bind })
  try {
    await nc.connect(args.server, { timeout: 10_000 })
  } catch (e) {
    console.error(`cannot connect to ${args.server}: ${e.message}`)
    await nc.close()
    return 1
  }
  try {
    await nc.registerName(args.name)
  } catch (e) {
    console.error(`cannot register ${JSON.stringify(args.name)}: ${e.message}`)
    await nc.close()
    return 1
  }
  console.log(`* registered as ${args.name} (peer ID ${nc.nearID})`)
  const mine = new NetStream(nc, NetStream.DIRECT_CONNECTIONS)
  mine.publish(STREAM)

  const playing = new Map() // peer ID -> their stream we play
  const names = new Map() // peer ID -> name, once known
  const gone = new Set()
  const label = (peer) => names.get(peer) || short(peer)

  function listenTo(peer) {
    if (playing.has(peer)) return
    const theirs = new NetStream(nc, peer)
    playing.set(peer, theirs)
    theirs.on('netStatus', (info) => {
      if (info.code === 'NetStream.Play.Start') {
        console.log(`* talking with ${label(peer)}`)
      } else if (info.level === 'error' || info.code === 'NetStream.Connect.Closed') {
        playing.delete(peer)
        theirs.close()
        if (!gone.has(peer)) {
          gone.add(peer)
          console.log(`* ${label(peer)} left`)
        }
      }
    })
    theirs.on('media', (m) => {
      const v = m.values
      if (m.type === 'data' && v && v.length === 3 && v[0] === 'chat') {
        names.set(peer, String(v[1]))
        console.log(`${v[1]}> ${v[2]}`)
      }
    })
    theirs.play(STREAM)
  }

  // Someone plays our stream: play theirs back.
  mine.on('peerStreamOpened', (sub) => {
    if (!sub.farID) return
    console.log(`* ${label(sub.farID)} joined`)
    gone.delete(sub.farID)
    listenTo(sub.farID)
  })

  if (args.find) {
    const friend = await find(nc, args.find, Number(args.patience))
    if (friend === null) {
      console.error(`nobody is registered as ${JSON.stringify(args.find)}`)
      await nc.close()
      return 1
    }
    names.set(friend, args.find)
    console.log(`* found ${args.find}: ${friend}`)
    listenTo(friend)
  }

  const input = readline.createInterface({ input: process.stdin })
  input.on('line', (line) => {
    mine.send('chat', args.name, line).then(
      (n) => n === 0 && console.log('* nobody is listening yet'),
      () => {},
    )
  })
  const left = await new Promise((resolve) => {
    input.on('close', () => resolve('eof')) // end of input
    process.once('SIGINT', () => resolve('interrupt'))
    nc.on('close', () => resolve('closed')) // the server went away
  })
  input.close()
  if (left === 'eof') await sleep(500) // let the last lines arrive, then leave
  await nc.close()
  return 0
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      serve: { type: 'string' },
      server: { type: 'string' },
      name: { type: 'string', default: 'anonymous' },
      find: { type: 'string' },
      bind: { type: 'string', default: '0.0.0.0:0' },
      patience: { type: 'string', default: '10' },
    },
  })
  if (args.serve) return serve(args.serve)
  if (!args.server) {
    console.error('usage: chat.js --serve ADDRESS | --server URI [--name NAME] [--find NAME] [--bind ADDRESS]')
    return 2
  }
  return chat(args)
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    console.error(e.message)
    process.exitCode = 1
  },
)
