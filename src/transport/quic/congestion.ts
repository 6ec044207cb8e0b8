/**
 * NewReno congestion control with pacing (RFC 9002 §7, Appendix B), pure arithmetic over bytes
 * and milliseconds.
 *
 *   slow start:          cwnd += acked bytes               (cwnd < ssthresh)
 *   congestion avoid.:   cwnd += max_datagram * acked / cwnd
 *   loss (once per RTT): ssthresh = cwnd = max(cwnd / 2, minimum window)
 *   persistent cong.:    cwnd = minimum window
 *
 * Packets sent before the current recovery period started do not shrink the window again (§7.3.2).
 * The pacer spreads a window over the smoothed RTT (§7.7): rate = 5/4 * cwnd / srtt, with a burst
 * of 10 datagrams (quinn and quic-go use the same burst).
 */

/** RFC 9002 §7.2: initial window = min(10 * max_datagram, max(14720, 2 * max_datagram)). */
export function initialWindow (maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize))
}
/** RFC 9002 §7.2: the window never goes below 2 datagrams. */
export function minimumWindow (maxDatagramSize: number): number {
  return 2 * maxDatagramSize
}
/** RFC 9002 §7.6.1: kPersistentCongestionThreshold. */
export const PERSISTENT_CONGESTION_THRESHOLD = 3
/** Datagrams the pacer lets out back to back. */
export const PACING_BURST_DATAGRAMS = 10

export class NewReno {
  /** Grows when DPLPMTUD confirms a larger size (pmtu.ts); the window keeps its bytes. */
  maxDatagramSize: number
  congestionWindow: number
  ssthresh = Infinity
  bytesInFlight = 0
  /** Start of the current recovery period (-Infinity: not in recovery). */
  recoveryStartTime = -Infinity

  constructor (maxDatagramSize = 1200) {
    this.maxDatagramSize = maxDatagramSize
    this.congestionWindow = initialWindow(maxDatagramSize)
  }

  /**
   * RFC 9002 §7.2: a new datagram size (DPLPMTUD) recalculates the initial window; a window still
   * in its first slow start (no loss yet) grows to it.
   */
  onDatagramSizeChanged (size: number): void {
    this.maxDatagramSize = size
    if (this.ssthresh === Infinity) this.congestionWindow = Math.max(this.congestionWindow, initialWindow(size))
  }

  /** Room for `bytes` more in flight. */
  canSend (bytes: number): boolean {
    return this.bytesInFlight + bytes <= this.congestionWindow
  }

  get inSlowStart (): boolean {
    return this.congestionWindow < this.ssthresh
  }

  onPacketSent (bytes: number): void {
    this.bytesInFlight += bytes
  }

  /** RFC 9002 §7.3, B.5: an in-flight packet sent at `timeSent` was acknowledged. */
  onPacketAcked (bytes: number, timeSent: number): void {
    this.bytesInFlight -= bytes
    if (timeSent <= this.recoveryStartTime) return
    if (this.inSlowStart) this.congestionWindow += bytes
    else this.congestionWindow += this.maxDatagramSize * bytes / this.congestionWindow
  }

  /** Bytes of an abandoned packet (space discarded) leave the flight without a signal. */
  onPacketDiscarded (bytes: number): void {
    this.bytesInFlight -= bytes
  }

  /** RFC 9002 §7.3.2, B.6-B.8: packets were declared lost; `largestLostSent` is the newest send time among them. */
  onPacketsLost (bytes: number, largestLostSent: number, now: number, persistentCongestion: boolean): void {
    this.bytesInFlight -= bytes
    if (largestLostSent > this.recoveryStartTime) {
      this.recoveryStartTime = now
      this.congestionWindow = Math.max(this.congestionWindow / 2, minimumWindow(this.maxDatagramSize))
      this.ssthresh = this.congestionWindow
    }
    if (persistentCongestion) {
      this.congestionWindow = minimumWindow(this.maxDatagramSize)
      this.recoveryStartTime = -Infinity
    }
  }
}

/**
 * A token-bucket pacer (RFC 9002 §7.7): `delayUntil(now, bytes)` says when `bytes` may be sent;
 * `onSent` spends tokens. No timers: the adapter arms one for the returned time.
 */
export class Pacer {
  private tokens: number
  private lastRefill = 0
  /** Grows with the connection's datagram size (DPLPMTUD): the burst is PACING_BURST_DATAGRAMS of it. */
  maxDatagramSize: number

  constructor (maxDatagramSize = 1200) {
    this.maxDatagramSize = maxDatagramSize
    this.tokens = PACING_BURST_DATAGRAMS * maxDatagramSize
  }

  private rate (cwnd: number, srtt: number): number {
    return 1.25 * cwnd / Math.max(srtt, 1) // bytes per ms
  }

  private refill (now: number, cwnd: number, srtt: number): void {
    const capacity = Math.max(PACING_BURST_DATAGRAMS * this.maxDatagramSize, 0)
    this.tokens = Math.min(capacity, this.tokens + (now - this.lastRefill) * this.rate(cwnd, srtt))
    this.lastRefill = now
  }

  /** The earliest time `bytes` may leave (`now` when allowed at once). */
  delayUntil (now: number, bytes: number, cwnd: number, srtt: number): number {
    this.refill(now, cwnd, srtt)
    if (this.tokens >= bytes) return now
    return now + (bytes - this.tokens) / this.rate(cwnd, srtt)
  }

  onSent (now: number, bytes: number, cwnd: number, srtt: number): void {
    this.refill(now, cwnd, srtt)
    this.tokens = Math.max(0, this.tokens - bytes)
  }
}

/**
 * RFC 9000 §8.1: before the peer's address is validated, a server sends at most 3 times what it
 * received from that address. A spoofed-source flood therefore gets at most 3x amplification.
 */
export class AmplificationLimit {
  static readonly FACTOR = 3
  received = 0
  sent = 0
  validated = false

  onReceived (bytes: number): void { this.received += bytes }
  onSent (bytes: number): void { this.sent += bytes }
  /** Bytes we may still send (Infinity once validated). */
  get allowance (): number {
    return this.validated ? Infinity : Math.max(0, AmplificationLimit.FACTOR * this.received - this.sent)
  }
}
