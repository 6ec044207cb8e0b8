import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MultistreamError } from '../../src/errors.js'
import { MAX_MESSAGE_LENGTH } from '../../src/multistream/constants.js'
import {
  HEADER_MESSAGE, LS_MESSAGE, MessageReader, NA_MESSAGE, concatBytes, decodeLsResponse, decodeMessageBody,
  encodeLsResponse, encodeMessage
} from '../../src/multistream/messages.js'
import { utf8 } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

// specs digest §2.1 table, byte for byte.
const TABLE: Array<[string, string]> = [
  ['/multistream/1.0.0', '13 2f6d756c746973747265616d2f312e302e30 0a'],
  ['/noise', '07 2f6e6f697365 0a'],
  ['/yamux/1.0.0', '0d 2f79616d75782f312e302e30 0a'],
  ['/mplex/6.7.0', '0d 2f6d706c65782f362e372e30 0a'],
  ['na', '03 6e61 0a'],
  ['ls', '03 6c73 0a'],
  ['/ipfs/id/1.0.0', '0f 2f697066732f69642f312e302e30 0a'],
  ['/ipfs/ping/1.0.0', '11 2f697066732f70696e672f312e302e30 0a'],
  ['/perf/1.0.0', '0c 2f706572662f312e302e30 0a'],
  ['/test/stream-proto/1.0.0', '19 2f746573742f73747265616d2d70726f746f2f312e302e30 0a']
]

/** Read every message of `bytes` fed as `chunks`, returning texts and the rest. */
function readAll (chunks: Uint8Array[], count: number): { msgs: string[], rest: Uint8Array } {
  const r = new MessageReader()
  const msgs: string[] = []
  for (const c of chunks) {
    r.push(c)
    while (msgs.length < count) {
      const m = r.nextMessage()
      if (m === undefined) break
      msgs.push(m)
    }
  }
  return { msgs, rest: concat(r.drain()) }
}

describe('message encoding (digest §2.1)', () => {
  it.each(TABLE)('%s', (msg, wire) => {
    const bytes = unhex(wire.replaceAll(' ', ''))
    expect(hex(encodeMessage(msg))).toBe(hex(bytes))
    expect(readAll([bytes], 1).msgs).toEqual([msg])
  })

  it('precomputed header, na, ls', () => {
    expect(hex(HEADER_MESSAGE)).toBe('132f6d756c746973747265616d2f312e302e300a')
    expect(hex(NA_MESSAGE)).toBe('036e610a')
    expect(hex(LS_MESSAGE)).toBe('036c730a')
  })

  it('a 1024-byte message (1023 chars + newline) is the largest we send; 2-byte prefix', () => {
    const max = '/' + 'a'.repeat(1022)
    const enc = encodeMessage(max)
    expect(enc.length).toBe(2 + 1024)
    expect(hex(enc.subarray(0, 2))).toBe('8008')
    expect(() => encodeMessage(max + 'b')).toThrow(RangeError)
  })

  it('refuses to encode empty text or text with a newline', () => {
    expect(() => encodeMessage('')).toThrow(TypeError)
    expect(() => encodeMessage('/a\nb')).toThrow(TypeError)
  })

  it('concatBytes', () => {
    expect(hex(concatBytes([HEADER_MESSAGE, NA_MESSAGE]))).toBe(hex(HEADER_MESSAGE) + hex(NA_MESSAGE))
    const one = new Uint8Array([1])
    expect(concatBytes([one])).toBe(one)
  })
})

describe('message body decoding', () => {
  it('rejects a missing trailing newline, an empty message, an empty line and bad UTF-8', () => {
    expect(() => decodeMessageBody(utf8('/noise'))).toThrow(/expected a trailing newline, got 6 bytes ending in 0x65/)
    expect(() => decodeMessageBody(new Uint8Array(0))).toThrow(/got an empty message/)
    expect(() => decodeMessageBody(utf8('\n'))).toThrow(/got an empty line/)
    expect(() => decodeMessageBody(new Uint8Array([0xc3, 0x28, 0x0a]))).toThrow(/expected UTF-8 text, got 0xc3280a/)
    for (const bad of [utf8('/noise'), new Uint8Array(0), new Uint8Array([0xff, 0x0a])]) {
      try { decodeMessageBody(bad); expect.unreachable() } catch (err) {
        expect(err).toBeInstanceOf(MultistreamError)
        expect((err as MultistreamError).code).toBe('ERR_MULTISTREAM_PROTOCOL')
      }
    }
  })
})

describe('MessageReader', () => {
  it('rejects a 1025-byte message when its prefix arrives, before the body', () => {
    const r = new MessageReader()
    r.push(new Uint8Array([0x81, 0x08])) // 1025, and no body at all
    expect(() => r.nextMessage()).toThrow(
      /"multistream message length" expected <= 1024 \(including the newline\), got 1025/
    )
    try {
      const r2 = new MessageReader()
      r2.push(new Uint8Array([0x81, 0x08]))
      r2.nextMessage()
    } catch (err) {
      expect((err as MultistreamError).code).toBe('ERR_MESSAGE_TOO_LARGE')
    }
  })

  it('accepts exactly 1024 bytes including the newline', () => {
    const msg = '/' + 'x'.repeat(1022)
    expect(readAll([encodeMessage(msg)], 1).msgs).toEqual([msg])
  })

  it('rejects a prefix of more than 2 bytes as soon as 2 continuation bytes arrived', () => {
    const r = new MessageReader()
    r.push(new Uint8Array([0xff]))
    expect(r.nextMessage()).toBeUndefined()
    r.push(new Uint8Array([0xff]))
    expect(() => r.nextMessage()).toThrow(/expected <= 1024.*got >= 16384/)
  })

  it('rejects a non-minimal prefix with a MultistreamError', () => {
    const r = new MessageReader()
    r.push(new Uint8Array([0x83, 0x00, 0x6e, 0x61, 0x0a]))
    expect(() => r.nextMessage()).toThrow(MultistreamError)
  })

  it('leaves everything after the last message untouched (drain)', () => {
    const tail = new Uint8Array([0x00, 0x20, 1, 2, 3]) // e.g. a Noise message
    const { msgs, rest } = readAll([concat([HEADER_MESSAGE, encodeMessage('/noise'), tail])], 2)
    expect(msgs).toEqual(['/multistream/1.0.0', '/noise'])
    expect(hex(rest)).toBe(hex(tail))
  })

  it('drain() in the middle of a message is a programming error', () => {
    const r = new MessageReader()
    r.push(new Uint8Array([0x05, 0x2f]))
    expect(r.nextMessage()).toBeUndefined()
    expect(() => r.drain()).toThrow(/middle of a message/)
  })
})

describe('ls response (digest §2.4)', () => {
  it('encodes one outer message of inner messages and a final newline', () => {
    const enc = encodeLsResponse(['/a', '/bc'])
    // outer len 10 = (1+3) + (1+4) + 1
    expect(hex(enc)).toBe('0a' + '032f610a' + '042f62630a' + '0a')
    expect(decodeLsResponse(enc.subarray(1))).toEqual(['/a', '/bc'])
    expect(hex(encodeLsResponse([]))).toBe('010a')
    expect(decodeLsResponse(new Uint8Array([0x0a]))).toEqual([])
  })

  it("accepts nim-libp2p's non-conforming 'proto1\\nproto2\\n' form", () => {
    expect(decodeLsResponse(utf8('/ipfs/ping/1.0.0\n/ipfs/id/1.0.0\n'))).toEqual(['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0'])
  })

  it('rejects malformed responses', () => {
    expect(() => decodeLsResponse(new Uint8Array(0))).toThrow(MultistreamError)
    expect(() => decodeLsResponse(new Uint8Array([0x05, 0x2f, 0x0a]))).toThrow(/truncated/)
    expect(() => decodeLsResponse(new Uint8Array([0x03, 0x2f, 0x61, 0x62, 0x0a]))).toThrow(/trailing newline/)
  })
})

// --- property tests on the decoder -----------------------------------------------------------

const arbProto = fc.stringMatching(/^\/[\x21-\x7e]{0,60}$/).filter(s => !s.includes('\n'))
const arbUnicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter(s => !s.includes('\n'))
const arbMsg = fc.oneof(arbProto, arbUnicode)

describe('MessageReader properties', () => {
  it('round trip: messages + tail, split at every byte boundary', () => {
    fc.assert(
      fc.property(fc.array(arbMsg, { minLength: 1, maxLength: 5 }), fc.uint8Array({ maxLength: 8 }), (msgs, tail) => {
        const wire = concat([...msgs.map(encodeMessage), tail])
        for (let cut = 0; cut <= wire.length; cut++) {
          const { msgs: got, rest } = readAll([wire.subarray(0, cut), wire.subarray(cut)], msgs.length)
          expect(got).toEqual(msgs)
          expect(hex(rest)).toBe(hex(tail))
        }
      }),
      { numRuns: 150 }
    )
  })

  it('round trip when fed one byte at a time', () => {
    fc.assert(fc.property(fc.array(arbMsg, { minLength: 1, maxLength: 4 }), msgs => {
      const wire = concat(msgs.map(encodeMessage))
      const chunks = Array.from(wire, b => new Uint8Array([b]))
      expect(readAll(chunks, msgs.length).msgs).toEqual(msgs)
    }), { numRuns: 100 })
  })

  it('truncation at every offset: no message is returned early and nothing throws', () => {
    fc.assert(fc.property(arbMsg, msg => {
      const wire = encodeMessage(msg)
      for (let i = 0; i < wire.length; i++) {
        const r = new MessageReader()
        r.push(wire.subarray(0, i))
        expect(r.nextMessage()).toBeUndefined()
        expect(r.midMessage).toBe(i > 0)
      }
    }), { numRuns: 100 })
  })

  it('garbage gives a message, "need more", or a MultistreamError, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), bytes => {
      const r = new MessageReader()
      r.push(bytes)
      try {
        for (let i = 0; i < 64; i++) if (r.nextMessage() === undefined) break
      } catch (err) {
        expect(err).toBeInstanceOf(MultistreamError)
      }
    }), { numRuns: 1000 })
  })

  it('any declared length above MAX_MESSAGE_LENGTH is refused before its body', () => {
    fc.assert(fc.property(fc.integer({ min: MAX_MESSAGE_LENGTH + 1, max: 2 ** 31 }), len => {
      const r = new MessageReader()
      const prefix: number[] = []
      let n = len
      while (n >= 0x80) { prefix.push((n & 0x7f) | 0x80); n = Math.floor(n / 0x80) }
      prefix.push(n)
      r.push(new Uint8Array(prefix))
      expect(() => r.nextMessage()).toThrow(MultistreamError)
    }))
  })
})
