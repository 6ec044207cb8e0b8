/**
 * unsigned-varint length-prefixed messages: `uvarint(len) ‖ body`. Used by multistream-select,
 * identify, the tutorial's `readLp`/`writeLp`, and everything else that frames protobufs.
 *
 * The decoder checks the declared length against `maxLength` as soon as the prefix is complete,
 * before it buffers any of the body (the limit is checked at the length prefix: a peer cannot make us hold a 4 GiB
 * frame).
 */
import { tooLarge } from '../errors.js'
import { allocUnsafe } from './alloc.js'
import { ChunkQueue } from './chunk-queue.js'
import { decodeUvarintValue, encodeUvarintTo, encodingLength, NEED_MORE_BYTES } from './varint.js'

/** Default cap for one length-prefixed message (4 MiB, js-libp2p's `maxDataLength`). */
export const DEFAULT_MAX_LP_LENGTH = 4 * 1024 * 1024

/** `uvarint(len) ‖ msg` in one allocation. */
export function encodeLp (msg: Uint8Array): Uint8Array {
  const prefixLength = encodingLength(msg.length)
  // allocUnsafe: Node's pooled allocator is several times faster for small messages, and every byte is overwritten.
  const out = allocUnsafe(prefixLength + msg.length)
  encodeUvarintTo(msg.length, out, 0)
  out.set(msg, prefixLength)
  return out
}

/** Just the prefix, for writers that send `[prefix, body]` without copying the body. */
export function encodeLpPrefix (length: number): Uint8Array {
  const out = allocUnsafe(encodingLength(length))
  encodeUvarintTo(length, out, 0)
  return out
}

/**
 * Decode one message at `buf[offset]`. Returns `[msg, bytesUsed]` (msg is a view into `buf`), or
 * `undefined` when `buf` ends before the message does.
 */
export function decodeLp (
  buf: Uint8Array,
  offset: number,
  maxLength: number
): [msg: Uint8Array, bytesUsed: number] | undefined {
  const length = decodeUvarintValue(buf, offset)
  if (length === NEED_MORE_BYTES) return undefined
  const prefixLength = encodingLength(length)
  if (length > maxLength) throw tooLarge('message length', maxLength, length)
  const start = offset + prefixLength
  const end = start + length
  if (end > buf.length) return undefined
  return [buf.subarray(start, end), prefixLength + length]
}

/**
 * Incremental decoder over arbitrary chunks: a frame split over many chunks, many frames in one chunk,
 * a prefix split across chunks. Whole messages inside one chunk are returned as views (zero copy);
 * only a message that spans chunks is copied, once.
 */
export class LpDecoder {
  private readonly queue = new ChunkQueue()
  /** Declared length of the message being buffered, or -1 while waiting for a prefix. */
  private pending = -1

  constructor (readonly maxLength: number = DEFAULT_MAX_LP_LENGTH) {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
      throw new RangeError(`"maxLength" expected a non-negative integer, got ${maxLength}`)
    }
  }

  /** Bytes held that do not yet form a whole message. */
  get buffered (): number { return this.queue.length }

  /** Feed a chunk; returns every message it completes (possibly none). */
  push (chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    let offset = 0
    // Fast path: nothing buffered, parse whole messages straight out of the chunk.
    if (this.queue.length === 0 && this.pending < 0) {
      while (offset < chunk.length) {
        const r = decodeLp(chunk, offset, this.maxLength)
        if (r === undefined) break
        out.push(r[0])
        offset += r[1]
      }
      if (offset === chunk.length) return out
      chunk = chunk.subarray(offset)
    }
    this.queue.push(chunk)
    for (;;) {
      if (this.pending < 0) {
        const length = this.queue.readUvarint()
        if (length === undefined) break
        if (length > this.maxLength) throw tooLarge('message length', this.maxLength, length)
        this.pending = length
      }
      if (this.queue.length < this.pending) break
      out.push(this.queue.consume(this.pending))
      this.pending = -1
    }
    return out
  }

  /** True when no partial message is held (a clean place for the stream to end). */
  get idle (): boolean { return this.pending < 0 && this.queue.length === 0 }

  /** Hand back whatever is buffered (e.g. after a negotiation, to the next layer). */
  drainAll (): Uint8Array[] {
    const rest = this.queue.drainAll()
    // The prefix of a half-received message was already consumed: give it back too.
    if (this.pending >= 0) rest.unshift(encodeLpPrefix(this.pending))
    this.pending = -1
    return rest
  }
}
