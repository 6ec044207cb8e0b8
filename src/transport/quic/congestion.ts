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
 * An underutilized window does not grow (§7.8): an ACK grows it only if the flight before the ACK
 * filled it — to within WINDOW_LIMITED_SLACK_DATAGRAMS, or, in slow start, more than half of it
 * (quic-go's and Chromium's `isCwndLimited`) — so a sender held back by the application or by flow
 * control does not build a window it never used and would later burst into.
 * The pacer spreads a window over the smoothed RTT (§7.7): rate = 5/4 * cwnd / srtt, with a burst
 * of 10 datagrams or PACING_BURST_INTERVAL_MS at that rate, whichever is more (quic-go's
 * `maxBurstSize`, quinn's `BURST_INTERVAL`): a timer wakes the sender no sooner than its granularity,
 * so a burst smaller than what the rate allows per wake-up caps the rate itself — 10 datagrams of
 * 1200 bytes per 1 ms Node timer are 11.4 MiB/s, whatever the window.
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
/** Datagrams the pacer lets out back to back at least. */
export const PACING_BURST_DATAGRAMS = 10
/**
 * The pacer's burst covers this much time at its rate (RFC 9002 §7.7 leaves the burst to the sender;
 * quic-go: min pacing delay 1 ms + timer granularity 1 ms; quinn: 2 ms). A Node timer fires 1 ms
 * after it was armed at the soonest, often later on a busy event loop.
 */
export const PACING_BURST_INTERVAL_MS = 2
/**
 * RFC 9002 §7.8: a flight this close to the window still uses it (what the pacer holds back for a
 * moment is no underutilization); quic-go's `maxBurstPackets`, Chromium's `kMaxBurstBytes` / MSS.
 */
export const WINDOW_LIMITED_SLACK_DATAGRAMS = 3

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

  /**
   * RFC 9002 §7.3, B.5: an in-flight packet sent at `timeSent` was acknowledged. `priorInFlight`:
   * the bytes in flight before the ACK that carries it (default: before this packet left the flight).
   */
  onPacketAcked (bytes: number, timeSent: number, priorInFlight = this.bytesInFlight): void {
    this.bytesInFlight -= bytes
    if (timeSent <= this.recoveryStartTime) return
    // RFC 9002 §7.8: an underutilized window does not grow
    if (!this.windowLimited(priorInFlight)) return
    if (this.inSlowStart) this.congestionWindow += bytes
    else this.congestionWindow += this.maxDatagramSize * bytes / this.congestionWindow
  }

  /**
   * Did a flight of `inFlight` bytes use the window (RFC 9002 §7.8)? Slow start doubles the flight
   * each round trip, so more than half of the window counts there.
   */
  windowLimited (inFlight: number): boolean {
    if (this.congestionWindow - inFlight <= WINDOW_LIMITED_SLACK_DATAGRAMS * this.maxDatagramSize) return true
    return this.inSlowStart && inFlight > this.congestionWindow / 2
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

  /** The bucket's size: what may leave back to back (see PACING_BURST_INTERVAL_MS). */
  burstBytes (cwnd: number, srtt: number): number {
    return Math.max(PACING_BURST_DATAGRAMS * this.maxDatagramSize, PACING_BURST_INTERVAL_MS * this.rate(cwnd, srtt))
  }

  private refill (now: number, cwnd: number, srtt: number): void {
    const capacity = this.burstBytes(cwnd, srtt)
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
