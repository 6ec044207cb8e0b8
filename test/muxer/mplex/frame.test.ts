import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  closeFlag, decodeFrame, decodeFrameHeader, encodeFrame, encodeFrameHeader, frameHeaderLength,
  messageFlag, resetFlag, sentByInitiator
} from '../../../src/muxer/mplex/frame.js'
import { MAX_MESSAGE_BYTES, MAX_STREAM_ID, MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { MplexError, VarintError } from '../../../src/errors.js'
import { refDecodeAll, refEncodeFrame } from './reference.js'
// js-libp2p's own encoder, read from the installed package (not exported, so imported by path).
import { encode as jsEncode } from '../../../node_modules/@libp2p/mplex/dist/src/encode.js'
import { Uint8ArrayList } from 'uint8arraylist'

const hex = (b: Uint8Array | Uint8Array[]): string => Buffer.concat(Array.isArray(b) ? b : [b]).toString('hex')
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/**
 * Byte-level vectors derived from mplex README §Message format (`uvarint(id << 3 | flag) ‖
 * uvarint(len) ‖ data`) and §Flag Values; each is also checked against js-libp2p's encoder below.
 */
const VECTORS: Array<{ name: string, streamId: number, flag: MessageFlag, data: Uint8Array, wire: string }> = [
  { name: 'NewStream 0, empty name', streamId: 0, flag: MessageFlag.NewStream, data: utf8(''), wire: '0000' },
  {
    name: 'NewStream 0 named "0" (what we send)',
    streamId: 0,
    flag: MessageFlag.NewStream,
    data: utf8('0'),
    wire: '000130'
  },
  {
    name: 'MessageInitiator 0 "hello"',
    streamId: 0,
    flag: MessageFlag.MessageInitiator,
    data: utf8('hello'),
    wire: '020568656c6c6f'
  },
  {
    name: 'MessageReceiver 0 "hi"',
    streamId: 0,
    flag: MessageFlag.MessageReceiver,
    data: utf8('hi'),
    wire: '01026869'
  },
  { name: 'CloseReceiver 1', streamId: 1, flag: MessageFlag.CloseReceiver, data: utf8(''), wire: '0b00' },
  { name: 'CloseInitiator 1', streamId: 1, flag: MessageFlag.CloseInitiator, data: utf8(''), wire: '0c00' },
  { name: 'ResetReceiver 2', streamId: 2, flag: MessageFlag.ResetReceiver, data: utf8(''), wire: '1500' },
  { name: 'ResetInitiator 2', streamId: 2, flag: MessageFlag.ResetInitiator, data: utf8(''), wire: '1600' },
  {
    name: 'NewStream 15 (last one-byte header)',
    streamId: 15,
    flag: MessageFlag.NewStream,
    data: utf8(''),
    wire: '7800'
  },
  {
    name: 'NewStream 16 (first two-byte header)',
    streamId: 16,
    flag: MessageFlag.NewStream,
    data: utf8(''),
    wire: '800100'
  },
  {
    name: 'MessageInitiator 17, 300 bytes (two-byte length)',
    streamId: 17,
    flag: MessageFlag.MessageInitiator,
    data: new Uint8Array(300).fill(0xab),
    wire: '8a01ac02' + 'ab'.repeat(300)
  }
]

describe('mplex frame codec: spec vectors', () => {
  for (const v of VECTORS) {
    it(v.name, () => {
      expect(hex(encodeFrame(v.streamId, v.flag, v.data))).toBe(v.wire)
      const [frame, used] = decodeFrame(unhex(v.wire), 0) ?? []
      expect(used).toBe(v.wire.length / 2)
      expect(frame).toEqual({ streamId: v.streamId, flag: v.flag, data: v.data })
      // js-libp2p writes the same bytes (it sends an empty body for Close/Reset like we do).
      const data = new Uint8ArrayList(v.data)
      expect(hex(jsEncode({ id: v.streamId, type: v.flag as 0, data }).subarray())).toBe(v.wire)
    })
  }

  it('a maximum-size message has a 3-byte length 808040', () => {
    expect(hex(encodeFrameHeader(1, MessageFlag.MessageReceiver, MAX_MESSAGE_BYTES))).toBe('09808040')
    expect(decodeFrameHeader(unhex('09808040'), 0)).toEqual([{
      streamId: 1,
      flag: MessageFlag.MessageReceiver,
      length: MAX_MESSAGE_BYTES
    }, 4])
  })

  it('the largest stream id fits an 8-byte header varint', () => {
    const wire = 'feffffffffffff0f00' // (2^50 - 1) * 8 + 6 = 2^53 - 2, then length 0
    expect(hex(encodeFrame(MAX_STREAM_ID, MessageFlag.ResetInitiator))).toBe(wire)
    expect(decodeFrame(unhex(wire), 0)?.[0]).toMatchObject({
      streamId: MAX_STREAM_ID,
      flag: MessageFlag.ResetInitiator
    })
    expect(() => encodeFrameHeader(MAX_STREAM_ID + 1, 0, 0)).toThrow(RangeError)
  })

  it('flag helpers follow the sender role', () => {
    expect([messageFlag(true), closeFlag(true), resetFlag(true)]).toEqual([2, 4, 6])
    expect([messageFlag(false), closeFlag(false), resetFlag(false)]).toEqual([1, 3, 5])
    expect([0, 1, 2, 3, 4, 5, 6].map(f => sentByInitiator(f))).toEqual([true, false, true, false, true, false, true])
  })

  it('encodeFrame returns the body as the same view (no copy) and rejects out-of-range fields', () => {
    const body = new Uint8Array(10)
    const parts = encodeFrame(3, MessageFlag.MessageInitiator, body)
    expect(parts[1]).toBe(body)
    expect(encodeFrame(3, MessageFlag.CloseInitiator)).toHaveLength(1)
    expect(() => encodeFrame(-1, 0)).toThrow(/"stream id"/)
    expect(() => encodeFrame(1, 7 as MessageFlag)).toThrow(/"frame flag" expected an integer in \[0, 6\], got 7/)
    expect(() => encodeFrameHeader(1, 2, MAX_MESSAGE_BYTES + 1)).toThrow(
      /"frame length" expected an integer in \[0, 1048576\], got 1048577/
    )
  })
})

describe('mplex frame codec: malformed input', () => {
  const expectMplexError = (wire: string, code: string, message: RegExp): unknown => {
    let err: unknown
    try { decodeFrame(unhex(wire), 0) } catch (e) { err = e }
    expect(err).toBeInstanceOf(MplexError)
    expect(err).toMatchObject({ code })
    expect((err as Error).message).toMatch(message)
    return err
  }

  it('flag 7 is rejected as soon as the header varint is complete', () => {
    expectMplexError('07', 'ERR_MPLEX_PROTOCOL', /"frame flag" expected 0\.\.6, got 7 \(stream 0\)/)
    expectMplexError('8f01', 'ERR_MPLEX_PROTOCOL', /got 7 \(stream 17\)/)
  })

  it('a declared length over the limit is rejected before the body arrives', () => {
    expectMplexError(
      '02818040',
      'ERR_MESSAGE_TOO_LARGE',
      /"frame length" expected <= 1048576, got 1048577 \(stream 0, MessageInitiator\)/
    )
    let err: unknown
    try { decodeFrameHeader(unhex('0a0b'), 0, 10) } catch (e) { err = e }
    expect(err).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
  })

  it('bad varints become MplexError with the VarintError as cause', () => {
    const e1 = expectMplexError('8000', 'ERR_MPLEX_PROTOCOL', /malformed frame header varint/)
    expect((e1 as Error).cause).toBeInstanceOf(VarintError)
    expectMplexError('028000', 'ERR_MPLEX_PROTOCOL', /malformed frame length \(stream 0\) varint/)
    expectMplexError('ffffffffffffffffff01', 'ERR_MPLEX_PROTOCOL', /malformed frame header varint/)
  })

  it('truncation at every offset is "need more bytes", never an error', () => {
    for (const v of VECTORS) {
      const wire = unhex(v.wire)
      for (let cut = 0; cut < wire.length; cut++) expect(decodeFrame(wire.subarray(0, cut), 0)).toBeUndefined()
    }
  })
})

const flagArb = fc.integer({ min: 0, max: 6 }) as fc.Arbitrary<MessageFlag>
const frameArb = fc.record({
  streamId: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: MAX_STREAM_ID })),
  flag: flagArb,
  data: fc.uint8Array({ maxLength: 400 })
})

describe('mplex frame codec: properties', () => {
  it('round trip, and agreement with the naive reference codec', () => {
    fc.assert(fc.property(frameArb, fc.nat(5), (f, pad) => {
      const wire = Buffer.concat(encodeFrame(f.streamId, f.flag, f.data))
      expect(hex(wire)).toBe(hex(refEncodeFrame(f)))
      expect(frameHeaderLength(f.streamId, f.flag, f.data.length)).toBe(wire.length - f.data.length)
      const buf = new Uint8Array(pad + wire.length)
      buf.set(wire, pad)
      const decoded = decodeFrame(buf, pad)
      expect(decoded).toEqual([f, wire.length])
    }))
  })

  it('any truncation of a frame is incomplete, never an error', () => {
    fc.assert(fc.property(frameArb, fc.nat(), (f, c) => {
      const wire = Uint8Array.from(Buffer.concat(encodeFrame(f.streamId, f.flag, f.data)))
      expect(decodeFrame(wire.subarray(0, c % wire.length), 0)).toBeUndefined()
    }))
  })

  it('random garbage: a frame, incomplete, or MplexError — exactly as the reference decides', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), fc.integer({ min: 0, max: 64 }), (buf, max) => {
      let ours: unknown
      try { ours = decodeFrame(buf, 0, max) } catch (e) { ours = e }
      let ref: ReturnType<typeof refDecodeAll> | Error
      try { ref = refDecodeAll(buf, max, 1) } catch (e) { ref = e as Error }
      if (ref instanceof Error) {
        expect(ours).toBeInstanceOf(MplexError)
      } else if (ref.frames.length > 0) {
        expect((ours as [unknown, number])[0]).toEqual(ref.frames[0])
      } else {
        expect(ours).toBeUndefined()
      }
    }), { numRuns: 2000 })
  })
})
