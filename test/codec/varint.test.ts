import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodeUvarint,
  encodeUvarint,
  encodeUvarintTo,
  encodingLength,
  MAX_VARINT_BYTES
} from '../../src/codec/varint.js'
import { CodecError, VarintError } from '../../src/errors.js'
import { refDecode, refEncode } from '../reference/varint.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))

describe('unsigned-varint: spec vectors (digest §1)', () => {
  const vectors: Array<[number, string]> = [
    [0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [255, 'ff01'], [300, 'ac02'],
    [16384, '808001'], [65535, 'ffff03'], [2 ** 32 - 1, 'ffffffff0f'],
    [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f']
  ]
  it.each(vectors)('%d <-> %s', (value, bytes) => {
    expect(hex(encodeUvarint(value))).toBe(bytes)
    expect(encodingLength(value)).toBe(bytes.length / 2)
    expect(decodeUvarint(unhex(bytes))).toEqual([value, bytes.length / 2])
  })

  it('decodes at an offset and writes at an offset', () => {
    const buf = new Uint8Array(6)
    expect(encodeUvarintTo(300, buf, 3)).toBe(2)
    expect(decodeUvarint(buf, 3)).toEqual([300, 2])
  })

  it.each(['8100', '8000', '80808000', 'ff8000'])('rejects non-minimal %s', (bytes) => {
    expect(() => decodeUvarint(unhex(bytes))).toThrowError(expect.objectContaining({ code: 'ERR_VARINT_NOT_MINIMAL' }))
  })

  it('rejects a 10-byte varint', () => {
    const err = captureError(() => decodeUvarint(unhex('ffffffffffffffff8001')))
    expect(err).toBeInstanceOf(VarintError)
    expect(err).toMatchObject({ code: 'ERR_VARINT_TOO_LONG' })
  })

  it('refuses 2^63-1 (legal on the wire) instead of rounding it', () => {
    expect(() => decodeUvarint(unhex('ffffffffffffffff7f'))).toThrowError(
      expect.objectContaining({ code: 'ERR_VARINT_UNSAFE_INTEGER' })
    )
    expect(() => decodeUvarint(unhex('8080808080808010'))).toThrowError(
      expect.objectContaining({ code: 'ERR_VARINT_UNSAFE_INTEGER' })
    )
  })

  it('reports truncation as "need more bytes"', () => {
    expect(decodeUvarint(unhex('ff'))).toEqual([0, 0])
    expect(decodeUvarint(new Uint8Array(0))).toEqual([0, 0])
    expect(decodeUvarint(unhex('ffffffff'))).toEqual([0, 0])
  })

  it('refuses values it cannot encode', () => {
    for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
      expect(() => encodeUvarint(bad)).toThrow(RangeError)
    }
  })
})

describe('unsigned-varint: properties', () => {
  const safe = fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.maxSafeNat())

  it('round trips and agrees with the bigint reference', () => {
    fc.assert(fc.property(safe, (n) => {
      const enc = encodeUvarint(n)
      expect(hex(enc)).toBe(hex(refEncode(BigInt(n))))
      expect(enc.length).toBe(encodingLength(n))
      expect(decodeUvarint(enc)).toEqual([n, enc.length])
    }), { numRuns: 2000 })
  })

  it('truncation at every offset gives "need more", never a wrong value', () => {
    fc.assert(fc.property(safe, (n) => {
      const enc = encodeUvarint(n)
      for (let cut = 0; cut < enc.length; cut++) {
        expect(decodeUvarint(enc.subarray(0, cut))).toEqual([0, 0])
      }
    }))
  })

  it('random bytes give a value equal to the reference or a VarintError', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 12 }), (bytes) => {
      let ref: [bigint, number] | Error
      try { ref = refDecode(bytes) } catch (e) { ref = e as Error }
      let ours: [number, number] | Error
      try { ours = decodeUvarint(bytes) } catch (e) { ours = e as Error }
      if (ours instanceof Error) {
        expect(ours).toBeInstanceOf(CodecError)
        if (!(ref instanceof Error)) expect(ref[0] > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true)
      } else {
        expect(ref).not.toBeInstanceOf(Error)
        const [v, l] = ref as [bigint, number]
        expect([BigInt(ours[0]), ours[1]]).toEqual([v, l])
        expect(ours[1]).toBeLessThanOrEqual(MAX_VARINT_BYTES)
      }
    }), { numRuns: 5000 })
  })
})

function captureError (fn: () => unknown): unknown {
  try { fn() } catch (e) { return e }
  throw new Error('expected a throw')
}
