/**
 * The Noise transport codec: framing, splitting at 65519, batching into one buffer, and properties
 * over both suites — a stream split at every byte boundary decodes to the same plaintext;
 * truncation yields no frame; tampering with any byte fails authentication.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CipherState } from '../../src/security/cipher-state.js'
import { MAX_PLAINTEXT_LENGTH } from '../../src/security/constants.js'
import { SUITES } from '../../src/security/suite.js'
import {
  encodedLength,
  encryptFrames,
  NoiseFrameDecoder,
  ZERO_COPY_MIN_PLAINTEXT
} from '../../src/security/transport-codec.js'
import { NoiseError } from '../../src/errors.js'
import { concat } from '../helpers/bytes.js'

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7)

function decodeAll (decoder: NoiseFrameDecoder, cs: CipherState): Uint8Array[] {
  const out: Uint8Array[] = []
  let f: Uint8Array | undefined
  while ((f = decoder.next()) !== undefined) out.push(cs.decrypt(f))
  return out
}

/** The wire bytes of one batch (what the socket sends for the chunks of one write). */
const seal = (cs: CipherState, chunks: readonly Uint8Array[], maxPlaintext?: number): Uint8Array =>
  concat(encryptFrames(cs, chunks, maxPlaintext))

function frameSizes (wire: Uint8Array): number[] {
  const out: number[] = []
  for (let pos = 0; pos < wire.length;) {
    const len = ((wire[pos] as number) << 8) | (wire[pos + 1] as number)
    out.push(2 + len)
    pos += 2 + len
  }
  return out
}

describe('NoiseFrameDecoder', () => {
  it('waits for the 2-byte prefix and the whole body; views when inside one chunk', () => {
    const d = new NoiseFrameDecoder()
    d.push(Uint8Array.of(0))
    expect(d.next()).toBeUndefined()
    d.push(Uint8Array.of(3, 1, 2))
    expect(d.next()).toBeUndefined()
    d.push(Uint8Array.of(3, 0, 0, 0, 1))
    expect([...d.next()!]).toEqual([1, 2, 3])
    expect([...d.next()!]).toEqual([])
    expect(d.next()).toBeUndefined()
    expect(d.buffered).toBe(2)
    expect(d.describePending()).toBe('"message" expected 1 bytes, got 0')
    const chunk = Uint8Array.of(0, 2, 9, 9)
    const d2 = new NoiseFrameDecoder()
    d2.push(chunk)
    expect(d2.next()!.buffer).toBe(chunk.buffer) // zero copy
  })
})

describe.each(SUITES.map(s => [s.name, s] as const))('transport codec (%s suite)', (_name, suite) => {
  it('frames at 65519 plaintext bytes, whatever the chunking', () => {
    const total = 2 * MAX_PLAINTEXT_LENGTH + 5
    const data = Uint8Array.from({ length: total }, (_, i) => (i * 31) & 0xff)
    const chunkings = [[data], [data.subarray(0, 1), data.subarray(1)], [
      data.subarray(0, 70000),
      new Uint8Array(0),
      data.subarray(70000, 70001),
      data.subarray(70001)
    ]]
    for (const chunks of chunkings) {
      const out = seal(new CipherState(suite, KEY), chunks)
      expect(out.length).toBe(encodedLength(total))
      expect(out.length).toBe(total + 3 * 18)
      const d = new NoiseFrameDecoder()
      d.push(out)
      const pts = decodeAll(d, new CipherState(suite, KEY))
      expect(pts.map(p => p.length)).toEqual([MAX_PLAINTEXT_LENGTH, MAX_PLAINTEXT_LENGTH, 5])
      expect(Buffer.from(concat(pts)).equals(Buffer.from(data))).toBe(true)
    }
  })

  it('small frames share one buffer; large ones keep the cipher output as their own chunk', () => {
    const cs = new CipherState(suite, KEY)
    const small = encryptFrames(cs, [new Uint8Array(1000), new Uint8Array(500)], 600)
    expect(small).toHaveLength(1)
    expect(frameSizes(small[0]!)).toEqual([618, 618, 318])
    const big = encryptFrames(cs, [new Uint8Array(2 * MAX_PLAINTEXT_LENGTH + 10)])
    // [len0] [ct0] [tag0 len1] [ct1] [tag1 len2 ct2 tag2]
    expect(big.map(c => c.length)).toEqual([2, MAX_PLAINTEXT_LENGTH, 18, MAX_PLAINTEXT_LENGTH, 16 + 2 + 10 + 16])
    expect(big[0]!.buffer).toBe(big[2]!.buffer) // lengths and tags: one glue buffer per batch
    expect(big[2]!.buffer).toBe(big[4]!.buffer)
    const mixed = encryptFrames(cs, [new Uint8Array(ZERO_COPY_MIN_PLAINTEXT - 1)])
    expect(mixed).toHaveLength(1)
    const spanning = encryptFrames(cs, Array.from({ length: 10 }, () => new Uint8Array(1000)))
    // A large frame across chunks: node enciphers it part by part (no gather), noble gathers it first.
    const parts = suite.sealParts !== undefined ? Array.from({ length: 10 }, () => 1000) : [10_000]
    expect(spanning.map(c => c.length)).toEqual([2, ...parts, 16])
  })

  it('reports every frame to the trace hook, with its bytes when contiguous', () => {
    const seen: Array<[number, number | undefined]> = []
    encryptFrames(
      new CipherState(suite, KEY),
      [new Uint8Array(MAX_PLAINTEXT_LENGTH + 100)],
      MAX_PLAINTEXT_LENGTH,
      (len, body) => seen.push([len, body?.length])
    )
    expect(seen).toEqual([[65535, undefined], [116, 116]])
  })

  it('an empty batch produces nothing and uses no nonce', () => {
    const cs = new CipherState(suite, KEY)
    expect(encryptFrames(cs, [])).toEqual([])
    expect(encryptFrames(cs, [new Uint8Array(0)])).toEqual([])
    expect(cs.nonce).toBe(0)
  })

  it('property: any chunking in, any split of the wire out → the same plaintext', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
      (chunks, maxPlaintext, cuts) => {
        const wire = seal(new CipherState(suite, KEY), chunks, maxPlaintext)
        const d = new NoiseFrameDecoder()
        const rx = new CipherState(suite, KEY)
        const got: Uint8Array[] = []
        let pos = 0
        let i = 0
        while (pos < wire.length) {
          const n = cuts[i++ % cuts.length] as number
          d.push(wire.subarray(pos, pos + n))
          pos += n
          got.push(...decodeAll(d, rx))
        }
        expect(d.buffered).toBe(0)
        expect(Buffer.from(concat(got)).equals(Buffer.from(concat(chunks)))).toBe(true)
        expect(got.every(p => p.length <= maxPlaintext)).toBe(true)
      }
    ), { numRuns: 150 })
  })

  it('a split at every byte boundary of a two-frame stream decodes identically', () => {
    const msg = Uint8Array.from({ length: 150 }, (_, i) => i)
    const wire = seal(new CipherState(suite, KEY), [msg], 100)
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new NoiseFrameDecoder()
      const rx = new CipherState(suite, KEY)
      d.push(wire.subarray(0, cut))
      const first = decodeAll(d, rx)
      d.push(wire.subarray(cut))
      const all = [...first, ...decodeAll(d, rx)]
      expect(Buffer.from(concat(all)).equals(Buffer.from(msg))).toBe(true)
    }
  })

  it('truncation at every offset: no frame is produced for the cut one, nothing wrong is delivered', () => {
    const msg = Uint8Array.from({ length: 60 }, (_, i) => i)
    const wire = seal(new CipherState(suite, KEY), [msg], 40)
    for (let cut = 0; cut < wire.length; cut++) {
      const d = new NoiseFrameDecoder()
      d.push(wire.subarray(0, cut))
      const got = concat(decodeAll(d, new CipherState(suite, KEY)))
      expect(Buffer.from(msg.subarray(0, got.length)).equals(Buffer.from(got))).toBe(true)
      expect(got.length === 40 || got.length === 0).toBe(true)
      expect(d.buffered).toBe(cut - (got.length === 40 ? 2 + 40 + 16 : 0)) // the cut frame stays buffered
    }
  })

  it('tampering with any ciphertext or tag byte fails authentication (ERR_NOISE_DECRYPT)', () => {
    const msg = Uint8Array.from({ length: 50 }, (_, i) => i)
    const wire = seal(new CipherState(suite, KEY), [msg])
    for (let i = 2; i < wire.length; i++) {
      const t = Uint8Array.from(wire)
      t[i] = (t[i] as number) ^ 0x80
      const d = new NoiseFrameDecoder()
      d.push(t)
      expect(() => decodeAll(d, new CipherState(suite, KEY))).toThrowError(
        expect.objectContaining({ name: 'NoiseError', code: 'ERR_NOISE_DECRYPT' })
      )
    }
  })

  it('property: a random single-bit flip anywhere in a frame is caught or changes the framing', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (msg, at, bit) => {
          const wire = seal(new CipherState(suite, KEY), [msg])
          const i = at % wire.length
          const t = Uint8Array.from(wire)
          t[i] = (t[i] as number) ^ (1 << bit)
          const d = new NoiseFrameDecoder()
          d.push(t)
          try {
            const got = decodeAll(d, new CipherState(suite, KEY))
            // only a flip in the length prefix can avoid an authentication failure, by making the frame incomplete
            expect(i).toBeLessThan(2)
            expect(got).toHaveLength(0)
          } catch (err) {
            expect(err).toBeInstanceOf(NoiseError)
            expect((err as NoiseError).code).toBe('ERR_NOISE_DECRYPT')
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it('frames shorter than a tag are refused, not delivered', () => {
    for (const len of [0, 1, 15]) {
      const d = new NoiseFrameDecoder()
      d.push(Uint8Array.of(0, len, ...new Uint8Array(len)))
      expect(() => decodeAll(d, new CipherState(suite, KEY))).toThrowError(
        expect.objectContaining({ code: 'ERR_NOISE_DECRYPT' })
      )
    }
  })

  it('rejects a maxPlaintext outside 1..65519', () => {
    expect(() => encryptFrames(new CipherState(suite, KEY), [Uint8Array.of(1)], 65520)).toThrowError(RangeError)
    expect(() => encryptFrames(new CipherState(suite, KEY), [Uint8Array.of(1)], 0)).toThrowError(RangeError)
  })
})
