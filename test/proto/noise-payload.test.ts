/**
 * NoiseHandshakePayload (noise/README.md §"The libp2p Handshake Payload"): the signed payload vector
 * of digest §3.5, skipping of retired/unknown fields, and decoder properties.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeNoiseHandshakePayload, encodeNoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import type { NoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import { CodecError } from '../../src/errors.js'
import { ProtoWriter } from '../../src/codec/protobuf.js'
import { hex, SIGNED_PAYLOAD_VECTOR as V, unhex } from '../security/vectors.js'

const identityKey = unhex('080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e')

describe('NoiseHandshakePayload', () => {
  it('encodes the digest §3.5 vector (stream_muxers = [/yamux/1.0.0]) byte for byte', () => {
    const enc = encodeNoiseHandshakePayload({
      identityKey,
      identitySig: unhex(V.signature),
      extensions: { webtransportCerthashes: [], streamMuxers: ['/yamux/1.0.0'] }
    })
    expect(hex(enc)).toBe(V.payloadWithYamux)
    expect(enc).toHaveLength(120)
    const dec = decodeNoiseHandshakePayload(enc)
    expect(hex(dec.identityKey)).toBe(hex(identityKey))
    expect(hex(dec.identitySig)).toBe(V.signature)
    expect(dec.extensions).toEqual({ webtransportCerthashes: [], streamMuxers: ['/yamux/1.0.0'] })
  })

  it('omits extensions entirely when none are given; an empty extensions message stays present', () => {
    const bare = decodeNoiseHandshakePayload(
      encodeNoiseHandshakePayload({ identityKey, identitySig: Uint8Array.of(1) })
    )
    expect(bare.extensions).toBeUndefined()
    const empty = encodeNoiseHandshakePayload({
      identityKey,
      identitySig: Uint8Array.of(1),
      extensions: { webtransportCerthashes: [], streamMuxers: [] }
    })
    expect(hex(empty).endsWith('2200')).toBe(true)
    expect(decodeNoiseHandshakePayload(empty).extensions).toEqual({ webtransportCerthashes: [], streamMuxers: [] })
  })

  it('skips the retired early-data field 3 and unknown fields; missing fields decode empty', () => {
    const enc = new ProtoWriter().bytes(3, Uint8Array.of(9, 9)).bytes(1, identityKey).varint(7, 5).bytes(
      2,
      Uint8Array.of(1, 2)
    ).finish()
    const dec = decodeNoiseHandshakePayload(enc)
    expect(hex(dec.identityKey)).toBe(hex(identityKey))
    expect(hex(dec.identitySig)).toBe('0102')
    const none = decodeNoiseHandshakePayload(new Uint8Array(0))
    expect(none.identityKey).toHaveLength(0)
    expect(none.identitySig).toHaveLength(0)
  })

  it('keeps certhashes and several muxers in order', () => {
    const p: NoiseHandshakePayload = {
      identityKey,
      identitySig: Uint8Array.of(7),
      extensions: {
        webtransportCerthashes: [Uint8Array.of(0x12, 0x20, 1)],
        streamMuxers: ['/yamux/1.0.0', '/mplex/6.7.0']
      }
    }
    expect(decodeNoiseHandshakePayload(encodeNoiseHandshakePayload(p))).toEqual(p)
  })

  it('refuses wrong wire types and invalid UTF-8 muxer names with CodecError', () => {
    expect(() => decodeNoiseHandshakePayload(new ProtoWriter().varint(1, 5).finish())).toThrowError(CodecError)
    const ext = new ProtoWriter().bytes(2, Uint8Array.of(0xff, 0xfe)).finish()
    expect(() => decodeNoiseHandshakePayload(new ProtoWriter().bytes(4, ext).finish())).toThrowError(CodecError)
  })

  it('round trips, and garbage / truncations raise CodecError only', () => {
    const arb = fc.record({
      identityKey: fc.uint8Array({ maxLength: 60 }),
      identitySig: fc.uint8Array({ maxLength: 80 }),
      extensions: fc.option(fc.record({
        webtransportCerthashes: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }),
        streamMuxers: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 4 })
      }), { nil: undefined })
    })
    fc.assert(fc.property(arb, p => {
      const payload: NoiseHandshakePayload = { identityKey: p.identityKey, identitySig: p.identitySig }
      if (p.extensions !== undefined) payload.extensions = p.extensions
      const enc = encodeNoiseHandshakePayload(payload)
      expect(decodeNoiseHandshakePayload(enc)).toEqual(payload)
      for (let i = 0; i < enc.length; i++) {
        try { decodeNoiseHandshakePayload(enc.subarray(0, i)) } catch (err) { expect(err).toBeInstanceOf(CodecError) }
      }
    }), { numRuns: 200 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), b => {
      try { decodeNoiseHandshakePayload(b) } catch (err) { return err instanceof CodecError }
      return true
    }), { numRuns: 2000 })
  })
})
