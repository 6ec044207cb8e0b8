/**
 * js-libp2p in the end-to-end benchmark: a libp2p 3.x node with @libp2p/tcp and
 * @libp2p/websockets, @chainsafe/libp2p-noise or @libp2p/tls (as the variant asks),
 * @chainsafe/libp2p-yamux and @libp2p/ping, everything else at its defaults; only the limits the workloads need are
 * raised (1000 connections from one host, 1000
 * streams per connection — js-libp2p by default accepts 5 inbound connections per second per host).
 * Handlers are written the way js-libp2p 3.x documents its stream API: `for await` to read,
 * `send()` + `onDrain()` to write, `close()` to half-close.
 */
import '../../interop/js/with-resolvers.js'
import '../../interop/js/websocket-global.js'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { tls } from '@libp2p/tls'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { BLOCK, BLOCK_BYTES, ECHO, MAX_CONNECTIONS, MAX_STREAMS, PERF } from './impl.js'
import type { BenchClient, BenchConnection, BenchServer, BenchStream, Protocol, Variant } from './impl.js'

const LIMITS = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }

async function node (listen: string[], variant: Variant): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [variant.security === 'tls' ? tls() : noise()],
    streamMuxers: [yamux(LIMITS)],
    services: { ping: ping(LIMITS) },
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: MAX_CONNECTIONS,
      maxIncomingPendingConnections: 1024,
      maxParallelDials: 1024,
      maxDialQueueLength: MAX_CONNECTIONS
    }
  })
  await n.handle(PERF, perfHandler, LIMITS)
  await n.handle(ECHO, echoHandler, LIMITS)
  return n
}

function bytes (chunk: Uint8Array | { subarray: () => Uint8Array }): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

async function perfHandler (stream: Stream): Promise<void> {
  try {
    const header = new Uint8Array(8)
    let have = 0
    for await (const c of stream) {
      if (have < 8) {
        const b = bytes(c)
        const take = Math.min(8 - have, b.length)
        header.set(b.subarray(0, take), have)
        have += take
      }
    }
    let remaining = Number(new DataView(header.buffer).getBigUint64(0, false))
    while (remaining > 0) {
      const size = Math.min(remaining, BLOCK_BYTES)
      if (!stream.send(size === BLOCK_BYTES ? BLOCK : BLOCK.subarray(0, size))) await stream.onDrain()
      remaining -= size
    }
    await stream.close()
  } catch (err) {
    process.stderr.write(`js perf handler: ${(err as Error).stack ?? String(err)}\n`)
    stream.abort(err as Error)
  }
}

async function echoHandler (stream: Stream): Promise<void> {
  try {
    for await (const c of stream) {
      if (!stream.send(c)) await stream.onDrain()
    }
    await stream.close()
  } catch (err) {
    stream.abort(err as Error)
  }
}

function wrap (stream: Stream): BenchStream {
  const it = stream[Symbol.asyncIterator]()
  return {
    write: async (data) => { if (!stream.send(data)) await stream.onDrain() },
    read: async () => {
      const r = await it.next()
      return r.done === true ? null : bytes(r.value)
    },
    closeWrite: async () => { await stream.close() },
    close: async () => { await stream.close() }
  }
}

export async function startServer (listen: string, variant: Variant): Promise<BenchServer> {
  const n = await node([listen], variant)
  const a = n.getMultiaddrs()[0]
  if (a === undefined) throw new Error('js-libp2p server: no listen address')
  return {
    addr: a.toString(),
    stats: () => {
      const conns = n.getConnections()
      let streams = 0
      for (const c of conns) streams += c.streams.length
      return { connections: conns.length, streams }
    },
    stop: async () => { await n.stop() }
  }
}

export async function startClient (variant: Variant): Promise<BenchClient> {
  const n = await node([], variant)
  return {
    oneStreamPerConnection: false,
    connect: async (addr: string): Promise<BenchConnection> => {
      const conn = await n.dial(multiaddr(addr), { force: true })
      return {
        // negotiateFully: false asks for the optimistic select switchyard uses; js-libp2p 3.3
        // documents it but still negotiates fully (multistream-select 7 has no lazy path).
        stream: async (protocol: Protocol) =>
          wrap(await conn.newStream(protocol, { ...LIMITS, negotiateFully: false })),
        close: async () => {
          await conn.close()
        }
      }
    },
    stop: async () => { await n.stop() }
  }
}
