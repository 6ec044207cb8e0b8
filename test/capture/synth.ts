/**
 * Test-only capture writers: synthesize link/IP/TCP headers and write pcap or pcapng files, so the
 * readers and the decoder can be driven by captures we fully control (and by the loopback recorder
 * in recorder.ts). Checksums are left zero, as loopback captures often have them.
 */
import { isIPv4 } from 'node:net'

export interface Endpoint { ip: string, port: number }

export interface SynthSegment {
  time: number
  src: Endpoint
  dst: Endpoint
  seq: number
  ack: number
  flags: number
  payload: Uint8Array
}

export interface Frame { time: number, data: Uint8Array, originalLength?: number }

export const FIN = 0x01
export const SYN = 0x02
export const RST = 0x04
export const PSH = 0x08
export const ACK = 0x10

export function ipBytes (ip: string): Uint8Array {
  if (isIPv4(ip)) return Uint8Array.from(ip.split('.').map(Number))
  // expand "::"
  const [head, tail] = ip.includes('::') ? ip.split('::') as [string, string] : [ip, undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => { const n = parseInt(g, 16); out[2 * i] = n >> 8; out[2 * i + 1] = n & 0xff })
  return out
}

function put16 (b: Uint8Array, o: number, v: number): void {
  b[o] = v >> 8
  b[o + 1] = v & 0xff
}
function put32 (b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = v >>> 16
  b[o + 2] = v >>> 8
  b[o + 3] = v
}

/** TCP header (+ optional options) ‖ payload. */
export function tcpBytes (s: SynthSegment, optionWords = 0): Uint8Array {
  const hl = 20 + optionWords * 4
  const out = new Uint8Array(hl + s.payload.length)
  put16(out, 0, s.src.port); put16(out, 2, s.dst.port)
  put32(out, 4, s.seq >>> 0); put32(out, 8, s.ack >>> 0)
  out[12] = (hl / 4) << 4
  out[13] = s.flags
  put16(out, 14, 65535)
  for (let i = 20; i < hl; i++) out[i] = 1 // NOP options
  out.set(s.payload, hl)
  return out
}

/**
 * IPv4 or IPv6 (chosen by the address) carrying `tcp` (or, with `protocol` 17, a UDP datagram).
 * `v6ExtHeader` inserts a hop-by-hop header.
 */
export function ipPacket (
  s: { src: Endpoint, dst: Endpoint },
  tcp: Uint8Array,
  opts: { v6ExtHeader?: boolean, protocol?: number } = {}
): Uint8Array {
  const src = ipBytes(s.src.ip)
  const dst = ipBytes(s.dst.ip)
  const protocol = opts.protocol ?? 6
  if (src.length === 4) {
    const out = new Uint8Array(20 + tcp.length)
    out[0] = 0x45; put16(out, 2, out.length); put16(out, 6, 0x4000) // DF
    out[8] = 64; out[9] = protocol
    out.set(src, 12); out.set(dst, 16); out.set(tcp, 20)
    return out
  }
  const ext = opts.v6ExtHeader === true ? 8 : 0
  const out = new Uint8Array(40 + ext + tcp.length)
  out[0] = 0x60; put16(out, 4, ext + tcp.length); out[6] = ext > 0 ? 0 : protocol; out[7] = 64
  out.set(src, 8); out.set(dst, 24)
  if (ext > 0) { out[40] = protocol; out[41] = 0 }
  out.set(tcp, 40 + ext)
  return out
}

/** Wrap an IP packet in the link layer of `linkType`. */
export function linkFrame (
  linkType: number,
  ip: Uint8Array,
  opts: { vlan?: boolean, padTo?: number, nullBigEndian?: boolean } = {}
): Uint8Array {
  const v6 = (ip[0] as number) >> 4 === 6
  const etherType = v6 ? 0x86dd : 0x0800
  let head: Uint8Array
  switch (linkType) {
    case 1: {
      head = new Uint8Array(opts.vlan === true ? 18 : 14)
      head.fill(0xaa, 0, 12)
      if (opts.vlan === true) {
        put16(head, 12, 0x8100)
        put16(head, 14, 7)
        put16(head, 16, etherType)
      } else put16(head, 12, etherType)
      break
    }
    case 113: head = new Uint8Array(16); put16(head, 2, 772); put16(head, 4, 6); put16(head, 14, etherType); break
    case 276: head = new Uint8Array(20); put16(head, 0, etherType); put16(head, 8, 772); head[11] = 6; break
    case 12: case 14: case 101: case 228: case 229: head = new Uint8Array(0); break
    case 0: {
      head = new Uint8Array(4)
      const family = v6 ? 30 : 2
      if (opts.nullBigEndian === true) head[3] = family; else head[0] = family
      break
    }
    case 108: head = new Uint8Array(4); head[3] = v6 ? 24 : 2; break
    default: throw new Error(`synth: link type ${linkType}`)
  }
  const len = Math.max(head.length + ip.length, opts.padTo ?? 0)
  const out = new Uint8Array(len)
  out.set(head); out.set(ip, head.length)
  return out
}

export function frameOf (
  linkType: number,
  s: SynthSegment,
  opts: { vlan?: boolean, v6ExtHeader?: boolean, padTo?: number, optionWords?: number, nullBigEndian?: boolean } = {}
): Frame {
  return { time: s.time, data: linkFrame(linkType, ipPacket(s, tcpBytes(s, opts.optionWords ?? 0), opts), opts) }
}

/** One UDP datagram (RFC 768; checksum left 0, "not computed" over IPv4). */
export interface SynthDatagram { time: number, src: Endpoint, dst: Endpoint, payload: Uint8Array }

/** UDP header ‖ payload; `length` overrides the UDP length field (malformed-input tests). */
export function udpBytes (d: SynthDatagram, length = 8 + d.payload.length): Uint8Array {
  const out = new Uint8Array(8 + d.payload.length)
  put16(out, 0, d.src.port); put16(out, 2, d.dst.port); put16(out, 4, length)
  out.set(d.payload, 8)
  return out
}

export function udpFrameOf (
  linkType: number,
  d: SynthDatagram,
  opts: { v6ExtHeader?: boolean, udpLength?: number } = {}
): Frame {
  const ip = ipPacket(d, udpBytes(d, opts.udpLength), { ...opts, protocol: 17 })
  return { time: d.time, data: linkFrame(linkType, ip) }
}

class Writer {
  private readonly parts: Uint8Array[] = []
  constructor (private readonly le: boolean) {}
  u16 (v: number): this {
    const b = new Uint8Array(2)
    const d = new DataView(b.buffer)
    d.setUint16(0, v, this.le)
    this.parts.push(b)
    return this
  }

  u32 (v: number): this {
    const b = new Uint8Array(4)
    const d = new DataView(b.buffer)
    d.setUint32(0, v >>> 0, this.le)
    this.parts.push(b)
    return this
  }

  bytes (b: Uint8Array): this {
    this.parts.push(b)
    return this
  }

  pad4 (n: number): this {
    const p = (4 - (n % 4)) % 4
    if (p > 0) this.parts.push(new Uint8Array(p))
    return this
  }

  finish (): Uint8Array {
    const len = this.parts.reduce((a, p) => a + p.length, 0)
    const out = new Uint8Array(len); let o = 0
    for (const p of this.parts) { out.set(p, o); o += p.length }
    return out
  }
}

export function writePcap (
  frames: Frame[],
  linkType: number,
  opts: { littleEndian?: boolean, nanoseconds?: boolean } = {}
): Uint8Array {
  const le = opts.littleEndian ?? true
  const w = new Writer(le)
  w.u32(opts.nanoseconds === true ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(262144).u32(linkType)
  for (const f of frames) {
    const sec = Math.floor(f.time / 1000)
    const frac = opts.nanoseconds === true
      ? Math.round((f.time - sec * 1000) * 1e6)
      : Math.round((f.time - sec * 1000) * 1e3)
    w.u32(sec).u32(frac).u32(f.data.length).u32(f.originalLength ?? f.data.length).bytes(f.data)
  }
  return w.finish()
}

export interface PcapngInterface { linkType: number, tsresol?: number, tsoffset?: number, snapLength?: number }
export interface PcapngPacket { iface: number, frame: Frame, simple?: boolean }

function block (le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = Math.ceil(body.length / 4) * 4
  const w = new Writer(le)
  return w.u32(type).u32(padded + 12).bytes(body).pad4(body.length).u32(padded + 12).finish()
}

/** One section per entry of `sections`; each declares its interfaces, then its packets. */
export function writePcapng (
  sections: Array<
    { interfaces: PcapngInterface[], packets: PcapngPacket[], littleEndian?: boolean, extraBlock?: boolean }
  >
): Uint8Array {
  const out: Uint8Array[] = []
  for (const sec of sections) {
    const le = sec.littleEndian ?? true
    const shb = new Writer(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).finish()
    out.push(block(le, 0x0a0d0d0a, shb))
    for (const i of sec.interfaces) {
      const w = new Writer(le).u16(i.linkType).u16(0).u32(i.snapLength ?? 0)
      if (i.tsresol !== undefined) w.u16(9).u16(1).bytes(Uint8Array.of(i.tsresol)).pad4(1)
      if (i.tsoffset !== undefined) {
        w.u16(14).u16(8)
        const b = new Uint8Array(8)
        new DataView(b.buffer).setBigInt64(0, BigInt(i.tsoffset), le)
        w.bytes(b)
      }
      w.u16(0).u16(0)
      out.push(block(le, 1, w.finish()))
    }
    if (sec.extraBlock === true) out.push(block(le, 0x0bad, Uint8Array.of(1, 2, 3, 4, 5)))
    for (const p of sec.packets) {
      const iface = sec.interfaces[p.iface] as PcapngInterface
      if (p.simple === true) {
        out.push(
          block(le, 3, new Writer(le).u32(p.frame.originalLength ?? p.frame.data.length).bytes(p.frame.data).finish())
        )
        continue
      }
      const r = iface.tsresol ?? 6
      const perSec = (r & 0x80) !== 0 ? 2 ** (r & 0x7f) : 10 ** r
      const units = BigInt(Math.round(((p.frame.time / 1000) - (iface.tsoffset ?? 0)) * perSec))
      const w = new Writer(le).u32(p.iface).u32(Number(units >> 32n)).u32(Number(units & 0xffffffffn))
        .u32(p.frame.data.length).u32(p.frame.originalLength ?? p.frame.data.length).bytes(p.frame.data).pad4(
          p.frame.data.length
        )
      out.push(block(le, 6, w.finish()))
    }
  }
  const len = out.reduce((a, p) => a + p.length, 0)
  const buf = new Uint8Array(len); let o = 0
  for (const p of out) { buf.set(p, o); o += p.length }
  return buf
}

/**
 * Sequence-number bookkeeping for one TCP connection: produces the SYN/SYN-ACK/ACK handshake, data
 * segments (split at `mss`), and FINs, with correct seq/ack numbers from the given ISNs.
 */
export class TcpFlow {
  private seqC: number
  private seqS: number
  readonly segments: SynthSegment[] = []

  /** `sink`: also append every segment there (several flows into one capture, in event order). */
  constructor (
    readonly client: Endpoint,
    readonly server: Endpoint,
    isnClient = 1000,
    isnServer = 5000,
    readonly mss = 1460,
    private readonly sink?: SynthSegment[]
  ) {
    this.seqC = isnClient >>> 0
    this.seqS = isnServer >>> 0
  }

  private add (fromClient: boolean, time: number, flags: number, payload: Uint8Array): SynthSegment {
    const s: SynthSegment = {
      time,
      src: fromClient ? this.client : this.server,
      dst: fromClient ? this.server : this.client,
      seq: fromClient ? this.seqC : this.seqS,
      ack: fromClient ? this.seqS : this.seqC,
      flags,
      payload
    }
    const advance = payload.length + ((flags & (SYN | FIN)) !== 0 ? 1 : 0)
    if (fromClient) this.seqC = (this.seqC + advance) >>> 0
    else this.seqS = (this.seqS + advance) >>> 0
    this.segments.push(s)
    this.sink?.push(s)
    return s
  }

  handshake (time: number): void {
    this.add(true, time, SYN, new Uint8Array(0))
    this.add(false, time, SYN | ACK, new Uint8Array(0))
    this.add(true, time, ACK, new Uint8Array(0))
  }

  /** Data from one side, split into segments of at most `mss` bytes; returns them. */
  send (fromClient: boolean, time: number, data: Uint8Array): SynthSegment[] {
    const out: SynthSegment[] = []
    for (let o = 0; o < data.length; o += this.mss) {
      out.push(this.add(fromClient, time, ACK | PSH, data.subarray(o, o + this.mss)))
    }
    return out
  }

  fin (fromClient: boolean, time: number): void {
    this.add(fromClient, time, FIN | ACK, new Uint8Array(0))
  }

  rst (fromClient: boolean, time: number): void {
    this.add(fromClient, time, RST, new Uint8Array(0))
  }
}
