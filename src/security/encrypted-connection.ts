/**
 * The secure channel both security protocols return (libp2p specs connections/README.md: the
 * upgraded connection carries plaintext over an authenticated, encrypted byte stream). This class is
 * the adapter half they share: the ByteConnection contract on top of the raw connection — push
 * delivery while a sink is attached and not paused, pause/resume backpressure onto the socket,
 * half-close, abort — and the order of what reaches the sink: every verified plaintext piece, then
 * onEnd, then onClose, each once.
 *
 * A protocol (Noise transport messages, TLS records) supplies the framing and the cipher:
 *  - `receive(chunk)`: take bytes off the wire, then call `drain()`;
 *  - `nextPlaintext()`: the next verified piece of plaintext, or undefined when no complete one is
 *    buffered (after calling `fatal()` when a frame fails);
 *  - `truncation()`: at the peer's end of stream, the error if it cut a frame in half;
 *  - `seal(chunks)`: one batch of plaintext → the frames for one write call;
 *  - `sendCloseNotify()`, `closeTransport(err)`: what goes out before a half-close and when it fails.
 * The subclass calls `open()` at the end of its constructor (the raw connection may deliver buffered
 * bytes synchronously from attach, which needs the subclass's own fields).
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { StreamClosedError } from '../errors.js'

export abstract class EncryptedConnection implements ByteConnection {
  protected readonly conn: ByteConnection
  /** 'Noise', 'TLS': names the protocol in errors. */
  private readonly protocol: string
  protected sink: ByteSink | undefined
  protected userPaused = false
  private draining = false
  protected writeClosed = false
  /** The remote ended its direction; delivered after the buffered plaintext. */
  protected remoteEnded = false
  private endDelivered = false
  /** Set once the connection is gone; delivered after the buffered plaintext (dropped on an error). */
  protected closeState: { err: Error | undefined } | undefined
  private closeDelivered = false

  constructor (conn: ByteConnection, protocol: string) {
    this.conn = conn
    this.protocol = protocol
  }

  /** Bytes from the wire (the raw connection's onData). */
  protected abstract receive (chunk: Uint8Array): void
  /** The next verified plaintext piece (may be empty), or undefined when none is complete. */
  protected abstract nextPlaintext (): Uint8Array | undefined
  /** At the peer's end of stream, with every complete frame delivered: the error for a cut frame. */
  protected abstract truncation (): Error | undefined
  /** Plaintext → the frames of one write; throws when the connection cannot continue. */
  protected abstract seal (chunks: readonly Uint8Array[]): Uint8Array[]
  /** Before our half-close or close: the protocol's end-of-data message, if it has one. */
  protected sendCloseNotify (): void {}
  /** A fatal protocol error: tell the peer if the protocol can, and release the connection. */
  protected closeTransport (err: Error): void { this.conn.abort(err) }

  /**
   * Take over the raw connection; nothing is delivered until our consumer attaches. `borrowsChunks`:
   * `receive` keeps no reference to a chunk after it returns (see ByteSink.borrowsChunks).
   */
  protected open (borrowsChunks = false): void {
    this.conn.attach({
      borrowsChunks,
      onData: chunk => { this.receive(chunk) },
      onEnd: () => { this.remoteEnded = true; this.drain() },
      onClose: err => { this.closeState ??= { err }; this.drain() },
      onDrain: () => { this.sink?.onDrain?.() }
    })
    // Keep the socket from reading ahead until our consumer attaches (after attach, which may
    // resume reading).
    if (this.closeState === undefined) this.conn.pause()
  }

  get remoteAddr (): string { return this.conn.remoteAddr }
  get localAddr (): string { return this.conn.localAddr }
  get direction (): 'inbound' | 'outbound' { return this.conn.direction }
  get writableLength (): number { return this.conn.writableLength }
  get closed (): boolean { return this.conn.closed || this.closeState !== undefined }

  attach (sink: ByteSink): void {
    const first = this.sink === undefined
    this.sink = sink
    this.drain()
    if (first && !this.userPaused && this.closeState === undefined) this.conn.resume()
  }

  detach (): void {
    this.sink = undefined
    if (this.closeState === undefined) this.conn.pause()
  }

  pause (): void {
    this.userPaused = true
    this.conn.pause()
  }

  resume (): void {
    this.userPaused = false
    this.drain()
    if (this.sink !== undefined && this.closeState === undefined) this.conn.resume()
  }

  write (chunks: readonly Uint8Array[]): boolean {
    this.assertWritable('write')
    const frames = this.seal(chunks)
    if (frames.length === 0) return true
    return this.conn.write(frames)
  }

  closeWrite (): void {
    if (this.writeClosed) return
    this.writeClosed = true
    this.sendCloseNotify()
    this.conn.closeWrite()
  }

  async close (): Promise<void> {
    if (!this.writeClosed) {
      this.writeClosed = true
      this.sendCloseNotify()
    }
    await this.conn.close()
  }

  abort (err?: Error): void {
    this.writeClosed = true
    this.conn.abort(err)
    // The connection reports onClose through our inner sink; make sure ours fires even if it
    // was already gone.
    if (this.closeState === undefined) this.closeState = { err }
    this.drain()
  }

  /** Throws StreamClosedError when nothing more may be sent (ByteConnection.write's contract). */
  protected assertWritable (what: string): void {
    if (this.writeClosed || this.closeState !== undefined) {
      throw new StreamClosedError(`${what} on a ${this.protocol} connection after closeWrite/close`)
    }
  }

  /**
   * Deliver what can be delivered: every plaintext piece, then onEnd, then onClose. Re-entrant calls
   * (a sink that calls resume/attach from onData) return at once; the outer loop sees the new state
   * on its next iteration. The sink may pause between pieces.
   */
  protected drain (): void {
    if (this.draining) return
    this.draining = true
    try {
      for (;;) {
        const sink = this.sink
        if (sink === undefined || this.userPaused) return
        if (this.closeState !== undefined && this.closeState.err !== undefined) break // reset: drop the rest
        const piece = this.nextPlaintext()
        if (piece === undefined) break
        if (piece.length > 0) sink.onData(piece)
      }
      const sink = this.sink
      if (sink === undefined || this.userPaused) return
      if (this.remoteEnded && !this.endDelivered && this.closeState?.err === undefined) {
        const cut = this.truncation()
        if (cut !== undefined) { this.fatal(cut); return }
        this.endDelivered = true
        sink.onEnd()
      }
      if (this.closeState !== undefined && !this.closeDelivered) {
        this.closeDelivered = true
        sink.onClose(this.closeState.err)
      }
    } finally {
      this.draining = false
    }
  }

  /** A frame failed (bad tag, alert, protocol error, a cut frame): close with that error. */
  protected fatal (err: Error): void {
    this.writeClosed = true
    this.closeState = { err }
    this.closeTransport(err)
    const sink = this.sink
    if (sink !== undefined && !this.closeDelivered) {
      this.closeDelivered = true
      sink.onClose(err)
    }
  }
}
