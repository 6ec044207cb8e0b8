/**
 * The outbound side every muxer session shares: frames batched for one connection write, and the
 * connection's backpressure as the session sees it. Sans-I/O: no timers, no sockets; the adapter
 * (adapter.ts) takes the batch and reports whether the connection accepted it.
 *
 * Batching. A frame is its header (and a small payload) written into a scratch buffer, plus, for a
 * large payload, a view of the caller's bytes (no copy). Consecutive scratch writes stay one chunk,
 * so a batch of small frames is a single contiguous chunk; `take()` hands the chunks out for one
 * `conn.write(chunks)` (a writev). `onReady` fires once per batch, when the first frame enters an
 * empty outbox, so the adapter schedules one flush however many frames follow (js-libp2p#1491
 * measured the cost of one write per frame: 6.55 M writes of 17 B vs 1.64 M of 68 B).
 *
 * Scratch memory. Views handed out stay valid because a scratch region is written once: the write
 * position only grows and a full buffer is replaced, never rewound. The first buffer is 256 bytes
 * and each refill takes four times the previous size up to 16 KiB: an idle connection (a handful of
 * control frames) keeps 256 bytes instead of 16 KiB, a busy one reaches 16 KiB after three refills.
 * While scratch is still growing, the chunk being written moves into the bigger buffer, so a batch of
 * small frames stays contiguous.
 *
 * Backpressure. `blocked` is the connection's state (its write buffer above its high-water mark);
 * `hasRoom()` is the one test a stream write makes (not blocked and the batch below `limit`). A
 * stream that finds no room registers with `waitForRoom(key)`; when the connection drains (or a
 * flush leaves room; a stream that waits on a full batch asks for that flush at once) the waiters get one turn each in
 * arrival order through `onRoom(key)` — one
 * that finds no room again re-registers at the end (round-robin, so no stream starves the others).
 */

/** Payloads up to this size are copied next to their header instead of becoming a separate chunk. */
export const SMALL_PAYLOAD_BYTES = 512
const SCRATCH_MAX = 16 * 1024
const SCRATCH_MIN = 256
const EMPTY = new Uint8Array(0)

export interface OutboxInit {
  /** Bytes queued at or above which `hasRoom()` is false (the session's write batch limit). */
  limit: number
  /**
   * Flush soon: `full` false when the first frame went into an empty outbox (once per batch),
   * true when a stream waits because the batch reached `limit` (nothing is gained by waiting to
   * coalesce more: flush at once).
   */
  onReady: (full: boolean) => void
  /** A stream that waited for room may try again (it re-registers if it still finds none). */
  onRoom: (key: number) => void
}

export class Outbox {
  private chunks: Uint8Array[] = []
  private length = 0
  private scratch: Uint8Array = EMPTY
  private scratchStart = 0
  private scratchPos = 0
  private readonly limit: number
  private readonly onReady: (full: boolean) => void
  private readonly onRoom: (key: number) => void
  private waiters = new Set<number>()
  /** The connection is above its high-water mark (set by the adapter through the session). */
  private isBlocked = false

  constructor (init: OutboxInit) {
    this.limit = init.limit
    this.onReady = init.onReady
    this.onRoom = init.onRoom
  }

  /** Bytes queued for the next write. */
  get bytes (): number { return this.length }
  get blocked (): boolean { return this.isBlocked }
  /** A stream write may queue more now. */
  get hasRoom (): boolean { return !this.isBlocked && this.length < this.limit }

  /**
   * Scratch with room for `need` bytes at `pos`: write the frame header (and an inline payload)
   * there, then `commit`.
   */
  reserve (need: number): Uint8Array {
    if (this.scratch.length - this.scratchPos < need) this.refill(need)
    return this.scratch
  }

  /** Where the next frame goes in the buffer `reserve` returned. */
  get pos (): number { return this.scratchPos }

  /**
   * `written` bytes were written at `pos`; `view` (optional) is a payload that follows them as its
   * own chunk. The outbox may keep `view` until the next `take()`.
   */
  commit (written: number, view?: Uint8Array): void {
    const wasEmpty = this.length === 0
    this.scratchPos += written
    this.length += written
    if (view !== undefined && view.length > 0) {
      this.seal()
      this.chunks.push(view)
      this.length += view.length
    }
    if (wasEmpty) this.onReady(false)
  }

  /** Every queued chunk, in order, for one connection write. */
  take (): Uint8Array[] {
    this.seal()
    const out = this.chunks
    this.chunks = []
    this.length = 0
    return out
  }

  /** Drop what is queued and every waiter (the connection is gone). */
  discard (): void {
    this.take()
    this.waiters.clear()
  }

  /** No stream waits any more (the session ended; what is queued may still be flushed). */
  forgetAll (): void {
    this.waiters.clear()
  }

  /** Register `key` for a turn once there is room (see the module comment). */
  waitForRoom (key: number): void {
    this.waiters.add(key)
    if (!this.isBlocked) this.onReady(true)
  }

  /** `key` is gone: it waits for nothing any more. */
  forget (key: number): void {
    this.waiters.delete(key)
  }

  /** The connection's write buffer went above (true) or back below (false) its high-water mark. */
  setBlocked (blocked: boolean): void {
    this.isBlocked = blocked
    if (blocked || this.waiters.size === 0) return
    const waiters = this.waiters
    this.waiters = new Set()
    for (const key of waiters) {
      if (this.hasRoom) this.onRoom(key)
      else this.waiters.add(key)
    }
  }

  private refill (need: number): void {
    const open = this.scratchPos - this.scratchStart
    const size = Math.max(Math.min(SCRATCH_MAX, Math.max(SCRATCH_MIN, this.scratch.length * 4)), need + open)
    if (open > 0 && this.scratch.length < SCRATCH_MAX) {
      // Still growing: carry the unsealed chunk over so that it stays one chunk.
      const next = new Uint8Array(size)
      next.set(this.scratch.subarray(this.scratchStart, this.scratchPos))
      this.scratch = next
      this.scratchStart = 0
      this.scratchPos = open
      return
    }
    this.seal()
    this.scratch = new Uint8Array(Math.max(Math.min(SCRATCH_MAX, size), need))
    this.scratchStart = this.scratchPos = 0
  }

  /** The written part of scratch becomes a chunk; the rest of scratch stays for the next frames. */
  private seal (): void {
    if (this.scratchPos > this.scratchStart) {
      this.chunks.push(this.scratch.subarray(this.scratchStart, this.scratchPos))
      this.scratchStart = this.scratchPos
    }
  }
}
