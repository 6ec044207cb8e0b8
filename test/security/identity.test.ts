/**
 * Static-key authentication (noise/README.md §"Static Key Authentication"; digest §3.5): the signed
 * bytes, our payload for the spec identity and the cacophony static key, and verification.
 */
import { describe, expect, it } from 'vitest'
import {
  createHandshakePayload, staticKeySignedBytes, verifiedSignatures, VerifiedSignatures, verifyStaticKeySignature
} from '../../src/security/identity.js'
import type { PublicKey } from '../../src/security/keys.js'
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

describe('VerifiedSignatures (the memo of static-key signatures that verified)', () => {
  const identity = unmarshalPrivateKey(unhex(V.identityPrivateKey))
  const sig = unhex(V.signature)
  const rs = unhex(V.staticPublic)

  /** The identity's public key, counting the verifications that reach it. */
  function counting (key: PublicKey): { key: PublicKey, calls: () => number } {
    let n = 0
    const spy: PublicKey = {
      type: key.type,
      raw: key.raw,
      bytes: () => key.bytes(),
      equals: (o) => key.equals(o),
      verify: (msg, s) => { n++; return key.verify(msg, s) }
    }
    return { key: spy, calls: () => n }
  }

  it('verifies a triple once, then answers from the memo', () => {
    const memo = new VerifiedSignatures(4)
    const { key, calls } = counting(identity.publicKey)
    expect(memo.verify(key, sig, rs)).toBe(true)
    expect(memo.verify(key, sig, rs)).toBe(true)
    expect(memo.verify(key, Uint8Array.from(sig), Uint8Array.from(rs))).toBe(true) // by content, not identity
    expect(calls()).toBe(1)
  })

  it('never remembers a failure, and a remembered triple vouches for no other', () => {
    const memo = new VerifiedSignatures(4)
    const { key, calls } = counting(identity.publicKey)
    expect(memo.verify(key, sig, rs)).toBe(true)
    const otherRs = Uint8Array.from(rs)
    otherRs[31] = (otherRs[31] as number) ^ 1
    const otherSig = Uint8Array.from(sig)
    otherSig[0] = (otherSig[0] as number) ^ 1
    for (let i = 0; i < 2; i++) {
      expect(memo.verify(key, sig, otherRs)).toBe(false)
      expect(memo.verify(key, otherSig, rs)).toBe(false)
      expect(memo.verify(generateEd25519().publicKey, sig, rs)).toBe(false)
    }
    expect(calls()).toBe(5) // the first triple, then each wrong one (with this key) every time
    expect(memo.size).toBe(1)
  })

  it('holds at most maxEntries, dropping the least recently used', () => {
    const memo = new VerifiedSignatures(2)
    const peers = [0, 1, 2].map(() => {
      const id = generateEd25519()
      const staticKey = nodeSuite.generateKeyPair().publicKey
      return { id: counting(id.publicKey), sig: id.sign(staticKeySignedBytes(staticKey)), rs: staticKey }
    })
    const [a, b, c] = peers as [typeof peers[0], typeof peers[0], typeof peers[0]]
    memo.verify(a.id.key, a.sig, a.rs)
    memo.verify(b.id.key, b.sig, b.rs)
    memo.verify(a.id.key, a.sig, a.rs) // a is now the most recent
    memo.verify(c.id.key, c.sig, c.rs) // evicts b
    expect(memo.size).toBe(2)
    memo.verify(a.id.key, a.sig, a.rs)
    memo.verify(b.id.key, b.sig, b.rs)
    expect([a.id.calls(), b.id.calls(), c.id.calls()]).toEqual([1, 2, 1])
  })

  it('with maxEntries 0 verifies every time', () => {
    const memo = new VerifiedSignatures(0)
    const { key, calls } = counting(identity.publicKey)
    expect(memo.verify(key, sig, rs)).toBe(true)
    expect(memo.verify(key, sig, rs)).toBe(true)
    expect(calls()).toBe(2)
    expect(() => new VerifiedSignatures(-1)).toThrow(RangeError)
  })

  it('is what verifyStaticKeySignature consults', () => {
    verifiedSignatures.clear()
    const { key, calls } = counting(identity.publicKey)
    verifyStaticKeySignature(key, sig, rs)
    verifyStaticKeySignature(key, sig, rs)
    expect(calls()).toBe(1)
    expect(verifiedSignatures.size).toBe(1)
  })
})
