/**
 * What the switch mounts: a protocol's ids and the handler of its inbound streams, in the shape of
 * nim-libp2p `protocols/protocol.nim` (`LPProtocol(codecs, handler)`), so the
 * tutorial's `T(codecs: @[codec], handler: handle)` reads as `new LPProtocol({ codecs: [codec], handler })`.
 * The handlers of src/protocols (typed over the plain `Stream`) mount as they are.
 */
import { MAX_MESSAGE_LENGTH } from '../multistream/constants.js'
import type { ProtocolContext } from '../connection.js'
import type { SwitchStream } from './stream.js'

export type { LocalPeerInfo } from '../connection.js'

/** What every handler gets besides its stream (the seam's `ProtocolContext`, under the switch's name). */
export type HandlerContext = ProtocolContext

/**
 * Serves one inbound stream whose protocol multistream-select already negotiated. The handler owns
 * the stream and should close it when done. If it throws (or rejects), the switch resets that
 * stream only and reports the error (event `protocol:error`); the connection and the switch go on.
 */
export type StreamHandler = (stream: SwitchStream, protocol: string, ctx: HandlerContext) => void | Promise<void>

/** Anything mountable: the ids it answers to and its handler. */
export interface ProtocolDefinition {
  readonly codecs: readonly string[]
  readonly handler: StreamHandler
  /**
   * Inbound streams of this protocol one connection may run at once (nim `maxIncomingStreams`,
   * default 10 there); the stream past it is reset. Default: only the per-connection limit applies.
   */
  readonly maxIncomingStreams?: number
  /**
   * Outbound streams of this protocol one connection may have open at once (nim `maxOutgoingStreams`);
   * `newStream` past it throws ERR_TOO_MANY_STREAMS (before opening anything when it asks for this
   * protocol alone; otherwise the negotiated stream is reset). Default: only the per-connection limit.
   */
  readonly maxOutgoingStreams?: number
}

export interface LPProtocolInit {
  codecs: readonly string[]
  handler: StreamHandler
  maxIncomingStreams?: number
  maxOutgoingStreams?: number
}

/**
 * nim-libp2p's `LPProtocol`. Use it directly or extend it:
 *
 * ```ts
 * class TestStreamProto extends LPProtocol {
 *   constructor () { super({ codecs: [TestStreamCodec], handler: async (conn, proto) => { … } }) }
 * }
 * ```
 */
export class LPProtocol implements ProtocolDefinition {
  readonly codecs: readonly string[]
  readonly handler: StreamHandler
  readonly maxIncomingStreams: number | undefined
  readonly maxOutgoingStreams: number | undefined

  constructor (init: LPProtocolInit) {
    if (typeof init !== 'object' || init === null) { throw new TypeError(`"LPProtocol init" expected { codecs, handler }, got ${String(init)}`) }
    checkCodecs(init.codecs)
    if (typeof init.handler !== 'function') { throw new TypeError(`"LPProtocol handler" expected a function, got ${typeof init.handler}`) }
    for (const key of ['maxIncomingStreams', 'maxOutgoingStreams'] as const) {
      const v = init[key]
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) { throw new RangeError(`"LPProtocol ${key}" expected a positive integer, got ${v}`) }
    }
    this.codecs = Object.freeze([...init.codecs])
    this.handler = init.handler
    this.maxIncomingStreams = init.maxIncomingStreams
    this.maxOutgoingStreams = init.maxOutgoingStreams
  }
}

const utf8 = new TextEncoder()

/**
 * A protocol id must be something multistream can carry and every implementation accepts:
 * non-empty, starting with `/` (rust rejects others), no newline, at most MAX_MESSAGE_LENGTH bytes
 * with its newline (go-multistream, js-libp2p and nim-libp2p refuse longer messages). A switch with a lower
 * `maxNegotiationMessageBytes` passes it
 * as `maxMessageBytes`: a longer id could never be proposed to it.
 */
export function checkCodecs (
  codecs: unknown,
  maxMessageBytes = MAX_MESSAGE_LENGTH
): asserts codecs is readonly string[] {
  if (!Array.isArray(codecs) || codecs.length === 0) {
    throw new TypeError(
      `"codecs" expected a non-empty array of protocol ids, got ${Array.isArray(codecs) ? '[]' : typeof codecs}`
    )
  }
  for (const c of codecs as unknown[]) checkProtocolId(c, maxMessageBytes)
}

export function checkProtocolId (id: unknown, maxMessageBytes = MAX_MESSAGE_LENGTH): asserts id is string {
  if (typeof id !== 'string' || !id.startsWith('/') || id.includes('\n')) {
    throw new TypeError(
      `"protocol id" expected a string starting with "/" and without newline, got ${JSON.stringify(id)}`
    )
  }
  const len = utf8.encode(id).length + 1
  if (len > maxMessageBytes) {
    const why = maxMessageBytes < MAX_MESSAGE_LENGTH
      ? ` (maxNegotiationMessageBytes ${maxMessageBytes} counts the newline)`
      : ''
    throw new RangeError(
      `"protocol id length" expected <= ${maxMessageBytes - 1} bytes${why}, got ${len - 1} for ${
        JSON.stringify(id.slice(0, 32))
      }…`
    )
  }
}
