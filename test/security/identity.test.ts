/**
 * Static-key authentication (noise/README.md §"Static Key Authentication"; digest §3.5): the signed
 * bytes, our payload for the spec identity and the cacophony static key, and verification.
 */
import { describe, expect, it } from 'vitest'
import { createHandshakePayload, staticKeySignedBytes, verifyStaticKeySignature } from '../../src/security/identity.js'
import { generateEd25519, nobleSuite, nodeSuite, unmarshalPrivateKey } from '../../src/security/index.js'
import { hex, SIGNED_PAYLOAD_VECTOR as V, unhex } from './vectors.js'

describe('static key signature', () => {
  const identity = unmarshalPrivateKey(unhex(V.identityPrivateKey))

  it('derives the vector static public key from its private key in both suites', () => {
    for (const s of [nodeSuite, nobleSuite]) {
      expect(hex(s.keyPairFromPrivateKey(unhex(V.staticPrivate)).publicKey)).toBe(V.staticPublic)
    }
  })

  it('signs "noise-libp2p-static-key:" ‖ static key (56 bytes)', () => {
    const signed = staticKeySignedBytes(unhex(V.staticPublic))
    expect(hex(signed)).toBe(V.signedBytesPrefix + V.staticPublic)
    expect(signed).toHaveLength(56)
  })

  it('builds the digest §3.5 payload byte for byte', () => {
    const payload = createHandshakePayload(identity, unhex(V.staticPublic), {
      webtransportCerthashes: [],
      streamMuxers: ['/yamux/1.0.0']
    })
    expect(hex(payload)).toBe(V.payloadWithYamux)
  })

  it('verifies over the right static key only', () => {
    verifyStaticKeySignature(identity.publicKey, unhex(V.signature), unhex(V.staticPublic))
    const other = Uint8Array.from(unhex(V.staticPublic))
    other[0] = (other[0] as number) ^ 1
    expect(() => verifyStaticKeySignature(identity.publicKey, unhex(V.signature), other)).toThrowError(
      expect.objectContaining({ name: 'NoiseError', code: 'ERR_INVALID_SIGNATURE' })
    )
    expect(() => verifyStaticKeySignature(generateEd25519().publicKey, unhex(V.signature), unhex(V.staticPublic)))
      .toThrowError(expect.objectContaining({ code: 'ERR_INVALID_SIGNATURE' }))
  })
})
