import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodePacketNumber, packetNumberLength, readPacketNumber, truncatePacketNumber, writePacketNumber
} from '../../../src/transport/quic/packet-number.js'

describe('packet numbers (RFC 9000 §17.1, Appendix A)', () => {
  it('Appendix A.2 examples', () => {
    expect(packetNumberLength(0xac5c02, 0xabe8b3)).toBe(2)
    expect(packetNumberLength(0xace8fe, 0xabe8b3)).toBe(3)
    expect(packetNumberLength(0, -1)).toBe(1)
  })

  it('Appendix A.3 example', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32)
  })

  it('recovers a packet number sent with the length the sender chose', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 2 ** 20 }),
      (largestAcked, ahead, receivedGap) => {
        // sender: pn = largestAcked + ahead; receiver has seen something between largestAcked and pn
        const pn = largestAcked + ahead + 1
        const len = packetNumberLength(pn, largestAcked)
        const truncated = truncatePacketNumber(pn, len)
        const largestReceived = Math.max(largestAcked, pn - 1 - Math.min(receivedGap, ahead))
        expect(decodePacketNumber(largestReceived, truncated, (len * 8) as 8 | 16 | 24 | 32)).toBe(pn)
      }))
  })

  it('writes and reads big-endian numbers of 1-4 bytes', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(1, 2, 3, 4), (v, len) => {
      const l = len as 1 | 2 | 3 | 4
      const t = truncatePacketNumber(v, l)
      const buf = new Uint8Array(6)
      writePacketNumber(buf, 1, t, l)
      expect(readPacketNumber(buf, 1, l)).toBe(t)
    }))
  })
})
