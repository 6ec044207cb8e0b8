/**
 * A WebSocket connection as a `ByteConnection`: the thin adapter binding a `WsSession` (the sans-I/O
 * RFC 6455 machine) to the TCP `ByteConnection` underneath, after the upgrade (upgrade.ts). Upper
 * layers see binary message payloads as one byte stream, exactly as over TCP.
 *
 * Read side: TCP chunk ─► session.receive ─► payload views ─► attached sink.onData (synchronously).
 *   No sink attached: pieces wait in `pending` and the TCP connection is detached (paused), so the
 *   kernel buffer fills and TCP flow control slows the sender, as tcp.ts does. `pause()`/`resume()`
 *   pass through to TCP.
 * Write side: each `write(chunks)` batch is one binary frame (`[header, ...chunks]`, no copy on the
 *   server side; one masked copy on the client side, §5.3), written to TCP as one batch; the return
 *   value and `onDrain` are TCP's, so backpressure is the same as over TCP.
 *
 * Close matrix (RFC 6455 §5.5.1, §7.1):
 *   closeWrite()   our Close(1000), after everything written before it (same socket, in order);
 *                  we keep reading until the peer's Close
 *   close()        closeWrite(), then read (and discard) until the peer's Close, at most
 *                  `closeTimeoutMs`; then TCP is closed (server: at once; client: after the
 *                  server's FIN or the timeout, §7.1.1)
 *   abort(err)     TCP RST at once, no Close frame (as tcp.ts)
 *   peer Close(1000/1001/none)  sink.onEnd(); peer Close(other) → our echo, onClose(ERR_WS_CLOSED_BY_PEER)
 *   protocol error our Close(1002/1003/1007/1009), TCP closed, sink.onClose(WsError)
 */
import type { ByteConnection, ByteSink } from '../../connection.js'
import { StreamClosedError, TransportError, WsError } from '../../errors.js'
import type { ClosePayload } from './frame.js'
import { WsSession } from './session.js'
import type { WsRole, WsSessionHost } from './session.js'
import type { Opcode } from './constants.js'

export interface WsConnectionOptions {
  /** Largest message accepted, checked at each frame header (default 16 MiB; close 1009 above it). */
  maxMessageBytes?: number
  /** Largest frame sent; a bigger batch becomes several messages (default 1 MiB). */
  maxSendFrameBytes?: number
  /** Bound on the close handshake after `close()` (default 5000 ms). */
  closeTimeoutMs?: number
  /** Trace hook for each frame header (direction, opcode, payload length, FIN, MASK). */
  onFrame?: (dir: 'in' | 'out', opcode: Opcode, length: number, fin: boolean, masked: boolean) => void
}

export interface WsConnectionInit extends WsConnectionOptions {
  role: WsRole
  /** Bytes read past the upgrade head: the first frames. */
  leftover?: readonly Uint8Array[]
  randomFill: (target: Uint8Array) => void
  now?: () => number
}

export class WsConnection implements ByteConnection {
  readonly remoteAddr: string
  readonly localAddr: string
  readonly direction: 'inbound' | 'outbound'
  /** The TCP connection underneath. */
  readonly inner: ByteConnection

  private readonly session: WsSession
  private readonly host: WsSessionHost
  private readonly closeTimeoutMs: number
  private readonly now: () => number
  private sink: ByteSink | undefined
  private leftover: readonly Uint8Array[] | undefined
  private innerAttached = false
  /** Payload pieces that arrived while no sink was attached. */
  private pending: Uint8Array[] = []
  private writeEnded = false
  private closing = false
  private remoteEnded = false
  private endDelivered = false
  private tcpEnded = false
  private isClosed = false
  private closeDelivered = false
  private tcpClosing = false
  private error: Error | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private closePromise: Promise<void> | undefined
  private readonly closeWaiters: Array<() => void> = []

  constructor (inner: ByteConnection, init: WsConnectionInit) {
    this.inner = inner
    this.direction = inner.direction
    this.remoteAddr = `${inner.remoteAddr}/ws`
    this.localAddr = `${inner.localAddr}/ws`
    this.leftover = init.leftover
    this.closeTimeoutMs = init.closeTimeoutMs ?? 5_000
    const now = init.now ?? (() => performance.now())
    this.now = now
    this.host = {
      onData: this.onPayload,
      onOutput: this.flushOutbox,
      onRemoteEnd: this.onRemoteEnd,
      onClosed: this.onSessionClosed,
      onFailure: this.onFailure,
      onFrame: init.onFrame
    }
    this.session = new WsSession({
      role: init.role,
      host: this.host,
      now,
      randomFill: init.randomFill,
      maxMessageBytes: init.maxMessageBytes,
      maxSendFrameBytes: init.maxSendFrameBytes,
      closeTimeoutMs: init.closeTimeoutMs
    })
  }

  get closed (): boolean { return this.isClosed }
  get writableLength (): number { return this.inner.writableLength }
  /** open → closing (a Close sent or received) → closed. */
  get state (): 'open' | 'closing' | 'closed' { return this.session.state }
  /** The peer's Close (code 1005: none given; 1006: TCP ended without one), once it came. */
  get remoteClose (): ClosePayload | undefined { return this.session.remoteClose }

  /** Resolves once the TCP connection underneath is gone (seen while reading). */
  whenClosed (): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    return new Promise(resolve => this.closeWaiters.push(resolve))
  }

  attach (sink: ByteSink): void {
    this.sink = sink
    while (this.pending.length > 0) {
      if (this.sink !== sink) return
      sink.onData(this.pending.shift() as Uint8Array)
    }
    if (this.sink !== sink) return
    if (this.remoteEnded && !this.endDelivered) { this.endDelivered = true; sink.onEnd() }
    if (this.sink !== sink) return
    if (this.isClosed) { this.deliverClose(); return }
    this.startReading()
  }

  detach (): void {
    this.sink = undefined
    if (!this.closing && this.innerAttached) { this.innerAttached = false; this.inner.detach() }
  }

  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded || this.isClosed || !this.session.writable) {
      throw new StreamClosedError(`write on ${this.remoteAddr} after ${this.writeEnded ? 'closeWrite' : 'close'}`)
    }
    return this.inner.write(this.session.encodeData(chunks))
  }

  pause (): void { this.inner.pause() }
  resume (): void { this.inner.resume() }

  /** Send a Ping; `onPong` receives the round-trip time of its Pong. */
  ping (onPong?: (rttMs: number) => void): void {
    this.host.onPong = onPong
    this.session.ping()
  }

  closeWrite (): void {
    if (this.writeEnded || this.isClosed) return
    this.writeEnded = true
    this.session.closeWrite()
  }

  close (): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise
    this.closePromise = new Promise<void>(resolve => {
      if (this.isClosed) { resolve(); return }
      this.closeWaiters.push(resolve)
      this.closing = true
      this.pending = []
      this.writeEnded = true
      this.session.close()
      if (this.isClosed || this.tcpClosing) return
      this.armTimer()
      // Read on (discarding) until the peer's Close, even with no sink attached.
      this.startReading()
      this.inner.resume()
    })
    return this.closePromise
  }

  abort (err?: Error): void {
    if (this.isClosed) return
    this.error ??= err ?? new TransportError('ERR_ABORTED', `connection ${this.remoteAddr} aborted locally`)
    this.clearTimer()
    this.inner.abort(this.error)
  }

  // ── TCP side ──────────────────────────────────────────────────────────────────────────────────

  private startReading (): void {
    if (this.innerAttached || this.isClosed) return
    this.innerAttached = true
    const leftover = this.leftover
    if (leftover !== undefined) {
      this.leftover = undefined
      for (const c of leftover) this.session.receive(c)
    }
    this.inner.attach(this.innerSink)
  }

  private readonly innerSink: ByteSink = {
    onData: chunk => { this.session.receive(chunk) },
    onEnd: () => {
      this.tcpEnded = true
      this.session.transportEnded()
      // Client after the close handshake: the server's FIN is our cue to close TCP (§7.1.1).
      if (this.session.state === 'closed' && !this.tcpClosing) this.closeTcp()
    },
    onClose: err => {
      this.isClosed = true
      this.clearTimer()
      this.error ??= err
      if (this.sink !== undefined && this.pending.length === 0) this.deliverClose()
      for (const w of this.closeWaiters.splice(0)) w()
    },
    onDrain: () => { this.sink?.onDrain?.() }
  }

  // ── session host ──────────────────────────────────────────────────────────────────────────────

  private readonly onPayload = (piece: Uint8Array): void => {
    if (this.closing) return
    const sink = this.sink
    if (sink !== undefined) { sink.onData(piece); return }
    this.pending.push(piece)
    if (this.innerAttached) { this.innerAttached = false; this.inner.detach() }
  }

  private readonly flushOutbox = (): void => {
    const frames = this.session.takeOutbox()
    if (frames.length > 0 && !this.inner.closed && !this.tcpClosing) this.inner.write(frames)
  }

  private readonly onRemoteEnd = (): void => {
    this.remoteEnded = true
    if (this.sink !== undefined && this.pending.length === 0 && !this.endDelivered) {
      this.endDelivered = true
      this.sink.onEnd()
    }
  }

  private readonly onSessionClosed = (timedOut: boolean): void => {
    // §7.1.1: the server closes TCP first; the client waits for it (bounded) unless it already came.
    if (timedOut || this.session.role === 'server' || this.tcpEnded) { this.closeTcp(); return }
    this.armTimer()
  }

  private readonly onFailure = (err: WsError): void => {
    this.error ??= err
    this.flushOutbox()
    this.closeTcp()
  }

  private closeTcp (): void {
    if (this.tcpClosing) return
    this.tcpClosing = true
    this.clearTimer()
    void this.inner.close()
  }

  private armTimer (): void {
    this.clearTimer()
    const deadline = this.session.nextDeadline()
    const ms = deadline === undefined ? this.closeTimeoutMs : Math.max(0, deadline - this.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.session.state === 'closed') this.closeTcp()
      else this.session.tick()
      if (this.session.state !== 'closed') this.armTimer()
    }, ms)
    this.timer.unref?.()
  }

  private clearTimer (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
  }

  private deliverClose (): void {
    if (this.closeDelivered) return
    this.closeDelivered = true
    this.sink?.onClose(this.error)
  }
}
