/**
 * Streams carried by a real muxer (yamux or mplex) over a real loopback TCP connection
 * (src/transport/tcp.ts), for running the application protocols end to end below the switch.
 *
 * Multistream-select is stood in for by one length-prefixed protocol id the dialer writes and the
 * listener reads and checks. That also makes the stream exist on the listener's side before the
 * protocol runs: yamux may open a stream lazily (SYN on the first frame), and in identify the asking
 * side never writes.
 */
import type { Stream, StreamMuxer, ByteConnection } from '../../src/connection.js'
import { listen, dial } from '../../src/transport/tcp.js'
import { createYamux } from '../../src/muxer/yamux.js'
import { createMplex } from '../../src/muxer/mplex/index.js'

export interface MuxedConnection {
  /** A fresh outbound stream and its inbound twin, both past the stand-in negotiation of `protocol`. */
  newPair: (protocol: string) => Promise<{ client: Stream, server: Stream }>
  close: () => Promise<void>
}

export interface MuxerKind {
  name: string
  create: (conn: ByteConnection, initiator: boolean) => StreamMuxer
}

export const MUXERS: readonly MuxerKind[] = [
  { name: 'yamux', create: (conn, initiator) => createYamux(conn, { initiator }) },
  { name: 'mplex', create: (conn, initiator) => createMplex(conn, { initiator }) }
]

/** One loopback TCP connection with `kind` on both ends. */
export async function muxedConnection (kind: MuxerKind): Promise<MuxedConnection> {
  let accept!: (conn: ByteConnection) => void
  const accepted = new Promise<ByteConnection>(resolve => { accept = resolve })
  const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: (c) => { accept(c) } })
  const addr = listener.multiaddrs[0]
  if (addr === undefined) throw new Error('listener has no address')
  const dialed = await dial(addr)
  const inbound = await accepted
  const clientMux = kind.create(dialed, true)
  const serverMux = kind.create(inbound, false)

  // Inbound streams in arrival order, handed to whoever waits for the next one.
  const arrived: Stream[] = []
  const waiting: Array<(s: Stream) => void> = []
  serverMux.onStream = (s) => {
    const w = waiting.shift()
    if (w !== undefined) w(s)
    else arrived.push(s)
  }
  const nextInbound = async (): Promise<Stream> => {
    const s = arrived.shift()
    if (s !== undefined) return s
    return await new Promise<Stream>(resolve => waiting.push(resolve))
  }

  return {
    newPair: async (protocol) => {
      const client = clientMux.newStream()
      await client.writeLp(protocol)
      const server = await nextInbound()
      const got = new TextDecoder().decode(await server.readLp(1024))
      if (got !== protocol) throw new Error(`stand-in negotiation: expected ${protocol}, got ${got}`)
      client.protocol = protocol
      server.protocol = protocol
      return { client, server }
    },
    close: async () => {
      clientMux.abort()
      serverMux.abort()
      await listener.close({ closeConnections: true })
    }
  }
}
