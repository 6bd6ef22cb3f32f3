'use strict'
// Argument checks that run before anything reaches the addon, so that a
// bad argument throws at once with a message naming it.  Only types and
// shapes are checked here; what the values mean (URIs, addresses, peer
// IDs, limits) is checked by the Rust side, which throws the same way.
// Constructor options are checked by the addon alone, against core's
// table of options (see nativeOptions).

const { invalid } = require('./errors')

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`
  if (typeof value === 'object') return `an instance of ${value.constructor ? value.constructor.name : 'Object'}`
  return `${typeof value} ${String(value)}`
}

function string(value, name) {
  if (typeof value !== 'string') throw invalid(`${name} must be a string, got ${describe(value)}`)
  return value
}

function boolean(value, name) {
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean, got ${describe(value)}`)
  return value
}

function object(value, name) {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${name} must be an object, got ${describe(value)}`)
  }
  return value
}

// Milliseconds: a finite number >= 0.
function millis(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`${name} must be a number of milliseconds >= 0, got ${describe(value)}`)
  }
  return value
}

// A non-negative safe integer, at most `max`.
function integer(value, name, max = Number.MAX_SAFE_INTEGER) {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw invalid(`${name} must be an integer from 0 to ${max}, got ${describe(value)}`)
  }
  return value
}

// Bytes: a Buffer, any TypedArray or DataView, an ArrayBuffer, or a string
// (UTF-8).  Returns a Uint8Array over the same memory (no copy; the addon
// copies once).
function bytes(value, name) {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return new Uint8Array(value)
  throw invalid(`${name} must be a Buffer, TypedArray, DataView, ArrayBuffer or string, got ${describe(value)}`)
}

// One address: "host:port", "[ipv6]:port", or { address, port } (as in
// dgram's rinfo).
function address(value, name) {
  if (typeof value === 'string') return value
  if (value && typeof value === 'object' && typeof value.address === 'string') {
    integer(value.port, `${name}.port`, 65535)
    return value.address.includes(':') && !value.address.startsWith('[')
      ? `[${value.address}]:${value.port}`
      : `${value.address}:${value.port}`
  }
  throw invalid(`${name} must be "host:port" or { address, port }, got ${describe(value)}`)
}

// One address or an array of them, as strings.
function addresses(value, name) {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw invalid(`${name} must not be empty`)
  return list.map((a, i) => address(a, Array.isArray(value) ? `${name}[${i}]` : name))
}

// Option `bind` of Endpoint, NetConnection, Server and check(): "ip:port",
// { address, port }, a port number (on 0.0.0.0) or an array of addresses,
// as a list of "ip:port" strings.
function bind(value) {
  if (typeof value === 'number') return [`0.0.0.0:${integer(value, 'options.bind', 65535)}`]
  return addresses(value, 'options.bind')
}

// The options object a native class reads against core's table of
// options (camelCase keys; every value is checked there, naming it
// `options.KEY`): `o` with `bind` in the one shape the addon reads.
function nativeOptions(o) {
  const n = { ...o }
  if (o.bind !== undefined) n.bind = bind(o.bind)
  return n
}

// Boolean option `key` of `o`, default false.
function flag(o, key) {
  return o[key] === undefined ? false : boolean(o[key], `options.${key}`)
}

// `options.timeout` of a call (ms), default `defaultMs`.
function timeout(options, defaultMs) {
  const o = object(options, 'options')
  return o.timeout === undefined ? defaultMs : millis(o.timeout, 'options.timeout')
}

module.exports = {
  string,
  boolean,
  object,
  millis,
  integer,
  bytes,
  address,
  addresses,
  describe,
  nativeOptions,
  flag,
  timeout,
}
