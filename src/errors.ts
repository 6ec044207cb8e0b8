/**
 * One error hierarchy for the whole stack. Every error switchyard throws or reports is a
 * `SwitchyardError` with a stable `code`; classify with `instanceof` or with `err.code`,
 * never by parsing `message`.
 *
 * The rule: the class is the layer, the code is what happened. `NoiseError`, `TlsError`,
 * `YamuxError`, `MultistreamError`… say where the failure was found; the code says what it was, so
 * one code may come from several layers (ERR_HANDSHAKE_TIMEOUT from NoiseError and TlsError,
 * ERR_TOO_MANY_STREAMS from YamuxError and MplexError) and a caller can test either. A layer that
 * has no class here keeps its own next to its code (protocols/errors.ts, capture/errors.ts). Every
 * code in `ErrorCode` is raised somewhere (the QUIC block mirrors RFC 9000 §20.1's list in full);
 * a code nobody raises is removed, not kept "for later".
 *
 * Messages name the thing, the expectation and what arrived, e.g.
 * `"frame length" expected <= 262144, got 1048576 (stream 3)`; when a peer caused the failure the
 * one-line message says so and names the layer (`peer reset the TCP connection`, `yamux: peer sent
 * GoAway (protocol error)`).
 */

/** Every stable error code, grouped by the layer that raises it. */
export type ErrorCode =
  // codec
  | 'ERR_VARINT_NOT_MINIMAL'
  | 'ERR_VARINT_TOO_LONG'
  | 'ERR_VARINT_UNSAFE_INTEGER'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_PROTOBUF_MALFORMED'
  | 'ERR_UNEXPECTED_EOF'
  // multiaddr / transport
  | 'ERR_INVALID_MULTIADDR'
  | 'ERR_CONNECTION_REFUSED'
  | 'ERR_DIAL_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_CONNECTION_RESET'
  | 'ERR_SOCKET'
  // websocket transport (RFC 6455)
  | 'ERR_WS_PROTOCOL'
  | 'ERR_WS_UNSUPPORTED_DATA'
  | 'ERR_WS_INVALID_PAYLOAD'
  | 'ERR_WS_MESSAGE_TOO_LARGE'
  | 'ERR_WS_CLOSED_BY_PEER'
  | 'ERR_WS_HANDSHAKE'
  | 'ERR_WS_HANDSHAKE_TIMEOUT'
  | 'ERR_WS_WSS_NOT_SUPPORTED'
  // multistream-select
  | 'ERR_MULTISTREAM_PROTOCOL'
  | 'ERR_PROTOCOL_NOT_SUPPORTED'
  | 'ERR_NEGOTIATION_TIMEOUT'
  // keys / peer ids
  | 'ERR_INVALID_KEY'
  | 'ERR_UNSUPPORTED_KEY_TYPE'
  | 'ERR_INVALID_PEER_ID'
  | 'ERR_INVALID_SIGNATURE'
  | 'ERR_KEY_FILE'
  // signed envelopes / peer records (RFC 0002, RFC 0003)
  | 'ERR_INVALID_RECORD'
  // noise
  | 'ERR_NOISE_HANDSHAKE'
  | 'ERR_NOISE_DECRYPT'
  | 'ERR_NOISE_NONCE_EXHAUSTED'
  | 'ERR_NOISE_MESSAGE_TOO_LARGE'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_PEER_ID_MISMATCH'
  // tls (/tls/1.0.0; RFC 8446): each code names the alert sent (TlsError.alert)
  | 'ERR_TLS_DECODE'
  | 'ERR_TLS_UNEXPECTED_MESSAGE'
  | 'ERR_TLS_RECORD_OVERFLOW'
  | 'ERR_TLS_BAD_RECORD_MAC'
  | 'ERR_TLS_HANDSHAKE_FAILURE'
  | 'ERR_TLS_ILLEGAL_PARAMETER'
  | 'ERR_TLS_PROTOCOL_VERSION'
  | 'ERR_TLS_MISSING_EXTENSION'
  | 'ERR_TLS_BAD_CERTIFICATE'
  | 'ERR_TLS_UNSUPPORTED_CERTIFICATE'
  | 'ERR_TLS_CERTIFICATE_EXPIRED'
  | 'ERR_TLS_CERTIFICATE_REQUIRED'
  | 'ERR_TLS_DECRYPT_ERROR'
  | 'ERR_TLS_NO_APPLICATION_PROTOCOL'
  | 'ERR_TLS_MESSAGE_TOO_LARGE'
  | 'ERR_TLS_INTERNAL'
  | 'ERR_TLS_ALERT_RECEIVED'
  | 'ERR_TLS_TRUNCATED'
  // muxers
  | 'ERR_YAMUX_PROTOCOL'
  | 'ERR_YAMUX_GOAWAY'
  | 'ERR_MPLEX_PROTOCOL'
  | 'ERR_TOO_MANY_STREAMS'
  | 'ERR_STREAM_RESET'
  | 'ERR_STREAM_CLOSED'
  | 'ERR_END_OF_STREAM'
  | 'ERR_BUFFER_FULL'
  | 'ERR_MUXER_CLOSED'
  // resources (src/resources: memory, stream and connection budgets)
  | 'ERR_RESOURCE_LIMIT'
  // switch
  | 'ERR_TOO_MANY_CONNECTIONS'
  | 'ERR_DIAL_SELF'
  | 'ERR_NO_ADDRESSES'
  | 'ERR_NO_TRANSPORT'
  | 'ERR_SWITCH_STOPPED'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_HANDLER'
  | 'ERR_PROTOCOL_VIOLATION'
  // application protocols (ping, identify, perf, echo)
  | 'ERR_PING_MISMATCH'
  | 'ERR_PROTOCOL_TIMEOUT'
  | 'ERR_TOO_MANY_MESSAGES'
  | 'ERR_PERF_SIZE_MISMATCH'
  // cli / capture
  | 'ERR_USAGE'
  | 'ERR_COMMAND_FAILED'
  | 'ERR_CAPTURE'
  | 'ERR_KEYLOG'
  // quic (RFC 9000 §20: each code names the transport error it is sent as)
  | 'ERR_QUIC_INTERNAL'
  | 'ERR_QUIC_CONNECTION_REFUSED'
  | 'ERR_QUIC_FLOW_CONTROL'
  | 'ERR_QUIC_STREAM_LIMIT'
  | 'ERR_QUIC_STREAM_STATE'
  | 'ERR_QUIC_FINAL_SIZE'
  | 'ERR_QUIC_FRAME_ENCODING'
  | 'ERR_QUIC_TRANSPORT_PARAMETER'
  | 'ERR_QUIC_CONNECTION_ID_LIMIT'
  | 'ERR_QUIC_PROTOCOL_VIOLATION'
  | 'ERR_QUIC_INVALID_TOKEN'
  | 'ERR_QUIC_CRYPTO_BUFFER_EXCEEDED'
  | 'ERR_QUIC_KEY_UPDATE'
  | 'ERR_QUIC_AEAD_LIMIT'
  | 'ERR_QUIC_CRYPTO'
  // quic, local conditions (never sent as such)
  | 'ERR_QUIC_MALFORMED_PACKET'
  | 'ERR_QUIC_DECRYPT'
  | 'ERR_QUIC_VERSION'
  | 'ERR_QUIC_CONNECTION_CLOSED'
  | 'ERR_QUIC_IDLE_TIMEOUT'
  | 'ERR_QUIC_STATELESS_RESET'
  // cli: libp2p/test-plans runners (Redis)
  | 'ERR_REDIS_PROTOCOL'
  | 'ERR_REDIS_REPLY'

export interface ErrorOptions {
  cause?: unknown
}

/** Root of every error switchyard raises. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Malformed or oversize bytes at the codec layer (varint, length prefix, protobuf). */
export class CodecError extends SwitchyardError {}

/** A varint that breaks the unsigned-varint spec (not minimal, > 9 bytes, > 2^53-1). */
export class VarintError extends CodecError {}

/** Malformed multiaddr text or bytes; the message names the component. */
export class MultiaddrError extends SwitchyardError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_INVALID_MULTIADDR', message, options)
  }
}

/** Socket-level failures: refused, timed out, reset, closed. */
export class TransportError extends SwitchyardError {}

/**
 * WebSocket (RFC 6455) failures. `closeCode` is the status code of the close frame this error sends
 * (§7.4.1: 1002 protocol error, 1003 text frame, 1007 bad UTF-8, 1009 too big) or, for
 * ERR_WS_CLOSED_BY_PEER, the one received; `httpStatus` is the HTTP error answered to (or received
 * for) a failed upgrade.
 */
export class WsError extends TransportError {
  readonly closeCode: number | undefined
  readonly httpStatus: number | undefined
  constructor (
    code: ErrorCode,
    message: string,
    wire: { closeCode?: number, httpStatus?: number } = {},
    options?: ErrorOptions
  ) {
    super(code, message, options)
    this.closeCode = wire.closeCode
    this.httpStatus = wire.httpStatus
  }
}

/** multistream-select violations and refusals. */
export class MultistreamError extends SwitchyardError {}

/** The peer supports none of the protocols we proposed: `peer refused /noise (multistream: na)`. */
export class ProtocolNotSupportedError extends MultistreamError {
  readonly tried: readonly string[]
  constructor (tried: readonly string[]) {
    super('ERR_PROTOCOL_NOT_SUPPORTED', `peer refused ${tried.map(protocolForDisplay).join(', ')} (multistream: na)`)
    this.tried = tried
  }
}

/**
 * A protocol id as error messages show it: bare when it is short printable ASCII (`/noise`), else
 * JSON-quoted and cut at 80 characters (a peer's garbage must not make a message unreadable).
 */
export function protocolForDisplay (id: string): string {
  if (id.length > 0 && id.length <= 80 && /^[\x21-\x7e]+$/.test(id)) return id
  return JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)
}

/** Bad keys, peer ids, signatures and key files. */
export class KeyError extends SwitchyardError {}

/** The Noise handshake or transport failed; the connection is closed. */
export class NoiseError extends SwitchyardError {}

/**
 * TLS 1.3 failures (src/security/tls). `alert` is the AlertDescription (RFC 8446 §6) we sent to the
 * peer — or, with `remote: true` (code ERR_TLS_ALERT_RECEIVED), the one the peer sent us.
 */
export class TlsError extends SwitchyardError {
  readonly alert: number
  readonly remote: boolean
  constructor (code: ErrorCode, message: string, alert: number, options?: ErrorOptions & { remote?: boolean }) {
    super(code, message, options)
    this.alert = alert
    this.remote = options?.remote ?? false
  }
}

/** Yamux protocol violations; `goAwayCode` is what we send (or received) on the wire. */
export class YamuxError extends SwitchyardError {
  readonly goAwayCode: number | undefined
  constructor (code: ErrorCode, message: string, goAwayCode?: number, options?: ErrorOptions) {
    super(code, message, options)
    this.goAwayCode = goAwayCode
  }
}

/** mplex protocol violations. */
export class MplexError extends SwitchyardError {}

/** The stream was reset (by the remote, or locally); pending reads and writes fail with this. */
export class StreamResetError extends SwitchyardError {
  constructor (message = 'stream reset', options?: ErrorOptions) {
    super('ERR_STREAM_RESET', message, options)
  }
}

/** A write or read on a stream we already closed in that direction. */
export class StreamClosedError extends SwitchyardError {
  constructor (message = 'stream closed', options?: ErrorOptions) {
    super('ERR_STREAM_CLOSED', message, options)
  }
}

/**
 * The remote closed its side of the stream and every buffered byte was read: the end of the stream.
 * switchyard's counterpart of nim-libp2p's `LPStreamEOFError`; `readLp` raises it at a clean end.
 */
export class EndOfStreamError extends SwitchyardError {
  constructor (message = 'end of stream', options?: ErrorOptions) {
    super('ERR_END_OF_STREAM', message, options)
  }
}

/**
 * A reservation against a resource budget failed (src/resources). `scope` names the budget that
 * was full (`process`, `peer`, `connection`), `resource` what ran out. The stream or connection
 * that asked is refused or reset; nothing else is affected.
 */
export class ResourceLimitError extends SwitchyardError {
  readonly scope: string
  readonly resource: 'memory' | 'streams' | 'connections'
  constructor (scope: string, resource: 'memory' | 'streams' | 'connections', message: string, options?: ErrorOptions) {
    super('ERR_RESOURCE_LIMIT', message, options)
    this.scope = scope
    this.resource = resource
  }
}

/** Errors raised by the switch: limits, dial failures, configuration. */
export class SwitchError extends SwitchyardError {}

/** Throw a `RangeError`-flavoured CodecError naming the limit, used for every "too large" case. */
export function tooLarge (what: string, limit: number, got: number, where = ''): CodecError {
  return new CodecError(
    'ERR_MESSAGE_TOO_LARGE',
    `"${what}" expected <= ${limit}, got ${got}${where === '' ? '' : ` (${where})`}`
  )
}

// ── QUIC ──────────────────────────────────────────────────────────────────────────────────────────

/** RFC 9000 §20.1 transport error codes, as sent in CONNECTION_CLOSE (type 0x1c). */
export const QuicTransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** CRYPTO_ERROR is 0x0100 + the TLS alert (RFC 9001 §4.8). */
  CRYPTO_ERROR_BASE: 0x0100
} as const

const QUIC_WIRE_CODE: Partial<Record<ErrorCode, number>> = {
  ERR_QUIC_INTERNAL: 0x01,
  ERR_QUIC_CONNECTION_REFUSED: 0x02,
  ERR_QUIC_FLOW_CONTROL: 0x03,
  ERR_QUIC_STREAM_LIMIT: 0x04,
  ERR_QUIC_STREAM_STATE: 0x05,
  ERR_QUIC_FINAL_SIZE: 0x06,
  ERR_QUIC_FRAME_ENCODING: 0x07,
  ERR_QUIC_TRANSPORT_PARAMETER: 0x08,
  ERR_QUIC_CONNECTION_ID_LIMIT: 0x09,
  ERR_QUIC_PROTOCOL_VIOLATION: 0x0a,
  ERR_QUIC_INVALID_TOKEN: 0x0b,
  ERR_QUIC_CRYPTO_BUFFER_EXCEEDED: 0x0d,
  ERR_QUIC_KEY_UPDATE: 0x0e,
  ERR_QUIC_AEAD_LIMIT: 0x0f
}

/**
 * A QUIC failure. `transportErrorCode` is what goes into CONNECTION_CLOSE (RFC 9000 §20.1) when
 * the error is ours to report; `frameType` is the frame that triggered it (RFC 9000 §19.19).
 * Local conditions (undecryptable packet, idle timeout, the peer's close) carry INTERNAL_ERROR and
 * are never sent for those reasons.
 */
export class QuicError extends SwitchyardError {
  readonly transportErrorCode: number
  readonly frameType: number
  constructor (
    code: ErrorCode,
    message: string,
    opts: { frameType?: number, transportErrorCode?: number, cause?: unknown } = {}
  ) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.transportErrorCode = opts.transportErrorCode ?? QUIC_WIRE_CODE[code] ?? 0x01
    this.frameType = opts.frameType ?? 0
  }
}

/**
 * `err` as an `Error`: itself when it is one, else wrapped with its string form (a rejected
 * non-Error from foreign code). The one place that turns `catch (err: unknown)` into an Error.
 */
export function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
