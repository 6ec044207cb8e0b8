/**
 * mplex over a `ByteConnection`: the sans-I/O `MplexSession` bound by the shared adapter
 * (../adapter.ts: connection, flush policy, streams). Writes and backpressure are the session's
 * (`trySend`: mplex itself has none, so a stream write is taken only while the connection is below
 * its high-water mark and the outbox below `writeHighWaterBytes`; otherwise the stream waits to be
 * woken after the next flush or drain).
 *
 * Closing. `close()` half-closes every stream (queued writes first), flushes, closes the connection.
 * `abort(err)` and protocol errors reset every stream at once and abort the connection. When the
 * peer ends or drops the connection, streams it had already closed keep their unread data (reads
 * reach a clean EOF, only later writes fail); every other stream is reset.
 */
import { MplexError, StreamResetError, TransportError, toError } from '../../errors.js'
import { MuxerAdapter } from '../adapter.js'
import type { MuxedStream } from '../stream.js'
import { MPLEX_PROTOCOL_ID } from './constants.js'
import { keyStreamId, MplexSession, mplexConfig } from './session.js'
import type { ByteConnection, StreamMuxerFactory } from '../../connection.js'
import type { MplexConfig } from './session.js'
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

export class MplexMuxer extends MuxerAdapter {
  readonly protocol = MPLEX_PROTOCOL_ID
  readonly initiator: boolean
  readonly config: MplexConfig
  protected readonly session: MplexSession
  private state = State.Open
  /** Why the connection went away; later writes of streams that outlived it fail with this. */
  private lostError: Error | undefined

  constructor (conn: ByteConnection, opts: MplexOptions) {
    super(conn, {
      send: (key, data, stream) => this.trySend(key, data, stream),
      closeWrite: (key) => { this.session.closeWrite(key) },
      reset: (key) => { this.session.reset(key) },
      consumed: (key, n) => { this.session.consumed(key, n) }
    })
    this.initiator = opts.initiator
    this.config = mplexConfig(opts.config)
    const handler = { streams: this.table, onOutboxReady: this.scheduleFlush }
    this.session = new MplexSession(this.config, handler, opts.observer, opts.resources)
    this.start(opts.initialBytes)
  }

  newStream (): MuxedStream {
    if (this.state !== State.Open) throw new MplexError('ERR_MUXER_CLOSED', 'cannot open a stream: mplex is closed')
    const key = this.session.openStream()
    return this.table.add(key, keyStreamId(key), 'outbound')
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
    await Promise.all([...this.table.streams.values()].map(async s => { await s.closeWrite().catch(() => {}) }))
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

  protected connectionEnded (): void {
    // The peer ended its direction: like go, js and nim we treat the connection as finished
    // (peers do not half-close TCP and then expect replies). What we already queued still goes out.
    if (this.state === State.Closed) return
    const why = this.session.midFrame ? ' inside a frame' : ''
    this.flush()
    this.finish(undefined, new TransportError('ERR_CONNECTION_CLOSED', `mplex: the peer ended the connection${why}`))
    void this.conn.close().catch(() => {})
  }

  protected connectionClosed (err: Error | undefined): void {
    const streamErr = err ?? (this.state === State.Closing
      ? new MplexError('ERR_MUXER_CLOSED', 'mplex closed locally')
      : new TransportError('ERR_CONNECTION_CLOSED', 'mplex: the connection closed'))
    this.finish(err, streamErr)
  }

  /** A connection-level protocol violation: reset everything, abort the connection. */
  protected protocolError (err: Error): void {
    this.abort(err)
  }

  protected writeFailed (err: Error): void {
    // The connection was closed under us (its onClose follows or already ran).
    this.finish(err, new TransportError('ERR_CONNECTION_CLOSED', 'mplex: write on a closed connection', { cause: err }))
  }

  /** The connection is gone: release every stream (see session `connectionLost`) and report once. */
  private finish (err: Error | undefined, streamErr: Error): void {
    if (this.state === State.Closed) return
    this.state = State.Closed
    this.lostError = streamErr
    const survivors = [...this.table.streams.values()]
    this.session.connectionLost(streamErr)
    // Streams released without a reset (the peer had closed them) may have a write waiting for
    // room that will never come: wake it, so that it fails (trySend on a released stream).
    for (const s of survivors) if (!s.isReset) s.notifyWritable()
    this.fireClose(err)
  }

  /** StreamOps.send for stream `key`: what the session may take now (session `trySend`). */
  private trySend (key: number, data: Uint8Array, stream: MuxedStream): number {
    if (!this.session.has(key)) {
      // Only a stream that outlived its connection gets here (every other removal ends the stream's
      // write side first). Fail the write from outside this call: re-entering the stream here would
      // leave the write it is about to block on unsettled.
      const err = this.lostError
      queueMicrotask(() => {
        stream.pushReset(new StreamResetError(`stream ${keyStreamId(key)}: the connection is gone`, { cause: err }))
      })
      return 0
    }
    return this.session.trySend(key, data)
  }
}
