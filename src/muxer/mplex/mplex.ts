/**
 * The mplex adapter: binds an `MplexSession` (sans-I/O) to a `ByteConnection` and hands out
 * `MuxedStream`s (src/muxer/stream.ts, shared with yamux). It owns the three things the session
 * must not: the connection, the write schedule, and backpressure.
 *
 * Writes. Frames collect in the session's outbox and go out as one `conn.write(chunks)` per tick:
 * the flush is scheduled with `process.nextTick` when the first frame enters an empty outbox, so it
 * runs after the current callback and every promise continuation it triggers (a loop of
 * `await stream.write()` fills one batch), not after each frame (ws lib/sender.js cork/uncork; js-libp2p#1491 measured small writes).
 *
 * Backpressure (mplex itself has none, mplex README §Implementation notes). A stream write is taken
 * (framed into the outbox) only while
 *   - the connection is not above its high-water mark (`conn.write` returned false → wait for
 *     `onDrain`), and
 *   - the outbox holds less than `writeHighWaterBytes`;
 * otherwise the stream waits and is woken with `notifyWritable()` after the next flush or drain, so
 * `await stream.write()` resolves only once its bytes are in a batch the connection accepted.
 *
 * Closing. `close()` half-closes every stream (queued writes first), flushes, closes the connection.
 * `abort(err)` and protocol errors reset every stream at once and abort the connection. When the
 * peer ends or drops the connection, streams it had already closed keep their unread data (reads
 * reach a clean EOF, only later writes fail); every other stream is reset.
 */
import { MplexError, StreamResetError, TransportError, toError } from '../../errors.js'
import { MuxedStream } from '../stream.js'
import { MPLEX_PROTOCOL_ID } from './constants.js'
import { keyStreamId, MplexSession, mplexConfig } from './session.js'
import type { ByteConnection, ByteSink, Stream, StreamMuxer, StreamMuxerFactory } from '../../connection.js'
import type { StreamTransport } from '../stream.js'
import type { MplexConfig, MplexSessionHandler } from './session.js'
import type { TraceObserver } from '../../trace/observer.js'
import type { ResourceScope } from '../../resources/scope.js'

export interface MplexOptions {
  /**
   * We dialed the connection (the Noise initiator). Recorded only: mplex peers number their
   * streams independently and every frame's flag says whose id space it uses, so the role does not
   * change the wire (see session.ts).
   */
  initiator: boolean
  config?: Partial<MplexConfig>
  /** Bytes read past the multistream negotiation of the muxer; decoded before anything else. */
  initialBytes?: Uint8Array[]
  /** Frame-level tracing; costs one `undefined` check per frame when absent. */
  observer?: TraceObserver
  /** The connection's resource scope: unread bytes and streams are charged to it (src/resources). */
  resources?: ResourceScope
}

/** Run mplex over `conn`. The connection is attached at once; set `onStream` to accept streams. */
export function createMplex (conn: ByteConnection, opts: MplexOptions): MplexMuxer {
  return new MplexMuxer(conn, opts)
}

/**
 * mplex as a StreamMuxerFactory (src/connection.ts), the shape the switch composes. `config` is
 * validated here, at once (MplexError ERR_INVALID_CONFIG naming the field), not at the first
 * connection; the switch's inbound stream limit fills in `maxInboundStreams` when it is unset
 * (mplex has no outbound limit of its own: the switch counts those).
 */
export function mplex (config: Partial<MplexConfig> = {}): StreamMuxerFactory {
  try {
    mplexConfig(config)
  } catch (err) {
    throw new MplexError('ERR_INVALID_CONFIG', `"mplex config": ${toError(err).message}`, { cause: err })
  }
  const own = { ...config }
  return {
    protocol: MPLEX_PROTOCOL_ID,
    create: (conn, o) => createMplex(conn, {
      resources: o.resources,
      initiator: o.initiator,
      config: o.limits === undefined ? own : { maxInboundStreams: o.limits.maxInboundStreams, ...own },
      ...(o.initialBytes !== undefined ? { initialBytes: [...o.initialBytes] } : {}),
      ...(o.observer !== undefined ? { observer: o.observer } : {})
    })
  }
}

const enum State { Open, Closing, Closed }

export class MplexMuxer implements StreamMuxer {
  readonly protocol = MPLEX_PROTOCOL_ID
  readonly initiator: boolean
  readonly config: MplexConfig
  onClose: ((err?: Error) => void) | undefined

  private readonly conn: ByteConnection
  private readonly session: MplexSession
  /** Keyed by the session's stream key (`id * 2 + (outbound ? 1 : 0)`), not by `Stream.id`: both sides number from 0. */
  private readonly live = new Map<number, MuxedStream>()
  private streamHandler: ((stream: Stream) => void) | undefined
  /** Inbound streams that arrived before `onStream` was set (bounded by `maxInboundStreams`). */
  private early: MuxedStream[] = []
  /** Keys of streams waiting for room to write. */
  private readonly blocked = new Set<number>()
  private state = State.Open
  private flushScheduled = false
  private needsDrain = false
  /** Why the connection went away; later writes of streams that outlived it fail with this. */
  private lostError: Error | undefined

  constructor (conn: ByteConnection, opts: MplexOptions) {
    this.conn = conn
    this.initiator = opts.initiator
    this.config = mplexConfig(opts.config)
    this.session = new MplexSession(this.config, this.sessionHandler, opts.observer, opts.resources)
    for (const chunk of opts.initialBytes ?? []) {
      if (this.state === State.Closed) break
      this.sink.onData(chunk)
    }
    if (this.state !== State.Closed) conn.attach(this.sink)
  }

  /** Live streams by session key (`id * 2 + 1` for streams we opened, `id * 2` for the peer's). */
  get streams (): ReadonlyMap<number, Stream> { return this.live }

  get onStream (): ((stream: Stream) => void) | undefined { return this.streamHandler }
  set onStream (handler: ((stream: Stream) => void) | undefined) {
    this.streamHandler = handler
    if (handler === undefined || this.early.length === 0) return
    const early = this.early
    this.early = []
    for (const s of early) this.deliver(s, handler)
  }

  newStream (): Stream {
    if (this.state !== State.Open) throw new MplexError('ERR_MUXER_CLOSED', 'cannot open a stream: mplex is closed')
    const key = this.session.openStream()
    return this.makeStream(key, 'outbound')
  }

  /** Refuse (reset) every stream the peer opens from now on; open streams go on. */
  goAway (): void {
    this.session.stopAccepting()
  }

  async close (): Promise<void> {
    if (this.state === State.Closing || this.state === State.Closed) return
    this.state = State.Closing
    this.session.stopAccepting()
    // Half-close every stream; each FIN follows that stream's queued writes.
    await Promise.all([...this.live.values()].map(async s => { await s.closeWrite().catch(() => {}) }))
    if (this.state !== State.Closing) return // aborted or lost meanwhile
    this.flush()
    await this.conn.close().catch(() => {})
    this.finish(undefined, new MplexError('ERR_MUXER_CLOSED', 'mplex closed locally'))
  }

  abort (err?: Error): void {
    if (this.state === State.Closed) return
    const cause = err ?? new MplexError('ERR_MUXER_CLOSED', 'mplex aborted locally')
    this.state = State.Closed
    this.lostError = cause
    this.session.abortAll(cause)
    this.conn.abort(err)
    this.fireClose(err)
  }

  // ────────────────────────── connection events ──────────────────────────

  private readonly sink: ByteSink = {
    onData: (chunk) => {
      try {
        this.session.receive(chunk)
      } catch (err) {
        this.fail(err instanceof Error ? err : new MplexError('ERR_MPLEX_PROTOCOL', String(err)))
      }
    },
    onEnd: () => {
      // The peer ended its direction: like go, js and nim we treat the connection as finished
      // (peers do not half-close TCP and then expect replies). What we already queued still goes out.
      if (this.state === State.Closed) return
      const why = this.session.midFrame ? ' inside a frame' : ''
      this.flush()
      this.finish(undefined, new TransportError('ERR_CONNECTION_CLOSED', `mplex: the peer ended the connection${why}`))
      void this.conn.close().catch(() => {})
    },
    onClose: (err) => {
      const streamErr = err ?? (this.state === State.Closing
        ? new MplexError('ERR_MUXER_CLOSED', 'mplex closed locally')
        : new TransportError('ERR_CONNECTION_CLOSED', 'mplex: the connection closed'))
      this.finish(err, streamErr)
    },
    onDrain: () => {
      this.needsDrain = false
      this.wakeBlocked()
    }
  }

  /** A connection-level protocol violation: reset everything, abort the connection. */
  private fail (err: Error): void {
    this.abort(err)
  }

  /** The connection is gone: release every stream (see session `connectionLost`) and report once. */
  private finish (err: Error | undefined, streamErr: Error): void {
    if (this.state === State.Closed) return
    this.state = State.Closed
    this.lostError = streamErr
    const survivors = [...this.live.values()]
    this.session.connectionLost(streamErr)
    // Streams released without a reset (the peer had closed them) may have a write waiting for
    // room that will never come: wake it, so that it fails (trySend on a released stream).
    for (const s of survivors) if (!s.isReset) s.notifyWritable()
    this.fireClose(err)
  }

  private fireClose (err: Error | undefined): void {
    this.blocked.clear()
    this.early = []
    const cb = this.onClose
    if (cb !== undefined) cb(err)
  }

  // ────────────────────────── session events ──────────────────────────

  private readonly sessionHandler: MplexSessionHandler = {
    onStreamOpen: (key) => {
      const stream = this.makeStream(key, 'inbound')
      const handler = this.streamHandler
      if (handler === undefined) this.early.push(stream)
      else this.deliver(stream, handler)
    },
    onStreamData: (key, data) => { this.live.get(key)?.pushData(data) },
    onStreamEnd: (key) => { this.live.get(key)?.pushEnd() },
    onStreamReset: (key, err) => { this.live.get(key)?.pushReset(err) },
    onStreamRemoved: (key) => {
      this.live.delete(key)
      this.blocked.delete(key)
    },
    onOutboxReady: () => {
      if (this.flushScheduled) return
      this.flushScheduled = true
      process.nextTick(this.flushTask)
    }
  }

  private deliver (stream: MuxedStream, handler: (stream: Stream) => void): void {
    try {
      handler(stream)
    } catch (err) {
      stream.reset(err instanceof Error ? err : undefined)
    }
  }

  private makeStream (key: number, direction: 'inbound' | 'outbound'): MuxedStream {
    const session = this.session
    const transport: StreamTransport = {
      trySend: (data) => this.trySend(key, stream, data),
      sendFin: () => { session.closeWrite(key) },
      sendReset: () => { session.reset(key) },
      onConsumed: (n) => { session.consumed(key, n) }
    }
    const stream: MuxedStream = new MuxedStream({ id: keyStreamId(key), direction, transport })
    this.live.set(key, stream)
    return stream
  }

  // ────────────────────────── writing ──────────────────────────

  /** StreamTransport.trySend for stream `key`: frame what may be sent now (see the module comment). */
  private trySend (key: number, stream: MuxedStream, data: Uint8Array): number {
    if (!this.session.has(key)) {
      // Only a stream that outlived its connection gets here (every other removal ends the stream's
      // write side first). Fail the write from outside this call: re-entering the stream here would
      // leave the write it is about to block on unsettled.
      const err = this.lostError
      queueMicrotask(() => { stream.pushReset(new StreamResetError(`stream ${keyStreamId(key)}: the connection is gone`, { cause: err })) })
      return 0
    }
    const queued = this.session.outboxBytes
    const high = this.config.writeHighWaterBytes
    if (this.needsDrain || queued >= high) {
      this.blocked.add(key)
      return 0
    }
    // Take what fits under the high-water mark, but at least one full frame so progress is steady.
    const n = Math.min(data.length, Math.max(high - queued, this.config.maxFramePayloadBytes))
    this.session.send(key, n === data.length ? data : data.subarray(0, n))
    if (n < data.length) this.blocked.add(key)
    return n
  }

  /** Bound once: scheduled with `process.nextTick`. */
  private readonly flushTask = (): void => {
    this.flushScheduled = false
    this.flush()
  }

  private flush (): void {
    if (this.state === State.Closed || this.session.outboxBytes === 0) return
    const chunks = this.session.takeOutbox()
    let accepted: boolean
    try {
      accepted = this.conn.write(chunks)
    } catch (err) {
      // The connection was closed under us (its onClose follows or already ran).
      this.finish(toError(err), new TransportError('ERR_CONNECTION_CLOSED', 'mplex: write on a closed connection', { cause: err }))
      return
    }
    if (!accepted) {
      this.needsDrain = true
      return
    }
    this.wakeBlocked()
  }

  private wakeBlocked (): void {
    if (this.blocked.size === 0 || this.needsDrain) return
    // Snapshot: a woken stream that is still short of room re-registers for the next round.
    const keys = [...this.blocked]
    this.blocked.clear()
    for (const key of keys) this.live.get(key)?.notifyWritable()
  }
}
