import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeLp, encodeLp, encodeLpPrefix, LpDecoder } from '../../src/codec/length-prefixed.js'
import { ChunkQueue } from '../../src/codec/chunk-queue.js'
import { encodeUvarint } from '../../src/codec/varint.js'
import { CodecError } from '../../src/errors.js'
import { concat } from '../helpers/bytes.js'

const msgs = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 })

/** Split `buf` at the given sorted cut points. */
function split (buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let prev = 0
  for (const c of [...new Set(cuts.map(c => c % (buf.length + 1)))].sort((a, b) => a - b)) {
    out.push(buf.subarray(prev, c)); prev = c
  }
  out.push(buf.subarray(prev))
  return out
}

describe('length-prefixed framing', () => {
  it('encodes prefix and body in one buffer', () => {
    const body = new TextEncoder().encode('please send data')
    const enc = encodeLp(body)
    expect(Buffer.from(enc).toString('hex')).toBe('10' + Buffer.from(body).toString('hex'))
    expect(encodeLpPrefix(300)).toEqual(encodeUvarint(300))
    expect(decodeLp(enc, 0, 1024)?.[0]).toEqual(body)
    expect(decodeLp(enc.subarray(0, 5), 0, 1024)).toBeUndefined()
  })

  it('decodes many frames in one chunk as views (no copy)', () => {
    const wire = concat([encodeLp(Uint8Array.of(1, 2)), encodeLp(Uint8Array.of(3)), encodeLp(new Uint8Array(0))])
    const out = new LpDecoder(10).push(wire)
    expect(out.map(m => Array.from(m))).toEqual([[1, 2], [3], []])
    expect(out[0]?.buffer).toBe(wire.buffer)
  })

  it('rejects an oversize declared length before buffering the body', () => {
    const dec = new LpDecoder(1024)
    const prefix = encodeUvarint(1025)
    let err: unknown
    try { dec.push(prefix) } catch (e) { err = e }
    expect(err).toBeInstanceOf(CodecError)
    expect(err).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect((err as Error).message).toContain('expected <= 1024, got 1025')
    // The same across a split prefix.
    const dec2 = new LpDecoder(1024)
    expect(dec2.push(prefix.subarray(0, 1))).toEqual([])
    expect(() => dec2.push(prefix.subarray(1))).toThrow(/expected <= 1024/)
  })

  it('propagates malformed prefixes as typed errors', () => {
    expect(() => new LpDecoder().push(Uint8Array.of(0x81, 0x00))).toThrowError(
      expect.objectContaining({ code: 'ERR_VARINT_NOT_MINIMAL' })
    )
  })

  it('gives back a half-received message, prefix included', () => {
    const dec = new LpDecoder()
    const wire = encodeLp(Uint8Array.of(9, 8, 7))
    dec.push(wire.subarray(0, 2))
    expect(concat(dec.drainAll())).toEqual(wire.subarray(0, 2))
    expect(dec.idle).toBe(true)
  })

  it('property: any split of any message sequence decodes to the same messages', () => {
    fc.assert(fc.property(msgs, fc.array(fc.nat(), { maxLength: 20 }), (ms, cuts) => {
      const wire = concat(ms.map(encodeLp))
      const dec = new LpDecoder(300)
      const out: Uint8Array[] = []
      for (const part of split(wire, cuts)) out.push(...dec.push(part))
      expect(out.map(m => Array.from(m))).toEqual(ms.map(m => Array.from(m)))
      expect(dec.idle).toBe(true)
    }), { numRuns: 500 })
  })

  it('property: split at every single byte boundary', () => {
    fc.assert(fc.property(msgs, (ms) => {
      const wire = concat(ms.map(encodeLp))
      for (let i = 0; i <= wire.length; i++) {
        const dec = new LpDecoder(300)
        const out = [...dec.push(wire.subarray(0, i)), ...dec.push(wire.subarray(i))]
        expect(out.length).toBe(ms.length)
      }
    }), { numRuns: 50 })
  })

  it('property: truncation at every offset yields only whole messages', () => {
    fc.assert(fc.property(msgs, (ms) => {
      const wire = concat(ms.map(encodeLp))
      for (let cut = 0; cut < wire.length; cut++) {
        const out = new LpDecoder(300).push(wire.subarray(0, cut))
        expect(out.length).toBeLessThan(ms.length)
        out.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(ms[i] as Uint8Array)))
      }
    }), { numRuns: 100 })
  })

  it('property: random garbage gives messages or a CodecError, nothing else', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const dec = new LpDecoder(64)
      try {
        for (const c of chunks) for (const m of dec.push(c)) expect(m.length).toBeLessThanOrEqual(64)
      } catch (e) {
        expect(e).toBeInstanceOf(CodecError)
      }
    }), { numRuns: 2000 })
  })
})

describe('ChunkQueue', () => {
  it('consumes across chunks, copying only when spanning', () => {
    const q = new ChunkQueue()
    const a = Uint8Array.of(1, 2, 3)
    q.push(a); q.push(Uint8Array.of(4, 5))
    const view = q.consume(2)
    expect(view.buffer).toBe(a.buffer)
    expect(Array.from(q.consume(2))).toEqual([3, 4])
    expect(q.length).toBe(1)
    q.unshift(Uint8Array.of(9))
    expect(q.byteAt(0)).toBe(9)
    expect(q.byteAt(1)).toBe(5)
    expect(q.drainAll().map(c => Array.from(c))).toEqual([[9], [5]])
    expect(q.length).toBe(0)
  })

  it('reads a varint split across chunks', () => {
    const q = new ChunkQueue()
    q.push(Uint8Array.of(0x80))
    expect(q.readUvarint()).toBeUndefined()
    q.push(Uint8Array.of(0x80))
    expect(q.readUvarint()).toBeUndefined()
    q.push(Uint8Array.of(0x01, 0x07))
    expect(q.readUvarint()).toBe(16384)
    expect(q.readUvarint()).toBe(7)
    expect(() => q.consume(1)).toThrow(RangeError)
  })

  it('property: consume sequence reproduces the input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }),
        fc.array(fc.nat(50), { maxLength: 30 }),
        (chunks, takes) => {
          const q = new ChunkQueue()
          for (const c of chunks) q.push(c)
          const all = concat(chunks)
          const got: Uint8Array[] = []
          for (const t of takes) {
            const n = Math.min(t, q.length)
            got.push(q.consume(n))
          }
          got.push(...q.drainAll())
          expect(concat(got)).toEqual(all)
        }
      ),
      { numRuns: 1000 }
    )
  })
})
