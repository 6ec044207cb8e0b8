import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  applyIdentifyUpdate, decodeIdentify, emptyIdentify, encodeIdentify, encodeIdentifyMessages, mergeIdentify
} from '../../src/proto/identify.js'
import type { IdentifyMessage } from '../../src/proto/identify.js'
import { decodeFields } from '../../src/codec/protobuf.js'
import { CodecError } from '../../src/errors.js'
// js-libp2p's own protons codec for Identify (a devDependency; only tests may import it).
import { Identify as JsIdentify } from '../../node_modules/@libp2p/identify/dist/src/pb/message.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
const ascii = (s: string): string => Buffer.from(s).toString('hex')

const PUBLIC_KEY = '080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e' // peer-ids.md Ed25519, 36 bytes
const IP4 = '047f000001060fa1' // /ip4/127.0.0.1/tcp/4001
const IP6 = '2900000000000000000000000000000001060fa1' // /ip6/::1/tcp/4001, 20 bytes
const OBSERVED = '04c000022a0601bb' // /ip4/192.0.2.42/tcp/443

const FULL: IdentifyMessage = {
  protocolVersion: 'ipfs/0.1.0',
  agentVersion: 'switchyard/0.1.0',
  publicKey: bytes(PUBLIC_KEY),
  listenAddrs: [bytes(IP4), bytes(IP6)],
  observedAddr: bytes(OBSERVED),
  protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'],
  signedPeerRecord: bytes('010203')
}

// Built by hand from identify.proto: key = field << 3 | 2 (every field is length-delimited).
const FULL_HEX =
  '0a' + '24' + PUBLIC_KEY + //           1 publicKey, 36 bytes
  '12' + '08' + IP4 + //                  2 listenAddrs
  '12' + '14' + IP6 + //                  2 listenAddrs, 20 bytes
  '1a' + '0e' + ascii('/ipfs/id/1.0.0') + //   3 protocols, 14 bytes
  '1a' + '10' + ascii('/ipfs/ping/1.0.0') + // 3 protocols, 16 bytes
  '22' + '08' + OBSERVED + //             4 observedAddr
  '2a' + '0a' + ascii('ipfs/0.1.0') + //  5 protocolVersion, 10 bytes
  '32' + '10' + ascii('switchyard/0.1.0') + // 6 agentVersion, 16 bytes
  '42' + '03' + '010203' //               8 signedPeerRecord

describe('Identify protobuf: vectors', () => {
  it('encodes the hand-built vector, fields in field-number order', () => {
    expect(hex(encodeIdentify(FULL))).toBe(FULL_HEX)
  })

  it('decodes the hand-built vector', () => {
    expect(decodeIdentify(bytes(FULL_HEX))).toEqual(FULL)
  })

  it('an empty message is zero bytes, and zero bytes is an empty message', () => {
    expect(encodeIdentify(emptyIdentify()).length).toBe(0)
    expect(decodeIdentify(new Uint8Array(0))).toEqual({ listenAddrs: [], protocols: [] })
  })

  it('keeps absent apart from present-but-empty', () => {
    const m = decodeIdentify(bytes('2a00' + '0a00'))
    expect(m.protocolVersion).toBe('')
    expect(m.publicKey).toEqual(new Uint8Array(0))
    expect(m.agentVersion).toBeUndefined()
    expect(m.observedAddr).toBeUndefined()
    expect(hex(encodeIdentify(m))).toBe('0a00' + '2a00')
  })

  it('decoded bytes are copies, not views into the input', () => {
    const input = bytes(FULL_HEX)
    const m = decodeIdentify(input)
    input.fill(0)
    expect(m).toEqual(FULL)
  })

  it('decoding a Node Buffer (as sockets deliver) also copies, into plain Uint8Arrays', () => {
    const input = Buffer.from(FULL_HEX, 'hex') // Buffer#slice would be a view: must not be used
    const m = decodeIdentify(input)
    input.fill(0)
    expect(m).toEqual(FULL)
    expect(Buffer.isBuffer(m.publicKey)).toBe(false)
    expect(m.listenAddrs.some(a => Buffer.isBuffer(a))).toBe(false)
  })
})

describe('Identify protobuf: strict decoding', () => {
  it.each([
    ['publicKey as a varint', '0801'],
    ['listenAddrs as fixed32', '1501020304'],
    ['protocols as fixed64', '190102030405060708'],
    ['agentVersion as a varint', '3005'],
    ['truncated field', '0a05aabb'],
    ['truncated key', '80'],
    ['group wire type', '0b'],
    ['non-minimal length', '0a8000'],
    ['invalid UTF-8 in protocols', '1a01ff'],
    ['invalid UTF-8 in agentVersion', '3202c328'],
    ['lone surrogate (CESU) in protocolVersion', '2a03eda080']
  ])('rejects %s with CodecError ERR_PROTOBUF_MALFORMED', (_name, h) => {
    let caught: unknown
    try { decodeIdentify(bytes(h)) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(CodecError)
    expect((caught as CodecError).code).toBe('ERR_PROTOBUF_MALFORMED')
  })

  it('skips unknown fields of every wire type', () => {
    // field 7 varint, field 9 fixed32, field 10 fixed64, field 100 bytes; then agentVersion "a"
    const m = decodeIdentify(bytes('3805' + '4d01020304' + '510102030405060708' + 'a20602aabb' + '320161'))
    expect(m).toEqual({ listenAddrs: [], protocols: [], agentVersion: 'a' })
  })

  it('a scalar seen twice keeps the last value; repeated fields append', () => {
    const m = decodeIdentify(bytes('320161' + '1a0178' + '320162' + '1a0179'))
    expect(m.agentVersion).toBe('b')
    expect(m.protocols).toEqual(['x', 'y'])
  })
})

describe('Identify protobuf: cross-check with js-libp2p (@libp2p/identify protons codec)', () => {
  it('js decodes our encoding to the same message', () => {
    const js = JsIdentify.decode(encodeIdentify(FULL))
    expect(js).toEqual({ ...FULL })
  })

  it('we decode js-libp2p\'s encoding (declaration order 5, 6, 1, 2, 4, 3, 8) to the same message', () => {
    const jsBytes = JsIdentify.encode(FULL)
    expect(hex(jsBytes)).not.toBe(FULL_HEX) // same content, different field order
    expect(decodeIdentify(jsBytes)).toEqual(FULL)
    // and it is exactly a reordering of our fields
    expect(hex(encodeIdentify(decodeIdentify(jsBytes)))).toBe(FULL_HEX)
  })

  it('agrees with js on random messages, both directions', () => {
    fc.assert(fc.property(arbIdentify, (m) => {
      expect(JsIdentify.decode(encodeIdentify(m))).toEqual(normalised(m))
      expect(decodeIdentify(JsIdentify.encode(m))).toEqual(normalised(m))
    }), { numRuns: 200 })
  })
})

const arbOptBytes = fc.option(fc.uint8Array({ maxLength: 48 }), { nil: undefined })
const arbOptString = fc.option(fc.string({ unit: 'grapheme', maxLength: 24 }), { nil: undefined })
const arbIdentify: fc.Arbitrary<IdentifyMessage> = fc.record({
  protocolVersion: arbOptString,
  agentVersion: arbOptString,
  publicKey: arbOptBytes,
  listenAddrs: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
  observedAddr: arbOptBytes,
  protocols: fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 6 }),
  signedPeerRecord: arbOptBytes
})

/** The message without `undefined`-valued keys (what a decoder returns). */
function normalised (m: IdentifyMessage): IdentifyMessage {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as unknown as IdentifyMessage
}

describe('Identify protobuf: properties', () => {
  it('round trip: decode(encode(m)) = m', () => {
    fc.assert(fc.property(arbIdentify, (m) => {
      expect(decodeIdentify(encodeIdentify(m))).toEqual(normalised(m))
    }))
  })

  it('encoding is canonical: encode(decode(b)) = b for our own encodings', () => {
    fc.assert(fc.property(arbIdentify, (m) => {
      const b = encodeIdentify(m)
      expect(hex(encodeIdentify(decodeIdentify(b)))).toBe(hex(b))
    }))
  })

  it('merge semantics: decode(a ‖ b) = merge(decode(a), decode(b))', () => {
    fc.assert(fc.property(arbIdentify, arbIdentify, (a, b) => {
      const ea = encodeIdentify(a)
      const eb = encodeIdentify(b)
      const joined = new Uint8Array([...ea, ...eb])
      expect(decodeIdentify(joined)).toEqual(mergeIdentify(decodeIdentify(ea), decodeIdentify(eb)))
    }))
  })

  it('truncation: a cut between fields decodes, a cut inside a field is a CodecError', () => {
    fc.assert(fc.property(arbIdentify, (m) => {
      const whole = encodeIdentify(m)
      const boundaries = new Set<number>([0])
      for (const f of decodeFields(whole)) boundaries.add(f.bytes.byteOffset - whole.byteOffset + f.bytes.length)
      for (let cut = 0; cut < whole.length; cut++) {
        const prefix = whole.subarray(0, cut)
        if (boundaries.has(cut)) {
          expect(() => decodeIdentify(prefix)).not.toThrow()
        } else {
          expect(() => decodeIdentify(prefix)).toThrow(CodecError)
        }
      }
    }), { numRuns: 100 })
  })

  it('garbage: decodes or throws CodecError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
      try {
        decodeIdentify(garbage)
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError)
      }
    }), { numRuns: 2000 })
  })

  it('split encoding: every part within the limit, and the parts merge back to the message', () => {
    fc.assert(fc.property(arbIdentify, fc.nat(200), (m, extra) => {
      const whole = encodeIdentify(m)
      let largest = 0
      let prev = 0
      for (const f of decodeFields(whole)) {
        const end = f.bytes.byteOffset - whole.byteOffset + f.bytes.length
        largest = Math.max(largest, end - prev)
        prev = end
      }
      const limit = Math.max(1, largest + (extra % (whole.length + 1)))
      const parts = encodeIdentifyMessages(m, limit)
      for (const p of parts) expect(p.length).toBeLessThanOrEqual(limit)
      if (whole.length <= limit) expect(parts).toHaveLength(1)
      const merged = parts.map(decodeIdentify).reduce(mergeIdentify, emptyIdentify())
      expect(merged).toEqual(normalised(m))
    }))
  })

  it('split encoding refuses a field larger than the limit', () => {
    expect(() => encodeIdentifyMessages({ listenAddrs: [new Uint8Array(100)], protocols: [] }, 50)).toThrow(RangeError)
  })
})

describe('Identify merge and push update', () => {
  const base: IdentifyMessage = {
    agentVersion: 'old/1', publicKey: bytes('01'), listenAddrs: [bytes('aa')], protocols: ['/a']
  }

  it('mergeIdentify: set scalars replace, repeated fields append, absent fields stay', () => {
    const merged = mergeIdentify(base, { agentVersion: 'new/2', listenAddrs: [bytes('bb')], protocols: ['/b'] })
    expect(merged).toEqual({
      agentVersion: 'new/2',
      publicKey: bytes('01'),
      listenAddrs: [bytes('aa'), bytes('bb')],
      protocols: ['/a', '/b']
    })
    expect(base.listenAddrs).toHaveLength(1) // inputs untouched
  })

  it('applyIdentifyUpdate: present fields replace (lists wholesale), missing fields unchanged', () => {
    expect(applyIdentifyUpdate(base, { listenAddrs: [], protocols: ['/x', '/y'] }))
      .toEqual({ agentVersion: 'old/1', publicKey: bytes('01'), listenAddrs: [bytes('aa')], protocols: ['/x', '/y'] })
    expect(applyIdentifyUpdate(base, { observedAddr: bytes('cc'), listenAddrs: [bytes('dd')], protocols: [] }))
      .toEqual({
        agentVersion: 'old/1',
        publicKey: bytes('01'),
        observedAddr: bytes('cc'),
        listenAddrs: [bytes('dd')],
        protocols: ['/a']
      })
    expect(applyIdentifyUpdate(base, emptyIdentify())).toEqual(base)
  })
})
