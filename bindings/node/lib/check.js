'use strict'
// rtmfp.check(): does UDP reach an RTMFP server, at what address does it
// see us, what does our NAT do?  The work and its words are the core's
// (rtmfp_core::flash::check), run on a libuv worker.

const native = require('./native')
const { fromNative } = require('./errors')
const v = require('./validate')

/**
 * Checks the server at `uri` ("rtmfp://HOST[:PORT][/APP[/KEY]]").
 * Options (all optional):
 * - `bind`: local address(es), as Endpoint's; default "0.0.0.0:0";
 * - `timeout`: ms to wait for the server (default 5000); the NAT tests
 *   take about three seconds more;
 * - `stun`: "ip:port" of an RFC 5780 STUN server for the NAT tests,
 *   instead of the server's check service;
 * - `turn`: "turn://USER:PASS@HOST[:PORT]": check through that relay, and
 *   so whether it works;
 * - any other option of NetConnection (`openTimeout`, `keyLog`, ...).
 * Resolves to a report ({ reached, error, server, rtt, publicAddress,
 * mapping, filtering, unsolicitedLeavesState, verdict, lines, text });
 * what the network does never rejects: see `reached` and `error`.
 */
async function check(uri, options) {
  v.string(uri, 'uri')
  const o = v.object(options, 'options')
  const nativeOptions = v.nativeOptions(o)
  if (o.timeout !== undefined) v.millis(o.timeout, 'options.timeout')
  if (o.stun !== undefined) v.string(o.stun, 'options.stun')
  let task
  try {
    task = native.check(uri, nativeOptions)
  } catch (e) {
    throw fromNative(e)
  }
  const r = await task
  const orNull = (x) => (x === undefined ? null : x)
  return Object.freeze({
    reached: r.reached,
    error: orNull(r.error),
    server: orNull(r.server),
    rtt: orNull(r.rtt),
    publicAddress: orNull(r.publicAddress),
    mapping: orNull(r.mapping),
    filtering: orNull(r.filtering),
    unsolicitedLeavesState: orNull(r.unsolicitedLeavesState),
    verdict: r.verdict,
    lines: r.lines.map(([key, text]) => [key, text]),
    text: r.text,
  })
}

module.exports = { check }
