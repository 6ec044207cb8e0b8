/**
 * unsigned-varint (multiformats/unsigned-varint README): LEB128, 7 payload bits per byte, least
 * significant group first, MSB set on every byte but the last.
 *
 * The spec's two MUSTs are enforced on decode:
 *  - at most 9 bytes ("practical maximum" of 63 bits);
 *  - minimal encoding (a final 0x00 byte is only legal as the single byte `00`).
 * JavaScript numbers are exact only up to 2^53 - 1, so a longer legal varint is refused with
 * ERR_VARINT_UNSAFE_INTEGER rather than rounded.
 */
import { VarintError } from '../errors.js'
import { allocUnsafe } from './alloc.js'

/** unsigned-varint README: "MUST restrict … to 9 bytes". */
export const MAX_VARINT_BYTES = 9

/** Largest value a decoded varint may carry here (`Number.MAX_SAFE_INTEGER`). */
export const MAX_SAFE_VARINT = Number.MAX_SAFE_INTEGER

function assertEncodable (n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`"varint value" expected an integer in [0, ${MAX_SAFE_VARINT}], got ${n}`)
  }
}

/** Number of bytes `n` takes on the wire. */
export function encodingLength (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x20_0000) return 3
  if (n < 0x1000_0000) return 4
  let len = 4
  let high = Math.floor(n / 0x1000_0000)
  while (high > 0) { len++; high = Math.floor(high / 0x80) }
  return len
}

/** Write `n` at `target[offset]`; returns the number of bytes written. */
export function encodeUvarintTo (n: number, target: Uint8Array, offset: number): number {
  assertEncodable(n)
  let pos = offset
  if (n >= 0x8000_0000) {
    // Bit operations are 32-bit in JS: emit the low 28 bits from `lo`, then continue with the high part.
    const lo = n % 0x1000_0000
    target[pos++] = (lo & 0x7f) | 0x80
    target[pos++] = ((lo >>> 7) & 0x7f) | 0x80
    target[pos++] = ((lo >>> 14) & 0x7f) | 0x80
    target[pos++] = ((lo >>> 21) & 0x7f) | 0x80
    n = (n - lo) / 0x1000_0000
    while (n >= 0x80) {
      target[pos++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    target[pos++] = n
    return pos - offset
  }
  while (n >= 0x80) {
    target[pos++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  target[pos++] = n
  return pos - offset
}

/** A fresh buffer holding the varint encoding of `n`. */
export function encodeUvarint (n: number): Uint8Array {
  const out = allocUnsafe(encodingLength(n))
  encodeUvarintTo(n, out, 0)
  return out
}

/** `decodeUvarintValue`'s "the input ends mid-varint" result. */
export const NEED_MORE_BYTES = -1

/**
 * The hot-path decoder: the value of the varint at `buf[offset]`, or NEED_MORE_BYTES (-1) when the
 * input ends mid-varint. It allocates nothing; because encodings are minimal, the number of bytes
 * used is exactly `encodingLength(value)`.
 * Throws VarintError for a non-minimal encoding, more than 9 bytes, or a value above 2^53 - 1.
 */
export function decodeUvarintValue (buf: Uint8Array, offset = 0): number {
  const b0 = buf[offset]
  if (b0 === undefined) return NEED_MORE_BYTES
  if (b0 < 0x80) return b0
  const b1 = buf[offset + 1]
  if (b1 === undefined) return NEED_MORE_BYTES
  if (b1 < 0x80) {
    if (b1 === 0) throw notMinimal(buf, offset, 2)
    return (b0 & 0x7f) | (b1 << 7)
  }
  return decodeLong(buf, offset)
}

/**
 * Decode the varint starting at `buf[offset]`.
 * Returns `[value, bytesRead]`; `bytesRead === 0` means the input ends mid-varint (need more bytes).
 * Throws VarintError for a non-minimal encoding, more than 9 bytes, or a value above 2^53 - 1.
 */
export function decodeUvarint (buf: Uint8Array, offset = 0): [value: number, bytesRead: number] {
  const value = decodeUvarintValue(buf, offset)
  return value === NEED_MORE_BYTES ? [0, 0] : [value, encodingLength(value)]
}

function decodeLong (buf: Uint8Array, offset: number): number {
  // Bytes 0 and 1 are known to carry the continuation bit. Bytes 2 and 3 still fit 32-bit arithmetic
  // (28 bits); from byte 4 on, multiply (JS bit operations would overflow).
  let value = ((buf[offset] as number) & 0x7f) | (((buf[offset + 1] as number) & 0x7f) << 7)
  let b = buf[offset + 2]
  if (b === undefined) return NEED_MORE_BYTES
  value |= (b & 0x7f) << 14
  if (b < 0x80) {
    if (b === 0) throw notMinimal(buf, offset, 3)
    return value
  }
  b = buf[offset + 3]
  if (b === undefined) return NEED_MORE_BYTES
  value |= (b & 0x7f) << 21
  if (b < 0x80) {
    if (b === 0) throw notMinimal(buf, offset, 4)
    return value
  }
  let scale = 0x1000_0000
  for (let i = 4; i < MAX_VARINT_BYTES; i++) {
    b = buf[offset + i]
    if (b === undefined) return NEED_MORE_BYTES
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      if (b === 0) throw notMinimal(buf, offset, i + 1)
      if (value > MAX_SAFE_VARINT) {
        throw new VarintError(
          'ERR_VARINT_UNSAFE_INTEGER',
          `"varint value" expected <= ${MAX_SAFE_VARINT}, got a ${i + 1}-byte varint above 2^53-1 at offset ${offset}`
        )
      }
      return value
    }
    scale *= 0x80
  }
  throw new VarintError(
    'ERR_VARINT_TOO_LONG',
    `"varint" expected <= ${MAX_VARINT_BYTES} bytes, got more (continuation bit set on byte ${MAX_VARINT_BYTES}) at offset ${offset}`
  )
}

function notMinimal (buf: Uint8Array, offset: number, len: number): VarintError {
  const hex = Array.from(buf.subarray(offset, offset + len), b => b.toString(16).padStart(2, '0')).join('')
  return new VarintError('ERR_VARINT_NOT_MINIMAL', `"varint" expected minimal encoding, got ${hex} at offset ${offset}`)
}
