/**
 * The key protobufs (peer-ids.md §Keys): the deterministic encoding, the spec vectors' shapes, and a
 * strict decoder (round trip, truncation at every offset, garbage → typed error only).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeKeyMessage, encodeKeyMessage, KeyType, keyTypeName } from '../../src/proto/keys.js'
import { KeyError } from '../../src/errors.js'
import { hex, KEY_VECTORS, unhex } from '../security/vectors.js'

describe('key protobufs', () => {
  it('pins the KeyType enum', () => {
    expect(KeyType).toEqual({ RSA: 0, Ed25519: 1, Secp256k1: 2, ECDSA: 3 })
    expect([0, 1, 2, 3].map(t => keyTypeName(t as KeyType))).toEqual(['RSA', 'Ed25519', 'Secp256k1', 'ECDSA'])
  })

  it.each(KEY_VECTORS.map(v => [v.name, v] as const))('%s vector: decodes and re-encodes byte for byte', (_n, v) => {
    for (const h of [v.publicKey, v.privateKey.toLowerCase()]) {
      const m = decodeKeyMessage(unhex(h), 'key')
      expect(hex(encodeKeyMessage(m))).toBe(h)
    }
  })

  it('writes Type 0 (RSA) explicitly and a multi-byte Data length minimally', () => {
    expect(hex(encodeKeyMessage({ type: KeyType.RSA, data: new Uint8Array(0) }))).toBe('08001200')
    expect(hex(encodeKeyMessage({ type: KeyType.RSA, data: new Uint8Array(300) })).slice(0, 10)).toBe('080012ac02')
  })

  it('round trips any type and data', () => {
    fc.assert(fc.property(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 600 }), (type, data) => {
      const enc = encodeKeyMessage({ type: type as KeyType, data })
      const dec = decodeKeyMessage(enc, 'key')
      return dec.type === type && hex(dec.data) === hex(data)
    }))
  })

  it('every truncation is a KeyError', () => {
    const enc = unhex(KEY_VECTORS[1]!.publicKey)
    for (let i = 0; i < enc.length; i++) {
      expect(() => decodeKeyMessage(enc.subarray(0, i), 'public key')).toThrowError(KeyError)
    }
  })

  it('garbage raises KeyError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), bytes => {
      try {
        const m = decodeKeyMessage(bytes, 'key')
        return hex(encodeKeyMessage(m)) === hex(bytes) // what decodes is canonical
      } catch (err) {
        return err instanceof KeyError
      }
    }), { numRuns: 2000 })
  })
})
