/**
 * What the application protocols need from the switch, and the shape the switch mounts
 * (nim-libp2p `LPProtocol(codecs, handler)`, protocols/protocol.nim). Kept free of every other
 * layer's types: bytes in, bytes out, so protocols can be tested over in-memory streams.
 */
import type { ProtocolContext, Stream } from '../connection.js'

export type { LocalPeerInfo, ProtocolContext } from '../connection.js'

/**
 * Serves one inbound stream whose protocol multistream-select already negotiated. The handler owns
 * the stream: it closes it when done and resets it (then rethrows) when the peer misbehaves.
 */
export type ProtocolHandler = (stream: Stream, protocol: string, ctx: ProtocolContext) => Promise<void>

/** A mountable protocol: the ids it answers to and its handler. */
export interface ProtocolDefinition {
  readonly codecs: readonly string[]
  readonly handler: ProtocolHandler
  /**
   * Inbound streams of this protocol one connection may run at once; the switch resets the excess. Default: no
   * per-protocol limit.
   */
  readonly maxIncomingStreams?: number
  /**
   * Outbound streams of this protocol one connection may have open at once; `newStream` past it throws. Default: none.
   */
  readonly maxOutgoingStreams?: number
}
