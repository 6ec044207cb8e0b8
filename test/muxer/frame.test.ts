import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeHeader, encodeHeader, formatHeader } from '../../src/muxer/frame.js'
import type { Header } from '../../src/muxer/frame.js'
import { FrameType, GoAwayCode } from '../../src/muxer/constants.js'
import { YamuxError } from '../../src/errors.js'
import { refDecode, refEncode } from '../reference/yamux-header.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

// digest §5.1 header vectors
const vectors: Array<[string, Header]> = [
  ['window update SYN sid1 delta0', { type: FrameType.WindowUpdate, flags: 1, streamId: 1, length: 0 }],
  ['ACK sid1', { type: FrameType.WindowUpdate, flags: 2, streamId: 1, length: 0 }],
  ['Data sid1 len5', { type: FrameType.Data, flags: 0, streamId: 1, length: 5 }],
  ['FIN sid1', { type: FrameType.WindowUpdate, flags: 4, streamId: 1, length: 0 }],
  ['RST sid2', { type: FrameType.WindowUpdate, flags: 8, streamId: 2, length: 0 }],
  ['Ping SYN 7', { type: FrameType.Ping, flags: 1, streamId: 0, length: 7 }],
  ['Ping ACK 7', { type: FrameType.Ping, flags: 2, streamId: 0, length: 7 }],
  ['GoAway protocol error', { type: FrameType.GoAway, flags: 0, streamId: 0, length: GoAwayCode.ProtocolError }],
  ['SYN sid1 granting 16 MiB', {
    type: FrameType.WindowUpdate,
    flags: 1,
    streamId: 1,
    length: 16 * 1024 * 1024 - 256 * 1024
  }]
]
const wire = [
  '000100010000000100000000', '000100020000000100000000', '000000000000000100000005', '000100040000000100000000',
  '000100080000000200000000', '000200010000000000000007', '000200020000000000000007', '000300000000000000000001',
  '000100010000000100fc0000'
]

const arbHeader: fc.Arbitrary<Header> = fc.record({
  type: fc.integer({ min: 0, max: 3 }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  streamId: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  length: fc.integer({ min: 0, max: 2 ** 32 - 1 })
}) as fc.Arbitrary<Header>

describe('yamux header codec', () => {
  it.each(vectors.map((v, i) => [v[0], v[1], wire[i] as string] as const))('vector: %s', (_name, header, bytes) => {
    expect(hex(encodeHeader(header))).toBe(bytes)
    expect(decodeHeader(unhex(bytes))).toEqual(header)
  })

  it('round trips every header and agrees with the DataView reference', () => {
    fc.assert(fc.property(arbHeader, fc.integer({ min: 0, max: 8 }), (h, off) => {
      const buf = new Uint8Array(off + 12)
      encodeHeader(h, buf, off)
      expect(decodeHeader(buf, off)).toEqual(h)
      expect(hex(buf.subarray(off))).toBe(hex(refEncode({ version: 0, ...h })))
      expect(refDecode(buf, off)).toEqual({ version: 0, ...h })
    }), { numRuns: 2000 })
  })

  it('fewer than 12 bytes is "need more", at every length', () => {
    const full = encodeHeader({ type: 0, flags: 0, streamId: 1, length: 5 })
    for (let n = 0; n < 12; n++) expect(decodeHeader(full.subarray(0, n))).toBeUndefined()
    expect(decodeHeader(full, 1)).toBeUndefined()
  })

  it('bad version or type is a YamuxError carrying GoAway(protocol error)', () => {
    const err1 = (() => { try { decodeHeader(unhex('010000000000000100000000')) } catch (e) { return e } })()
    expect(err1).toBeInstanceOf(YamuxError)
    expect(err1).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL', goAwayCode: 1 })
    expect((err1 as Error).message).toMatch(/"yamux version" expected 0, got 1/)
    expect(() => decodeHeader(unhex('000400000000000100000000'))).toThrow(/"yamux frame type" expected 0..3, got 4/)
  })

  it('random bytes decode or throw YamuxError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (b) => {
        try {
          const h = decodeHeader(b)
          expect(b[0]).toBe(0)
          expect(h).toEqual({
            type: b[1],
            flags: (b[2] as number) * 256 + (b[3] as number),
            streamId: refDecode(b).streamId,
            length: refDecode(b).length
          })
        } catch (e) {
          expect(e).toBeInstanceOf(YamuxError)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it('encode rejects out-of-range fields with RangeError naming the field', () => {
    expect(() => encodeHeader({ type: 0, flags: 0x10000, streamId: 0, length: 0 })).toThrow(/"flags"/)
    expect(() => encodeHeader({ type: 0, flags: 0, streamId: 2 ** 32, length: 0 })).toThrow(/"stream id"/)
    expect(() => encodeHeader({ type: 0, flags: 0, streamId: 0, length: -1 })).toThrow(RangeError)
    expect(() => encodeHeader({ type: 7 as FrameType, flags: 0, streamId: 0, length: 0 })).toThrow(/"frame type"/)
    expect(() => encodeHeader({ type: 0, flags: 0, streamId: 0, length: 0 }, new Uint8Array(11))).toThrow(
      /header target/
    )
  })

  it('formats headers for messages', () => {
    expect(formatHeader({ type: FrameType.Data, flags: 5, streamId: 3, length: 5 })).toBe(
      'Data[SYN|FIN] stream=3 length=5'
    )
  })
})
