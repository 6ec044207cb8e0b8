/**
 * The two crypto suites must be interchangeable: identical bytes for every primitive on random
 * inputs, identical refusals (all-zero DH, bad tags), and whole handshakes that replay identically
 * when fed the same randomness. (The Noise vectors run through both in noise-vectors.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { nobleSuite, nodeSuite, SUITES, writeNonce } from '../../src/security/suite.js'
import type { CryptoSuite } from '../../src/security/suite.js'
import { XXHandshake } from '../../src/security/handshake-xx.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { hex } from './vectors.js'

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })

/** Deterministic "randomness" for injection: a counter-based stream. */
function seeded (seed: number): (n: number) => Uint8Array {
  let state = seed
  return n =>
    Uint8Array.from({ length: n }, () => {
      state = (state * 1103515245 + 12345) >>> 0
      return state >>> 24
    })
}

describe('nonce encoding (Noise §12.3)', () => {
  it('is 4 zero bytes then the 64-bit little-endian counter', () => {
    const n = new Uint8Array(12)
    writeNonce(n, 1)
    expect(hex(n)).toBe('000000000100000000000000')
    writeNonce(n, 0x0102_0304_0506)
    expect(hex(n)).toBe('000000000605040302010000')
    writeNonce(n, Number.MAX_SAFE_INTEGER)
    expect(hex(n)).toBe('00000000ffffffffffff1f00')
  })
})

describe('node and noble suites agree byte for byte', () => {
  it('X25519 public keys and shared secrets', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, b) => {
        const ka = nodeSuite.keyPairFromPrivateKey(a)
        expect(hex(ka.publicKey)).toBe(hex(nobleSuite.keyPairFromPrivateKey(a).publicKey))
        const kb = nobleSuite.keyPairFromPrivateKey(b)
        const s1 = nodeSuite.dh(a, kb.publicKey)
        expect(hex(s1)).toBe(hex(nobleSuite.dh(a, kb.publicKey)))
        expect(hex(s1)).toBe(hex(nodeSuite.dh(b, ka.publicKey)))
      }),
      { numRuns: 100 }
    )
  })

  it('SHA-256 and HKDF', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), bytes(32), (a, b, ck) => {
        expect(hex(nodeSuite.hash(a, b))).toBe(hex(nobleSuite.hash(a, b)))
        expect(hex(nodeSuite.hash(a))).toBe(hex(nobleSuite.hash(a)))
        const [n1, n2] = nodeSuite.hkdf(ck, a)
        const [m1, m2] = nobleSuite.hkdf(ck, a)
        expect([hex(n1), hex(n2)]).toEqual([hex(m1), hex(m2)])
      }),
      { numRuns: 200 }
    )
  })

  it('ChaCha20-Poly1305 seal and open, any AD, any nonce', () => {
    fc.assert(
      fc.property(
        bytes(32),
        fc.nat({ max: Number.MAX_SAFE_INTEGER - 1 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 2000 }),
        (k, n, ad, pt) => {
          const a = new Uint8Array(pt.length + 16 + 3)
          const b = new Uint8Array(pt.length + 16 + 3)
          nodeSuite.encryptInto(k, n, ad, pt, a, 3)
          nobleSuite.encryptInto(k, n, ad, pt, b, 3)
          expect(hex(a)).toBe(hex(b))
          const ct = a.subarray(3)
          expect(hex(nodeSuite.decrypt(k, n, ad, ct))).toBe(hex(pt))
          expect(hex(nobleSuite.decrypt(k, n, ad, ct))).toBe(hex(pt))
          const bad = Uint8Array.from(ct)
          bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1
          for (const s of SUITES) {
            expect(() => s.decrypt(k, n, ad, bad)).toThrowError(
              expect.objectContaining({ code: 'ERR_NOISE_DECRYPT' })
            )
          }
          for (const s of SUITES) {
            expect(() => s.decrypt(k, n + 1, ad, ct)).toThrowError(
              expect.objectContaining({ code: 'ERR_NOISE_DECRYPT' })
            )
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it('in-place encryption (plaintext already at its place in the output) gives the same bytes', () => {
    for (const s of SUITES) {
      const k = new Uint8Array(32).fill(3)
      const pt = Uint8Array.from({ length: 100 }, (_, i) => i)
      const ref = new Uint8Array(116)
      s.encryptInto(k, 5, new Uint8Array(0), pt, ref, 0)
      const buf = new Uint8Array(120)
      buf.set(pt, 4)
      s.encryptInto(k, 5, new Uint8Array(0), buf.subarray(4, 104), buf, 4)
      expect(hex(buf.subarray(4))).toBe(hex(ref))
    }
  })

  /** RFC 7748 / libsodium blocklist: the u-coordinates of small order, plus non-canonical 0 and 1. */
  const P = (1n << 255n) - 19n
  const lowOrder = [
    0n,
    1n,
    P - 1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    P,
    P + 1n
  ]
  const le = (x: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn))

  it.each(SUITES.map(s => [s.name, s] as const))(
    '%s: every low-order public key fails as a NoiseError handshake failure',
    (_n, s: CryptoSuite) => {
      const priv = new Uint8Array(32).fill(0x42)
      for (const u of lowOrder) {
        expect(() => s.dh(priv, le(u))).toThrowError(
          expect.objectContaining({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
        )
      }
    }
  )

  it('whole libp2p handshakes replay identically through both suites with injected randomness', () => {
    const idA = generateEd25519()
    const idB = generateEd25519()
    for (let seed = 1; seed <= 5; seed++) {
      const transcripts = SUITES.map(suite => {
        const rnd = seeded(seed)
        const sA = suite.keyPairFromPrivateKey(rnd(32))
        const sB = suite.keyPairFromPrivateKey(rnd(32))
        const a = new XXHandshake({
          initiator: true,
          identity: idA,
          suite,
          muxers: ['/yamux/1.0.0'],
          staticKey: sA,
          randomBytes: rnd
        })
        const b = new XXHandshake({
          initiator: false,
          identity: idB,
          suite,
          muxers: ['/yamux/1.0.0'],
          staticKey: sB,
          randomBytes: rnd
        })
        const m1 = a.start().send!
        const m2 = b.receive(m1.subarray(2)).send!
        const r2 = a.receive(m2.subarray(2))
        const r3 = b.receive(r2.send!.subarray(2))
        const t1 = r2.result!.encrypter.encrypt(Uint8Array.of(1, 2, 3))
        const t2 = r3.result!.encrypter.encrypt(Uint8Array.of(4, 5, 6))
        expect(hex(r3.result!.decrypter.decrypt(t1))).toBe('010203')
        return [m1, m2, r2.send!, t1, t2, r2.result!.handshakeHash].map(hex).join('|')
      })
      expect(transcripts[0]).toBe(transcripts[1])
    }
  })
})
