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
   * Options (all optional; durations in ms):
   * - `bind`: "ip:port" / "[ipv6]:port", { address, port }, a port number,
   *   or an array of addresses; default "0.0.0.0:0" (port 0: the system
   *   picks; see `address`);
   * - `server`: a server identity, reachable by `rtmfp://` URI (ephemeral
   *   Diffie-Hellman); default a peer identity, reached by `peerId`;
   * - `hostname`: the certificate's hostname option;
   * - `keyLog`: a file to append each session's packet keys to, so that a
   *   capture can be decrypted (`rtmfp decrypt`); default the file named
   *   by RTMFP_KEYLOGFILE;
   * - `turn`: "turn://USER:PASS@HOST[:PORT]": every datagram goes through
   *   this TURN relay (RFC 8656), as Flash Player's RTMFPTURNProxy did;
   *   peers see the relayed address.  A relay that refuses the
   *   credentials or does not answer throws (code ERR_RTMFP_IO);
   * - `openTimeout`, `idleTimeout`, `keepaliveInterval`: RFC 7016's
   *   defaults are 95 s, 60 s and 10 s;
   * - `recvCoalesce`: while datagrams arrive densely, the I/O thread naps
   *   this long and reads them in one batch (0 to 10; default 0, or
   *   RTMFP_RECV_COALESCE_US microseconds); sparse datagrams never wait;
   * - `dhGroups`, `hmacPolicy`, `sseqPolicy`,
   *   `maxDatagramSize`, `sendBuffer`, `receiveBuffer`,
   *   `maxFlowsPerSession`, `eventQueueLimit`: as in core's table of
   *   options (TransportOptions in index.d.ts); the addon checks every
   *   option against that table;
   * - `ref`: keep the process alive while open (as `ref()`); default false.
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
