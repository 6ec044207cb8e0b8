import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  endpointMultiaddr, ipText, parseTcpSegment, parseUdpDatagram, quicEndpointMultiaddr, TCP_ACK, TCP_PSH, TCP_SYN
} from '../../src/capture/packet.js'
import type { CapturePacket } from '../../src/capture/pcap.js'
import { CaptureError } from '../../src/capture/errors.js'
import { frameOf, ipBytes, ipPacket, linkFrame, tcpBytes, udpFrameOf } from './synth.js'
import type { SynthSegment } from './synth.js'

const packet = (linkType: number, data: Uint8Array): CapturePacket => ({
  index: 7,
  offset: 100,
  time: 1.5,
  linkType,
  data,
  originalLength: data.length
})

const seg = (ip: string, ip2: string, payload = Uint8Array.of(1, 2, 3)): SynthSegment => ({
  time: 1.5,
  src: { ip, port: 50312 },
  dst: { ip: ip2, port: 4001 },
  seq: 0xfffffff0,
  ack: 77,
  flags: TCP_ACK | TCP_PSH,
  payload
})

describe('parseTcpSegment', () => {
  const LINKS = [0, 1, 101, 108, 113, 228, 229, 276, 12]
  for (const linkType of LINKS) {
    for (const [a, b] of [['127.0.0.1', '10.1.2.3'], ['::1', '2001:db8::7']] as const) {
      if ((linkType === 228 && a === '::1') || (linkType === 229 && a !== '::1')) continue
      it(`link type ${linkType}, ${a.includes(':') ? 'IPv6' : 'IPv4'}`, () => {
        const s = seg(a, b)
        const t = parseTcpSegment(packet(linkType, frameOf(linkType, s).data))
        expect(t).toBeDefined()
        expect(ipText(t!.src.ip)).toBe(a)
        expect(ipText(t!.dst.ip)).toBe(b)
        expect(t!.src.port).toBe(50312)
        expect(t!.dst.port).toBe(4001)
        expect(t!.seq).toBe(0xfffffff0)
        expect(t!.ack).toBe(77)
        expect(t!.flags).toBe(TCP_ACK | TCP_PSH)
        expect(t!.payload).toEqual(Uint8Array.of(1, 2, 3))
        expect(t!.missing).toBe(0)
      })
    }
  }

  it('NULL loopback in either host byte order, VLAN tags, IPv6 extension headers, TCP options, Ethernet padding', () => {
    const s = seg('127.0.0.1', '127.0.0.1', Uint8Array.of(9))
    expect(parseTcpSegment(packet(0, frameOf(0, s, { nullBigEndian: true }).data))?.payload).toEqual(Uint8Array.of(9))
    expect(parseTcpSegment(packet(1, frameOf(1, s, { vlan: true }).data))?.payload).toEqual(Uint8Array.of(9))
    expect(parseTcpSegment(packet(1, frameOf(1, s, { padTo: 60 }).data))?.payload).toEqual(Uint8Array.of(9))
    expect(parseTcpSegment(packet(1, frameOf(1, s, { optionWords: 3 }).data))?.payload).toEqual(Uint8Array.of(9))
    const v6 = seg('::1', '::1', Uint8Array.of(8))
    expect(parseTcpSegment(packet(1, frameOf(1, v6, { v6ExtHeader: true }).data))?.payload).toEqual(Uint8Array.of(8))
  })

  it('reports bytes cut by the snap length', () => {
    const s = seg('127.0.0.1', '127.0.0.2', new Uint8Array(100).fill(5))
    const full = frameOf(1, s).data
    const t = parseTcpSegment(packet(1, full.subarray(0, full.length - 60)))
    expect(t?.payload.length).toBe(40)
    expect(t?.missing).toBe(60)
    // cut inside the TCP header: nothing usable, not an error
    expect(parseTcpSegment(packet(1, full.subarray(0, 14 + 20 + 10)))).toBeUndefined()
  })

  it('ignores what is not TCP over IP (ARP, UDP, fragments)', () => {
    const arp = new Uint8Array(42); arp[12] = 0x08; arp[13] = 0x06
    expect(parseTcpSegment(packet(1, arp))).toBeUndefined()
    const ip = ipPacket(seg('1.2.3.4', '5.6.7.8'), tcpBytes(seg('1.2.3.4', '5.6.7.8')))
    const udp = ip.slice(); udp[9] = 17
    expect(parseTcpSegment(packet(101, udp))).toBeUndefined()
    const frag = ip.slice(); frag[6] = 0x20 // MF
    expect(parseTcpSegment(packet(101, frag))).toBeUndefined()
  })

  it('names the packet and the field of a malformed header', () => {
    const s = seg('1.2.3.4', '5.6.7.8')
    const ip = ipPacket(s, tcpBytes(s))
    const badIhl = ip.slice(); badIhl[0] = 0x43
    expect(() => parseTcpSegment(packet(101, badIhl))).toThrow(/packet 7 \(offset 100\): IPv4 "header length" 12/)
    const badOffset = ip.slice(); badOffset[20 + 12] = 0x20
    expect(() => parseTcpSegment(packet(101, badOffset))).toThrow(/TCP "data offset" expected >= 20 bytes, got 8/)
    expect(() => parseTcpSegment(packet(1, Uint8Array.of(1, 2, 3)))).toThrow(
      /"Ethernet header" expected 14 bytes, got 3/
    )
    expect(() => parseTcpSegment(packet(147, linkFrame(101, ip)))).toThrow(/"link type" expected .* got 147/)
  })

  it('random frames: a segment, undefined or CaptureError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 101, 108, 113, 276),
        fc.uint8Array({ maxLength: 120 }),
        fc.boolean(),
        (linkType, bytes, ipish) => {
          const data = ipish ? linkFrame(linkType, Uint8Array.from([0x45, ...bytes])) : bytes
          try {
            const t = parseTcpSegment(packet(linkType, data))
            if (t !== undefined) expect(t.payload.length).toBeLessThanOrEqual(data.length)
          } catch (err) {
            expect(err).toBeInstanceOf(CaptureError)
          }
        }
      )
    )
  })

  it('formats addresses as RFC 5952 text and multiaddrs', () => {
    expect(ipText(ipBytes('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1')
    expect(ipText(ipBytes('::'))).toBe('::')
    expect(ipText(ipBytes('fe80::1'))).toBe('fe80::1')
    expect(endpointMultiaddr({ ip: ipBytes('::1'), port: 4001 })).toBe('/ip6/::1/tcp/4001')
    expect(endpointMultiaddr({ ip: ipBytes('127.0.0.1'), port: 1 })).toBe('/ip4/127.0.0.1/tcp/1')
    expect(TCP_SYN).toBe(2)
  })
})

describe('parseUdpDatagram', () => {
  const dg = (ip: string, ip2: string, payload = Uint8Array.of(9, 8, 7)): Parameters<typeof udpFrameOf>[1] =>
    ({ time: 1.5, src: { ip, port: 50312 }, dst: { ip: ip2, port: 4001 }, payload })

  for (const linkType of [0, 1, 101, 113, 276]) {
    for (const [a, b] of [['127.0.0.1', '127.0.0.2'], ['::1', 'fe80::2']] as const) {
      it(`link type ${linkType}, ${a.includes(':') ? 'IPv6' : 'IPv4'}`, () => {
        const d = parseUdpDatagram(packet(linkType, udpFrameOf(linkType, dg(a, b)).data))
        expect(d).toMatchObject({ packet: 7, time: 1.5, missing: 0 })
        expect([...d?.payload ?? []]).toEqual([9, 8, 7])
        expect(d?.src.port).toBe(50312)
        expect(d?.dst.port).toBe(4001)
        expect(quicEndpointMultiaddr(d?.dst as { ip: Uint8Array, port: number }))
          .toBe(a.includes(':') ? '/ip6/fe80::2/udp/4001/quic-v1' : '/ip4/127.0.0.2/udp/4001/quic-v1')
        // and a TCP parser sees nothing in it
        expect(parseTcpSegment(packet(linkType, udpFrameOf(linkType, dg(a, b)).data))).toBeUndefined()
      })
    }
  }

  it('IPv6 extension headers; the UDP length bounds the payload; snap length cuts', () => {
    const d = parseUdpDatagram(packet(101, udpFrameOf(101, dg('::1', '::2'), { v6ExtHeader: true }).data))
    expect(d?.payload.length).toBe(3)
    const short = parseUdpDatagram(packet(101, udpFrameOf(101, dg('1.2.3.4', '5.6.7.8'), { udpLength: 9 }).data))
    expect([...short?.payload ?? []]).toEqual([9])
    const full = udpFrameOf(1, dg('1.2.3.4', '5.6.7.8', new Uint8Array(100))).data
    const cut = parseUdpDatagram(packet(1, full.subarray(0, full.length - 60)))
    expect(cut).toMatchObject({ missing: 60 })
    expect(cut?.payload.length).toBe(40)
  })

  it('a UDP length shorter than its header or past the IP datagram is a CaptureError', () => {
    expect(() => parseUdpDatagram(packet(101, udpFrameOf(101, dg('1.2.3.4', '5.6.7.8'), { udpLength: 4 }).data)))
      .toThrow(/packet 7 \(offset 100\): UDP "length" expected >= 8, got 4/)
    expect(() => parseUdpDatagram(packet(101, udpFrameOf(101, dg('1.2.3.4', '5.6.7.8'), { udpLength: 200 }).data)))
      .toThrow(/UDP "length" 200 runs past the IP datagram/)
  })

  it('random frames: a datagram, undefined or CaptureError, never another exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 101, 113), fc.uint8Array({ maxLength: 120 }), (linkType, bytes) => {
        const ip = Uint8Array.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, ...bytes])
        try {
          const d = parseUdpDatagram(packet(linkType, linkFrame(linkType, ip)))
          if (d !== undefined) expect(d.payload.length).toBeLessThanOrEqual(ip.length)
        } catch (err) {
          expect(err).toBeInstanceOf(CaptureError)
        }
      })
    )
  })
})
