/**
 * One stream's (or one CRYPTO level's) receive side (RFC 9000 §2.2, §3.2, §4.5): out-of-order STREAM
 * data is reassembled by offset; `read()` hands out the contiguous prefix. Overlapping and repeated
 * data is accepted and deduplicated (§2.2: the data at a given offset MUST NOT change; we keep
 * the first copy, as quinn does).
 *
 * Final size (§4.5), each violation a FINAL_SIZE_ERROR:
 *   - data beyond a known final size; a FIN or RESET_STREAM with a different final size;
 *   - a final size below data already received.
 * Bytes buffered are bounded by the flow-control limit the caller enforces before `insert`.
 */
import { QuicError } from '../../errors.js'

/** RFC 9000 §3.2 receiving states. */
export type RecvState = 'Recv' | 'SizeKnown' | 'DataRecvd' | 'DataRead' | 'ResetRecvd' | 'ResetRead'

interface Chunk { offset: number, data: Uint8Array }

function finalSizeError (message: string): QuicError {
  return new QuicError('ERR_QUIC_FINAL_SIZE', message)
}

export class RecvBuffer {
  state: RecvState = 'Recv'
  /** Offset of the next byte `read` returns. */
  readOffset = 0
  /** Highest offset + 1 received (what flow control counts, §4.1). */
  highestOffset = 0
  finalSize: number | undefined
  /** Out-of-order chunks, sorted by offset, non-overlapping, all beyond readOffset. */
  private readonly chunks: Chunk[] = []
  /** Bytes held in `chunks`. */
  buffered = 0

  /**
   * Add received data. Returns the increase of `highestOffset` (new flow-control credit used).
   * `data` is kept by reference (a view into the packet; the caller gives it away).
   */
  insert (offset: number, data: Uint8Array, fin: boolean): number {
    const end = offset + data.length
    if (this.state === 'ResetRecvd' || this.state === 'ResetRead') return 0
    if (this.finalSize !== undefined && end > this.finalSize) {
      throw finalSizeError(`data to offset ${end} beyond final size ${this.finalSize}`)
    }
    if (fin) {
      if (this.finalSize !== undefined && this.finalSize !== end) {
        throw finalSizeError(`final size ${end} differs from ${this.finalSize}`)
      }
      if (end < this.highestOffset) {
        throw finalSizeError(`final size ${end} below received offset ${this.highestOffset}`)
      }
      this.finalSize = end
      if (this.state === 'Recv') this.state = 'SizeKnown'
    }
    const grew = Math.max(0, end - this.highestOffset)
    this.highestOffset = Math.max(this.highestOffset, end)
    // trim what was already read
    let start = offset
    let bytes = data
    if (start < this.readOffset) {
      bytes = bytes.subarray(Math.min(bytes.length, this.readOffset - start))
      start = this.readOffset
    }
    if (bytes.length > 0) this.store(start, bytes)
    if (this.state === 'SizeKnown' && this.readOffset + this.contiguousLength() === this.finalSize) {
      this.state = 'DataRecvd'
    }
    return grew
  }

  /** Insert [start, start+len) keeping only the parts not already held. */
  private store (start: number, bytes: Uint8Array): void {
    const cs = this.chunks
    let i = 0
    while (i < cs.length && (cs[i] as Chunk).offset + (cs[i] as Chunk).data.length <= start) i++
    let cursor = start
    const end = start + bytes.length
    const pieces: Chunk[] = []
    while (cursor < end) {
      const c = cs[i]
      if (c === undefined || c.offset >= end) {
        pieces.push({ offset: cursor, data: bytes.subarray(cursor - start) })
        break
      }
      if (c.offset > cursor) pieces.push({ offset: cursor, data: bytes.subarray(cursor - start, c.offset - start) })
      cursor = Math.max(cursor, c.offset + c.data.length)
      i++
    }
    for (const p of pieces) {
      let j = 0
      while (j < cs.length && (cs[j] as Chunk).offset < p.offset) j++
      cs.splice(j, 0, p)
      this.buffered += p.data.length
    }
  }

  private contiguousLength (): number {
    let n = 0
    let at = this.readOffset
    for (const c of this.chunks) {
      if (c.offset !== at) break
      n += c.data.length
      at += c.data.length
    }
    return n
  }

  /** Bytes readable now without waiting. */
  get readable (): number {
    return this.contiguousLength()
  }

  /** The next contiguous chunk (a view), or undefined. Sets DataRead after the final byte. */
  read (): Uint8Array | undefined {
    const c = this.chunks[0]
    if (c === undefined || c.offset !== this.readOffset) return undefined
    this.chunks.shift()
    this.buffered -= c.data.length
    this.readOffset += c.data.length
    if (this.finalSize !== undefined && this.readOffset === this.finalSize) this.state = 'DataRead'
    return c.data
  }

  /** True when every byte up to the final size was read (the FIN reached the application). */
  get finished (): boolean {
    return this.finalSize !== undefined && this.readOffset === this.finalSize
  }

  /** RESET_STREAM with `finalSize` (§3.2, §4.5). Returns the flow-control credit newly used. */
  reset (finalSize: number): number {
    if (this.finalSize !== undefined && this.finalSize !== finalSize) {
      throw finalSizeError(`reset final size ${finalSize} differs from ${this.finalSize}`)
    }
    if (finalSize < this.highestOffset) {
      throw finalSizeError(`reset final size ${finalSize} below received offset ${this.highestOffset}`)
    }
    const grew = finalSize - this.highestOffset
    this.highestOffset = finalSize
    this.finalSize = finalSize
    if (this.state !== 'DataRead') this.state = 'ResetRecvd'
    this.chunks.length = 0
    this.buffered = 0
    return grew
  }
}
