/**
 * The switch's view of a connection that is still upgrading: it counts the bytes that cross it and
 * bounds what an unauthenticated peer can make us read and answer.
 *
 * Every layer already bounds its own buffer (a multistream message <= 1024 bytes, a handshake
 * message by its protocol's own cap, the transport pauses reading when nobody is attached), so a
 * connection in the middle of the upgrade holds at most about one handshake message. What the
 * layers cannot bound is a peer that keeps the negotiation *going*: endless `na`-answered
 * proposals, each one cheap and valid, and each one costing us a parse and an answer. So before
 * the peer is authenticated its bytes are capped (`limit`, which the upgrader sets per stage:
 * MAX_MULTISTREAM_STAGE_BYTES while the security protocol is being chosen, then that protocol's
 * `maxPreAuthBytes`, or DEFAULT_MAX_PREAUTH_BYTES when it declares none); past the cap the
 * connection is aborted with ERR_MESSAGE_TOO_LARGE, checked when a chunk arrives, before any layer
 * parses it.
 *
 * `release()` (called once the handshake authenticated the peer) takes the guard out of the read
 * path — the transport then delivers straight to the next layer's sink — and its writes become a
 * plain forward; it returns the inner connection.
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { tooLarge } from '../errors.js'

/**
 * Bytes an unauthenticated peer may send us when its security protocol declares no budget of its
 * own (SecurityProtocol.maxPreAuthBytes): 256 KiB, a few handshake messages of the 64 KiB class
 * (Noise's cap, TLS's 2^14-byte records times a certificate chain) with room to spare.
 */
export const DEFAULT_MAX_PREAUTH_BYTES = 256 * 1024

/**
 * Bytes a dialer may send before we have answered its security proposal: the header, a few
 * proposals (each <= 1024 bytes; honest dialers propose one to three) and, when it negotiates
 * lazily, its first handshake message behind them (Noise message 1: 34 bytes; a TLS ClientHello:
 * a few hundred bytes, about 1.5 KB with a post-quantum key share). An `na` flood is cut here
 * after a few thousand proposals instead of hundreds of thousands.
 */
export const MAX_MULTISTREAM_STAGE_BYTES = 8 * 1024

export class UpgradeGuard implements ByteConnection {
  /** Bytes received while guarded. */
  bytesIn = 0
  /** Bytes written while guarded. */
  bytesOut = 0
  /** The cap on `bytesIn` while guarded (the upgrader lowers it for the multistream stage). */
  limit: number
  private readonly inner: ByteConnection
  private sink: ByteSink | undefined
  private released = false

  constructor (inner: ByteConnection, limit = DEFAULT_MAX_PREAUTH_BYTES) {
    this.inner = inner
    this.limit = limit
  }

  get remoteAddr (): string { return this.inner.remoteAddr }
  get localAddr (): string { return this.inner.localAddr }
  get direction (): 'inbound' | 'outbound' { return this.inner.direction }
  get writableLength (): number { return this.inner.writableLength }
  get closed (): boolean { return this.inner.closed }

  /**
   * Stop counting and leave the data path: the current sink is attached to the inner connection
   * directly, and from here on every call is a plain forward. Returns the inner connection.
   */
  release (): ByteConnection {
    if (this.released) return this.inner
    this.released = true
    if (this.sink !== undefined && !this.inner.closed) this.inner.attach(this.sink)
    // Whoever still holds the guard (the security layer wraps it) writes through the inner
    // connection's own method: no counting and no check are left on the write path.
    this.write = this.inner.write.bind(this.inner)
    return this.inner
  }

  attach (sink: ByteSink): void {
    this.sink = sink
    if (this.released) { this.inner.attach(sink); return }
    this.inner.attach(this.counter)
  }

  detach (): void {
    this.sink = undefined
    this.inner.detach()
  }

  write (chunks: readonly Uint8Array[]): boolean {
    if (!this.released) for (const c of chunks) this.bytesOut += c.length
    return this.inner.write(chunks)
  }

  pause (): void { this.inner.pause() }
  resume (): void { this.inner.resume() }
  closeWrite (): void { this.inner.closeWrite() }
  close (): Promise<void> { return this.inner.close() }
  abort (err?: Error): void { this.inner.abort(err) }

  private readonly counter: ByteSink = {
    onData: (chunk) => {
      const sink = this.sink
      if (sink === undefined) return
      if (!this.released) {
        this.bytesIn += chunk.length
        if (this.bytesIn > this.limit) {
          this.inner.abort(
            tooLarge('bytes before authentication', this.limit, this.bytesIn, `from ${this.inner.remoteAddr}`)
          )
          return
        }
      }
      sink.onData(chunk)
    },
    onEnd: () => { this.sink?.onEnd() },
    onClose: (err) => { this.sink?.onClose(err) },
    onDrain: () => { this.sink?.onDrain?.() }
  }
}
