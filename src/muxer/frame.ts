/**
 * The 12-byte yamux header as a pure, synchronous codec (spec §Framing, all fields big-endian):
 *
 *   0        1        2                4                        8                        12
 *   | ver(8) | type(8)| flags(16)      | stream id (32)         | length (32)            |
 *
 * `length` means payload bytes for Data, a window delta for WindowUpdate, an opaque value for Ping
 * and an error code for GoAway. The header is a discriminated union with one shape for all four
 * types (V8 keeps one hidden class on the hot path).
 */
import { YamuxError } from '../errors.js'
import { Flag, FrameType, GoAwayCode, HEADER_LENGTH, MAX_UINT32, YAMUX_VERSION } from './constants.js'

interface HeaderFields {
  /** Bitmask of `Flag`. */
  flags: number
  streamId: number
  /** Data: payload length; WindowUpdate: delta; Ping: opaque value; GoAway: error code. */
  length: number
}
export interface DataHeader extends HeaderFields { type: FrameType.Data }
export interface WindowUpdateHeader extends HeaderFields { type: FrameType.WindowUpdate }
export interface PingHeader extends HeaderFields { type: FrameType.Ping }
export interface GoAwayHeader extends HeaderFields { type: FrameType.GoAway }
export type Header = DataHeader | WindowUpdateHeader | PingHeader | GoAwayHeader

/**
 * Write a header at `target[offset … offset+12)`. No validation: for the session's own frames,
 * whose fields are in range by construction. `encodeHeader` is the checked public form.
 */
export function writeHeader (
  target: Uint8Array,
  offset: number,
  type: FrameType,
  flags: number,
  streamId: number,
  length: number
): void {
  target[offset] = YAMUX_VERSION
  target[offset + 1] = type
  target[offset + 2] = flags >>> 8
  target[offset + 3] = flags
  target[offset + 4] = streamId >>> 24
  target[offset + 5] = streamId >>> 16
  target[offset + 6] = streamId >>> 8
  target[offset + 7] = streamId
  target[offset + 8] = length >>> 24
  target[offset + 9] = length >>> 16
  target[offset + 10] = length >>> 8
  target[offset + 11] = length
}

function assertUint (what: string, n: number, max: number): void {
  if (Number.isInteger(n) && n >= 0 && n <= max) return
  throw new RangeError(`"${what}" expected an integer in [0, ${max}], got ${n}`)
}

/** Encode `h` into a fresh 12-byte array (or at `target[offset]`). Throws RangeError for out-of-range fields. */
export function encodeHeader (h: Header, target: Uint8Array = new Uint8Array(HEADER_LENGTH), offset = 0): Uint8Array {
  if (!(h.type in FrameType)) throw new RangeError(`"frame type" expected 0..3, got ${String(h.type)}`)
  assertUint('flags', h.flags, 0xffff)
  assertUint('stream id', h.streamId, MAX_UINT32)
  assertUint('length', h.length, MAX_UINT32)
  if (target.length - offset < HEADER_LENGTH) {
    throw new RangeError(
      `"header target" expected >= ${HEADER_LENGTH} bytes from offset ${offset}, got ${target.length - offset}`
    )
  }
  writeHeader(target, offset, h.type, h.flags, h.streamId, h.length)
  return target
}

/**
 * Decode the header at `buf[offset]`. Returns `undefined` when fewer than 12 bytes are there
 * ("need more bytes" is not an error). Throws YamuxError (GoAway protocol error) for an unknown
 * version (go-yamux `ErrInvalidVersion`) or message type (`ErrInvalidMsgType`). Flags bits beyond
 * SYN|ACK|FIN|RST are kept as received and ignored by the session, as go and rust do.
 */
export function decodeHeader (buf: Uint8Array, offset = 0): Header | undefined {
  if (buf.length - offset < HEADER_LENGTH) return undefined
  const type = buf[offset + 1] as number
  if (buf[offset] !== YAMUX_VERSION || type > FrameType.GoAway) throw badHeader(buf, offset)
  return {
    type: type as FrameType,
    flags: ((buf[offset + 2] as number) << 8) | (buf[offset + 3] as number),
    streamId: readUint32(buf, offset + 4),
    length: readUint32(buf, offset + 8)
  }
}

/** The cold path of `decodeHeader`, kept out of it so the hot function stays small enough to inline. */
function badHeader (buf: Uint8Array, offset: number): YamuxError {
  const version = buf[offset] as number
  if (version !== YAMUX_VERSION) {
    return new YamuxError(
      'ERR_YAMUX_PROTOCOL',
      `"yamux version" expected ${YAMUX_VERSION}, got ${version}`,
      GoAwayCode.ProtocolError
    )
  }
  return new YamuxError(
    'ERR_YAMUX_PROTOCOL',
    `"yamux frame type" expected 0..3, got ${buf[offset + 1] as number}`,
    GoAwayCode.ProtocolError
  )
}

function readUint32 (buf: Uint8Array, i: number): number {
  return ((buf[i] as number) * 0x100_0000) +
    (((buf[i + 1] as number) << 16) | ((buf[i + 2] as number) << 8) | (buf[i + 3] as number))
}

/** Human-readable form for errors and traces, e.g. `Data[SYN|FIN] stream=3 length=5`. */
export function formatHeader (h: Header): string {
  const names: string[] = []
  if ((h.flags & Flag.SYN) !== 0) names.push('SYN')
  if ((h.flags & Flag.ACK) !== 0) names.push('ACK')
  if ((h.flags & Flag.FIN) !== 0) names.push('FIN')
  if ((h.flags & Flag.RST) !== 0) names.push('RST')
  return `${FrameType[h.type]}${names.length > 0 ? `[${names.join('|')}]` : ''} stream=${h.streamId} length=${h.length}`
}
