/**
 * Loss detection and probe timeouts (RFC 9002 §6 and Appendix A), sans-I/O: the connection reports
 * packets sent and ACKs received, asks `timerDeadline()` for the one timer to arm, and calls
 * `onTimeout(now)` when it fires. The unit returns which packets were acknowledged or lost (their
 * frames go back to the connection for retransmission) and when probes are due.
 *
 *   packet threshold:  lost if kPacketThreshold (3) newer packets were acknowledged   (§6.1.1)
 *   time threshold:    lost if sent more than 9/8 * max(srtt, latest_rtt) before the
 *                      newest acknowledged packet                                      (§6.1.2)
 *   PTO:               srtt + max(4 rttvar, 1 ms) (+ max_ack_delay in 1-RTT), doubled
 *                      per consecutive timeout; expiry sends 1-2 ack-eliciting probes   (§6.2)
 */
import { PacketNumberSpace } from './constants.js'
import type { AckFrame } from './frame.js'
import { NewReno, PERSISTENT_CONGESTION_THRESHOLD } from './congestion.js'
import { GRANULARITY_MS, RttEstimator } from './rtt.js'

/** RFC 9002 §6.1.1: kPacketThreshold. */
export const PACKET_THRESHOLD = 3

export interface SentPacket<F> {
  pn: number
  space: PacketNumberSpace
  timeSent: number
  ackEliciting: boolean
  inFlight: boolean
  size: number
  /** The frames the connection needs back if the packet is lost. */
  frames: F
  /** A PMTU probe (RFC 9000 §14.4): its loss is no congestion signal. */
  pmtuProbe?: boolean
}

export interface AckResult<F> {
  acked: Array<SentPacket<F>>
  lost: Array<SentPacket<F>>
  /** The largest newly acknowledged packet was ack-eliciting and gave an RTT sample. */
  rttSampled: boolean
}

export type TimeoutResult<F> =
  | { kind: 'loss', lost: Array<SentPacket<F>> }
  | { kind: 'pto', space: PacketNumberSpace, probes: 1 | 2 }
  | { kind: 'none' }

const SPACES = [PacketNumberSpace.Initial, PacketNumberSpace.Handshake, PacketNumberSpace.ApplicationData] as const

export class LossDetection<F> {
  readonly rtt: RttEstimator
  readonly cc: NewReno
  /** Ack-eliciting / in-flight packets not yet acknowledged or lost, per space, ascending pn. */
  readonly sent: Array<Array<SentPacket<F>>> = [[], [], []]
  readonly largestAcked = [-1, -1, -1]
  private readonly lossTime = [Infinity, Infinity, Infinity]
  private readonly lastAckElicitingSent = [-Infinity, -Infinity, -Infinity]
  private readonly discarded = [false, false, false]
  ptoCount = 0
  /** Times persistent congestion was declared (RFC 9002 §7.6; the connection's DPLPMTUD black-hole signal). */
  persistentCongestions = 0
  handshakeConfirmed = false
  /** Client: has the server validated our address (a Handshake packet acked, or handshake confirmed)? */
  peerCompletedAddressValidation = true
  maxAckDelay: number
  private firstRttSampleTime = -Infinity

  constructor (rtt: RttEstimator, cc: NewReno, maxAckDelayMs: number) {
    this.rtt = rtt
    this.cc = cc
    this.maxAckDelay = maxAckDelayMs
  }

  onPacketSent (p: SentPacket<F>): void {
    if (p.inFlight || p.ackEliciting) this.sent[p.space]?.push(p)
    if (p.inFlight) {
      if (p.ackEliciting) this.lastAckElicitingSent[p.space] = p.timeSent
      this.cc.onPacketSent(p.size)
    }
  }

  get bytesInFlight (): number { return this.cc.bytesInFlight }

  /** RFC 9002 A.7: an ACK frame arrived in `space`; `ackDelayMs` is its decoded ACK Delay. */
  onAckReceived (space: PacketNumberSpace, ack: AckFrame, ackDelayMs: number, now: number): AckResult<F> {
    const largest = ack.ranges[0]?.largest ?? -1
    this.largestAcked[space] = Math.max(this.largestAcked[space] as number, largest)
    // `sent` is in packet number order: each range (oldest first) is a run found by binary search,
    // and the list is rebuilt from the runs between them (an ACK costs O(ranges log n), not O(n × ranges))
    const list = this.sent[space] as Array<SentPacket<F>>
    const acked: Array<SentPacket<F>> = []
    const kept: Array<Array<SentPacket<F>>> = []
    let at = 0
    for (let r = ack.ranges.length - 1; r >= 0; r--) {
      const range = ack.ranges[r] as AckFrame['ranges'][number]
      const from = firstAtLeast(list, range.smallest, at)
      const to = firstAtLeast(list, range.largest + 1, from)
      if (from === to) continue
      if (from > at) kept.push(list.slice(at, from))
      for (let i = from; i < to; i++) acked.push(list[i] as SentPacket<F>)
      at = to
    }
    if (acked.length > 0) {
      kept.push(at === 0 ? list : list.slice(at))
      this.sent[space] = kept.length === 1 ? kept[0] as Array<SentPacket<F>> : kept.flat()
    }
    if (acked.length === 0) return { acked, lost: [], rttSampled: false }
    const newest = acked[acked.length - 1] as SentPacket<F>
    let rttSampled = false
    if (newest.pn === largest && acked.some(p => p.ackEliciting)) {
      this.rtt.update(
        now - newest.timeSent,
        space === PacketNumberSpace.ApplicationData ? ackDelayMs : 0,
        this.handshakeConfirmed,
        this.maxAckDelay
      )
      if (this.firstRttSampleTime === -Infinity) this.firstRttSampleTime = now
      rttSampled = true
    }
    const priorInFlight = this.cc.bytesInFlight
    for (const p of acked) if (p.inFlight) this.cc.onPacketAcked(p.size, p.timeSent, priorInFlight)
    const lost = this.detectLost(space, now)
    // RFC 9002 §6.2.1: the PTO backoff resets on an ACK, except a client's before address validation
    if (this.peerCompletedAddressValidation) this.ptoCount = 0
    return { acked, lost, rttSampled }
  }

  /** RFC 9002 A.10 DetectAndRemoveLostPackets. */
  private detectLost (space: PacketNumberSpace, now: number): Array<SentPacket<F>> {
    const largestAcked = this.largestAcked[space] as number
    this.lossTime[space] = Infinity
    const lossDelay = this.rtt.lossDelay()
    const lostSendTime = now - lossDelay
    const lost: Array<SentPacket<F>> = []
    const keep: Array<SentPacket<F>> = []
    // only packets at or below the largest acknowledged can be lost: the (sorted) list's head
    const list = this.sent[space] as Array<SentPacket<F>>
    const end = firstAtLeast(list, largestAcked + 1, 0)
    for (let i = 0; i < end; i++) {
      const p = list[i] as SentPacket<F>
      if (p.timeSent <= lostSendTime || largestAcked >= p.pn + PACKET_THRESHOLD) {
        lost.push(p)
      } else {
        keep.push(p)
        this.lossTime[space] = Math.min(this.lossTime[space] as number, p.timeSent + lossDelay)
      }
    }
    if (lost.length > 0) {
      this.sent[space] = end === list.length ? keep : keep.concat(list.slice(end))
      this.onLost(lost, now)
    }
    return lost
  }

  private onLost (lost: Array<SentPacket<F>>, now: number): void {
    let bytes = 0
    let newest = -Infinity
    for (const p of lost) {
      if (!p.inFlight) continue
      bytes += p.size
      // RFC 9000 §14.4: a lost PMTU probe leaves the flight without shrinking the window
      if (p.pmtuProbe !== true) newest = Math.max(newest, p.timeSent)
    }
    const persistent = this.persistentCongestion(lost.filter(p => p.pmtuProbe !== true))
    if (persistent) this.persistentCongestions++
    this.cc.onPacketsLost(bytes, newest, now, persistent)
  }

  /**
   * RFC 9002 §7.6.2: persistent congestion when ack-eliciting packets lost span more than
   * (srtt + max(4 rttvar, granularity) + max_ack_delay) * 3, all sent after the first RTT sample.
   */
  private persistentCongestion (lost: Array<SentPacket<F>>): boolean {
    const eliciting = lost.filter(p => p.ackEliciting && p.timeSent > this.firstRttSampleTime)
    if (eliciting.length < 2 || !this.rtt.hasSample) return false
    const first = eliciting[0] as SentPacket<F>
    const last = eliciting[eliciting.length - 1] as SentPacket<F>
    return last.timeSent - first.timeSent > this.rtt.pto(this.maxAckDelay) * PERSISTENT_CONGESTION_THRESHOLD
  }

  private earliestLossTime (): { time: number, space: PacketNumberSpace } {
    let best = { time: Infinity, space: PacketNumberSpace.Initial as PacketNumberSpace }
    for (const s of SPACES) {
      if ((this.lossTime[s] as number) < best.time) best = { time: this.lossTime[s] as number, space: s }
    }
    return best
  }

  private ackElicitingInFlight (space?: PacketNumberSpace): boolean {
    const spaces = space === undefined ? SPACES : [space]
    return spaces.some(s => (this.sent[s] as Array<SentPacket<F>>).some(p => p.ackEliciting && p.inFlight))
  }

  /** RFC 9002 A.8 GetPtoTimeAndSpace. */
  private ptoTimeAndSpace (now: number): { time: number, space: PacketNumberSpace } {
    const duration = (this.rtt.smoothedRtt + Math.max(4 * this.rtt.rttvar, GRANULARITY_MS)) * 2 ** this.ptoCount
    if (!this.ackElicitingInFlight()) {
      // client without validated address: arm PTO from now to unblock the server (anti-deadlock)
      const space = this.discarded[PacketNumberSpace.Initial] === true
        ? PacketNumberSpace.Handshake
        : PacketNumberSpace.Initial
      return { time: now + duration, space }
    }
    let best = { time: Infinity, space: PacketNumberSpace.Initial as PacketNumberSpace }
    for (const s of SPACES) {
      if (!this.ackElicitingInFlight(s)) continue
      let d = duration
      if (s === PacketNumberSpace.ApplicationData) {
        if (!this.handshakeConfirmed) continue
        d += this.maxAckDelay * 2 ** this.ptoCount
      }
      const t = (this.lastAckElicitingSent[s] as number) + d
      if (t < best.time) best = { time: t, space: s }
    }
    return best
  }

  /** The one timer to arm (Infinity: none). RFC 9002 A.8 SetLossDetectionTimer. */
  timerDeadline (now: number): number {
    const loss = this.earliestLossTime()
    if (loss.time !== Infinity) return loss.time
    if (!this.ackElicitingInFlight() && this.peerCompletedAddressValidation) return Infinity
    return this.ptoTimeAndSpace(now).time
  }

  /** RFC 9002 A.9 OnLossDetectionTimeout. */
  onTimeout (now: number): TimeoutResult<F> {
    const loss = this.earliestLossTime()
    if (loss.time !== Infinity) {
      if (now < loss.time) return { kind: 'none' }
      return { kind: 'loss', lost: this.detectLost(loss.space, now) }
    }
    if (!this.ackElicitingInFlight() && this.peerCompletedAddressValidation) return { kind: 'none' }
    const pto = this.ptoTimeAndSpace(now)
    if (now < pto.time && this.ackElicitingInFlight()) return { kind: 'none' }
    this.ptoCount++
    return { kind: 'pto', space: pto.space, probes: this.ackElicitingInFlight() ? 2 : 1 }
  }

  /**
   * RFC 9002 §6.3: after a Retry the client's Initial packets were received but not processed;
   * they leave the flight (neither acknowledged nor lost), the timers and backoff reset. Returns
   * them so that their data can be sent again.
   */
  abandonInFlight (space: PacketNumberSpace): Array<SentPacket<F>> {
    const list = this.sent[space] as Array<SentPacket<F>>
    for (const p of list) if (p.inFlight) this.cc.onPacketDiscarded(p.size)
    this.sent[space] = []
    this.lossTime[space] = Infinity
    this.lastAckElicitingSent[space] = -Infinity
    this.ptoCount = 0
    return list
  }

  /** RFC 9002 §6.4: keys of a space are gone; its packets leave the flight without a loss signal. */
  discardSpace (space: PacketNumberSpace): void {
    for (const p of this.sent[space] as Array<SentPacket<F>>) if (p.inFlight) this.cc.onPacketDiscarded(p.size)
    this.sent[space] = []
    this.lossTime[space] = Infinity
    this.lastAckElicitingSent[space] = -Infinity
    this.discarded[space] = true
    this.ptoCount = 0
  }
}

/** The index of the first packet numbered `pn` or more in `list` (ascending), searching from `from`. */
function firstAtLeast<F> (list: ReadonlyArray<SentPacket<F>>, pn: number, from: number): number {
  let lo = from
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((list[mid] as SentPacket<F>).pn < pn) lo = mid + 1
    else hi = mid
  }
  return lo
}
