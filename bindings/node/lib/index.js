'use strict'
// rtmfp: RTMFP (RFC 7016) with the Flash profile (RFC 7425) for Node.
//
// Every protocol decision is made in Rust, on each endpoint's own I/O
// thread; this package translates.  See README.md and index.d.ts.

const native = require('./native')
const { Endpoint } = require('./endpoint')
const { Session, Flow, RecvFlow, Priority } = require('./session')
const { NetConnection, NetStream, MessageType } = require('./netconnection')
const { Server } = require('./server')
const { RtmfpError, codes } = require('./errors')
const { check } = require('./check')

/** The version of the native library (the Cargo package version). */
function version() {
  return native.version()
}

module.exports = {
  Endpoint,
  Session,
  Flow,
  RecvFlow,
  Priority,
  NetConnection,
  NetStream,
  MessageType,
  Server,
  RtmfpError,
  codes,
  version,
  check,
}
