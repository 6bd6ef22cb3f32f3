'use strict'
// Symbols for the methods the wrapper's classes call on each other, and
// what they share; none of it is part of the public API.

/**
 * Calls `f` on every one of `items`, even when some throw (a listener
 * must not keep the others from running); returns the first error as
 * `{ e }` (a thrown `undefined` still counts), or null.
 */
function callEach(items, f) {
  let thrown = null
  for (const item of items) {
    try {
      f(item)
    } catch (e) {
      if (thrown === null) thrown = { e }
    }
  }
  return thrown
}

module.exports = {
  callEach,
  kItem: Symbol('rtmfp.item'), // an endpoint item for this object
  kClosed: Symbol('rtmfp.closed'), // its session or endpoint closed
  kOpened: Symbol('rtmfp.opened'), // openFlow's reply arrived
  kAddFlow: Symbol('rtmfp.addFlow'), // a sending flow got its number
  kForget: Symbol('rtmfp.forget'), // a flow is done: stop routing to it
  kClosing: Symbol('rtmfp.closing'), // this end is closing the session
}
