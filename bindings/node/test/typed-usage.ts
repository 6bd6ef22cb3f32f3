// A typical program against the package's types; `tsc -p test` checks it
// (it is never run).  The @ts-expect-error lines must stay errors.

import { once } from 'node:events'
import {
  codes,
  Endpoint,
  Priority,
  RtmfpError,
  version,
  type Flow,
  type RecvFlow,
  type Session,
  type SessionStats,
  type Stats,
} from '..'
import type { NativeItem } from '../index'

export async function chat(peerId: string, address: string): Promise<void> {
  const v: string = version()
  const ep = new Endpoint({ bind: '127.0.0.1:0', openTimeout: 5_000 })
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
  console.log(stats.sessions, stats.io.recvDatagrams, stats.drops['bad_checksum'], sstats?.srtt)
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
