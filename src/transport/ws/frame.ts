/**
 * The RFC 6455 §5.2 frame header as a pure, synchronous codec:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *   | |1|2|3|       |K|             |                               |
 *   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *   |     Extended payload length continued, if payload len == 127  |
 *   + - - - - - - - - - - - - - - - +-------------------------------+
 *   |                               |Masking-key, if MASK set to 1  |
 *   +-------------------------------+-------------------------------+
 *
 * Decoding checks what any frame must satisfy with no extension negotiated (we never negotiate
 * one): RSV bits 0 (§5.2), a known opcode (§5.2 "%x3-7 / %xB-F are reserved"), the 64-bit length's
 * most significant bit 0 (§5.2), control frames unfragmented and at most 125 bytes (§5.5). Each
 * failure is a WsError carrying close code 1002. Whether a frame must be masked depends on the
 * receiving role and is the receiver's check. Non-minimal length encodings are accepted (§5.2
 * makes minimality a sender's duty; ws and gorilla accept them too).
 *
 * Encoding returns `[header, payload]`: the payload goes out as given, except when a masking key is
 * set (clients, §5.3), where it is copied once into the same buffer as the header and masked there,
 * never touching the caller's bytes.
 */
import { WsError } from '../../errors.js'
import {
  CloseCode, CONTROL_OPCODE_BIT, FIN_BIT, LENGTH7_MASK, LENGTH_16, LENGTH_64, MASK_BIT, MASK_KEY_LENGTH,
  MAX_CONTROL_PAYLOAD, MAX_LENGTH_16, MAX_LENGTH_7, Opcode, OPCODE_MASK, RSV_BITS
} from './constants.js'

/** One decoded frame header. `maskKey` is a view into the decoded bytes (4 bytes) or undefined. */
export interface FrameHeader {
  fin: boolean
  opcode: Opcode
  /** Payload length in bytes (≤ 2^53 − 1; larger is refused). */
  length: number
  masked: boolean
  maskKey: Uint8Array | undefined
  /** Bytes the header took (2, 4 or 10, plus 4 with a masking key). */
  headerLength: number
}

/** True for Close, Ping and Pong (§5.5). */
export function isControl (opcode: number): boolean {
  return (opcode & CONTROL_OPCODE_BIT) !== 0
}

function protocolError (message: string): WsError {
  return new WsError('ERR_WS_PROTOCOL', message, { closeCode: CloseCode.ProtocolError })
}

/** Length of a header (2–14 bytes) whose second byte is `b1` (the length code and MASK bit say it). */
export function headerLengthOf (b1: number): number {
  const len7 = b1 & LENGTH7_MASK
  return 2 + (len7 === LENGTH_16 ? 2 : len7 === LENGTH_64 ? 8 : 0) + ((b1 & MASK_BIT) !== 0 ? MASK_KEY_LENGTH : 0)
}

/**
 * Decode the header at `buf[offset]`. `undefined` when the header is not complete yet ("need more
 * bytes" is not an error). Throws WsError (close 1002) for a header no peer may send.
 */
export function decodeFrameHeader (buf: Uint8Array, offset = 0): FrameHeader | undefined {
  if (buf.length - offset < 2) return undefined
  const b0 = buf[offset] as number
  const b1 = buf[offset + 1] as number
  const opcode = b0 & OPCODE_MASK
  const fin = (b0 & FIN_BIT) !== 0
  const len7 = b1 & LENGTH7_MASK
  // Checked from the first two bytes, so a bad frame is refused before its extended length arrives.
  if ((b0 & RSV_BITS) !== 0) {
    throw protocolError(`"RSV bits" expected 0 (no extension negotiated), got ${(b0 & RSV_BITS) >>> 4}`)
  }
  if (!(opcode <= Opcode.Binary || (opcode >= Opcode.Close && opcode <= Opcode.Pong))) {
    throw protocolError(`"opcode" expected 0x0-0x2 or 0x8-0xA, got 0x${opcode.toString(16)} (reserved)`)
  }
  if (isControl(opcode)) {
    if (!fin) throw protocolError(`control frame (opcode 0x${opcode.toString(16)}) expected FIN, got a fragment`)
    if (len7 > MAX_CONTROL_PAYLOAD) {
      throw protocolError(
        `"control frame payload" expected <= ${MAX_CONTROL_PAYLOAD}, got a ${len7 === LENGTH_16 ? 16 : 64}-bit length`
      )
    }
  }
  const headerLength = headerLengthOf(b1)
  if (buf.length - offset < headerLength) return undefined
  let length: number
  let i = offset + 2
  if (len7 === LENGTH_16) {
    length = ((buf[i] as number) << 8) | (buf[i + 1] as number)
    i += 2
  } else if (len7 === LENGTH_64) {
    const hi =
      ((buf[i] as number) << 24 | (buf[i + 1] as number) << 16 | (buf[i + 2] as number) << 8 |
        (buf[i + 3] as number)) >>> 0
    const lo =
      ((buf[i + 4] as number) << 24 | (buf[i + 5] as number) << 16 | (buf[i + 6] as number) << 8 |
        (buf[i + 7] as number)) >>> 0
    // §5.2: "the most significant bit MUST be 0"; beyond 2^53 − 1 a length is not a safe integer
    // (and far beyond any message limit), so it is refused here as well.
    if (hi > 0x1f_ffff) {
      throw protocolError(`"64-bit payload length" expected <= 2^53 - 1, got high word 0x${hi.toString(16)}`)
    }
    length = hi * 0x1_0000_0000 + lo
    i += 8
  } else {
    length = len7
  }
  const masked = (b1 & MASK_BIT) !== 0
  return {
    fin,
    opcode,
    length,
    masked,
    maskKey: masked ? buf.subarray(i, i + MASK_KEY_LENGTH) : undefined,
    headerLength
  }
}

/** Header length for a payload of `length` bytes, with or without a masking key. */
export function encodedHeaderLength (length: number, masked: boolean): number {
  return (length <= MAX_LENGTH_7 ? 2 : length <= MAX_LENGTH_16 ? 4 : 10) + (masked ? MASK_KEY_LENGTH : 0)
}

/**
 * Write a header at `target[offset]`; returns its length. No validation: for frames whose fields
 * are in range by construction (`encodeFrame` is the checked form).
 */
export function writeFrameHeader (
  target: Uint8Array,
  offset: number,
  opcode: Opcode,
  fin: boolean,
  length: number,
  maskKey?: Uint8Array
): number {
  target[offset] = (fin ? FIN_BIT : 0) | opcode
  const maskBit = maskKey === undefined ? 0 : MASK_BIT
  let i = offset + 2
  if (length <= MAX_LENGTH_7) {
    target[offset + 1] = maskBit | length
  } else if (length <= MAX_LENGTH_16) {
    target[offset + 1] = maskBit | LENGTH_16
    target[i++] = length >>> 8
    target[i++] = length & 0xff
  } else {
    target[offset + 1] = maskBit | LENGTH_64
    const hi = Math.floor(length / 0x1_0000_0000)
    target[i++] = hi >>> 24
    target[i++] = hi >>> 16
    target[i++] = hi >>> 8
    target[i++] = hi
    target[i++] = length >>> 24
    target[i++] = length >>> 16
    target[i++] = length >>> 8
    target[i++] = length
  }
  if (maskKey !== undefined) {
    target.set(maskKey.subarray(0, MASK_KEY_LENGTH), i)
    i += MASK_KEY_LENGTH
  }
  return i - offset
}

/**
 * XOR `data` in place with `key` (§5.3: octet i ^= key[(i + keyOffset) mod 4]). Masking and
 * unmasking are the same operation; `keyOffset` lets a payload be processed piece by piece.
 */
export function applyMask (data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const n = data.length
  const k0 = key[keyOffset & 3] as number
  const k1 = key[(keyOffset + 1) & 3] as number
  const k2 = key[(keyOffset + 2) & 3] as number
  const k3 = key[(keyOffset + 3) & 3] as number
  let i = 0
  const n4 = n & ~3
  for (; i < n4; i += 4) {
    data[i] = (data[i] as number) ^ k0
    data[i + 1] = (data[i + 1] as number) ^ k1
    data[i + 2] = (data[i + 2] as number) ^ k2
    data[i + 3] = (data[i + 3] as number) ^ k3
  }
  if (i < n) data[i] = (data[i] as number) ^ k0
  if (i + 1 < n) data[i + 1] = (data[i + 1] as number) ^ k1
  if (i + 2 < n) data[i + 2] = (data[i + 2] as number) ^ k2
}

/** Frame options. A masking key is required of clients (§5.3) and forbidden to servers. */
export interface EncodeFrameOptions {
  /** Default true: the last (or only) fragment of a message. */
  fin?: boolean
  /** 4 bytes from a strong random source (§5.3: "unpredictable"); absent → unmasked. */
  maskKey?: Uint8Array
}

/**
 * Frame `payload` (one or more pieces, sent as one frame) as `[header, ...payload]`. Unmasked: the
 * pieces are returned as given (no copy). Masked: `[header, maskedCopy]`, both views of one
 * allocation. Throws RangeError for fields no frame may carry.
 */
export function encodeFrame (
  opcode: Opcode,
  payload: Uint8Array | readonly Uint8Array[],
  options: EncodeFrameOptions = {}
): Uint8Array[] {
  const pieces: readonly Uint8Array[] = payload instanceof Uint8Array ? [payload] : payload
  const fin = options.fin ?? true
  const maskKey = options.maskKey
  if (!(opcode in Opcode)) throw new RangeError(`"opcode" expected one of RFC 6455 §5.2, got ${String(opcode)}`)
  let length = 0
  for (const p of pieces) length += p.length
  if (isControl(opcode) && (length > MAX_CONTROL_PAYLOAD || !fin)) {
    throw new RangeError(
      `"control frame" expected FIN and a payload <= ${MAX_CONTROL_PAYLOAD}, got ${
        fin ? '' : 'no FIN, '
      }${length} bytes`
    )
  }
  if (maskKey !== undefined && maskKey.length !== MASK_KEY_LENGTH) {
    throw new RangeError(`"masking key" expected ${MASK_KEY_LENGTH} bytes, got ${maskKey.length}`)
  }
  const headerLength = encodedHeaderLength(length, maskKey !== undefined)
  if (maskKey === undefined) {
    const header = new Uint8Array(headerLength)
    writeFrameHeader(header, 0, opcode, fin, length)
    return [header, ...pieces.filter(p => p.length > 0)]
  }
  const out = new Uint8Array(headerLength + length)
  writeFrameHeader(out, 0, opcode, fin, length, maskKey)
  let at = headerLength
  for (const p of pieces) { out.set(p, at); at += p.length }
  const body = out.subarray(headerLength)
  applyMask(body, maskKey)
  return [out.subarray(0, headerLength), body]
}

/** Human-readable form for errors and traces, e.g. `Binary FIN len=5` or `Close len=2 masked`. */
export function formatFrameHeader (h: FrameHeader): string {
  return `${Opcode[h.opcode] ?? `0x${h.opcode.toString(16)}`}${h.fin ? ' FIN' : ''} len=${h.length}${
    h.masked ? ' masked' : ''
  }`
}

// ── Close frame payload (§5.5.1): [u16 status code ‖ UTF-8 reason] or empty ────────────────────────

/** A received close frame: code 1005 (NoStatus) when the payload was empty (§7.1.5). */
export interface ClosePayload {
  code: number
  reason: string
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * §7.4: codes a peer may send. 1000–1003 and 1007–1011 (§7.4.1), 1012–1014 registered since in
 * the IANA "WebSocket Close Code Number Registry" (as ws and Autobahn allow), 3000–4999 for
 * libraries and applications. 1004, 1005, 1006, 1015 and everything below 3000 else are not for
 * the wire.
 */
export function isValidCloseCode (code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

/**
 * Decode a close frame's (unmasked) payload. Throws WsError: a 1-byte payload or a code not for the
 * wire → 1002; a reason that is not valid UTF-8 → 1007 (§8.1).
 */
export function decodeClosePayload (payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' }
  if (payload.length === 1) throw protocolError('"close payload" expected 0 or >= 2 bytes, got 1')
  const code = ((payload[0] as number) << 8) | (payload[1] as number)
  if (!isValidCloseCode(code)) {
    throw protocolError(`"close code" expected 1000-1003, 1007-1014 or 3000-4999, got ${code}`)
  }
  let reason: string
  try {
    reason = utf8.decode(payload.subarray(2))
  } catch (err) {
    throw new WsError(
      'ERR_WS_INVALID_PAYLOAD',
      `"close reason" expected UTF-8, got ${payload.length - 2} bytes that are not`,
      { closeCode: CloseCode.InvalidPayload },
      { cause: err }
    )
  }
  return { code, reason }
}

/**
 * Encode a close payload. `code` undefined → empty payload. The reason is cut (at a character
 * boundary) to fit the 125-byte control frame limit.
 */
export function encodeClosePayload (code?: number, reason = ''): Uint8Array {
  if (code === undefined) return new Uint8Array(0)
  if (!isValidCloseCode(code)) {
    throw new RangeError(`"close code" expected 1000-1003, 1007-1014 or 3000-4999, got ${code}`)
  }
  let r = utf8Encoder.encode(reason)
  if (r.length > MAX_CONTROL_PAYLOAD - 2) {
    let cut = MAX_CONTROL_PAYLOAD - 2
    while (cut > 0 && ((r[cut] as number) & 0xc0) === 0x80) cut-- // not inside a UTF-8 sequence
    r = r.subarray(0, cut)
  }
  const out = new Uint8Array(2 + r.length)
  out[0] = code >>> 8
  out[1] = code & 0xff
  out.set(r, 2)
  return out
}
