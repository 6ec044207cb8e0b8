import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder } from '../../src/muxer/frame-decoder.js'
import type { Header } from '../../src/muxer/frame.js'
import { YamuxError } from '../../src/errors.js'
import { frameBytes, FrameRecorder } from './helpers.js'
import { concat } from '../helpers/bytes.js'

interface Sent { type: number, flags: number, streamId: number, payload: Uint8Array }

const arbFrame: fc.Arbitrary<Sent> = fc.record({
  type: fc.integer({ min: 0, max: 3 }),
  flags: fc.integer({ min: 0, max: 15 }),
  streamId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  payload: fc.uint8Array({ maxLength: 40 })
})

function encodeAll (frames: Sent[]): Uint8Array {
  return concat(frames.map(f => f.type === 0
    ? frameBytes(0, f.flags, f.streamId, f.payload.length, f.payload)
    : frameBytes(f.type, f.flags, f.streamId, f.payload.length)))
}

function expected (frames: Sent[]): Array<{ header: Header, payload: Uint8Array }> {
  return frames.map(f => ({
    header: { type: f.type, flags: f.flags, streamId: f.streamId, length: f.payload.length } as Header,
    payload: f.type === 0 ? f.payload : new Uint8Array(0)
  }))
}

describe('FrameDecoder', () => {
  it('decodes many frames in one chunk, payloads as views (no copy)', () => {
    const wire = encodeAll([
      { type: 0, flags: 1, streamId: 1, payload: Uint8Array.of(1, 2, 3) },
      { type: 1, flags: 2, streamId: 1, payload: new Uint8Array(7) },
      { type: 2, flags: 1, streamId: 0, payload: new Uint8Array(0) }
    ])
    const pieces: Uint8Array[] = []
    const headers: Header[] = []
    const d = new FrameDecoder({
      onHeader: h => {
        headers.push(h)
        return true
      },
      onPayload: (_h, p) => pieces.push(p),
      onDataEnd: () => {}
    })
    d.push(wire)
    expect(headers.map(h => h.type)).toEqual([0, 1, 2])
    expect(pieces).toHaveLength(1)
    expect(pieces[0]?.buffer).toBe(wire.buffer)
    expect(d.idle).toBe(true)
  })

  it('split at every byte boundary (and byte by byte) gives the same frames', () => {
    fc.assert(fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 6 }), (frames) => {
      const wire = encodeAll(frames)
      for (let cut = 0; cut <= wire.length; cut++) {
        const r = new FrameRecorder()
        r.push([wire.subarray(0, cut), wire.subarray(cut)])
        expect(r.take()).toEqual(expected(frames))
      }
      const r = new FrameRecorder()
      r.push(Array.from(wire, b => Uint8Array.of(b)))
      expect(r.take()).toEqual(expected(frames))
    }), { numRuns: 150 })
  })

  it('the sink sees the header before any payload byte arrives, and may refuse it', () => {
    const events: string[] = []
    const d = new FrameDecoder({
      onHeader: h => { events.push(`header ${h.length}`); return false },
      onPayload: () => { events.push('payload') },
      onDataEnd: () => { events.push('end') }
    })
    const wire = frameBytes(0, 0, 1, 100_000, new Uint8Array(100_000))
    d.push(wire.subarray(0, 12))
    expect(events).toEqual(['header 100000'])
    d.push(wire.subarray(12, 50_000))
    d.push(wire.subarray(50_000))
    expect(events).toEqual(['header 100000', 'end'])
  })

  it('a throwing sink stops the decoder; later pushes rethrow', () => {
    const err = new YamuxError('ERR_YAMUX_PROTOCOL', 'too big', 1)
    const d = new FrameDecoder({ onHeader: () => { throw err }, onPayload: () => {}, onDataEnd: () => {} })
    expect(() => d.push(frameBytes(0, 0, 1, 0))).toThrow(err)
    expect(() => d.push(new Uint8Array(1))).toThrow(err)
  })

  it('garbage: typed YamuxError or frames, never another exception', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const r = new FrameRecorder()
      try { r.push(chunks) } catch (e) { expect(e).toBeInstanceOf(YamuxError) }
    }), { numRuns: 2000 })
  })

  it('holds at most a partial header', () => {
    const d = new FrameDecoder({ onHeader: () => true, onPayload: () => {}, onDataEnd: () => {} })
    d.push(new Uint8Array(11))
    expect(d.idle).toBe(false)
    d.push(new Uint8Array([0x00]))
    expect(d.idle).toBe(true)
  })
})
