/**
 * A js-libp2p yamux peer for interop tests: `@chainsafe/libp2p-yamux` running directly on a real
 * `@libp2p/tcp` MultiaddrConnection (no Noise, no multistream), so it sees exactly the bytes our
 * yamux puts on its ByteConnection. The TCP transport hands the raw connection to an "upgrader";
 * ours just captures it.
 */
import net from 'node:net'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import type { YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { ByteConnection } from '../../src/connection.js'
import { socketConnection } from './helpers.js'

type Log = ((...args: unknown[]) => void) & {
  enabled: boolean,
  trace: (...a: unknown[]) => void,
  error: (...a: unknown[]) => void,
  newScope: () => Log
}
const log: Log = Object.assign((): void => {}, {
  enabled: false,
  trace: (): void => {},
  error: (): void => {},
  newScope: (): Log => log
})
const components = { logger: { forComponent: (): Log => log } }

function transport (): ReturnType<ReturnType<typeof tcp>> {
  return tcp()(components as unknown as Parameters<ReturnType<typeof tcp>>[0])
}

export function jsYamux (maConn: MultiaddrConnection, init: YamuxMuxerInit = {}): JsMuxer<JsStream> {
  return yamux({ enableKeepAlive: false, ...init })().createStreamMuxer(maConn) as unknown as JsMuxer<JsStream>
}

/** js listens, we dial: returns our ByteConnection and the js side's raw connection. */
export async function weDialJs (): Promise<
  { ours: ByteConnection, theirs: MultiaddrConnection, close: () => Promise<void> }
> {
  let resolveConn!: (c: MultiaddrConnection) => void
  const accepted = new Promise<MultiaddrConnection>(resolve => {
    resolveConn = resolve
  })
  const upgrader = {
    upgradeInbound: async (maConn: MultiaddrConnection): Promise<void> => {
      resolveConn(maConn)
    }
  }
  const listener = transport().createListener(
    { upgrader } as unknown as Parameters<ReturnType<typeof transport>['createListener']>[0]
  )
  await listener.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const port = Number(listener.getAddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { resolve(s) })
    s.once('error', reject)
  })
  const theirs = await accepted
  return {
    ours: socketConnection(socket, 'outbound'),
    theirs,
    close: async () => {
      socket.destroy()
      await listener.close()
    }
  }
}

/** We listen, js dials. */
export async function jsDialsUs (): Promise<
  { ours: ByteConnection, theirs: MultiaddrConnection, close: () => Promise<void> }
> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const upgrader = { upgradeOutbound: async (maConn: MultiaddrConnection) => maConn }
  const opts = { upgrader, signal: AbortSignal.timeout(5000) }
  const theirs = await transport().dial(
    multiaddr(`/ip4/127.0.0.1/tcp/${port}`),
    opts as unknown as Parameters<ReturnType<typeof transport>['dial']>[1]
  ) as unknown as MultiaddrConnection
  const socket = await accepted
  return {
    ours: socketConnection(socket, 'inbound'),
    theirs,
    close: async () => {
      socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** Read a js stream to its end (chunks may be Uint8Array or Uint8ArrayList). */
export async function jsReadAll (s: JsStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c instanceof Uint8Array ? c : c.subarray())
  return Uint8Array.from(Buffer.concat(parts))
}

/** Write with js backpressure (send → false means wait for drain). */
export async function jsWrite (s: JsStream, data: Uint8Array, piece = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += piece) {
    if (!s.send(data.subarray(off, off + piece))) await s.onDrain()
  }
}
