#!/usr/bin/env node
// Two (or more) peers exchanging lines of text over RTMFP.
//
// Start one peer; it prints how others can join:
//
//   $ node examples/chat.js --name alice --listen 127.0.0.1:5000
//   alice: peer ID 3f9c...e1 at 127.0.0.1:5000
//   others join with: node chat.js --connect 3f9c...e1@127.0.0.1:5000
//
// Join from another terminal (or machine):
//
//   $ node examples/chat.js --name bob --connect 3f9c...e1@127.0.0.1:5000
//
// Type lines; they appear on the other side as "alice> hello".  End of
// input (Ctrl-D) or Ctrl-C leaves.
//
// Peers are found by peer ID and address for now; finding a friend by name
// comes with the rendezvous server (a Flash NetConnection with
// DIRECT_CONNECTIONS introduces peers by peer ID without their address).
//
// Each peer opens one flow, with metadata "chat:<name>", on every session
// (the one it starts and the ones that reach it) and accepts the chat
// flows others open: the same protocol as bindings/python/examples/chat.py,
// so Node and Python peers can chat.  Everything else is the library's:
// sessions, crypto, retransmission, ordering.
'use strict'

const { parseArgs } = require('node:util')
const readline = require('node:readline')
const rtmfp = require('..')

const PREFIX = 'chat:'

async function main() {
  const { values: args } = parseArgs({
    options: {
      name: { type: 'string', default: 'anonymous' },
      listen: { type: 'string', default: '0.0.0.0:0' },
      connect: { type: 'string' },
    },
  })
  const ep = new rtmfp.Endpoint({ bind: args.listen })
  console.log(`${args.name}: peer ID ${ep.peerId} at ${ep.address}`)
  console.log(`others join with: node chat.js --connect ${ep.peerId}@${ep.address}`)

  const out = new Map() // session -> our chat flow on it
  const unacked = new Set() // send promises not yet settled

  // Chat on a session: our flow to it, and its flows to us.
  function chatOn(session) {
    out.set(session, session.openFlow(PREFIX + args.name))
    session.on('flow', (flow) => {
      const metadata = flow.metadata.toString()
      if (!metadata.startsWith(PREFIX)) return flow.reject(1)
      const who = metadata.slice(PREFIX.length)
      flow.accept().on('message', (data) => console.log(`${who}> ${data.toString()}`))
    })
    session.on('close', () => {
      out.delete(session)
      console.log('* a peer left')
    })
  }

  ep.on('session', (session) => {
    chatOn(session)
    console.log(`* ${(session.farPeerId || '?').slice(0, 16)}... joined`)
  })

  if (args.connect) {
    const at = args.connect.indexOf('@')
    const peerId = args.connect.slice(0, at)
    const address = args.connect.slice(at + 1)
    try {
      chatOn(await ep.connectPeer(peerId, address, { timeout: 10_000 }))
    } catch (e) {
      console.error(`cannot join: ${e.message}`)
      await ep.close()
      return 1
    }
    console.log(`* joined ${peerId.slice(0, 16)}...`)
  }

  const input = readline.createInterface({ input: process.stdin })
  input.on('line', (line) => {
    for (const flow of out.values()) {
      const sent = flow.send(line)
      unacked.add(sent)
      sent.finally(() => unacked.delete(sent)).catch(() => {})
    }
  })
  await new Promise((resolve) => {
    input.on('close', resolve) // end of input
    process.once('SIGINT', resolve)
  })
  input.close()
  // Flush what is still on its way (for at most 5 s), then leave.
  const flushed = Promise.allSettled([...unacked])
  await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  await ep.close()
  return 0
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
