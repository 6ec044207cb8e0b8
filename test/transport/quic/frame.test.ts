import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { QuicError } from '../../../src/errors.js'
import { QuicReader, QuicWriter } from '../../../src/transport/quic/buffer.js'
import { FrameType, LongPacketType } from '../../../src/transport/quic/constants.js'
import {
  assertFrameAllowed, decodeFrame, decodeFrames, encodeFrame, frameLength, isAckEliciting, type Frame
} from '../../../src/transport/quic/frame.js'
import { frame } from './arbitraries.js'

const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const reader = (b: Uint8Array): QuicReader => new QuicReader(b, what => new QuicError('ERR_QUIC_FRAME_ENCODING', what))

function encode (f: Frame, last = false): Uint8Array {
  const w = new QuicWriter(8)
  encodeFrame(w, f, last)
  return w.finish()
}

function norm (f: Frame): unknown {
  // decoded byte fields are views; compare contents
  return JSON.parse(JSON.stringify(f, (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))
}

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return err instanceof QuicError ? err.code : `untyped ${String(err)}` }
  return undefined
}

describe('QUIC frames (RFC 9000 §19)', () => {
  it('round trips every frame type, with the length it reports', () => {
    fc.assert(fc.property(frame(), (f) => {
      const enc = encode(f)
      expect(frameLength(f)).toBe(enc.length)
      const r = reader(enc)
      expect(norm(decodeFrame(r))).toEqual(norm(f))
      expect(r.remaining).toBe(0)
    }), { numRuns: 2000 })
  })

  it('a STREAM frame last in the packet drops its Length field and still decodes', () => {
    fc.assert(fc.property(frame().filter(f => f.type === FrameType.Stream), (f) => {
      const enc = encode(f, true)
      expect(enc.length).toBeLessThan(frameLength(f))
      expect(norm(decodeFrame(reader(enc)))).toEqual(norm(f))
    }))
  })

  it('truncation at every offset is a FRAME_ENCODING_ERROR (never a wrong frame)', () => {
    fc.assert(fc.property(frame().filter(f => f.type !== FrameType.Padding), (f) => {
      const enc = encode(f)
      for (let i = 0; i < enc.length; i++) {
        const r = reader(enc.subarray(0, i))
        if (i === 0) { expect(codeOf(() => decodeFrames(r))).toBe('ERR_QUIC_PROTOCOL_VIOLATION'); continue }
        let code: string | undefined
        try {
          decodeFrame(r)
          // only a frame whose tail is a variable payload can end early and still parse
          // (ACK ranges cannot: the count is fixed; STREAM with LEN: declared length)
          code = 'parsed'
        } catch (err) {
          expect(err).toBeInstanceOf(QuicError)
          code = (err as QuicError).code
          expect((err as QuicError).transportErrorCode).toBe(0x07)
        }
        expect(code).toBe('ERR_QUIC_FRAME_ENCODING')
      }
    }), { numRuns: 500 })
  })

  it('garbage decodes to frames or throws a typed QUIC error', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (b) => {
      try {
        decodeFrames(reader(b))
      } catch (err) {
        expect(err).toBeInstanceOf(QuicError)
        expect(['ERR_QUIC_FRAME_ENCODING', 'ERR_QUIC_PROTOCOL_VIOLATION']).toContain((err as QuicError).code)
      }
    }), { numRuns: 5000 })
  })

  it('ACK wire format (RFC 9000 §19.3): largest 10, delay 3, ranges 8-10 and 2-5', () => {
    const f: Frame = {
      type: FrameType.Ack,
      ackDelay: 3,
      ranges: [{ smallest: 8, largest: 10 }, { smallest: 2, largest: 5 }]
    }
    // type 02, largest 0a, delay 03, count 01, first range 02, gap 8-5-2=01, length 03
    expect(Buffer.from(encode(f)).toString('hex')).toBe('020a0301020103')
  })

  it('rejects the malformed cases the RFC names', () => {
    const cases: Array<[string, string, string]> = [
      ['unknown frame type 0x1f', '1f', 'ERR_QUIC_FRAME_ENCODING'],
      ['DATAGRAM (RFC 9221) is not supported', '30', 'ERR_QUIC_FRAME_ENCODING'],
      ['frame type not minimal', '4001', 'ERR_QUIC_PROTOCOL_VIOLATION'],
      ['empty NEW_TOKEN', '0700', 'ERR_QUIC_FRAME_ENCODING'],
      // (2^60 + 2^56: values within 2^8 of 2^60 round to it as doubles, see varint.ts)
      ['MAX_STREAMS above 2^60', '12d100000000000000', 'ERR_QUIC_FRAME_ENCODING'],
      ['STREAMS_BLOCKED above 2^60', '17d100000000000000', 'ERR_QUIC_FRAME_ENCODING'],
      ['ACK first range below 0', '0205000600', 'ERR_QUIC_FRAME_ENCODING'],
      ['ACK range below 0', '02050001010003', 'ERR_QUIC_FRAME_ENCODING'],
      ['NEW_CONNECTION_ID retire prior to > sequence', '18010201aa' + '00'.repeat(16), 'ERR_QUIC_FRAME_ENCODING'],
      ['NEW_CONNECTION_ID length 0', '18010000' + '00'.repeat(16), 'ERR_QUIC_FRAME_ENCODING'],
      ['NEW_CONNECTION_ID length 21', '18010015' + '00'.repeat(37), 'ERR_QUIC_FRAME_ENCODING'],
      ['STREAM past 2^62', '0e00ffffffffffffffff01aa', 'ERR_QUIC_FRAME_ENCODING'],
      ['CRYPTO past 2^62', '06ffffffffffffffff01aa', 'ERR_QUIC_FRAME_ENCODING'],
      ['CRYPTO longer than the packet', '060005aabb', 'ERR_QUIC_FRAME_ENCODING']
    ]
    for (const [what, bytes, code] of cases) expect(codeOf(() => decodeFrames(reader(unhex(bytes)))), what).toBe(code)
  })

  it('an ACK_ECN frame decodes with its counts', () => {
    const f = decodeFrame(reader(unhex('0305000001020304')))
    expect(f).toEqual({
      type: FrameType.Ack,
      ackDelay: 0,
      ranges: [{ smallest: 4, largest: 5 }],
      ecn: { ect0: 2, ect1: 3, ce: 4 }
    })
  })

  it('PADDING runs are one frame', () => {
    expect(decodeFrames(reader(unhex('0000000001')))).toEqual([{ type: FrameType.Padding, length: 4 }, {
      type: FrameType.Ping
    }])
  })

  it('Table 3: what Initial, Handshake and 0-RTT packets may carry', () => {
    const stream: Frame = { type: FrameType.Stream, streamId: 0, offset: 0, data: new Uint8Array(0), fin: false }
    const ok: Frame[] = [{ type: FrameType.Padding, length: 1 }, { type: FrameType.Ping }, {
      type: FrameType.Crypto,
      offset: 0,
      data: new Uint8Array(0)
    }, { type: FrameType.ConnectionClose, errorCode: 0, frameType: 0, reason: new Uint8Array(0) }]
    for (const f of ok) {
      expect(() => assertFrameAllowed(f, LongPacketType.Initial)).not.toThrow()
      expect(() => assertFrameAllowed(f, LongPacketType.Handshake)).not.toThrow()
    }
    for (const t of [LongPacketType.Initial, LongPacketType.Handshake]) {
      expect(codeOf(() => assertFrameAllowed(stream, t))).toBe('ERR_QUIC_PROTOCOL_VIOLATION')
      expect(codeOf(() => assertFrameAllowed({ type: FrameType.HandshakeDone }, t))).toBe('ERR_QUIC_PROTOCOL_VIOLATION')
      expect(
        codeOf(() =>
          assertFrameAllowed({
            type: FrameType.ConnectionCloseApp,
            errorCode: 0,
            frameType: 0,
            reason: new Uint8Array(0)
          }, t)
        )
      ).toBe('ERR_QUIC_PROTOCOL_VIOLATION')
    }
    expect(() => assertFrameAllowed(stream, LongPacketType.ZeroRtt)).not.toThrow()
    expect(codeOf(() => assertFrameAllowed({ type: FrameType.HandshakeDone }, LongPacketType.ZeroRtt))).toBe(
      'ERR_QUIC_PROTOCOL_VIOLATION'
    )
    expect(() => assertFrameAllowed({ type: FrameType.HandshakeDone }, 'short')).not.toThrow()
  })

  it('ack-eliciting frames (RFC 9002 §2)', () => {
    expect(isAckEliciting({ type: FrameType.Ping })).toBe(true)
    expect(isAckEliciting({ type: FrameType.Padding, length: 3 })).toBe(false)
    expect(isAckEliciting({ type: FrameType.Ack, ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] })).toBe(false)
  })
})
