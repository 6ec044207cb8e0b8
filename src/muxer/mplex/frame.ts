/**
 * The mplex frame as a pure, synchronous codec (mplex README §Message format):
 *
 *   | header                          | length       | data           |
 *   | uvarint(streamId << 3 | flag)   | uvarint      | `length` bytes |
 *
 * `<< 3` is written as `* 8` throughout: JS shifts are 32-bit, stream ids are not.
 * Decoding checks the flag as soon as the header varint is complete and the length against the
 * receive limit as soon as the length varint is complete, before any body byte is buffered
 * (the limit is checked at the length prefix). Every malformation is an `MplexError`; a bad varint keeps its
 * `VarintError`
 * as `cause`.
 */
import { decodeUvarintValue, encodeUvarintTo, encodingLength, NEED_MORE_BYTES } from '../../codec/varint.js'
import { MplexError, VarintError } from '../../errors.js'
import { FLAG_SPACE, MAX_FLAG, MAX_MESSAGE_BYTES, MAX_STREAM_ID, MessageFlag } from './constants.js'
import type { MplexFrameEvent, TraceDirection } from '../../trace/observer.js'

export interface FrameHeader {
  streamId: number
  flag: MessageFlag
  /** Bytes of data that follow the header. */
  length: number
}

export interface Frame {
  streamId: number
  flag: MessageFlag
  /** The frame's data (a view into the input where possible). */
  data: Uint8Array
}

// ────────────────────────── flag vocabulary ──────────────────────────

/**
 * True when the frame's sender opened the stream (NewStream and the even flags 2/4/6); false for
 * the odd "Receiver" flags. go-mplex: `remoteIsInitiator := tag&1 == 0`.
 */
export function sentByInitiator (flag: MessageFlag): boolean {
  return (flag & 1) === 0
}

/** MessageInitiator when we opened the stream, MessageReceiver when the peer did. */
export function messageFlag (opener: boolean): MessageFlag {
  return opener ? MessageFlag.MessageInitiator : MessageFlag.MessageReceiver
}

/** CloseInitiator when we opened the stream, CloseReceiver when the peer did. */
export function closeFlag (opener: boolean): MessageFlag {
  return opener ? MessageFlag.CloseInitiator : MessageFlag.CloseReceiver
}

/** ResetInitiator when we opened the stream, ResetReceiver when the peer did. */
export function resetFlag (opener: boolean): MessageFlag {
  return opener ? MessageFlag.ResetInitiator : MessageFlag.ResetReceiver
}

/** Spec name of a flag, for messages and traces. */
export function flagName (flag: number): string {
  return MessageFlag[flag] ?? `flag ${flag}`
}

// ────────────────────────── checks shared with the incremental decoder ──────────────────────────

/** The flag of a decoded header varint; throws for flag 7, which no version of mplex defines. */
export function headerFlag (header: number): MessageFlag {
  const flag = header % FLAG_SPACE
  if (flag > MAX_FLAG) {
    throw new MplexError(
      'ERR_MPLEX_PROTOCOL',
      `"frame flag" expected 0..${MAX_FLAG}, got ${flag} (stream ${headerStreamId(header)})`
    )
  }
  return flag
}

export function headerStreamId (header: number): number {
  return Math.floor(header / FLAG_SPACE)
}

/** Throws when a declared frame length exceeds the receive limit; called before the body is buffered. */
export function checkFrameLength (length: number, maxMessageBytes: number, streamId: number, flag: MessageFlag): void {
  if (length <= maxMessageBytes) return
  throw new MplexError(
    'ERR_MESSAGE_TOO_LARGE',
    `"frame length" expected <= ${maxMessageBytes}, got ${length} (stream ${streamId}, ${flagName(flag)})`
  )
}

/** A varint error inside a frame is a protocol violation of the connection. */
export function wrapVarintError (err: unknown, what: string): unknown {
  if (!(err instanceof VarintError)) return err
  return new MplexError('ERR_MPLEX_PROTOCOL', `malformed ${what} varint: ${err.message}`, { cause: err })
}

// ────────────────────────── encoding ──────────────────────────

/** Bytes the header of a frame with these fields takes on the wire. */
export function frameHeaderLength (streamId: number, flag: MessageFlag, length: number): number {
  return encodingLength(streamId * FLAG_SPACE + flag) + encodingLength(length)
}

/**
 * Write the header at `target[offset]`; returns the bytes written. Unchecked: for the session's
 * own frames, whose fields are in range by construction. `encodeFrameHeader` is the checked form.
 */
export function writeFrameHeader (
  target: Uint8Array,
  offset: number,
  streamId: number,
  flag: MessageFlag,
  length: number
): number {
  const n = encodeUvarintTo(streamId * FLAG_SPACE + flag, target, offset)
  return n + encodeUvarintTo(length, target, offset + n)
}

function assertFields (streamId: number, flag: MessageFlag, length: number): void {
  if (!Number.isSafeInteger(streamId) || streamId < 0 || streamId > MAX_STREAM_ID) {
    throw new RangeError(`"stream id" expected an integer in [0, ${MAX_STREAM_ID}], got ${streamId}`)
  }
  if (!Number.isInteger(flag) || flag < 0 || flag > MAX_FLAG) {
    throw new RangeError(`"frame flag" expected an integer in [0, ${MAX_FLAG}], got ${flag}`)
  }
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_MESSAGE_BYTES) {
    throw new RangeError(`"frame length" expected an integer in [0, ${MAX_MESSAGE_BYTES}], got ${length}`)
  }
}

/** The header of a frame as a fresh array. Throws RangeError for out-of-range fields. */
export function encodeFrameHeader (streamId: number, flag: MessageFlag, length: number): Uint8Array {
  assertFields(streamId, flag, length)
  const out = new Uint8Array(frameHeaderLength(streamId, flag, length))
  writeFrameHeader(out, 0, streamId, flag, length)
  return out
}

/**
 * A frame as `[header, data]` views (the body is never copied, as ws lib/sender.js frames), or `[header]`
 * when `data` is empty. Throws RangeError for out-of-range fields, including data over 1 MiB
 * (split larger writes; the session does).
 */
export function encodeFrame (streamId: number, flag: MessageFlag, data: Uint8Array = EMPTY): Uint8Array[] {
  const header = encodeFrameHeader(streamId, flag, data.length)
  return data.length === 0 ? [header] : [header, data]
}

// ────────────────────────── decoding ──────────────────────────

/**
 * Decode the header at `buf[offset]`. Returns `[header, bytesRead]`, or `undefined` when `buf`
 * ends inside the header. Throws MplexError for flag 7 (checked before the length is read), a
 * length over `maxMessageBytes`, or a malformed varint.
 */
export function decodeFrameHeader (
  buf: Uint8Array,
  offset: number,
  maxMessageBytes: number = MAX_MESSAGE_BYTES
): [FrameHeader, number] | undefined {
  let header: number
  let length: number
  try {
    header = decodeUvarintValue(buf, offset)
  } catch (err) { throw wrapVarintError(err, 'frame header') }
  if (header === NEED_MORE_BYTES) return undefined
  const flag = headerFlag(header)
  const streamId = headerStreamId(header)
  const headerBytes = encodingLength(header)
  try {
    length = decodeUvarintValue(buf, offset + headerBytes)
  } catch (err) { throw wrapVarintError(err, `frame length (stream ${streamId})`) }
  if (length === NEED_MORE_BYTES) return undefined
  checkFrameLength(length, maxMessageBytes, streamId, flag)
  return [{ streamId, flag, length }, headerBytes + encodingLength(length)]
}

/**
 * Decode one whole frame at `buf[offset]`: `[frame, bytesUsed]` with `data` a view into `buf`, or
 * `undefined` when `buf` ends before the frame does. Throws as `decodeFrameHeader`.
 */
export function decodeFrame (
  buf: Uint8Array,
  offset: number,
  maxMessageBytes: number = MAX_MESSAGE_BYTES
): [Frame, number] | undefined {
  const decoded = decodeFrameHeader(buf, offset, maxMessageBytes)
  if (decoded === undefined) return undefined
  const [h, headerBytes] = decoded
  const start = offset + headerBytes
  const end = start + h.length
  if (end > buf.length) return undefined
  return [{ streamId: h.streamId, flag: h.flag, data: buf.subarray(start, end) }, headerBytes + h.length]
}

const EMPTY = new Uint8Array(0)

/**
 * The trace event of one frame header seen going `dir` (the session's observer and the capture
 * decoder alike). Even flags are sent by the stream's opener (mplex README §Flag Values): we opened
 * the stream if we send one or receive an odd one.
 */
export function frameEvent (
  dir: TraceDirection,
  streamId: number,
  flag: MessageFlag,
  length: number
): MplexFrameEvent & { opener: 'local' | 'remote' } {
  return {
    layer: 'mplex',
    kind: 'frame',
    dir,
    streamId,
    flag,
    length,
    stream: streamId,
    opener: sentByInitiator(flag) === (dir === 'out') ? 'local' : 'remote',
    bytes: encodeFrameHeader(streamId, flag, length)
  }
}
