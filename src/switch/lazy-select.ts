/**
 * Lazy (optimistic) multistream-select on a ByteConnection: the dialer's half of rust's `V1Lazy`
 * (specs digest §2.3, §8.3), built on the sans-I/O `Dialer` of src/multistream/negotiation.ts.
 *
 *   dialer                                        listener
 *   "/multistream/1.0.0\n" "<p>\n" ‖ first bytes of <p>   ──►   (one flight: no wait for the echo)
 *                                                 ◄──   "/multistream/1.0.0\n" "<p>\n" ‖ bytes of <p>
 *
 * The returned connection is the same connection as seen by protocol `<p>`:
 *
 * 1. Writes: the header and the proposal go out in front of the first `write` (one batch, so Noise
 *    message 1 or the first muxer frames share a segment with them). If nothing is written within
 *    the current event-loop turn they are flushed alone: a listener waits for our proposal before
 *    it speaks `<p>`, so holding it back could deadlock.
 * 2. Reads: incoming bytes feed the dialer until the listener's header and echo are verified;
 *    whatever follows the echo is delivered to the sink, byte-exact (TL;DR 2). From then on the
 *    underlying connection delivers straight to the sink (this wrapper leaves the read path).
 * 3. A refusal (`na`) or malformed input aborts the underlying connection with the
 *    ProtocolNotSupportedError / MultistreamError, which the sink receives in `onClose(err)`.
 *
 * Only for one protocol: after an `na` a lazy dialer has already sent bytes the listener would
 * read as its next proposal (go-multistream#20), so there is no second choice.
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { Dialer } from '../multistream/negotiation.js'

export class LazySelectConnection implements ByteConnection {
  readonly protocol: string
  private readonly inner: ByteConnection
  private readonly dialer: Dialer
  private firstFlight: Uint8Array[] | undefined
  private sink: ByteSink | undefined
  private verified = false
  /** Bytes after the echo that arrived while no sink was attached. */
  private held: Uint8Array[] = []
  private endHeld = false
  private closeHeld: { err?: Error } | undefined
  private failed: Error | undefined

  constructor (inner: ByteConnection, protocol: string) {
    this.inner = inner
    this.protocol = protocol
    this.dialer = new Dialer([protocol], { lazy: true })
    this.firstFlight = this.dialer.start()
    setImmediate(this.flushFirstFlight)
  }

  get remoteAddr (): string { return this.inner.remoteAddr }
  get localAddr (): string { return this.inner.localAddr }
  get direction (): 'inbound' | 'outbound' { return this.inner.direction }
  get writableLength (): number { return this.inner.writableLength }
  get closed (): boolean { return this.inner.closed }
  /** True once the listener's header and echo were read. */
  get selected (): boolean { return this.verified }

  attach (sink: ByteSink): void {
    this.sink = sink
    if (this.verified) {
      // Hand over what was held, in order, then let the connection deliver directly.
      const held = this.held
      this.held = []
      for (const chunk of held) sink.onData(chunk)
      if (this.closeHeld !== undefined) { sink.onClose(this.closeHeld.err); return }
      if (this.endHeld) sink.onEnd()
      this.inner.attach(sink)
      return
    }
    this.inner.attach(this.verifier)
  }

  detach (): void {
    this.sink = undefined
    // Before the echo, keep verifying: the bytes after it are held here (bounded by one read).
    if (this.verified) this.inner.detach()
  }

  write (chunks: readonly Uint8Array[]): boolean {
    const first = this.firstFlight
    if (first === undefined) return this.inner.write(chunks)
    this.firstFlight = undefined
    return this.inner.write([...first, ...chunks])
  }

  pause (): void { this.inner.pause() }
  resume (): void { this.inner.resume() }

  closeWrite (): void {
    this.flushFirstFlight()
    this.inner.closeWrite()
  }

  close (): Promise<void> {
    this.flushFirstFlight()
    return this.inner.close()
  }

  abort (err?: Error): void {
    this.firstFlight = undefined
    this.inner.abort(err)
  }

  private readonly flushFirstFlight = (): void => {
    const first = this.firstFlight
    if (first === undefined || this.inner.closed) return
    this.firstFlight = undefined
    try {
      this.inner.write(first)
    } catch (err) {
      this.fail(err as Error)
    }
  }

  private fail (err: Error): void {
    if (this.failed !== undefined) return
    this.failed = err
    this.inner.abort(err)
  }

  private readonly verifier: ByteSink = {
    onData: (chunk) => {
      if (this.verified || this.failed !== undefined) return
      let step
      try {
        step = this.dialer.receive(chunk)
      } catch (err) {
        this.fail(err as Error)
        return
      }
      if (step.protocol === undefined) return
      this.verified = true
      const sink = this.sink
      if (sink === undefined) {
        this.held = step.leftover
        this.inner.detach()
        return
      }
      for (const c of step.leftover) sink.onData(c)
      // The sink may have detached or replaced itself while handling the leftover.
      if (this.sink === sink && !this.inner.closed) this.inner.attach(sink)
    },
    onEnd: () => {
      if (this.verified) { if (this.sink !== undefined) this.sink.onEnd(); else this.endHeld = true; return }
      this.fail(this.dialer.endOfInput())
    },
    onClose: (err) => {
      const e = this.failed ?? err ?? (this.verified ? undefined : this.dialer.endOfInput())
      if (this.sink !== undefined) this.sink.onClose(e)
      else this.closeHeld = { err: e }
    }
  }
}
