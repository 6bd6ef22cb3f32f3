'use strict'
// Server: the rendezvous server (RFC 7425 §5; a Stratus/Cirrus-like
// service) as a Node EventEmitter.  Everything it does (developer keys,
// peer IDs, introductions for DIRECT_CONNECTIONS, registerName and
// lookupName, publish/play through the server) runs in Rust on its own
// I/O thread; this class routes its events and answers its queries.

const { Core, CoreEmitter } = require('./core')
const { NativeServer } = require('./native')
const { codes, invalid } = require('./errors')
const v = require('./validate')
const { kItem } = require('./internal')

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

const HOOKS = { connect: 'onConnect', publish: 'onPublish', play: 'onPlay' }

function hookFunction(f, name) {
  if (f !== null && f !== undefined && typeof f !== 'function') {
    throw invalid(`${name} must be a function or null`)
  }
  return f === undefined ? null : f
}

class Server extends CoreEmitter {
  #core
  /** sessions of connected clients (each keeps the process alive) */
  #clients = new Set()
  #hooks
  #hookTimeout

  /**
   * Options (all optional; durations in ms): the rows of core's table of
   * options a server takes (ServerOptions in index.d.ts, generated from
   * it), checked by the addon against that table, but these, which the
   * wrapper gives the table in its own way:
   * - `keys`: the developer keys accepted on `connect` (the last path
   *   segment of the client's URI, rtmfp://host/app/KEY): undefined
   *   accepts any key (or none), an array of strings exactly those, a
   *   string the path of a file of keys (the table's `keysFile`: one a
   *   line; blank lines and lines starting with # skipped).  A refused
   *   client gets "NetConnection.Connect.Rejected";
   * - `onConnect`, `onPublish`, `onPlay`: the hooks (see onConnect); each
   *   set is the table's `askConnect`, `askPublish`, `askPlay`;
   * - `ref`: keep the process alive while open, as ref(); default false
   *   (a server with connected clients keeps it alive anyway).
   * A TURN relay that does not answer, or Redis unreachable (`cluster`),
   * throws (code ERR_RTMFP_IO).
   */
  constructor(options) {
    const o = v.object(options, 'options')
    const nativeOptions = v.nativeOptions(o)
    if (typeof o.keys === 'string') {
      nativeOptions.keysFile = o.keys
      delete nativeOptions.keys
    } else if (o.keys !== undefined && !Array.isArray(o.keys)) {
      throw invalid('options.keys must be an array of keys, a file path, or undefined (any key)')
    }
    const hooks = {}
    for (const name of Object.values(HOOKS)) {
      hooks[name] = hookFunction(o[name], `options.${name}`)
    }
    nativeOptions.askConnect = hooks.onConnect !== null
    nativeOptions.askPublish = hooks.onPublish !== null
    nativeOptions.askPlay = hooks.onPlay !== null
    let core
    const open = (self) =>
      (core = new Core(
        {
          emit: (event) => {
            if (event !== 'close') return
            for (const _ of self.#clients) core.release()
            self.#clients.clear()
            self.emit('close')
          },
          [kItem]: (item) => self.#onItem(item),
        },
        (onItems) => new NativeServer(nativeOptions, onItems),
        { layer: true },
      ))
    super(open, v.flag(o, 'ref'))
    this.#core = core
    this.#hooks = hooks
    this.#hookTimeout = o.hookTimeout // checked by the addon
  }

  /**
   * `onConnect(request)`: decides on a client's connect before it is
   * answered (request: { session, peerId, address, app, key }).  Runs on
   * the JS thread; returns (or resolves to) true to accept, false or a
   * reason string to reject: the client gets
   * "NetConnection.Connect.Rejected" with that reason as description.  A
   * hook that throws (or rejects) refuses, with an 'error' event (or a
   * warning).  A request not decided within `hookTimeout` is refused
   * ('askEnd' with end "expired"); a client that leaves meanwhile ends it
   * ('askEnd' with end "gone").  null: connects are not asked about.
   */
  get onConnect() {
    return this.#hooks.onConnect
  }

  set onConnect(f) {
    this.#setHook('onConnect', f)
  }

  /**
   * `onPublish(request)`: as onConnect, for a publish through the server
   * (request: { session, peerId, address, app, name, streamId }); refused:
   * "NetStream.Publish.BadName" with the reason.
   */
  get onPublish() {
    return this.#hooks.onPublish
  }

  set onPublish(f) {
    this.#setHook('onPublish', f)
  }

  /** `onPlay(request)`: as onPublish, for a play; refused: "NetStream.Play.Failed". */
  get onPlay() {
    return this.#hooks.onPlay
  }

  set onPlay(f) {
    this.#setHook('onPlay', f)
  }

  #setHook(name, f) {
    this.#hooks[name] = hookFunction(f, name)
    const h = this.#hooks
    // A closed server asks nothing: nothing to tell it.
    if (this.#core.closed) return
    this.#core.call('setAsks', h.onConnect !== null, h.onPublish !== null, h.onPlay !== null, this.#hookTimeout)
  }

  /** 'error' with `e`, or a process warning saying `warning` if nobody listens. */
  #report(e, warning) {
    if (this.listenerCount('error') > 0) {
      this.emit('error', e)
    } else {
      process.emitWarning(warning, { type: 'RtmfpWarning', code: 'RTMFP_SERVER_HOOK' })
    }
  }

  #ask(item) {
    const name = HOOKS[item.what]
    const hook = this.#hooks[name]
    // A verdict that did nothing (the ask had ended: answered, expired,
    // its client gone) is reported as an error with core's reason; a
    // closed server's verdicts are not (nothing waits for them).
    const late = (e) => {
      if (this.#core.closed || e.code === codes.CLOSED) return
      e.askId = item.id
      e.hook = name
      this.#report(e, `${name}'s verdict did nothing: ${e.message}`)
    }
    const answer = (ok, reason) => {
      if (this.#core.closed) return
      const args = ok ? [item.id, true] : [item.id, false, reason]
      try {
        this.#core.request('answerAsk', args, (err) => {
          if (err) late(err)
        })
      } catch (e) {
        if (!this.#core.closed) throw e
      }
    }
    const failed = (e) => {
      this.#report(e, `${name} threw, the request was refused: ${e && e.stack ? e.stack : e}`)
      answer(false, `the server's ${name} failed`)
    }
    const decide = (verdict) => {
      if (typeof verdict === 'string') answer(false, verdict)
      else if (verdict) answer(true)
      else answer(false, `rejected by the server's ${name}`)
    }
    // The hook was removed since: accepted.
    if (hook === null) return answer(true)
    const request = {
      session: item.session,
      peerId: orNull(item.peerId),
      address: item.address,
      app: item.app,
    }
    if (item.what === 'connect') request.key = orNull(item.key)
    else {
      request.name = item.name
      request.streamId = item.streamId
    }
    let verdict
    try {
      verdict = hook.call(this, request)
    } catch (e) {
      return failed(e)
    }
    if (verdict !== null && typeof verdict === 'object' && typeof verdict.then === 'function') {
      Promise.resolve(verdict).then(decide, failed)
    } else {
      decide(verdict)
    }
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
        return
      case 'serverAsk':
        this.#ask(item)
        return
      case 'serverAskEnded':
        this.emit('askEnd', { id: item.id, end: item.end })
    }
  }
}

module.exports = { Server }
