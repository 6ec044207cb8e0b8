/**
 * From a captured frame to a TCP segment or a UDP datagram: link layer → IPv4/IPv6 → TCP/UDP headers. Pure and
 * synchronous; views into the frame, no copies.
 *
 * Link types (tcpdump.org/linktypes.html):
 *   0   NULL / BSD loopback: 4-byte address family in the capturing host's byte order
 *   1   Ethernet (with 802.1Q / 802.1ad VLAN tags)
 *   101 raw IP (also 12/14, the platform DLT_RAW values), 228 raw IPv4, 229 raw IPv6
 *   108 OpenBSD loopback: like NULL, family in network byte order
 *   113 Linux cooked capture (SLL, `tcpdump -i any` before libpcap 1.10)
 *   276 Linux cooked capture v2 (SLL2, `tcpdump -i any` since libpcap 1.10)
 *
 * `parseTcpSegment` and `parseUdpDatagram` give `undefined` for frames that carry something else
 * (ARP, ICMP, the other protocol, …); a frame whose IP, TCP or UDP header is inconsistent is a
 * CaptureError. Checksums are not verified: on loopback and with
 * offloading they are routinely left blank by the kernel.
 */
import { CODE_IP4, CODE_IP6, CODE_TCP, Multiaddr } from '../transport/multiaddr.js'
import { CaptureError } from './errors.js'
import type { CapturePacket } from './pcap.js'

export const LINKTYPE_NULL = 0
export const LINKTYPE_ETHERNET = 1
export const LINKTYPE_RAW = 101
export const LINKTYPE_LOOP = 108
export const LINKTYPE_LINUX_SLL = 113
export const LINKTYPE_IPV4 = 228
export const LINKTYPE_IPV6 = 229
export const LINKTYPE_LINUX_SLL2 = 276
/** DLT_RAW on most BSDs (12) and OpenBSD (14), seen in files written there. */
const DLT_RAW_BSD = [12, 14]

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_IPV6 = 0x86dd
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100]
/** BSD AF_INET and the AF_INET6 values of Linux (10), NetBSD/OpenBSD (24), FreeBSD (28), macOS (30). */
const AF_INET = 2
const AF_INET6 = [10, 24, 28, 30]

const IPPROTO_TCP = 6
const IPPROTO_UDP = 17
/** RFC 768: source port, destination port, length, checksum. */
const UDP_HEADER_LENGTH = 8
/** IPv6 extension headers we step over (RFC 8200 §4): hop-by-hop, routing, fragment, destination options. */
const IPV6_HOP_BY_HOP = 0
const IPV6_ROUTING = 43
const IPV6_FRAGMENT = 44
const IPV6_DEST_OPTIONS = 60

/** TCP header flags (RFC 9293 §3.1). */
export const TCP_FIN = 0x01
export const TCP_SYN = 0x02
export const TCP_RST = 0x04
export const TCP_PSH = 0x08
export const TCP_ACK = 0x10

export interface TcpEndpoint {
  /** 4 or 16 bytes. */
  ip: Uint8Array
  port: number
}

export interface TcpSegment {
  packet: number
  time: number
  src: TcpEndpoint
  dst: TcpEndpoint
  seq: number
  ack: number
  flags: number
  payload: Uint8Array
  /** The frame was cut by the snap length: `payload` lacks `missing` bytes at its end. */
  missing: number
}

/**
 * Multiaddr text of an endpoint, e.g. `/ip4/127.0.0.1/tcp/4001` or `/ip6/::1/tcp/4001`: built as
 * binary (code ‖ address ‖ tcp code ‖ port) and printed by src/transport/multiaddr.ts, so the text
 * is the one the rest of switchyard (and its key log) writes.
 */
export function endpointMultiaddr (e: TcpEndpoint): string {
  const v4 = e.ip.length === 4
  // CODE_IP4 (4), CODE_IP6 (41) and CODE_TCP (6) are single-byte varints.
  const b = new Uint8Array(1 + e.ip.length + 1 + 2)
  b[0] = v4 ? CODE_IP4 : CODE_IP6
  b.set(e.ip, 1)
  b[1 + e.ip.length] = CODE_TCP
  b[2 + e.ip.length] = e.port >>> 8
  b[3 + e.ip.length] = e.port & 0xff
  return Multiaddr.fromBytes(b).toString()
}

/** `/ip4/127.0.0.1/udp/4001/quic-v1`: a QUIC endpoint as switchyard (and its key log) writes it. */
export function quicEndpointMultiaddr (e: TcpEndpoint): string {
  return `/${e.ip.length === 4 ? 'ip4' : 'ip6'}/${ipText(e.ip)}/udp/${e.port}/quic-v1`
}

/** The address alone, as multiaddr prints it (`127.0.0.1`, RFC 5952 IPv6). */
export function ipText (ip: Uint8Array): string {
  return endpointMultiaddr({ ip, port: 0 }).split('/')[2] as string
}

function u16 (b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number)
}

function u32 (b: Uint8Array, o: number): number {
  return ((b[o] as number) * 0x100_0000) +
    (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))
}

function malformed (p: CapturePacket, what: string): CaptureError {
  return new CaptureError(`packet ${p.index} (offset ${p.offset}): ${what}`, p.offset)
}

/** Offset and version (4/6) of the IP header in the frame, or undefined for a non-IP frame. */
function ipStart (p: CapturePacket): [offset: number, version: 4 | 6] | undefined {
  const d = p.data
  const byEtherType = (type: number, at: number): [number, 4 | 6] | undefined =>
    type === ETHERTYPE_IPV4 ? [at, 4] : type === ETHERTYPE_IPV6 ? [at, 6] : undefined
  const byVersion = (at: number): [number, 4 | 6] | undefined => {
    if (d.length <= at) return undefined
    const version = (d[at] as number) >> 4
    return version === 4 ? [at, 4] : version === 6 ? [at, 6] : undefined
  }
  const byFamily = (family: number): [number, 4 | 6] | undefined =>
    family === AF_INET ? [4, 4] : AF_INET6.includes(family) ? [4, 6] : undefined
  switch (p.linkType) {
    case LINKTYPE_ETHERNET: {
      if (d.length < 14) throw malformed(p, `"Ethernet header" expected 14 bytes, got ${d.length}`)
      let at = 12
      let type = u16(d, at)
      while (ETHERTYPE_VLAN.includes(type)) {
        at += 4
        if (d.length < at + 2) throw malformed(p, '"VLAN tag" truncated')
        type = u16(d, at)
      }
      return byEtherType(type, at + 2)
    }
    case LINKTYPE_LINUX_SLL:
      if (d.length < 16) throw malformed(p, `"Linux cooked (SLL) header" expected 16 bytes, got ${d.length}`)
      return byEtherType(u16(d, 14), 16)
    case LINKTYPE_LINUX_SLL2:
      if (d.length < 20) throw malformed(p, `"Linux cooked v2 (SLL2) header" expected 20 bytes, got ${d.length}`)
      return byEtherType(u16(d, 0), 20)
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return byVersion(0)
    case LINKTYPE_NULL: {
      if (d.length < 4) throw malformed(p, `"loopback header" expected 4 bytes, got ${d.length}`)
      // The family is in the capturing host's byte order; families are < 256, so whichever end
      // holds the non-zero byte tells the order.
      const family = d[0] === 0 && d[1] === 0 ? u16(d, 2) : (d[0] as number) | ((d[1] as number) << 8)
      return byFamily(family)
    }
    case LINKTYPE_LOOP:
      if (d.length < 4) throw malformed(p, `"loopback header" expected 4 bytes, got ${d.length}`)
      return byFamily(u32(d, 0))
    default:
      if (DLT_RAW_BSD.includes(p.linkType)) return byVersion(0)
      throw malformed(
        p,
        `"link type" expected 0 (NULL), 1 (Ethernet), 101 (raw IP), 108, 113 (SLL), 228, 229 or 276 (SLL2), got ${p.linkType}`
      )
  }
}

/** The IP payload of a frame: addresses, upper-layer protocol and where its bytes are in the frame. */
interface IpPayload {
  src: Uint8Array
  dst: Uint8Array
  /** IPPROTO_TCP, IPPROTO_UDP, … (after IPv6 extension headers). */
  protocol: number
  /** Offset of the upper-layer header in the frame. */
  at: number
  /** End of the IP datagram in the frame (Ethernet padding trimmed). */
  end: number
  /** Bytes of the IP datagram the snap length cut off. */
  cut: number
}

/**
 * The IP layer of a frame, or undefined when the frame is not IP (or is an IP fragment:
 * switchyard's peers never fragment on loopback, and reassembling IP is out of scope).
 */
function ipPayload (p: CapturePacket): IpPayload | undefined {
  const start = ipStart(p)
  if (start === undefined) return undefined
  const d = p.data
  let [at] = start
  const version = start[1]
  if (version === 4) {
    if (d.length - at < 20) throw malformed(p, `"IPv4 header" expected 20 bytes, got ${d.length - at}`)
    if ((d[at] as number) >> 4 !== 4) throw malformed(p, `"IP version" expected 4, got ${(d[at] as number) >> 4}`)
    const ihl = ((d[at] as number) & 0x0f) * 4
    const total = u16(d, at + 2)
    if (ihl < 20 || total < ihl) {
      throw malformed(p, `IPv4 "header length" ${ihl} / "total length" ${total} are inconsistent`)
    }
    if (d.length - at < ihl) throw malformed(p, `"IPv4 header" expected ${ihl} bytes, got ${d.length - at}`)
    const fragment = u16(d, at + 6)
    if ((fragment & 0x3fff) !== 0) return undefined // MF set or a non-zero offset: an IP fragment
    return {
      src: d.subarray(at + 12, at + 16),
      dst: d.subarray(at + 16, at + 20),
      protocol: d[at + 9] as number,
      at: at + ihl,
      // Total length trims Ethernet padding; TSO captures write 0 (use the frame).
      end: total === 0 ? d.length : Math.min(d.length, at + total),
      cut: total === 0 ? 0 : Math.max(0, at + total - d.length)
    }
  }
  if (d.length - at < 40) throw malformed(p, `"IPv6 header" expected 40 bytes, got ${d.length - at}`)
  if ((d[at] as number) >> 4 !== 6) throw malformed(p, `"IP version" expected 6, got ${(d[at] as number) >> 4}`)
  const payloadLength = u16(d, at + 4)
  let next = d[at + 6] as number
  const src = d.subarray(at + 8, at + 24)
  const dst = d.subarray(at + 24, at + 40)
  const end = payloadLength === 0 ? d.length : Math.min(d.length, at + 40 + payloadLength)
  const cut = payloadLength === 0 ? 0 : Math.max(0, at + 40 + payloadLength - d.length)
  at += 40
  while (next === IPV6_HOP_BY_HOP || next === IPV6_ROUTING || next === IPV6_FRAGMENT || next === IPV6_DEST_OPTIONS) {
    if (end - at < 8) throw malformed(p, '"IPv6 extension header" truncated')
    if (next === IPV6_FRAGMENT) {
      if ((u16(d, at + 2) & 0xfff9) !== 0) return undefined // a real fragment (offset or M flag)
      next = d[at] as number
      at += 8
    } else {
      const len = ((d[at + 1] as number) + 1) * 8
      next = d[at] as number
      at += len
    }
  }
  return { src, dst, protocol: next, at, end, cut }
}

/**
 * The TCP segment in a captured frame, or undefined when the frame is not TCP over IP (or is an IP
 * fragment).
 */
export function parseTcpSegment (p: CapturePacket): TcpSegment | undefined {
  const ip = ipPayload(p)
  if (ip === undefined || ip.protocol !== IPPROTO_TCP) return undefined
  const d = p.data
  const { at, end: ipEnd, cut } = ip
  if (ipEnd - at < 20) {
    if (cut > 0) return undefined // the snap length cut into the TCP header: nothing usable
    throw malformed(p, `"TCP header" expected 20 bytes, got ${ipEnd - at}`)
  }
  const dataOffset = ((d[at + 12] as number) >> 4) * 4
  if (dataOffset < 20) throw malformed(p, `TCP "data offset" expected >= 20 bytes, got ${dataOffset}`)
  if (ipEnd - at < dataOffset) {
    if (cut > 0) return undefined
    throw malformed(p, `"TCP header with options" expected ${dataOffset} bytes, got ${ipEnd - at}`)
  }
  return {
    packet: p.index,
    time: p.time,
    src: { ip: ip.src, port: u16(d, at) },
    dst: { ip: ip.dst, port: u16(d, at + 2) },
    seq: u32(d, at + 4),
    ack: u32(d, at + 8),
    flags: (d[at + 13] as number) & 0x3f,
    payload: d.subarray(at + dataOffset, ipEnd),
    missing: cut
  }
}

/** One UDP datagram of a capture (RFC 768). */
export interface UdpDatagram {
  packet: number
  time: number
  src: TcpEndpoint
  dst: TcpEndpoint
  payload: Uint8Array
  /** The frame was cut by the snap length: `payload` lacks `missing` bytes at its end. */
  missing: number
}

/**
 * The UDP datagram in a captured frame, or undefined when the frame is not UDP over IP (or is an
 * IP fragment). The UDP "length" field bounds the payload (RFC 768); a length that disagrees
 * with the IP datagram is a CaptureError.
 */
export function parseUdpDatagram (p: CapturePacket): UdpDatagram | undefined {
  const ip = ipPayload(p)
  if (ip === undefined || ip.protocol !== IPPROTO_UDP) return undefined
  const d = p.data
  const { at, end, cut } = ip
  if (end - at < UDP_HEADER_LENGTH) {
    if (cut > 0) return undefined
    throw malformed(p, `"UDP header" expected ${UDP_HEADER_LENGTH} bytes, got ${end - at}`)
  }
  const length = u16(d, at + 4)
  // 0 is a jumbogram's UDP length (RFC 2675 §4): the IP datagram bounds it
  const udpEnd = length === 0 ? end : at + length
  if (length !== 0 && length < UDP_HEADER_LENGTH) {
    throw malformed(p, `UDP "length" expected >= ${UDP_HEADER_LENGTH}, got ${length}`)
  }
  if (udpEnd > end + cut) throw malformed(p, `UDP "length" ${length} runs past the IP datagram`)
  return {
    packet: p.index,
    time: p.time,
    src: { ip: ip.src, port: u16(d, at) },
    dst: { ip: ip.dst, port: u16(d, at + 2) },
    payload: d.subarray(at + UDP_HEADER_LENGTH, Math.min(udpEnd, end)),
    missing: Math.max(0, udpEnd - end)
  }
}
