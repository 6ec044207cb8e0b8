/**
 * One WebSocket connection (RFC 6455 §5–§7) as a sans-I/O state machine: bytes in (`receive`),
 * frames out (`encodeData` for our data, `takeOutbox` for control frames), the clock injected
 * (`now`), the close timeout reduced to `nextDeadline()` + `tick()`. No sockets, no timers, no
 * `node:*`; connection.ts binds it to a TCP connection.
 *
 * States (§7.1.3–§7.1.4):
 *
 *   open ──(we send Close | we receive Close)──► closing ──(the other one)──► closed
 *     └──────────────(protocol error: Close(1002/1003/1007/1009) sent)─────────┘
 *
 * Close frames carry the byte stream's half-close, as a TCP FIN does:
 *  - `closeWrite()` sends our Close(1000) after everything written before it (the adapter writes
 *    in order on one socket); we send no data after it (§5.5.1). The peer may go on sending.
 *  - The peer's Close(1000 | 1001 | none) is its end of stream: `onRemoteEnd`. We answer with our
 *    own Close when our direction is done (`closeWrite`), not at once: §5.5.1 lets an endpoint
 *    delay its Close "until its current message is sent", and over libp2p our message is the rest
 *    of the byte stream. (ws echoes at once and so cannot send after receiving a Close; it closes
 *    its direction when we close ours, which is all the half-close needs.)
 *  - A Close with any other code is the peer reporting an error: we echo the code at once and the
 *    connection fails with ERR_WS_CLOSED_BY_PEER.
 *  - Both sent and received → `closed`: the adapter ends TCP (§7.1.1: the server first).
 *
 * Inbound checks, at each frame header before any payload byte is kept:
 *  1. Text frames → close 1003 (libp2p carries bytes; a text message is data we cannot accept).
 *  2. Continuation with no message in progress, or a new Binary inside a fragmented message →
 *     1002 (§5.4). Control frames may come between fragments (§5.4) and leave the message alone.
 *  3. Running message size + this frame's length > `maxMessageBytes` → 1009. Data payloads are
 *     streamed out as views (`onData`), never assembled.
 *  Frame-level checks (RSV, opcodes, control frame size, masking direction) are the codec's and
 *  the receiver's. After the peer's Close every further frame is discarded (§5.5.1: it sends none).
 *
 * Ping → Pong with the same payload (§5.5.2), unless we already sent our Close. A Pong matching our
 * outstanding `ping()` gives an RTT sample from the injected clock; other Pongs are ignored (§5.5.3).
 */
import { WsError } from '../../errors.js'
import {
  CloseCode,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_SEND_FRAME_BYTES,
  MASK_KEY_LENGTH,
  MAX_CONTROL_PAYLOAD,
  Opcode
} from './constants.js'
import {
  applyMask,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  encodedHeaderLength,
  isControl,
  writeFrameHeader
} from './frame.js'
import type { ClosePayload, FrameHeader } from './frame.js'
import { Receiver } from './receiver.js'
import type { FrameSink } from './receiver.js'

export type WsRole = 'client' | 'server'
export type WsState = 'open' | 'closing' | 'closed'

/** What the session needs from its driver. Every callback runs synchronously. */
export interface WsSessionHost {
  /** A piece of binary message payload (a view; the host's to keep). */
  onData: (piece: Uint8Array) => void
  /** The outbox went from empty to non-empty (a Pong or a Close to send): flush it (`takeOutbox`). */
  onOutput: () => void
  /** The peer's normal Close (1000, 1001 or no code): no more data will arrive. */
  onRemoteEnd: (close: ClosePayload) => void
  /** Both Close frames exchanged, or the close timeout passed (`timedOut`): end the transport. */
  onClosed: (timedOut: boolean) => void
  /** The connection failed (our protocol error, or the peer's error Close); the outbox holds our Close. */
  onFailure: (err: WsError) => void
  /** A Pong answered our `ping()`. */
  onPong?: (rttMs: number) => void
  /** Every frame header sent or received (for tracing); absent → no cost. */
  onFrame?: (dir: 'in' | 'out', opcode: Opcode, length: number, fin: boolean, masked: boolean) => void
}

export interface WsSessionInit {
  role: WsRole
  host: WsSessionHost
  /** Milliseconds, monotonic. */
  now: () => number
  /** Fills `target` with unpredictable bytes (§5.3 masking keys; clients only). */
  randomFill: (target: Uint8Array) => void
  /** Largest message accepted (see constants.ts); default 16 MiB. */
  maxMessageBytes?: number
  /** Largest frame sent; larger batches are split into several messages. Default 1 MiB. */
  maxSendFrameBytes?: number
  /** After `close()`: how long to wait for the peer's Close. Default 5000 ms. */
  closeTimeoutMs?: number
}

function positiveInt (v: number | undefined, fallback: number, what: string): number {
  const n = v ?? fallback
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`"${what}" expected a positive integer, got ${n}`)
  return n
}

export class WsSession implements FrameSink {
  readonly role: WsRole
  private readonly host: WsSessionHost
  private readonly now: () => number
  private readonly randomFill: (target: Uint8Array) => void
  private readonly maxMessageBytes: number
  private readonly maxSendFrameBytes: number
  private readonly closeTimeoutMs: number
  private readonly receiver: Receiver
  private outbox: Uint8Array[] = []

  private sentClose = false
  private receivedClose = false
  private failed = false
  private isClosed = false
  /** A fragmented message is in progress (its first frame had FIN = 0). */
  private inMessage = false
  private messageBytes = 0
  private closeDeadline: number | undefined
  private pingPayload: Uint8Array | undefined
  private pingSentAt = 0
  /** The close the peer sent, once it did. */
  remoteClose: ClosePayload | undefined

  constructor (init: WsSessionInit) {
    this.role = init.role
    this.host = init.host
    this.now = init.now
    this.randomFill = init.randomFill
    this.maxMessageBytes = positiveInt(init.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes')
    this.maxSendFrameBytes = positiveInt(init.maxSendFrameBytes, DEFAULT_MAX_SEND_FRAME_BYTES, 'maxSendFrameBytes')
    this.closeTimeoutMs = positiveInt(init.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, 'closeTimeoutMs')
    // §5.1: a server receives masked frames only, a client unmasked ones only.
    this.receiver = new Receiver(this, { expectMasked: init.role === 'server' })
  }

  get state (): WsState {
    if (this.isClosed) return 'closed'
    return this.sentClose || this.receivedClose ? 'closing' : 'open'
  }

  /** We may still send data (no Close sent, not failed). */
  get writable (): boolean { return !this.sentClose && !this.isClosed }

  /** True between frames and messages: an end of TCP here loses nothing. */
  get idle (): boolean { return this.receiver.idle && !this.inMessage }

  /** Feed bytes from the transport (ours to keep: payloads are unmasked in place). */
  receive (chunk: Uint8Array): void {
    if (this.isClosed || this.receivedClose) return
    try {
      this.receiver.push(chunk)
    } catch (err) {
      if (!(err instanceof WsError)) throw err
      this.fail(err)
    }
  }

  /**
   * The transport ended (TCP FIN) before the peer's Close. Between messages we take it as the end
   * of the stream (RFC 6455 §7.1.5 calls it 1006, abnormal, but several implementations drop TCP
   * without a Close, and nothing is lost); inside a frame or message it is a failure.
   */
  transportEnded (): void {
    if (this.isClosed || this.receivedClose) return
    if (this.idle) {
      this.receivedClose = true
      this.remoteClose = { code: CloseCode.Abnormal, reason: '' }
      this.host.onRemoteEnd(this.remoteClose)
      if (this.sentClose) this.finish(false)
      return
    }
    this.fail(
      new WsError(
        'ERR_WS_PROTOCOL',
        'connection ended inside a WebSocket message, expected a Close frame (RFC 6455 §7.1.5: 1006)',
        { closeCode: CloseCode.Abnormal }
      )
    )
  }

  /**
   * Frame `chunks` (one batch) as binary messages: one frame, or several when the batch exceeds
   * `maxSendFrameBytes`. Server frames are `[header, ...chunks]` views (no copy); client frames are
   * masked copies (§5.3). Throws WsError once our Close is sent.
   */
  encodeData (chunks: readonly Uint8Array[]): Uint8Array[] {
    if (!this.writable) {
      throw new WsError(
        'ERR_WS_PROTOCOL',
        `data after our ${this.failed ? 'failure' : 'Close frame'} (RFC 6455 §5.5.1)`
      )
    }
    let total = 0
    for (const c of chunks) total += c.length
    if (total === 0) return []
    const out: Uint8Array[] = []
    if (total <= this.maxSendFrameBytes) {
      this.pushFrame(out, chunks, total)
      return out
    }
    // Split into frames of at most maxSendFrameBytes, cutting chunks where needed (views).
    let frame: Uint8Array[] = []
    let frameBytes = 0
    for (let c of chunks) {
      while (c.length > 0) {
        const take = Math.min(c.length, this.maxSendFrameBytes - frameBytes)
        frame.push(take === c.length ? c : c.subarray(0, take))
        frameBytes += take
        c = c.subarray(take)
        if (frameBytes === this.maxSendFrameBytes) {
          this.pushFrame(out, frame, frameBytes)
          frame = []
          frameBytes = 0
        }
      }
    }
    if (frameBytes > 0) this.pushFrame(out, frame, frameBytes)
    return out
  }

  /** Send a Ping (payload ≤ 125 bytes); the matching Pong reports the RTT through `onPong`. */
  ping (payload: Uint8Array = new Uint8Array(0)): void {
    if (!this.writable) return
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`"ping payload" expected <= ${MAX_CONTROL_PAYLOAD} bytes, got ${payload.length}`)
    }
    this.pingPayload = payload.slice()
    this.pingSentAt = this.now()
    this.queueControl(Opcode.Ping, payload)
  }

  /** Half-close: queue our Close (once). The peer may go on sending until its own Close. */
  closeWrite (code: number = CloseCode.Normal, reason = ''): void {
    if (this.sentClose || this.isClosed) return
    this.sentClose = true
    this.queueControl(Opcode.Close, encodeClosePayload(code, reason))
    if (this.receivedClose) this.finish(false)
  }

  /** Full close: our Close, then wait at most `closeTimeoutMs` for the peer's. */
  close (code: number = CloseCode.Normal, reason = ''): void {
    this.closeWrite(code, reason)
    if (!this.isClosed && this.closeDeadline === undefined) this.closeDeadline = this.now() + this.closeTimeoutMs
  }

  /** Frames to send (control frames), as `[header, payload]` views; empties the outbox. */
  takeOutbox (): Uint8Array[] {
    const out = this.outbox
    this.outbox = []
    return out
  }

  /** When `tick()` must run next (close timeout), or undefined. */
  nextDeadline (): number | undefined {
    return this.isClosed ? undefined : this.closeDeadline
  }

  tick (): void {
    if (this.isClosed || this.closeDeadline === undefined) return
    if (this.now() >= this.closeDeadline) this.finish(true)
  }

  // ── FrameSink (called by the receiver) ────────────────────────────────────────────────────────

  onHeader (h: FrameHeader): void {
    this.host.onFrame?.('in', h.opcode, h.length, h.fin, h.masked)
    if (isControl(h.opcode) || this.receivedClose) return
    if (h.opcode === Opcode.Text) {
      throw new WsError('ERR_WS_UNSUPPORTED_DATA', 'text frame: libp2p over WebSocket carries binary messages only', {
        closeCode: CloseCode.UnsupportedData
      })
    }
    if (h.opcode === Opcode.Continuation) {
      if (!this.inMessage) {
        throw new WsError(
          'ERR_WS_PROTOCOL',
          'continuation frame with no fragmented message to continue (RFC 6455 §5.4)',
          { closeCode: CloseCode.ProtocolError }
        )
      }
    } else if (this.inMessage) {
      throw new WsError(
        'ERR_WS_PROTOCOL',
        'new data frame inside a fragmented message, expected a continuation frame (RFC 6455 §5.4)',
        { closeCode: CloseCode.ProtocolError }
      )
    }
    const size = this.messageBytes + h.length
    if (size > this.maxMessageBytes) {
      throw new WsError('ERR_WS_MESSAGE_TOO_LARGE', `"message size" expected <= ${this.maxMessageBytes}, got ${size}`, {
        closeCode: CloseCode.MessageTooBig
      })
    }
    this.messageBytes = size
    this.inMessage = !h.fin
  }

  onPayload (_h: FrameHeader, piece: Uint8Array): void {
    if (!this.failed && !this.receivedClose) this.host.onData(piece)
  }

  onFrameEnd (h: FrameHeader): void {
    if (h.fin) this.messageBytes = 0
  }

  onControl (h: FrameHeader, payload: Uint8Array): void {
    if (this.receivedClose || this.isClosed) return // §5.5.1: nothing follows a Close
    switch (h.opcode) {
      case Opcode.Ping:
        if (!this.sentClose) this.queueControl(Opcode.Pong, payload)
        return
      case Opcode.Pong: {
        const expected = this.pingPayload
        if (expected !== undefined && sameBytes(expected, payload)) {
          this.pingPayload = undefined
          this.host.onPong?.(this.now() - this.pingSentAt)
        }
        return
      }
      case Opcode.Close: {
        const close = decodeClosePayload(payload) // throws WsError 1002 / 1007
        this.receivedClose = true
        this.remoteClose = close
        if (
          close.code === CloseCode.Normal || close.code === CloseCode.GoingAway || close.code === CloseCode.NoStatus
        ) {
          this.host.onRemoteEnd(close)
          if (this.sentClose) this.finish(false)
          return
        }
        // §5.5.1: echo the status code.
        if (!this.sentClose) { this.sentClose = true; this.queueControl(Opcode.Close, encodeClosePayload(close.code)) }
        this.failed = true
        this.isClosed = true
        this.host.onFailure(
          new WsError(
            'ERR_WS_CLOSED_BY_PEER',
            `peer closed the WebSocket with ${close.code}${
              close.reason === '' ? '' : ` (${JSON.stringify(close.reason)})`
            }`,
            { closeCode: close.code }
          )
        )
      }
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────────

  private fail (err: WsError): void {
    if (this.isClosed) return
    this.failed = true
    if (!this.sentClose && err.closeCode !== undefined && err.closeCode !== CloseCode.Abnormal) {
      this.sentClose = true
      this.queueControl(Opcode.Close, encodeClosePayload(err.closeCode, err.code))
    }
    this.isClosed = true
    this.host.onFailure(err)
  }

  private finish (timedOut: boolean): void {
    if (this.isClosed) return
    this.isClosed = true
    this.host.onClosed(timedOut)
  }

  private queueControl (opcode: Opcode, payload: Uint8Array): void {
    const frame = encodeFrame(opcode, payload, { maskKey: this.role === 'client' ? this.maskKey() : undefined })
    this.host.onFrame?.('out', opcode, payload.length, true, this.role === 'client')
    const wasEmpty = this.outbox.length === 0
    for (const f of frame) this.outbox.push(f)
    if (wasEmpty) this.host.onOutput()
  }

  private maskKey (): Uint8Array {
    const key = new Uint8Array(MASK_KEY_LENGTH)
    this.randomFill(key)
    return key
  }

  private pushFrame (out: Uint8Array[], chunks: readonly Uint8Array[], length: number): void {
    this.host.onFrame?.('out', Opcode.Binary, length, true, this.role === 'client')
    if (this.role === 'server') {
      const header = new Uint8Array(encodedHeaderLength(length, false))
      writeFrameHeader(header, 0, Opcode.Binary, true, length)
      out.push(header)
      for (const c of chunks) if (c.length > 0) out.push(c)
      return
    }
    // §5.3: the client masks every frame; one copy of the batch, masked in place, header in front.
    const headerLength = encodedHeaderLength(length, true)
    const buf = new Uint8Array(headerLength + length)
    const key = buf.subarray(headerLength - MASK_KEY_LENGTH, headerLength)
    this.randomFill(key)
    writeFrameHeader(buf, 0, Opcode.Binary, true, length, key)
    let at = headerLength
    for (const c of chunks) { buf.set(c, at); at += c.length }
    applyMask(buf.subarray(headerLength), key)
    out.push(buf)
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
