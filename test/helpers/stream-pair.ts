/**
 * Two connected `Stream`s in memory, for testing protocols without sockets or a muxer session.
 *
 * Each end is the real `MuxedStream` (src/muxer/stream.ts) that yamux and mplex hand to
 * applications, so the protocols meet the exact read/readLp/EOF/close/reset behaviour they get in
 * production. Between them sits a tiny in-memory "muxer":
 *
 *   client.write → trySend → copy → (microtask) → server.pushData      and the reverse
 *   closeWrite   → sendFin          → (microtask) → peer.pushEnd
 *   reset        → sendReset        → (microtask) → peer.pushReset
 *
 * Flow control works like yamux's: each direction has a window of `windowBytes`; the sender may have
 * at most that many bytes unread at the receiver, and credit returns as the receiver reads
 * (`onConsumed`). Every byte and FIN/RST is also recorded in `wire`, so tests can assert the exact
 * bytes a protocol puts on the wire.
 */
import { MuxedStream } from '../../src/muxer/stream.js'
import type { StreamTransport } from '../../src/muxer/stream.js'

export type WireEvent =
  | { type: 'data', bytes: Uint8Array }
  | { type: 'fin' }
  | { type: 'reset' }

export interface WireLog {
  /** What the client sent, in order. */
  clientToServer: WireEvent[]
  /** What the server sent, in order. */
  serverToClient: WireEvent[]
}

export interface StreamPair {
  /** The dialing end (direction 'outbound'). */
  client: MuxedStream
  /** The listening end (direction 'inbound'). */
  server: MuxedStream
  wire: WireLog
}

export interface StreamPairOptions {
  /** Per-direction window: the most bytes in flight and unread. Default 256 KiB (yamux). */
  windowBytes?: number
  /** Protocol id to set on both ends. */
  protocol?: string
}

/** Concatenated data bytes of one direction. */
export function wireBytes (events: readonly WireEvent[]): Uint8Array {
  const parts = events.flatMap(e => e.type === 'data' ? [e.bytes] : [])
  return new Uint8Array(Buffer.concat(parts))
}

/** Hex of one direction's data bytes, with ` FIN` / ` RST` markers where those were sent. */
export function wireHex (events: readonly WireEvent[]): string {
  let out = ''
  for (const e of events) {
    if (e.type === 'data') out += Buffer.from(e.bytes).toString('hex')
    else out += e.type === 'fin' ? ' FIN' : ' RST'
  }
  return out
}

class Direction implements StreamTransport {
  peer!: MuxedStream
  self!: MuxedStream
  credit: number

  constructor (windowBytes: number, private readonly log: WireEvent[]) {
    this.credit = windowBytes
  }

  trySend = (data: Uint8Array): number => {
    const n = Math.min(this.credit, data.length)
    if (n === 0) return 0
    this.credit -= n
    // Copy: on a real wire the receiver never shares memory with the sender.
    const bytes = new Uint8Array(data.subarray(0, n))
    this.log.push({ type: 'data', bytes })
    queueMicrotask(() => { this.peer.pushData(bytes) })
    return n
  }

  sendFin = (): void => {
    this.log.push({ type: 'fin' })
    queueMicrotask(() => { this.peer.pushEnd() })
  }

  sendReset = (): void => {
    this.log.push({ type: 'reset' })
    queueMicrotask(() => { this.peer.pushReset() })
  }

  /** Called by the *receiving* stream's transport: credit flows back to this direction's sender. */
  grant (n: number): void {
    this.credit += n
    queueMicrotask(() => { this.self.notifyWritable() })
  }

  // The receive side of this transport belongs to `self`; its reads credit the opposite direction.
  reverse!: Direction
  onConsumed = (n: number): void => { this.reverse.grant(n) }
}

/** A connected client/server pair of streams. */
export function streamPair (options: StreamPairOptions = {}): StreamPair {
  const windowBytes = options.windowBytes ?? 256 * 1024
  const wire: WireLog = { clientToServer: [], serverToClient: [] }
  const c2s = new Direction(windowBytes, wire.clientToServer)
  const s2c = new Direction(windowBytes, wire.serverToClient)
  c2s.reverse = s2c
  s2c.reverse = c2s
  const client = new MuxedStream({ id: 1, direction: 'outbound', transport: c2s })
  const server = new MuxedStream({ id: 1, direction: 'inbound', transport: s2c })
  c2s.self = client
  c2s.peer = server
  s2c.self = server
  s2c.peer = client
  if (options.protocol !== undefined) {
    client.protocol = options.protocol
    server.protocol = options.protocol
  }
  return { client, server, wire }
}
