/**
 * pcapng capture files (draft-ietf-opsawg-pcapng; what Wireshark/dumpcap and `tcpdump --pcapng`
 * write), read from one `Uint8Array` with offsets. Pure: no I/O.
 *
 * A file is a sequence of blocks, each framed the same way (§3.1):
 *
 *   block type (4) | block total length (4) | body … | block total length (4)     (lengths % 4 == 0)
 *
 * Blocks used here: Section Header (0x0A0D0D0A, §4.1: byte order, resets the interfaces), Interface
 * Description (1, §4.2: link type, if_tsresol/if_tsoffset options), Enhanced Packet (6, §4.3),
 * Simple Packet (3, §4.4) and the obsolete Packet Block (2, Appendix A). Every other block
 * (name resolution, statistics, decryption secrets, custom) is skipped by its length.
 */
import { CaptureError } from './errors.js'
import type { CapturePacket } from './pcap.js'

/** §4.1: Section Header Block type (the same in both byte orders). */
export const BLOCK_SECTION_HEADER = 0x0a0d0d0a
export const BLOCK_INTERFACE_DESCRIPTION = 1
export const BLOCK_OBSOLETE_PACKET = 2
export const BLOCK_SIMPLE_PACKET = 3
export const BLOCK_ENHANCED_PACKET = 6
/** §4.1: the byte-order magic inside the Section Header. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d
/** §4.2 options: `if_tsresol` (1 byte) and `if_tsoffset` (8 bytes, seconds). */
export const OPTION_IF_TSRESOL = 9
export const OPTION_IF_TSOFFSET = 14
/** Largest block accepted (bounds a corrupt length before it is trusted; dumpcap writes far less). */
export const MAX_BLOCK_LENGTH = 16 * 1024 * 1024

interface Interface {
  linkType: number
  snapLength: number
  /** Timestamp units per second (if_tsresol; default 10^6). */
  unitsPerSecond: number
  /** if_tsoffset in seconds. */
  offsetSeconds: number
}

export function isPcapng (buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x0a && buf[1] === 0x0d && buf[2] === 0x0d && buf[3] === 0x0a
}

class View {
  constructor (readonly buf: Uint8Array, public littleEndian: boolean) {}

  u16 (o: number): number {
    const a = this.buf[o] as number
    const b = this.buf[o + 1] as number
    return this.littleEndian ? a | (b << 8) : (a << 8) | b
  }

  u32 (o: number): number {
    const a = this.buf[o] as number
    const b = this.buf[o + 1] as number
    const c = this.buf[o + 2] as number
    const d = this.buf[o + 3] as number
    return this.littleEndian ? (a | (b << 8) | (c << 16)) + d * 0x100_0000 : (d | (c << 8) | (b << 16)) + a * 0x100_0000
  }

  /** A signed 64-bit integer as a number (if_tsoffset seconds: small in practice). */
  i64 (o: number): number {
    const lo = this.u32(this.littleEndian ? o : o + 4)
    const hi = this.u32(this.littleEndian ? o + 4 : o)
    return (hi >= 0x8000_0000 ? hi - 0x1_0000_0000 : hi) * 0x1_0000_0000 + lo
  }
}

/**
 * The packets of a pcapng file, in file order, across every section. Throws CaptureError (after
 * yielding every packet before it) for a malformed block, a packet on an undeclared interface, or
 * a file cut in the middle of a block.
 */
export function * readPcapng (buf: Uint8Array): Generator<CapturePacket, void, undefined> {
  if (!isPcapng(buf)) throw new CaptureError('pcapng: expected a Section Header Block (0a0d0d0a) at offset 0', 0)
  const v = new View(buf, true)
  let interfaces: Interface[] = []
  let offset = 0
  let index = 0
  let blockNumber = 0
  while (offset < buf.length) {
    blockNumber++
    const where = `block ${blockNumber} at offset ${offset}`
    if (buf.length - offset < 12) {
      throw new CaptureError(
        `pcapng: ${where} is truncated: "block header" expected 12 bytes, ${buf.length - offset} remain`,
        offset
      )
    }
    let type = v.u32(offset)
    if (type === BLOCK_SECTION_HEADER) {
      // §4.1: a new section: its own byte order, its own interfaces.
      const magicLE = (buf[offset + 8] as number) | ((buf[offset + 9] as number) << 8) |
        ((buf[offset + 10] as number) << 16) | ((buf[offset + 11] as number) << 24)
      if (magicLE >>> 0 === BYTE_ORDER_MAGIC) v.littleEndian = true
      else if (magicLE >>> 0 === 0x4d3c2b1a) v.littleEndian = false
      else {
        throw new CaptureError(
          `pcapng: ${where}: "byte-order magic" expected 1a2b3c4d, got ${
            (magicLE >>> 0).toString(16).padStart(8, '0')
          }`,
          offset + 8
        )
      }
      interfaces = []
      type = BLOCK_SECTION_HEADER
    }
    const length = v.u32(offset + 4)
    if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK_LENGTH) {
      throw new CaptureError(
        `pcapng: ${where}: "block total length" expected a multiple of 4 in [12, ${MAX_BLOCK_LENGTH}], got ${length}`,
        offset + 4
      )
    }
    if (buf.length - offset < length) {
      throw new CaptureError(
        `pcapng: ${where} is truncated: "block" expected ${length} bytes, ${buf.length - offset} remain`,
        offset
      )
    }
    const trailer = v.u32(offset + length - 4)
    if (trailer !== length) {
      throw new CaptureError(
        `pcapng: ${where}: "trailing block total length" expected ${length}, got ${trailer}`,
        offset + length - 4
      )
    }
    const body = offset + 8
    const bodyEnd = offset + length - 4
    const need = (n: number, what: string): void => {
      if (bodyEnd - body < n) {
        throw new CaptureError(
          `pcapng: ${where}: "${what}" expected a body of >= ${n} bytes, got ${bodyEnd - body}`,
          offset
        )
      }
    }
    switch (type) {
      case BLOCK_SECTION_HEADER: {
        need(16, 'section header')
        const major = v.u16(body + 4)
        if (major !== 1) throw new CaptureError(`pcapng: ${where}: "major version" expected 1, got ${major}`, body + 4)
        break
      }
      case BLOCK_INTERFACE_DESCRIPTION: {
        need(8, 'interface description')
        interfaces.push(readInterface(v, body, bodyEnd, where))
        break
      }
      case BLOCK_ENHANCED_PACKET:
      case BLOCK_OBSOLETE_PACKET: {
        need(20, type === BLOCK_ENHANCED_PACKET ? 'enhanced packet' : 'packet')
        const ifaceId = type === BLOCK_ENHANCED_PACKET ? v.u32(body) : v.u16(body)
        const iface = interfaces[ifaceId]
        if (iface === undefined) {
          throw new CaptureError(
            `pcapng: ${where}: "interface id" expected < ${interfaces.length} (interfaces declared in this section), got ${ifaceId}`,
            body
          )
        }
        const captured = v.u32(body + 12)
        const original = v.u32(body + 16)
        if (captured > bodyEnd - body - 20) {
          throw new CaptureError(
            `pcapng: ${where}: "captured length" ${captured} exceeds the block (${
              bodyEnd - body - 20
            } bytes of packet data)`,
            body + 12
          )
        }
        const units = v.u32(body + 4) * 0x1_0000_0000 + v.u32(body + 8)
        index++
        yield {
          index,
          offset,
          time: timeOf(iface, units),
          linkType: iface.linkType,
          data: buf.subarray(body + 20, body + 20 + captured),
          originalLength: original
        }
        break
      }
      case BLOCK_SIMPLE_PACKET: {
        need(4, 'simple packet')
        const iface = interfaces[0]
        if (iface === undefined) {
          throw new CaptureError(
            `pcapng: ${where}: a Simple Packet Block needs interface 0, none declared in this section`,
            offset
          )
        }
        const original = v.u32(body)
        let captured = Math.min(original, bodyEnd - body - 4)
        if (iface.snapLength !== 0) captured = Math.min(captured, iface.snapLength)
        index++
        // §4.4: no timestamp. Report the time as unknown (0): the decoder orders by file position.
        yield {
          index,
          offset,
          time: 0,
          linkType: iface.linkType,
          data: buf.subarray(body + 4, body + 4 + captured),
          originalLength: original
        }
        break
      }
      default:
        break // §3: blocks a reader does not know are skipped
    }
    offset += length
  }
}

function readInterface (v: View, body: number, bodyEnd: number, where: string): Interface {
  const iface: Interface = { linkType: v.u16(body), snapLength: v.u32(body + 4), unitsPerSecond: 1e6, offsetSeconds: 0 }
  // §3.5 options: code(2) length(2) value, padded to 4; ended by opt_endofopt (0) or the body end.
  let o = body + 8
  while (bodyEnd - o >= 4) {
    const code = v.u16(o)
    const len = v.u16(o + 2)
    if (code === 0) break
    if (o + 4 + len > bodyEnd) {
      throw new CaptureError(`pcapng: ${where}: option ${code} of length ${len} overruns the interface block`, o)
    }
    if (code === OPTION_IF_TSRESOL && len >= 1) {
      const r = v.buf[o + 4] as number
      // §4.2 if_tsresol: MSB clear → 10^-r seconds, set → 2^-(r & 0x7f)
      const exp = r & 0x7f
      iface.unitsPerSecond = (r & 0x80) === 0 ? 10 ** exp : 2 ** exp
      if (!Number.isFinite(iface.unitsPerSecond) || exp > 60) {
        throw new CaptureError(
          `pcapng: ${where}: "if_tsresol" expected at most 10^-18 or 2^-60, got 0x${r.toString(16)}`,
          o + 4
        )
      }
    } else if (code === OPTION_IF_TSOFFSET && len >= 8) {
      iface.offsetSeconds = v.i64(o + 4)
    }
    o += 4 + Math.ceil(len / 4) * 4
  }
  return iface
}

function timeOf (iface: Interface, units: number): number {
  return (units / iface.unitsPerSecond + iface.offsetSeconds) * 1000
}
