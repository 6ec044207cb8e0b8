/**
 * Incremental RFC 6455 frame receiver: one synchronous loop over a chunk queue (the shape of ws
 * `lib/receiver.js`: GET_INFO → GET_PAYLOAD_LENGTH → GET_MASK → GET_DATA, written as two states).
 *
 * Algorithm for one `push(chunk)`:
 *  1. Header state: wait for 2 bytes, which say the header's full length (2–14); wait for those;
 *     decode (a view when the header sits in one chunk, else one ≤ 14-byte copy). Reject a frame
 *     masked the wrong way for our role (§5.1: clients mask, servers do not → 1002).
 *  2. Hand the header to the sink *before* any payload byte is kept: the sink checks the message
 *     size, fragmentation order and data type there and throws to refuse (STYLE 4).
 *  3. Data frames (Continuation, Text, Binary): stream the payload out as views of the chunks it
 *     lies in, unmasked in place piece by piece (the chunks are ours: the ByteSink contract), never
 *     assembled. `onFrameEnd` after the last byte (also for empty frames).
 *     Control frames (≤ 125 bytes by the header check): wait for the whole payload, take it (a
 *     view, or one copy when it spans chunks), unmask, `onControl`.
 *  4. Repeat until the queue is empty or holds only part of a header / control payload.
 *
 * Memory: the receiver holds at most one partial header (13 bytes) or one control payload (125
 * bytes) across pushes; data payloads pass straight through.
 */
import { ChunkQueue } from '../../codec/chunk-queue.js'
import { WsError } from '../../errors.js'
import { CloseCode } from './constants.js'
import { applyMask, decodeFrameHeader, headerLengthOf, isControl } from './frame.js'
import type { FrameHeader } from './frame.js'

/** Receives decoded frames. Every callback runs synchronously inside `push`; throw to refuse. */
export interface FrameSink {
  /** A complete header, before any of its payload. */
  onHeader: (header: FrameHeader) => void
  /** The next piece of a data frame's payload (unmasked view; together `header.length` bytes). */
  onPayload: (header: FrameHeader, piece: Uint8Array) => void
  /** The current data frame is complete. */
  onFrameEnd: (header: FrameHeader) => void
  /** A complete control frame (Close, Ping, Pong) with its unmasked payload. */
  onControl: (header: FrameHeader, payload: Uint8Array) => void
}

export interface ReceiverOptions {
  /** True on the server side: every frame from a client must be masked (§5.1); false on the client. */
  expectMasked: boolean
}

export class Receiver {
  private readonly sink: FrameSink
  private readonly expectMasked: boolean
  private readonly queue = new ChunkQueue()
  /** The frame whose payload is being read, if any. */
  private current: FrameHeader | undefined
  /** Data frame payload bytes still to come. */
  private remaining = 0
  /** Payload bytes already unmasked (the key offset for the next piece). */
  private unmasked = 0
  private failure: unknown

  constructor (sink: FrameSink, options: ReceiverOptions) {
    this.sink = sink
    this.expectMasked = options.expectMasked
  }

  /** True between frames: no partial header, no payload outstanding (a clean place to end). */
  get idle (): boolean { return this.current === undefined && this.queue.length === 0 }

  /** Feed the next chunk (ours to keep and to unmask in place). After a throw, every push throws it again. */
  push (chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure
    this.queue.push(chunk)
    try {
      this.loop()
    } catch (err) {
      this.failure = err
      throw err
    }
  }

  private loop (): void {
    const queue = this.queue
    const sink = this.sink
    for (;;) {
      const h = this.current
      // 1–2. header
      if (h === undefined) {
        if (queue.length < 2) return
        const headerLength = headerLengthOf(queue.byteAt(1))
        if (queue.length < headerLength) {
          // Refuse a bad frame (RSV, opcode, control length) from its first two bytes alone.
          decodeFrameHeader(new Uint8Array([queue.byteAt(0), queue.byteAt(1)]))
          return
        }
        const header = decodeFrameHeader(queue.consume(headerLength)) as FrameHeader
        if (header.masked !== this.expectMasked) {
          throw new WsError(
            'ERR_WS_PROTOCOL',
            this.expectMasked
              ? 'frame from the client expected masked (RFC 6455 §5.1), got unmasked'
              : 'frame from the server expected unmasked (RFC 6455 §5.1), got masked',
            { closeCode: CloseCode.ProtocolError }
          )
        }
        sink.onHeader(header)
        this.current = header
        this.remaining = header.length
        this.unmasked = 0
        if (!isControl(header.opcode) && header.length === 0) {
          this.current = undefined
          sink.onFrameEnd(header)
        }
        continue
      }
      // 3. control frame: whole payload at once
      if (isControl(h.opcode)) {
        if (queue.length < h.length) return
        const payload = queue.consume(h.length)
        if (h.maskKey !== undefined) applyMask(payload, h.maskKey)
        this.current = undefined
        sink.onControl(h, payload)
        continue
      }
      // 3. data frame: stream the pieces that are here
      if (queue.length === 0) return
      const n = Math.min(this.remaining, queue.length)
      const pieces = queue.consumeViews(n)
      this.remaining -= n
      for (const piece of pieces) {
        if (h.maskKey !== undefined) { applyMask(piece, h.maskKey, this.unmasked); this.unmasked += piece.length }
        sink.onPayload(h, piece)
      }
      if (this.remaining === 0) {
        this.current = undefined
        sink.onFrameEnd(h)
      }
    }
  }
}
