'use strict'
// Shared test helpers: endpoint pairs on loopback and bounded waits.

const { once } = require('node:events')
const rtmfp = require('..')

// Every wait in the tests is bounded by this (ms); nothing asserts on
// speed except where a test says so.
const WAIT = 10_000

/** `promise`, or a rejection after `ms` naming `what`. */
function within(promise, what, ms = WAIT) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The arguments of the next `event` of `emitter`, bounded. */
function next(emitter, event, ms = WAIT) {
  return within(once(emitter, event), `'${event}'`, ms)
}

/** Two peer endpoints on loopback; `t.after` closes them. */
function pair(t) {
  const a = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  const b = new rtmfp.Endpoint({ bind: '127.0.0.1:0' })
  t.after(() => Promise.all([a.close(), b.close()]))
  return [a, b]
}

/** `pair` with a session from a to b, open at both ends. */
async function connected(t) {
  const [a, b] = pair(t)
  const incoming = next(b, 'session')
  const sa = await within(a.connectPeer(b.peerId, b.address), 'connectPeer')
  const [sb] = await incoming
  return { a, b, sa, sb }
}

/** Collects the messages of `flow` until `count` arrived. */
function collect(flow, count) {
  const got = []
  return within(
    new Promise((resolve) => {
      flow.on('message', (data) => {
        got.push(data)
        if (got.length === count) resolve(got)
      })
    }),
    `${count} messages`,
  )
}

/** The next 'netStatus' of `emitter` with `code`, bounded. */
function status(emitter, code) {
  return within(
    new Promise((resolve) => {
      const on = (info) => {
        if (info.code === code) {
          emitter.off('netStatus', on)
          resolve(info)
        }
      }
      emitter.on('netStatus', on)
    }),
    code,
  )
}

module.exports = { WAIT, within, next, pair, connected, collect, status }
