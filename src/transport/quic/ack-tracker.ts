/**
 * Received packet numbers of one packet number space and when to acknowledge them (RFC 9000 §13.2).
 *
 * Policy (RFC 9000 §13.2.1-2): an ACK is due at once after 2 unacknowledged ack-eliciting packets,
 * for an out-of-order ack-eliciting packet (a gap, or a packet below the largest), and for Initial
 * and Handshake packets (max_ack_delay is 0 there), and when the caller says so (a packet of only
 * PING and PADDING: a PTO or DPLPMTUD probe, or a keep-alive, whose sender waits for just that
 * answer — RFC 9000 §13.2.1 leaves the timing to the receiver); otherwise within max_ack_delay of the first
 * unacknowledged ack-eliciting packet. Non-ack-eliciting packets are never acknowledged on their
 * own. Ranges are kept descending and capped (MAX_ACK_RANGES; the oldest go first, §13.2.4).
 */
import { FrameType } from './constants.js'
import type { AckFrame, AckRange } from './frame.js'

/** Ranges kept and sent per ACK frame (quic-go sends at most 32 too). */
export const MAX_ACK_RANGES = 32
/** RFC 9000 §13.2.2: acknowledge at least every second ack-eliciting packet. */
export const ACK_ELICITING_THRESHOLD = 2

export class AckTracker {
  /** Descending, disjoint, non-adjacent. */
  readonly ranges: AckRange[] = []
  /** When the largest packet arrived (for the ACK Delay field). */
  private largestReceivedAt = 0
  private unackedElicting = 0
  /** Earliest time an ACK is due (Infinity: none). */
  ackDeadline = Infinity
  private readonly maxAckDelayMs: number

  /** `maxAckDelayMs` is 0 for the Initial and Handshake spaces. */
  constructor (maxAckDelayMs: number) {
    this.maxAckDelayMs = maxAckDelayMs
  }

  get largest (): number {
    return this.ranges[0]?.largest ?? -1
  }

  /** True if `pn` was already received (a duplicate is dropped, RFC 9000 §12.3). */
  has (pn: number): boolean {
    for (const r of this.ranges) {
      if (pn > r.largest) return false
      if (pn >= r.smallest) return true
    }
    return false
  }

  /** Record a processed packet. */
  onPacket (pn: number, ackEliciting: boolean, now: number, immediate = false): void {
    const outOfOrder = this.ranges.length > 0 && pn !== this.largest + 1
    this.insert(pn)
    if (pn === this.largest) this.largestReceivedAt = now
    if (!ackEliciting) return
    this.unackedElicting++
    if (immediate || outOfOrder || this.unackedElicting >= ACK_ELICITING_THRESHOLD || this.maxAckDelayMs === 0) {
      this.ackDeadline = now
    } else this.ackDeadline = Math.min(this.ackDeadline, now + this.maxAckDelayMs)
  }

  private insert (pn: number): void {
    const rs = this.ranges
    let i = 0
    while (i < rs.length && (rs[i] as AckRange).smallest > pn + 1) i++
    const r = rs[i]
    if (r === undefined || r.largest < pn - 1) {
      rs.splice(i, 0, { smallest: pn, largest: pn })
    } else {
      if (pn >= r.smallest && pn <= r.largest) return
      if (pn === r.largest + 1) {
        r.largest = pn
        const prev = rs[i - 1]
        if (prev !== undefined && prev.smallest === pn + 1) { prev.smallest = r.smallest; rs.splice(i, 1) }
      } else if (pn === r.smallest - 1) {
        r.smallest = pn
        const next = rs[i + 1]
        if (next !== undefined && next.largest === pn - 1) { r.smallest = next.smallest; rs.splice(i + 1, 1) }
      }
    }
    if (rs.length > MAX_ACK_RANGES) rs.length = MAX_ACK_RANGES
  }

  /** True when an ACK should go out now. */
  ackDue (now: number): boolean {
    return now >= this.ackDeadline
  }

  /**
   * The ACK frame to send (undefined when nothing was received). ACK Delay is in units of
   * 2^ackDelayExponent microseconds (RFC 9000 §19.3). Clears the pending deadline.
   */
  buildAck (now: number, ackDelayExponent: number): AckFrame | undefined {
    if (this.ranges.length === 0) return undefined
    this.ackDeadline = Infinity
    this.unackedElicting = 0
    const delayUs = Math.max(0, now - this.largestReceivedAt) * 1000
    return {
      type: FrameType.Ack,
      ranges: this.ranges.map(r => ({ ...r })),
      ackDelay: Math.floor(delayUs / 2 ** ackDelayExponent)
    }
  }

  /**
   * RFC 9000 §13.2.4: stop acknowledging packets at or below `pn` once an ACK of ours carrying them was acknowledged.
   */
  forgetBelow (pn: number): void {
    const rs = this.ranges
    while (rs.length > 1 && (rs[rs.length - 1] as AckRange).largest <= pn) rs.pop()
  }
}
