/**
 * A js-libp2p muxer peer's socket for interop tests: a real `@libp2p/tcp` transport without the rest
 * of libp2p. The TCP transport hands its raw MultiaddrConnection to an "upgrader"; ours just
 * captures it, so a js muxer runs directly on the socket (no Noise, no multistream) — exactly the
 * bytes switchyard's muxer sees on its own ByteConnection. Used by js-yamux-peer.ts (yamux) and
 * mplex/js-peer.ts (mplex).
 */
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, Stream as JsStream } from '@libp2p/interface'

/** The js components want a logger; a silent one is enough. */
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

export function transport (): ReturnType<ReturnType<typeof tcp>> {
  return tcp()(components as unknown as Parameters<ReturnType<typeof tcp>>[0])
}

export interface JsListener {
  port: number
  /** The next accepted connection. */
  accept: () => Promise<MultiaddrConnection>
  close: () => Promise<void>
}

export async function jsListen (): Promise<JsListener> {
  const queue: MultiaddrConnection[] = []
  const waiting: Array<(c: MultiaddrConnection) => void> = []
  const upgrader = {
    upgradeInbound: async (maConn: MultiaddrConnection): Promise<void> => {
      const w = waiting.shift()
      if (w !== undefined) w(maConn)
      else queue.push(maConn)
    }
  }
  const listener = transport().createListener(
    { upgrader } as unknown as Parameters<ReturnType<typeof transport>['createListener']>[0]
  )
  await listener.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const port = Number(listener.getAddrs()[0]?.getComponents().find(c => c.name === 'tcp')?.value)
  return {
    port,
    accept: async () => await new Promise<MultiaddrConnection>(resolve => {
      const c = queue.shift()
      if (c !== undefined) resolve(c)
      else waiting.push(resolve)
    }),
    close: async () => { await listener.close() }
  }
}

export async function jsDial (port: number): Promise<MultiaddrConnection> {
  const upgrader = { upgradeOutbound: async (maConn: MultiaddrConnection) => maConn }
  const opts = { upgrader, signal: AbortSignal.timeout(5000) }
  return await transport().dial(
    multiaddr(`/ip4/127.0.0.1/tcp/${port}`),
    opts as unknown as Parameters<ReturnType<typeof transport>['dial']>[1]
  ) as unknown as MultiaddrConnection
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
