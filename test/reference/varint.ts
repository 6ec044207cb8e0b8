// Naive bigint unsigned-varint, the reference the fast codec is checked (and benchmarked) against.
export function refEncode (n: bigint): Uint8Array {
  const out: number[] = []
  do {
    let b = Number(n & 0x7fn)
    n >>= 7n
    if (n > 0n) b |= 0x80
    out.push(b)
  } while (n > 0n)
  return Uint8Array.from(out)
}

/** Returns [value, length] or throws a string reason; length 0 = incomplete. */
export function refDecode (buf: Uint8Array, offset = 0): [bigint, number] {
  let value = 0n
  for (let i = 0; i < 9; i++) {
    if (offset + i >= buf.length) return [0n, 0]
    const b = buf[offset + i] as number
    value |= BigInt(b & 0x7f) << BigInt(7 * i)
    if (b < 0x80) {
      if (b === 0 && i > 0) throw new Error('not minimal')
      return [value, i + 1]
    }
  }
  throw new Error('too long')
}
