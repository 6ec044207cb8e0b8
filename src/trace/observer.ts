/**
 * What every layer reports about the bytes that cross it: one small observer interface and the
 * events, a discriminated union on `layer` and `kind`.
 *
 * How a layer reports (the whole contract):
 *
 *   // the layer keeps `observer: TraceObserver | undefined` from its options
 *   const obs = this.observer
 *   if (obs !== undefined) obs.event({ layer: 'yamux', kind: 'frame', dir: 'in', ... })
 *
 * Nothing else. When nobody listens the cost is one `undefined` check: no event object is built and
 * no string is formatted (STYLE "Eager work per frame"; measured in bench/trace.bench.ts). Layers
 * never format text, never read a clock and never know a connection id: the `Tracer`
 * (src/trace/tracer.ts) that hands out the observer stamps the connection id and the time, and the
 * formatters (format-text.ts, format-jsonl.ts) turn records into text.
 *
 * Rules for an observer: `event` is called synchronously, on the hot path, from inside a codec loop.
 * It must not throw and must not call back into the layer. `bytes` (and any other `Uint8Array` in an
 * event) may be a view into a buffer the layer reuses after the call returns: copy to keep it.
 * `dir` is always relative to the local node: 'out' = we sent it, 'in' = we received it (a capture
 * decoder takes the TCP dialer's point of view).
 *
 * This file is types only (and one tiny helper): every layer may `import type` from it without
 * pulling in any code. Keys never travel through an observer: see keylog.ts.
 */

export type TraceDirection = 'in' | 'out'

/** Fields every event may carry. Layers set what they know; the tracer fills `stream` from a stream scope. */
interface EventBase {
  /** Muxed stream id for events inside one stream (multistream on a stream, stream data/messages). */
  stream?: number
  /**
   * Which side opened `stream` (needed for mplex, whose two sides number their streams
   * independently; yamux ids already say it by parity). Set together with `stream`.
   */
  opener?: 'local' | 'remote'
  /** The raw bytes of what crossed the layer (header and/or body; see each event). For `--trace=hex`. */
  bytes?: Uint8Array
}

// ---------------------------------------------------------------------------------------------
// transport

/** A TCP connection was established (dialed or accepted). */
export interface TcpOpenEvent extends EventBase {
  layer: 'tcp'
  kind: 'open'
  /** Multiaddr text of our end, e.g. `/ip4/127.0.0.1/tcp/50312`. */
  localAddr: string
  /** Multiaddr text of the peer's end. */
  remoteAddr: string
  /** 'outbound' when we dialed. */
  direction: 'inbound' | 'outbound'
}

/** Bytes written to or read from the socket (`bytes` = exactly those bytes). */
export interface TcpDataEvent extends EventBase {
  layer: 'tcp'
  kind: 'data'
  dir: TraceDirection
  length: number
}

/** A half-close: we ended our direction ('out', FIN sent) or the peer ended its own ('in'). */
export interface TcpEndEvent extends EventBase {
  layer: 'tcp'
  kind: 'end'
  dir: TraceDirection
}

/** The socket is gone. `error` names why when it ended abnormally (reset, abort, socket error). */
export interface TcpCloseEvent extends EventBase {
  layer: 'tcp'
  kind: 'close'
  error?: string
}

// ---------------------------------------------------------------------------------------------
// multistream-select

/** One multistream message (`/multistream/1.0.0`, a protocol id, `na`, `ls`). `bytes` = prefix ‖ text ‖ "\n". */
export interface MultistreamMessageEvent extends EventBase {
  layer: 'multistream'
  kind: 'message'
  dir: TraceDirection
  /** The text without the newline. */
  message: string
}

/**
 * An `ls` response: the protocol list (multistream-select README, `ls`). `bytes` = the response body (inside its outer
 * length prefix).
 */
export interface MultistreamLsEvent extends EventBase {
  layer: 'multistream'
  kind: 'ls'
  dir: TraceDirection
  protocols: string[]
}

// ---------------------------------------------------------------------------------------------
// noise

/** The decoded NoiseHandshakePayload of message 2 or 3 (noise/README.md "The libp2p Handshake Payload"). */
export interface NoisePayloadInfo {
  /** Identity key type, e.g. `Ed25519`, `Secp256k1`, `RSA`, `ECDSA`. */
  keyType: string
  /** The peer id derived from the identity key (base58btc). */
  peerId: string
  /**
   * 'verified' / 'invalid' for a payload we received and checked against the handshake's static key;
   * 'sent' for our own payload (we signed it); 'unchecked' when it could not be checked
   * (a capture decoder without the static key of that side).
   */
  signature: 'verified' | 'invalid' | 'sent' | 'unchecked'
  /** `extensions.stream_muxers`, or undefined when the payload has no extensions message. */
  streamMuxers?: string[]
  /** Number of `extensions.webtransport_certhashes` (never set over TCP). */
  webtransportCerthashes?: number
}

/**
 * One Noise handshake message (noise/README.md §"Handshake"; Noise XX):
 *   1: `-> e`  2: `<- e, ee, s, es`  3: `-> s, se`.
 * `bytes` = the Noise message without its 2-byte length prefix.
 */
export interface NoiseHandshakeEvent extends EventBase {
  layer: 'noise'
  kind: 'handshake'
  dir: TraceDirection
  message: 1 | 2 | 3
  /** The XX tokens of this message, e.g. `['e', 'ee', 's', 'es']`. */
  tokens: readonly string[]
  /** Noise message length (the value of the 2-byte prefix). */
  length: number
  /** Plaintext payload length (0 for message 1). */
  payloadLength: number
  /** Messages 2 and 3, once decrypted. */
  payload?: NoisePayloadInfo
}

/** The handshake finished: from here on every byte is a Noise transport message. */
export interface NoiseCompleteEvent extends EventBase {
  layer: 'noise'
  kind: 'complete'
  role: 'initiator' | 'responder'
  /** The remote peer id (base58btc). */
  remotePeer: string
  /** Early muxer negotiation result (inlined-muxer-negotiation.md), when both sides offered one. */
  muxer?: string
}

/** One Noise transport message. `bytes` = the ciphertext (with tag, without the 2-byte prefix). */
export interface NoiseFrameEvent extends EventBase {
  layer: 'noise'
  kind: 'frame'
  dir: TraceDirection
  /** Ciphertext length including the 16-byte tag. */
  length: number
}

// ---------------------------------------------------------------------------------------------
// muxers

/**
 * One yamux frame header (yamux spec §Framing). `bytes` = the 12 header bytes when at hand; the
 * payload of a Data frame is reported by `StreamDataEvent`s.
 */
export interface YamuxFrameEvent extends EventBase {
  layer: 'yamux'
  kind: 'frame'
  dir: TraceDirection
  /** FrameType: 0 Data, 1 WindowUpdate, 2 Ping, 3 GoAway. */
  frameType: number
  /** Bitmask: 1 SYN, 2 ACK, 4 FIN, 8 RST. */
  flags: number
  streamId: number
  /** Data: payload length; WindowUpdate: delta; Ping: opaque value; GoAway: error code. */
  length: number
}

/** One mplex frame header (mplex README §Message format). `bytes` = the header varints when at hand. */
export interface MplexFrameEvent extends EventBase {
  layer: 'mplex'
  kind: 'frame'
  dir: TraceDirection
  streamId: number
  /** MessageFlag 0..6 (NewStream, MessageReceiver, MessageInitiator, Close*, Reset*). */
  flag: number
  length: number
}

// ---------------------------------------------------------------------------------------------
// streams (inside a muxer)

/** Payload bytes of one stream, as the muxer moves them (`bytes` = the piece). Requires `stream`. */
export interface StreamDataEvent extends EventBase {
  layer: 'stream'
  kind: 'data'
  dir: TraceDirection
  stream: number
  length: number
}

/** multistream-select on the stream agreed on `protocol`. */
export interface StreamProtocolEvent extends EventBase {
  layer: 'stream'
  kind: 'protocol'
  stream: number
  protocol: string
}

/** One unsigned-varint length-prefixed message on a stream. `bytes` = the body (without the prefix). */
export interface StreamMessageEvent extends EventBase {
  layer: 'stream'
  kind: 'message'
  dir: TraceDirection
  stream: number
  length: number
  /** On `/ipfs/id/1.0.0` and `/ipfs/id/push/1.0.0` streams: the message, decoded field by field. */
  identify?: IdentifyInfo
}

/**
 * An Identify message as the trace shows it (libp2p specs identify/README.md §"The Identify
 * Message"): addresses as multiaddr text, the key as its type and peer id, the signed peer record
 * opened and verified (RFC 0002 envelope, RFC 0003 record). Fields absent from the message are absent
 * here; a push carries only what changed.
 */
export interface IdentifyInfo {
  push: boolean
  protocolVersion?: string
  agentVersion?: string
  /** `publicKey`: its type and the peer id derived from it, or why it does not parse. */
  publicKey?: { keyType: string, peerId: string } | { error: string }
  /** `listenAddrs` as multiaddr text (`<invalid multiaddr …>` for bytes that are not one). */
  listenAddrs: string[]
  observedAddr?: string
  protocols: string[]
  signedPeerRecord?: SignedPeerRecordInfo
  /** The bytes are not an Identify message: why (the other fields are then empty). */
  error?: string
}

/** identify field 8, opened: verified against the message's key when it has one. */
export interface SignedPeerRecordInfo {
  signature: 'verified' | 'invalid'
  peerId?: string
  /** `seq` in decimal (a uint64: go uses a nanosecond timestamp). */
  seq?: string
  addresses?: string[]
  /** Why it did not verify. */
  error?: string
}

// ---------------------------------------------------------------------------------------------
// anything

// ---------------------------------------------------------------------------------------------
// ws (/ws, RFC 6455): between TCP and the security layer

/** The HTTP/1.1 upgrade request ('out' when we dialed) or response. `bytes` = the raw head. */
export interface WsUpgradeEvent extends EventBase {
  layer: 'ws'
  kind: 'upgrade'
  dir: TraceDirection
  /** `GET / HTTP/1.1`, `HTTP/1.1 101 Switching Protocols`, or an HTTP error line. */
  startLine: string
  /** The header fields as received/sent, `Name: value`. */
  headers: string[]
  length: number
}

/** One WebSocket frame header (RFC 6455 §5.2). `length` = payload bytes. */
export interface WsFrameEvent extends EventBase {
  layer: 'ws'
  kind: 'frame'
  dir: TraceDirection
  /** `Continuation`, `Text`, `Binary`, `Close`, `Ping`, `Pong`. */
  opcode: string
  length: number
  fin: boolean
  masked: boolean
}

// ---------------------------------------------------------------------------------------------
// tls (/tls/1.0.0, RFC 8446)

/**
 * One TLS record. `contentType` is the outer type; `innerType` the decrypted one of a protected record. `bytes` = the
 * whole record.
 */
export interface TlsRecordEvent extends EventBase {
  layer: 'tls'
  kind: 'record'
  dir: TraceDirection
  contentType: string
  innerType?: string
  length: number
}

/** What a trace shows of one handshake message (fields present when the message carries them). */
export interface TlsHandshakeInfo {
  versions?: string[]
  cipherSuites?: string[]
  cipherSuite?: string
  groups?: string[]
  keyShares?: string[]
  group?: string
  signatureSchemes?: string[]
  signatureScheme?: string
  /** ALPN offered (ClientHello) or chosen (EncryptedExtensions). */
  alpn?: string[]
  certificates?: number
  /** The certificate's libp2p Public Key Extension, decoded and checked (tls.md). */
  libp2p?: { keyType?: string, peerId?: string, signature: 'verified' | 'invalid', error?: string }
  requestUpdate?: boolean
}

/** One handshake message (RFC 8446 §4). `bytes` = header ‖ body. */
export interface TlsHandshakeEvent extends EventBase {
  layer: 'tls'
  kind: 'handshake'
  dir: TraceDirection
  /** `ClientHello`, `HelloRetryRequest`, `EncryptedExtensions`, … */
  message: string
  level: 'initial' | 'handshake' | 'application'
  length: number
  info: TlsHandshakeInfo
}

/** An alert (RFC 8446 §6). */
export interface TlsAlertEvent extends EventBase {
  layer: 'tls'
  kind: 'alert'
  dir: TraceDirection
  level: string
  description: string
}

/** The handshake finished: the peer is authenticated. */
export interface TlsCompleteEvent extends EventBase {
  layer: 'tls'
  kind: 'complete'
  role: 'client' | 'server'
  remotePeer: string
  cipherSuite: string
  group: string
  helloRetry: boolean
  /** The ALPN protocol agreed (a muxer id, or `libp2p`). */
  alpn?: string
}

// ---------------------------------------------------------------------------------------------
// quic (/quic-v1, RFC 9000): UDP datagrams below, TLS handshake messages and streams above

/**
 * One QUIC packet (RFC 9000 §17) after protection was removed, or before it was applied.
 * Loss, PTO, key updates, Retry and Version Negotiation are `note`s of the layer. `bytes` (for
 * `--trace=hex`) = the packet as its frames are read: the header with the packet number unmasked,
 * then the plaintext payload (without the 16-byte AEAD tag, so `length` is 16 more).
 */
export interface QuicPacketEvent extends EventBase {
  layer: 'quic'
  kind: 'packet'
  dir: TraceDirection
  /** `Initial`, `Handshake`, `1-RTT` (the packet number space follows from it). */
  packetType: string
  pn: number
  /** Bytes of the protected packet. */
  length: number
  /** The frames, one short text each (`ACK 0-3`, `CRYPTO 0+280`, `STREAM 0 @0+35 FIN` …). */
  frames: string[]
  /** Long headers, as a capture decoder shows them: the version and both connection ids (hex). */
  longHeader?: QuicLongHeaderInfo
}

/** The cleartext fields of a long header (RFC 9000 §17.2). */
export interface QuicLongHeaderInfo {
  version: number
  dcid: string
  scid: string
  /** Initial packets: the token length. */
  token?: number
}

/**
 * A packet a capture decoder could not open (no keys for its level, or authentication failed):
 * what its cleartext header says, and why. `bytes` = the protected packet.
 */
export interface QuicUndecryptedEvent extends EventBase {
  layer: 'quic'
  kind: 'undecrypted'
  dir: TraceDirection
  /** `Initial`, `Handshake`, `0-RTT`, `1-RTT`. */
  packetType: string
  length: number
  longHeader?: QuicLongHeaderInfo
  reason: string
}

/** Something went wrong at `layer` (a protocol violation, an undecodable capture, missing keys). */
export interface TraceErrorEvent extends EventBase {
  layer: TraceLayer
  kind: 'error'
  /** A SwitchyardError code when there is one. */
  code?: string
  message: string
}

/** A remark that is not an error (e.g. "no keys for this connection: handshake only"). */
export interface TraceNoteEvent extends EventBase {
  layer: TraceLayer
  kind: 'note'
  message: string
}

export type TraceEvent =
  | TcpOpenEvent | TcpDataEvent | TcpEndEvent | TcpCloseEvent
  | MultistreamMessageEvent | MultistreamLsEvent
  | NoiseHandshakeEvent | NoiseCompleteEvent | NoiseFrameEvent
  | TlsRecordEvent | TlsHandshakeEvent | TlsAlertEvent | TlsCompleteEvent
  | WsUpgradeEvent | WsFrameEvent
  | YamuxFrameEvent | MplexFrameEvent
  | StreamDataEvent | StreamProtocolEvent | StreamMessageEvent
  | QuicPacketEvent | QuicUndecryptedEvent
  | TraceErrorEvent | TraceNoteEvent

export type TraceLayer =
  | 'tcp'
  | 'ws'
  | 'quic'
  | 'multistream'
  | 'noise'
  | 'tls'
  | 'yamux'
  | 'mplex'
  | 'stream'
  | 'capture'

/** An event as recorded: stamped with the connection and the time by the tracer (or the capture). */
export type TraceRecord = TraceEvent & {
  /** Connection number, 1, 2, … in order of appearance. */
  conn: number
  /** Milliseconds since the Unix epoch, with sub-millisecond precision. */
  time: number
}

/** The one interface every layer reports through. */
export interface TraceObserver {
  event: (e: TraceEvent) => void
}
