/**
 * QUIC packet headers as a pure codec (RFC 9000 §17, invariants in RFC 8999).
 *
 *   long:  |1|1|T T|X X X X| Version (32) | DCID Len (8) | DCID | SCID Len (8) | SCID | type-specific…
 *          Initial:   Token Length (i) | Token | Length (i) | Packet Number (8-32) | Payload
 *          0-RTT, Handshake:            Length (i) | Packet Number | Payload
 *          Retry:     Retry Token | Retry Integrity Tag (128)
 *   VN:    |1|unused(7)| Version = 0 | DCID Len | DCID | SCID Len | SCID | Supported Version (32)…
 *   short: |0|1|S|R R|K|P P| DCID (length known only to the receiver) | Packet Number | Payload
 *
 * The low bits of the first byte and the packet number are under header protection (RFC 9001 §5.4):
 * parsing stops at the packet number offset (`pnOffset`); protection.ts removes the mask, then reads
 * the packet number length. `packetEnd` is where a coalesced next packet starts (RFC 9000 §12.2).
 *
 * Malformed headers throw QuicError ERR_QUIC_MALFORMED_PACKET: RFC 9000 §12.2/§17 say to drop such
 * a packet (and, for a coalesced one, the rest of the datagram), never to close the connection.
 */
import { QuicError } from '../../errors.js'
import { QuicReader, QuicWriter } from './buffer.js'
import {
  FIXED_BIT, HEADER_FORM_BIT, KEY_PHASE_BIT, LongPacketType, MAX_CID_LENGTH, QUIC_V1, RETRY_INTEGRITY_TAG_LENGTH,
  SPIN_BIT, VERSION_NEGOTIATION
} from './constants.js'
import { writePacketNumber } from './packet-number.js'
import { varintLength } from './varint.js'

/** A long-header Initial, 0-RTT or Handshake packet of a version we speak. */
export interface LongHeader {
  form: 'long'
  type: LongPacketType.Initial | LongPacketType.ZeroRtt | LongPacketType.Handshake
  version: number
  dcid: Uint8Array
  scid: Uint8Array
  /** Initial only (empty otherwise). */
  token: Uint8Array
  /** Offsets into the datagram. */
  packetStart: number
  pnOffset: number
  packetEnd: number
}

export interface ShortHeader {
  form: 'short'
  dcid: Uint8Array
  packetStart: number
  pnOffset: number
  packetEnd: number
}

export interface RetryPacket {
  form: 'retry'
  version: number
  dcid: Uint8Array
  scid: Uint8Array
  token: Uint8Array
  integrityTag: Uint8Array
  packetStart: number
  packetEnd: number
}

export interface VersionNegotiationPacket {
  form: 'version-negotiation'
  dcid: Uint8Array
  scid: Uint8Array
  versions: number[]
  packetStart: number
  packetEnd: number
}

/** A long header of a version other than v1: only the RFC 8999 invariants are known. */
export interface UnsupportedVersionHeader {
  form: 'unsupported-version'
  version: number
  dcid: Uint8Array
  scid: Uint8Array
  packetStart: number
  packetEnd: number
}

export type PacketHeader = LongHeader | ShortHeader | RetryPacket | VersionNegotiationPacket | UnsupportedVersionHeader

function malformed (what: string): QuicError {
  return new QuicError('ERR_QUIC_MALFORMED_PACKET', `malformed packet: ${what}`, { transportErrorCode: 0x0a })
}
const truncated = (what: string): QuicError => malformed(`truncated ${what}`)

/** RFC 8999 §5.1: connection ids of an unknown version may be up to 255 bytes. */
function readCid (r: QuicReader, limit: number, what: string): Uint8Array {
  const len = r.u8(`${what} length`)
  if (len > limit) throw malformed(`"${what} length" expected <= ${limit}, got ${len}`)
  return r.bytes(len, what)
}

/**
 * Parse the header of the packet at `datagram[offset]`. `shortDcidLength` is the length of our own
 * connection ids (a short header does not carry it).
 */
export function parseHeader (datagram: Uint8Array, offset: number, shortDcidLength: number): PacketHeader {
  const r = new QuicReader(datagram, truncated, offset)
  const first = r.u8('first byte')
  if ((first & HEADER_FORM_BIT) === 0) {
    // RFC 9000 §17.3.1: a short header with the fixed bit clear is discarded
    if ((first & FIXED_BIT) === 0) throw malformed('fixed bit is 0')
    const dcid = r.bytes(shortDcidLength, 'destination connection id')
    return { form: 'short', dcid, packetStart: offset, pnOffset: r.pos, packetEnd: datagram.length }
  }
  const version = r.u32('version')
  if (version === VERSION_NEGOTIATION) {
    const dcid = readCid(r, 255, 'destination connection id')
    const scid = readCid(r, 255, 'source connection id')
    if (r.remaining === 0 || r.remaining % 4 !== 0) throw malformed(`version list of ${r.remaining} bytes`)
    const versions: number[] = []
    while (r.remaining > 0) versions.push(r.u32('version'))
    return { form: 'version-negotiation', dcid, scid, versions, packetStart: offset, packetEnd: datagram.length }
  }
  if (version !== QUIC_V1) {
    const dcid = readCid(r, 255, 'destination connection id')
    const scid = readCid(r, 255, 'source connection id')
    return { form: 'unsupported-version', version, dcid, scid, packetStart: offset, packetEnd: datagram.length }
  }
  // RFC 9000 §17.2: v1 long headers have the fixed bit set and connection ids of at most 20 bytes
  if ((first & FIXED_BIT) === 0) throw malformed('fixed bit is 0')
  const dcid = readCid(r, MAX_CID_LENGTH, 'destination connection id')
  const scid = readCid(r, MAX_CID_LENGTH, 'source connection id')
  const type = (first >>> 4) & 0x03
  if (type === LongPacketType.Retry) {
    if (r.remaining < RETRY_INTEGRITY_TAG_LENGTH) throw truncated('retry integrity tag')
    const token = r.bytes(r.remaining - RETRY_INTEGRITY_TAG_LENGTH, 'retry token')
    const integrityTag = r.bytes(RETRY_INTEGRITY_TAG_LENGTH, 'retry integrity tag')
    return { form: 'retry', version, dcid, scid, token, integrityTag, packetStart: offset, packetEnd: datagram.length }
  }
  let token: Uint8Array = EMPTY
  if (type === LongPacketType.Initial) token = r.bytes(r.varint('token length'), 'token')
  const length = r.varint('length')
  if (length > r.remaining) throw malformed(`"length" expected <= ${r.remaining}, got ${length}`)
  // the packet number (1-4 bytes) and at least the 16-byte sample window must fit (RFC 9001 §5.4.2)
  if (length < 20) throw malformed(`"length" expected >= 20, got ${length}`)
  return {
    form: 'long',
    type,
    version,
    dcid,
    scid,
    token,
    packetStart: offset,
    pnOffset: r.pos,
    packetEnd: r.pos + length
  }
}

const EMPTY = new Uint8Array(0)

/** The fields a sender puts in a long header. */
export interface LongHeaderFields {
  type: LongPacketType.Initial | LongPacketType.ZeroRtt | LongPacketType.Handshake
  version?: number
  dcid: Uint8Array
  scid: Uint8Array
  token?: Uint8Array
}

/** An unprotected header, ready for the payload to be sealed after it. */
export interface EncodedHeader {
  bytes: Uint8Array
  pnOffset: number
  pnLength: 1 | 2 | 3 | 4
}

/**
 * Encode a long header whose Length field covers `pnLength + payloadLength` (payloadLength includes
 * the AEAD tag). The Length field is always 2 bytes when it fits, 4 otherwise, so a packet builder
 * can size the packet before it knows the exact payload (as quic-go and quinn do).
 */
export function encodeLongHeader (
  h: LongHeaderFields,
  pnLength: 1 | 2 | 3 | 4,
  truncatedPn: number,
  payloadLength: number
): EncodedHeader {
  const w = new QuicWriter(64 + (h.token?.length ?? 0))
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (h.type << 4) | (pnLength - 1))
  w.u32(h.version ?? QUIC_V1)
  w.u8(h.dcid.length).bytes(h.dcid)
  w.u8(h.scid.length).bytes(h.scid)
  if (h.type === LongPacketType.Initial) {
    const token = h.token ?? EMPTY
    w.varint(token.length).bytes(token)
  }
  const length = pnLength + payloadLength
  w.varint(length, length < 0x4000 ? 2 : varintLength(length) === 8 ? 8 : 4)
  const pnOffset = w.pos
  w.bytes(new Uint8Array(pnLength))
  const bytes = w.finish()
  writePacketNumber(bytes, pnOffset, truncatedPn, pnLength)
  return { bytes, pnOffset, pnLength }
}

/** Encode a short (1-RTT) header (RFC 9000 §17.3.1); reserved bits are 0. */
export function encodeShortHeader (
  dcid: Uint8Array,
  pnLength: 1 | 2 | 3 | 4,
  truncatedPn: number,
  keyPhase: 0 | 1,
  spin = false
): EncodedHeader {
  const bytes = new Uint8Array(1 + dcid.length + pnLength)
  bytes[0] = FIXED_BIT | (spin ? SPIN_BIT : 0) | (keyPhase === 1 ? KEY_PHASE_BIT : 0) | (pnLength - 1)
  bytes.set(dcid, 1)
  writePacketNumber(bytes, 1 + dcid.length, truncatedPn, pnLength)
  return { bytes, pnOffset: 1 + dcid.length, pnLength }
}

/**
 * A Version Negotiation packet answering a client's long header (RFC 9000 §17.2.1): the connection
 * ids are the client's, swapped. `unused` fills the seven free bits (random; 0x40 set so that it
 * looks like a v1 packet with the fixed bit, as RFC 9000 recommends).
 */
export function encodeVersionNegotiation (
  clientScid: Uint8Array,
  clientDcid: Uint8Array,
  versions: readonly number[],
  unused: number
): Uint8Array {
  const w = new QuicWriter(7 + clientScid.length + clientDcid.length + 4 * versions.length)
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (unused & 0x3f))
  w.u32(VERSION_NEGOTIATION)
  w.u8(clientScid.length).bytes(clientScid)
  w.u8(clientDcid.length).bytes(clientDcid)
  for (const v of versions) w.u32(v)
  return w.finish()
}

/**
 * A Retry packet without its integrity tag (RFC 9000 §17.2.5); protection.ts computes the tag over
 * the pseudo-packet and appends it. `unused` fills the four low bits of the first byte.
 */
export function encodeRetryWithoutTag (
  version: number,
  dcid: Uint8Array,
  scid: Uint8Array,
  token: Uint8Array,
  unused = 0
): Uint8Array {
  const w = new QuicWriter(7 + dcid.length + scid.length + token.length + RETRY_INTEGRITY_TAG_LENGTH)
  w.u8(HEADER_FORM_BIT | FIXED_BIT | (LongPacketType.Retry << 4) | (unused & 0x0f))
  w.u32(version)
  w.u8(dcid.length).bytes(dcid)
  w.u8(scid.length).bytes(scid)
  w.bytes(token)
  return w.finish()
}

/**
 * Split a datagram into its coalesced packets (RFC 9000 §12.2). Parsing stops at the first packet
 * that is not a long Initial/0-RTT/Handshake (a short header, Retry or Version Negotiation uses the
 * rest of the datagram). A malformed packet ends the walk: the packets before it are returned and
 * `error` says why the rest was dropped.
 */
export function splitDatagram (
  datagram: Uint8Array,
  shortDcidLength: number
): { packets: PacketHeader[], error?: QuicError } {
  const packets: PacketHeader[] = []
  let offset = 0
  while (offset < datagram.length) {
    let h: PacketHeader
    try {
      h = parseHeader(datagram, offset, shortDcidLength)
    } catch (err) {
      if (err instanceof QuicError) return { packets, error: err }
      throw err
    }
    packets.push(h)
    offset = h.packetEnd
  }
  return { packets }
}
