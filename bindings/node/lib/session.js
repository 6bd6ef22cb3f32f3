'use strict'
// Session, Flow (sending) and RecvFlow (receiving).  Each is a small
// handle (session number, flow number) over the endpoint's Core; what
// happens to them arrives as items that the session routes.

const { EventEmitter } = require('node:events')
const { RtmfpError, codes, invalid, closed } = require('./errors')
const v = require('./validate')
const { kItem, kClosed, kOpened, kAddFlow, kForget, kClosing, callEach } = require('./internal')

/** Flow priorities (RFC 7016 §2.2.4); above ROUTINE is time critical. */
const Priority = Object.freeze({
  BACKGROUND: 0,
  BULK: 1,
  DATA: 2,
  ROUTINE: 3,
  PRIORITY: 4,
  IMMEDIATE: 5,
  FLASH: 6,
  FLASH_OVERRIDE: 7,
})

// send() promise -> its record, for `parent`.
const messages = new WeakMap()

const noop = () => {}

// FlowBase's close, for Flow and RecvFlow.
const kFinish = Symbol('rtmfp.finish')

class Session extends EventEmitter {
  #core
  #id
  #role
  #farAddress
  #farPeerId
  #nearNonce
  #farNonce
  #closed = false
  /** close() was called */
  #closing = false
  /** every sending flow, numbered or not yet */
  #flows = new Set()
  /** flow number -> Flow */
  #sendFlows = new Map()
  /** flow number -> RecvFlow */
  #recvFlows = new Map()

  /** @internal Sessions come from Endpoint.connect/connectPeer and 'session'. */
  constructor(core, item) {
    super()
    this.#core = core
    this.#id = item.session
    this.#role = item.role
    this.#farAddress = item.farAddress
    this.#farPeerId = item.farPeerId === undefined ? null : item.farPeerId
    this.#nearNonce = item.nearNonce
    this.#farNonce = item.farNonce
  }

  /** The session's number, unique for the life of its endpoint. */
  get id() {
    return this.#id
  }

  /** 'initiator' (this end connected) or 'responder'. */
  get role() {
    return this.#role
  }

  /** The far end's address, "ip:port" (follows 'addressChange'). */
  get farAddress() {
    return this.#farAddress
  }

  /** The far end's peer ID, 64 hex digits. */
  get farPeerId() {
    return this.#farPeerId
  }

  /** This end's session nonce (RFC 7425 §4.6.5). */
  get nearNonce() {
    return this.#nearNonce
  }

  /** The far end's session nonce. */
  get farNonce() {
    return this.#farNonce
  }

  /** Whether the session has closed ('close' was emitted). */
  get closed() {
    return this.#closed
  }

  /**
   * Opens a sending flow.  `metadata` (at most 512 bytes) tells the far
   * end what the flow is; `priority` is 0..7 (`Priority`); `association`
   * (a RecvFlow of this session) makes it that flow's return flow.
   * Returns the flow at once; sends wait for it to be opened.
   */
  openFlow(metadata = '', options) {
    const meta = v.bytes(metadata, 'metadata')
    const o = v.object(options, 'options')
    const priority = o.priority === undefined ? Priority.ROUTINE : v.integer(o.priority, 'options.priority', 7)
    let association = null
    if (o.association !== undefined && o.association !== null) {
      if (!(o.association instanceof RecvFlow) || o.association.session !== this) {
        throw invalid('options.association must be a RecvFlow of this session')
      }
      association = o.association.id
    }
    if (this.#closed) throw closed('session')
    const flow = new Flow(this, this.#core, Buffer.from(meta), priority)
    this.#core.request('openFlow', [this.#id, meta, priority, association], (err, item) => {
      flow[kOpened](err, item && item.value)
    })
    this.#flows.add(flow)
    return flow
  }

  /**
   * Closes the session: in order (the far end acknowledges) or, with
   * `abrupt`, at once.  Resolves once closed ('close' emitted).
   */
  close(options) {
    const o = v.object(options, 'options')
    const abrupt = o.abrupt === undefined ? false : v.boolean(o.abrupt, 'options.abrupt')
    if (this.#closed) return Promise.resolve()
    this.#closing = true
    const done = new Promise((resolve) => this.once('close', () => resolve()))
    this.#core.hold()
    done.then(() => this.#core.release())
    try {
      this.#core.call('closeSession', this.#id, abrupt)
    } catch {
      // The endpoint is closing: the session closes with it.
    }
    return done
  }

  /** Counters and RTT estimates (ms); null once the session is not open. */
  stats() {
    if (this.#closed) return Promise.resolve(null)
    return new Promise((resolve, reject) => {
      this.#core.request('sessionStats', [this.#id], (err, item) => {
        if (err) reject(err)
        else resolve(item.stats === undefined ? null : item.stats)
      })
    })
  }

  /** @internal Whether this end is closing the session (or the endpoint). */
  [kClosing]() {
    return this.#closing || this.#closed || this.#core.closed
  }

  /** @internal A sending flow got its number. */
  [kAddFlow](flow) {
    this.#sendFlows.set(flow.id, flow)
  }

  /** @internal A flow is done: no more items for it. */
  [kForget](flow) {
    if (flow instanceof RecvFlow) {
      this.#recvFlows.delete(flow.id)
    } else {
      this.#flows.delete(flow)
      if (flow.id !== null) this.#sendFlows.delete(flow.id)
    }
  }

  /** @internal An item about this session. */
  [kItem](item) {
    switch (item.type) {
      case 'flowOpened': {
        const association = item.association === undefined ? null : this.#sendFlows.get(item.association) || null
        const flow = new RecvFlow(this, this.#core, item.flow, item.metadata, association)
        this.#recvFlows.set(item.flow, flow)
        this.emit('flow', flow)
        return
      }
      case 'message': {
        const flow = this.#recvFlows.get(item.flow)
        if (flow === undefined) return
        const info = { gapBefore: item.gapBefore }
        flow.emit('message', item.data, info)
        this.emit('message', item.data, flow, info)
        return
      }
      case 'flowFinished': {
        const flow = this.#recvFlows.get(item.flow)
        if (flow !== undefined) flow[kItem](item)
        return
      }
      case 'farAddressChanged':
        this.#farAddress = item.to
        this.emit('addressChange', { from: item.from, to: item.to })
        return
      default: {
        // Receipts and sending-flow events.
        const flow = this.#sendFlows.get(item.flow)
        if (flow !== undefined) flow[kItem](item)
      }
    }
  }

  /** @internal The session closed (or its endpoint did). */
  [kClosed](reason) {
    if (this.#closed) return
    this.#closed = true
    const flows = [...this.#flows, ...this.#recvFlows.values()]
    this.#flows.clear()
    this.#sendFlows.clear()
    this.#recvFlows.clear()
    const thrown = callEach(flows, (flow) => flow[kClosed]())
    this.emit('close', reason)
    if (thrown !== null) throw thrown.e
  }
}

// What Flow and RecvFlow share: their session, metadata and closing.
class FlowBase extends EventEmitter {
  #session
  #metadata
  #closed = false

  constructor(session, metadata) {
    super()
    this.#session = session
    this.#metadata = metadata
  }

  get session() {
    return this.#session
  }

  /** The flow's metadata: given to openFlow, or the far end's. */
  get metadata() {
    return this.#metadata
  }

  /** Whether the flow is closed ('close' was emitted). */
  get closed() {
    return this.#closed
  }

  /** Closes the flow once: its session forgets it, then 'close'. */
  [kFinish]() {
    if (this.#closed) return
    this.#closed = true
    this.session[kForget](this)
    this.emit('close')
  }
}

class Flow extends FlowBase {
  #core
  #id = null
  #priority
  /** sends (and a close) waiting for the flow's number or a parent's */
  #queue = []
  /** message number -> record of a send waiting for its receipt */
  #receipts = new Map()
  /** why sends fail from now on */
  #error = null
  #closing = false
  #writable = true
  #rejectCode = null

  /** @internal Flows come from Session.openFlow. */
  constructor(session, core, metadata, priority) {
    super(session, metadata)
    this.#core = core
    this.#priority = priority
  }

  /** The flow's number within its session; null until it is open. */
  get id() {
    return this.#id
  }

  get priority() {
    return this.#priority
  }

  /**
   * False after a send failed with ERR_RTMFP_WOULD_BLOCK, until
   * 'writable'; false once the flow is closing, closed or rejected.
   */
  get writable() {
    return this.#writable && this.#error === null && !this.#closing
  }

  /** The far end's rejection code, or null. */
  get rejectCode() {
    return this.#rejectCode
  }

  /**
   * Queues one message.  The promise resolves once the far end has all of
   * it, and rejects if it is abandoned (ERR_RTMFP_ABANDONED, or
   * ERR_RTMFP_FLOW_REJECTED with `err.rejectCode`), if the send buffer is
   * full (ERR_RTMFP_WOULD_BLOCK: wait for 'writable'), or once the flow,
   * session or endpoint is closed (ERR_RTMFP_CLOSED).  Ignoring it is
   * fine (fire-and-forget): it is never an unhandled rejection.
   *
   * Options: `deadline` (ms: abandon unless delivered by then),
   * `startDeadline` (ms: unless first sent by then), `retransmit` (false:
   * send at most once), `parent` (the promise of an earlier send on this
   * flow: abandon this message if that one is abandoned).
   */
  send(data, options) {
    const payload = v.bytes(data, 'data')
    const o = v.object(options, 'options')
    const opts = {}
    if (o.deadline !== undefined) opts.deadline = v.millis(o.deadline, 'options.deadline')
    if (o.startDeadline !== undefined) opts.startDeadline = v.millis(o.startDeadline, 'options.startDeadline')
    if (o.retransmit !== undefined) opts.retransmit = v.boolean(o.retransmit, 'options.retransmit')
    let parent = null
    if (o.parent !== undefined && o.parent !== null) {
      parent = messages.get(o.parent)
      if (parent === undefined || parent.flow !== this) {
        throw invalid('options.parent must be a promise returned by send() on this flow')
      }
    }
    if (this.#core.closed) return Promise.reject(closed())
    if (this.session.closed) return Promise.reject(closed('session'))
    if (this.#closing) return Promise.reject(closed('flow'))
    if (this.#error !== null) return Promise.reject(this.#error)
    const record = { flow: this, state: 'queued', message: null, resolve: noop, reject: noop }
    const promise = new Promise((resolve, reject) => {
      record.resolve = resolve
      record.reject = reject
    })
    messages.set(promise, record)
    // Fire-and-forget is allowed: an ignored send that is abandoned (at a
    // close, typically) must not be an unhandled rejection.  Whoever
    // awaits or catches the promise still sees the error.
    promise.catch(noop)
    this.#core.hold()
    const job = { payload, opts, parent, record }
    this.#queue.push(job)
    this.#pump()
    // Still waiting: keep a copy, the caller may reuse its buffer.
    if (record.state === 'queued') job.payload = Buffer.from(payload)
    return promise
  }

  /**
   * Closes the flow after what is queued; 'complete' follows once the far
   * end has everything, then 'close'.  Later sends reject with
   * ERR_RTMFP_CLOSED.
   */
  close() {
    if (this.#closing || this.closed) return
    this.#closing = true
    if (this.#error !== null || this.#core.closed || this.session.closed) return
    this.#queue.push({ close: true })
    this.#pump()
  }

  #settle(record, err) {
    if (record.state === 'delivered' || record.state === 'failed') return
    record.state = err ? 'failed' : 'delivered'
    this.#core.release()
    if (err) record.reject(err)
    else record.resolve()
  }

  // Hands queued sends to the addon, in order, as soon as the flow has its
  // number and each one's parent has its message number.
  #pump() {
    while (this.#queue.length > 0 && this.#id !== null && this.#error === null) {
      const job = this.#queue[0]
      if (job.close) {
        this.#queue.shift()
        try {
          this.#core.call('closeFlow', this.session.id, this.#id)
        } catch {
          // Closed: the flow goes with its session.
        }
        continue
      }
      const parent = job.parent
      if (parent !== null && parent.message === null && (parent.state === 'queued' || parent.state === 'sending')) {
        return // the parent's number comes with its reply
      }
      this.#queue.shift()
      if (parent !== null && parent.message === null) {
        // The parent failed before it was queued: as if abandoned.
        this.#settle(job.record, new RtmfpError(codes.ABANDONED, 'the parent message was never sent'))
        continue
      }
      if (parent !== null) job.opts.parent = parent.message
      this.#post(job)
    }
  }

  #post(job) {
    const record = job.record
    record.state = 'sending'
    try {
      this.#core.request('send', [this.session.id, this.#id, job.payload, job.opts], (err, item) => {
        if (err) {
          if (err.code === codes.WOULD_BLOCK) this.#writable = false
          this.#settle(record, err)
        } else {
          record.message = item.value
          if (record.state === 'sending') {
            record.state = 'sent'
            this.#receipts.set(item.value, record)
          }
        }
        this.#pump()
      })
    } catch (e) {
      this.#settle(record, e)
    }
  }

  // Fails everything waiting with `err`; later sends fail with it too.
  #fail(err) {
    if (this.#error === null) this.#error = err
    for (const job of this.#queue.splice(0)) {
      if (!job.close) this.#settle(job.record, err)
    }
    for (const record of this.#receipts.values()) this.#settle(record, err)
    this.#receipts.clear()
  }

  /** @internal openFlow's reply: the flow's number, or why it failed. */
  [kOpened](err, id) {
    if (err) {
      this.#fail(err)
      this[kFinish]()
      return
    }
    this.#id = id
    this.session[kAddFlow](this)
    this.#pump()
  }

  /** @internal An item about this flow. */
  [kItem](item) {
    switch (item.type) {
      case 'messageDelivered':
      case 'messageAbandoned': {
        const record = this.#receipts.get(item.message)
        if (record === undefined) return
        this.#receipts.delete(item.message)
        if (item.type === 'messageDelivered') {
          this.#settle(record, null)
        } else if (this.#rejectCode !== null) {
          this.#settle(record, this.#error)
        } else {
          this.#settle(record, new RtmfpError(codes.ABANDONED, 'the message was abandoned before it was delivered'))
        }
        return
      }
      case 'flowWritable':
        this.#writable = true
        this.emit('writable')
        return
      case 'flowRejected': {
        if (this.session[kClosing]()) {
          // This end closing the session aborts its flows: not a rejection.
          this.#fail(this.#core.closed ? closed() : closed('session'))
          return
        }
        this.#rejectCode = item.code
        const err = new RtmfpError(codes.FLOW_REJECTED, `the far end rejected the flow (code ${item.code})`, {
          rejectCode: item.code,
        })
        this.#error = err
        // Queued sends fail now; sent ones when their abandonment follows.
        for (const job of this.#queue.splice(0)) {
          if (!job.close) this.#settle(job.record, err)
        }
        this.emit('rejected', item.code)
        return
      }
      case 'flowComplete':
        this.emit('complete')
        this[kFinish]()
    }
  }

  /** @internal Its session closed. */
  [kClosed]() {
    this.#fail(closed('session'))
    this[kFinish]()
  }
}

class RecvFlow extends FlowBase {
  #core
  #id
  #association

  /** @internal RecvFlows come with a session's 'flow' event. */
  constructor(session, core, id, metadata, association) {
    super(session, metadata)
    this.#core = core
    this.#id = id
    this.#association = association
  }

  /** The flow's number within its session (receiving direction). */
  get id() {
    return this.#id
  }

  /** Our sending flow this one answers (a return flow), or null. */
  get association() {
    return this.#association
  }

  /**
   * Accepts the flow: its messages arrive as 'message' events (here and on
   * the session), in the sender's order (`order: 'sequence'`, the default)
   * or as soon as each is complete (`'network'`).
   */
  accept(options) {
    const o = v.object(options, 'options')
    const order = o.order === undefined ? 'sequence' : v.string(o.order, 'options.order')
    if (this.#live()) this.#core.call('acceptFlow', this.session.id, this.#id, order)
    return this
  }

  /** Rejects the flow; the sender sees 'rejected' with `code` (default 0). */
  reject(code = 0) {
    v.integer(code, 'code')
    if (!this.#live()) return
    this.#core.call('rejectFlow', this.session.id, this.#id, code)
    process.nextTick(() => this[kFinish]())
  }

  /** Holds back 'message' events; flow control then slows the sender. */
  pause() {
    if (this.#live()) this.#core.call('setFlowSuspended', this.session.id, this.#id, true)
    return this
  }

  /** Delivers messages again after pause(). */
  resume() {
    if (this.#live()) this.#core.call('setFlowSuspended', this.session.id, this.#id, false)
    return this
  }

  // Like a socket's pause() after destroy(), these do nothing once the
  // flow, its session or the endpoint is closed: a 'flow' handler racing
  // with close() must not throw.  While the endpoint settles at the start
  // of close(), they still work: a flow that arrived before close() can
  // be accepted, and its messages are delivered before 'close'.
  #live() {
    return !this.closed && this.#core.live
  }

  /** @internal An item about this flow. */
  [kItem](item) {
    if (item.type === 'flowFinished') {
      this.emit('end')
      this[kFinish]()
    }
  }

  /** @internal Its session closed. */
  [kClosed]() {
    this[kFinish]()
  }
}

module.exports = { Session, Flow, RecvFlow, Priority }
