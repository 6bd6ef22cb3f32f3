'use strict'
// The JS half of one endpoint (internal): the native endpoint, requests
// waiting for their replies, sessions by number, and whether the process
// is kept alive.
//
// Items (events and replies) arrive in batches from the addon's dispatcher
// thread, in one FIFO: a request's reply always comes before the events
// the request caused.  Replies are therefore handled by plain callbacks,
// run in order with the events (a promise's `then` would run only after
// the whole batch, too late for the events that follow the reply).
//
// The addon's event callback does not keep the process alive by itself:
// an idle endpoint (no session, nothing to wait for) never does.  Each
// open session holds a reference (like an open socket), so does
// everything that waits for an answer (a connect, a send's receipt, a
// close, any request) while it waits, and `endpoint.ref()` until
// `unref()`.  close() releases them all.
//
// close() first lets the events that reached the endpoint before it was
// called get to JS: it asks the I/O thread how many events it has handed
// over so far (stats().io.events), waits until that many were handled
// here, and only then stops the runtime.  A 'flow' handler that runs in
// that time can still accept() (or reject) its flow, and the messages
// that already arrived on it are delivered before 'close'.  Calls made
// from those handlers reach the I/O thread before the shutdown does (one
// command channel, in order).

const { EventEmitter } = require('node:events')
const { RtmfpError, codes, closed, fromNative } = require('./errors')
const { Session } = require('./session')
const { kItem, kClosed, callEach } = require('./internal')
const { openFailure } = require('./native')
const v = require('./validate')

const DEFAULT_CLOSE_TIMEOUT = 1_000

// setTimeout's longest delay; longer connect timeouts mean "no timer".
const MAX_TIMER = 2 ** 31 - 1
// How many times a connect follows "use that other session" (glare).
const MAX_SWITCHES = 8

// The error for a session with `what` that did not open: core's code and words.
function openError(reason, what, address) {
  const { code, message } = openFailure(reason, what, address ?? undefined)
  return new RtmfpError(code, message)
}

class Core {
  /**
   * @param {import('node:events').EventEmitter} endpoint the public object:
   *   gets 'session', 'unmatchedIHello', 'close', and (through its
   *   `[kItem]` method, if any) the items this class does not know
   * @param {(onItems: (items: object[]) => void) => any} open makes the
   *   native object (a NativeEndpoint, NativeNetConnection or NativeServer:
   *   the same ref/unref/close and 'reply'/'end' items)
   * @param {{ layer?: boolean }} [options] `layer`: the native object runs
   *   a Flash layer (NetConnection, Server): every item that is not a
   *   reply or 'end' goes to the public object's `[kItem]`
   */
  constructor(endpoint, open, options = {}) {
    this.endpoint = endpoint
    this.layer = options.layer === true
    /** request number -> done(err, item) */
    this.requests = new Map()
    this.nextRequest = 1
    /** session number -> Session (open or closing) */
    this.sessions = new Map()
    /** session number -> a connect waiting for it to open */
    this.openings = new Map()
    this.holds = 0
    this.userRef = false
    /** the close() promise, once close() was called */
    this.closing = null
    /** the addon said 'end': nothing follows */
    this.ended = false
    this.endWaiters = []
    /** events (not replies) handled so far, and close()'s wait on them */
    this.eventsSeen = 0
    this.settleWaiters = []
    /** native.close() was called: the I/O thread takes no more calls */
    this.stopping = false
    try {
      this.native = open((items) => this.onItems(items))
    } catch (e) {
      throw fromNative(e)
    }
    this.peerId = this.native.peerId
    this.addresses = this.native.addresses
  }

  /** The TURN relayed address ("ip:port") while over a relay, else undefined. */
  get relayedAddress() {
    return this.native.closed ? undefined : this.native.relayedAddress
  }

  get closed() {
    return this.closing !== null || this.ended || this.native.closed
  }

  /**
   * Whether calls still reach the I/O thread: true until the runtime is
   * told to stop, a little after close() (see `settle`).  RecvFlow's
   * accept/reject/pause/resume use this, so that a 'flow' event that
   * arrived before close() can still be answered.
   */
  get live() {
    return !this.stopping && !this.ended && !this.native.closed
  }

  // ------------------------------------------------------------ liveness --

  hold() {
    if (this.holds++ === 0 && !this.userRef) this.native.ref()
  }

  release() {
    if (--this.holds === 0 && !this.userRef) this.native.unref()
  }

  ref() {
    if (!this.userRef) {
      this.userRef = true
      if (this.holds === 0) this.native.ref()
    }
  }

  unref() {
    if (this.userRef) {
      this.userRef = false
      if (this.holds === 0) this.native.unref()
    }
  }

  // ------------------------------------------------------------ requests --

  /** A fire-and-forget native call; errors become RtmfpErrors. */
  call(method, ...args) {
    try {
      return this.native[method](...args)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Starts native request `method(request, ...args)`; `done(err, item)`
   * runs when its reply arrives, in order with the events.  Throws at once
   * if the addon refuses the call (bad argument, closed).
   */
  request(method, args, done) {
    if (this.closed) throw closed()
    const id = this.nextRequest
    this.nextRequest = id >= 0xffffffff ? 1 : id + 1
    this.requests.set(id, done)
    this.hold()
    try {
      const r = this.native[method](id, ...args)
      // stats() also returns a promise that only says it ran.
      if (r && typeof r.catch === 'function') r.catch(() => {})
    } catch (e) {
      this.requests.delete(id)
      this.release()
      throw fromNative(e)
    }
    return id
  }

  /**
   * Starts opening a session (`connectUri` or `connectPeer`) and resolves
   * with it once open.  Throws at once for a bad argument; rejects with
   * ERR_RTMFP_CLOSED once closed, ERR_RTMFP_TIMEOUT after `timeout` ms.
   */
  openSession(method, args, what, timeout) {
    if (this.closed) return Promise.reject(closed())
    let resolve, reject
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    // Settles the promise once, with `f` (resolve or reject) and `value`.
    const settle = (f, value) => {
      if (pending.settled) return
      pending.settled = true
      clearTimeout(pending.timer)
      this.release()
      f(value)
    }
    const pending = {
      what,
      own: null, // the session this connect started
      target: null, // the session it waits for (another one after glare)
      switches: 0,
      settled: false,
      timer: null,
      succeed: (session) => settle(resolve, session),
      fail: (err) => settle(reject, err),
    }
    try {
      this.request(method, args, (err, item) => {
        if (err) return pending.fail(err)
        if (pending.settled) return this.abandon(item.value) // timed out first
        pending.own = pending.target = item.value
        this.openings.set(item.value, pending)
      })
    } catch (e) {
      if (e.code === codes.CLOSED) return Promise.reject(e)
      throw e
    }
    this.hold()
    if (timeout <= MAX_TIMER) {
      pending.timer = setTimeout(() => {
        if (pending.target !== null) {
          this.openings.delete(pending.target)
          // Abandon the opening, but never a session that already existed.
          if (pending.target === pending.own) this.abandon(pending.own)
        }
        pending.fail(new RtmfpError(codes.TIMEOUT, `no session with ${what} within ${timeout} ms`))
      }, timeout)
      // The pending request holds the process; the timer need not.
      pending.timer.unref()
    }
    return promise
  }

  abandon(session) {
    try {
      this.native.closeSession(session, true)
    } catch {
      // Closed: nothing left to abandon.
    }
  }

  /** close(): resolves to whether everything closed cleanly in time. */
  close(timeout) {
    if (this.closing) return this.closing
    // A Flash layer (NetConnection, Server) decides everything on the I/O
    // thread: nothing to settle.  An endpoint first settles (see above).
    const settled = this.layer || this.ended ? null : this.settle()
    // Held until the threadsafe function goes (after the last items):
    // the addon drops its own reference in close(), so this ref stays.
    this.hold()
    if (settled === null) {
      this.closing = this.stop(timeout)
    } else {
      this.closing = settled.then(() => this.stop(timeout))
    }
    return this.closing
  }

  /**
   * Resolves once every event that the I/O thread handed over before
   * now has been handled here (or the runtime ended).  Bounded: those
   * events are already on their way (the dispatcher forwards them all).
   */
  settle() {
    return new Promise((resolve) => {
      try {
        this.request('stats', [], (err, item) => {
          if (err || this.eventsSeen >= item.stats.io.events) resolve()
          else this.settleWaiters.push({ target: item.stats.io.events, resolve })
        })
      } catch {
        resolve() // closed already: nothing comes
      }
    })
  }

  /** Stops the runtime (in order, within `timeout` ms), then 'end'. */
  stop(timeout) {
    this.stopping = true
    let task
    try {
      task = this.native.close(timeout)
    } catch (e) {
      this.release()
      throw fromNative(e)
    }
    const ended = this.ended ? Promise.resolve() : new Promise((res) => this.endWaiters.push(res))
    return Promise.all([task, ended]).then(([clean]) => {
      this.release()
      return clean
    })
  }

  // --------------------------------------------------------------- items --

  onItems(items) {
    // A listener that throws must not keep the other items from being handled.
    const thrown = callEach(items, (item) => {
      if (item.type !== 'end' && !item.type.endsWith('Reply') && item.type !== 'reply') this.eventsSeen++
      this.onItem(item)
    })
    if (this.settleWaiters.length > 0) {
      // After the whole batch: its listeners have run (and posted their calls).
      this.settleWaiters = this.settleWaiters.filter((w) => {
        if (this.eventsSeen < w.target) return true
        w.resolve()
        return false
      })
    }
    if (thrown !== null) {
      // As if thrown from the listener: 'uncaughtException'.
      process.nextTick(() => {
        throw thrown.e
      })
    }
  }

  onItem(item) {
    if (item.type.endsWith('Reply') && item.type !== 'reply') {
      // statsReply, sessionStatsReply, clientsReply, streamsReply
      return this.onReply(item)
    }
    if (this.layer && item.type !== 'reply' && item.type !== 'end') {
      this.endpoint[kItem](item)
      return
    }
    switch (item.type) {
      case 'reply':
        return this.onReply(item)
      case 'sessionOpened': {
        let session = this.sessions.get(item.session)
        if (session === undefined) {
          session = new Session(this, item)
          this.sessions.set(item.session, session)
          this.hold() // until it closes
        }
        const pending = this.openings.get(item.session)
        if (pending !== undefined) {
          this.openings.delete(item.session)
          pending.succeed(session)
        } else if (item.role === 'responder') {
          this.endpoint.emit('session', session)
        }
        return
      }
      case 'sessionOpenFailed': {
        const pending = this.openings.get(item.session)
        if (pending === undefined) return
        this.openings.delete(item.session)
        if (item.reason === 'duplicate' && item.duplicateOf !== undefined && pending.switches++ < MAX_SWITCHES) {
          // Use the session that exists (or won glare).
          const other = this.sessions.get(item.duplicateOf)
          if (other !== undefined && !other.closed) return pending.succeed(other)
          pending.target = item.duplicateOf
          this.openings.set(item.duplicateOf, pending)
          return
        }
        // close() cancels openings: that is ERR_RTMFP_CLOSED.
        pending.fail(item.reason === 'cancelled' && this.closed ? closed() : openError(item.reason, pending.what, item.address))
        return
      }
      case 'sessionClosed': {
        const session = this.sessions.get(item.session)
        if (session === undefined) return
        this.sessions.delete(item.session)
        this.release()
        session[kClosed](item.reason)
        return
      }
      case 'unmatchedIHello':
        this.endpoint.emit('unmatchedIHello', { epd: item.epd, tag: item.tag, address: item.address })
        return
      case 'end':
        this.onEnd()
        return
      default: {
        if (item.session === undefined) {
          // Not a session's: the public object's (a later layer's events).
          if (typeof this.endpoint[kItem] === 'function') this.endpoint[kItem](item)
          return
        }
        // Flow and address events: their session routes them.
        const session = this.sessions.get(item.session)
        if (session !== undefined) session[kItem](item)
      }
    }
  }

  onReply(item) {
    const done = this.requests.get(item.request)
    if (done === undefined) return // answered already (closed)
    this.requests.delete(item.request)
    this.release()
    if (item.code !== undefined) done(new RtmfpError(item.code, item.message))
    else done(null, item)
  }

  // The runtime stopped and every event was handed over.
  onEnd() {
    if (this.ended) return
    this.ended = true
    const err = closed()
    for (const [id, done] of this.requests) {
      this.requests.delete(id)
      this.release()
      done(err)
    }
    for (const pending of this.openings.values()) pending.fail(err)
    this.openings.clear()
    const sessions = [...this.sessions.values()]
    this.sessions.clear()
    const thrown = callEach(sessions, (session) => {
      this.release()
      session[kClosed]('endpointClosed')
    })
    for (const resolve of this.endWaiters.splice(0)) resolve()
    for (const w of this.settleWaiters.splice(0)) w.resolve()
    this.endpoint.emit('close')
    if (thrown !== null) throw thrown.e
  }
}

/**
 * What the public objects over one Core (Endpoint, Server) share: their
 * peer ID, bound addresses, `closed`, close(), ref() and unref().
 */
class CoreEmitter extends EventEmitter {
  #core

  /**
   * @param {(self: CoreEmitter) => Core} open makes the Core of `self`
   * @param {boolean} ref ref() it at once
   */
  constructor(open, ref) {
    super()
    this.#core = open(this)
    if (ref) this.#core.ref()
  }

  /** Its peer ID (certificate fingerprint), 64 hex digits. */
  get peerId() {
    return this.#core.peerId
  }

  /** The first bound address, "ip:port" (with the port picked for port 0). */
  get address() {
    return this.#core.addresses[0]
  }

  /** Every bound address. */
  get addresses() {
    return [...this.#core.addresses]
  }

  /** Whether close() was called (or the I/O thread stopped). */
  get closed() {
    return this.#core.closed
  }

  /**
   * Closes every session in order, waits at most `timeout` ms (default
   * 1000) for the far ends to acknowledge, and stops the threads.
   * Resolves, after 'close', to whether everything closed cleanly in
   * time.  Calling it again returns the same promise.
   */
  close(options) {
    return this.#core.close(v.timeout(options, DEFAULT_CLOSE_TIMEOUT))
  }

  /** Keeps the process alive while open (like a socket's ref()). */
  ref() {
    this.#core.ref()
    return this
  }

  /** The default: alive only while something is waited for (see each class). */
  unref() {
    this.#core.unref()
    return this
  }
}

module.exports = { Core, CoreEmitter }
