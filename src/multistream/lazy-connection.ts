/**
 * Lazy (optimistic) select on a ByteConnection (go-multistream lazyClient.go, rust multistream-select V1Lazy; one
 * flight saves a round trip of the dial): rust's `V1Lazy`, used for
 * its TCP upgrade, sends `mss header + /noise + Noise msg1` in ONE flight, saving the round trip of
 * a full negotiation. `selectOnConnectionLazy` returns at once with a wrapping ByteConnection:
 *
 * 1. Write side: the header and proposal wait in the wrapper and go out in the same batch as the
 *    first `write()` of the next layer (one writev). If nothing is written by the next macrotask,
 *    they are flushed alone, so a next layer that reads first cannot deadlock.
 *    Once they are out, `write` is the underlying connection's own (bound): nothing is left in
 *    the write path.
 * 2. Read side: until the listener's header and echo have arrived, received bytes feed the Dialer
 *    machine; what follows the echo goes to the next layer's sink, and from then on the next
 *    layer's sink is attached to the underlying connection directly (no per-chunk indirection).
 * 3. If the listener refuses (`na`), misbehaves, ends, resets, or stays silent past `timeoutMs`,
 *    the underlying connection is aborted and the next layer's sink gets `onClose(err)` with the
 *    ProtocolNotSupportedError / MultistreamError. A refusal wins over the reset that follows it
 *    (go-libp2p answers `na`, then closes with our Noise bytes unread: a TCP RST): both usually
 *    arrive together, and the `na` is parsed first.
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { MultistreamError, TransportError, toError } from '../errors.js'
import { DEFAULT_NEGOTIATION_TIMEOUT_MS } from './constants.js'
import { Dialer } from './negotiation.js'
import type { TraceObserver } from '../trace/observer.js'

export interface LazySelectOptions {
  /** Bound on receiving the listener's header and echo (default 10 000 ms; `Infinity` disables it). */
  timeoutMs?: number
  /** Largest message accepted from the listener (default 1024, allowed 19 … 1024; see negotiation.ts). */
  maxMessageBytes?: number
  /** Trace hook (src/trace/observer.ts): every multistream message sent and received. */
  observer?: TraceObserver
}

export interface LazySelection {
  protocol: string
  /** The connection the next layer must use: it hides the listener's header and echo. */
  connection: ByteConnection
}

/** Propose `protocol` optimistically; see the module comment. Never waits. */
export function selectOnConnectionLazy (
  conn: ByteConnection,
  protocol: string,
  options: LazySelectOptions = {}
): LazySelection {
  const timeoutMs = options.timeoutMs ?? DEFAULT_NEGOTIATION_TIMEOUT_MS
  if (!(timeoutMs > 0)) {
    throw new RangeError(`"timeoutMs" expected a positive number of milliseconds or Infinity, got ${timeoutMs}`)
  }
  const dialer = new Dialer([protocol], {
    lazy: true,
    maxMessageBytes: options.maxMessageBytes,
    observer: options.observer
  })
  return { protocol, connection: new LazyConnection(conn, dialer, timeoutMs) }
}

class LazyConnection implements ByteConnection {
  private sink: ByteSink | undefined
  private flight: Uint8Array[] | undefined
  private verified = false
  private failure: Error | undefined
  private failureDelivered = false
  /** Bytes after the echo not yet taken by a sink (only if the sink detached while receiving them). */
  private leftover: Uint8Array[] = []
  private timer: ReturnType<typeof setTimeout> | undefined

  /** Receives the underlying connection's events until the echo is verified. */
  private readonly verifier: ByteSink = {
    onData: chunk => {
      if (this.failure !== undefined) return
      let step
      try {
        step = this.dialer.receive(chunk)
      } catch (err) {
        this.fail(toError(err))
        return
      }
      if (step.protocol === undefined) return
      this.verified = true
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.leftover = step.leftover
      const sink = this.sink
      if (sink !== undefined) this.handOver(sink)
    },
    onEnd: () => this.fail(this.dialer.endOfInput()),
    onClose: err => this.fail(err === undefined ? this.dialer.endOfInput() : this.lost(err)),
    onDrain: () => this.sink?.onDrain?.()
  }

  constructor (private readonly inner: ByteConnection, private readonly dialer: Dialer, timeoutMs: number) {
    this.flight = dialer.start()
    setImmediate(() => this.flush())
    if (timeoutMs !== Infinity) {
      this.timer = setTimeout(() => {
        this.fail(
          new MultistreamError(
            'ERR_NEGOTIATION_TIMEOUT',
            `multistream echo of ${
              JSON.stringify(dialer.protocols[0])
            } expected within ${timeoutMs} ms, it did not arrive`
          )
        )
      }, timeoutMs)
      this.timer.unref?.()
    }
    // Read from the start, so the listener's answer is consumed even before the next layer attaches.
    inner.attach(this.verifier)
  }

  get remoteAddr (): string { return this.inner.remoteAddr }
  get localAddr (): string { return this.inner.localAddr }
  get direction (): 'inbound' | 'outbound' { return this.inner.direction }
  get writableLength (): number { return this.inner.writableLength }
  get closed (): boolean { return this.inner.closed }

  attach (sink: ByteSink): void {
    this.sink = sink
    if (this.failure !== undefined) { this.deliverFailure(); return }
    if (this.verified) this.handOver(sink)
  }

  detach (): void {
    this.sink = undefined
    if (this.verified) this.inner.detach()
  }

  write (chunks: readonly Uint8Array[]): boolean {
    const flight = this.flight
    if (flight === undefined) return this.inner.write(chunks)
    this.flight = undefined
    // The proposal is out: from now on a write is the inner connection's own (nothing left to add).
    this.write = this.inner.write.bind(this.inner)
    return this.inner.write([...flight, ...chunks])
  }

  pause (): void { this.inner.pause() }
  resume (): void { this.inner.resume() }

  closeWrite (): void {
    this.flush()
    this.inner.closeWrite()
  }

  async close (): Promise<void> {
    this.flush()
    await this.inner.close()
  }

  abort (err?: Error): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.flight = undefined
    this.inner.abort(err)
  }

  private flush (): void {
    const flight = this.flight
    if (flight === undefined || this.failure !== undefined || this.inner.closed) return
    this.flight = undefined
    this.write = this.inner.write.bind(this.inner)
    try { this.inner.write(flight) } catch (err) { this.fail(toError(err)) }
  }

  /** Give the next layer's sink the bytes after the echo, then the underlying connection itself. */
  private handOver (sink: ByteSink): void {
    while (this.leftover.length > 0) {
      if (this.sink !== sink) return
      sink.onData(this.leftover.shift() as Uint8Array)
    }
    if (this.sink === sink) this.inner.attach(sink)
  }

  /**
   * The connection failed before the echo. The next layer sees it as a multistream failure (its
   * own message would say "during the Noise handshake", but the handshake never got an answer):
   * a reset keeps its code and names the proposal it cut short.
   */
  private lost (err: Error): Error {
    const named = this.dialer.connectionLost(err)
    if (named instanceof TransportError) return new MultistreamError(named.code, named.message, { cause: err })
    return named
  }

  private fail (err: Error): void {
    if (this.failure !== undefined || this.verified) return
    this.failure = err
    this.flight = undefined
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.inner.detach()
    this.inner.abort(err)
    this.deliverFailure()
  }

  private deliverFailure (): void {
    if (this.failureDelivered || this.sink === undefined) return
    this.failureDelivered = true
    this.sink.onClose(this.failure)
  }
}
