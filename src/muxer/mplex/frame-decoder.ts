/**
 * Incremental mplex frame decoder: arbitrary chunks in, whole frames out, synchronously.
 *
 * Read path (one `push`):
 *   1. append the chunk to the queue;
 *   2. header varint complete? → check the flag (7 is fatal) and remember it;
 *   3. length varint complete? → check it against `maxMessageBytes` (before any body byte is held);
 *   4. body complete? → hand `(streamId, flag, data)` to the sink; `data` is a view into the chunk
 *      when the body sits inside one chunk, one copy when it spans chunks;
 *   5. repeat until the queue runs dry, so every complete frame of a chunk is handled in this call.
 *
 * The queue therefore never holds more than one incomplete frame: at most one header and
 * `maxMessageBytes` of body. Any malformation throws MplexError and poisons the decoder (the
 * connection is dead; later pushes are ignored).
 */
import { ChunkQueue } from '../../codec/chunk-queue.js'
import { MAX_MESSAGE_BYTES, type MessageFlag } from './constants.js'
import { checkFrameLength, headerFlag, headerStreamId, wrapVarintError } from './frame.js'

/** Receives decoded frames. Called synchronously from `push`; must not call `push` re-entrantly. */
export type FrameSink = (streamId: number, flag: MessageFlag, data: Uint8Array) => void

export class FrameDecoder {
  private readonly queue = new ChunkQueue()
  /** Header varint of the frame being read, or -1 while waiting for it. */
  private header = -1
  /** Declared length of the frame being read, or -1 while waiting for it. */
  private length = -1
  private streamId = 0
  private flag: MessageFlag = 0
  private failed: Error | undefined

  constructor (readonly maxMessageBytes: number = MAX_MESSAGE_BYTES) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 0) {
      throw new RangeError(`"maxMessageBytes" expected a non-negative integer, got ${maxMessageBytes}`)
    }
  }

  /** Bytes held for the incomplete frame at the front (header bytes already parsed excluded). */
  get buffered (): number { return this.queue.length }

  /** A frame has started and not finished (for "connection ended mid-frame" diagnostics). */
  get midFrame (): boolean { return this.header >= 0 || this.queue.length > 0 }

  /** Feed one chunk; `sink` is called for every frame it completes, in order. */
  push (chunk: Uint8Array, sink: FrameSink): void {
    if (this.failed !== undefined) return
    this.queue.push(chunk)
    try {
      this.drain(sink)
    } catch (err) {
      this.failed = err as Error
      this.queue.drainAll()
      throw err
    }
  }

  private drain (sink: FrameSink): void {
    const q = this.queue
    while (q.length > 0) {
      if (this.header < 0) {
        let h: number | undefined
        try { h = q.readUvarint() } catch (err) { throw wrapVarintError(err, 'frame header') }
        if (h === undefined) return
        this.flag = headerFlag(h) // flag 7 fails here, before we wait for anything else
        this.streamId = headerStreamId(h)
        this.header = h
      }
      if (this.length < 0) {
        let l: number | undefined
        try { l = q.readUvarint() } catch (err) { throw wrapVarintError(err, `frame length (stream ${this.streamId})`) }
        if (l === undefined) return
        checkFrameLength(l, this.maxMessageBytes, this.streamId, this.flag)
        this.length = l
      }
      if (q.length < this.length) return
      const data = q.consume(this.length)
      this.header = -1
      this.length = -1
      sink(this.streamId, this.flag, data)
    }
  }
}
