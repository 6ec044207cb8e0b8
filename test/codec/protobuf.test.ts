import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeFields, decodeString, ProtoWriter, WireType } from '../../src/codec/protobuf.js'
import { CodecError } from '../../src/errors.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('protobuf wire reader/writer', () => {
  it('writes the deterministic PublicKey encoding of the peer-id spec', () => {
    const data = Buffer.from('1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e', 'hex')
    const enc = new ProtoWriter().varint(1, 1).bytes(2, data).finish()
    expect(hex(enc)).toBe('08011220' + data.toString('hex'))
    const fields = decodeFields(enc)
    expect(fields.map(f => [f.field, f.wireType])).toEqual([[1, WireType.Varint], [2, WireType.LengthDelimited]])
    expect(fields[0]?.value).toBe(1)
    expect(hex(fields[1]?.bytes ?? new Uint8Array())).toBe(data.toString('hex'))
  })

  it('writes RSA type 0 explicitly', () => {
    expect(hex(new ProtoWriter().varint(1, 0).bytes(2, Uint8Array.of(1)).finish())).toBe('080012' + '0101')
  })

  it('round trips every wire type and keeps unknown fields for the caller to skip', () => {
    const enc = new ProtoWriter().string(5, 'ipfs/0.1.0').fixed32(9, 0xdeadbeef).fixed64(10, 7n).bool(11, true).finish()
    const f = decodeFields(enc)
    expect(decodeString(f[0]!.bytes)).toBe('ipfs/0.1.0')
    expect(f[1]).toMatchObject({ field: 9, wireType: WireType.Fixed32, value: 0xdeadbeef })
    expect(hex(f[2]!.bytes)).toBe('0700000000000000')
    expect(f[3]).toMatchObject({ field: 11, value: 1 })
  })

  it.each([
    ['truncated length-delimited', '0a05aabb'],
    ['truncated key', '80'],
    ['group wire type', '0b'],
    ['field number 0', '0001'],
    ['truncated fixed32', '0d0102'],
    ['truncated fixed64', '09010203'],
    ['non-minimal varint', '088000']
  ])('rejects %s', (_name, bytes) => {
    expect(() => decodeFields(Buffer.from(bytes, 'hex'))).toThrowError(
      expect.objectContaining({ code: 'ERR_PROTOBUF_MALFORMED' })
    )
  })

  it('rejects invalid UTF-8 strings', () => {
    expect(() => decodeString(Uint8Array.of(0xff, 0xfe))).toThrow(CodecError)
  })

  it('property: round trip of random messages', () => {
    const field = fc.oneof(
      fc.record({ kind: fc.constant('v' as const), field: fc.integer({ min: 1, max: 1000 }), n: fc.maxSafeNat() }),
      fc.record({
        kind: fc.constant('b' as const),
        field: fc.integer({ min: 1, max: 1000 }),
        b: fc.uint8Array({ maxLength: 50 })
      })
    )
    fc.assert(
      fc.property(fc.array(field, { maxLength: 10 }), (fields) => {
        const w = new ProtoWriter()
        for (const f of fields) f.kind === 'v' ? w.varint(f.field, f.n) : w.bytes(f.field, f.b)
        const enc = w.finish()
        const dec = decodeFields(enc)
        expect(dec.length).toBe(fields.length)
        dec.forEach((d, i) => {
          const f = fields[i]!
          expect(d.field).toBe(f.field)
          if (f.kind === 'v') expect(d.value).toBe(f.n)
          else expect(Array.from(d.bytes)).toEqual(Array.from(f.b))
        })
        for (let cut = 1; cut < enc.length; cut++) {
          try {
            decodeFields(enc.subarray(0, cut))
          } catch (e) {
            expect(e).toBeInstanceOf(CodecError)
          }
        }
      }),
      { numRuns: 500 }
    )
  })

  it('property: garbage gives fields or a CodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeFields(bytes)
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError)
        }
      }),
      { numRuns: 5000 }
    )
  })
})
