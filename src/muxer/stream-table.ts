/**
 * The application-facing streams of one muxed connection, shared by every muxer (yamux, mplex; the
 * shape QUIC streams fit too). A sans-I/O session knows streams only by a numeric key and reports
 * what happens to them as `StreamEvents`; the table turns those into calls on `MuxedStream`s and
 * turns the streams' requests back into `StreamOps` calls on the session, by key.
 *
 * Keys. `streams` is keyed by the session's stream key, unique within the connection: the stream id
 * for yamux (the initiator's ids are odd, the listener's even) and QUIC, `id * 2 + (we opened it ?
 * 1 : 0)` for mplex (both peers number their streams from 0; mplex/session.ts). `Stream.id` is
 * always the id on the wire.
 *
 * Re-entrancy: the one protocol, for every session.
 *  - Events are synchronous calls from inside a session method (`receive`, a stream operation,
 *    `setBlocked`, `tick`, `close`). The session has finished its own bookkeeping for the frame
 *    before it emits an event, so an event handler may call back into the session (write, close,
 *    reset, open a stream): the session sees a consistent state.
 *  - Application code runs inside an event in exactly two places: the `onStream` handler (inside
 *    `onStreamOpen`) and nothing else synchronously — `pushData`/`pushEnd`/`pushReset` only settle
 *    promises, whose continuations run after the session method returns. `onStream` may reset or
 *    write to the new stream; a session that goes on with the same stream after `onStreamOpen`
 *    must check that the stream is still live (yamux: `records.get(id) === rec`).
 *  - `onStreamWritable` calls `MuxedStream.notifyWritable`, which calls `StreamOps.send`
 *    re-entrantly: a session emits it only where a send may run (after a window update is applied,
 *    from `Outbox.setBlocked`), never in the middle of queuing a frame.
 *  - After `onStreamReset` or `onStreamRemoved` the session names the key no more (a new stream
 *    never reuses a live key).
 */
import type { Stream } from '../connection.js'
import { toError } from '../errors.js'
import { MuxedStream } from './stream.js'
import type { StreamTransport } from './stream.js'

/** What a session reports about its streams, by key (see the module comment for the rules). */
export interface StreamEvents {
  /** The peer opened a stream; `id` is its id on the wire. */
  onStreamOpen: (key: number, id: number) => void
  /** Data for a stream; `data` is a view the stream may keep. */
  onStreamData: (key: number, data: Uint8Array) => void
  /** The peer closed its direction: buffered data stays readable, then EOF. */
  onStreamEnd: (key: number) => void
  /** The stream is reset (by the peer, a limit, or the end of the session). `onStreamRemoved` follows. */
  onStreamReset: (key: number, err: Error) => void
  /** The session may take more of the stream's data now (window update, room in the outbox). */
  onStreamWritable: (key: number) => void
  /** The stream is gone on the wire; no event names `key` again. */
  onStreamRemoved: (key: number) => void
}

/** What the streams ask of their session, by key (the `StreamTransport` of each `MuxedStream`). */
export interface StreamOps {
  /**
   * Frame and queue as many leading bytes of `data` as may be sent now; how many were taken.
   * `stream` is the caller (it may already be gone from the table, e.g. after the connection).
   */
  send: (key: number, data: Uint8Array, stream: MuxedStream) => number
  /** Half-close our direction. */
  closeWrite: (key: number) => void
  /** Reset the stream on the wire. */
  reset: (key: number) => void
  /** The application took `n` bytes out of the stream's receive buffer. */
  consumed: (key: number, n: number) => void
  /** The application will read no more (`close()`). Optional. */
  readClosed?: (key: number) => void
}

export class StreamTable implements StreamEvents {
  /** Live streams by session key. */
  readonly streams = new Map<number, MuxedStream>()
  private readonly ops: StreamOps
  private handler: ((stream: Stream) => void) | undefined
  /** Inbound streams that arrived before `onStream` was set (bounded by the session's inbound limit). */
  private early: MuxedStream[] = []

  constructor (ops: StreamOps) {
    this.ops = ops
  }

  get onStream (): ((stream: Stream) => void) | undefined { return this.handler }
  set onStream (handler: ((stream: Stream) => void) | undefined) {
    this.handler = handler
    if (handler === undefined || this.early.length === 0) return
    const early = this.early
    this.early = []
    for (const s of early) this.deliver(s, handler)
  }

  /** A stream for a key the session just opened (ours). */
  add (key: number, id: number, direction: 'inbound' | 'outbound'): MuxedStream {
    const transport = new KeyedTransport(this.ops, key)
    const stream = new MuxedStream({ id, direction, transport })
    transport.stream = stream
    this.streams.set(key, stream)
    return stream
  }

  /** Forget the streams not yet delivered (the connection is gone; they were reset with it). */
  clearEarly (): void {
    this.early = []
  }

  // ── StreamEvents ──

  onStreamOpen (key: number, id: number): void {
    const stream = this.add(key, id, 'inbound')
    const handler = this.handler
    if (handler === undefined) this.early.push(stream)
    else this.deliver(stream, handler)
  }

  onStreamData (key: number, data: Uint8Array): void { this.streams.get(key)?.pushData(data) }
  onStreamEnd (key: number): void { this.streams.get(key)?.pushEnd() }
  onStreamReset (key: number, err: Error): void { this.streams.get(key)?.pushReset(err) }
  onStreamWritable (key: number): void { this.streams.get(key)?.notifyWritable() }
  onStreamRemoved (key: number): void { this.streams.delete(key) }

  /** A handler that throws resets that stream only. */
  private deliver (stream: MuxedStream, handler: (stream: Stream) => void): void {
    try {
      handler(stream)
    } catch (err) {
      stream.reset(toError(err))
    }
  }
}

/**
 * A stream's requests as `StreamOps` calls by key. One small object per stream with the calls on its
 * prototype: four closures and their context per stream cost ~300 B more of every open stream's heap.
 */
class KeyedTransport implements StreamTransport {
  /** Set right after the stream is constructed (the stream needs its transport first). */
  stream: MuxedStream | undefined

  constructor (private readonly ops: StreamOps, private readonly key: number) {}

  trySend (data: Uint8Array): number { return this.ops.send(this.key, data, this.stream as MuxedStream) }
  sendFin (): void { this.ops.closeWrite(this.key) }
  sendReset (): void { this.ops.reset(this.key) }
  onConsumed (n: number): void { this.ops.consumed(this.key, n) }
  onReadClosed (): void { this.ops.readClosed?.(this.key) }
}
