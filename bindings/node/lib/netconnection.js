'use strict'
// NetConnection and NetStream: Flash's classes (RFC 7425 §5.3, §5.4) over
// the native Flash client.  Every protocol decision is the client's, on
// the connection's I/O thread; these classes translate calls, route
// events ('netStatus', 'media', ...) and keep what Flash exposes as
// properties (nearID, farID, peerStreams) up to date from those events.
//
// Each connect() makes a native NetConnection: a fresh client identity
// (a new peer ID per connection, as RFC 7425 §5.3 asks), UDP sockets, an
// I/O thread and an event thread.  It goes when the connection ends
// (close(), or the server closing it, or a failed connect), so an ended
// NetConnection never keeps the process alive; a connecting or connected
// one does, like a socket.

const { EventEmitter } = require('node:events')
const { Readable, Writable } = require('node:stream')
const { Core } = require('./core')
const { NativeNetConnection, checkNetConnectionOptions, connectOutcome, callRefusal, lookupAnswer } = require('./native')
const { RtmfpError, codes, closed, invalid, state, fromNative } = require('./errors')
const v = require('./validate')
const { kItem, callEach } = require('./internal')

// FLV streams: how long one native FLV call waits on its libuv worker
// (for room, bytes or acknowledgements) before JS calls again, and how
// much one read asks for.
const FLV_WAIT = 200
const FLV_READ_SIZE = 64 * 1024
const DEFAULT_FLV_WINDOW = 100

const DEFAULT_CONNECT_TIMEOUT = 10_000
const DEFAULT_CLOSE_TIMEOUT = 1_000
// setTimeout's longest delay; longer connect timeouts mean "no timer".
const MAX_TIMER = 2 ** 31 - 1
// Closing after the server ended the connection: nothing to wait for.
const ENDED_CLOSE_TIMEOUT = 200

/** `new NetStream(nc, NetStream.DIRECT_CONNECTIONS)`: publish to peers directly. */
const DIRECT_CONNECTIONS = 'directConnections'
/** `new NetStream(nc, NetStream.CONNECT_TO_FMS)` (the default): through the server. */
const CONNECT_TO_FMS = 'connectToFMS'

/** RTMP message types of NetStream messages (RFC 7425 §5.1.2). */
const MessageType = Object.freeze({
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  DATA: 18,
})

const TYPE_NAMES = { 8: 'audio', 9: 'video', 15: 'data', 18: 'data' }

// Internal calls between NetConnection and NetStream.
const kAttach = Symbol('rtmfp.attach')
const kLink = Symbol('rtmfp.link')

const noop = () => {}

/** `promise`, never an unhandled rejection (whoever awaits it still sees the error). */
function quiet(promise) {
  promise.catch(noop)
  return promise
}

function info(item) {
  return { ...item.extra, level: item.level, code: item.code, description: item.description }
}

/** A subscriber of a DIRECT_CONNECTIONS stream, as JS sees it. */
function subscriber(peer) {
  return Object.freeze({
    id: peer.id,
    name: peer.name,
    farID: peer.farId === undefined ? null : peer.farId,
    farAddress: peer.farAddress,
    streamId: peer.streamId,
  })
}

function integer32(value, name) {
  return v.integer(value, name, 0xffffffff)
}

// One connect(): the native object and what goes with it.
class Connection {
  constructor(nc, nativeOptions, ref) {
    this.nc = nc
    /** NetStream key -> NetStream */
    this.streams = new Map()
    this.nextKey = 1
    /** transaction ID -> { resolve, reject } */
    this.calls = new Map()
    this.connected = false
    /** the connection's last status was reported (Success is not the last) */
    this.ended = false
    /** the pending connect(): { resolve, reject, timer } */
    this.pending = null
    this.held = false
    this.server = null
    this.core = new Core(
      {
        emit: (event) => {
          if (event === 'close') this.onEnd()
        },
        [kItem]: (item) => this.onItem(item),
      },
      (onItems) => new NativeNetConnection(nativeOptions, onItems),
      { layer: true },
    )
    if (ref) this.core.ref()
  }

  hold() {
    if (!this.held) {
      this.held = true
      this.core.hold()
    }
  }

  release() {
    if (this.held) {
      this.held = false
      this.core.release()
    }
  }

  settle(err) {
    const p = this.pending
    if (p === null) return
    this.pending = null
    clearTimeout(p.timer)
    if (err) p.reject(err)
    else p.resolve()
  }

  /** The connection is over (status reported, or the native object ended). */
  over(err) {
    this.connected = false
    this.settle(err)
    if (!this.ended) {
      this.ended = true
      this.release()
    }
    // Nothing more will happen on it: stop its threads (idempotent).
    if (!this.core.closing) this.core.close(ENDED_CLOSE_TIMEOUT).catch(noop)
  }

  onItem(item) {
    if (item.type === 'netStatus' && item.stream === undefined) return this.onStatus(info(item))
    if (item.type === 'serverSession') {
      this.server = { farID: item.farId === undefined ? null : item.farId, nearNonce: item.nearNonce, farNonce: item.farNonce, farAddress: item.farAddress }
      return
    }
    if (item.type === 'callResult') {
      const call = this.calls.get(item.transactionId)
      if (call === undefined) return
      this.calls.delete(item.transactionId)
      this.core.release()
      if (item.ok) {
        call.resolve(item.args)
      } else {
        const i = { code: item.code, description: item.description }
        const { code, message } = callRefusal(item.code, item.description, call.what)
        call.reject(new RtmfpError(code, message, { info: i }))
      }
      return
    }
    if (item.type === 'command' && item.stream === undefined) {
      this.nc.emit('command', item.name, item.args)
      return
    }
    if (item.stream !== undefined) {
      const ns = this.streams.get(item.stream)
      if (ns !== undefined) ns[kItem](item)
      else if (item.type === 'peerConnect' && !this.core.closed) {
        this.core.call('rejectPeer', item.peer.id, 'the NetStream is closed')
      }
    }
  }

  onStatus(i) {
    const outcome = connectOutcome(i.level, i.code, i.description, this.nc.uri ?? '')
    if (outcome.ends && outcome.failure == null) {
      this.connected = true
      this.settle(null)
    } else if (outcome.ends) {
      this.over(new RtmfpError(outcome.failure.code, outcome.failure.message, { info: i }))
    }
    this.nc.emit('netStatus', i)
  }

  // The native object ended: every event was handed over.
  onEnd() {
    this.over(closed('NetConnection'))
    const err = closed('NetConnection')
    for (const call of this.calls.values()) {
      this.core.release()
      call.reject(err)
    }
    this.calls.clear()
    const streams = [...this.streams.values()]
    this.streams.clear()
    const thrown = callEach(streams, (ns) => ns[kLink](null))
    this.nc[kLink](this)
    if (thrown !== null) throw thrown.e
  }

  /**
   * Starts a request; its promise resolves with `map(item)` on the reply.
   * A bad argument throws at once; a closed connection rejects.
   */
  request(method, args, map = () => undefined, onReply = null) {
    let resolve, reject
    const promise = quiet(
      new Promise((res, rej) => {
        resolve = res
        reject = rej
      }),
    )
    try {
      this.core.request(method, args, (err, item) => {
        if (err) reject(err)
        else if (onReply !== null) onReply(item, resolve, reject)
        else resolve(map(item))
      })
    } catch (e) {
      if (e.code !== codes.CLOSED) throw e
      reject(closed('NetConnection'))
    }
    return promise
  }

  call(name, args, what = `call(${JSON.stringify(name)})`) {
    return this.request('call', [name, args], undefined, (item, resolve, reject) => {
      // Held until the answer comes (or the connection ends).
      this.core.hold()
      this.calls.set(item.value, { resolve, reject, what })
    })
  }
}

class NetConnection extends EventEmitter {
  #options
  #ref
  #maxPeerConnections = 8
  /** the current Connection, or null */
  #conn = null
  /** what the last connection told (kept after it ends) */
  #nearID = null
  #uri = null
  #server = null

  /**
   * Options (all optional; durations in ms): the rows of core's table of
   * options a NetConnection takes (NetConnectionOptions in index.d.ts,
   * generated from it), checked here by the addon and used at connect()
   * (the key log is opened now, the TURN relay allocated at connect();
   * `maxPeerConnections` is also a property), and
   * - `ref`: keep the process alive while the native connection exists,
   *   even when idle; default false.
   */
  constructor(options) {
    super()
    const o = v.object(options, 'options')
    this.#options = v.nativeOptions(o)
    try {
      checkNetConnectionOptions(this.#options) // used at connect(); a bad one throws now
    } catch (e) {
      throw fromNative(e)
    }
    if (o.maxPeerConnections !== undefined) {
      this.#maxPeerConnections = integer32(o.maxPeerConnections, 'options.maxPeerConnections')
    }
    this.#ref = v.flag(o, 'ref')
  }

  /** Our peer ID (64 hex digits) once connect() was called: a new one per connection. */
  get nearID() {
    return this.#conn !== null ? this.#conn.core.peerId : this.#nearID
  }

  /** The server's peer ID (64 hex digits) once its session is open, else null. */
  get farID() {
    return this.#serverField('farID')
  }

  /** This end's session nonce with the server (hex; RFC 7425 §4.6.5), else null. */
  get nearNonce() {
    return this.#serverField('nearNonce')
  }

  /** The server's session nonce (hex), else null. */
  get farNonce() {
    return this.#serverField('farNonce')
  }

  /** The server's address, "ip:port", once its session is open, else null. */
  get farAddress() {
    return this.#serverField('farAddress')
  }

  /** The URI given to the last connect(), or null. */
  get uri() {
    return this.#uri
  }

  /** Whether "NetConnection.Connect.Success" came and the connection is up. */
  get connected() {
    return this.#conn !== null && this.#conn.connected
  }

  /** The TURN relayed address of the current connection ("ip:port"), or null without a relay. */
  get relayedAddress() {
    if (this.#conn === null) return null
    const a = this.#conn.core.relayedAddress
    return a === undefined ? null : a
  }

  /** The local addresses of the current connection (empty without one). */
  get addresses() {
    return this.#conn !== null ? [...this.#conn.core.addresses] : []
  }

  /** The first local address, or null. */
  get address() {
    return this.#conn !== null ? this.#conn.core.addresses[0] : null
  }

  /** Most subscribers, pending or accepted, of our DIRECT_CONNECTIONS streams (default 8). */
  get maxPeerConnections() {
    return this.#maxPeerConnections
  }

  set maxPeerConnections(max) {
    integer32(max, 'maxPeerConnections')
    try {
      checkNetConnectionOptions({ maxPeerConnections: max }) // the option's range, as at construction
    } catch (e) {
      throw fromNative(e)
    }
    this.#maxPeerConnections = max
    const conn = this.#conn
    if (conn !== null && !conn.core.closed) conn.core.call('setMaxPeerConnections', max)
  }

  // Field `name` of what the server session told (the current
  // connection's, else the last one's), or null before it was told.
  #serverField(name) {
    const s = this.#conn !== null ? this.#conn.server : this.#server
    return s === null ? null : s[name]
  }

  /**
   * Connects to the server of `uri` (`rtmfp://host[:port]/app[/KEY]`) and
   * resolves on "NetConnection.Connect.Success".  Every status is also a
   * 'netStatus' event.  Rejects with ERR_RTMFP_REJECTED ("...Rejected": a
   * bad developer key), ERR_RTMFP_CONNECT_FAILED ("...Failed"),
   * ERR_RTMFP_TIMEOUT after `timeout` ms (default 10 s; the connection is
   * then closed), ERR_RTMFP_INVALID_ARGUMENT for an unknown host.  A
   * malformed URI throws.  `args`: extra `connect` arguments (AMF).
   * Calling it while connected (or connecting) throws ERR_RTMFP_STATE;
   * once the connection ended (closed, failed, rejected) it connects
   * again, with a new identity.
   */
  connect(uri, options) {
    v.string(uri, 'uri')
    const o = v.object(options, 'options')
    const timeout = o.timeout === undefined ? DEFAULT_CONNECT_TIMEOUT : v.millis(o.timeout, 'options.timeout')
    const args = o.args === undefined ? [] : o.args
    if (!Array.isArray(args)) throw invalid('options.args must be an array')
    // An ended connection may still be closing: it finishes on its own.
    if (this.#conn !== null && !this.#conn.ended) {
      throw state('the NetConnection is connected or connecting: close() it first')
    }
    const conn = new Connection(this, { ...this.#options, maxPeerConnections: this.#maxPeerConnections }, this.#ref)
    const promise = quiet(
      new Promise((resolve, reject) => {
        conn.pending = { resolve, reject, timer: null }
      }),
    )
    try {
      conn.core.request('connect', [uri, args], (err) => {
        if (err) conn.over(err)
      })
    } catch (e) {
      conn.core.close(0).catch(noop)
      throw e
    }
    this.#conn = conn
    this.#uri = uri
    this.#nearID = conn.core.peerId
    this.#server = null
    conn.hold()
    if (timeout <= MAX_TIMER) {
      conn.pending.timer = setTimeout(() => {
        conn.over(new RtmfpError(codes.TIMEOUT, `no answer from ${uri} within ${timeout} ms`))
      }, timeout)
      conn.pending.timer.unref()
    }
    return promise
  }

  /**
   * Calls `command` on the server with `args` (AMF values: numbers,
   * strings, booleans, null, arrays, plain objects, Dates, Buffers);
   * resolves with the `_result`'s arguments, rejects with
   * ERR_RTMFP_CALL_FAILED (`err.info`) for an `_error`.
   */
  call(command, ...args) {
    v.string(command, 'command')
    return this.#connected().call(command, args)
  }

  /**
   * Registers `name` for our peer ID with the rendezvous server, so that
   * others find us with lookupName().  Rejects with ERR_RTMFP_CALL_FAILED
   * if another peer holds it.  The name goes when we disconnect.
   */
  registerName(name) {
    if (v.string(name, 'name') === '') throw invalid('name must not be empty')
    return this.#connected()
      .call('registerName', [name], `registerName(${JSON.stringify(name)})`)
      .then(() => undefined)
  }

  /**
   * Resolves with the peer ID (64 hex digits) registered as `name`;
   * rejects with ERR_RTMFP_CALL_FAILED if no connected peer holds it.
   * Play its streams with `new NetStream(nc, peerId)`.
   */
  lookupName(name) {
    if (v.string(name, 'name') === '') throw invalid('name must not be empty')
    return this.#connected()
      .call('lookupName', [name], `lookupName(${JSON.stringify(name)})`)
      .then((args) => {
        try {
          return lookupAnswer(typeof args[0] === 'string' ? args[0] : undefined, name)
        } catch (e) {
          throw fromNative(e)
        }
      })
  }

  #connected() {
    const conn = this.#conn
    if (conn === null || conn.ended) throw state('the NetConnection is not connected')
    return conn
  }

  /**
   * Closes the connection in order (RFC 7425 §5.3.6: NetStreams, flows,
   * the sessions to the server and to peers), waits at most `timeout` ms
   * (default 1000) for the far ends, and stops its threads.  Resolves to
   * whether everything closed cleanly in time, after
   * "NetConnection.Connect.Closed" and 'close'.
   */
  close(options) {
    const timeout = v.timeout(options, DEFAULT_CLOSE_TIMEOUT)
    const conn = this.#conn
    if (conn === null) return Promise.resolve(true)
    return conn.core.close(timeout)
  }

  /** Keeps the process alive while the native connection exists (even idle). */
  ref() {
    this.#ref = true
    if (this.#conn !== null) this.#conn.core.ref()
    return this
  }

  /** The default: alive only while connecting or connected. */
  unref() {
    this.#ref = false
    if (this.#conn !== null) this.#conn.core.unref()
    return this
  }

  /** @internal A NetStream of this connection: its key and connection. */
  [kAttach](ns) {
    const conn = this.#conn
    if (conn === null || conn.ended || conn.core.closed) {
      throw state('the NetConnection is not connected: connect() first')
    }
    const key = conn.nextKey++
    conn.streams.set(key, ns)
    return { conn, key }
  }

  /** @internal The connection ended. */
  [kLink](conn) {
    if (this.#conn !== conn) return
    this.#server = conn.server
    this.#conn = null
    this.emit('close')
  }
}

class NetStream extends EventEmitter {
  static DIRECT_CONNECTIONS = DIRECT_CONNECTIONS
  static CONNECT_TO_FMS = CONNECT_TO_FMS

  #nc
  #conn
  #key
  #kind
  #farID = null
  #closed = false
  /** peer stream id -> subscriber (accepted) */
  #peers = new Map()
  /** an FLV read stream was made */
  #flvReading = false
  /** its reader's start, until it ran (play() waits for it) */
  #flvStart = null
  /** the publisher's onPeerConnect (null: accept every subscriber) */
  #onPeerConnect = null

  /**
   * A publisher's `onPeerConnect(subscriber)`: called on the JS thread for
   * every subscriber that asks to play this DIRECT_CONNECTIONS stream
   * (within maxPeerConnections); return true to accept it, false to
   * reject it (it gets "NetStream.Connect.Rejected").  If it throws, the
   * subscriber is rejected and the error is emitted as 'error' (or, with
   * no 'error' listener, a process warning).  Default (null): accept,
   * on the I/O thread without waiting for this one.
   */
  get onPeerConnect() {
    return this.#onPeerConnect
  }

  set onPeerConnect(f) {
    const asks = typeof f === 'function'
    const asked = typeof this.#onPeerConnect === 'function'
    this.#onPeerConnect = f
    if (asks === asked || this.#closed) return
    // Only a stream with a handler makes its subscribers wait for us.
    try {
      this.#conn.core.call('setStreamAsks', this.#key, asks)
    } catch (e) {
      if (e.code !== codes.CLOSED) throw fromNative(e)
    }
  }

  /**
   * `new NetStream(nc)` or `(nc, NetStream.CONNECT_TO_FMS)`: publish or play
   * through the server; `(nc, NetStream.DIRECT_CONNECTIONS)`: publish to
   * peers that play it directly; `(nc, peerID)`: play the
   * DIRECT_CONNECTIONS stream of the peer with that ID (64 hex digits).
   * `nc` must be connecting or connected.
   */
  constructor(nc, peerID) {
    super()
    if (!(nc instanceof NetConnection)) throw invalid('nc must be a NetConnection')
    let kind = 'server'
    let peer = null
    if (peerID === DIRECT_CONNECTIONS) kind = 'direct'
    else if (peerID !== undefined && peerID !== CONNECT_TO_FMS) {
      v.string(peerID, 'peerID')
      kind = 'peer'
      peer = peerID.toLowerCase()
    }
    const { conn, key } = nc[kAttach](this)
    try {
      conn.core.call('createStream', key, kind, peer)
    } catch (e) {
      conn.streams.delete(key)
      throw e
    }
    this.#nc = nc
    this.#conn = conn
    this.#key = key
    this.#kind = kind
    this.#farID = peer
  }

  /** Its NetConnection. */
  get netConnection() {
    return this.#nc
  }

  /** The publisher's peer ID for a peer NetStream, else null. */
  get farID() {
    return this.#farID
  }

  /** 'server', 'direct' (DIRECT_CONNECTIONS) or 'peer'. */
  get kind() {
    return this.#kind
  }

  /** Whether close() was called (or the connection ended). */
  get closed() {
    return this.#closed
  }

  /** The accepted subscribers of this DIRECT_CONNECTIONS stream. */
  get peerStreams() {
    return [...this.#peers.values()]
  }

  #live() {
    if (this.#closed) return quiet(Promise.reject(closed('NetStream')))
    return null
  }

  #request(method, args, map) {
    const dead = this.#live()
    if (dead !== null) return dead
    return this.#conn.request(method, [this.#key, ...args], map)
  }

  /**
   * Publishes `name`: through the server, or (DIRECT_CONNECTIONS) to the
   * peers that play it by our peer ID.  "NetStream.Publish.Start" follows
   * as 'netStatus'.  The promise resolves once the client took the call
   * and rejects (ERR_RTMFP_STATE, ...) if it refused; ignoring it is fine.
   */
  publish(name) {
    if (v.string(name, 'name') === '') throw invalid('name must not be empty')
    return this.#request('publish', [name])
  }

  /**
   * Plays `name`: through the server, or from the peer of a peer
   * NetStream.  "NetStream.Play.Start" (or "NetStream.Connect.Rejected")
   * follows as 'netStatus', then 'media' events.  Resolves as publish().
   */
  play(name) {
    if (v.string(name, 'name') === '') throw invalid('name must not be empty')
    const start = this.#flvStart
    if (start !== null) return quiet(start.then(() => this.#request('play', [name])))
    return this.#request('play', [name])
  }

  #media(type, timestamp, data) {
    integer32(timestamp, 'timestamp')
    return this.#request('send', [type, timestamp, v.bytes(data, 'data')], (item) => item.value)
  }

  /**
   * Sends an audio message (an FLV audio tag body) with `timestamp` (ms)
   * on a publishing stream: to the server, or to every accepted
   * subscriber.  Resolves with how many destinations it was queued for.
   */
  sendAudio(timestamp, data) {
    return this.#media(MessageType.AUDIO, timestamp, data)
  }

  /** Sends a video message (an FLV video tag body), as sendAudio(). */
  sendVideo(timestamp, data) {
    return this.#media(MessageType.VIDEO, timestamp, data)
  }

  /** Sends a data message (type 18) of AMF0 `values` with `timestamp`, as sendAudio(). */
  sendData(timestamp, ...values) {
    integer32(timestamp, 'timestamp')
    return this.#request('sendData', [timestamp, values], (item) => item.value)
  }

  /**
   * Flash's `NetStream.send(handlerName, ...args)`: a data message of the
   * handler name and `args`; players get it as 'media' with `values`
   * `[handler, ...args]`.
   */
  send(handler, ...args) {
    if (v.string(handler, 'handler') === '') throw invalid('handler must not be empty')
    return this.sendData(0, handler, ...args)
  }

  /**
   * Closes the stream: unpublishes (dropping its subscribers) or stops
   * playing; 'close' follows.  Later calls reject with ERR_RTMFP_CLOSED.
   */
  close() {
    if (this.#closed) return
    try {
      this.#conn.core.call('closeStream', this.#key)
      // Its FLV reader ends at once (a worker closes it as core does).
      if (this.#flvReading) this.#flv('flvClose').catch(noop)
    } catch {
      // The connection is closed: so is the stream.
    }
    this.#conn.streams.delete(this.#key)
    this.#finish()
  }

  // ------------------------------------------------------------ FLV --

  /**
   * A stream.Writable that publishes the FLV bytes written to it (what
   * `ffmpeg -f flv -` writes; split anywhere, a header in two writes or a
   * tag across many): each whole tag goes out as the message of its type
   * (audio, video, script data) at its timestamp, unpaced.  publish()
   * first (after it resolves).  Backpressure: a write completes once the
   * flows took its bytes (while 64 tags wait for the flows, the next
   * write waits, on a libuv worker, never the JS thread).  end() resolves
   * 'finish' once every tag was sent and acknowledged.  Bytes that are
   * not FLV are an 'error' (ERR_RTMFP_INVALID_ARGUMENT, "not FLV from
   * byte N on: ...", "not an FLV stream: ..."), once every tag before
   * them was sent and acknowledged.  `autoClose` (default true): close() this NetStream
   * (unpublish) once the Writable finishes, errors or is destroyed.
   */
  createFlvWriteStream(options) {
    const o = v.object(options, 'options')
    const autoClose = o.autoClose === undefined ? true : v.boolean(o.autoClose, 'options.autoClose')
    const ns = this
    const ws = new Writable({
      write(chunk, _encoding, callback) {
        ns.#flvWrite(ws, chunk).then(() => callback(), callback)
      },
      final(callback) {
        ns.#flvFlush(ws).then(() => callback(), callback)
      },
      destroy(err, callback) {
        if (autoClose) ns.close()
        callback(err)
      },
    })
    return ws
  }

  /**
   * A stream.Readable of this playing stream as FLV bytes (for
   * `ffprobe -`, `ffplay -`, a file): the header, then tags as they
   * become ready, reordered within `windowMs` of stream time (default
   * 100; 0: as they arrive).  Make it before play(): from then on the
   * stream's audio, video and data go to it, not to 'media' events
   * ('netStatus' still comes).  It ends ('end') when the publisher
   * unpublishes, this NetStream closes or the connection ends.  One per
   * NetStream (a second throws ERR_RTMFP_STATE).  Reads wait on a libuv
   * worker, never the JS thread.  `autoClose` (default true): close()
   * this NetStream (stop playing) once the Readable ends, errors or is
   * destroyed.
   */
  createFlvReadStream(options) {
    const o = v.object(options, 'options')
    const windowMs = o.windowMs === undefined ? DEFAULT_FLV_WINDOW : integer32(o.windowMs, 'options.windowMs')
    const autoClose = o.autoClose === undefined ? true : v.boolean(o.autoClose, 'options.autoClose')
    if (this.#flvReading) throw state('this NetStream is already read as FLV')
    if (this.#closed) throw closed('NetStream')
    this.#flvReading = true
    const started = this.#flv('flvStartRead', windowMs)
    const start = started.catch(noop)
    this.#flvStart = start
    start.then(() => {
      if (this.#flvStart === start) this.#flvStart = null
    })
    const ns = this
    const rs = new Readable({
      read(size) {
        started.then(() => ns.#flvRead(rs, size)).catch((e) => rs.destroy(e))
      },
      destroy(err, callback) {
        if (autoClose) ns.close()
        callback(err)
      },
    })
    return rs
  }

  /** A native FLV call (on a libuv worker); rejects with an RtmfpError. */
  #flv(method, ...args) {
    let promise
    try {
      promise = this.#conn.core.call(method, this.#key, ...args)
    } catch (e) {
      return quiet(Promise.reject(e))
    }
    return promise.then(
      (r) => {
        if (r.code != null) throw new RtmfpError(r.code, r.message)
        return r
      },
      (e) => {
        throw fromNative(e)
      },
    )
  }

  async #flvWrite(ws, chunk) {
    let at = 0
    while (at < chunk.length && !ws.destroyed) {
      if (this.#closed) throw closed('NetStream')
      try {
        at += (await this.#flv('flvWrite', chunk.subarray(at), FLV_WAIT)).count
      } catch (e) {
        // Not FLV: the tags before the bad byte still go out, before
        // 'error' (and autoClose) end the stream.
        if (e.code === codes.INVALID_ARGUMENT) await this.#flvFlush(ws).catch(noop)
        throw e
      }
    }
  }

  async #flvFlush(ws) {
    while (!ws.destroyed) {
      if (this.#closed) throw closed('NetStream')
      if ((await this.#flv('flvFlush', FLV_WAIT)).flushed) return
    }
  }

  async #flvRead(rs, size) {
    while (!rs.destroyed) {
      let r
      try {
        r = await this.#flv('flvRead', Math.max(size, FLV_READ_SIZE), FLV_WAIT)
      } catch (e) {
        // The connection is gone: that ends the stream, as in core.
        if (e.code !== codes.CLOSED) throw e
        r = { data: Buffer.alloc(0) }
      }
      if (r.data != null) {
        if (!rs.destroyed) rs.push(r.data.length === 0 ? null : r.data)
        return
      }
    }
  }

  #finish() {
    if (this.#closed) return
    this.#closed = true
    const peers = [...this.#peers.values()]
    this.#peers.clear()
    const thrown = callEach(peers, (sub) => this.emit('peerStreamClosed', sub, 'the stream is closed'))
    this.emit('close')
    if (thrown !== null) throw thrown.e
  }

  #peerConnect(peer) {
    const sub = subscriber(peer)
    let ok = true
    let reason = "rejected by the publisher's onPeerConnect"
    if (typeof this.onPeerConnect === 'function') {
      try {
        ok = Boolean(this.onPeerConnect(sub))
      } catch (e) {
        ok = false
        reason = 'onPeerConnect failed'
        if (this.listenerCount('error') > 0) {
          this.emit('error', e)
        } else {
          process.emitWarning(`onPeerConnect threw, the subscriber was rejected: ${e && e.stack ? e.stack : e}`, {
            type: 'RtmfpWarning',
            code: 'RTMFP_ON_PEER_CONNECT',
          })
        }
      }
    }
    try {
      if (ok) this.#conn.core.call('acceptPeer', peer.id)
      else this.#conn.core.call('rejectPeer', peer.id, reason)
    } catch (e) {
      if (e.code !== codes.CLOSED) throw fromNative(e)
    }
  }

  /** @internal An item about this stream. */
  [kItem](item) {
    switch (item.type) {
      case 'netStatus':
        this.emit('netStatus', info(item))
        return
      case 'media': {
        const message = {
          type: TYPE_NAMES[item.messageType] || 'other',
          messageType: item.messageType,
          timestamp: item.timestamp,
          data: item.data,
        }
        if (item.values !== undefined) message.values = item.values
        this.emit('media', message)
        return
      }
      case 'command':
        this.emit('command', item.name, item.args)
        return
      case 'peerConnect':
        this.#peerConnect(item.peer)
        return
      case 'peerStreamOpened': {
        const sub = subscriber(item.peer)
        this.#peers.set(sub.id, sub)
        this.emit('peerStreamOpened', sub)
        return
      }
      case 'peerStreamClosed': {
        const sub = this.#peers.get(item.peer)
        this.#peers.delete(item.peer)
        if (sub !== undefined) this.emit('peerStreamClosed', sub, item.reason)
      }
    }
  }

  /** @internal Its connection ended. */
  [kLink]() {
    this.#finish()
  }
}

module.exports = { NetConnection, NetStream, MessageType, DIRECT_CONNECTIONS }
