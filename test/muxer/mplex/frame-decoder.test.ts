import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder } from '../../../src/muxer/mplex/frame-decoder.js'
import type { FrameHandler } from '../../../src/muxer/mplex/frame-decoder.js'
import { encodeFrame } from '../../../src/muxer/mplex/frame.js'
import { MAX_STREAM_ID, MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { MplexError } from '../../../src/errors.js'
import { refDecodeAll, refEncodeFrame } from './reference.js'
import type { RefFrame } from './reference.js'

const wireOf = (frames: RefFrame[]): Uint8Array =>
  Uint8Array.from(Buffer.concat(frames.flatMap(f => encodeFrame(f.streamId, f.flag, f.data))))

/** Reassembles frames from headers and body pieces, keeping the piece views for zero-copy checks. */
class Collector implements FrameHandler {
  frames: RefFrame[] = []
  pieces: Uint8Array[] = []
  private open: { streamId: number, flag: number, length: number, parts: Uint8Array[] } | undefined
  onFrame = (streamId: number, flag: MessageFlag, length: number): void => {
    this.finish()
    this.open = { streamId, flag, length, parts: [] }
    this.finish()
  }

  onData = (data: Uint8Array): void => {
    expect(data.length).toBeGreaterThan(0)
    this.pieces.push(data)
    this.open?.parts.push(data.slice())
    this.finish()
  }

  /** Complete frames are moved to `frames` as soon as all their bytes are in. */
  private finish (): void {
    const o = this.open
    if (o === undefined) return
    const have = o.parts.reduce((n, p) => n + p.length, 0)
    expect(have).toBeLessThanOrEqual(o.length)
    if (have < o.length) return
    this.frames.push({ streamId: o.streamId, flag: o.flag, data: Uint8Array.from(Buffer.concat(o.parts)) })
    this.open = undefined
  }
}

function decodeChunks (dec: FrameDecoder, chunks: Uint8Array[]): RefFrame[] {
  const c = new Collector()
  for (const chunk of chunks) dec.push(chunk, c)
  return c.frames
}

function splitAt (buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => c % (buf.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) { out.push(buf.subarray(prev, p)); prev = p }
  out.push(buf.subarray(prev))
  return out
}

const noop: FrameHandler = { onFrame: () => {}, onData: () => {} }

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
  it('decodes every frame of one chunk in one push; bodies are views into the chunk', () => {
    const wire = wireOf(sample)
    const c = new Collector()
    new FrameDecoder().push(wire, c)
    expect(c.frames).toEqual(sample)
    expect(c.pieces).toHaveLength(2) // the NewStream name and the 200-byte body, one view each
    expect(c.pieces.every(p => p.buffer === wire.buffer)).toBe(true)
  })

  it('a body spread over many chunks arrives as one view per chunk, never copied', () => {
    const body = new Uint8Array(5000).map((_, i) => i & 0xff)
    const wire = wireOf([{ streamId: 1, flag: 2, data: body }])
    const chunks = splitAt(wire, [1, 2, 1000, 2000, 4000]) // header split too
    const c = new Collector()
    const dec = new FrameDecoder()
    for (const chunk of chunks) dec.push(chunk, c)
    expect(c.frames).toEqual([{ streamId: 1, flag: 2, data: body }])
    expect(c.pieces.map(p => p.length)).toEqual([997, 1000, 2000, 1003]) // 3 header bytes: 0a 8827
    expect(c.pieces.every(p => p.buffer === wire.buffer)).toBe(true)
  })

  it('a split at every byte boundary gives the same frames', () => {
    const wire = wireOf(sample)
    for (let cut = 0; cut <= wire.length; cut++) {
      expect(decodeChunks(new FrameDecoder(), [wire.subarray(0, cut), wire.subarray(cut)])).toEqual(sample)
    }
    expect(decodeChunks(new FrameDecoder(), Array.from(wire, b => Uint8Array.of(b)))).toEqual(sample)
  })

  it('checks the flag before reading the length, and the length before any body byte', () => {
    const dec = new FrameDecoder(100)
    const headers: number[] = []
    expect(() => {
      dec.push(Uint8Array.of(0x0a, 0x65, 0xaa), {
        onFrame: (_i, _f, l) => {
          headers.push(l)
        },
        onData: () => {}
      })
    })
      .toThrowError(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }))
    expect(headers).toEqual([]) // the oversize header was never reported
    expect(() => {
      new FrameDecoder().push(Uint8Array.of(0x0f), noop)
    }).toThrowError(/"frame flag" expected 0\.\.6, got 7 \(stream 1\)/)
    // an oversize length split across chunks is caught as soon as it completes
    const dec3 = new FrameDecoder()
    dec3.push(Uint8Array.of(0x02, 0x81, 0x80), noop)
    expect(dec3.buffered).toBe(3)
    expect(() => { dec3.push(Uint8Array.of(0x40), noop) }).toThrowError(/expected <= 1048576, got 1048577/)
    // a flag 7 whose header varint completes in a later chunk
    const dec4 = new FrameDecoder()
    dec4.push(Uint8Array.of(0x8f), noop)
    expect(() => { dec4.push(Uint8Array.of(0x01), noop) }).toThrowError(/got 7 \(stream 17\)/)
  })

  it('is poisoned after an error: later input is ignored', () => {
    const dec = new FrameDecoder()
    const seen: number[] = []
    const h: FrameHandler = { onFrame: (id) => { seen.push(id) }, onData: () => {} }
    expect(() => { dec.push(Uint8Array.of(0x02, 0x01, 0xaa, 0x07, 0x00), h) }).toThrow(MplexError)
    expect(seen).toEqual([0]) // the frame before the bad one was delivered
    dec.push(wireOf(sample), h)
    expect(seen).toEqual([0])
  })

  it('holds nothing but an incomplete header', () => {
    const dec = new FrameDecoder()
    const big = wireOf([{ streamId: 1, flag: 2, data: new Uint8Array(5000) }])
    dec.push(big.subarray(0, 1000), noop)
    expect(dec.midFrame).toBe(true)
    expect(dec.buffered).toBe(0)
    dec.push(big.subarray(1000), noop)
    expect(dec.midFrame).toBe(false)
    dec.push(big.subarray(0, 2), noop)
    expect(dec.buffered).toBe(2)
  })

  it('property: any frames split anywhere decode to the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const wire = wireOf(frames)
        expect(Buffer.from(wire)).toEqual(Buffer.concat(frames.map(refEncodeFrame)))
        expect(decodeChunks(new FrameDecoder(), splitAt(wire, cuts))).toEqual(frames)
      })
    )
  })

  it('property: garbage in any chunking yields the reference frames, then MplexError or "incomplete" — never another exception', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.integer({ min: 0, max: 20 }),
        (buf, cuts, max) => {
          const c = new Collector()
          let err: unknown
          try {
            const dec = new FrameDecoder(max)
            for (const chunk of splitAt(buf, cuts)) dec.push(chunk, c)
          } catch (e) {
            err = e
          }
          let ref: ReturnType<typeof refDecodeAll> | undefined
          try {
            ref = refDecodeAll(buf, max)
          } catch {
            ref = undefined
          }
          if (ref === undefined) {
            expect(err).toBeInstanceOf(MplexError)
          } else {
            expect(err).toBeUndefined()
            expect(c.frames).toEqual(ref.frames)
          }
        }
      ),
      { numRuns: 2000 }
    )
  })
})
