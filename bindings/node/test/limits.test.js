'use strict'
// The server's per-client limits (maxStreamsPerClient, maxNamesPerClient,
// maxFlowsPerSession): a client's calls beyond them get `_error`, and
// values out of range throw at construction.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const rtmfp = require('..')
const { within } = require('./helpers')

const { NetConnection, Server } = rtmfp

test('a server with low limits refuses the streams and names beyond them', async (t) => {
  const srv = new Server({
    bind: '127.0.0.1:0',
    maxStreamsPerClient: 2,
    maxNamesPerClient: 1,
    maxFlowsPerSession: 64,
  })
  t.after(() => srv.close())
  const nc = new NetConnection({ bind: '127.0.0.1:0' })
  t.after(() => nc.close())
  await within(nc.connect(`rtmfp://${srv.address}/app/k`), 'connect')
  await within(nc.call('createStream'), 'createStream 1')
  await within(nc.call('createStream'), 'createStream 2')
  await assert.rejects(within(nc.call('createStream'), 'createStream 3'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_CALL_FAILED')
    assert.equal(e.info.code, 'NetConnection.Call.Failed')
    assert.match(e.info.description, /too many streams: at most 2/)
    return true
  })
  await within(nc.registerName('first'), 'registerName 1')
  await assert.rejects(within(nc.registerName('second'), 'registerName 2'), (e) => {
    assert.equal(e.code, 'ERR_RTMFP_CALL_FAILED')
    assert.match(e.info.description, /too many names: at most 1/)
    return true
  })
  // The connection still works.
  assert.equal(await within(nc.lookupName('first'), 'lookupName'), nc.nearID)
})

test('limits out of range throw at construction', () => {
  for (const [option, value, why] of [
    ['maxStreamsPerClient', 0, 'options.maxStreamsPerClient must be from 1 to 65535, got 0'],
    ['maxNamesPerClient', 65536, 'options.maxNamesPerClient must be from 1 to 65535, got 65536'],
    ['maxFlowsPerSession', 0, 'options.maxFlowsPerSession must be from 1 to 65535, got 0'],
    ['maxStreamsPerClient', -1, 'options.maxStreamsPerClient must be an integer'],
    ['maxNamesPerClient', 1.5, 'options.maxNamesPerClient must be an integer'],
  ]) {
    assert.throws(
      () => new Server({ bind: '127.0.0.1:0', [option]: value }),
      (e) => {
        assert.equal(e.code, 'ERR_RTMFP_INVALID_ARGUMENT', `${option}=${value}`)
        assert.ok(e.message.includes(why), `${option}=${value}: ${e.message}`)
        return true
      },
    )
  }
})
