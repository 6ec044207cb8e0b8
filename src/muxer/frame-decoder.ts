/**
 * Incremental yamux frame decoder: a synchronous loop over every chunk the connection delivers.
 *
 * Algorithm for one `push(chunk)`:
 *  1. While a Data payload is outstanding, hand the sink a view of the bytes of `chunk` that belong
 *     to it (never a copy: a payload that spans socket reads arrives as several pieces), or skip
 *     them when the sink declined the payload. After the last byte, `onDataEnd`.
 *  2. Otherwise decode a header: straight from `chunk` when its 12 bytes are there (the common
 *     case), or via the chunk queue when a header is split across reads (copied once, 12 bytes).
 *  3. Give the header to the sink *before* any payload byte is buffered: the sink compares the
 *     declared length with the stream's receive window there and throws to reject (STYLE 4;
 *     js-libp2p-yamux buffered up to 4 GiB first). Repeat until `chunk` is used up.
 *
 * Memory: the decoder itself holds at most 11 bytes (a partial header). Payload views go to the
 * stream buffers, whose size the receive window bounds.
 */
import { ChunkQueue } from '../codec/chunk-queue.js'
import { FrameType, HEADER_LENGTH } from './constants.js'
import { decodeHeader } from './frame.js'
import type { Header } from './frame.js'

/** Receives decoded frames. Every callback runs synchronously inside `push`. */
export interface FrameSink {
  /**
   * A complete header. For a Data frame with a payload, return true to receive the payload through
   * `onPayload`, false to have it skipped as it arrives (never buffered). The return value is
   * ignored for other types. Throw (a YamuxError) to reject the frame; the decoder then stops.
   */
  onHeader: (header: Header) => boolean
  /** The next piece of the current Data frame's payload: a view, in order, together `length` bytes. */
  onPayload: (header: Header, piece: Uint8Array) => void
  /** The current Data frame is complete (called for every Data frame, also empty or skipped ones). */
  onDataEnd: (header: Header) => void
}

export class FrameDecoder {
  private readonly sink: FrameSink
  /** Only ever holds the first bytes of a header that was split across chunks. */
  private readonly queue = new ChunkQueue()
  /** The Data frame whose payload is arriving, if any. */
  private current: Header | undefined
  private remaining = 0
  private deliver = false
  private failure: unknown

  constructor (sink: FrameSink) {
    this.sink = sink
  }

  /** True between frames: no partial header, no payload outstanding (a clean place to end). */
  get idle (): boolean { return this.current === undefined && this.queue.length === 0 }

  /** Feed the next chunk. Throws what the header decoder or the sink threw; after that, every push throws it again. */
  push (chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure
    try {
      this.loop(chunk)
    } catch (err) {
      this.failure = err
      throw err
    }
  }

  private loop (chunk: Uint8Array): void {
    const sink = this.sink
    const end = chunk.length
    let offset = 0
    while (offset < end) {
      // 1. payload of the current Data frame
      const current = this.current
      if (current !== undefined) {
        const n = Math.min(this.remaining, end - offset)
        if (this.deliver) {
          sink.onPayload(current, offset === 0 && n === end ? chunk : chunk.subarray(offset, offset + n))
        }
        offset += n
        this.remaining -= n
        if (this.remaining === 0) {
          this.current = undefined
          sink.onDataEnd(current)
        }
        continue
      }
      // 2. header, from the chunk or (split) through the queue
      let header: Header
      if (this.queue.length === 0 && end - offset >= HEADER_LENGTH) {
        header = decodeHeader(chunk, offset) as Header
        offset += HEADER_LENGTH
      } else {
        const take = Math.min(HEADER_LENGTH - this.queue.length, end - offset)
        this.queue.push(chunk.subarray(offset, offset + take))
        offset += take
        if (this.queue.length < HEADER_LENGTH) return
        header = decodeHeader(this.queue.consume(HEADER_LENGTH), 0) as Header
      }
      // 3. limits and routing are the sink's, before any payload byte is kept
      const wanted = sink.onHeader(header)
      if (header.type === FrameType.Data) {
        if (header.length === 0) {
          sink.onDataEnd(header)
        } else {
          this.current = header
          this.remaining = header.length
          this.deliver = wanted
        }
      }
    }
  }
}
