/**
 * Async drivers for the sans-I/O machines of negotiation.ts, one pair per byte shape of
 * src/connection.ts:
 *
 * - `ByteConnection` (raw TCP, the Noise channel): `selectOnConnection` / `handleOnConnection`
 *   attach a sink for the negotiation, detach it when done, and RETURN the bytes read past the
 *   last message (`leftover`); the next layer processes them before anything the connection
 *   buffers after the detach. On failure the sink is detached and the connection is left to the
 *   caller (who usually aborts it).
 * - `Stream` (a muxed stream): `selectOnStream` / `handleOnStream` use `read()`/`write()` and put
 *   leftover bytes back with `stream.unread()`, so the application reads them first.
 *
 * Every driver is bounded by `timeoutMs` (default DEFAULT_NEGOTIATION_TIMEOUT_MS) and `signal`, and
 * hands `maxMessageBytes` to its machine (default and ceiling MAX_MESSAGE_LENGTH: a longer message
 * from the peer fails the negotiation with ERR_MESSAGE_TOO_LARGE at its length prefix).
 * A stream driver that times out or is aborted resets the stream: a pending `read()` cannot be
 * cancelled, and a stream mid-negotiation is of no use to anyone.
 *
 * Lazy select on a stream (`{ lazy: true }`, one protocol; go-multistream lazyClient.go, rust multistream-select
 * V1Lazy): the header and the
 * proposal are written in one write and `selectOnStream` returns at once, so the application's
 * first bytes follow without a round trip. The listener's header and echo are verified on the
 * stream's first read: the result's `stream` is a `LazyStream` whose `read`, `readExactly`, `readLp`
 * and `[Symbol.asyncIterator]` first run the verification (reading from the muxer's stream, then
 * `unread`ing whatever follows the echo), then forward; later calls cost one boolean test. If the
 * listener refused (`na`) or misbehaved, that read rejects with the
 * ProtocolNotSupportedError/MultistreamError, every later read rejects with the same error, and
 * the stream is reset. `closeWrite` and `close` wait the same way: like go-multistream's lazy
 * client, we read the listener's answer before we send our FIN, because a listener that sees the
 * proposal, the data and the FIN in one flight may abort the stream (js-libp2p 3.3 does).
 */
import type { ByteConnection, ByteSink, Stream } from '../connection.js'
import { MultistreamError, StreamResetError, toError } from '../errors.js'
import { DEFAULT_NEGOTIATION_TIMEOUT_MS } from './constants.js'
import { concatBytes } from './messages.js'
import { Dialer, Listener, LsRequest } from './negotiation.js'
import type { Channel } from './negotiation.js'
import type { TraceObserver } from '../trace/observer.js'

export interface NegotiateOptions {
  /** Bound on the whole negotiation in milliseconds (default 10 000; `Infinity` disables it). */
  timeoutMs?: number
  /** Aborts the negotiation (MultistreamError ERR_ABORTED, with the signal's reason as cause). */
  signal?: AbortSignal
  /**
   * Largest multistream message accepted from the peer, length prefix value including the newline
   * (default 1024, allowed 19 … 1024: negotiation.ts `resolveMaxMessageBytes`).
   */
  maxMessageBytes?: number
  /**
   * Trace hook (src/trace/observer.ts): every message sent and received. The switch passes it for
   * the connection's negotiations; on muxed streams the tracer reads the messages from the stream
   * data itself, so stream negotiations need none.
   */
  observer?: TraceObserver
}

export interface SelectOnStreamOptions extends NegotiateOptions {
  /**
   * Optimistic select: with exactly one protocol, return right after writing the proposal and
   * verify the echo on the stream's first read (see the module comment). Ignored for several protocols.
   */
  lazy?: boolean
}

/** The outcome of a negotiation on a ByteConnection. */
export interface NegotiationResult {
  protocol: string
  /** Bytes read past the last multistream message: the first bytes of the next layer, in order. */
  leftover: Uint8Array[]
}

/** The outcome of a negotiation on a Stream (leftover bytes were `unread` into the stream). */
export interface StreamNegotiationResult {
  protocol: string
  /**
   * The stream to use from here on: the one passed in, or — after a lazy select — a wrapper that
   * verifies the listener's echo before the first read or FIN (module comment).
   */
  stream: Stream
}

/** A machine reduced to what the drivers need. */
interface Machine<T> {
  receive: (chunk: Uint8Array) => { send: Uint8Array[], result: T | undefined }
  endOfInput: () => Error
  /** The connection or stream failed: the error that names the cause (a refusal wins over a reset). */
  connectionLost: (err: Error, channel: Channel) => Error
}

/** The dialer or listener machine as the drivers use it (both end with a protocol and leftover bytes). */
function negotiationMachine (d: Dialer | Listener): Machine<NegotiationResult> {
  return {
    receive: chunk => {
      const step = d.receive(chunk)
      return {
        send: step.send,
        result: step.protocol === undefined ? undefined : { protocol: step.protocol, leftover: step.leftover }
      }
    },
    endOfInput: () => d.endOfInput(),
    connectionLost: (err, channel) => d.connectionLost(err, channel)
  }
}

function lsMachine (r: LsRequest): Machine<string[]> {
  return {
    receive: chunk => ({ send: [], result: r.receive(chunk) }),
    endOfInput: () => r.endOfInput(),
    connectionLost: err => r.connectionLost(err)
  }
}

function timeoutOf (opts: NegotiateOptions): number {
  const t = opts.timeoutMs ?? DEFAULT_NEGOTIATION_TIMEOUT_MS
  if (!(t > 0)) throw new RangeError(`"timeoutMs" expected a positive number of milliseconds or Infinity, got ${t}`)
  return t
}

function abortError (signal: AbortSignal): MultistreamError {
  return new MultistreamError('ERR_ABORTED', 'multistream negotiation aborted', { cause: signal.reason })
}

function timeoutError (ms: number): MultistreamError {
  return new MultistreamError(
    'ERR_NEGOTIATION_TIMEOUT',
    `multistream negotiation expected to finish within ${ms} ms, it did not`
  )
}

/**
 * One deadline for a whole negotiation: `cancelled` rejects on timeout or abort. `dispose` clears
 * the timer and the abort listener.
 */
function deadline (
  opts: NegotiateOptions,
  onCancel?: (err: Error) => void
): { cancelled: Promise<never>, dispose: () => void } {
  const ms = timeoutOf(opts)
  const signal = opts.signal
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  const cancelled = new Promise<never>((_resolve, reject) => {
    const fire = (err: Error): void => { onCancel?.(err); reject(err) }
    if (signal !== undefined) {
      if (signal.aborted) { fire(abortError(signal)); return }
      onAbort = () => fire(abortError(signal))
      signal.addEventListener('abort', onAbort, { once: true })
    }
    if (ms !== Infinity) timer = setTimeout(() => fire(timeoutError(ms)), ms)
  })
  cancelled.catch(() => {}) // observed through Promise.race; never an unhandled rejection
  return {
    cancelled,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }
}

// ─────────────────────────────────── ByteConnection ───────────────────────────────────

function driveConnection<T> (
  conn: ByteConnection,
  first: Uint8Array[] | undefined,
  machine: Machine<T>,
  opts: NegotiateOptions
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let timer: { dispose: () => void } | undefined
    const finish = (err: unknown, value?: T): void => {
      if (settled) return
      settled = true
      timer?.dispose()
      conn.detach()
      if (err !== undefined) reject(err)
      else resolve(value as T)
    }
    if (opts.signal?.aborted === true) { reject(abortError(opts.signal)); return }
    timer = deadline(opts, err => finish(err))
    const sink: ByteSink = {
      onData: chunk => {
        if (settled) return
        try {
          const { send, result } = machine.receive(chunk)
          if (send.length > 0) conn.write(send)
          if (result !== undefined) finish(undefined, result)
        } catch (err) {
          finish(err)
        }
      },
      onEnd: () => finish(machine.endOfInput()),
      onClose: err => finish(err === undefined ? machine.endOfInput() : machine.connectionLost(err, 'connection'))
    }
    try {
      // The dialer's first flight goes out before we look at anything (rust, js and nim listeners send their header
      // only after the dialer's).
      if (first !== undefined) conn.write(first)
      conn.attach(sink)
    } catch (err) {
      finish(err)
    }
  })
}

/**
 * Negotiate one of `protocols` (in order of preference) as the dialer on a raw connection.
 * Resolves with the agreed protocol and the bytes that followed its echo.
 * Rejects with ProtocolNotSupportedError (every proposal refused), MultistreamError (malformed
 * input, EOF, timeout, abort) or the connection's own error.
 */
export async function selectOnConnection (
  conn: ByteConnection,
  protocols: readonly string[],
  opts: NegotiateOptions = {}
): Promise<NegotiationResult> {
  const dialer = new Dialer(protocols, { maxMessageBytes: opts.maxMessageBytes, observer: opts.observer })
  return await driveConnection(conn, dialer.start(), negotiationMachine(dialer), opts)
}

/** Answer a dialer's negotiation on a raw connection with the protocols we have. */
export async function handleOnConnection (
  conn: ByteConnection,
  protocols: readonly string[],
  opts: NegotiateOptions = {}
): Promise<NegotiationResult> {
  const listener = new Listener(protocols, { maxMessageBytes: opts.maxMessageBytes, observer: opts.observer })
  return await driveConnection(conn, undefined, negotiationMachine(listener), opts)
}

// ─────────────────────────────────── Stream ───────────────────────────────────

async function driveStream<T> (
  stream: Stream,
  read: () => Promise<Uint8Array | null>,
  first: Uint8Array[] | undefined,
  machine: Machine<T>,
  opts: NegotiateOptions,
  ignoreFinalWriteError = false
): Promise<T> {
  let cancelledBy: Error | undefined
  const { cancelled, dispose } = deadline(opts, err => { cancelledBy = err; stream.reset(err) })
  try {
    if (first !== undefined) await Promise.race([stream.write(concatBytes(first)), cancelled])
    for (;;) {
      let chunk: Uint8Array | null
      try {
        chunk = await Promise.race([read(), cancelled])
      } catch (err) {
        // A reset by the peer names the stage; our own timeout or abort (which resets too) is reported as such.
        if (cancelledBy !== undefined) throw cancelledBy
        if (err instanceof StreamResetError) throw machine.connectionLost(err, 'stream')
        throw err
      }
      if (chunk === null) throw machine.endOfInput()
      const { send, result } = machine.receive(chunk)
      if (send.length > 0) {
        const written = Promise.race([stream.write(concatBytes(send)), cancelled])
        if (result !== undefined && ignoreFinalWriteError) {
          // go-multistream#87: the dialer may already have half-closed or gone; the handler still
          // gets the stream and meets any real failure on its own first read or write.
          await written.catch(() => {})
        } else {
          await written
        }
      }
      if (result !== undefined) return result
    }
  } finally {
    dispose()
  }
}

function unreadAll (stream: Stream, chunks: Uint8Array[]): void {
  // unread() puts a chunk in FRONT of the buffer: the last chunk goes back first.
  for (let i = chunks.length - 1; i >= 0; i--) stream.unread(chunks[i] as Uint8Array)
}

/**
 * Negotiate one of `protocols` as the dialer on a muxed stream. Sets `stream.protocol`.
 * With `{ lazy: true }` and one protocol, returns right after writing (see the module comment).
 */
export async function selectOnStream (
  stream: Stream,
  protocols: readonly string[],
  opts: SelectOnStreamOptions = {}
): Promise<StreamNegotiationResult> {
  const dialer = new Dialer(protocols, {
    lazy: opts.lazy === true,
    maxMessageBytes: opts.maxMessageBytes,
    observer: opts.observer
  })
  if (dialer.optimistic) {
    const { cancelled, dispose } = deadline(opts, err => stream.reset(err))
    try {
      await Promise.race([stream.write(concatBytes(dialer.start())), cancelled])
    } finally {
      dispose()
    }
    const protocol = dialer.protocols[0] as string
    stream.protocol = protocol
    return { protocol, stream: new LazyStream(stream, dialer, opts) }
  }
  const read = (): Promise<Uint8Array | null> => stream.read()
  const { protocol, leftover } = await driveStream(stream, read, dialer.start(), negotiationMachine(dialer), opts)
  unreadAll(stream, leftover)
  stream.protocol = protocol
  return { protocol, stream }
}

/** Answer a dialer's negotiation on a muxed stream. Sets `stream.protocol`. */
export async function handleOnStream (
  stream: Stream,
  protocols: readonly string[],
  opts: NegotiateOptions = {}
): Promise<StreamNegotiationResult> {
  const listener = new Listener(protocols, { maxMessageBytes: opts.maxMessageBytes, observer: opts.observer })
  const read = (): Promise<Uint8Array | null> => stream.read()
  const { protocol, leftover } = await driveStream(stream, read, undefined, negotiationMachine(listener), opts, true)
  unreadAll(stream, leftover)
  stream.protocol = protocol
  return { protocol, stream }
}

/**
 * Ask the listener for its protocols (`ls`, multistream-select README). Optional in the spec and absent from
 * go-multistream (ProtocolNotSupportedError(['ls']) then): never depend on it. The stream or
 * connection is left mid-negotiation; close it afterwards.
 */
export async function listProtocols (target: Stream | ByteConnection, opts: NegotiateOptions = {}): Promise<string[]> {
  const request = new LsRequest({ maxMessageBytes: opts.maxMessageBytes, observer: opts.observer })
  if ('attach' in target) return await driveConnection(target, request.start(), lsMachine(request), opts)
  const read = (): Promise<Uint8Array | null> => target.read()
  return await driveStream(target, read, request.start(), lsMachine(request), opts)
}

/**
 * The stream a lazy dialer hands on (module comment): every call is forwarded to the muxer's
 * stream; reads, `closeWrite` and `close` first wait for the listener's header and echo to be
 * verified (once; a failure resets the stream and every later call rejects with it). After that
 * the only cost is one boolean test per call.
 */
class LazyStream implements Stream {
  private verified = false
  private verification: Promise<void> | undefined

  constructor (
    private readonly inner: Stream,
    private readonly dialer: Dialer,
    private readonly opts: NegotiateOptions
  ) {}

  get id (): number { return this.inner.id }
  get direction (): 'inbound' | 'outbound' { return this.inner.direction }
  get protocol (): string { return this.inner.protocol }
  set protocol (p: string) { this.inner.protocol = p }

  private verify (): Promise<void> {
    this.verification ??= (async () => {
      try {
        const inner = this.inner
        const { leftover } = await driveStream(
          inner,
          () => inner.read(),
          undefined,
          negotiationMachine(this.dialer),
          this.opts
        )
        unreadAll(inner, leftover)
        this.verified = true
      } catch (err) {
        this.inner.reset(toError(err))
        throw err
      }
    })()
    return this.verification
  }

  async read (): Promise<Uint8Array | null> {
    if (!this.verified) await this.verify()
    return await this.inner.read()
  }

  async readExactly (n: number): Promise<Uint8Array> {
    if (!this.verified) await this.verify()
    return await this.inner.readExactly(n)
  }

  async readLp (maxSize: number): Promise<Uint8Array> {
    if (!this.verified) await this.verify()
    return await this.inner.readLp(maxSize)
  }

  unread (chunk: Uint8Array): void { this.inner.unread(chunk) }
  write (data: Uint8Array): Promise<void> { return this.inner.write(data) }
  writeLp (data: Uint8Array | string): Promise<void> { return this.inner.writeLp(data) }

  async closeWrite (): Promise<void> {
    if (!this.verified) await this.verify()
    await this.inner.closeWrite()
  }

  async close (): Promise<void> {
    if (!this.verified) await this.verify()
    await this.inner.close()
  }

  reset (err?: Error): void { this.inner.reset(err) }

  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    let iterator: AsyncIterator<Uint8Array> | undefined
    return {
      next: async () => {
        if (iterator === undefined) {
          if (!this.verified) await this.verify()
          iterator = this.inner[Symbol.asyncIterator]()
        }
        return await iterator.next()
      },
      return: async (value?: unknown) => {
        if (iterator?.return !== undefined) return await iterator.return(value)
        return { done: true, value: undefined }
      }
    }
  }
}
