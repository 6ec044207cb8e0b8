/**
 * Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2 and A.3). Packet numbers go
 * up to 2^62-1, beyond 32-bit bitwise arithmetic, so the window maths is done with `%` and `*`.
 */

/** RFC 9000 §12.3: the largest packet number. */
export const MAX_PACKET_NUMBER = 2 ** 62 - 1

/**
 * Bytes (1-4) to send `fullPn` in, given the largest packet number the peer acknowledged in this
 * space (`-1`: none yet). RFC 9000 Appendix A.2: twice the number of unacknowledged packets must
 * fit, so the peer's window (±half) decodes it unambiguously.
 */
export function packetNumberLength (fullPn: number, largestAcked: number): 1 | 2 | 3 | 4 {
  const numUnacked = largestAcked < 0 ? fullPn + 1 : fullPn - largestAcked
  // min_bits = log2(num_unacked) + 1, num_bytes = ceil(min_bits / 8)
  const range = numUnacked * 2
  if (range <= 0x100) return 1
  if (range <= 0x1_0000) return 2
  if (range <= 0x100_0000) return 3
  return 4
}

/** The low `length` bytes of `fullPn` (RFC 9000 §17.1). */
export function truncatePacketNumber (fullPn: number, length: 1 | 2 | 3 | 4): number {
  return fullPn % (2 ** (8 * length))
}

/**
 * RFC 9000 Appendix A.3: the full packet number closest to `largestPn + 1` whose low `pnBits` bits
 * are `truncatedPn`. `largestPn` is the largest packet number successfully processed in the space
 * (`-1`: none yet).
 */
export function decodePacketNumber (largestPn: number, truncatedPn: number, pnBits: 8 | 16 | 24 | 32): number {
  const expectedPn = largestPn + 1
  const pnWin = 2 ** pnBits
  const pnHwin = pnWin / 2
  const candidatePn = expectedPn - (expectedPn % pnWin) + truncatedPn
  if (candidatePn <= expectedPn - pnHwin && candidatePn < 2 ** 62 - pnWin) return candidatePn + pnWin
  if (candidatePn > expectedPn + pnHwin && candidatePn >= pnWin) return candidatePn - pnWin
  return candidatePn
}

/** Write `value` big-endian in `length` bytes at `target[offset]`. */
export function writePacketNumber (target: Uint8Array, offset: number, value: number, length: 1 | 2 | 3 | 4): void {
  for (let i = length - 1; i >= 0; i--) {
    target[offset + i] = value & 0xff
    value = Math.floor(value / 256)
  }
}

/** Read a `length`-byte big-endian packet number. */
export function readPacketNumber (buf: Uint8Array, offset: number, length: number): number {
  let v = 0
  for (let i = 0; i < length; i++) v = v * 256 + (buf[offset + i] as number)
  return v
}
