import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  CloseCode, DEFAULT_MAX_MESSAGE_BYTES, FIN_BIT, KEY_NONCE_LENGTH, LENGTH_16, LENGTH_64, MASK_BIT, MAX_CONTROL_PAYLOAD,
  MAX_HEADER_LENGTH, Opcode, RSV_BITS, WEBSOCKET_GUID, WEBSOCKET_VERSION
} from '../../../src/transport/ws/constants.js'
import {
  applyMask, decodeClosePayload, decodeFrameHeader, encodeClosePayload, encodeFrame, isValidCloseCode
} from '../../../src/transport/ws/frame.js'
import { WsError } from '../../../src/errors.js'
import { refEncode } from '../../reference/ws-frame.js'
import { concat } from '../../helpers/bytes.js'

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], b => parseInt(b, 16))
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

function wsError (fn: () => unknown): WsError {
  try { fn() } catch (err) { if (err instanceof WsError) return err; throw err }
  throw new Error('expected a WsError, nothing was thrown')
}

describe('ws constants (RFC 6455)', () => {
  it('pins the wire numbers', () => {
    expect([Opcode.Continuation, Opcode.Text, Opcode.Binary, Opcode.Close, Opcode.Ping, Opcode.Pong]).toEqual([
      0,
      1,
      2,
      8,
      9,
      10
    ])
    expect([FIN_BIT, RSV_BITS, MASK_BIT, LENGTH_16, LENGTH_64, MAX_CONTROL_PAYLOAD, MAX_HEADER_LENGTH]).toEqual([
      0x80,
      0x70,
      0x80,
      126,
      127,
      125,
      14
    ])
    expect([
      CloseCode.Normal,
      CloseCode.ProtocolError,
      CloseCode.UnsupportedData,
      CloseCode.NoStatus,
      CloseCode.InvalidPayload,
      CloseCode.MessageTooBig
    ])
      .toEqual([1000, 1002, 1003, 1005, 1007, 1009])
    expect(WEBSOCKET_GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    expect([WEBSOCKET_VERSION, KEY_NONCE_LENGTH, DEFAULT_MAX_MESSAGE_BYTES]).toEqual([13, 16, 16 * 1024 * 1024])
  })
})

describe('frame codec: RFC 6455 §5.7 examples', () => {
  const key = hex('37fa213d')
  const cases: Array<[string, Opcode, boolean, Uint8Array, Uint8Array | undefined, string]> = [
    ['unmasked text "Hello"', Opcode.Text, true, utf8('Hello'), undefined, '810548656c6c6f'],
    ['masked text "Hello"', Opcode.Text, true, utf8('Hello'), key, '818537fa213d7f9f4d5158'],
    ['first fragment "Hel"', Opcode.Text, false, utf8('Hel'), undefined, '010348656c'],
    ['last fragment "lo"', Opcode.Continuation, true, utf8('lo'), undefined, '80026c6f'],
    ['unmasked ping "Hello"', Opcode.Ping, true, utf8('Hello'), undefined, '890548656c6c6f'],
    ['masked pong "Hello"', Opcode.Pong, true, utf8('Hello'), key, '8a8537fa213d7f9f4d5158']
  ]
  it.each(cases)('%s', (_name, opcode, fin, payload, maskKey, wire) => {
    const bytes = concat(encodeFrame(opcode, payload, { fin, maskKey }))
    expect(Buffer.from(bytes).toString('hex')).toBe(wire)
    const h = decodeFrameHeader(bytes) as NonNullable<ReturnType<typeof decodeFrameHeader>>
    expect({ opcode: h.opcode, fin: h.fin, length: h.length, masked: h.masked }).toEqual({
      opcode,
      fin,
      length: payload.length,
      masked: maskKey !== undefined
    })
    const body = bytes.slice(h.headerLength)
    if (h.maskKey !== undefined) applyMask(body, h.maskKey)
    expect(body).toEqual(payload)
  })

  it('256 bytes → 16-bit length, 65536 bytes → 64-bit length', () => {
    const [h256] = encodeFrame(Opcode.Binary, new Uint8Array(256))
    expect(Buffer.from(h256 as Uint8Array).toString('hex')).toBe('827e0100')
    const [h64k] = encodeFrame(Opcode.Binary, new Uint8Array(65536))
    expect(Buffer.from(h64k as Uint8Array).toString('hex')).toBe('827f0000000000010000')
  })

  it('unmasked frames return the caller\'s pieces (no copy); masked ones never touch them', () => {
    const a = utf8('abc')
    const b = utf8('defg')
    const out = encodeFrame(Opcode.Binary, [a, b])
    expect(out[1]).toBe(a)
    expect(out[2]).toBe(b)
    const masked = encodeFrame(Opcode.Binary, [a, b], { maskKey: hex('01020304') })
    expect(masked).toHaveLength(2)
    expect(a).toEqual(utf8('abc'))
    expect((masked[0] as Uint8Array).buffer).toBe((masked[1] as Uint8Array).buffer)
  })

  it('refuses to encode what no frame may carry', () => {
    expect(() => encodeFrame(Opcode.Ping, new Uint8Array(126))).toThrow(RangeError)
    expect(() => encodeFrame(Opcode.Close, new Uint8Array(2), { fin: false })).toThrow(RangeError)
    expect(() => encodeFrame(3 as Opcode, new Uint8Array(1))).toThrow(RangeError)
    expect(() => encodeFrame(Opcode.Binary, new Uint8Array(1), { maskKey: new Uint8Array(3) })).toThrow(RangeError)
  })
})

describe('frame codec: header properties', () => {
  const arbFrame = fc.record({
    opcode: fc.constantFrom(Opcode.Continuation, Opcode.Text, Opcode.Binary, Opcode.Close, Opcode.Ping, Opcode.Pong),
    fin: fc.boolean(),
    length: fc.oneof(
      fc.integer({ min: 0, max: 130 }),
      fc.constantFrom(125, 126, 127, 0xffff, 0x10000),
      fc.integer({ min: 0, max: 70_000 })
    ),
    maskKey: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined })
  }).map(f => (f.opcode >= 8 ? { ...f, fin: true, length: f.length % 126 } : f))

  it('round trip, and the same bytes as the naive reference', () => {
    fc.assert(
      fc.property(arbFrame, fc.integer(), (f, seed) => {
        const payload = new Uint8Array(f.length).map((_, i) => (i * 31 + seed) & 0xff)
        const mine = concat(encodeFrame(f.opcode, payload, { fin: f.fin, maskKey: f.maskKey }))
        expect(Buffer.from(mine).equals(refEncode({ fin: f.fin, opcode: f.opcode, payload, maskKey: f.maskKey }))).toBe(
          true
        )
        const h = decodeFrameHeader(mine)
        expect(h).toMatchObject({
          opcode: f.opcode,
          fin: f.fin,
          length: f.length,
          masked: f.maskKey !== undefined,
          headerLength: mine.length - f.length
        })
      }),
      { numRuns: 200 }
    )
  })

  it('truncation at every offset of a header → "need more bytes", never a wrong header', () => {
    for (const length of [0, 125, 126, 0xffff, 0x10000]) {
      for (const maskKey of [undefined, hex('a1b2c3d4')]) {
        const [header] = encodeFrame(Opcode.Binary, new Uint8Array(length), { maskKey })
        const h = header as Uint8Array
        for (let cut = 0; cut < h.length; cut++) expect(decodeFrameHeader(h.subarray(0, cut))).toBeUndefined()
        expect(decodeFrameHeader(h)?.length).toBe(length)
      }
    }
  })

  it('accepts a non-minimal length encoding (§5.2 binds the sender)', () => {
    const bytes = refEncode({ fin: true, opcode: Opcode.Binary, payload: new Uint8Array(5), lengthBits: 64 })
    expect(decodeFrameHeader(bytes)).toMatchObject({ length: 5, headerLength: 10 })
  })

  it('garbage → a header or a WsError with close 1002, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), bytes => {
      try {
        decodeFrameHeader(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(WsError)
        expect((err as WsError).closeCode).toBe(1002)
      }
    }), { numRuns: 2000 })
  })
})

describe('frame codec: refused headers (close 1002)', () => {
  it.each([
    ['RSV1', 'c100'], ['RSV2', 'a100'], ['RSV3', '9100'],
    ['reserved data opcode 0x3', '8300'], ['reserved data opcode 0x7', '8700'],
    ['reserved control opcode 0xB', '8b00'], ['reserved control opcode 0xF', '8f00'],
    ['fragmented ping', '0900'], ['fragmented close', '0800'],
    ['ping of 126 bytes (16-bit length)', '897e'], ['pong with a 64-bit length', '8a7f'],
    ['64-bit length with the MSB set', '827f8000000000000000'], ['64-bit length above 2^53 - 1', '827f0020000000000000']
  ])('%s', (_name, wire) => {
    const err = wsError(() => decodeFrameHeader(hex(wire)))
    expect(err.code).toBe('ERR_WS_PROTOCOL')
    expect(err.closeCode).toBe(1002)
  })

  it('a 64-bit length of exactly 2^53 - 1 is decoded (the message limit refuses it later)', () => {
    expect(decodeFrameHeader(hex('827f001fffffffffffff'))?.length).toBe(Number.MAX_SAFE_INTEGER)
  })
})

describe('masking (§5.3)', () => {
  it('piecewise unmasking with a key offset equals unmasking at once', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(),
        (data, key, cutSeed) => {
          const whole = data.slice()
          applyMask(whole, key)
          const cut = data.length === 0 ? 0 : cutSeed % data.length
          const pieces = data.slice()
          applyMask(pieces.subarray(0, cut), key, 0)
          applyMask(pieces.subarray(cut), key, cut)
          expect(pieces).toEqual(whole)
          applyMask(whole, key)
          expect(whole).toEqual(data)
        }
      )
    )
  })
})

describe('close payload (§5.5.1, §7.4)', () => {
  it('empty → 1005 (no status), code + UTF-8 reason round trip', () => {
    expect(decodeClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: '' })
    expect(decodeClosePayload(encodeClosePayload(1000, 'bye ✓'))).toEqual({ code: 1000, reason: 'bye ✓' })
    expect(encodeClosePayload()).toHaveLength(0)
  })

  it('valid and invalid codes (Autobahn 7.7.x / 7.9.x)', () => {
    for (
      const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
    ) {
      expect(isValidCloseCode(code)).toBe(true)
      expect(decodeClosePayload(encodeClosePayload(code)).code).toBe(code)
    }
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      expect(isValidCloseCode(code)).toBe(false)
      const err = wsError(() => decodeClosePayload(new Uint8Array([code >>> 8, code & 0xff])))
      expect(err.closeCode).toBe(1002)
      expect(() => encodeClosePayload(code)).toThrow(RangeError)
    }
  })

  it('a 1-byte payload → 1002 (Autobahn 7.3.2)', () => {
    expect(wsError(() => decodeClosePayload(new Uint8Array([3]))).closeCode).toBe(1002)
  })

  it('a reason that is not UTF-8 → 1007 (Autobahn 7.5.1)', () => {
    const err = wsError(() => decodeClosePayload(hex('03e8 cebae1bdb9cf83cebcceb5eda080656469746564')))
    expect(err.code).toBe('ERR_WS_INVALID_PAYLOAD')
    expect(err.closeCode).toBe(1007)
  })

  it('a long reason is cut at a character boundary to fit 125 bytes', () => {
    const p = encodeClosePayload(1000, '✓'.repeat(100))
    expect(p.length).toBeLessThanOrEqual(125)
    expect(decodeClosePayload(p).reason).toBe('✓'.repeat(41))
  })
})
