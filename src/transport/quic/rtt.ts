/**
 * RTT estimation (RFC 9002 §5), pure arithmetic; times in milliseconds from the injected clock.
 *
 *   first sample:  smoothed = latest, rttvar = latest / 2, min = latest
 *   then:          min = min(min, latest)
 *                  adjusted = latest - ack_delay   if that stays >= min (ack_delay capped at
 *                                                   max_ack_delay once the handshake is confirmed)
 *                  rttvar = 3/4 rttvar + 1/4 |smoothed - adjusted|
 *                  smoothed = 7/8 smoothed + 1/8 adjusted
 */

/** RFC 9002 §6.2.2: the RTT assumed before any sample. */
export const INITIAL_RTT_MS = 333
/** RFC 9002 §6.1.2: timer granularity. */
export const GRANULARITY_MS = 1

export class RttEstimator {
  latestRtt = 0
  minRtt = Infinity
  smoothedRtt = INITIAL_RTT_MS
  rttvar = INITIAL_RTT_MS / 2
  hasSample = false

  /** Feed one sample (RFC 9002 §5.3). `ackDelay` is the peer's reported delay, already decoded to ms. */
  update (latestRtt: number, ackDelay: number, handshakeConfirmed: boolean, maxAckDelay: number): void {
    this.latestRtt = latestRtt
    if (!this.hasSample) {
      this.hasSample = true
      this.minRtt = latestRtt
      this.smoothedRtt = latestRtt
      this.rttvar = latestRtt / 2
      return
    }
    this.minRtt = Math.min(this.minRtt, latestRtt)
    const delay = handshakeConfirmed ? Math.min(ackDelay, maxAckDelay) : ackDelay
    const adjusted = latestRtt >= this.minRtt + delay ? latestRtt - delay : latestRtt
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.smoothedRtt - adjusted)
    this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * adjusted
  }

  /** RFC 9002 §6.2.1: PTO = smoothed_rtt + max(4 * rttvar, granularity) (+ max_ack_delay in 1-RTT). */
  pto (maxAckDelay: number): number {
    return this.smoothedRtt + Math.max(4 * this.rttvar, GRANULARITY_MS) + maxAckDelay
  }

  /** RFC 9002 §6.1.2: the time threshold, 9/8 of max(smoothed, latest), at least the granularity. */
  lossDelay (): number {
    return Math.max(1.125 * Math.max(this.smoothedRtt, this.latestRtt), GRANULARITY_MS)
  }
}
