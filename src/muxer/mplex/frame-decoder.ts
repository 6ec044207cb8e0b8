/**
 * Incremental mplex frame decoder: arbitrary chunks in, frame headers and body pieces out,
 * synchronously, without copying a body byte.
 *
 * Read path (one `push`):
 *   1. header varint complete? → check the flag (7 is fatal) before anything else;
 *   2. length varint complete? → check it against `maxMessageBytes`;
 *   3. report the header (`onFrame`), then hand out the body as views into the chunks it arrives
 *      in (`onData`, once per chunk it touches) — a body is never gathered;
 *   4. repeat until the chunk is used up, so every frame of a chunk is handled in this call.
 *
 * Only an incomplete header is ever held (at most two 9-byte varints, copied into a small carry
 * buffer), so "check the limit before buffering the body" holds trivially, and a 1 MiB frame that
 * spans sixteen 64 KiB socket reads costs sixteen views instead of a 1 MiB copy. Any malformation
 * throws MplexError and poisons the decoder (the connection is dead; later pushes are ignored).
 */
import { decodeUvarintValue, encodingLength, MAX_VARINT_BYTES, NEED_MORE_BYTES } from '../../codec/varint.js'
import { MAX_MESSAGE_BYTES, type MessageFlag } from './constants.js'
import { checkFrameLength, headerFlag, headerStreamId, wrapVarintError } from './frame.js'
import { toError } from '../../errors.js'

/** Receives what the decoder finds. Called synchronously from `push`; must not call `push` re-entrantly. */
export interface FrameHandler {
  /** A complete, valid header; `length` body bytes follow through `onData` (none when 0). */
  onFrame: (streamId: number, flag: MessageFlag, length: number) => void
  /** The next piece of the current frame's body: a view into the pushed chunk, never empty. */
  onData: (data: Uint8Array) => void
}

const HEADER_CARRY_BYTES = 2 * MAX_VARINT_BYTES

export class FrameDecoder {
  /** Bytes of a header that started in an earlier chunk (at most two varints). */
  private readonly carry = new Uint8Array(HEADER_CARRY_BYTES)
  private carryLength = 0
  /** Body bytes of the current frame still to come. */
  private remaining = 0
  private failed: Error | undefined
  // the header being decoded (valid once `parseHeader` returned > 0)
  private streamId = 0
  private flag: MessageFlag = 0
  private length = 0

  constructor (readonly maxMessageBytes: number = MAX_MESSAGE_BYTES) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 0) {
      throw new RangeError(`"maxMessageBytes" expected a non-negative integer, got ${maxMessageBytes}`)
    }
  }

  /** Bytes held (only ever part of a header). */
  get buffered (): number { return this.carryLength }

  /** A frame has started and not finished (for "connection ended mid-frame" diagnostics). */
  get midFrame (): boolean { return this.carryLength > 0 || this.remaining > 0 }

  /** Feed one chunk; `handler` hears every header and body piece it completes, in order. */
  push (chunk: Uint8Array, handler: FrameHandler): void {
    if (this.failed !== undefined) return
    try {
      this.decode(chunk, handler)
    } catch (err) {
      this.failed = toError(err)
      this.carryLength = 0
      this.remaining = 0
      throw err
    }
  }

  private decode (chunk: Uint8Array, handler: FrameHandler): void {
    const end = chunk.length
    let off = 0
    while (off < end) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, end - off)
        this.remaining -= n
        handler.onData(chunk.subarray(off, off + n))
        off += n
        continue
      }
      if (this.carryLength === 0) {
        // Fast path: the header sits in this chunk.
        const used = this.parseHeader(chunk, off)
        if (used === 0) {
          this.carry.set(chunk.subarray(off, end), 0) // < 18 bytes: parseHeader throws beyond 9 per varint
          this.carryLength = end - off
          return
        }
        off += used
      } else {
        // The header started in an earlier chunk: complete it in the carry buffer.
        const take = Math.min(end - off, HEADER_CARRY_BYTES - this.carryLength)
        this.carry.set(chunk.subarray(off, off + take), this.carryLength)
        const used = this.parseHeader(this.carry.subarray(0, this.carryLength + take), 0)
        if (used === 0) {
          this.carryLength += take
          off += take
          continue // take === end - off here: the chunk is used up
        }
        off += used - this.carryLength
        this.carryLength = 0
      }
      this.remaining = this.length
      handler.onFrame(this.streamId, this.flag, this.length)
    }
  }

  /**
   * Decode the header at `buf[pos]` into `streamId`/`flag`/`length`. Returns its size, or 0 when
   * `buf` ends inside it. The flag is checked as soon as the first varint is complete, the length
   * as soon as the second is.
   */
  private parseHeader (buf: Uint8Array, pos: number): number {
    let header: number
    try { header = decodeUvarintValue(buf, pos) } catch (err) { throw wrapVarintError(err, 'frame header') }
    if (header === NEED_MORE_BYTES) return 0
    const flag = headerFlag(header)
    const streamId = headerStreamId(header)
    const headerBytes = encodingLength(header)
    let length: number
    try {
      length = decodeUvarintValue(buf, pos + headerBytes)
    } catch (err) {
      throw wrapVarintError(err, `frame length (stream ${streamId})`)
    }
    if (length === NEED_MORE_BYTES) return 0
    checkFrameLength(length, this.maxMessageBytes, streamId, flag)
    this.streamId = streamId
    this.flag = flag
    this.length = length
    return headerBytes + encodingLength(length)
  }
}
