/**
 * QUIC flow control (RFC 9000 §4), one unit for a stream or the connection, pure arithmetic.
 *
 *   receive side:   consumed ≤ received (highest offset) ≤ maxData (what we advertised)
 *                   data beyond maxData → FLOW_CONTROL_ERROR (§4.1)
 *                   send MAX_(STREAM_)DATA when less than half the window remains (quic-go, quinn)
 *                   auto-tune: if that happens within 2 RTT of the last update, double the window
 *                   up to maxWindowBytes (the same rule as src/muxer/flow-control.ts)
 *   send side:      sent ≤ peerMax; `blocked` once sent reaches it (→ DATA_BLOCKED, §4.1)
 */
import { QuicError } from '../../errors.js'

export class ReceiveFlowControl {
  maxData: number
  received = 0
  consumed = 0
  window: number
  readonly maxWindowBytes: number
  private lastUpdateAt = -Infinity

  constructor (initialWindow: number, maxWindowBytes: number) {
    this.window = initialWindow
    this.maxData = initialWindow
    this.maxWindowBytes = Math.max(maxWindowBytes, initialWindow)
  }

  /**
   * `newHighest` is the new highest received offset (or connection total). Throws FLOW_CONTROL_ERROR beyond the limit.
   */
  onReceived (newHighest: number, what: string): void {
    if (newHighest > this.maxData) {
      throw new QuicError(
        'ERR_QUIC_FLOW_CONTROL',
        `${what}: data to offset ${newHighest} beyond the advertised limit ${this.maxData}`
      )
    }
    this.received = Math.max(this.received, newHighest)
  }

  onConsumed (bytes: number): void {
    this.consumed += bytes
  }

  /**
   * A new limit to advertise (MAX_DATA / MAX_STREAM_DATA), or undefined if not yet due. `mayGrow`
   * (when given) is asked before auto-tuning grows the window by `bytes`, and may refuse: the window
   * then stays as it is (a memory budget, connection.ts `attachMemory`).
   */
  nextUpdate (now: number, srttMs: number, mayGrow?: (bytes: number) => boolean): number | undefined {
    if (this.maxData - this.consumed > this.window / 2) return undefined
    if (now - this.lastUpdateAt < 2 * srttMs && this.window < this.maxWindowBytes) {
      const grown = Math.min(this.window * 2, this.maxWindowBytes)
      if (mayGrow === undefined || mayGrow(grown - this.window)) this.window = grown
    }
    this.lastUpdateAt = now
    this.maxData = this.consumed + this.window
    return this.maxData
  }
}

export class SendFlowControl {
  peerMax: number
  sent = 0

  constructor (peerMax: number) {
    this.peerMax = peerMax
  }

  get available (): number { return Math.max(0, this.peerMax - this.sent) }
  get blocked (): boolean { return this.sent >= this.peerMax }

  onSent (bytes: number): void { this.sent += bytes }

  /** MAX_(STREAM_)DATA from the peer: limits only ever grow (§4.1, smaller values are ignored). */
  onMaxData (maximum: number): void {
    if (maximum > this.peerMax) this.peerMax = maximum
  }
}

/**
 * Stream count limits (RFC 9000 §4.6): what the peer may open (we advertise, MAX_STREAMS) and what
 * we may open (the peer advertises).
 */
export class StreamLimits {
  /** Peer-initiated streams of this type we allow (count). */
  localMax: number
  /** Highest count the peer has opened (index + 1). */
  peerOpened = 0
  /** Streams of this type the peer allows us. */
  peerMax: number
  opened = 0
  private closedByPeer = 0
  private readonly window: number

  constructor (localMax: number, peerMax: number) {
    this.localMax = localMax
    this.window = localMax
    this.peerMax = peerMax
  }

  /** The peer used stream index `index`; STREAM_LIMIT_ERROR beyond our limit (§4.6). */
  onPeerStream (index: number): void {
    if (index >= this.localMax) {
      throw new QuicError('ERR_QUIC_STREAM_LIMIT', `peer opened stream #${index + 1}, limit ${this.localMax}`)
    }
    this.peerOpenedPrev = this.peerOpened
    this.peerOpened = Math.max(this.peerOpened, index + 1)
  }

  /** A peer-initiated stream finished: a new MAX_STREAMS value when half the window is used. */
  onPeerStreamClosed (): number | undefined {
    this.closedByPeer++
    const next = this.closedByPeer + this.window
    if (next - this.localMax >= this.window / 2) {
      this.localMax = next
      return next
    }
    return undefined
  }

  /** Peer streams of this type known before the last `onPeerStream` call (for implicit opening). */
  peerOpenedBefore (): number { return this.peerOpenedPrev }
  private peerOpenedPrev = 0

  get canOpen (): boolean { return this.opened < this.peerMax }
  /** Take the next local stream index. */
  open (): number { return this.opened++ }
  onMaxStreams (maximum: number): void { if (maximum > this.peerMax) this.peerMax = maximum }
}
