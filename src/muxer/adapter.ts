/**
 * The thin adapter every muxer shares: binds a sans-I/O session to a `ByteConnection`. It owns what a
 * session must not — the connection, the write schedule, the one timer — and the application-facing
 * streams (`StreamTable`: the map, early inbound streams, the `onStream` setter). A muxer subclasses
 * it with its session and its close semantics; yamux.ts and mplex/mplex.ts are the two examples.
 *
 *   conn.onData ──► session.receive ──► StreamEvents ──► StreamTable ──► MuxedStream
 *   MuxedStream ──► StreamOps (by key) ──► session ──► Outbox ──onReady──► flush ──► conn.write
 *   conn.write → false / conn.onDrain ──► session.setBlocked(true / false) ──► waiting streams woken
 *
 * Flush policy: one `conn.write(chunks)` (a writev) per batch, scheduled when the first frame enters
 * an empty outbox and run with `setImmediate`, after the application's synchronous writes and the
 * promise continuations they resolve — so a loop of `await stream.write(chunk)` becomes one write
 * per event-loop turn, not one per frame (js-libp2p PR #1491). Frames produced in a socket callback
 * (the poll phase) are flushed in the check phase of the same loop iteration. `process.nextTick`
 * (the former mplex policy) was measured against it in paired runs: see `FLUSH` below.
 */
import type { ByteConnection, Stream, StreamMuxer } from '../connection.js'
import { toError } from '../errors.js'
import { StreamTable } from './stream-table.js'
import type { StreamOps } from './stream-table.js'
import type { MuxedStream } from './stream.js'

/** What the adapter drives. Sessions are sans-I/O: bytes in, batches out, time injected. */
export interface AdaptedSession {
  /** Bytes from the connection. May throw for a connection-level violation (`protocolError` follows). */
  receive: (chunk: Uint8Array) => void
  /** Every queued frame, for one connection write. */
  takeOutbox: () => Uint8Array[]
  /** The connection's write buffer went above (true) or back below (false) its high-water mark. */
  setBlocked: (blocked: boolean) => void
  /** When `tick` next has work (ms, on `performance.now()`'s clock), or undefined. Optional. */
  nextDeadline?: () => number | undefined
  /** Run timer work due now. Optional (with `nextDeadline`). */
  tick?: () => void
}

/**
 * The flush policy, the same for every muxer: setImmediate. Against process.nextTick (mplex's
 * former policy), 8 alternated rounds of fresh switchyard process pairs over Noise+yamux, medians
 * (min–max), load average 15–18 on 2 cores: 1-byte echo 211 (180–224) vs 180 (166–210) µs, a ping
 * on a new stream 289 (259–348) vs 363 (300–444) µs, 1 KiB echo, 1000 streams, bulk and setup
 * within noise. nextTick flushes before the continuations of the same turn have queued their
 * frames (a new stream's SYN goes out alone, its negotiation and payload in a second write), so it
 * makes more TCP writes and more Noise frames; setImmediate keeps one write per turn, which is also
 * what keeps peers with Nagle's algorithm on from stalling (test/integration/nagle.test.ts).
 */
const FLUSH: (fn: () => void) => void = setImmediate

export abstract class MuxerAdapter implements StreamMuxer {
  abstract readonly protocol: string
  onClose: ((err?: Error) => void) | undefined

  protected readonly conn: ByteConnection
  protected readonly table: StreamTable
  /** The muxer has reported its end (`onClose` fired): nothing more is read, written or timed. */
  protected ended = false
  private flushScheduled = false
  private fullFlushScheduled = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity

  constructor (conn: ByteConnection, ops: StreamOps) {
    this.conn = conn
    this.table = new StreamTable(ops)
  }

  /** The session this adapter drives (set by the subclass constructor before `start`). */
  protected abstract readonly session: AdaptedSession

  /** Live streams by session key (stream-table.ts: the stream id, or mplex's id*2 + weOpened). */
  get streams (): ReadonlyMap<number, Stream> { return this.table.streams }

  get onStream (): ((stream: Stream) => void) | undefined { return this.table.onStream }
  set onStream (handler: ((stream: Stream) => void) | undefined) { this.table.onStream = handler }

  abstract newStream (): MuxedStream
  abstract goAway (): void
  abstract close (): Promise<void>
  abstract abort (err?: Error): void

  // ── hooks for the muxer ──

  /** The peer ended its direction of the connection. */
  protected abstract connectionEnded (): void
  /** The connection closed (err: how), or failed. */
  protected abstract connectionClosed (err: Error | undefined): void
  /** `session.receive` threw: a connection-level violation. */
  protected abstract protocolError (err: Error): void
  /** `conn.write` threw: the connection was closed under us. */
  protected abstract writeFailed (err: Error): void

  /**
   * Feed the bytes read past the negotiation, then attach to the connection. Call once, at the end
   * of the subclass constructor.
   */
  protected start (initialBytes: readonly Uint8Array[] | undefined): void {
    for (const chunk of initialBytes ?? []) {
      if (this.ended) return
      this.receive(chunk)
    }
    if (this.ended) return
    this.conn.attach({
      onData: (chunk) => { this.receive(chunk) },
      onEnd: () => { this.connectionEnded() },
      onClose: (err) => { this.connectionClosed(err) },
      onDrain: () => { this.session.setBlocked(false) }
    })
    this.armTimer()
  }

  /**
   * Bound once: the session's `onOutput` / `onOutboxReady`. A full batch (a stream waits for room
   * in it) is flushed at the end of this tick instead: waiting for more frames gains nothing then,
   * and a writer blocked on every frame (a tiny `maxWriteBatchBytes`) would wait a loop turn each.
   */
  protected readonly scheduleFlush = (full: boolean): void => {
    if (full) {
      if (this.fullFlushScheduled) return
      this.fullFlushScheduled = true
      process.nextTick(this.fullFlushTask)
      return
    }
    if (this.flushScheduled) return
    this.flushScheduled = true
    FLUSH(this.flushTask)
  }

  /** Write everything queued now, as one batch. */
  protected flush (): void {
    if (this.ended || this.conn.closed) return
    const chunks = this.session.takeOutbox()
    if (chunks.length === 0) return
    let accepted: boolean
    try {
      accepted = this.conn.write(chunks)
    } catch (err) {
      this.writeFailed(toError(err))
      return
    }
    this.session.setBlocked(!accepted)
  }

  /** Report the end once: no timer, no early streams, `onClose(err)`. */
  protected fireClose (err: Error | undefined): void {
    if (this.ended) return
    this.ended = true
    this.stopTimer()
    this.table.clearEarly()
    this.onClose?.(err)
  }

  private receive (chunk: Uint8Array): void {
    try {
      this.session.receive(chunk)
    } catch (err) {
      this.protocolError(toError(err))
      return
    }
    this.armTimer()
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false
    this.flush()
  }

  private readonly fullFlushTask = (): void => {
    this.fullFlushScheduled = false
    this.flush()
  }

  /** Keep one timer at the session's next deadline (only ever moved earlier; re-armed when it fires). */
  protected armTimer (): void {
    const at = this.session.nextDeadline?.()
    if (at === undefined || at >= this.timerAt || this.ended) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(this.onTimer, Math.max(0, at - performance.now()) + 1)
    this.timer.unref?.()
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    this.session.tick?.()
    this.armTimer()
  }

  private stopTimer (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = -Infinity // never re-arm
  }
}
