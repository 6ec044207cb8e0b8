/**
 * ByteConnections for the security tests (loopback tests use src/transport/tcp.ts).
 *
 * - `memoryPair()`: two connected in-memory ByteConnections. Bytes cross on a later macrotask
 *   (setImmediate), the way a socket delivers them; every `write` call is recorded, so tests can
 *   assert "one batch → one write" and inspect or tamper with the exact wire bytes (`tamper`).
 * - `Collector`: a ByteSink that records what arrives and lets a test await a condition.
 */
import type { ByteConnection, ByteSink } from '../../src/connection.js'
import { StreamClosedError, TransportError } from '../../src/errors.js'

class Inbox {
  sink: ByteSink | undefined
  paused = false
  /** Data chunks that reached this end so far (delivered or held): lets tests wait for the wire. */
  arrived = 0
  pending: Array<{ kind: 'data', chunk: Uint8Array } | { kind: 'end' } | { kind: 'close', err?: Error }> = []
  private flushing = false

  push (ev: Inbox['pending'][number]): void {
    if (ev.kind === 'data') this.arrived++
    this.pending.push(ev)
    this.flush()
  }

  flush (): void {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.sink !== undefined && !this.paused && this.pending.length > 0) {
        const ev = this.pending.shift()!
        const sink = this.sink
        if (ev.kind === 'data') sink.onData(ev.chunk)
        else if (ev.kind === 'end') sink.onEnd()
        else sink.onClose(ev.err)
      }
      // close is delivered even while paused (the connection is gone)
      const last = this.pending[this.pending.length - 1]
      if (
        this.sink !== undefined && this.paused && last?.kind === 'close' && this.pending.every(e => e.kind !== 'data')
      ) {
        this.pending = []
        this.sink.onClose(last.err)
      }
    } finally {
      this.flushing = false
    }
  }
}

export class MemoryConnection implements ByteConnection {
  readonly remoteAddr: string
  readonly localAddr: string
  readonly direction: 'inbound' | 'outbound'
  peer!: MemoryConnection
  /** Every write call, with the chunks it carried (copied). */
  readonly writes: Uint8Array[][] = []
  /** Transform applied to outgoing bytes (tests tamper with the wire). */
  tamper: ((bytes: Uint8Array) => Uint8Array) | undefined
  readonly inbox = new Inbox()
  writableLength = 0
  closed = false
  private writeEnded = false
  pauseCalls = 0

  constructor (direction: 'inbound' | 'outbound', local: string, remote: string) {
    this.direction = direction
    this.localAddr = local
    this.remoteAddr = remote
  }

  attach (sink: ByteSink): void { this.inbox.sink = sink; this.inbox.paused = false; this.inbox.flush() }
  detach (): void { this.inbox.sink = undefined }
  pause (): void { this.pauseCalls++; this.inbox.paused = true }
  resume (): void { this.inbox.paused = false; this.inbox.flush() }

  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded || this.closed) throw new StreamClosedError('memory connection: write after close')
    const copy = chunks.map(c => Uint8Array.from(c))
    this.writes.push(copy)
    let bytes: Uint8Array = new Uint8Array(Buffer.concat(copy))
    if (this.tamper !== undefined) bytes = this.tamper(bytes)
    const peer = this.peer
    if (bytes.length > 0) setImmediate(() => { if (!peer.closed) peer.inbox.push({ kind: 'data', chunk: bytes }) })
    return true
  }

  closeWrite (): void {
    if (this.writeEnded) return
    this.writeEnded = true
    const peer = this.peer
    setImmediate(() => { if (!peer.closed) peer.inbox.push({ kind: 'end' }) })
  }

  async close (): Promise<void> {
    this.closeWrite()
    await new Promise(resolve => setImmediate(resolve))
    this.finish(undefined)
    const peer = this.peer
    setImmediate(() => peer.finish(undefined))
  }

  abort (err?: Error): void {
    if (this.closed) return
    this.writeEnded = true
    this.finish(err)
    const peer = this.peer
    setImmediate(() => peer.finish(new TransportError('ERR_CONNECTION_RESET', 'memory connection reset by peer')))
  }

  /** Bytes written so far, concatenated. */
  written (): Uint8Array {
    return new Uint8Array(Buffer.concat(this.writes.flat()))
  }

  private finish (err: Error | undefined): void {
    if (this.closed) return
    this.closed = true
    this.writeEnded = true
    this.inbox.push({ kind: 'close', ...(err !== undefined ? { err } : {}) })
  }
}

export function memoryPair (): { client: MemoryConnection, server: MemoryConnection } {
  const client = new MemoryConnection('outbound', '/ip4/127.0.0.1/tcp/1111', '/ip4/127.0.0.1/tcp/2222')
  const server = new MemoryConnection('inbound', '/ip4/127.0.0.1/tcp/2222', '/ip4/127.0.0.1/tcp/1111')
  client.peer = server
  server.peer = client
  return { client, server }
}

/** Collects what a ByteConnection delivers. */
export class Collector implements ByteSink {
  chunks: Uint8Array[] = []
  ended = false
  closed = false
  closeError: Error | undefined
  private waiters: Array<() => void> = []

  onData = (chunk: Uint8Array): void => { this.chunks.push(chunk); this.wake() }
  onEnd = (): void => { this.ended = true; this.wake() }
  onClose = (err?: Error): void => { this.closed = true; this.closeError = err; this.wake() }

  get bytes (): Uint8Array { return new Uint8Array(Buffer.concat(this.chunks)) }
  get length (): number { return this.chunks.reduce((n, c) => n + c.length, 0) }

  /** Resolve once `cond` holds (checked after every event); rejects after `ms`. */
  async until (cond: () => boolean, ms = 5000): Promise<void> {
    if (cond()) return
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(
              `condition not met within ${ms} ms (got ${this.length} bytes, ended=${this.ended}, closed=${this.closed})`
            )
          ),
        ms
      )
      const check = (): void => {
        if (cond()) { clearTimeout(t); resolve() } else this.waiters.push(check)
      }
      this.waiters.push(check)
    })
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}
