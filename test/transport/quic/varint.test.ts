import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodeVarint,
  encodeVarint,
  MAX_VARINT,
  varintLength,
  writeVarint
} from '../../../src/transport/quic/varint.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

describe('QUIC varint (RFC 9000 §16)', () => {
  // RFC 9000 Appendix A.1 sample encodings
  it.each([
    // Above 2^53: the literal and the decoded double round alike (the decoder documents the limit).
    // eslint-disable-next-line @typescript-eslint/no-loss-of-precision
    ['c2197c5eff14e88c', 151288809941952652],
    ['9d7f3e7d', 494878333],
    ['7bbd', 15293],
    ['25', 37],
    ['4025', 37]
  ])('decodes %s to %d', (bytes, value) => {
    expect(decodeVarint(unhex(bytes))).toEqual([value, bytes.length / 2])
  })

  it('encodes in the shortest form', () => {
    expect(hex(encodeVarint(37))).toBe('25')
    expect(hex(encodeVarint(15293))).toBe('7bbd')
    expect(hex(encodeVarint(494878333))).toBe('9d7f3e7d')
    expect(hex(encodeVarint(63))).toBe('3f')
    expect(hex(encodeVarint(64))).toBe('4040')
    expect(hex(encodeVarint(2 ** 30))).toBe('c000000040000000')
    expect(hex(encodeVarint(MAX_VARINT))).toBe('ffffffffffffffff')
  })

  it('writes a longer encoding on request and refuses a too-short one', () => {
    const buf = new Uint8Array(4)
    expect(writeVarint(buf, 0, 37, 4)).toBe(4)
    expect(decodeVarint(buf)).toEqual([37, 4])
    expect(() => writeVarint(buf, 0, 64, 1)).toThrow(RangeError)
  })

  it('refuses values it cannot encode', () => {
    for (const bad of [-1, 1.5, NaN, 2 ** 62 + 2 ** 12]) expect(() => encodeVarint(bad)).toThrow(RangeError)
  })

  it('round trips every exact value and reports truncation at every offset as need-more', () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeNat()), (n) => {
      const enc = encodeVarint(n)
      expect(enc.length).toBe(varintLength(n))
      expect(decodeVarint(enc)).toEqual([n, enc.length])
      for (let i = 0; i < enc.length; i++) expect(decodeVarint(enc.subarray(0, i))).toEqual([0, 0])
      // bounded by `end` inside a larger buffer
      const padded = new Uint8Array(enc.length + 3)
      padded.set(enc, 1)
      expect(decodeVarint(padded, 1, 1 + enc.length)).toEqual([n, enc.length])
      expect(decodeVarint(padded, 1, enc.length)).toEqual([0, 0])
    }))
  })

  it('decodes any bytes to a value below 2^62 (garbage cannot throw)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), (b) => {
      const [v, n] = decodeVarint(b)
      expect(n).toBe(1 << ((b[0] as number) >>> 6))
      expect(v).toBeLessThanOrEqual(2 ** 62)
    }))
  })
})
