/**
 * yamux over a `ByteConnection`: the sans-I/O `Session` (session.ts, everything protocol-related)
 * bound by the shared adapter (adapter.ts: connection, flush policy, timer, streams). What is
 * yamux's own here: the session's keepalive/RTT clock, and close semantics — `close()` sends
 * GoAway(normal), resets what is still open and closes the connection once the GoAway is written;
 * the end of the session (ours, the peer's GoAway, a protocol error, the connection lost) flushes
 * what is queued (the GoAway) and closes the connection gracefully unless we are aborting.
 */
import type { ByteConnection, StreamMuxer, StreamMuxerFactory } from '../connection.js'
import { YamuxError } from '../errors.js'
import { YAMUX_PROTOCOL_ID } from './constants.js'
import { yamuxConfig } from './config.js'
import type { YamuxConfig } from './config.js'
import { Session } from './session.js'
import { MuxerAdapter } from './adapter.js'
import type { TraceObserver } from '../trace/observer.js'
import type { ResourceScope } from '../resources/scope.js'
import type { MuxedStream } from './stream.js'

export interface YamuxOptions {
  /** true if we dialed the connection (odd stream ids). */
  initiator: boolean
  config?: Partial<YamuxConfig>
  /** Bytes already read past the multistream negotiation; decoded before anything else. */
  initialBytes?: Uint8Array[]
  /** Tracing hook (yamux frames, stream data); absent = no cost. */
  observer?: TraceObserver
  /** The connection's resource scope: receive buffers, grown windows and streams are charged to it (src/resources). */
  resources?: ResourceScope
}

const clock = (): number => performance.now()

class YamuxMuxer extends MuxerAdapter {
  readonly protocol = YAMUX_PROTOCOL_ID
  protected readonly session: Session
  private aborting = false
  private closePromise: Promise<void> | undefined

  constructor (conn: ByteConnection, opts: YamuxOptions) {
    super(conn, {
      send: (id, data) => this.session.send(id, data),
      closeWrite: (id) => { this.session.closeWrite(id) },
      reset: (id) => { this.session.reset(id) },
      consumed: (id, n) => { this.session.consumed(id, n) }
    })
    this.session = new Session({
      initiator: opts.initiator,
      config: opts.config,
      now: clock,
      observer: opts.observer,
      resources: opts.resources,
      host: {
        onOutput: this.scheduleFlush,
        onClose: (err) => { this.sessionClosed(err) },
        streams: this.table
      }
    })
    this.start(opts.initialBytes)
  }

  /** The session, for tests and tracing (RTT, window totals). */
  get yamux (): Session { return this.session }

  newStream (): MuxedStream {
    const id = this.session.openStream()
    return this.table.add(id, id, 'outbound')
  }

  /** GoAway(normal) once: new streams are refused both ways, open ones finish (session.ts `goAway`). */
  goAway (): void {
    this.session.goAway()
  }

  close (): Promise<void> {
    if (this.closePromise === undefined) {
      this.session.close()
      this.closePromise = this.conn.closed ? Promise.resolve() : this.conn.close()
    }
    return this.closePromise
  }

  abort (err?: Error): void {
    this.aborting = true
    this.session.abort(err)
    if (!this.conn.closed) this.conn.abort(err)
  }

  protected connectionEnded (): void {
    this.session.connectionEnded()
  }

  protected connectionClosed (err: Error | undefined): void {
    // After our own close the session has ended already: no error object on a normal close.
    if (this.session.closed) return
    this.session.connectionEnded(err ?? new YamuxError('ERR_MUXER_CLOSED', 'connection closed'))
  }

  /** Never reached: the session turns violations into GoAway and its own end. */
  protected protocolError (err: Error): void { this.session.abort(err) }
  protected writeFailed (err: Error): void { this.session.abort(err) }

  private sessionClosed (err: Error | undefined): void {
    if (!this.aborting && !this.conn.closed) {
      // GoAway (if any) and queued frames first, then a graceful close of the connection.
      const chunks = this.session.takeOutbox()
      try {
        if (chunks.length > 0) this.conn.write(chunks)
      } catch {}
      if (this.closePromise === undefined) this.closePromise = this.conn.close()
    }
    this.fireClose(err)
  }
}

/** Run yamux over `conn`. The returned muxer speaks `/yamux/1.0.0`. */
export function createYamux (conn: ByteConnection, opts: YamuxOptions): StreamMuxer {
  return new YamuxMuxer(conn, opts)
}

/**
 * yamux as a StreamMuxerFactory (src/connection.ts), the shape the switch composes. `config` is
 * validated here, at once (SwitchyardError ERR_INVALID_CONFIG naming the field), not at the first
 * connection; the switch's stream limits fill in the fields it leaves unset.
 */
export function yamux (config: Partial<YamuxConfig> = {}): StreamMuxerFactory {
  yamuxConfig(config)
  const own = { ...config }
  return {
    protocol: YAMUX_PROTOCOL_ID,
    create: (conn, o) =>
      createYamux(conn, {
        resources: o.resources,
        initiator: o.initiator,
        config: o.limits === undefined
          ? own
          : { maxInboundStreams: o.limits.maxInboundStreams, maxOutboundStreams: o.limits.maxOutboundStreams, ...own },
        ...(o.initialBytes !== undefined ? { initialBytes: [...o.initialBytes] } : {}),
        ...(o.observer !== undefined ? { observer: o.observer } : {})
      })
  }
}

export { YAMUX_PROTOCOL_ID }
