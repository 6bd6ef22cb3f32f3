'use strict'
// Errors: every error rtmfp raises or rejects with is an RtmfpError, an
// Error with a `code` (one of `codes`).  The native addon throws errors
// with the same codes; they are re-made here so that stacks point at the
// caller and `instanceof RtmfpError` holds.

/** Every `err.code` rtmfp uses. */
const codes = Object.freeze({
  /** The endpoint (or the session or flow) is closed. */
  CLOSED: 'ERR_RTMFP_CLOSED',
  /** A bad argument: type, URI, address, peer ID, option. */
  INVALID_ARGUMENT: 'ERR_RTMFP_INVALID_ARGUMENT',
  /** A session did not open in time. */
  TIMEOUT: 'ERR_RTMFP_TIMEOUT',
  /** The flow's send buffer is full: wait for 'writable', then send again. */
  WOULD_BLOCK: 'ERR_RTMFP_WOULD_BLOCK',
  /** A session could not be opened (keying refused, cancelled). */
  SESSION: 'ERR_RTMFP_SESSION',
  /** A flow operation failed (no such flow, flow closed for sending). */
  FLOW: 'ERR_RTMFP_FLOW',
  /** The far end rejected the flow (`err.rejectCode` is its code). */
  FLOW_REJECTED: 'ERR_RTMFP_FLOW_REJECTED',
  /** A message was abandoned (deadline, no retransmission, parent abandoned). */
  ABANDONED: 'ERR_RTMFP_ABANDONED',
  /** The system refused: a socket could not be bound. */
  IO: 'ERR_RTMFP_IO',
  /**
   * The call does not fit the object's state: a NetConnection not
   * connected (or already), a NetStream that does not publish, or of the
   * wrong kind.
   */
  STATE: 'ERR_RTMFP_STATE',
  /** The server rejected the connect ("NetConnection.Connect.Rejected"; `err.info`). */
  REJECTED: 'ERR_RTMFP_REJECTED',
  /** The connection failed or closed before it succeeded ("NetConnection.Connect.Failed"; `err.info`). */
  CONNECT_FAILED: 'ERR_RTMFP_CONNECT_FAILED',
  /** The server answered a call with an error ("NetConnection.Call.Failed"; `err.info`). */
  CALL_FAILED: 'ERR_RTMFP_CALL_FAILED',
  /** A bug in rtmfp. */
  INTERNAL: 'ERR_RTMFP_INTERNAL',
})

class RtmfpError extends Error {
  /**
   * @param {string} code one of `codes`
   * @param {string} message
   * @param {object} [props] more properties (e.g. `rejectCode`)
   */
  constructor(code, message, props) {
    super(message)
    this.name = 'RtmfpError'
    this.code = code
    if (props) Object.assign(this, props)
  }
}

const invalid = (message) => new RtmfpError(codes.INVALID_ARGUMENT, message)
const closed = (what = 'endpoint') => new RtmfpError(codes.CLOSED, `the ${what} is closed`)
const state = (message) => new RtmfpError(codes.STATE, message)

// Node-API's own argument conversion errors.
const NAPI_ARGUMENT = new Set(['InvalidArg', 'ObjectExpected', 'StringExpected', 'NumberExpected',
  'BooleanExpected', 'ArrayExpected', 'FunctionExpected', 'BigintExpected'])

// An error thrown by the addon, as an RtmfpError.
function fromNative(e) {
  if (e instanceof RtmfpError || !(e instanceof Error)) return e
  let code = codes.INTERNAL
  if (typeof e.code === 'string' && e.code.startsWith('ERR_RTMFP_')) code = e.code
  else if (NAPI_ARGUMENT.has(e.code)) code = codes.INVALID_ARGUMENT
  return new RtmfpError(code, e.message)
}

module.exports = { RtmfpError, codes, invalid, closed, state, fromNative }
