/**
 * What the application protocols need from the switch, and the shape the switch mounts
 * (nim-libp2p `LPProtocol(codecs, handler)`, protocols/protocol.nim). Kept free of every other
 * layer's types: bytes in, bytes out, so protocols can be tested over in-memory streams.
 */
import type { Stream } from '../connection.js'
import type { IdentifyMessage } from '../proto/identify.js'

/** What identify tells peers about us. The switch keeps it current (listen addresses appear after `start`). */
export interface LocalPeerInfo {
  /** Our `PublicKey` protobuf (peer-ids spec §Keys), e.g. `08 01 12 20 <ed25519 key>`. */
  readonly publicKey: Uint8Array
  /** Binary multiaddrs we listen on, without `/p2p/<id>`. */
  readonly listenAddrs: readonly Uint8Array[]
  /** Protocol ids we accept inbound streams for (the switch's mounted codecs). */
  readonly protocols: () => string[]
  /** identify `agentVersion`, e.g. `switchyard/0.1.0` (constants `AGENT_VERSION`). */
  readonly agentVersion: string
  /** identify `protocolVersion`, `ipfs/0.1.0` (constants `IDENTIFY_PROTOCOL_VERSION`). */
  readonly protocolVersion: string
  /**
   * Our signed peer record (RFC 0003 envelope over `listenAddrs`), sent as identify field 8 as
   * go-libp2p and js-libp2p do. Absent: none is sent.
   */
  readonly signedPeerRecord?: () => Uint8Array | undefined
}

/** Per-stream context the switch hands every handler. */
export interface ProtocolContext {
  readonly localPeer: LocalPeerInfo
  /** Binary multiaddr of the remote end of this connection (identify `observedAddr`). */
  readonly remoteAddr?: Uint8Array
  /** One line of human-readable output (the tutorial's `echo`), e.g. `console.log` or a test buffer. */
  readonly log: (line: string) => void
  /** Receives the merged update of each identify-push from this connection's peer. */
  readonly onIdentifyPush?: (update: IdentifyMessage) => void
}

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
