// A typical program against the package's types; `tsc -p test` checks it
// (it is never run).  The @ts-expect-error lines must stay errors.

import { once } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import {
  codes,
  Endpoint,
  MessageType,
  NetConnection,
  NetStream,
  Priority,
  RtmfpError,
  Server,
  version,
  type MediaMessage,
  type NetStatusInfo,
  type PeerStream,
  type ServerClient,
  type ServerStream,
  type Flow,
  type RecvFlow,
  type Session,
  type SessionStats,
  type Stats,
} from '..'
import type { NativeItem } from '../index'

export async function chat(peerId: string, address: string): Promise<void> {
  const v: string = version()
  const ep = new Endpoint({ bind: '127.0.0.1:0', openTimeout: 5_000, recvCoalesce: 0.5 })
  const server = new Endpoint({ bind: [{ address: '127.0.0.1', port: 0 }], server: true, hostname: v }).ref()
  const id: string = ep.peerId
  const addr: string = ep.address
  const all: string[] = ep.addresses

  ep.on('session', (s: Session) => {
    s.on('flow', (flow: RecvFlow) => {
      if (flow.metadata.toString() !== 'chat') return flow.reject(1)
      flow.accept({ order: 'network' }).on('message', (data: Buffer, info) => {
        const gap: boolean = info.gapBefore
        console.log(data.toString(), gap)
      })
      flow.on('end', () => flow.pause().resume())
    })
    s.on('message', (data, flow, info) => console.log(data.length, flow.id, info.gapBefore))
    s.on('close', (reason) => {
      const r: 'local' | 'localAbrupt' | 'remote' | 'idleTimeout' | 'overridden' | 'endpointClosed' = reason
      console.log(r)
    })
    s.on('addressChange', ({ from, to }) => console.log(from, to))
  })
  ep.on('close', () => console.log('closed'))

  const session: Session = await ep.connectPeer(peerId, [address, { address: '::1', port: 1935 }], { timeout: 3_000 })
  const viaUri: Session = await server.connect('rtmfp://127.0.0.1:1935/app')
  const role: 'initiator' | 'responder' = session.role
  const far: string | null = session.farPeerId
  const flow: Flow = session.openFlow('chat', { priority: Priority.IMMEDIATE })
  const key = flow.send(Buffer.from('key'), { deadline: 1_000, retransmit: true })
  await flow.send(new Uint8Array([1, 2, 3]), { parent: key, startDeadline: 50 })
  await flow.send('text')
  flow.on('writable', () => console.log('writable', flow.writable))
  flow.on('rejected', (code: number) => console.log(code, flow.rejectCode))
  const [code] = await once(flow, 'rejected')
  console.log(code, flow.id, flow.session === session, role, far, id, addr, all)
  flow.close()

  try {
    await flow.send('late')
  } catch (e) {
    if (e instanceof RtmfpError && e.code === codes.CLOSED) console.log(e.message)
    if (e instanceof RtmfpError && e.code === codes.FLOW_REJECTED) console.log(e.rejectCode)
  }

  const stats: Stats = await ep.stats()
  const sstats: SessionStats | null = await session.stats()
  console.log(stats.sessions, stats.io.recvDatagrams, stats.io.coalescedWakeups, stats.drops['bad_checksum'], sstats?.srtt)
  await viaUri.close({ abrupt: true })
  await session.close()
  const clean: boolean = await ep.close({ timeout: 500 })
  await server.unref().close()
  console.log(clean)

  // The generated native types are there too.
  const item: NativeItem = { type: 'end' }
  console.log(item.type)

  // @ts-expect-error: priorities are 0..7
  session.openFlow('x', { priority: 9 })
  // @ts-expect-error: 'order' is 'sequence' or 'network'
  flow.session.openFlow().on('writable', () => {}) && ({} as RecvFlow).accept({ order: 'fifo' })
  // @ts-expect-error: no such event
  ep.on('message', () => {})
  // @ts-expect-error: the listener's argument is a RecvFlow
  session.on('flow', (f: string) => console.log(f))
  // @ts-expect-error: connect takes a URI string
  await ep.connect(42)
}

// The Flash layer: a rendezvous server, a publisher and a player.
export async function flash(): Promise<void> {
  const server = new Server({ bind: '127.0.0.1:0', keys: ['key'], ref: true })
  const keysFromFile = new Server({ bind: 1935, keys: '/etc/rtmfp/keys' })
  server.on('connect', (c: ServerClient) => console.log(c.peerId, c.address, c.session, c.names))
  server.onConnect = (r) => (r.key === 'key' ? true : 'wrong key')
  server.onPublish = async (r) => r.name !== 'secret' && r.streamId > 0
  server.onPlay = null
  server.on('askEnd', (e) => console.log(e.id, e.end))
  const hooked = new Server({ bind: 0, hookTimeout: 5000, recvCoalesce: 2, onPlay: (r) => r.app === 'live' })
  void hooked
  // Every row of core's table is typed (generated): the advised keepalives, none.
  const quiet = new Server({ bind: 0, keepalive: [20_000, 10_000], relay: false, turn: null })
  void new Server({ bind: 0, keepalive: null })
  void quiet
  server.on('disconnect', (c) => console.log(c.mediaIn))
  server.on('introduce', ({ initiator, peerId, addresses }) => console.log(initiator, peerId, addresses))
  server.on('registerName', ({ peerId, name }) => console.log(peerId, name))
  server.on('publish', ({ session, name }) => console.log(session, name))
  const sid: string = server.peerId
  const uri = `rtmfp://${server.address}/app/key`

  const nc = new NetConnection({ bind: '127.0.0.1:0', maxPeerConnections: 4 })
  nc.on('netStatus', (info: NetStatusInfo) => {
    if (info.code === 'NetConnection.Connect.Closed') console.log(info.description, info.level)
  })
  await nc.connect(uri, { timeout: 5_000, args: ['extra', 1] })
  const near: string | null = nc.nearID
  const far: string | null = nc.farID
  console.log(near, far, nc.nearNonce, nc.farNonce, nc.connected, sid)
  nc.maxPeerConnections = 2
  await nc.registerName('me')
  const friend: string = await nc.lookupName('friend')
  const result: unknown[] = await nc.call('custom', 1, 'two', { three: 3 })
  console.log(result)

  const pub = new NetStream(nc, NetStream.DIRECT_CONNECTIONS)
  pub.onPeerConnect = (subscriber: PeerStream) => subscriber.farID !== null
  pub.on('peerStreamOpened', (s) => console.log(s.farID, s.farAddress))
  pub.on('peerStreamClosed', (s, reason: string) => console.log(s.id, reason))
  await pub.publish('live')
  const n: number = await pub.sendAudio(0, Buffer.from([0xaf, 1]))
  await pub.sendVideo(40, new Uint8Array([0x17]))
  await pub.sendData(80, 'onMetaData', { width: 640 })
  await pub.send('chat', 'me', 'hello')
  const subs: PeerStream[] = pub.peerStreams
  console.log(n, subs.length, MessageType.AUDIO)

  const play = new NetStream(nc, friend)
  play.on('media', (m: MediaMessage) => {
    if (m.type === 'data') console.log(m.values)
    else console.log(m.messageType, m.timestamp, m.data.length)
  })
  play.on('netStatus', (info) => console.log(info.code === 'NetStream.Play.Start'))
  await play.play('live')
  play.close()
  const viaServer = new NetStream(nc, NetStream.CONNECT_TO_FMS)
  console.log(viaServer.kind, play.farID)

  // FLV byte streams: e.g. ffmpeg's stdout in, ffprobe's stdin out.
  const flvIn: Writable = viaServer.createFlvWriteStream({ autoClose: false })
  flvIn.end(Buffer.from('FLV'))
  const flvOut: Readable = new NetStream(nc).createFlvReadStream({ windowMs: 0 })
  flvOut.pipe(process.stdout)

  try {
    await new NetConnection().connect('rtmfp://127.0.0.1/app/wrong')
  } catch (e) {
    if (e instanceof RtmfpError && e.code === codes.REJECTED) console.log(e.info?.code)
  }
  const streams: ServerStream[] = await server.streams()
  const clients: ServerClient[] = await server.sessions()
  if (clients[0]) await server.disconnect(clients[0])
  console.log(streams.length, await nc.close({ timeout: 500 }), await server.unref().close(), await keysFromFile.close())

  // @ts-expect-error: windowMs is a number
  viaServer.createFlvReadStream({ windowMs: '100' })
  // @ts-expect-error: onPeerConnect returns a boolean
  pub.onPeerConnect = (s: PeerStream) => s.name
  // @ts-expect-error: no such event
  nc.on('media', () => {})
  // @ts-expect-error: timestamps are numbers
  await pub.sendAudio('0', Buffer.alloc(1))
  // @ts-expect-error: keys are strings
  new Server({ keys: [1, 2] })
  // @ts-expect-error: a policy is one of the table's words
  new Endpoint({ hmacPolicy: 'sometimes' })
  // @ts-expect-error: a NetConnection-only row is not an Endpoint's
  new Endpoint({ directTimeout: 0 })
}
