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
  // Bit operations are 32-bit in JS: peel 7-bit groups off with division above 2^31.
  while (n >= 0x8000_0000) {
    target[pos++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
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
  const out = new Uint8Array(encodingLength(n))
  encodeUvarintTo(n, out, 0)
  return out
}

/**
 * Decode the varint starting at `buf[offset]`.
 * Returns `[value, bytesRead]`; `bytesRead === 0` means the input ends mid-varint (need more bytes).
 * Throws VarintError for a non-minimal encoding, more than 9 bytes, or a value above 2^53 - 1.
 */
export function decodeUvarint (buf: Uint8Array, offset = 0): [value: number, bytesRead: number] {
  // Fast path: the one- and two-byte forms carry nearly every length libp2p sends.
  const end = buf.length
  if (offset >= end) return [0, 0]
  const b0 = buf[offset] as number
  if (b0 < 0x80) return [b0, 1]
  if (offset + 1 >= end) return [0, 0]
  const b1 = buf[offset + 1] as number
  if (b1 < 0x80) {
    if (b1 === 0) throw notMinimal(buf, offset, 2)
    return [(b0 & 0x7f) | (b1 << 7), 2]
  }
  return decodeLong(buf, offset)
}

function decodeLong (buf: Uint8Array, offset: number): [number, number] {
  let lo = 0 // bits 0..27 from the first four bytes
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const pos = offset + i
    if (pos >= buf.length) return [0, 0]
    const b = buf[pos] as number
    if (i < 4) {
      lo |= (b & 0x7f) << (7 * i)
      if (i === 3) { value = lo >>> 0; scale = 0x1000_0000 }
    } else {
      value += (b & 0x7f) * scale
      scale *= 0x80
    }
    if (b < 0x80) {
      if (b === 0 && i > 0) throw notMinimal(buf, offset, i + 1)
      if (i < 4) return [lo >>> 0, i + 1]
      if (value > MAX_SAFE_VARINT) {
        throw new VarintError('ERR_VARINT_UNSAFE_INTEGER', `"varint value" expected <= ${MAX_SAFE_VARINT}, got a ${i + 1}-byte varint above 2^53-1 at offset ${offset}`)
      }
      return [value, i + 1]
    }
  }
  throw new VarintError('ERR_VARINT_TOO_LONG', `"varint" expected <= ${MAX_VARINT_BYTES} bytes, got more (continuation bit set on byte ${MAX_VARINT_BYTES}) at offset ${offset}`)
}

function notMinimal (buf: Uint8Array, offset: number, len: number): VarintError {
  const hex = Array.from(buf.subarray(offset, offset + len), b => b.toString(16).padStart(2, '0')).join('')
  return new VarintError('ERR_VARINT_NOT_MINIMAL', `"varint" expected minimal encoding, got ${hex} at offset ${offset}`)
}
