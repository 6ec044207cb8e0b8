/**
 * Every QUIC v1 frame (RFC 9000 §19) as a pure codec: `decodeFrame(reader)` reads one frame from a
 * packet payload, `encodeFrame(writer, frame)` appends one. Payload bytes (STREAM, CRYPTO,
 * NEW_TOKEN, CONNECTION_CLOSE reason) are views into the packet, never copies.
 *
 * Errors (RFC 9000 §12.4, §19): an unknown type or a frame that runs past the payload is
 * FRAME_ENCODING_ERROR; a type not in its shortest encoding, or a frame not allowed in the packet
 * type, is PROTOCOL_VIOLATION. Each carries the frame type for CONNECTION_CLOSE.
 */
import { QuicError } from '../../errors.js'
import type { QuicReader, QuicWriter } from './buffer.js'
import {
  FrameType, LongPacketType, MAX_CID_LENGTH, STREAM_OFFSET_BOUND, MAX_STREAMS_LIMIT, PATH_DATA_LENGTH,
  STATELESS_RESET_TOKEN_LENGTH, STREAM_FIN_BIT, STREAM_LEN_BIT, STREAM_OFF_BIT
} from './constants.js'
import { varintLength } from './varint.js'

/** One acknowledged range, inclusive on both ends. */
export interface AckRange { smallest: number, largest: number }

export interface PaddingFrame { type: FrameType.Padding, length: number }
export interface PingFrame { type: FrameType.Ping }
export interface AckFrame {
  type: FrameType.Ack
  /** Ranges in descending order, as on the wire; `ranges[0].largest` is the Largest Acknowledged. */
  ranges: AckRange[]
  /** The raw ACK Delay field (scale by 2^ack_delay_exponent for microseconds, RFC 9000 §19.3). */
  ackDelay: number
  /** ECN counts (type 0x03), when present. */
  ecn?: { ect0: number, ect1: number, ce: number }
}
export interface ResetStreamFrame {
  type: FrameType.ResetStream
  streamId: number
  errorCode: number
  finalSize: number
}
export interface StopSendingFrame {
  type: FrameType.StopSending
  streamId: number
  errorCode: number
}
export interface CryptoFrame {
  type: FrameType.Crypto
  offset: number
  data: Uint8Array
}
export interface NewTokenFrame {
  type: FrameType.NewToken
  token: Uint8Array
}
export interface StreamFrame {
  type: FrameType.Stream
  streamId: number
  offset: number
  data: Uint8Array
  fin: boolean
}
export interface MaxDataFrame {
  type: FrameType.MaxData
  maximum: number
}
export interface MaxStreamDataFrame {
  type: FrameType.MaxStreamData
  streamId: number
  maximum: number
}
export interface MaxStreamsFrame {
  type: FrameType.MaxStreamsBidi | FrameType.MaxStreamsUni
  maximum: number
}
export interface DataBlockedFrame {
  type: FrameType.DataBlocked
  limit: number
}
export interface StreamDataBlockedFrame {
  type: FrameType.StreamDataBlocked
  streamId: number
  limit: number
}
export interface StreamsBlockedFrame {
  type: FrameType.StreamsBlockedBidi | FrameType.StreamsBlockedUni
  limit: number
}
export interface NewConnectionIdFrame {
  type: FrameType.NewConnectionId
  sequenceNumber: number
  retirePriorTo: number
  connectionId: Uint8Array
  statelessResetToken: Uint8Array
}
export interface RetireConnectionIdFrame { type: FrameType.RetireConnectionId, sequenceNumber: number }
export interface PathChallengeFrame { type: FrameType.PathChallenge, data: Uint8Array }
export interface PathResponseFrame { type: FrameType.PathResponse, data: Uint8Array }
export interface ConnectionCloseFrame {
  type: FrameType.ConnectionClose | FrameType.ConnectionCloseApp
  errorCode: number
  /** Transport close only (0x1c): the frame type that caused the error, 0 if unknown. */
  frameType: number
  reason: Uint8Array
}
export interface HandshakeDoneFrame { type: FrameType.HandshakeDone }

export type Frame =
  | PaddingFrame | PingFrame | AckFrame | ResetStreamFrame | StopSendingFrame | CryptoFrame | NewTokenFrame
  | StreamFrame | MaxDataFrame | MaxStreamDataFrame | MaxStreamsFrame | DataBlockedFrame | StreamDataBlockedFrame
  | StreamsBlockedFrame | NewConnectionIdFrame | RetireConnectionIdFrame | PathChallengeFrame | PathResponseFrame
  | ConnectionCloseFrame | HandshakeDoneFrame

function encodingError (frameType: number, what: string): QuicError {
  return new QuicError('ERR_QUIC_FRAME_ENCODING', `frame 0x${frameType.toString(16)}: ${what}`, { frameType })
}

/** A reader view that reports truncation as FRAME_ENCODING_ERROR for `frameType`. */
function field (r: QuicReader, frameType: number, what: string): number {
  const before = r.pos
  try {
    return r.varint(what)
  } catch {
    r.pos = before
    throw encodingError(frameType, `truncated ${what}`)
  }
}

function bytes (r: QuicReader, n: number, frameType: number, what: string): Uint8Array {
  if (n > r.remaining) throw encodingError(frameType, `truncated ${what}: ${n} bytes declared, ${r.remaining} left`)
  return r.bytes(n, what)
}

/**
 * Decode the frame at the reader's position. The type must be minimally encoded (RFC 9000 §12.4
 * allows PROTOCOL_VIOLATION otherwise, and quic-go and quinn both do so).
 */
export function decodeFrame (r: QuicReader): Frame {
  const typeStart = r.pos
  const type = field(r, 0, 'frame type')
  if (r.pos - typeStart !== varintLength(type)) {
    throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', `frame type 0x${type.toString(16)} not minimally encoded`, {
      frameType: type
    })
  }
  switch (type) {
    case FrameType.Padding: {
      // a run of PADDING is one frame: skip every following 0x00 at once
      let n = 1
      while (r.pos < r.end && r.buf[r.pos] === 0) { r.pos++; n++ }
      return { type, length: n }
    }
    case FrameType.Ping: return { type }
    case FrameType.Ack:
    case FrameType.AckEcn: return decodeAck(r, type)
    case FrameType.ResetStream:
      return {
        type,
        streamId: field(r, type, 'stream id'),
        errorCode: field(r, type, 'error code'),
        finalSize: field(r, type, 'final size')
      }
    case FrameType.StopSending:
      return { type, streamId: field(r, type, 'stream id'), errorCode: field(r, type, 'error code') }
    case FrameType.Crypto: {
      const offset = field(r, type, 'offset')
      const length = field(r, type, 'length')
      if (offset + length >= STREAM_OFFSET_BOUND) {
        throw encodingError(type, `offset + length ${offset + length} exceeds 2^62-1`)
      }
      return { type, offset, data: bytes(r, length, type, 'crypto data') }
    }
    case FrameType.NewToken: {
      const length = field(r, type, 'token length')
      // RFC 9000 §19.7: an empty token is a FRAME_ENCODING_ERROR
      if (length === 0) throw encodingError(type, 'empty token')
      return { type, token: bytes(r, length, type, 'token') }
    }
    case FrameType.MaxData:
      return { type, maximum: field(r, type, 'maximum data') }
    case FrameType.MaxStreamData:
      return { type, streamId: field(r, type, 'stream id'), maximum: field(r, type, 'maximum stream data') }
    case FrameType.MaxStreamsBidi:
    case FrameType.MaxStreamsUni: {
      const maximum = field(r, type, 'maximum streams')
      // RFC 9000 §19.11: more than 2^60 streams is a FRAME_ENCODING_ERROR
      if (maximum > MAX_STREAMS_LIMIT) throw encodingError(type, `maximum streams ${maximum} exceeds 2^60`)
      return { type, maximum }
    }
    case FrameType.DataBlocked:
      return { type, limit: field(r, type, 'maximum data') }
    case FrameType.StreamDataBlocked:
      return { type, streamId: field(r, type, 'stream id'), limit: field(r, type, 'maximum stream data') }
    case FrameType.StreamsBlockedBidi:
    case FrameType.StreamsBlockedUni: {
      const limit = field(r, type, 'maximum streams')
      if (limit > MAX_STREAMS_LIMIT) throw encodingError(type, `maximum streams ${limit} exceeds 2^60`)
      return { type, limit }
    }
    case FrameType.NewConnectionId: {
      const sequenceNumber = field(r, type, 'sequence number')
      const retirePriorTo = field(r, type, 'retire prior to')
      // RFC 9000 §19.15: Retire Prior To above the Sequence Number, or a length outside 1..20
      if (retirePriorTo > sequenceNumber) {
        throw encodingError(type, `retire prior to ${retirePriorTo} > sequence number ${sequenceNumber}`)
      }
      if (r.remaining < 1) throw encodingError(type, 'truncated length')
      const length = r.u8('length')
      if (length < 1 || length > MAX_CID_LENGTH) {
        throw encodingError(type, `connection id length ${length} outside 1..20`)
      }
      const connectionId = bytes(r, length, type, 'connection id')
      const statelessResetToken = bytes(r, STATELESS_RESET_TOKEN_LENGTH, type, 'stateless reset token')
      return { type, sequenceNumber, retirePriorTo, connectionId, statelessResetToken }
    }
    case FrameType.RetireConnectionId: return { type, sequenceNumber: field(r, type, 'sequence number') }
    case FrameType.PathChallenge:
    case FrameType.PathResponse: return { type, data: bytes(r, PATH_DATA_LENGTH, type, 'data') }
    case FrameType.ConnectionClose:
    case FrameType.ConnectionCloseApp: {
      const errorCode = field(r, type, 'error code')
      const frameType = type === FrameType.ConnectionClose ? field(r, type, 'frame type') : 0
      const length = field(r, type, 'reason phrase length')
      return { type, errorCode, frameType, reason: bytes(r, length, type, 'reason phrase') }
    }
    case FrameType.HandshakeDone: return { type }
    default:
      if (type >= 0x08 && type <= 0x0f) return decodeStream(r, type)
      throw encodingError(type, 'unknown frame type')
  }
}

function decodeAck (r: QuicReader, type: FrameType.Ack | FrameType.AckEcn): AckFrame {
  const largest = field(r, type, 'largest acknowledged')
  const ackDelay = field(r, type, 'ack delay')
  const rangeCount = field(r, type, 'ack range count')
  const firstRange = field(r, type, 'first ack range')
  // RFC 9000 §19.3.1: a range reaching below packet number 0 is a FRAME_ENCODING_ERROR
  if (firstRange > largest) throw encodingError(type, `first ack range ${firstRange} > largest acknowledged ${largest}`)
  // each further range takes at least 2 bytes: a count above that is malformed before we allocate
  if (rangeCount > r.remaining / 2) throw encodingError(type, `ack range count ${rangeCount} exceeds the frame`)
  const ranges: AckRange[] = [{ smallest: largest - firstRange, largest }]
  let smallest = largest - firstRange
  for (let i = 0; i < rangeCount; i++) {
    const gap = field(r, type, 'gap')
    const length = field(r, type, 'ack range length')
    // RFC 9000 §19.3.1: largest = previous smallest - gap - 2
    const rangeLargest = smallest - gap - 2
    if (rangeLargest < 0 || length > rangeLargest) throw encodingError(type, `ack range ${i + 1} goes below 0`)
    smallest = rangeLargest - length
    ranges.push({ smallest, largest: rangeLargest })
  }
  if (type === FrameType.AckEcn) {
    const ecn = {
      ect0: field(r, type, 'ect0 count'),
      ect1: field(r, type, 'ect1 count'),
      ce: field(r, type, 'ecn-ce count')
    }
    return { type: FrameType.Ack, ranges, ackDelay, ecn }
  }
  return { type, ranges, ackDelay }
}

function decodeStream (r: QuicReader, type: number): StreamFrame {
  const streamId = field(r, type, 'stream id')
  const offset = (type & STREAM_OFF_BIT) !== 0 ? field(r, type, 'offset') : 0
  const length = (type & STREAM_LEN_BIT) !== 0 ? field(r, type, 'length') : r.remaining
  // RFC 9000 §19.8: the largest offset must stay below 2^62
  if (offset + length >= STREAM_OFFSET_BOUND) {
    throw encodingError(type, `offset + length ${offset + length} exceeds 2^62-1`)
  }
  const data = bytes(r, length, type, 'stream data')
  return { type: FrameType.Stream, streamId, offset, data, fin: (type & STREAM_FIN_BIT) !== 0 }
}

/** The wire type of `f` (STREAM's bits and ACK_ECN included). */
export function wireFrameType (f: Frame): number {
  if (f.type === FrameType.Stream) {
    return FrameType.Stream | (f.offset > 0 ? STREAM_OFF_BIT : 0) | STREAM_LEN_BIT | (f.fin ? STREAM_FIN_BIT : 0)
  }
  if (f.type === FrameType.Ack && f.ecn !== undefined) return FrameType.AckEcn
  return f.type
}

/**
 * Append `f`. STREAM frames always carry the Length field here (`lastInPacket` drops it for the
 * last frame of a packet, RFC 9000 §19.8, saving up to 8 bytes).
 */
export function encodeFrame (w: QuicWriter, f: Frame, lastInPacket = false): void {
  switch (f.type) {
    case FrameType.Padding:
      w.zeros(f.length)
      return
    case FrameType.Ping:
    case FrameType.HandshakeDone:
      w.u8(f.type)
      return
    case FrameType.Ack: {
      const ranges = f.ranges
      const first = ranges[0]
      if (first === undefined) throw new RangeError('"ack ranges" expected at least one range')
      w.u8(f.ecn === undefined ? FrameType.Ack : FrameType.AckEcn)
      w.varint(first.largest).varint(f.ackDelay).varint(ranges.length - 1).varint(first.largest - first.smallest)
      let smallest = first.smallest
      for (let i = 1; i < ranges.length; i++) {
        const range = ranges[i] as AckRange
        w.varint(smallest - range.largest - 2).varint(range.largest - range.smallest)
        smallest = range.smallest
      }
      if (f.ecn !== undefined) w.varint(f.ecn.ect0).varint(f.ecn.ect1).varint(f.ecn.ce)
      return
    }
    case FrameType.ResetStream:
      w.u8(f.type).varint(f.streamId).varint(f.errorCode).varint(f.finalSize)
      return
    case FrameType.StopSending:
      w.u8(f.type).varint(f.streamId).varint(f.errorCode)
      return
    case FrameType.Crypto:
      w.u8(f.type).varint(f.offset).varint(f.data.length).bytes(f.data)
      return
    case FrameType.NewToken:
      w.u8(f.type).varint(f.token.length).bytes(f.token)
      return
    case FrameType.Stream: {
      const type = wireFrameType(f) & ~(lastInPacket ? STREAM_LEN_BIT : 0)
      w.u8(type).varint(f.streamId)
      if (f.offset > 0) w.varint(f.offset)
      if (!lastInPacket) w.varint(f.data.length)
      w.bytes(f.data)
      return
    }
    case FrameType.MaxData:
      w.u8(f.type).varint(f.maximum)
      return
    case FrameType.MaxStreamData:
      w.u8(f.type).varint(f.streamId).varint(f.maximum)
      return
    case FrameType.MaxStreamsBidi:
    case FrameType.MaxStreamsUni:
      w.u8(f.type).varint(f.maximum)
      return
    case FrameType.DataBlocked:
      w.u8(f.type).varint(f.limit)
      return
    case FrameType.StreamDataBlocked:
      w.u8(f.type).varint(f.streamId).varint(f.limit)
      return
    case FrameType.StreamsBlockedBidi:
    case FrameType.StreamsBlockedUni:
      w.u8(f.type).varint(f.limit)
      return
    case FrameType.NewConnectionId:
      w.u8(f.type).varint(f.sequenceNumber).varint(f.retirePriorTo).u8(f.connectionId.length).bytes(f.connectionId)
        .bytes(f.statelessResetToken)
      return
    case FrameType.RetireConnectionId:
      w.u8(f.type).varint(f.sequenceNumber)
      return
    case FrameType.PathChallenge:
    case FrameType.PathResponse:
      w.u8(f.type).bytes(f.data)
      return
    case FrameType.ConnectionClose:
    case FrameType.ConnectionCloseApp:
      w.u8(f.type).varint(f.errorCode)
      if (f.type === FrameType.ConnectionClose) w.varint(f.frameType)
      w.varint(f.reason.length).bytes(f.reason)
  }
}

/** Bytes `f` takes on the wire (with the STREAM Length field). */
export function frameLength (f: Frame): number {
  switch (f.type) {
    case FrameType.Stream:
      return 1 + varintLength(f.streamId) + (f.offset > 0 ? varintLength(f.offset) : 0) + varintLength(f.data.length) +
        f.data.length
    case FrameType.Crypto:
      return 1 + varintLength(f.offset) + varintLength(f.data.length) + f.data.length
    case FrameType.Padding:
      return f.length
    default: {
      const w = new WriterForLength()
      encodeFrame(w as unknown as QuicWriter, f)
      return w.pos
    }
  }
}

/** Counts bytes without writing them (frameLength of the small frames). */
class WriterForLength {
  pos = 0
  varint (n: number): this { this.pos += varintLength(n); return this }
  u8 (): this { this.pos += 1; return this }
  u32 (): this { this.pos += 4; return this }
  bytes (b: Uint8Array): this { this.pos += b.length; return this }
}

/**
 * RFC 9000 §12.4 Table 3: which frames each packet type may carry. `packetType` is a long type
 * or 'short' for 1-RTT. A frame outside its row is a PROTOCOL_VIOLATION.
 */
export function assertFrameAllowed (frame: Frame, packetType: LongPacketType | 'short'): void {
  if (packetType === 'short') return
  const t = frame.type
  if (packetType === LongPacketType.ZeroRtt) {
    if (t === FrameType.Ack || t === FrameType.Crypto || t === FrameType.NewToken || t === FrameType.HandshakeDone ||
      t === FrameType.PathResponse || t === FrameType.RetireConnectionId) throw notAllowed(frame, '0-RTT')
    return
  }
  // Initial and Handshake: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE (0x1c)
  if (
    t === FrameType.Padding || t === FrameType.Ping || t === FrameType.Ack || t === FrameType.Crypto ||
    t === FrameType.ConnectionClose
  ) return
  throw notAllowed(frame, packetType === LongPacketType.Initial ? 'Initial' : 'Handshake')
}

function notAllowed (frame: Frame, where: string): QuicError {
  const frameType = wireFrameType(frame)
  return new QuicError(
    'ERR_QUIC_PROTOCOL_VIOLATION',
    `frame 0x${frameType.toString(16)} not allowed in a ${where} packet`,
    { frameType }
  )
}

/** RFC 9002 §2: every frame but ACK, PADDING and CONNECTION_CLOSE elicits an acknowledgement. */
export function isAckEliciting (frame: Frame): boolean {
  return frame.type !== FrameType.Ack && frame.type !== FrameType.Padding &&
    frame.type !== FrameType.ConnectionClose && frame.type !== FrameType.ConnectionCloseApp
}

/** Decode every frame of a packet payload (RFC 9000 §12.4: a packet with no frame is a PROTOCOL_VIOLATION). */
export function decodeFrames (r: QuicReader): Frame[] {
  if (r.remaining === 0) throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'packet with no frames')
  const frames: Frame[] = []
  while (r.remaining > 0) frames.push(decodeFrame(r))
  return frames
}
