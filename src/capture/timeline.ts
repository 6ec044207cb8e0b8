/**
 * A byte stream with arrival times: the chunks of one direction of a connection (TCP payload, Noise
 * plaintext, one muxed stream), each stamped with the capture time of the packet that completed it.
 * The decoder reads a timeline as one buffer and asks `timeAt(offset)` when a message ends at `offset`.
 * Append-only and indexed by offset, where trace/dissect.ts `TimedBuffer` is the consuming queue of
 * the dissectors.
 */
import { concatBytes } from '../codec/bytes.js'
import type { TimedChunk } from '../trace/dissect.js'

export type { TimedChunk } from '../trace/dissect.js'

export class ByteTimeline {
  readonly chunks: TimedChunk[] = []
  /** Start offset of each chunk (parallel to `chunks`). */
  private readonly starts: number[] = []
  private total = 0
  private joined: Uint8Array | undefined

  get length (): number { return this.total }

  push (bytes: Uint8Array, time: number): void {
    if (bytes.length === 0) return
    this.chunks.push({ bytes, time })
    this.starts.push(this.total)
    this.total += bytes.length
    this.joined = undefined
  }

  /** Every byte as one buffer (a view when there is a single chunk). */
  bytes (): Uint8Array {
    if (this.joined !== undefined) return this.joined
    return (this.joined = this.chunks.length === 0 ? new Uint8Array(0) : concatBytes(this.chunks.map(c => c.bytes)))
  }

  /**
   * Time of the chunk holding byte `offset` (the moment that byte was captured). For a message that
   * ends at `end`, ask `timeAt(end - 1)`. Offsets past the end give the last chunk's time, and an
   * empty timeline gives `fallback`.
   */
  timeAt (offset: number, fallback = 0): number {
    const starts = this.starts
    if (starts.length === 0) return fallback
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((starts[mid] as number) <= offset) lo = mid
      else hi = mid - 1
    }
    return (this.chunks[lo] as TimedChunk).time
  }

  /** The bytes from `offset` on, as a new timeline (views, no copies). */
  sliceFrom (offset: number): ByteTimeline {
    const out = new ByteTimeline()
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i] as TimedChunk
      const s = this.starts[i] as number
      const e = s + c.bytes.length
      if (e <= offset) continue
      out.push(s >= offset ? c.bytes : c.bytes.subarray(offset - s), c.time)
    }
    return out
  }
}
