/**
 * In-memory ByteConnection and Stream pairs for the multistream driver tests. Every `write` batch
 * is recorded so tests can assert how many writes a side made and what each held.
 */
import type { ByteConnection, ByteSink, Stream } from '../../src/connection.js'
import { ChunkQueue } from '../../src/codec/chunk-queue.js'
import { encodeLp } from '../../src/codec/length-prefixed.js'
import { EndOfStreamError, StreamClosedError, StreamResetError } from '../../src/errors.js'
import { concat } from '../helpers/bytes.js'

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

type Event = { kind: 'data', chunk: Uint8Array } | { kind: 'end' } | { kind: 'close', err?: Error }

/** One end of an in-memory connection. Delivery to the peer is asynchronous (a macrotask), like a socket. */
export class MemoryConnection implements ByteConnection {
  readonly remoteAddr = '/ip4/127.0.0.1/tcp/2'
  readonly localAddr = '/ip4/127.0.0.1/tcp/1'
  readonly writes: Uint8Array[][] = []
  peer!: MemoryConnection
  closed = false
  /** Data chunks that reached this end, delivered or held. */
  arrived = 0
  private sink: ByteSink | undefined
  private readonly pending: Event[] = []
  private writeEnded = false

  constructor (readonly direction: 'inbound' | 'outbound') {}

  get writableLength (): number { return 0 }

  attach (sink: ByteSink): void {
    this.sink = sink
    while (this.sink === sink && this.pending.length > 0) this.dispatch(this.pending.shift() as Event)
  }

  detach (): void { this.sink = undefined }

  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded) throw new StreamClosedError('write after closeWrite')
    this.writes.push([...chunks])
    const bytes = concat(chunks)
    setImmediate(() => this.peer.receive({ kind: 'data', chunk: bytes }))
    return true
  }

  /** Deliver raw bytes to this side as if the peer had sent them. */
  inject (bytes: Uint8Array): void { setImmediate(() => this.receive({ kind: 'data', chunk: bytes })) }

  pause (): void {}
  resume (): void {}

  closeWrite (): void {
    if (this.writeEnded) return
    this.writeEnded = true
    setImmediate(() => this.peer.receive({ kind: 'end' }))
  }

  async close (): Promise<void> {
    this.closeWrite()
    this.closed = true
  }

  abort (err?: Error): void {
    this.closed = true
    setImmediate(() => this.peer.receive({ kind: 'close', err: new Error('reset by peer') }))
    this.receive({ kind: 'close', err })
  }

  private receive (ev: Event): void {
    if (ev.kind === 'data') this.arrived++
    if (this.sink === undefined) this.pending.push(ev)
    else this.dispatch(ev)
  }

  private dispatch (ev: Event): void {
    const sink = this.sink as ByteSink
    if (ev.kind === 'data') sink.onData(ev.chunk)
    else if (ev.kind === 'end') sink.onEnd()
    else sink.onClose(ev.err)
  }
}

export function connectionPair (): [dialer: MemoryConnection, listener: MemoryConnection] {
  const a = new MemoryConnection('outbound')
  const b = new MemoryConnection('inbound')
  a.peer = b
  b.peer = a
  return [a, b]
}

/** A minimal pull-based Stream; delivery to the peer is asynchronous. */
export class MemoryStream implements Stream {
  readonly id = 1
  protocol = ''
  peer!: MemoryStream
  readonly writes: Uint8Array[] = []
  readCalls = 0
  /** Bytes that reached this end from the peer, read or not. */
  receivedBytes = 0
  private readonly queue = new ChunkQueue()
  private ended = false
  private resetErr: Error | undefined
  private writeEnded = false
  private waiter: (() => void) | undefined

  constructor (readonly direction: 'inbound' | 'outbound') {}

  push (chunk: Uint8Array): void { this.receivedBytes += chunk.length; this.queue.push(chunk); this.wake() }
  /** The peer's FIN has arrived. */
  get remoteEnded (): boolean { return this.ended }
  pushEnd (): void { this.ended = true; this.wake() }
  pushReset (err: Error): void { this.resetErr ??= err; this.wake() }

  private wake (): void { const w = this.waiter; this.waiter = undefined; w?.() }

  /** Wait until something changes (data, end, reset); throws after a reset. */
  private async change (): Promise<void> {
    if (this.resetErr !== undefined) throw new StreamResetError('stream reset', { cause: this.resetErr })
    await new Promise<void>(resolve => { this.waiter = resolve })
    if (this.resetErr !== undefined) throw new StreamResetError('stream reset', { cause: this.resetErr })
  }

  async read (): Promise<Uint8Array | null> {
    this.readCalls++
    for (;;) {
      if (this.resetErr !== undefined) throw new StreamResetError('stream reset', { cause: this.resetErr })
      if (this.queue.length > 0) return this.queue.consume(this.queue.length)
      if (this.ended) return null
      await this.change()
    }
  }

  async readExactly (n: number): Promise<Uint8Array> {
    while (this.queue.length < n) {
      if (this.ended) throw new EndOfStreamError()
      await this.change()
    }
    return this.queue.consume(n)
  }

  /** Length-prefixed read; tests only use messages shorter than 128 bytes (1-byte prefix). */
  async readLp (maxSize: number): Promise<Uint8Array> {
    for (;;) {
      if (this.queue.length > 0) {
        const len = this.queue.byteAt(0)
        if (len > maxSize) throw new Error('too large')
        if (this.queue.length >= 1 + len) { this.queue.skip(1); return this.queue.consume(len) }
      }
      if (this.ended) throw new EndOfStreamError()
      await this.change()
    }
  }

  unread (chunk: Uint8Array): void { this.queue.unshift(chunk) }

  async write (data: Uint8Array): Promise<void> {
    if (this.resetErr !== undefined) throw new StreamResetError()
    if (this.writeEnded) throw new StreamClosedError()
    this.writes.push(data)
    const copy = data.slice()
    setImmediate(() => this.peer.push(copy))
  }

  async writeLp (data: Uint8Array | string): Promise<void> {
    await this.write(encodeLp(typeof data === 'string' ? utf8(data) : data))
  }

  async closeWrite (): Promise<void> {
    if (this.writeEnded) return
    this.writeEnded = true
    setImmediate(() => this.peer.pushEnd())
  }

  async close (): Promise<void> { await this.closeWrite() }

  reset (err?: Error): void {
    if (this.resetErr !== undefined) return
    this.resetErr = err ?? new Error('reset')
    this.wake()
    setImmediate(() => this.peer.pushReset(new Error('remote reset')))
  }

  get isReset (): boolean { return this.resetErr !== undefined }

  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        const chunk = await this.read()
        return chunk === null ? { done: true, value: undefined } : { done: false, value: chunk }
      }
    }
  }
}

export function streamPair (): [dialer: MemoryStream, listener: MemoryStream] {
  const a = new MemoryStream('outbound')
  const b = new MemoryStream('inbound')
  a.peer = b
  b.peer = a
  return [a, b]
}
