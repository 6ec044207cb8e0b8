import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Receiver, type FrameSink } from '../../../src/transport/ws/receiver.js'
import type { FrameHeader } from '../../../src/transport/ws/frame.js'
import { Opcode } from '../../../src/transport/ws/constants.js'
import { WsError } from '../../../src/errors.js'
import { refEncode, type RefFrame } from '../../reference/ws-frame.js'
import { concat } from '../../helpers/bytes.js'

interface Seen { opcode: number, fin: boolean, payload: string }
const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')

/** Records every frame with its payload re-assembled (data) or as given (control). */
class Recorder implements FrameSink {
  readonly frames: Seen[] = []
  pieces: Uint8Array[] = []
  headers = 0
  onHeader (h: FrameHeader): void {
    this.headers++
    this.pieces = []
    void h
  }

  onPayload (_h: FrameHeader, piece: Uint8Array): void {
    this.pieces.push(piece.slice())
  }

  onFrameEnd (h: FrameHeader): void {
    this.frames.push({ opcode: h.opcode, fin: h.fin, payload: hexOf(concat(this.pieces)) })
  }

  onControl (h: FrameHeader, payload: Uint8Array): void {
    this.frames.push({ opcode: h.opcode, fin: h.fin, payload: hexOf(payload) })
  }
}

const arbFrame: fc.Arbitrary<RefFrame> = fc.record({
  opcode: fc.constantFrom(Opcode.Continuation, Opcode.Binary, Opcode.Text, Opcode.Close, Opcode.Ping, Opcode.Pong),
  fin: fc.boolean(),
  payload: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 124, maxLength: 130 }))
}).map(f => (f.opcode >= 8 ? { ...f, fin: true, payload: f.payload.subarray(0, 125) } : f))

function wire (frames: RefFrame[], masked: boolean, keySeed = 7): Uint8Array {
  return concat(
    frames.map((f, i) => refEncode(masked ? { ...f, maskKey: new Uint8Array([i, keySeed, 0xff - i, 0x5a]) } : f))
  )
}

function expected (frames: RefFrame[]): Seen[] {
  return frames.map(f => ({ opcode: f.opcode, fin: f.fin, payload: hexOf(f.payload) }))
}

/** Feed `bytes` cut at `cuts` (sorted offsets); each piece is a fresh copy (the receiver unmasks in place). */
function feed (r: Receiver, bytes: Uint8Array, cuts: number[]): void {
  let at = 0
  for (const c of [...cuts, bytes.length]) { r.push(bytes.slice(at, c)); at = c }
}

describe('ws Receiver', () => {
  it.each([true, false])('round trip, masked=%s, in one chunk', masked => {
    fc.assert(fc.property(fc.array(arbFrame, { maxLength: 8 }), frames => {
      const rec = new Recorder()
      const r = new Receiver(rec, { expectMasked: masked })
      r.push(wire(frames, masked))
      expect(rec.frames).toEqual(expected(frames))
      expect(r.idle).toBe(true)
    }), { numRuns: 200 })
  })

  it.each([true, false])('split at every byte boundary (masked=%s): same frames', masked => {
    fc.assert(fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 4 }), frames => {
      const bytes = wire(frames, masked)
      for (let cut = 0; cut <= bytes.length; cut++) {
        const rec = new Recorder()
        const r = new Receiver(rec, { expectMasked: masked })
        feed(r, bytes, [cut])
        expect(rec.frames).toEqual(expected(frames))
      }
    }), { numRuns: 20 })
  })

  it('one byte per push: same frames', () => {
    fc.assert(fc.property(fc.array(arbFrame, { maxLength: 5 }), fc.boolean(), (frames, masked) => {
      const bytes = wire(frames, masked)
      const rec = new Recorder()
      const r = new Receiver(rec, { expectMasked: masked })
      feed(r, bytes, Array.from({ length: bytes.length }, (_, i) => i))
      expect(rec.frames).toEqual(expected(frames))
    }), { numRuns: 50 })
  })

  it('truncation at every offset: only the complete frames come out, and idle only at a boundary', () => {
    fc.assert(fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 4 }), fc.boolean(), (frames, masked) => {
      const encoded = frames.map((f, i) => refEncode(masked ? { ...f, maskKey: new Uint8Array([i, 1, 2, 3]) } : f))
      const bytes = concat(encoded)
      const ends: number[] = []
      let at = 0
      for (const e of encoded) { at += e.length; ends.push(at) }
      for (let cut = 0; cut < bytes.length; cut++) {
        const rec = new Recorder()
        const r = new Receiver(rec, { expectMasked: masked })
        r.push(bytes.slice(0, cut))
        const complete = ends.filter(e => e <= cut).length
        // data frames announce themselves (header) and stream; control frames only when whole
        expect(rec.frames.length).toBe(complete)
        expect(rec.frames).toEqual(expected(frames).slice(0, complete))
        expect(r.idle).toBe(cut === 0 || ends.includes(cut))
      }
    }), { numRuns: 20 })
  })

  it('garbage → frames or a WsError (1002), never another error; after an error every push throws it', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 6 }), fc.boolean(), (chunks, masked) => {
        const r = new Receiver(new Recorder(), { expectMasked: masked })
        let failed: unknown
        for (const c of chunks) {
          try {
            r.push(c)
          } catch (err) {
            failed = err
            break
          }
        }
        if (failed !== undefined) {
          expect(failed).toBeInstanceOf(WsError)
          expect((failed as WsError).closeCode).toBe(1002)
          expect(() => r.push(new Uint8Array(1))).toThrow(failed as Error)
        }
      }),
      { numRuns: 1000 }
    )
  })

  it('unmasks in place: data payload pieces are views of the pushed chunks (zero copy)', () => {
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff)
    const bytes = refEncode({ fin: true, opcode: Opcode.Binary, payload, maskKey: new Uint8Array([9, 8, 7, 6]) })
    const seen: Uint8Array[] = []
    const r = new Receiver({
      onHeader () {},
      onPayload (_h, p) {
        seen.push(p)
      },
      onFrameEnd () {},
      onControl () {}
    }, { expectMasked: true })
    r.push(bytes)
    expect(seen).toHaveLength(1)
    expect((seen[0] as Uint8Array).buffer).toBe(bytes.buffer)
    expect(seen[0]).toEqual(payload)
  })

  it('a frame masked the wrong way for the role → 1002 (§5.1)', () => {
    const unmasked = refEncode({ fin: true, opcode: Opcode.Binary, payload: new Uint8Array(3) })
    const masked = refEncode({
      fin: true,
      opcode: Opcode.Binary,
      payload: new Uint8Array(3),
      maskKey: new Uint8Array(4)
    })
    for (const [bytes, expectMasked] of [[unmasked, true], [masked, false]] as const) {
      const rec = new Recorder()
      const r = new Receiver(rec, { expectMasked })
      let err: unknown
      try { r.push(bytes) } catch (e) { err = e }
      expect(err).toBeInstanceOf(WsError)
      expect((err as WsError).closeCode).toBe(1002)
      expect(rec.headers).toBe(0)
    }
  })

  it('a bad first byte is refused before the rest of the header arrives', () => {
    const r = new Receiver(new Recorder(), { expectMasked: false })
    expect(() => r.push(new Uint8Array([0xc2, 0x7f]))).toThrow(WsError) // RSV1, 64-bit length pending
  })

  it('a sink that throws in onHeader gets none of the payload', () => {
    let payloads = 0
    const r = new Receiver({
      onHeader () { throw new WsError('ERR_WS_MESSAGE_TOO_LARGE', 'too big', { closeCode: 1009 }) },
      onPayload () { payloads++ },
      onFrameEnd () {},
      onControl () {}
    }, { expectMasked: false })
    expect(() => r.push(refEncode({ fin: true, opcode: Opcode.Binary, payload: new Uint8Array(100) }))).toThrow(
      /too big/
    )
    expect(payloads).toBe(0)
  })
})
