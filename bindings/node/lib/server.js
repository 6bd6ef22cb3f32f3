'use strict'
// Server: the rendezvous server (RFC 7425 §5; a Stratus/Cirrus-like
// service) as a Node EventEmitter.  Everything it does (developer keys,
// peer IDs, introductions for DIRECT_CONNECTIONS, registerName and
// lookupName, publish/play through the server) runs in Rust on its own
// I/O thread; this class routes its events and answers its queries.

const { EventEmitter } = require('node:events')
const { Core } = require('./core')
const { NativeServer } = require('./native')
const { invalid } = require('./errors')
const v = require('./validate')
const { kItem } = require('./internal')

const DEFAULT_CLOSE_TIMEOUT = 1_000

function client(c) {
  return {
    session: c.session,
    peerId: c.peerId === undefined ? null : c.peerId,
    address: c.address,
    addresses: c.addresses,
    connected: c.connected,
    behindNat: c.behindNat === undefined ? null : c.behindNat,
    app: c.app,
    key: c.key === undefined ? null : c.key,
    names: c.names,
    publishing: c.publishing,
    playing: c.playing,
    mediaIn: c.mediaIn,
  }
}

function stream(s) {
  return {
    name: s.name,
    publisher: s.publisher,
    publisherId: s.publisherId === undefined ? null : s.publisherId,
    players: s.players,
    messages: s.messages,
    bytes: s.bytes,
    relayed: s.relayed,
  }
}

const orNull = (x) => (x === undefined ? null : x)

class Server extends EventEmitter {
  #core
  /** sessions of connected clients (each keeps the process alive) */
  #clients = new Set()

  /**
   * Options (all optional; durations in ms):
   * - `bind`: as Endpoint's; default "0.0.0.0:1935";
   * - `keys`: the developer keys accepted on `connect` (the last path
   *   segment of the client's URI, rtmfp://host/app/KEY): undefined
   *   accepts any key (or none), an array of strings exactly those, a
   *   string the path of a file of keys (one a line; blank lines and
   *   lines starting with # skipped).  A refused client gets
   *   "NetConnection.Connect.Rejected";
   * - `hostname`: the certificate's hostname option;
   * - `keyLog`: a file to append each session's packet keys to, so that a
   *   capture can be decrypted (`rtmfp decrypt`); default the file named
   *   by RTMFP_KEYLOGFILE;
   * - `turn`: "turn://USER:PASS@HOST[:PORT]": every datagram goes through
   *   this TURN relay (RFC 8656), as Flash Player's RTMFPTURNProxy did;
   *   peers see the relayed address.  A relay that refuses the
   *   credentials or does not answer throws (code ERR_RTMFP_IO);
   * - `openTimeout`, `idleTimeout`, `keepaliveInterval`: as Endpoint's;
   * - `cluster`: "redis://HOST:PORT[/DB]": the server is a node of a
   *   rendezvous cluster sharing peers, names and streams through Redis
   *   (docs/cluster.md); Redis unreachable throws (code ERR_IO);
   * - `maxStreamsPerClient` (default 64), `maxNamesPerClient` (16),
   *   `maxFlowsPerSession` (512): limits a hostile client cannot pass; a
   *   further createStream or registerName gets `_error`
   *   ("NetConnection.Call.Failed"), a further flow's data is dropped.
   *   Each 1 to 65535 (checked in Rust), else ERR_RTMFP_INVALID_ARGUMENT;
   * - `ref`: keep the process alive while open, as ref(); default false
   *   (a server with connected clients keeps it alive anyway).
   */
  constructor(options) {
    super()
    const o = v.object(options, 'options')
    let bind = ['0.0.0.0:1935']
    if (typeof o.bind === 'number') bind = [`0.0.0.0:${v.integer(o.bind, 'options.bind', 65535)}`]
    else if (o.bind !== undefined) bind = v.addresses(o.bind, 'options.bind')
    const nativeOptions = { bind }
    if (typeof o.keys === 'string') {
      nativeOptions.keysFile = o.keys
    } else if (Array.isArray(o.keys)) {
      nativeOptions.keys = o.keys.map((k, i) => v.string(k, `options.keys[${i}]`))
    } else if (o.keys !== undefined) {
      throw invalid('options.keys must be an array of keys, a file path, or undefined (any key)')
    }
    if (o.hostname !== undefined) nativeOptions.hostname = v.string(o.hostname, 'options.hostname')
    if (o.keyLog !== undefined) nativeOptions.keyLog = v.string(o.keyLog, 'options.keyLog')
    if (o.turn !== undefined) nativeOptions.turn = v.string(o.turn, 'options.turn')
    if (o.cluster !== undefined) nativeOptions.cluster = v.string(o.cluster, 'options.cluster')
    for (const key of ['openTimeout', 'idleTimeout', 'keepaliveInterval']) {
      if (o[key] !== undefined) nativeOptions[key] = v.millis(o[key], `options.${key}`)
    }
    // Integers here; their range is checked once, in Rust (core's Limit).
    for (const key of ['maxStreamsPerClient', 'maxNamesPerClient', 'maxFlowsPerSession']) {
      if (o[key] !== undefined) nativeOptions[key] = v.integer(o[key], `options.${key}`)
    }
    const ref = o.ref === undefined ? false : v.boolean(o.ref, 'options.ref')
    this.#core = new Core(
      {
        emit: (event) => {
          if (event !== 'close') return
          for (const _ of this.#clients) this.#core.release()
          this.#clients.clear()
          this.emit('close')
        },
        [kItem]: (item) => this.#onItem(item),
      },
      (onItems) => new NativeServer(nativeOptions, onItems),
      { layer: true },
    )
    if (ref) this.#core.ref()
  }

  /** The server's peer ID (certificate fingerprint, clients' farID), 64 hex digits. */
  get peerId() {
    return this.#core.peerId
  }

  /** The first bound address, "ip:port"; clients connect to rtmfp://ADDRESS/app. */
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

  #query(method, args, map) {
    return new Promise((resolve, reject) => {
      this.#core.request(method, args, (err, item) => (err ? reject(err) : resolve(map(item))))
    })
  }

  /** The client sessions (connected or connecting), with what each does. */
  sessions() {
    return this.#query('sessions', [], (item) => item.clients.map(client))
  }

  /** The streams published through the server. */
  streams() {
    return this.#query('streams', [], (item) => item.streams.map(stream))
  }

  /**
   * Disconnects a client (its session number, or a client object from
   * 'connect' or sessions()); resolves to whether there was one.
   */
  disconnect(session) {
    const id = typeof session === 'object' && session !== null ? session.session : session
    v.integer(id, 'session')
    return this.#query('disconnect', [id], (item) => item.value === 1)
  }

  /**
   * Closes every client session in order, waits at most `timeout` ms
   * (default 1000), stops the server's threads.  Resolves, after 'close',
   * to whether everything closed cleanly in time.
   */
  close(options) {
    const o = v.object(options, 'options')
    const timeout = o.timeout === undefined ? DEFAULT_CLOSE_TIMEOUT : v.millis(o.timeout, 'options.timeout')
    return this.#core.close(timeout)
  }

  /** Keeps the process alive while open (for a server that waits for clients). */
  ref() {
    this.#core.ref()
    return this
  }

  /** The default: alive only while clients are connected (or a query waits). */
  unref() {
    this.#core.unref()
    return this
  }

  #onItem(item) {
    switch (item.type) {
      case 'clientConnected': {
        const c = client(item.client)
        if (!this.#clients.has(c.session)) {
          this.#clients.add(c.session)
          this.#core.hold()
        }
        this.emit('connect', c)
        return
      }
      case 'clientDisconnected': {
        const c = client(item.client)
        if (this.#clients.delete(c.session)) this.#core.release()
        this.emit('disconnect', c)
        return
      }
      case 'clientRejected':
        this.emit('reject', { session: item.session, peerId: orNull(item.peerId), reason: item.reason })
        return
      case 'clientPeerInfo':
        this.emit('peerInfo', { session: item.session, peerId: orNull(item.peerId), addresses: item.addresses })
        return
      case 'streamPublished':
        this.emit('publish', { session: item.session, name: item.name })
        return
      case 'streamUnpublished':
        this.emit('unpublish', { session: item.session, name: item.name })
        return
      case 'streamPlaying':
        this.emit('play', { session: item.session, name: item.name })
        return
      case 'streamRejected':
        this.emit('streamReject', { session: item.session, name: item.name, reason: item.reason })
        return
      case 'introduced':
        this.emit('introduce', { initiator: item.initiator, peerId: item.peerId, addresses: item.addresses })
        return
      case 'nameRegistered':
        this.emit('registerName', { peerId: item.peerId, name: item.name })
    }
  }
}

module.exports = { Server }
