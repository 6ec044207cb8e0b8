/**
 * Inbound streams: the mounted protocols and the path from a muxer's new stream to a handler.
 *
 *   1. limit: more than `maxInboundStreamsPerConnection` open inbound streams → reset;
 *   2. multistream-select against the mounted codecs, bounded by `streamNegotiationTimeoutMs` and
 *      `maxNegotiationMessageBytes` (a longer proposal is refused at its prefix);
 *   3. `maxIncomingStreams` of the protocol (nim's per-protocol limit) → reset;
 *   4. the handler runs; if it throws, that stream is reset and the error reported.
 *
 * Every failure resets that one stream and is reported through `report` (the switch's
 * `protocol:error` event); the connection and every other stream go on.
 */
import type { Stream } from '../connection.js'
import { SwitchError, toError } from '../errors.js'
import { handleOnStream } from '../multistream/negotiate.js'
import type { SwitchConfig } from './config.js'
import type { SwitchEvents } from './events.js'
import type { PeerConnection } from './peer-connection.js'
import { checkCodecs } from './protocol.js'
import type { ProtocolDefinition, StreamHandler } from './protocol.js'
import type { SwitchStream } from './stream.js'

/** The protocols a switch serves, by codec, in mount order. */
export class ProtocolRegistry {
  private readonly byCodec = new Map<string, ProtocolDefinition>()
  private list: string[] | undefined

  /** `maxMessageBytes`: the switch's `maxNegotiationMessageBytes`; a longer codec could never be chosen. */
  constructor (private readonly maxMessageBytes?: number) {}

  /** Serve `protocol.codecs` with `protocol.handler` (a later mount of a codec replaces the earlier). */
  mount (protocol: ProtocolDefinition): void {
    if (typeof protocol !== 'object' || protocol === null) {
      throw new TypeError(`"protocol" expected { codecs, handler }, got ${String(protocol)}`)
    }
    checkCodecs(protocol.codecs, this.maxMessageBytes)
    if (typeof protocol.handler !== 'function') {
      throw new TypeError(`"protocol.handler" expected a function, got ${typeof protocol.handler}`)
    }
    for (const codec of protocol.codecs) this.byCodec.set(codec, protocol)
    this.list = undefined
  }

  unmount (codec: string): boolean {
    this.list = undefined
    return this.byCodec.delete(codec)
  }

  get (codec: string): ProtocolDefinition | undefined { return this.byCodec.get(codec) }

  /** The codecs, in mount order (cached: this is the listener's list for every inbound stream). */
  codecs (): readonly string[] {
    this.list ??= [...this.byCodec.keys()]
    return this.list
  }
}

export interface DispatcherHost {
  readonly config: SwitchConfig
  readonly registry: ProtocolRegistry
  report: (ev: SwitchEvents['protocol:error']) => void
}

export class Dispatcher {
  private readonly host: DispatcherHost

  constructor (host: DispatcherHost) {
    this.host = host
  }

  /** A new inbound stream on `conn` (called by the connection for every stream the peer opens). */
  inbound (conn: PeerConnection, inner: Stream): void {
    const limit = this.host.config.maxInboundStreamsPerConnection
    // The count is a scan: only done once the connection holds more streams than the limit at all.
    if (conn.streamCount > limit && conn.countStreams('inbound') > limit) {
      const err = new SwitchError(
        'ERR_TOO_MANY_STREAMS',
        `${conn.toString()}: "maxInboundStreamsPerConnection" expected <= ${limit} open inbound streams, got ${
          conn.countStreams('inbound')
        }: stream ${inner.id} reset`
      )
      inner.reset(err)
      this.host.report({ connection: conn, streamId: inner.id, protocol: undefined, stage: 'limit', error: err })
      return
    }
    void this.serve(conn, conn.wrap(inner))
  }

  private async serve (conn: PeerConnection, stream: SwitchStream): Promise<void> {
    const { config, registry, report } = this.host
    let protocol: string
    try {
      // no observer: the tracer reads the negotiation from the stream's bytes (trace/tracer.ts)
      protocol = (await handleOnStream(stream.inner, registry.codecs(), {
        timeoutMs: config.streamNegotiationTimeoutMs,
        maxMessageBytes: config.maxNegotiationMessageBytes
      })).protocol
    } catch (err) {
      stream.reset(toError(err))
      report({ connection: conn, streamId: stream.id, protocol: undefined, stage: 'negotiation', error: toError(err) })
      return
    }
    const definition = registry.get(protocol)
    if (definition === undefined) {
      const err = new SwitchError(
        'ERR_PROTOCOL_NOT_SUPPORTED',
        `${conn.toString()}: protocol ${protocol} was unmounted during negotiation`
      )
      stream.reset(err)
      report({ connection: conn, streamId: stream.id, protocol, stage: 'negotiation', error: err })
      return
    }
    // The running count lives on the connection (PeerConnection.handlerStarted).
    const max = definition.maxIncomingStreams
    if (max !== undefined && !conn.handlerStarted(protocol, max)) {
      const err = new SwitchError(
        'ERR_TOO_MANY_STREAMS',
        `${conn.toString()}: "maxIncomingStreams" of ${protocol} expected <= ${max} running handlers, got one more: stream ${stream.id} reset`
      )
      stream.reset(err)
      report({ connection: conn, streamId: stream.id, protocol, stage: 'limit', error: err })
      return
    }
    this.run(conn, stream, protocol, definition.handler, max)
  }

  /**
   * Step 4, without an `async` frame: `serve` has returned once the handler runs, so an open stream
   * holds one promise reaction here (~0.27 KiB) instead of a suspended frame awaiting the handler
   * (~0.55 KiB; issue #15). A synchronous throw is handled as a rejection, as `await` did.
   */
  private run (
    conn: PeerConnection,
    stream: SwitchStream,
    protocol: string,
    handler: StreamHandler,
    max: number | undefined
  ): void {
    let running: void | Promise<void>
    try {
      running = handler(stream, protocol, conn.context)
    } catch (err) {
      running = Promise.reject(err)
    }
    const done = (): void => { if (max !== undefined) conn.handlerDone(protocol) }
    const failed = (err: unknown): void => {
      const error = err instanceof Error
        ? err
        : new SwitchError('ERR_HANDLER', `handler of ${protocol} threw ${String(err)}`)
      stream.reset(error)
      this.host.report({ connection: conn, streamId: stream.id, protocol, stage: 'handler', error })
      done()
    }
    void Promise.resolve(running).then(done, failed)
  }
}
