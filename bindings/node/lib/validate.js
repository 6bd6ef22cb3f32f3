'use strict'
// Argument checks that run before anything reaches the addon, so that a
// bad argument throws at once with a message naming it.  Only types and
// shapes are checked here; what the values mean (URIs, addresses, peer
// IDs, limits) is checked by the Rust side, which throws the same way.

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

// Option `bind` of Endpoint, NetConnection and Server: "ip:port",
// { address, port }, a port number (on 0.0.0.0) or an array of
// addresses; default `defaultBind`.
function bind(value, defaultBind) {
  if (value === undefined) return [defaultBind]
  if (typeof value === 'number') return [`0.0.0.0:${integer(value, 'options.bind', 65535)}`]
  return addresses(value, 'options.bind')
}

// The options of every native object's runtime (the addon's
// NativeRuntimeOptions) from a constructor's options `o`: `bind` (default
// `defaults.bind`), `hostname` (if `defaults.hostname`), `keyLog`, `turn`,
// `openTimeout`, `idleTimeout`, `keepaliveInterval`.
function runtimeOptions(o, defaults) {
  const r = { bind: bind(o.bind, defaults.bind) }
  if (defaults.hostname && o.hostname !== undefined) r.hostname = string(o.hostname, 'options.hostname')
  if (o.keyLog !== undefined) r.keyLog = string(o.keyLog, 'options.keyLog')
  if (o.turn !== undefined) r.turn = string(o.turn, 'options.turn')
  for (const key of ['openTimeout', 'idleTimeout', 'keepaliveInterval']) {
    if (o[key] !== undefined) r[key] = millis(o[key], `options.${key}`)
  }
  return r
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
  runtimeOptions,
  flag,
  timeout,
}
