'use strict'
// Endpoint: an RTMFP endpoint (identity, UDP sockets, I/O thread) as a
// Node EventEmitter with Promises.

const { Core, CoreEmitter } = require('./core')
const { NativeEndpoint } = require('./native')
const v = require('./validate')

const DEFAULT_CONNECT_TIMEOUT = 10_000

class Endpoint extends CoreEmitter {
  #core

  /**
   * Options (all optional; durations in ms): the rows of core's table of
   * options an endpoint takes, under their camelCase keys, checked by the
   * addon against that table (EndpointOptions in index.d.ts, generated
   * from it: each option's type, meaning and default), and
   * - `ref`: keep the process alive while open (as `ref()`); default false.
   * A TURN relay (`turn`) that refuses the credentials or does not answer
   * throws (code ERR_RTMFP_IO).
   */
  constructor(options) {
    const o = v.object(options, 'options')
    const nativeOptions = v.nativeOptions(o)
    let core
    super((self) => (core = new Core(self, (onItems) => new NativeEndpoint(nativeOptions, onItems))), v.flag(o, 'ref'))
    this.#core = core
  }

  /**
   * Connects to the server named by an `rtmfp://host[:port]/app` URI and
   * resolves with the session once open.  A malformed URI throws; an
   * unknown host rejects with ERR_RTMFP_INVALID_ARGUMENT, no answer within
   * `timeout` ms (default 10 s) with ERR_RTMFP_TIMEOUT.
   */
  connect(uri, options) {
    v.string(uri, 'uri')
    const timeout = v.timeout(options, DEFAULT_CONNECT_TIMEOUT)
    return this.#core.openSession('connectUri', [uri], uri, timeout)
  }

  /**
   * Connects to the peer with `peerId` (64 hex digits) at `addresses`
   * ("host:port", { address, port } or an array of them) and resolves
   * with the session once open, as connect() does.
   */
  connectPeer(peerId, addresses, options) {
    v.string(peerId, 'peerId')
    const list = v.addresses(addresses, 'addresses')
    const timeout = v.timeout(options, DEFAULT_CONNECT_TIMEOUT)
    return this.#core.openSession('connectPeer', [peerId, list], `peer ${peerId.slice(0, 16)}...`, timeout)
  }

  /** Counters: sessions, datagrams, bytes, drops, and the I/O thread's (`io`). */
  stats() {
    return new Promise((resolve, reject) => {
      this.#core.request('stats', [], (err, item) => (err ? reject(err) : resolve(item.stats)))
    })
  }
}

module.exports = { Endpoint }
