'use strict'
// Symbols for the methods the wrapper's classes call on each other; they
// are not part of the public API.
module.exports = {
  kItem: Symbol('rtmfp.item'), // an endpoint item for this object
  kClosed: Symbol('rtmfp.closed'), // its session or endpoint closed
  kOpened: Symbol('rtmfp.opened'), // openFlow's reply arrived
  kAddFlow: Symbol('rtmfp.addFlow'), // a sending flow got its number
  kForget: Symbol('rtmfp.forget'), // a flow is done: stop routing to it
  kClosing: Symbol('rtmfp.closing'), // this end is closing the session
}
