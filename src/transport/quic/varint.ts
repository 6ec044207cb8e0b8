/**
 * QUIC variable-length integers (RFC 9000 §16): the two most significant bits of the first byte
 * give the length (00 → 1, 01 → 2, 10 → 4, 11 → 8 bytes), the rest is the value, big-endian.
 *
 *   1 byte  ≤ 63   2 bytes ≤ 16383   4 bytes ≤ 2^30-1   8 bytes ≤ 2^62-1
 *
 * Unlike unsigned-varint, a longer-than-needed encoding is legal (RFC 9000 §16: "values do not need
 * to be encoded on the minimum number of bytes"); only frame types must be minimal (§12.4), which
 * the frame decoder checks. Values are JavaScript numbers: exact up to 2^53-1. An 8-byte value
 * above that (legal on the wire, met only as "unlimited" flow-control or stream limits) is rounded
 * down to the nearest double, which keeps every comparison against real offsets correct.
 */

/** RFC 9000 §16: the largest value a varint carries. As a double: 2^62 rounds to itself, minus 1 is lost. */
export const MAX_VARINT = 2 ** 62 - 1

const TWO_32 = 0x1_0000_0000

/** Bytes `n` takes in its shortest encoding. */
export function varintLength (n: number): 1 | 2 | 4 | 8 {
  if (n < 0x40) return 1
  if (n < 0x4000) return 2
  if (n < 0x4000_0000) return 4
  return 8
}

function assertEncodable (n: number): void {
  if (Number.isInteger(n) && n >= 0 && n <= MAX_VARINT) return
  throw new RangeError(`"varint value" expected an integer in [0, 2^62-1], got ${n}`)
}

/**
 * Write `n` at `target[offset]` in `length` bytes (its shortest form unless a longer one is asked
 * for, e.g. a Length field reserved before the payload size is known). Returns the bytes written.
 */
export function writeVarint (
  target: Uint8Array,
  offset: number,
  n: number,
  length: 1 | 2 | 4 | 8 = varintLength(n)
): number {
  assertEncodable(n)
  if (length < varintLength(n)) throw new RangeError(`"varint length" ${length} too short for ${n}`)
  switch (length) {
    case 1:
      target[offset] = n
      return 1
    case 2:
      target[offset] = 0x40 | (n >>> 8)
      target[offset + 1] = n
      return 2
    case 4:
      target[offset] = 0x80 | (n >>> 24)
      target[offset + 1] = n >>> 16
      target[offset + 2] = n >>> 8
      target[offset + 3] = n
      return 4
    default: {
      // 2^62-1 is not a double: MAX_VARINT is 2^62, written as the wire maximum
      if (n >= MAX_VARINT) { target.fill(0xff, offset, offset + 8); return 8 }
      const hi = Math.floor(n / TWO_32)
      const lo = n - hi * TWO_32
      target[offset] = 0xc0 | (hi >>> 24)
      target[offset + 1] = hi >>> 16
      target[offset + 2] = hi >>> 8
      target[offset + 3] = hi
      target[offset + 4] = lo >>> 24
      target[offset + 5] = lo >>> 16
      target[offset + 6] = lo >>> 8
      target[offset + 7] = lo
      return 8
    }
  }
}

/** `n` in a fresh array, shortest form. */
export function encodeVarint (n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  writeVarint(out, 0, n)
  return out
}

/**
 * Decode the varint at `buf[offset]`: `[value, bytesRead]`, with `bytesRead === 0` when the buffer
 * ends first ("need more bytes" is a result, not an error; callers inside a packet turn it into
 * their own error). `end` bounds the read inside a larger buffer.
 */
export function decodeVarint (buf: Uint8Array, offset = 0, end = buf.length): [number, number] {
  if (offset >= end) return [0, 0]
  const first = buf[offset] as number
  const length = 1 << (first >>> 6)
  if (offset + length > end) return [0, 0]
  switch (length) {
    case 1:
      return [first, 1]
    case 2:
      return [((first & 0x3f) << 8) | (buf[offset + 1] as number), 2]
    case 4:
      return [
        (((first & 0x3f) << 24) | ((buf[offset + 1] as number) << 16) | ((buf[offset + 2] as number) << 8) |
          (buf[offset + 3] as number)) >>> 0,
        4
      ]
    default: {
      const hi =
        (((first & 0x3f) << 24) | ((buf[offset + 1] as number) << 16) | ((buf[offset + 2] as number) << 8) |
          (buf[offset + 3] as number)) >>> 0
      const lo =
        (((buf[offset + 4] as number) << 24) | ((buf[offset + 5] as number) << 16) |
          ((buf[offset + 6] as number) << 8) | (buf[offset + 7] as number)) >>> 0
      return [hi * TWO_32 + lo, 8]
    }
  }
}
