/**
 * The two byte-carrying shapes every layer speaks. Types only: no layer imports another layer's
 * implementation, they meet here.
 *
 * - `ByteConnection` is push-based and sits under the muxer: a TCP socket, or the Noise channel
 *   wrapped around one. Bytes are delivered synchronously to one attached `ByteSink`, so a decoder
 *   can parse every frame of a chunk in one synchronous loop (no promise per frame).
 * - `Stream` is pull-based and is what applications hold: one muxed stream (yamux or mplex), with
 *   the nim-libp2p tutorial's `readLp`/`writeLp`.
 */
import type { IdentifyMessage } from './proto/identify.js'
import type { ResourceScope } from './resources/scope.js'
import type { PrivateKey, PublicKey } from './security/keys.js'
import type { PeerId } from './security/peer-id.js'
import type { TraceObserver } from './trace/observer.js'
import type { Multiaddr } from './transport/multiaddr.js'

/** Receives what arrives on a `ByteConnection`. Called synchronously from the socket's event. */
export interface ByteSink {
  /**
   * A chunk arrived. The sink owns `chunk` from here on (the producer never reuses its memory),
   * so it may keep views into it without copying — unless the sink set `borrowsChunks`.
   */
  onData: (chunk: Uint8Array) => void
  /**
   * The sink keeps no reference to a chunk once `onData` returns (it copies what it must keep).
   * A producer may then pass views into memory it reuses for the next read (the TCP transport reads
   * every such connection into one shared buffer: no 64 KiB allocation per socket read). Absent or
   * false: the sink owns each chunk, as above.
   */
  readonly borrowsChunks?: boolean
  /** The remote half-closed: no more data will arrive. We may still write. */
  onEnd: () => void
  /**
   * The connection is gone in both directions. `err` is set when it ended abnormally
   * (reset, socket error, protocol violation of a lower layer). Called exactly once.
   */
  onClose: (err?: Error) => void
  /** The write buffer fell below the high-water mark after `write` returned false. */
  onDrain?: () => void
}

export interface ByteConnection {
  /** Remote address as a multiaddr string, e.g. `/ip4/127.0.0.1/tcp/4001`. */
  readonly remoteAddr: string
  /** Local address as a multiaddr string. */
  readonly localAddr: string
  /** 'outbound' if we dialed, 'inbound' if we accepted. */
  readonly direction: 'inbound' | 'outbound'

  /**
   * Route incoming bytes to `sink`, replacing any previous sink. Bytes that arrived while no sink was
   * attached are delivered first, in order, before this call returns.
   * Attaching a sink resumes reading if no sink was attached.
   */
  attach: (sink: ByteSink) => void
  /** Stop routing bytes to any sink; later bytes are buffered (and reading pauses) until the next `attach`. */
  detach: () => void

  /**
   * Send `chunks` as one batch (one socket write where possible). Returns false when the write buffer
   * is above its high-water mark: the caller should wait for `onDrain` before writing more.
   * Throws StreamClosedError after closeWrite/close.
   */
  write: (chunks: readonly Uint8Array[]) => boolean
  /** Bytes handed to `write` and not yet passed to the kernel. */
  readonly writableLength: number

  /** Stop reading from the peer (TCP backpressure) until `resume`. */
  pause: () => void
  resume: () => void

  /** Half-close: flush what was written, then end our direction. Reading continues. */
  closeWrite: () => void
  /** Graceful close of both directions: flush, end, and release the socket. Resolves when closed. */
  close: () => Promise<void>
  /** Tear down at once (TCP RST where possible). The sink's onClose receives `err`. */
  abort: (err?: Error) => void
  readonly closed: boolean
}

/** One muxed stream, as applications see it. */
export interface Stream {
  /** Muxer-assigned stream id (unique within the connection and direction). */
  readonly id: number
  readonly direction: 'inbound' | 'outbound'
  /** The negotiated protocol id, set once multistream-select has finished on this stream. */
  protocol: string

  /**
   * Next chunk of bytes, or `null` at the end of the stream (remote FIN and nothing buffered).
   * Rejects with StreamResetError after a reset.
   */
  read: () => Promise<Uint8Array | null>
  /** Exactly `n` bytes; EndOfStreamError if the stream ends first. */
  readExactly: (n: number) => Promise<Uint8Array>
  /**
   * One unsigned-varint length-prefixed message of at most `maxSize` bytes.
   * EndOfStreamError at a clean end of stream before the prefix; CodecError for a bad or oversize prefix.
   */
  readLp: (maxSize: number) => Promise<Uint8Array>
  /** Put bytes back at the front of the read buffer (used to hand over bytes read past a negotiation). */
  unread: (chunk: Uint8Array) => void

  /** Resolves once the bytes fit the send window (backpressure); rejects if the stream is reset/closed. */
  write: (data: Uint8Array) => Promise<void>
  /** Write `uvarint(len) ‖ data`; strings are UTF-8 encoded. */
  writeLp: (data: Uint8Array | string) => Promise<void>

  /** Half-close our direction (FIN); reading continues. */
  closeWrite: () => Promise<void>
  /** Close both directions gracefully: FIN, and stop reading (unread data is discarded). */
  close: () => Promise<void>
  /** Abort both directions at once (RST). Pending reads and writes fail with StreamResetError. */
  reset: (err?: Error) => void

  /** Chunks until the end of the stream. */
  [Symbol.asyncIterator]: () => AsyncIterator<Uint8Array>
}

/** What a muxer gives the switch. */
export interface StreamMuxer {
  /** The multistream protocol id of this muxer, e.g. `/yamux/1.0.0`. */
  readonly protocol: string
  /** Open a new outbound stream. Does not wait for the peer's ACK. */
  newStream: () => Stream
  /** Called for each inbound stream the peer opens. */
  onStream: ((stream: Stream) => void) | undefined
  /** Called once when the muxer is gone (GoAway, connection loss, protocol error). */
  onClose: ((err?: Error) => void) | undefined
  readonly streams: ReadonlyMap<number, Stream>
  /**
   * Accept no new streams from now on while the open ones go on (yamux: GoAway(normal) on the wire,
   * later SYNs answered with RST, `newStream` refused; mplex: inbound NewStream reset, nothing
   * announced). Idempotent; a later `close()` announces nothing twice. Whether a peer lets its open
   * streams finish after a yamux GoAway is up to it (go does; js, rust and nim end the session), so
   * the switch calls this before draining only when `earlyGoAway` asks it to.
   */
  goAway: () => void
  /** Graceful close (yamux: GoAway normal), then close the connection. */
  close: () => Promise<void>
  /** Immediate teardown; every stream is reset with `err`. */
  abort: (err?: Error) => void
}

// ── The seams: one per kind of layer (transport, security, muxer) ────────────────────────────────
// The switch composes lists of these in preference order and never names a concrete one; a new
// protocol is a new folder and one registration. Shapes after go-libp2p `core/transport`
// (`Transport{CanDial, Dial, Listen}`, `CapableConn` for QUIC) and `core/sec` (`SecureTransport`).

/**
 * The switch's stream limits, handed to each muxer it creates: a muxer applies them where its own
 * configuration leaves the field unset (what the caller configured on the factory wins).
 */
export interface StreamLimits {
  /** Inbound streams open at once; the muxer refuses (resets) the one past it. */
  readonly maxInboundStreams: number
  /** Outbound streams open at once; `newStream` past it throws ERR_TOO_MANY_STREAMS. */
  readonly maxOutboundStreams: number
}

/** Creates a muxer over a secured connection (yamux, mplex). */
export interface StreamMuxerFactory {
  /** Multistream protocol id, e.g. `/yamux/1.0.0`; also the ALPN / Noise-extension token. */
  readonly protocol: string
  create: (
    conn: ByteConnection,
    opts: {
      initiator: boolean,
      initialBytes?: readonly Uint8Array[],
      observer?: TraceObserver,
      limits?: StreamLimits,
      resources?: ResourceScope
    }
  ) => StreamMuxer
}

/** Options handed to a security protocol for one connection. */
export interface SecureConnectionOptions {
  /** Our libp2p identity (host key). */
  identity: PrivateKey
  /** Outbound only: the peer we expect (from `/p2p/<id>`); a different one → ERR_PEER_ID_MISMATCH. */
  expectedPeer?: PeerId
  /** Muxer ids to offer for early negotiation (Noise extensions, TLS ALPN), in preference order; `[]` = none. */
  muxers: readonly string[]
  /** Deadline for the handshake. */
  handshakeTimeoutMs: number
  /** Bytes read past the security negotiation (multistream leftover); fed first. */
  initialBytes?: readonly Uint8Array[]
  observer?: TraceObserver
  /**
   * Key log sink: receives key log lines (`SWITCHYARD_NOISE …` for Noise, NSS key log lines such as
   * `CLIENT_HANDSHAKE_TRAFFIC_SECRET <client_random> <secret>` for TLS). Absent: keys never leave the layer.
   */
  keyLog?: (line: string) => void
}

/** What a security handshake gives back. */
export interface SecuredConnection {
  /** The encrypted channel, carrying plaintext. */
  connection: ByteConnection
  remotePeer: PeerId
  remoteKey: PublicKey
  /** Muxer agreed inside the handshake (Noise extensions, TLS ALPN); undefined → multistream-select. */
  earlyMuxer?: string
}

/** A security protocol (`/noise`, `/tls/1.0.0`): negotiated with multistream-select over a raw connection. */
export interface SecurityProtocol {
  /** Multistream protocol id. */
  readonly protocol: string
  /**
   * Bytes an honest peer sends us before this handshake has authenticated it, the multistream
   * negotiation in front of it included (its handshake messages, plus what it may pipeline behind
   * its last one in the same read). The switch's upgrade guard aborts a peer past it. Absent: the
   * switch's default (upgrade-guard.ts DEFAULT_MAX_PREAUTH_BYTES).
   */
  readonly maxPreAuthBytes?: number
  secureOutbound: (conn: ByteConnection, opts: SecureConnectionOptions) => Promise<SecuredConnection>
  secureInbound: (conn: ByteConnection, opts: SecureConnectionOptions) => Promise<SecuredConnection>
}

/**
 * A connection that is already authenticated and multiplexed: what the switch's upgrade produces
 * from a raw connection, and what a transport with its own security and streams (QUIC) returns
 * directly.
 */
export interface UpgradedConnection {
  readonly remotePeer: PeerId
  readonly remoteKey: PublicKey
  readonly muxer: StreamMuxer
  /** Security protocol id (`/noise`, `/tls/1.0.0`; QUIC reports `/tls/1.0.0`). */
  readonly security: string
  /** How the muxer was chosen: inside the handshake, by multistream-select, or built into the transport. */
  readonly muxerNegotiation: 'early' | 'multistream' | 'transport'
  readonly remoteAddr: string
  readonly localAddr: string
  readonly direction: 'inbound' | 'outbound'
  /** The connection's resource scope (src/resources), closed by the switch when the connection ends. */
  readonly resources?: ResourceScope
}

/**
 * What a transport's dial or accept yields: a raw byte stream to upgrade, or an upgraded connection.
 * `observer` is the trace observer the transport installed on it (from `observerFor`), which the
 * switch hands on to the layers above.
 */
export type TransportConnection =
  | { readonly kind: 'raw', readonly connection: ByteConnection, readonly observer?: TraceObserver }
  | { readonly kind: 'upgraded', readonly connection: UpgradedConnection, readonly observer?: TraceObserver }

/** The addresses a per-connection trace observer is created for. */
export interface ConnectionEndpoints {
  readonly direction: 'inbound' | 'outbound'
  readonly remoteAddr: string
  readonly localAddr: string
}

export interface TransportDialOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** Used only by transports that authenticate themselves (QUIC). */
  identity: PrivateKey
  expectedPeer?: PeerId
  observer?: TraceObserver
  /**
   * Asked once the connection exists (its local address is known), when `observer` is not given:
   * the observer to install on it, returned on the TransportConnection.
   */
  observerFor?: (conn: ConnectionEndpoints) => TraceObserver | undefined
  /** For transports that authenticate themselves (QUIC): see `OpenResources`. */
  openResources?: OpenResources
  /** Transports that authenticate themselves (QUIC): where their TLS secrets go, as NSS key log lines. */
  keyLog?: (line: string) => void
}

/**
 * Opens the resource scope (src/resources) of a connection a transport upgraded itself, once the
 * peer is authenticated: counted against the per-peer and per-process connection limits, and the
 * transport charges the connection's streams to it. An Error is the refusal: the transport closes
 * the connection. The scope goes out on `UpgradedConnection.resources` (the switch closes it).
 */
export type OpenResources = (remotePeer: PeerId, name: string) => ResourceScope | Error

export interface TransportListenOptions {
  /** Each accepted connection; raw ones are upgraded by the switch. */
  onConnection: (conn: TransportConnection) => void
  onError?: (err: Error) => void
  /** Used only by transports that authenticate themselves (QUIC). */
  identity: PrivateKey
  /** Per-connection observer, asked once per accepted connection. */
  observerFor?: (conn: { remoteAddr: string, localAddr: string, direction: 'inbound' }) => TraceObserver | undefined
  /** For transports that authenticate themselves (QUIC): see `OpenResources`. */
  openResources?: OpenResources
  /** Transports that authenticate themselves (QUIC): where their TLS secrets go, as NSS key log lines. */
  keyLog?: (line: string) => void
}

export interface TransportListener {
  /** The real addresses (port 0 resolved; wildcard binds expanded). */
  readonly multiaddrs: readonly Multiaddr[]
  close: () => Promise<void>
}

/** A transport (`/tcp`, `/ws`, `/quic-v1`). */
export interface Transport {
  /** Short name for logs and config, e.g. `tcp`, `ws`, `quic-v1`. */
  readonly name: string
  canDial: (ma: Multiaddr) => boolean
  canListen: (ma: Multiaddr) => boolean
  dial: (ma: Multiaddr, opts: TransportDialOptions) => Promise<TransportConnection>
  listen: (ma: Multiaddr, opts: TransportListenOptions) => Promise<TransportListener>
}

/**
 * What identify tells peers about us: the seam between the switch, which keeps it current (listen
 * addresses appear after `start`), and the application protocols that read it.
 */
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

/**
 * What the switch hands every protocol handler besides its stream: who we are (for identify), the
 * remote address, a log line sink (the nim-libp2p tutorial's `echo`) and the identify-push hook.
 */
export interface ProtocolContext {
  readonly localPeer: LocalPeerInfo
  /** Binary multiaddr of the remote end of this connection (identify `observedAddr`). */
  readonly remoteAddr?: Uint8Array
  /** One line of human-readable output (the tutorial's `echo`), e.g. `console.log` or a test buffer. */
  readonly log: (line: string) => void
  /** Receives the merged update of each identify-push from this connection's peer. */
  readonly onIdentifyPush?: (update: IdentifyMessage) => void
}
