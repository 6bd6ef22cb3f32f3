// Types of the `rtmfp` package: the typed wrapper (lib/*.js) over the
// native addon, whose own types napi-rs generates in ../index.d.ts.

/// <reference types="node" />

import { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import type { NativeSessionStats, NativeStats } from '../index'

/** The version of the native library (the Cargo package version). */
export declare function version(): string

/**
 * Options of `check`: a NetConnection's (with `turn`, the check goes through
 * that relay, and so tells whether it works), and these.
 */
export interface CheckOptions extends NetConnectionTableOptions {
  /** ms to wait for the server (default 5000); the NAT tests take about 3 s more. */
  timeout?: number
  /** "ip:port" of an RFC 5780 STUN server instead of the server's check service. */
  stun?: string
}

/** What `check` found (the words are the same as `rtmfp check`'s). */
export interface CheckReport {
  // <fields of NativeCheckReport in bindings/node/src/check.rs by scripts/event_stubs.py: do not edit>
  /** Whether the server answered. */
  readonly reached: boolean
  /** Why there is no session with the server, else null. */
  readonly error: string | null
  /** The server's address, "ip:port". */
  readonly server: string | null
  /** The session's round-trip time, ms. */
  readonly rtt: number | null
  /** The address the server sees us at (the relayed one through TURN). */
  readonly publicAddress: string | null
  /** "endpoint-independent", "address-dependent", "address-and-port-dependent", "not-port-dependent", "unknown"; null when not measured. */
  readonly mapping: string | null
  /** The NAT's filtering, with the same names. */
  readonly filtering: string | null
  /** Whether a datagram the NAT refused left state behind (docs/nat.md). */
  readonly unsolicitedLeavesState: boolean | null
  /** What the NAT's behaviour means for direct peer-to-peer streams. */
  readonly verdict: string
  /** [key, text] per finding: server, udp (or turn), public, check, mapping, filtering, unsolicited, verdict. */
  readonly lines: ReadonlyArray<readonly [string, string]>
  /** The report as `rtmfp check` prints it. */
  readonly text: string
  // </fields>
}

/** Tells whether UDP reaches the RTMFP server at `uri`, at what address it sees us, and what our NAT does. */
export declare function check(uri: string, options?: CheckOptions): Promise<CheckReport>

// ------------------------------------------------------------------ errors --

/** Every `err.code` rtmfp uses. */
export declare const codes: {
  /** The endpoint (or the session or flow) is closed. */
  readonly CLOSED: 'ERR_RTMFP_CLOSED'
  /** A bad argument: type, URI, address, peer ID, option. */
  readonly INVALID_ARGUMENT: 'ERR_RTMFP_INVALID_ARGUMENT'
  /** A session did not open in time. */
  readonly TIMEOUT: 'ERR_RTMFP_TIMEOUT'
  /** The flow's send buffer is full: wait for 'writable', then send again. */
  readonly WOULD_BLOCK: 'ERR_RTMFP_WOULD_BLOCK'
  /** A session could not be opened (keying refused, cancelled). */
  readonly SESSION: 'ERR_RTMFP_SESSION'
  /** A flow operation failed (no such flow, flow closed for sending). */
  readonly FLOW: 'ERR_RTMFP_FLOW'
  /** The far end rejected the flow (`err.rejectCode` is its code). */
  readonly FLOW_REJECTED: 'ERR_RTMFP_FLOW_REJECTED'
  /** A message was abandoned (deadline, no retransmission, parent abandoned). */
  readonly ABANDONED: 'ERR_RTMFP_ABANDONED'
  /** The system refused: a socket could not be bound. */
  readonly IO: 'ERR_RTMFP_IO'
  /** The call does not fit the state: a NetConnection not connected (or already), a NetStream of the wrong kind. */
  readonly STATE: 'ERR_RTMFP_STATE'
  /** The server rejected the connect ("NetConnection.Connect.Rejected"; `err.info`). */
  readonly REJECTED: 'ERR_RTMFP_REJECTED'
  /** The connection failed or closed before it succeeded ("NetConnection.Connect.Failed"; `err.info`). */
  readonly CONNECT_FAILED: 'ERR_RTMFP_CONNECT_FAILED'
  /** The server answered a call with an error ("NetConnection.Call.Failed"; `err.info`). */
  readonly CALL_FAILED: 'ERR_RTMFP_CALL_FAILED'
  /** A bug in rtmfp. */
  readonly INTERNAL: 'ERR_RTMFP_INTERNAL'
}

export type ErrorCode = (typeof codes)[keyof typeof codes]

/** Every error rtmfp throws or rejects with. */
export declare class RtmfpError extends Error {
  constructor(code: ErrorCode, message: string, props?: object)
  readonly code: ErrorCode
  /** With ERR_RTMFP_FLOW_REJECTED: the far end's code. */
  readonly rejectCode?: number
  /** With ERR_RTMFP_REJECTED, _CONNECT_FAILED, _CALL_FAILED: the status that said so. */
  readonly info?: Partial<NetStatusInfo>
  /** A Server's 'error' for a hook's verdict that did nothing: the ask's id (as in 'askEnd'). */
  readonly askId?: number
  /** A Server's 'error' for a hook's verdict that did nothing: the hook ("onConnect", ...). */
  readonly hook?: string
}

// ------------------------------------------------------------ common types --

/** "ip:port", "[ipv6]:port", "host:port", or { address, port } (as dgram's rinfo). */
export type Address = string | { address: string; port: number }

/** Bytes to send: a string is sent as UTF-8. */
export type Data = string | ArrayBufferView | ArrayBuffer | SharedArrayBuffer

/** Flow priorities (RFC 7016 §2.2.4); above ROUTINE is time critical. */
export declare const Priority: {
  readonly BACKGROUND: 0
  readonly BULK: 1
  readonly DATA: 2
  readonly ROUTINE: 3
  readonly PRIORITY: 4
  readonly IMMEDIATE: 5
  readonly FLASH: 6
  readonly FLASH_OVERRIDE: 7
}
export type Priority = (typeof Priority)[keyof typeof Priority]

/** Why a session closed. */
export type SessionCloseReason =
  | 'local'
  | 'localAbrupt'
  | 'remote'
  | 'idleTimeout'
  | 'overridden'
  /** close() of the endpoint ended it before the far end answered. */
  | 'endpointClosed'

export type Stats = NativeStats
export type SessionStats = NativeSessionStats

/**
 * An EventEmitter whose events `E` (name -> listener arguments) are typed.
 * Declared only: at run time the classes extend EventEmitter itself.
 */
declare class TypedEmitter<E extends { [K in keyof E]: unknown[] }> extends EventEmitter {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  addListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  removeListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  prependListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  prependOnceListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this
  emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean
}

// ---------------------------------------------------------------- Endpoint --

// <options from core's table (rtmfp_core::host::options) by scripts/option_stubs.py: do not edit>
/**
 * The options of core's table (rtmfp_core::host::options) that every object
 * (Endpoint, NetConnection, Server, check()) takes; core checks them and a
 * refusal throws an RtmfpError ERR_RTMFP_INVALID_ARGUMENT naming `options.KEY`.
 */
export interface TransportOptions {
  /** Local addresses, one UDP socket each (port 0: the system picks). An address ("ip:port" or { address, port }), a list of them, or a port; default 0.0.0.0:0 (a server 0.0.0.0:1935). */
  bind?: Address | Address[] | number
  /** The certificate's Hostname option (RFC 7425 §4.3.3.1). A string; default none. */
  hostname?: string
  /** Diffie-Hellman groups in preference order (RFC 7425 §4.3.3). A list of Diffie-Hellman groups (2, 5, 14, 16); default the role's: a client 2 (static keys, as Flash Player), a server 2, 5, 14, 16. */
  dhGroups?: number[]
  /** Packet HMAC negotiation (RFC 7425 §4.6.4). One of 'off', 'opportunistic', 'required'; default opportunistic. */
  hmacPolicy?: 'off' | 'opportunistic' | 'required'
  /** Session sequence number negotiation (RFC 7425 §4.6.6). One of 'off', 'opportunistic', 'required'; default opportunistic. */
  sseqPolicy?: 'off' | 'opportunistic' | 'required'
  /** A file each session's packet keys are appended to (docs/key-log.md). A path, or null; default the file named by RTMFP_KEYLOGFILE. */
  keyLog?: string | null
  /** A session not open after this long fails. In ms; default 95 s (RFC 7016 §3.5.1.1.1). */
  openTimeout?: number
  /** An open session that received nothing for this long is closed. In ms; default 60 s. */
  idleTimeout?: number
  /** An open session that received nothing for this long pings (RFC 7016 §3.5.4.1). In ms; default 10 s. */
  keepaliveInterval?: number
  /** The largest UDP datagram sent, in bytes. An integer from 576 to 65507; default 1200 (clears IPv6's minimum MTU). */
  maxDatagramSize?: number
  /** Bytes a sending flow holds unacknowledged before it refuses messages. An integer from 1024 to 1073741824; default 4 MiB. */
  sendBuffer?: number
  /** The window a receiving flow advertises, in bytes (RFC 7016 §3.6.3). An integer from 1024 to 1073741824; default 1 MiB. */
  receiveBuffer?: number
  /** Most receiving flows one session keeps; a further flow's data is dropped. An integer from 1 to 65535; default 512. */
  maxFlowsPerSession?: number
  /** Most events waiting unread; then datagrams wait until events are read. An integer from 16 to 16777216; default 65536. */
  eventQueueLimit?: number
  /** A TURN relay every datagram goes through (RFC 8656), as Flash's RTMFPTURNProxy. "turn:HOST[:PORT]" or "turn://USER:PASS@HOST[:PORT]"; default none. */
  turn?: string | null
  /** The TURN relay's user name, over the URI's. A string; default the TURN URI's. */
  turnUsername?: string
  /** The TURN relay's password, over the URI's. A string; default the TURN URI's. */
  turnPassword?: string
}

/** The options of core's table that an Endpoint takes besides TransportOptions. */
export interface EndpointTableOptions extends TransportOptions {
  /** A server identity (ephemeral Diffie-Hellman, reachable by rtmfp:// URI; RFC 7425 §5.3). True or false; default false. */
  server?: boolean
  /** While datagrams arrive densely, read them in batches this far apart (at most 10 ms; 0: one wake-up per datagram). In ms; default 0 (off); a server's 1 ms; RTMFP_RECV_COALESCE_US if set. */
  recvCoalesce?: number
}

/** The options of core's table that a NetConnection takes besides TransportOptions. */
export interface NetConnectionTableOptions extends TransportOptions {
  /** Most subscribers of the DIRECT_CONNECTIONS streams (Flash's maxPeerConnections). An integer from 0 to 65535; default 8. */
  maxPeerConnections?: number
  /** How long a peer play waits for a direct session before it plays through the server (docs/relay-fallback.md). In ms; default 5 s; 0 waits for the open timeout with no fallback, as Flash did. */
  directTimeout?: number
}

/** The options of core's table that a Server takes besides TransportOptions. */
export interface ServerTableOptions extends TransportOptions {
  /** While datagrams arrive densely, read them in batches this far apart (at most 10 ms; 0: one wake-up per datagram). In ms; default 0 (off); a server's 1 ms; RTMFP_RECV_COALESCE_US if set. */
  recvCoalesce?: number
  /** redis://HOST:PORT[/DB]: a node of a rendezvous cluster (docs/cluster.md). A string; default none. */
  cluster?: string
  /** Most streams one client has at once; a further createStream gets _error. An integer from 1 to 65535; default 64. */
  maxStreamsPerClient?: number
  /** Most names one client registers; a further registerName gets _error. An integer from 1 to 65535; default 16. */
  maxNamesPerClient?: number
  /** Relay streams published to the server to its players. True or false; default true. */
  relay?: boolean
  /** Keepalive periods advised to clients (server session, peer sessions; RFC 7425 §5.3.4). [ms, ms], or null: none sent; default 15 s and 10 s. */
  keepalive?: [number, number] | null
  /** How long a parked request waits; then it is refused with "no answer from the server application". In ms; default 10 s. */
  hookTimeout?: number
}
// </options>

export interface EndpointOptions extends EndpointTableOptions {
  /** Keep the process alive while open, as ref(); default false. */
  ref?: boolean
}

export interface ConnectOptions {
  /** ms to wait for the session to open (default 10 000). */
  timeout?: number
}

export interface CloseOptions {
  /** ms to wait for the far ends to acknowledge (default 1000). */
  timeout?: number
}

export interface UnmatchedIHello {
  /** The Endpoint Discriminator asked for. */
  epd: Buffer
  /** The initiator's tag. */
  tag: Buffer
  /** Where it came from, "ip:port". */
  address: string
}

export interface EndpointEvents {
  /** A far end opened a session to this endpoint. */
  session: [session: Session]
  /** An IHello for an identity that is not this endpoint's (for introducers). */
  unmatchedIHello: [hello: UnmatchedIHello]
  /** The endpoint closed: every session is closed, nothing follows. */
  close: []
}

/**
 * An RTMFP endpoint: an identity (RFC 7425 Flash profile), UDP sockets and
 * an I/O thread.  Events come from that thread; nothing blocks the JS
 * thread.  It keeps the process alive while it has open sessions or waits
 * for something (or after ref()), never when idle, never after close().
 */
export declare class Endpoint extends TypedEmitter<EndpointEvents> {
  constructor(options?: EndpointOptions)
  /** This endpoint's peer ID (certificate fingerprint), 64 hex digits. */
  readonly peerId: string
  /** The first bound address, "ip:port". */
  readonly address: string
  /** Every bound address. */
  readonly addresses: string[]
  /** Whether close() was called (or the I/O thread stopped). */
  readonly closed: boolean
  /** Connects to the server of an `rtmfp://host[:port]/app` URI. */
  connect(uri: string, options?: ConnectOptions): Promise<Session>
  /** Connects to the peer with `peerId` at `addresses`. */
  connectPeer(peerId: string, addresses: Address | Address[], options?: ConnectOptions): Promise<Session>
  /** Endpoint and I/O counters. */
  stats(): Promise<Stats>
  /** Closes every session and stops; resolves to whether it was clean. */
  close(options?: CloseOptions): Promise<boolean>
  /** Keeps the process alive while open. */
  ref(): this
  /** Undoes ref(). */
  unref(): this
}

// ----------------------------------------------------------------- Session --

export interface OpenFlowOptions {
  /** 0..7, default Priority.ROUTINE. */
  priority?: Priority
  /** Make the flow the return flow of this receiving flow (same session). */
  association?: RecvFlow | null
}

export interface SessionCloseOptions {
  /** Close at once instead of in order. */
  abrupt?: boolean
}

export interface MessageInfo {
  /** The sender abandoned messages before this one; they never arrive. */
  gapBefore: boolean
}

export interface AddressChange {
  from: string
  to: string
}

export interface SessionEvents {
  /** The far end opened a flow: accept() or reject(code) it. */
  flow: [flow: RecvFlow]
  /** A message on any accepted flow of this session. */
  message: [data: Buffer, flow: RecvFlow, info: MessageInfo]
  /** The far end moved to a new address. */
  addressChange: [change: AddressChange]
  /** The session closed; its flows are closed. */
  close: [reason: SessionCloseReason]
}

/** A session with one far end. */
export declare class Session extends TypedEmitter<SessionEvents> {
  private constructor()
  /** The session's number, unique for the life of its endpoint. */
  readonly id: number
  readonly role: 'initiator' | 'responder'
  /** The far end's address, "ip:port". */
  readonly farAddress: string
  /** The far end's peer ID, 64 hex digits. */
  readonly farPeerId: string | null
  /** This end's session nonce (RFC 7425 §4.6.5). */
  readonly nearNonce: Buffer
  /** The far end's session nonce. */
  readonly farNonce: Buffer
  readonly closed: boolean
  /** Opens a sending flow (metadata: at most 512 bytes). */
  openFlow(metadata?: Data, options?: OpenFlowOptions): Flow
  /** Closes the session; resolves once closed. */
  close(options?: SessionCloseOptions): Promise<void>
  /** Counters and RTT estimates (ms); null once not open. */
  stats(): Promise<SessionStats | null>
}

// ------------------------------------------------------------------- Flows --

export interface SendOptions {
  /** ms: abandon the message unless fully delivered by then. */
  deadline?: number
  /** ms: abandon it unless its first transmission starts by then. */
  startDeadline?: number
  /** false: send at most once (a loss abandons it). Default true. */
  retransmit?: boolean
  /** The promise of an earlier send() on this flow: abandon this message if that one is. */
  parent?: Promise<void> | null
}

export interface FlowEvents {
  /** A send that failed with ERR_RTMFP_WOULD_BLOCK may be retried. */
  writable: []
  /** The far end rejected the flow with this code. */
  rejected: [code: number]
  /** After close(): the far end has everything. */
  complete: []
  /** The flow is closed (complete, rejected, or its session closed). */
  close: []
}

/** A sending flow. */
export declare class Flow extends TypedEmitter<FlowEvents> {
  private constructor()
  /** The flow's number within its session; null until it is open. */
  readonly id: number | null
  readonly session: Session
  readonly metadata: Buffer
  readonly priority: Priority
  /** False after ERR_RTMFP_WOULD_BLOCK until 'writable', and once closing. */
  readonly writable: boolean
  readonly closed: boolean
  /** The far end's rejection code, or null. */
  readonly rejectCode: number | null
  /** Queues a message; resolves on delivery, rejects if abandoned. */
  send(data: Data, options?: SendOptions): Promise<void>
  /** Closes the flow after what is queued. */
  close(): void
}

export interface AcceptOptions {
  /** 'sequence' (the sender's order, default) or 'network' (as completed). */
  order?: 'sequence' | 'network'
}

export interface RecvFlowEvents {
  /** A message (after accept()). */
  message: [data: Buffer, info: MessageInfo]
  /** The sender finished the flow: every message was delivered. */
  end: []
  /** The flow is closed (ended, rejected, or its session closed). */
  close: []
}

/** A receiving flow, from a session's 'flow' event. */
export declare class RecvFlow extends TypedEmitter<RecvFlowEvents> {
  private constructor()
  readonly id: number
  readonly session: Session
  /** The far end's metadata for the flow. */
  readonly metadata: Buffer
  /** Our sending flow this one answers (a return flow), or null. */
  readonly association: Flow | null
  readonly closed: boolean
  /** Starts delivery of its messages. */
  accept(options?: AcceptOptions): this
  /** Refuses it; the sender sees 'rejected' with `code` (default 0). */
  reject(code?: number): void
  /** Holds back messages (flow control slows the sender). */
  pause(): this
  /** Delivers messages again. */
  resume(): this
}

// ------------------------------------------------------------ Flash layer --

/** Flash's status codes (`info.code` of 'netStatus' events). */
export type NetStatusCode =
  | 'NetConnection.Connect.Success'
  | 'NetConnection.Connect.Failed'
  | 'NetConnection.Connect.Rejected'
  | 'NetConnection.Connect.Closed'
  | 'NetConnection.Call.Failed'
  | 'NetStream.Publish.Start'
  | 'NetStream.Publish.BadName'
  | 'NetStream.Unpublish.Success'
  | 'NetStream.Play.Reset'
  | 'NetStream.Play.Start'
  | 'NetStream.Play.Stop'
  | 'NetStream.Play.StreamNotFound'
  | 'NetStream.Play.Failed'
  | 'NetStream.Play.PublishNotify'
  | 'NetStream.Play.UnpublishNotify'
  | 'NetStream.Connect.Success'
  | 'NetStream.Connect.Rejected'
  | 'NetStream.Connect.Closed'
  | 'NetStream.Connect.Failed'
  | 'NetStream.Failed'

/** A 'netStatus' event's info object, as Flash's `NetStatusEvent.info`. */
export interface NetStatusInfo {
  level: 'status' | 'warning' | 'error'
  code: NetStatusCode | (string & {})
  description: string
  /** Other members the far end put in the info object. */
  [member: string]: unknown
}

export interface NetConnectionOptions extends NetConnectionTableOptions {
  /** Keep the process alive while the native connection exists, even idle. */
  ref?: boolean
}

export interface NetConnectOptions {
  /** ms to wait for "NetConnection.Connect.Success" (default 10 000). */
  timeout?: number
  /** Extra `connect` arguments (AMF values). */
  args?: unknown[]
}

export interface NetConnectionEvents {
  /** A status of the connection: info.code is Flash's ("NetConnection.Connect.Success", ...). */
  netStatus: [info: NetStatusInfo]
  /** A command from the server that the client does not handle. */
  command: [name: string, args: unknown[]]
  /** The connection ended (closed, failed or rejected); its NetStreams are closed. */
  close: []
}

/**
 * Flash's NetConnection: a connection to an RTMFP server (RFC 7425 §5.3),
 * with a new identity (peer ID) for each connect().  Alive (keeps the
 * process alive) while connecting or connected; never once it ended.
 */
export declare class NetConnection extends TypedEmitter<NetConnectionEvents> {
  constructor(options?: NetConnectionOptions)
  /** Our peer ID (64 hex digits) once connect() was called, else null. */
  readonly nearID: string | null
  /** The server's peer ID once its session is open, else null. */
  readonly farID: string | null
  /** This end's session nonce with the server (hex), else null. */
  readonly nearNonce: string | null
  /** The server's session nonce (hex), else null. */
  readonly farNonce: string | null
  /** The server's address, "ip:port", else null. */
  readonly farAddress: string | null
  /** The URI of the last connect(), or null. */
  readonly uri: string | null
  /** Whether the connection is up ("NetConnection.Connect.Success" came). */
  readonly connected: boolean
  /** The local addresses of the current connection. */
  readonly addresses: string[]
  /** The TURN relayed address ("ip:port") while the connection runs over a relay, else null. */
  readonly relayedAddress: string | null
  readonly address: string | null
  /** Most subscribers of our DIRECT_CONNECTIONS streams (default 8). */
  maxPeerConnections: number
  /** Connects; resolves on "NetConnection.Connect.Success". */
  connect(uri: string, options?: NetConnectOptions): Promise<void>
  /** Calls a server command; resolves with the `_result`'s arguments. */
  call(command: string, ...args: unknown[]): Promise<unknown[]>
  /** Registers `name` for our peer ID with the rendezvous server. */
  registerName(name: string): Promise<void>
  /** The peer ID registered as `name`. */
  lookupName(name: string): Promise<string>
  /** Closes in order; resolves to whether it was clean. */
  close(options?: CloseOptions): Promise<boolean>
  ref(): this
  unref(): this
}

/** A subscriber of a DIRECT_CONNECTIONS stream. */
export interface PeerStream {
  readonly id: number
  /** The stream name it plays. */
  readonly name: string
  /** Its peer ID. */
  readonly farID: string | null
  /** Its address, "ip:port". */
  readonly farAddress: string
  /** The RTMP stream ID of its control flow. */
  readonly streamId: number
}

/** A message of a stream being played. */
export interface MediaMessage {
  type: 'audio' | 'video' | 'data' | 'other'
  /** The RTMP message type (MessageType). */
  messageType: number
  /** ms */
  timestamp: number
  /** The payload: an FLV tag body for audio and video. */
  data: Buffer
  /** For data messages: the decoded AMF values (`[handler, ...args]` after send()). */
  values?: unknown[]
}

/** RTMP message types of NetStream messages. */
export declare const MessageType: {
  readonly AUDIO: 8
  readonly VIDEO: 9
  readonly DATA_AMF3: 15
  readonly DATA: 18
}

export interface NetStreamEvents {
  /** A status of the stream ("NetStream.Publish.Start", "NetStream.Play.Start", ...). */
  netStatus: [info: NetStatusInfo]
  /** A message of the stream being played. */
  media: [message: MediaMessage]
  /** A command on the stream that the client does not handle. */
  command: [name: string, args: unknown[]]
  /** A subscriber was accepted: it is sent what the stream sends. */
  peerStreamOpened: [subscriber: PeerStream]
  /** A subscriber is gone. */
  peerStreamClosed: [subscriber: PeerStream, reason: string]
  /** onPeerConnect threw (the subscriber was rejected). */
  error: [err: unknown]
  /** The stream is closed. */
  close: []
}

/** Flash's NetStream: publish or play, through the server or directly between peers. */
export declare class NetStream extends TypedEmitter<NetStreamEvents> {
  /** Publish to peers that play the stream directly by our peer ID. */
  static readonly DIRECT_CONNECTIONS: 'directConnections'
  /** Publish or play through the server (the default). */
  static readonly CONNECT_TO_FMS: 'connectToFMS'
  /** `peerID`: DIRECT_CONNECTIONS, CONNECT_TO_FMS (default), or a publisher's peer ID to play. */
  constructor(nc: NetConnection, peerID?: 'directConnections' | 'connectToFMS' | (string & {}))
  readonly netConnection: NetConnection
  /** The publisher's peer ID of a peer NetStream, else null. */
  readonly farID: string | null
  readonly kind: 'server' | 'direct' | 'peer'
  readonly closed: boolean
  /** The accepted subscribers (DIRECT_CONNECTIONS). */
  readonly peerStreams: PeerStream[]
  /**
   * Decides on each subscriber (DIRECT_CONNECTIONS), on the JS thread:
   * true accepts, false rejects; throwing rejects and reports the error
   * ('error', or a process warning).  null (default) accepts all.
   */
  onPeerConnect: ((subscriber: PeerStream) => boolean) | null
  publish(name: string): Promise<void>
  play(name: string): Promise<void>
  /** Resolves with how many destinations the message was queued for. */
  sendAudio(timestamp: number, data: Data): Promise<number>
  sendVideo(timestamp: number, data: Data): Promise<number>
  /** A data message (type 18) of AMF0 values. */
  sendData(timestamp: number, ...values: unknown[]): Promise<number>
  /** Flash's NetStream.send(handlerName, ...args). */
  send(handler: string, ...args: unknown[]): Promise<number>
  /**
   * A Writable that publishes an FLV byte stream (e.g. `ffmpeg -f flv -`,
   * split anywhere) on this publishing stream, each tag as the message of
   * its type; call after publish() resolves.  Backpressure waits on a
   * libuv worker.  end(): 'finish' once every tag was sent and
   * acknowledged.  Not FLV: 'error' with ERR_RTMFP_INVALID_ARGUMENT (the
   * tags before it are still sent).
   */
  createFlvWriteStream(options?: FlvWriteStreamOptions): Writable
  /**
   * A Readable of this playing stream as FLV bytes (header, then tags),
   * e.g. for `ffprobe -` or `ffplay -`; make it before play().  The
   * stream's media then goes to it, not to 'media' events.  It ends when
   * the publisher unpublishes, the NetStream closes or the connection
   * ends.  One per NetStream (a second throws ERR_RTMFP_STATE).
   */
  createFlvReadStream(options?: FlvReadStreamOptions): Readable
  close(): void
}

export interface FlvWriteStreamOptions {
  /** close() the NetStream (unpublish) once the Writable finishes, errors or is destroyed; default true. */
  autoClose?: boolean
}

export interface FlvReadStreamOptions {
  /** Reordering window in ms of stream time (0: tags as they arrive); default 100. */
  windowMs?: number
  /** close() the NetStream (stop playing) once the Readable ends, errors or is destroyed; default true. */
  autoClose?: boolean
}

// ------------------------------------------------------------------ Server --

export interface ServerOptions extends ServerTableOptions {
  /** Developer keys: undefined (any), a list, or the path of a file of keys (one a line). */
  keys?: string[] | string
  /** Keep the process alive while open, as ref(); default false. */
  ref?: boolean
  /** Decides on connects before the client is answered (see Server.onConnect). */
  onConnect?: ServerConnectHook | null
  /** Decides on publishes through the server (see Server.onPublish). */
  onPublish?: ServerStreamHook | null
  /** Decides on plays through the server (see Server.onPlay). */
  onPlay?: ServerStreamHook | null
}

/** A connect waiting for Server.onConnect. */
export interface ServerConnectRequest {
  session: number
  peerId: string | null
  /** The client's address, "ip:port". */
  address: string
  app: string
  /** Its developer key. */
  key: string | null
}

/** A publish or play waiting for Server.onPublish / Server.onPlay. */
export interface ServerStreamRequest {
  session: number
  peerId: string | null
  address: string
  /** The app the client connected to. */
  app: string
  /** The stream name. */
  name: string
  /** The client's RTMP stream ID. */
  streamId: number
}

/** true accepts; false or a reason string rejects (the reason is the client's status description). */
export type ServerVerdict = boolean | string
export type ServerConnectHook = (request: ServerConnectRequest) => ServerVerdict | Promise<ServerVerdict>
export type ServerStreamHook = (request: ServerStreamRequest) => ServerVerdict | Promise<ServerVerdict>

/** A client of the server. */
export interface ServerClient {
  /** Its session number (for disconnect()). */
  session: number
  peerId: string | null
  /** The session's far address. */
  address: string
  /** Its setPeerInfo addresses. */
  addresses: string[]
  connected: boolean
  /** Behind a NAT; null before setPeerInfo. */
  behindNat: boolean | null
  app: string
  /** Its developer key. */
  key: string | null
  names: string[]
  publishing: string[]
  playing: string[]
  mediaIn: number
}

/** A stream published through the server. */
export interface ServerStream {
  name: string
  /** The publisher's session number. */
  publisher: number
  publisherId: string | null
  players: number
  messages: number
  bytes: number
  relayed: number
}

export interface ServerStreamEvent {
  session: number
  name: string
}

export interface ServerEvents {
  /** A client connected (its developer key was accepted). */
  connect: [client: ServerClient]
  /** A connected client went away. */
  disconnect: [client: ServerClient]
  /** A connect was rejected (developer key). */
  reject: [rejection: { session: number; peerId: string | null; reason: string }]
  /** A client sent its addresses (setPeerInfo). */
  peerInfo: [info: { session: number; peerId: string | null; addresses: string[] }]
  /** A stream was published through the server. */
  publish: [stream: ServerStreamEvent]
  unpublish: [stream: ServerStreamEvent]
  /** A client plays a stream through the server. */
  play: [stream: ServerStreamEvent]
  streamReject: [rejection: ServerStreamEvent & { reason: string }]
  /** The server introduced an initiator to a connected peer (DIRECT_CONNECTIONS). */
  introduce: [introduction: { initiator: string; peerId: string; addresses: string[] }]
  /** A client registered a name. */
  registerName: [registration: { peerId: string; name: string }]
  /**
   * A request waiting for a hook ended without its verdict: "expired"
   * (hookTimeout passed; it was refused) or "gone" (the client left).
   */
  askEnd: [ended: { id: number; end: 'expired' | 'gone' }]
  /**
   * A hook threw or its promise rejected (the request was refused); or
   * a hook's verdict came after its request had ended ('askEnd') and did
   * nothing: an RtmfpError with code ERR_RTMFP_STATE, `askId`, `hook`
   * and the reason in the message ("the ask expired: its default verdict
   * was applied", "the client went away while the request waited").
   * Without a listener: a process warning (code RTMFP_SERVER_HOOK).
   */
  error: [error: unknown]
  /** The server closed. */
  close: []
}

/** The rendezvous server (RFC 7425 §5, Stratus/Cirrus-like). */
export declare class Server extends TypedEmitter<ServerEvents> {
  constructor(options?: ServerOptions)
  /** The server's peer ID (clients' farID). */
  readonly peerId: string
  /** The first bound address; clients connect to rtmfp://ADDRESS/app. */
  readonly address: string
  readonly addresses: string[]
  readonly closed: boolean
  /**
   * Decides on each connect (after its developer key) before the client
   * is answered, on the JS thread: the server waits (core's ask mode) for
   * the verdict; rejected, the client gets "NetConnection.Connect.Rejected"
   * with the reason (RFC 7425 §5.3.2).  Throwing refuses.  null: not asked.
   */
  onConnect: ServerConnectHook | null
  /** As onConnect for publishes; refused: "NetStream.Publish.BadName" with the reason. */
  onPublish: ServerStreamHook | null
  /** As onConnect for plays; refused: "NetStream.Play.Failed" with the reason. */
  onPlay: ServerStreamHook | null
  /** The client sessions. */
  sessions(): Promise<ServerClient[]>
  /** The streams published through the server. */
  streams(): Promise<ServerStream[]>
  /** Disconnects a client; resolves to whether there was one. */
  disconnect(session: number | ServerClient): Promise<boolean>
  close(options?: CloseOptions): Promise<boolean>
  ref(): this
  unref(): this
}
