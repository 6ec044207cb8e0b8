/**
 * A js-libp2p mplex peer for interop tests: `@libp2p/mplex` over a real `@libp2p/tcp` socket,
 * without the rest of libp2p. The TCP transport hands its raw MultiaddrConnection to an
 * "upgrader"; ours just captures it, so the js muxer runs directly on the socket (no Noise, no
 * multistream) — exactly the bytes switchyard's mplex sees on its own ByteConnection.
 */
import { tcp } from '@libp2p/tcp'
import { mplex } from '@libp2p/mplex'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import type { MplexInit } from '@libp2p/mplex'

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

function transport (): ReturnType<ReturnType<typeof tcp>> {
  return tcp()(components as unknown as Parameters<ReturnType<typeof tcp>>[0])
}

/**
 * js mplex rate-limits NEW_STREAM to 5 per second per connection by default (`disconnectThreshold`,
 * then it drops the connection): the tests open 100 streams at once, so raise it.
 */
const JS_INIT: MplexInit = { disconnectThreshold: 100_000 }

export function jsMuxer (maConn: MultiaddrConnection, init: MplexInit = {}): JsMuxer<JsStream> {
  return mplex({ ...JS_INIT, ...init })().createStreamMuxer(maConn) as JsMuxer<JsStream>
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
