/**
 * The user-facing stream shared by every muxer (yamux here, mplex in ./mplex/).
 *
 * `MuxedStream` implements the pull-based `Stream` contract of src/connection.ts. It knows nothing
 * about frames: a muxer drives it from below through four calls (`pushData`, `pushEnd`,
 * `pushReset`, `notifyWritable`) and receives the application's intent through the small
 * `StreamTransport` it hands to the constructor (`trySend`, `sendFin`, `sendReset`, `onConsumed`).
 *
 * Close/reset matrix (after nim-libp2p `stream/lpstream.nim` and `muxers/mplex/lpchannel.nim`).
 * Rows: what has happened so far; columns: what the application then calls.
 *
 * | state \ call          | read / readLp              | write                 | closeWrite    | close
 * | reset            |
 * |-----------------------|----------------------------|-----------------------|---------------|-----------------------|------------------|
 * | open                  | data (waits)               | data (waits for room) | FIN           | FIN, discard reads
 * | RST              |
 * | local closeWrite      | data until remote FIN      | StreamClosedError     | no-op         | discard reads
 * | RST              |
 * | remote FIN            | buffer, then EOF (1)       | data                  | FIN (2)       | FIN (2)
 * | RST              |
 * | local close()         | EOF (1)                    | StreamClosedError     | no-op         | no-op
 * | RST (3)          |
 * | both FINs (2)         | buffer, then EOF (1)       | StreamClosedError     | no-op         | no-op
 * | no-op (4)        |
 * | reset (local/remote)  | StreamResetError           | StreamResetError      | no-op         | no-op
 * | no-op            |
 *
 * (1) EOF = `read()` resolves `null`; `readExactly`/`readLp` reject with `EndOfStreamError`
 *     (nim's `LPStreamEOFError`). A length-prefixed message cut by EOF is `CodecError(ERR_UNEXPECTED_EOF)`.
 * (2) Once both directions have sent FIN the stream is fully closed: the muxer forgets it.
 * (3) Only while the remote has not sent FIN too; see (4).
 * (4) Never a frame for a fully closed stream: older nim-libp2p kills the whole connection on a frame
 *     for an unknown stream (js-libp2p#2505, js-libp2p-yamux#91).
 *
 * Receive buffer: a `ChunkQueue` of views into the frames the muxer parsed (no copies). `read()`
 * hands out whole chunks; `readExactly`/`readLp` parse synchronously over the buffered bytes and
 * await only "more bytes arrived" (never one await per byte, unlike nim's `readVarint`).
 *
 * Flow control: the stream reports every byte the application takes out of the buffer through
 * `onConsumed(n)`; yamux turns that into window credit (credit on read, not on receipt).
 *
 * Writes: `write()` calls `trySend`, which frames and queues as much as the muxer may send now. If
 * the muxer takes everything the write resolves at once; otherwise the rest waits (one blocked
 * write per stream, later writes queue behind it in call order) until the muxer calls
 * `notifyWritable()`. Nothing is buffered beyond what the muxer accepted, so the only memory a slow
 * peer can pin is the caller's own pending `data`.
 */
import { ChunkQueue } from '../codec/chunk-queue.js'
import { encodeLp, encodeLpPrefix } from '../codec/length-prefixed.js'
import { CodecError, EndOfStreamError, StreamClosedError, StreamResetError, toError, tooLarge } from '../errors.js'
import type { Stream } from '../connection.js'

/**
 * What the stream asks of its muxer. All calls are synchronous; none may call back into the stream re-entrantly except
 * `pushReset`.
 */
export interface StreamTransport {
  /**
   * Frame and queue as many leading bytes of `data` as may be sent now (send window, connection
   * backpressure). Returns how many were taken (0 … data.length). When fewer than all, the stream
   * waits for `notifyWritable()` and calls `trySend` again with the rest.
   * The muxer may keep views into `data` (it is not reused by the stream).
   */
  trySend: (data: Uint8Array) => number
  /** Half-close our direction (yamux FIN). Called at most once, after every byte was taken by `trySend`. */
  sendFin: () => void
  /** Reset the stream on the wire (yamux RST). Called at most once, never after the stream is fully closed. */
  sendReset: (err?: Error) => void
  /** The application took `n` bytes out of the receive buffer (yamux: window credit on read). */
  onConsumed: (n: number) => void
  /** The application will read no more (`close()`); later `pushData` is discarded. Optional. */
  onReadClosed?: () => void
}

/** Options for `MuxedStream`. */
export interface MuxedStreamInit {
  id: number
  direction: 'inbound' | 'outbound'
  transport: StreamTransport
  /** Credit bytes discarded after `close()` back to the sender so it is not left stalled. Default true. */
  creditDiscarded?: boolean
}

const RESOLVED: Promise<void> = Promise.resolve()
/** `ready` when empty: shared, never written (an idle stream allocates no array of its own). */
const NO_CHUNKS: Uint8Array[] = []
/** Messages at most this long are written as one `prefix ‖ body` copy; longer ones as two views. */
const LP_COPY_LIMIT = 16 * 1024
const utf8 = new TextEncoder()

const enum ReadState { Open, RemoteEnded, LocalClosed, Reset }
const enum WriteState { Open, Closing, Closed, Reset }

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
}

interface BlockedWrite {
  data: Uint8Array
  resolve: () => void
  reject: (err: Error) => void
}

export class MuxedStream implements Stream {
  readonly id: number
  readonly direction: 'inbound' | 'outbound'
  protocol = ''

  private readonly transport: StreamTransport
  private readonly creditDiscarded: boolean

  // ── receive side ──
  private readonly queue = new ChunkQueue()
  /**
   * Chunks handed out of `queue` by `read()` but not yet returned (they precede `queue`).
   * `read()` takes whole chunks with `queue.drainAll()` and serves them one at a time from here,
   * so each chunk is moved once (no copy, no O(n²) re-queueing).
   */
  private ready: Uint8Array[] = NO_CHUNKS
  private readyIndex = 0
  private readyBytes = 0
  /** Bytes put back with `unread()` that were already credited through `onConsumed`. */
  private unreadDebt = 0
  /** Declared length of a length-prefixed message whose prefix `readLp` already consumed, else -1. */
  private lpPending = -1
  private readState = ReadState.Open
  private readWaiter: Waiter | undefined

  // ── send side ──
  private writeState = WriteState.Open
  private blocked: BlockedWrite | undefined
  /** Settles when the last queued write has been taken by the muxer (undefined when idle). */
  private writeTail: Promise<void> | undefined
  private finPromise: Promise<void> | undefined

  private resetError: StreamResetError | undefined
  /** The remote sent FIN (kept apart from readState, which a local close() also ends). */
  private remoteEnded = false

  constructor (init: MuxedStreamInit) {
    this.id = init.id
    this.direction = init.direction
    this.transport = init.transport
    this.creditDiscarded = init.creditDiscarded ?? true
  }

  // ────────────────────────── state, for muxers and tests ──────────────────────────

  /** Bytes received and not yet read by the application. */
  get readableLength (): number { return this.queue.length + this.readyBytes }
  /** The remote sent FIN (or the stream was reset / closed locally for reading). */
  get readEnded (): boolean { return this.readState !== ReadState.Open }
  /** FIN was sent (or the stream was reset). */
  get writeEnded (): boolean { return this.writeState === WriteState.Closed || this.writeState === WriteState.Reset }
  get isReset (): boolean { return this.resetError !== undefined }
  /** Both directions ended with FIN, or reset: no frame may be sent for this stream any more. */
  get fullyClosed (): boolean { return this.isReset || (this.remoteEnded && this.writeState === WriteState.Closed) }

  // ────────────────────────── driven by the muxer ──────────────────────────

  /** Data from the remote. Discarded after local close or reset. */
  pushData (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    if (this.readState !== ReadState.Open) {
      // Reset: the muxer should not deliver; LocalClosed: discard (go-yamux CloseRead) and, by
      // default, credit it back so a writer on the other side finishes instead of stalling.
      if (this.readState === ReadState.LocalClosed && this.creditDiscarded) this.transport.onConsumed(chunk.length)
      return
    }
    this.queue.push(chunk)
    this.wakeReader()
  }

  /** The remote half-closed (FIN). Buffered bytes stay readable, then reads see EOF. */
  pushEnd (): void {
    this.remoteEnded = true
    if (this.readState === ReadState.Open) {
      this.readState = ReadState.RemoteEnded
      this.wakeReader()
    }
  }

  /**
   * The remote reset the stream, or the connection is gone. Pending and later reads and writes
   * fail with StreamResetError (wrapping `err` when it is not one already). Sends nothing.
   */
  pushReset (err?: Error): void {
    if (this.resetError !== undefined) return
    this.fail(
      err === undefined
        ? new StreamResetError(`stream ${this.id} reset by remote`)
        : toResetError(err, `stream ${this.id} reset`)
    )
  }

  /** The muxer may take more bytes now (window update, connection drained). */
  notifyWritable (): void {
    const b = this.blocked
    if (b === undefined) return
    const n = this.transport.trySend(b.data)
    if (n >= b.data.length) {
      this.blocked = undefined
      b.resolve()
    } else if (n > 0) {
      b.data = b.data.subarray(n)
    }
  }

  // ────────────────────────── Stream: reading ──────────────────────────

  /**
   * Not an `async` function: an idle stream's pending `read()` is one promise and a `PendingRead`
   * (~0.25 KiB); an async frame suspended in `waitReadable()` held ~0.45 KiB more (issue #15).
   */
  read (): Promise<Uint8Array | null> {
    let chunk: Uint8Array | null | undefined
    try {
      chunk = this.readNow()
    } catch (err) {
      return Promise.reject(err)
    }
    if (chunk !== undefined) return Promise.resolve(chunk)
    return new Promise((resolve, reject) => { this.addWaiter(new PendingRead(this, resolve, reject)) })
  }

  /**
   * The next chunk, `null` at EOF, or `undefined` when nothing is buffered yet (then wait).
   * Throws the reset error. For `PendingRead`; applications call `read()`.
   */
  readNow (): Uint8Array | null | undefined {
    if (this.readyIndex < this.ready.length) return this.takeReady()
    if (this.queue.length > 0) {
      this.ready = this.queue.drainAll()
      this.readyIndex = 0
      this.readyBytes = 0
      for (const c of this.ready) this.readyBytes += c.length
      return this.takeReady()
    }
    if (this.readState !== ReadState.Open) {
      if (this.readState === ReadState.Reset) throw this.resetError as StreamResetError
      return null
    }
    return undefined
  }

  async readExactly (n: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`"readExactly length" expected a non-negative integer, got ${n}`)
    }
    this.mergeReady()
    while (this.queue.length < n) {
      if (this.readState !== ReadState.Open) {
        throw this.endError(`stream ${this.id} ended after ${this.queue.length} of ${n} bytes`)
      }
      await this.waitReadable()
      this.mergeReady()
    }
    return this.take(n)
  }

  async readLp (maxSize: number): Promise<Uint8Array> {
    this.mergeReady()
    for (;;) {
      if (this.lpPending < 0) {
        const before = this.queue.length
        // Synchronous varint over buffered bytes; throws VarintError for a malformed prefix.
        const length = this.queue.readUvarint()
        if (length !== undefined) {
          this.credit(before - this.queue.length)
          if (length > maxSize) throw tooLarge('message length', maxSize, length, `stream ${this.id}`)
          this.lpPending = length
        }
      }
      if (this.lpPending >= 0 && this.queue.length >= this.lpPending) {
        const msg = this.take(this.lpPending)
        this.lpPending = -1
        return msg
      }
      if (this.readState !== ReadState.Open) {
        if (this.readState === ReadState.Reset) throw this.resetError as StreamResetError
        if (this.lpPending < 0 && this.queue.length === 0) {
          throw this.endError(`stream ${this.id} ended before a length-prefixed message`)
        }
        const what = this.lpPending < 0
          ? 'in a length prefix'
          : `after ${this.queue.length} of ${this.lpPending} bytes of a length-prefixed message`
        this.lpPending = -1
        throw new CodecError('ERR_UNEXPECTED_EOF', `stream ${this.id} ended ${what}`)
      }
      await this.waitReadable()
      this.mergeReady()
    }
  }

  unread (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.mergeReady()
    this.queue.unshift(chunk)
    this.unreadDebt += chunk.length
    this.wakeReader()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read()
      if (chunk === null) return
      yield chunk
    }
  }

  // ────────────────────────── Stream: writing ──────────────────────────

  write (data: Uint8Array): Promise<void> {
    const err = this.writeError()
    if (err !== undefined) return Promise.reject(err)
    if (data.length === 0) return this.writeTail ?? RESOLVED
    if (this.writeTail === undefined) {
      const n = this.transport.trySend(data)
      if (n >= data.length) return RESOLVED
      return this.track(this.block(data.subarray(n)))
    }
    const run = (): Promise<void> | undefined => {
      const e = this.writeError()
      if (e !== undefined) throw e
      const n = this.transport.trySend(data)
      return n >= data.length ? undefined : this.block(data.subarray(n))
    }
    return this.track(this.writeTail.then(run, run))
  }

  writeLp (data: Uint8Array | string): Promise<void> {
    const body = typeof data === 'string' ? utf8.encode(data) : data
    if (body.length <= LP_COPY_LIMIT) return this.write(encodeLp(body))
    // Large body: send the prefix and a view of the body (no copy); both queue in call order.
    void this.write(encodeLpPrefix(body.length)).catch(() => {})
    return this.write(body)
  }

  closeWrite (): Promise<void> {
    if (this.finPromise !== undefined) return this.finPromise
    if (this.writeState === WriteState.Reset) return RESOLVED
    this.writeState = WriteState.Closing
    const sendFin = (): void => {
      if (this.writeState !== WriteState.Closing) return // reset meanwhile
      this.writeState = WriteState.Closed
      this.transport.sendFin()
    }
    if (this.writeTail === undefined) {
      sendFin()
      this.finPromise = RESOLVED
    } else {
      // Writes already queued go out first; FIN follows the last byte.
      this.finPromise = this.writeTail.then(sendFin, sendFin)
    }
    return this.finPromise
  }

  async close (): Promise<void> {
    if (this.readState === ReadState.Open || this.readState === ReadState.RemoteEnded) {
      const discarded = this.readableLength
      this.dropBuffer()
      if (this.readState === ReadState.Open) {
        this.readState = ReadState.LocalClosed
        if (discarded > 0 && this.creditDiscarded) this.transport.onConsumed(discarded)
        this.transport.onReadClosed?.()
      }
      this.wakeReader()
    }
    await this.closeWrite()
  }

  reset (err?: Error): void {
    if (this.resetError !== undefined) return
    const fullyClosed = this.fullyClosed
    this.fail(toResetError(err, `stream ${this.id} reset locally`))
    // (4): a fully closed stream is gone on the wire; an RST for it would be a frame for an unknown id.
    if (!fullyClosed) this.transport.sendReset(err)
  }

  // ────────────────────────── internals ──────────────────────────

  private takeReady (): Uint8Array {
    const c = this.ready[this.readyIndex] as Uint8Array
    this.ready[this.readyIndex++] = EMPTY
    this.readyBytes -= c.length
    if (this.readyIndex === this.ready.length) { this.ready = NO_CHUNKS; this.readyIndex = 0 }
    this.credit(c.length)
    return c
  }

  /** Put chunks `read()` set aside back in front of `queue` so byte-level readers see every byte. */
  private mergeReady (): void {
    if (this.readyIndex >= this.ready.length) return
    const rest = this.queue.drainAll()
    for (let i = this.readyIndex; i < this.ready.length; i++) this.queue.push(this.ready[i] as Uint8Array)
    for (const c of rest) this.queue.push(c)
    this.ready = NO_CHUNKS
    this.readyIndex = 0
    this.readyBytes = 0
  }

  private take (n: number): Uint8Array {
    const out = this.queue.consume(n)
    this.credit(n)
    return out
  }

  private credit (n: number): void {
    if (this.unreadDebt > 0) {
      const d = Math.min(n, this.unreadDebt)
      this.unreadDebt -= d
      n -= d
    }
    if (n > 0 && this.readState !== ReadState.Reset) this.transport.onConsumed(n)
  }

  private dropBuffer (): void {
    this.queue.drainAll()
    this.ready = NO_CHUNKS
    this.readyIndex = 0
    this.readyBytes = 0
    this.unreadDebt = 0
    this.lpPending = -1
  }

  private waitReadable (): Promise<void> {
    return new Promise<void>((resolve, reject) => { this.addWaiter({ resolve, reject }) })
  }

  /** Park `w` until the next wake-up (for `PendingRead`, which re-parks itself when woken for nothing). */
  addWaiter (w: Waiter): void {
    const prev = this.readWaiter
    // Concurrent readers: chain so every waiter wakes on the same event.
    this.readWaiter = prev === undefined
      ? w
      : { resolve: () => { prev.resolve(); w.resolve() }, reject: (e) => { prev.reject(e); w.reject(e) } }
  }

  private wakeReader (): void {
    const w = this.readWaiter
    if (w === undefined) return
    this.readWaiter = undefined
    w.resolve()
  }

  private endError (message: string): Error {
    if (this.readState === ReadState.Reset) return this.resetError as StreamResetError
    if (this.readState === ReadState.LocalClosed) return new EndOfStreamError(`${message} (closed locally)`)
    return new EndOfStreamError(message)
  }

  private writeError (): Error | undefined {
    switch (this.writeState) {
      case WriteState.Open: return undefined
      case WriteState.Reset: return this.resetError
      default: return new StreamClosedError(`stream ${this.id}: write after closeWrite`)
    }
  }

  private block (rest: Uint8Array): Promise<void> {
    // `trySend` may have reset the stream re-entrantly (pushReset): never park a write nobody will wake.
    const err = this.writeError()
    if (err !== undefined) return Promise.reject(err)
    return new Promise<void>((resolve, reject) => { this.blocked = { data: rest, resolve, reject } })
  }

  private track (p: Promise<void>): Promise<void> {
    this.writeTail = p
    const clear = (): void => { if (this.writeTail === p) this.writeTail = undefined }
    p.then(clear, clear)
    return p
  }

  private fail (err: StreamResetError): void {
    this.resetError = err
    this.readState = ReadState.Reset
    this.writeState = WriteState.Reset
    this.dropBuffer()
    const w = this.readWaiter
    this.readWaiter = undefined
    w?.reject(err)
    const b = this.blocked
    this.blocked = undefined
    b?.reject(err)
  }
}

const EMPTY = new Uint8Array(0)

/**
 * A `read()` waiting for data. Woken from inside the muxer's `pushData`/`pushEnd` (a session method),
 * it reads in a microtask of its own, outside that method, as the `await` it replaces did: taking
 * a chunk credits the window (`onConsumed`), which must not re-enter the session mid-frame.
 */
class PendingRead implements Waiter {
  constructor (
    private readonly stream: MuxedStream,
    private readonly settle: (chunk: Uint8Array | null) => void,
    readonly reject: (err: Error) => void
  ) {}

  resolve (): void { queueMicrotask(() => { this.retry() }) }

  private retry (): void {
    let chunk: Uint8Array | null | undefined
    try {
      chunk = this.stream.readNow()
    } catch (err) {
      this.reject(toError(err))
      return
    }
    if (chunk === undefined) this.stream.addWaiter(this)
    else this.settle(chunk)
  }
}

function toResetError (err: Error | undefined, fallback: string): StreamResetError {
  if (err instanceof StreamResetError) return err
  if (err === undefined) return new StreamResetError(fallback)
  return new StreamResetError(`${fallback}: ${err.message}`, { cause: err })
}
