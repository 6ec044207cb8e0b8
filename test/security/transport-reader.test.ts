/**
 * The Noise transport reader (deciphers as bytes arrive, keeps no chunk): through both suites — the
 * node suite's streaming AEAD and the noble suite's gathering fallback — a stream split at every byte
 * boundary gives the plaintext of `decrypt`; chunks overwritten after `push` change nothing; a bad
 * tag delivers the messages before it and nothing of its own; short messages and cut messages are
 * reported.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CipherState } from '../../src/security/cipher-state.js'
import { MAX_PLAINTEXT_LENGTH } from '../../src/security/constants.js'
import { SUITES } from '../../src/security/suite.js'
import { encryptFrames } from '../../src/security/transport-codec.js'
import { NoiseTransportReader } from '../../src/security/transport-reader.js'
import { NoiseError } from '../../src/errors.js'
import { concat } from '../helpers/bytes.js'

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 1)

const wireOf = (suite: (typeof SUITES)[number], plaintexts: readonly Uint8Array[]): Uint8Array =>
  concat(plaintexts.map(p => concat(encryptFrames(new CipherState(suite, KEY), [p]))))

/** One sender's wire for several writes (the nonce advances across them). */
function wireOfWrites (suite: (typeof SUITES)[number], writes: readonly Uint8Array[]): Uint8Array {
  const cs = new CipherState(suite, KEY)
  return concat(writes.map(w => concat(encryptFrames(cs, [w]))))
}

function takeAll (r: NoiseTransportReader): Uint8Array {
  const out: Uint8Array[] = []
  let p: Uint8Array | undefined
  while ((p = r.shift()) !== undefined) out.push(p)
  return concat(out)
}

/** Push `wire` cut at `cuts`, each chunk a copy that is zeroed right after the push (a reused read buffer). */
function pushBorrowed (r: NoiseTransportReader, wire: Uint8Array, cuts: readonly number[]): void {
  let from = 0
  for (const to of [...cuts, wire.length]) {
    const chunk = wire.slice(from, to)
    r.push(chunk)
    chunk.fill(0)
    from = to
  }
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

describe.each(SUITES.map(s => [s.name, s] as const))('NoiseTransportReader (%s suite)', (_name, suite) => {
  it('a split at every byte boundary of a three-message stream gives the same plaintext, chunks reused', () => {
    const writes = [bytes(40, 1), new Uint8Array(0), bytes(3, 2), bytes(17, 3)]
    const wire = wireOfWrites(suite, writes)
    const expected = concat(writes)
    for (let i = 0; i <= wire.length; i++) {
      for (const j of [i, Math.min(i + 1, wire.length), Math.min(i + 17, wire.length)]) {
        const r = new NoiseTransportReader(new CipherState(suite, KEY))
        pushBorrowed(r, wire, [i, j])
        expect(r.failure).toBeUndefined()
        expect(takeAll(r)).toEqual(expected)
        expect(r.partialBytes).toBe(0)
      }
    }
  })

  it('property: any chunking of a multi-frame stream → the written bytes', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 2 * MAX_PLAINTEXT_LENGTH }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 8 }),
      (sizes, steps) => {
        const writes = sizes.map((n, i) => bytes(n, i))
        const wire = wireOfWrites(suite, writes)
        const cuts: number[] = []
        let at = 0
        for (const s of steps) { at += s; if (at < wire.length) cuts.push(at) }
        const r = new NoiseTransportReader(new CipherState(suite, KEY))
        pushBorrowed(r, wire, cuts)
        expect(r.failure).toBeUndefined()
        expect(Buffer.from(takeAll(r)).equals(concat(writes))).toBe(true) // toEqual is slow on 100 KiB+
      }
    ), { numRuns: 12 })
  })

  it('tampering with any byte of the second message: the first is delivered, nothing of the second', () => {
    const wire = wireOfWrites(suite, [bytes(20, 5), bytes(20, 6), bytes(20, 7)])
    const second = 2 + 36
    for (let i = second + 2; i < second + 2 + 36; i++) {
      const bad = wire.slice()
      bad[i] = (bad[i] as number) ^ 0x40
      const cs = new CipherState(suite, KEY)
      const r = new NoiseTransportReader(cs)
      pushBorrowed(r, bad, [i])
      expect(takeAll(r)).toEqual(bytes(20, 5))
      expect(r.failure).toBeInstanceOf(NoiseError)
      expect((r.failure as NoiseError).code).toBe('ERR_NOISE_DECRYPT')
      expect(cs.nonce).toBe(1) // the failed message used no nonce
    }
  })

  it('a message shorter than a tag is refused at its length prefix', () => {
    const r = new NoiseTransportReader(new CipherState(suite, KEY))
    r.push(Uint8Array.of(0, 15, 1, 2, 3))
    expect(r.shift()).toBeUndefined()
    expect((r.failure as NoiseError).code).toBe('ERR_NOISE_DECRYPT')
    expect(r.failure?.message).toContain('expected >= 16')
  })

  it('a cut message is reported (prefix or body) and its plaintext held back', () => {
    const wire = wireOf(suite, [bytes(100, 9)])
    const r = new NoiseTransportReader(new CipherState(suite, KEY))
    r.push(wire.subarray(0, 1))
    expect(r.partialBytes).toBe(1)
    expect(r.describePending()).toBe('"length prefix" expected 2 bytes, got 1')
    r.push(wire.subarray(1, 60))
    expect(r.shift()).toBeUndefined()
    expect(r.partialBytes).toBe(60)
    expect(r.describePending()).toBe('"message" expected 116 bytes, got 58')
    r.push(wire.subarray(60))
    expect(takeAll(r)).toEqual(bytes(100, 9))
    expect(r.partialBytes).toBe(0)
  })

  it('hands each whole message to the trace callback', () => {
    const wire = wireOfWrites(suite, [bytes(10, 1), bytes(70_000, 2)])
    const seen: Uint8Array[] = []
    const r = new NoiseTransportReader(new CipherState(suite, KEY), m => { seen.push(m.slice()) })
    pushBorrowed(r, wire, [5, 30, 40_000])
    expect(seen.map(m => m.length)).toEqual([26, MAX_PLAINTEXT_LENGTH + 16, 70_000 - MAX_PLAINTEXT_LENGTH + 16])
    const framed = concat(seen.map(m => concat([Uint8Array.of(m.length >> 8, m.length & 0xff), m])))
    expect(Buffer.from(framed).equals(wire)).toBe(true)
  })
})

describe('streaming AEAD', () => {
  it('only the node suite streams; noble keeps the gathering fallback', () => {
    expect(SUITES.map(s => [s.name, s.openStream !== undefined, s.sealParts !== undefined]))
      .toEqual([['node', true, true], ['noble', false, false]])
  })

  it.each(SUITES.map(s => [s.name, s] as const))('a 65535-byte message split inside ciphertext and tag (%s)', (_n, suite) => {
    const big = bytes(MAX_PLAINTEXT_LENGTH, 7)
    const w = wireOf(suite, [big])
    expect(w.length).toBe(2 + 65535)
    for (const at of [[65536], [1, 65537 - 16], [30000, 65537 - 7], [100, 40000, 65537 - 1], [65537 - 15, 65537 - 3]]) {
      const r = new NoiseTransportReader(new CipherState(suite, KEY))
      pushBorrowed(r, w, at)
      expect(Buffer.from(takeAll(r)).equals(big)).toBe(true)
    }
  })
})

describe('CipherState.openStream', () => {
  it.each(SUITES.map(s => [s.name, s] as const))('advances the nonce only when the tag verifies (%s)', (_n, suite) => {
    const sealed = new CipherState(suite, KEY).encrypt(bytes(50, 4))
    const cs = new CipherState(suite, KEY)
    const bad = cs.openStream(50)
    bad.update(sealed.subarray(0, 50))
    expect(() => bad.final(new Uint8Array(16))).toThrow(NoiseError)
    expect(cs.nonce).toBe(0)
    const good = cs.openStream(50)
    const pt = concat([
      good.update(sealed.subarray(0, 20)),
      good.update(sealed.subarray(20, 50)),
      good.final(sealed.subarray(50))
    ])
    expect(pt).toEqual(bytes(50, 4))
    expect(cs.nonce).toBe(1)
  })
})
