/**
 * A FIFO of received chunks that incremental decoders read from synchronously.
 *
 * Reads take `subarray` views when the bytes sit inside the head chunk (the common case: one socket
 * read holds many frames) and copy only when a field spans chunks (ws `receiver.js` `consume(n)`).
 * Chunks are never mutated, so views handed out stay valid.
 */
import { allocUnsafe } from './alloc.js'
import { decodeUvarint, decodeUvarintValue, encodingLength, MAX_VARINT_BYTES, NEED_MORE_BYTES } from './varint.js'

const EMPTY = new Uint8Array(0)

export class ChunkQueue {
  private chunks: Uint8Array[] = []
  /** Index of the current head chunk in `chunks` (avoids `shift()` per consume). */
  private head = 0
  /** Offset of the first unread byte inside the head chunk. */
  private headOffset = 0
  private total = 0

  /** Unread bytes in the queue. */
  get length (): number { return this.total }

  push (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.total += chunk.length
  }

  /** Put bytes back in front of everything else (hand-back of bytes read past a negotiation). */
  unshift (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.compact()
    if (this.headOffset > 0) {
      this.chunks[0] = (this.chunks[0] as Uint8Array).subarray(this.headOffset)
      this.headOffset = 0
    }
    this.chunks.unshift(chunk)
    this.total += chunk.length
  }

  /** The byte at position `i` of the unread bytes (`i < length`). */
  byteAt (i: number): number {
    let idx = this.head
    let off = this.headOffset + i
    for (;;) {
      const c = this.chunks[idx] as Uint8Array
      if (off < c.length) return c[off] as number
      off -= c.length
      idx++
    }
  }

  /**
   * Remove and return the next `n` bytes (`n <= length`). A view into the head chunk when it holds
   * all `n`; one copy otherwise.
   */
  consume (n: number): Uint8Array {
    if (n === 0) return EMPTY
    if (n > this.total) throw new RangeError(`"consume length" expected <= ${this.total}, got ${n}`)
    const first = this.chunks[this.head] as Uint8Array
    const available = first.length - this.headOffset
    if (n <= available) {
      const view = first.subarray(this.headOffset, this.headOffset + n)
      this.advance(n)
      return view
    }
    const out = allocUnsafe(n) // every byte is filled below
    let filled = 0
    while (filled < n) {
      const c = this.chunks[this.head] as Uint8Array
      const take = Math.min(c.length - this.headOffset, n - filled)
      out.set(c.subarray(this.headOffset, this.headOffset + take), filled)
      filled += take
      this.advance(take)
    }
    return out
  }

  /**
   * Remove the next `n` bytes (`n <= length`) and return them as views of the chunks they lie in,
   * in order, without copying (for consumers that can process a field piecewise, e.g. a streaming
   * decipher over a frame that spans socket reads). `[]` when `n` is 0.
   */
  consumeViews (n: number): Uint8Array[] {
    if (n > this.total) throw new RangeError(`"consume length" expected <= ${this.total}, got ${n}`)
    const out: Uint8Array[] = []
    while (n > 0) {
      const c = this.chunks[this.head] as Uint8Array
      const take = Math.min(c.length - this.headOffset, n)
      out.push(c.subarray(this.headOffset, this.headOffset + take))
      this.advance(take)
      n -= take
    }
    return out
  }

  /** Drop `n` bytes without returning them. */
  skip (n: number): void {
    if (n > this.total) throw new RangeError(`"skip length" expected <= ${this.total}, got ${n}`)
    while (n > 0) {
      const c = this.chunks[this.head] as Uint8Array
      const take = Math.min(c.length - this.headOffset, n)
      this.advance(take)
      n -= take
    }
  }

  /**
   * Decode and consume a varint at the front. `undefined` when the queue ends mid-varint.
   * Throws VarintError for a malformed varint (nothing is consumed then).
   */
  readUvarint (): number | undefined {
    if (this.total === 0) return undefined
    const first = this.chunks[this.head] as Uint8Array
    const value = decodeUvarintValue(first, this.headOffset)
    if (value !== NEED_MORE_BYTES) { this.advance(encodingLength(value)); return value }
    // The varint spans chunks (rare): gather at most 9 bytes and decode those.
    const n = Math.min(this.total, MAX_VARINT_BYTES)
    const tmp = new Uint8Array(n)
    for (let i = 0; i < n; i++) tmp[i] = this.byteAt(i)
    const [v, u] = decodeUvarint(tmp, 0)
    if (u === 0) return undefined
    this.skip(u)
    return v
  }

  /** Remove and return every unread byte as the list of (views of) chunks. */
  drainAll (): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i] as Uint8Array
      out.push(i === this.head ? c.subarray(this.headOffset) : c)
    }
    this.chunks = []
    this.head = 0
    this.headOffset = 0
    this.total = 0
    return out.filter(c => c.length > 0)
  }

  private advance (n: number): void {
    this.total -= n
    this.headOffset += n
    const c = this.chunks[this.head] as Uint8Array
    if (this.headOffset === c.length) {
      this.head++
      this.headOffset = 0
      if (this.head === this.chunks.length) {
        this.chunks.length = 0
        this.head = 0
      } else if (this.head > 64) {
        this.compact()
      }
    }
  }

  private compact (): void {
    if (this.head > 0) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}
