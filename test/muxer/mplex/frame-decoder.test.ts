import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder } from '../../../src/muxer/mplex/frame-decoder.js'
import { encodeFrame } from '../../../src/muxer/mplex/frame.js'
import { MAX_STREAM_ID, MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { MplexError } from '../../../src/errors.js'
import { refDecodeAll, refEncodeFrame } from './reference.js'
import type { RefFrame } from './reference.js'

const wireOf = (frames: RefFrame[]): Uint8Array => Uint8Array.from(Buffer.concat(frames.flatMap(f => encodeFrame(f.streamId, f.flag, f.data))))

/** Feed `chunks` and collect every frame (data copied, so later chunks cannot alias it). */
function decodeChunks (dec: FrameDecoder, chunks: Uint8Array[]): RefFrame[] {
  const out: RefFrame[] = []
  for (const c of chunks) dec.push(c, (streamId, flag, data) => { out.push({ streamId, flag, data: data.slice() }) })
  return out
}

function splitAt (buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => c % (buf.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) { out.push(buf.subarray(prev, p)); prev = p }
  out.push(buf.subarray(prev))
  return out
}

const frameArb = fc.record({
  streamId: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: MAX_STREAM_ID })),
  flag: fc.integer({ min: 0, max: 6 }),
  data: fc.uint8Array({ maxLength: 300 })
})

const sample: RefFrame[] = [
  { streamId: 0, flag: MessageFlag.NewStream, data: Uint8Array.of(0x30) },
  { streamId: 0, flag: MessageFlag.MessageInitiator, data: new Uint8Array(200).map((_, i) => i) },
  { streamId: 0, flag: MessageFlag.MessageReceiver, data: new Uint8Array(0) },
  { streamId: 123456, flag: MessageFlag.CloseInitiator, data: new Uint8Array(0) },
  { streamId: MAX_STREAM_ID, flag: MessageFlag.ResetReceiver, data: new Uint8Array(0) }
]

describe('FrameDecoder', () => {
  it('decodes every frame of one chunk in one push, as views into the chunk (zero copy)', () => {
    const wire = wireOf(sample)
    const views: Uint8Array[] = []
    const got: RefFrame[] = []
    new FrameDecoder().push(wire, (streamId, flag, data) => { got.push({ streamId, flag, data }); views.push(data) })
    expect(got).toEqual(sample)
    expect(views[1]?.buffer).toBe(wire.buffer)
  })

  it('a split at every byte boundary gives the same frames', () => {
    const wire = wireOf(sample)
    for (let cut = 0; cut <= wire.length; cut++) {
      expect(decodeChunks(new FrameDecoder(), [wire.subarray(0, cut), wire.subarray(cut)])).toEqual(sample)
    }
    // and one byte at a time
    expect(decodeChunks(new FrameDecoder(), Array.from(wire, b => Uint8Array.of(b)))).toEqual(sample)
  })

  it('checks the length before buffering the body, and the flag before reading the length', () => {
    const dec = new FrameDecoder(100)
    expect(() => { dec.push(Uint8Array.of(0x0a, 0x65), () => {}) }).toThrowError(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }))
    expect(dec.buffered).toBe(0) // nothing of the body was held
    const dec2 = new FrameDecoder()
    expect(() => { dec2.push(Uint8Array.of(0x0f), () => {}) }).toThrowError(/"frame flag" expected 0\.\.6, got 7 \(stream 1\)/)
    // an oversize length split across chunks is caught as soon as it completes
    const dec3 = new FrameDecoder()
    dec3.push(Uint8Array.of(0x02, 0x81, 0x80), () => {})
    expect(() => { dec3.push(Uint8Array.of(0x40), () => {}) }).toThrowError(/expected <= 1048576, got 1048577/)
  })

  it('is poisoned after an error: later input is ignored', () => {
    const dec = new FrameDecoder()
    const seen: number[] = []
    expect(() => { dec.push(Uint8Array.of(0x02, 0x01, 0xaa, 0x07, 0x00), (id) => { seen.push(id) }) }).toThrow(MplexError)
    expect(seen).toEqual([0]) // the frame before the bad one was delivered
    dec.push(wireOf(sample), (id) => { seen.push(id) })
    expect(seen).toEqual([0])
  })

  it('holds at most one incomplete frame', () => {
    const dec = new FrameDecoder()
    const big = wireOf([{ streamId: 1, flag: 2, data: new Uint8Array(5000) }])
    dec.push(big.subarray(0, 1000), () => {})
    expect(dec.midFrame).toBe(true)
    expect(dec.buffered).toBe(1000 - 3) // header and length parsed, 997 body bytes held
    dec.push(big.subarray(1000), () => {})
    expect(dec.midFrame).toBe(false)
    expect(dec.buffered).toBe(0)
  })

  it('property: any frames split anywhere decode to the same frames', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
      const wire = wireOf(frames)
      expect(Buffer.from(wire)).toEqual(Buffer.concat(frames.map(refEncodeFrame)))
      expect(decodeChunks(new FrameDecoder(), splitAt(wire, cuts))).toEqual(frames)
    }))
  })

  it('property: garbage in any chunking yields the reference frames, then MplexError or "incomplete" — never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 0, max: 20 }), (buf, cuts, max) => {
      const got: RefFrame[] = []
      let err: unknown
      try {
        const dec = new FrameDecoder(max)
        for (const c of splitAt(buf, cuts)) dec.push(c, (streamId, flag, data) => { got.push({ streamId, flag, data: data.slice() }) })
      } catch (e) { err = e }
      let ref: ReturnType<typeof refDecodeAll> | undefined
      try { ref = refDecodeAll(buf, max) } catch { ref = undefined }
      if (ref === undefined) {
        expect(err).toBeInstanceOf(MplexError)
      } else {
        expect(err).toBeUndefined()
        expect(got).toEqual(ref.frames)
      }
    }), { numRuns: 2000 })
  })
})
