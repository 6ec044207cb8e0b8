/**
 * RFC 6455 (The WebSocket Protocol) numbers, named as in the RFC. Pinned by test/transport/ws/constants.test.ts.
 */

/** RFC 6455 §11.8 / §5.2: frame opcodes (4 bits). */
export enum Opcode {
  /** %x0 continuation frame: the next fragment of a fragmented message (§5.4). */
  Continuation = 0x0,
  /** %x1 text frame (UTF-8 payload). libp2p carries bytes only: a protocol error here. */
  Text = 0x1,
  /** %x2 binary frame. */
  Binary = 0x2,
  /** %x8 connection close (§5.5.1). */
  Close = 0x8,
  /** %x9 ping (§5.5.2). */
  Ping = 0x9,
  /** %xA pong (§5.5.3). */
  Pong = 0xa
}

/** RFC 6455 §5.5: control frames have the opcode's high bit set (0x8–0xF). */
export const CONTROL_OPCODE_BIT = 0x8

/** RFC 6455 §5.2 byte 0: FIN (0x80), RSV1..3 (0x70, no extension negotiated: MUST be 0), opcode (0x0F). */
export const FIN_BIT = 0x80
export const RSV_BITS = 0x70
export const OPCODE_MASK = 0x0f
/** RFC 6455 §5.2 byte 1: MASK (0x80) and the 7-bit payload length. */
export const MASK_BIT = 0x80
export const LENGTH7_MASK = 0x7f
/** 7-bit length values that announce a 16-bit (126) or 64-bit (127) extended length. */
export const LENGTH_16 = 126
export const LENGTH_64 = 127
/** Largest length the 7-bit field carries itself. */
export const MAX_LENGTH_7 = 125
export const MAX_LENGTH_16 = 0xffff
/** Length of the masking key (§5.3). */
export const MASK_KEY_LENGTH = 4
/** Largest frame header: 2 + 8 (64-bit length) + 4 (masking key). */
export const MAX_HEADER_LENGTH = 2 + 8 + MASK_KEY_LENGTH

/** RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125

/** RFC 6455 §7.4.1 status codes. */
export enum CloseCode {
  /** Normal closure. */
  Normal = 1000,
  /** Going away (server shutting down, page navigated away). */
  GoingAway = 1001,
  /** Protocol error. */
  ProtocolError = 1002,
  /** Unsupported data (a type the endpoint cannot accept: text, for libp2p). */
  UnsupportedData = 1003,
  /** Reserved: "No Status Rcvd"; never on the wire (§7.4.1). */
  NoStatus = 1005,
  /** Reserved: "Abnormal Closure" (no close frame); never on the wire. */
  Abnormal = 1006,
  /** Invalid frame payload data (e.g. non-UTF-8 in a close reason). */
  InvalidPayload = 1007,
  /** Policy violation. */
  PolicyViolation = 1008,
  /** Message too big. */
  MessageTooBig = 1009,
  /** Client expected an extension the server did not negotiate. */
  MandatoryExtension = 1010,
  /** Internal error. */
  InternalError = 1011,
  /** Reserved: TLS handshake failure; never on the wire. */
  TlsHandshake = 1015
}

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing into Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** RFC 6455 §4.1: the only protocol version (Sec-WebSocket-Version). */
export const WEBSOCKET_VERSION = 13
/** RFC 6455 §4.1: Sec-WebSocket-Key is a base64-encoded random 16-byte nonce. */
export const KEY_NONCE_LENGTH = 16

// ── Limits (defaults; each is an option of the adapter) ──────────────────────────────────────────

/**
 * Largest message we accept, in bytes, checked at each frame header (the running total of a
 * fragmented message plus the announced frame length) before any payload byte is kept; over it →
 * close 1009. Data payloads are streamed through as views and never assembled, so this bounds a
 * peer's message, not our memory.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
/**
 * Largest frame we send: a batch above it goes out as several binary messages. Below every
 * implementation's default receive limit (ws 100 MiB, tungstenite 16 MiB frames).
 */
export const DEFAULT_MAX_SEND_FRAME_BYTES = 1024 * 1024
/** Largest HTTP upgrade request (server) or response (client) head, in bytes; over it → 431 / failure. */
export const DEFAULT_MAX_UPGRADE_BYTES = 8 * 1024
/** Bound on the HTTP upgrade, from TCP connect/accept to the 101 response; then the socket is closed. */
export const DEFAULT_UPGRADE_TIMEOUT_MS = 10_000
/** Bound on the close handshake: after our close frame, how long we wait for the peer's before dropping TCP. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000
