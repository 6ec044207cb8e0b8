/**
 * Classic libpcap capture files (draft-ietf-opsawg-pcap §4–5; what `tcpdump -w` writes), read from
 * one `Uint8Array` with offsets. Pure: no I/O.
 *
 *   file header (24 B)  magic(4) major(2) minor(2) reserved1(4) reserved2(4) snaplen(4) linktype(4)
 *   record header (16 B) ts_sec(4) ts_frac(4) captured_len(4) original_len(4), then the bytes
 *
 * The magic gives both the byte order (it reads 0xd4c3b2a1 when swapped) and the time resolution
 * (0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds). `readCapture` also dispatches pcapng.
 */
import { CaptureError } from './errors.js'
import { isPcapng, readPcapng } from './pcapng.js'

/** One captured frame. `data` is a view into the file buffer. */
export interface CapturePacket {
  /** 1-based number of the packet in the file (what Wireshark shows as "No."). */
  index: number
  /** Byte offset of the packet's record in the file. */
  offset: number
  /** Capture time, milliseconds since the Unix epoch (sub-millisecond precision kept). */
  time: number
  /** LINKTYPE_* value of the interface (1 Ethernet, 113 SLL, 276 SLL2, 101 raw IP, 0 NULL, …). */
  linkType: number
  /** The captured bytes (possibly fewer than `originalLength`: snap length). */
  data: Uint8Array
  originalLength: number
}

/** draft-ietf-opsawg-pcap §4: magic numbers as read in the file's own byte order. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d
export const PCAP_FILE_HEADER_LENGTH = 24
export const PCAP_RECORD_HEADER_LENGTH = 16
/** Largest captured length we accept per record (tcpdump's maximum snap length, 256 KiB). */
export const MAX_CAPTURED_LENGTH = 262144

function readU32 (buf: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = buf[offset] as number
  const b = buf[offset + 1] as number
  const c = buf[offset + 2] as number
  const d = buf[offset + 3] as number
  return littleEndian ? (a | (b << 8) | (c << 16)) + d * 0x100_0000 : (d | (c << 8) | (b << 16)) + a * 0x100_0000
}

/** The magic in big-endian order, or undefined for fewer than 4 bytes. */
function magicOf (buf: Uint8Array): number | undefined {
  return buf.length < 4 ? undefined : readU32(buf, 0, false)
}

/** The two magics as they read when the file is little-endian. */
const SWAPPED_MICROSECONDS = 0xd4c3b2a1
const SWAPPED_NANOSECONDS = 0x4d3cb2a1

export function isPcap (buf: Uint8Array): boolean {
  const m = magicOf(buf)
  return m === PCAP_MAGIC_MICROSECONDS || m === PCAP_MAGIC_NANOSECONDS || m === SWAPPED_MICROSECONDS ||
    m === SWAPPED_NANOSECONDS
}

/**
 * The packets of a pcap file, in file order. Throws CaptureError (after yielding every packet
 * before it) for a bad header, an impossible record length, or a file cut in the middle of a record.
 */
export function * readPcap (buf: Uint8Array): Generator<CapturePacket, void, undefined> {
  const m = magicOf(buf)
  let littleEndian: boolean
  let nanoseconds: boolean
  if (m === PCAP_MAGIC_MICROSECONDS || m === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false; nanoseconds = m === PCAP_MAGIC_NANOSECONDS
  } else if (m === SWAPPED_MICROSECONDS || m === SWAPPED_NANOSECONDS) {
    littleEndian = true; nanoseconds = m === SWAPPED_NANOSECONDS
  } else {
    throw new CaptureError(
      `pcap: "magic" expected a1b2c3d4 or a1b23c4d (either byte order), got ${
        m === undefined ? `a ${buf.length}-byte file` : m.toString(16).padStart(8, '0')
      }`,
      0
    )
  }
  if (buf.length < PCAP_FILE_HEADER_LENGTH) {
    throw new CaptureError(`pcap: "file header" expected ${PCAP_FILE_HEADER_LENGTH} bytes, got ${buf.length}`, 0)
  }
  const major = littleEndian
    ? (buf[4] as number) | ((buf[5] as number) << 8)
    : ((buf[4] as number) << 8) | (buf[5] as number)
  if (major !== 2) throw new CaptureError(`pcap: "major version" expected 2, got ${major}`, 4)
  // draft-ietf-opsawg-pcap §4: the low 16 bits are the link type; bits 26–31 describe the FCS.
  const linkType = readU32(buf, 20, littleEndian) & 0xffff
  const divisor = nanoseconds ? 1e6 : 1e3
  let offset = PCAP_FILE_HEADER_LENGTH
  let index = 0
  while (offset < buf.length) {
    index++
    if (buf.length - offset < PCAP_RECORD_HEADER_LENGTH) {
      throw new CaptureError(
        `pcap: record ${index} at offset ${offset} is truncated: "record header" expected ${PCAP_RECORD_HEADER_LENGTH} bytes, ${
          buf.length - offset
        } remain`,
        offset
      )
    }
    const seconds = readU32(buf, offset, littleEndian)
    const fraction = readU32(buf, offset + 4, littleEndian)
    const captured = readU32(buf, offset + 8, littleEndian)
    const original = readU32(buf, offset + 12, littleEndian)
    if (captured > MAX_CAPTURED_LENGTH) {
      throw new CaptureError(
        `pcap: record ${index} at offset ${offset}: "captured length" expected <= ${MAX_CAPTURED_LENGTH}, got ${captured}`,
        offset
      )
    }
    const start = offset + PCAP_RECORD_HEADER_LENGTH
    if (buf.length - start < captured) {
      throw new CaptureError(
        `pcap: record ${index} at offset ${offset} is truncated: "packet data" expected ${captured} bytes, ${
          buf.length - start
        } remain`,
        offset
      )
    }
    yield {
      index,
      offset,
      time: seconds * 1000 + fraction / divisor,
      linkType,
      data: buf.subarray(start, start + captured),
      originalLength: original
    }
    offset = start + captured
  }
}

/** The packets of a pcap or pcapng file (detected by its first bytes). */
export function readCapture (buf: Uint8Array): Generator<CapturePacket, void, undefined> {
  if (isPcapng(buf)) return readPcapng(buf)
  if (isPcap(buf)) return readPcap(buf)
  const head = Array.from(buf.subarray(0, 4), b => b.toString(16).padStart(2, '0')).join('')
  throw new CaptureError(
    `capture: expected a pcap (a1b2c3d4 / a1b23c4d) or pcapng (0a0d0d0a) file, got a file starting with ${
      head === '' ? 'nothing (empty file)' : head
    }`,
    0
  )
}
