import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { QuicError } from '../../../src/errors.js'
import { LongPacketType, QUIC_V1 } from '../../../src/transport/quic/constants.js'
import {
  encodeLongHeader, encodeRetryWithoutTag, encodeShortHeader, encodeVersionNegotiation, parseHeader, splitDatagram
} from '../../../src/transport/quic/header.js'
import { readPacketNumber } from '../../../src/transport/quic/packet-number.js'

const cid = (min = 0, max = 20): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max })
const longType = fc.constantFrom(LongPacketType.Initial, LongPacketType.ZeroRtt, LongPacketType.Handshake)
const pnLen = fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4)

function longPacket (
  type: LongPacketType.Initial | LongPacketType.ZeroRtt | LongPacketType.Handshake,
  dcid: Uint8Array,
  scid: Uint8Array,
  token: Uint8Array,
  pnLength: 1 | 2 | 3 | 4,
  pn: number,
  payload: Uint8Array
): Uint8Array {
  const h = encodeLongHeader({ type, dcid, scid, token }, pnLength, pn, payload.length)
  return Uint8Array.from([...h.bytes, ...payload])
}

describe('QUIC packet headers (RFC 9000 §17)', () => {
  it('long headers round trip (unprotected), with pnOffset and packetEnd', () => {
    fc.assert(
      fc.property(
        longType,
        cid(),
        cid(),
        cid(0, 40),
        pnLen,
        fc.integer({ min: 0, max: 0xff }),
        fc.uint8Array({ minLength: 20, maxLength: 100 }),
        (type, dcid, scid, token, pnLength, pn, payload) => {
          const pkt = longPacket(type, dcid, scid, token, pnLength, pn, payload)
          const h = parseHeader(pkt, 0, 8)
          expect(h.form).toBe('long')
          if (h.form !== 'long') return
          expect(h.type).toBe(type)
          expect(h.version).toBe(QUIC_V1)
          expect([...h.dcid]).toEqual([...dcid])
          expect([...h.scid]).toEqual([...scid])
          expect([...h.token]).toEqual(type === LongPacketType.Initial ? [...token] : [])
          expect(h.packetEnd).toBe(pkt.length)
          expect(((pkt[0] as number) & 3) + 1).toBe(pnLength)
          expect(readPacketNumber(pkt, h.pnOffset, pnLength)).toBe(pn)
        }
      )
    )
  })

  it('short headers round trip', () => {
    fc.assert(fc.property(cid(0, 20), pnLen, fc.constantFrom<0 | 1>(0, 1), (dcid, pnLength, kp) => {
      const h = encodeShortHeader(dcid, pnLength, 7, kp)
      const pkt = Uint8Array.from([...h.bytes, ...new Uint8Array(20)])
      const p = parseHeader(pkt, 0, dcid.length)
      expect(p).toMatchObject({ form: 'short', pnOffset: 1 + dcid.length, packetEnd: pkt.length })
      expect(((pkt[0] as number) >> 2) & 1).toBe(kp)
    }))
  })

  it('coalesced packets split at each Length (RFC 9000 §12.2), short header last', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(longType, fc.uint8Array({ minLength: 20, maxLength: 60 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (parts, withShort) => {
          const dcid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)
          const packets = parts.map(([t, payload]) =>
            longPacket(t, dcid, new Uint8Array(0), new Uint8Array(0), 1, 0, payload)
          )
          if (withShort) {
            packets.push(
              Uint8Array.from([...encodeShortHeader(dcid, 1, 0, 0).bytes, ...new Uint8Array(30)])
            )
          }
          const datagram = Uint8Array.from(packets.flatMap(p => [...p]))
          const { packets: split, error } = splitDatagram(datagram, 8)
          expect(error).toBeUndefined()
          expect(split.map(p => p.packetEnd - p.packetStart)).toEqual(packets.map(p => p.length))
        }
      )
    )
  })

  it('truncation at every offset and garbage give a typed drop (ERR_QUIC_MALFORMED_PACKET), never a throw of another kind', () => {
    fc.assert(
      fc.property(
        longType,
        cid(),
        cid(),
        pnLen,
        fc.uint8Array({ minLength: 20, maxLength: 40 }),
        (type, dcid, scid, pnLength, payload) => {
          const pkt = longPacket(type, dcid, scid, new Uint8Array(3), pnLength, 0, payload)
          for (let i = 0; i < pkt.length; i++) {
            expect(() => parseHeader(pkt.subarray(0, i), 0, 8)).toThrowError(
              expect.objectContaining({ code: 'ERR_QUIC_MALFORMED_PACKET' })
            )
          }
        }
      ),
      { numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (b) => {
        const { packets, error } = splitDatagram(b, 8)
        if (error !== undefined) expect(error).toBeInstanceOf(QuicError)
        for (const p of packets) expect(p.packetEnd).toBeLessThanOrEqual(b.length)
      }),
      { numRuns: 5000 }
    )
  })

  it('drops what RFC 9000 says to drop', () => {
    const dcid = new Uint8Array(8)
    const ok = longPacket(LongPacketType.Handshake, dcid, dcid, new Uint8Array(0), 1, 0, new Uint8Array(30))
    const noFixed = ok.slice(); noFixed[0] = (noFixed[0] as number) & ~0x40
    expect(() => parseHeader(noFixed, 0, 8)).toThrowError(/fixed bit/)
    expect(() => parseHeader(Uint8Array.of(0x00, ...dcid, 0, 0), 0, 8)).toThrowError(/fixed bit/)
    const longCid = Uint8Array.of(0xe0, 0, 0, 0, 1, 21, ...new Uint8Array(21), 0, 0x40, 20, ...new Uint8Array(30))
    expect(() => parseHeader(longCid, 0, 8)).toThrowError(/<= 20/)
    const shortLength = Uint8Array.of(0xe0, 0, 0, 0, 1, 0, 0, 5, 0, 0, 0, 0, 0)
    expect(() => parseHeader(shortLength, 0, 8)).toThrowError(/>= 20/)
  })

  it('version negotiation: encode, parse, and an unknown version seen by its invariants (RFC 8999)', () => {
    const vn = encodeVersionNegotiation(Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5), [QUIC_V1, 0x6b3343cf], 0x7f)
    const p = parseHeader(vn, 0, 8)
    expect(p).toMatchObject({ form: 'version-negotiation', versions: [QUIC_V1, 0x6b3343cf] })
    if (p.form !== 'version-negotiation') return
    expect([...p.dcid]).toEqual([1, 2])
    expect([...p.scid]).toEqual([3, 4, 5])
    expect(() => parseHeader(vn.subarray(0, vn.length - 1), 0, 8)).toThrowError(/version list/)
    const unknown = Uint8Array.of(0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 30, ...new Uint8Array(30), 0, 1, 2, 3)
    expect(parseHeader(unknown, 0, 8)).toMatchObject({ form: 'unsupported-version', version: 0x1a2a3a4a })
  })

  it('retry packets split token and integrity tag', () => {
    const r = Uint8Array.from([
      ...encodeRetryWithoutTag(QUIC_V1, Uint8Array.of(9), Uint8Array.of(8, 7), Uint8Array.of(1, 2, 3)),
      ...new Uint8Array(16).fill(0xee)
    ])
    const p = parseHeader(r, 0, 8)
    expect(p.form).toBe('retry')
    if (p.form !== 'retry') return
    expect([...p.token]).toEqual([1, 2, 3])
    expect(p.integrityTag.every(b => b === 0xee)).toBe(true)
  })
})
