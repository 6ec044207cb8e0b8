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
 * All pending upgrades together are bounded by the transient scope (`TransientBytes`, go-libp2p
 * rcmgr's transient scope): each guard charges it with the bytes it received. That is an upper
 * bound of what the upgrade buffers (a layer can hold no more than it was sent: a partial
 * multistream message, a partial Noise message or TLS flight) and needs no hook in any layer.
 * When the scope is full, the pending upgrade holding the most is closed with a ResourceLimitError
 * — the flooder, not whichever honest handshake happened to ask next.
 *
 * `release()` (called once the handshake authenticated the peer) takes the guard out of the read
 * path — the transport then delivers straight to the next layer's sink — and its writes become a
 * plain forward; it gives its transient bytes back and returns the inner connection.
 *
 * The dialer's writes during the upgrade are held until the check phase of the event loop turn
 * that made them (`setImmediate`) and go out as one write. Its last handshake message (Noise
 * message 3, TLS Finished) is held one turn longer once the guard is released, so that the first
 * muxer batch — queued for the same check phase by the streams the application opens when the
 * dial resolves — carries it: one TCP write and one wake-up of the listener instead of two each
 * (rust-libp2p likewise sends message 3 with its first frames). A dialer that writes nothing sends
 * it alone one turn later. The listener writes at once: its multistream answer and Noise message 2
 * in one segment would save a write too, but the Wireshark dissector (wireshark/packet-libp2p.c)
 * then labels that segment's handshake messages differently (test/wireshark fails; not pursued).
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { ResourceLimitError, toError, tooLarge } from '../errors.js'
import type { MemoryAccount } from '../resources/scope.js'

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

/**
 * The transient scope as the guards share it: each guard's charge, and who gives way when the
 * scope is full.
 *
 *   charge(guard, n):
 *     1. reserve n in the scope (and the process above it): done if it fits;
 *     2. otherwise the guard holding the most, if it holds more than `guard` would
 *        (charged + n), is evicted — its connection aborted, its bytes given back — and 1 is retried;
 *     3. when `guard` itself is the largest, the refusal is returned: `guard`'s connection is closed.
 */
export class TransientBytes {
  readonly account: MemoryAccount
  private readonly guards = new Set<UpgradeGuard>()

  constructor (account: MemoryAccount) {
    this.account = account
  }

  /** Pending upgrades holding transient bytes now. */
  get size (): number { return this.guards.size }

  charge (guard: UpgradeGuard, n: number): ResourceLimitError | undefined {
    for (;;) {
      const refused = this.account.reserveMemory(n)
      if (refused === undefined) {
        guard.charged += n
        this.guards.add(guard)
        return undefined
      }
      let largest: UpgradeGuard | undefined
      for (const g of this.guards) if (largest === undefined || g.charged > largest.charged) largest = g
      if (largest === undefined || largest === guard || largest.charged <= guard.charged + n) return refused
      largest.evict(
        new ResourceLimitError(
          refused.scope,
          'memory',
          `${refused.message}: closed the pending upgrade holding the most (${largest.remoteAddr}, ${largest.charged} bytes) to make room for ${guard.remoteAddr}`
        )
      )
    }
  }

  /** Give back everything `guard` holds (idempotent). */
  discharge (guard: UpgradeGuard): void {
    if (!this.guards.delete(guard)) return
    this.account.releaseMemory(guard.charged)
    guard.charged = 0
  }
}

export class UpgradeGuard implements ByteConnection {
  /** Bytes received while guarded. */
  bytesIn = 0
  /** Bytes charged to the transient scope now (`TransientBytes`); 0 once released or closed. */
  charged = 0
  /** Why the guard closed the connection (a limit), reported instead of the layer's view of the close. */
  failure: Error | undefined
  /** Bytes written while guarded. */
  bytesOut = 0
  /** The cap on `bytesIn` while guarded (the upgrader lowers it for the multistream stage). */
  limit: number
  private readonly inner: ByteConnection
  private sink: ByteSink | undefined
  private released = false
  /** Writes of this turn not yet handed to the inner connection (see the module comment). */
  private held: Uint8Array[] | undefined
  /** The held writes were already deferred once after `release()`. */
  private heldLonger = false
  private readonly transient: TransientBytes | undefined

  constructor (inner: ByteConnection, limit = DEFAULT_MAX_PREAUTH_BYTES, transient?: TransientBytes) {
    this.inner = inner
    this.limit = limit
    this.transient = transient
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
    this.discharge()
    if (this.sink !== undefined && !this.inner.closed) this.inner.attach(this.sink)
    // Whoever still holds the guard (the security layer wraps it) writes through the inner
    // connection's own method: no counting and no check are left on the write path — once the
    // writes still held have gone out in front of the next one.
    if (this.held === undefined) this.write = this.inner.write.bind(this.inner)
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
    if (this.released) {
      const held = this.held
      if (held === undefined) return this.inner.write(chunks)
      // Released with writes held: they go first, in this same write; then plain forwards.
      this.held = undefined
      this.write = this.inner.write.bind(this.inner)
      return this.inner.write([...held, ...chunks])
    }
    // Only the dialer holds (see the module comment); a closed connection throws, as the caller expects.
    if (this.inner.direction === 'inbound' || this.inner.closed) {
      for (const c of chunks) this.bytesOut += c.length
      return this.inner.write(chunks)
    }
    for (const c of chunks) this.bytesOut += c.length
    if (this.held === undefined) {
      this.held = [...chunks]
      setImmediate(this.flushHeld)
    } else {
      for (const c of chunks) this.held.push(c)
    }
    return true
  }

  /** Hand the held writes to the inner connection (at the end of their turn, or before a close). */
  private readonly flushHeld = (): void => {
    const held = this.held
    if (held === undefined) return
    if (this.released && !this.heldLonger) {
      this.heldLonger = true
      setImmediate(this.flushHeld)
      return
    }
    this.held = undefined
    if (this.released) this.write = this.inner.write.bind(this.inner)
    if (this.inner.closed) return
    try {
      this.inner.write(held)
    } catch (err) {
      this.inner.abort(toError(err))
    }
  }

  /** Give the transient bytes back (the upgrade ended, whichever way); the switch calls it too. */
  discharge (): void {
    this.transient?.discharge(this)
  }

  /** Closed to make room in the transient scope (`TransientBytes.charge`). */
  evict (err: ResourceLimitError): void {
    this.fail(err)
  }

  private fail (err: Error): void {
    this.failure ??= err
    this.discharge()
    this.inner.abort(err)
  }

  pause (): void { this.inner.pause() }
  resume (): void { this.inner.resume() }
  closeWrite (): void {
    this.heldLonger = true
    this.flushHeld()
    this.inner.closeWrite()
  }

  close (): Promise<void> {
    this.heldLonger = true
    this.flushHeld()
    return this.inner.close()
  }

  abort (err?: Error): void {
    this.held = undefined
    this.inner.abort(err)
  }

  private readonly counter: ByteSink = {
    onData: (chunk) => {
      const sink = this.sink
      if (sink === undefined) return
      if (!this.released) {
        this.bytesIn += chunk.length
        if (this.bytesIn > this.limit) {
          this.fail(tooLarge('bytes before authentication', this.limit, this.bytesIn, `from ${this.inner.remoteAddr}`))
          return
        }
        if (this.transient !== undefined) {
          const refused = this.transient.charge(this, chunk.length)
          if (refused !== undefined) {
            this.fail(refused)
            return
          }
        }
      }
      sink.onData(chunk)
    },
    onEnd: () => { this.sink?.onEnd() },
    onClose: (err) => {
      this.discharge()
      this.sink?.onClose(err)
    },
    onDrain: () => { this.sink?.onDrain?.() }
  }
}
