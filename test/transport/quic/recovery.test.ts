/** RFC 9002 units with a fake clock: RTT, ACK generation, loss detection, PTO, NewReno, pacing, 3x limit. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { AckTracker, MAX_ACK_RANGES } from '../../../src/transport/quic/ack-tracker.js'
import {
  AmplificationLimit,
  initialWindow,
  minimumWindow,
  NewReno,
  PACING_BURST_DATAGRAMS,
  PACING_BURST_INTERVAL_MS,
  Pacer,
  WINDOW_LIMITED_SLACK_DATAGRAMS
} from '../../../src/transport/quic/congestion.js'
import { FrameType, PacketNumberSpace } from '../../../src/transport/quic/constants.js'
import type { AckFrame } from '../../../src/transport/quic/frame.js'
import { LossDetection, type SentPacket } from '../../../src/transport/quic/loss-detection.js'
import { INITIAL_RTT_MS, RttEstimator } from '../../../src/transport/quic/rtt.js'

const ack = (...ranges: Array<[number, number]>): AckFrame => ({
  type: FrameType.Ack,
  ackDelay: 0,
  ranges: ranges.map(([smallest, largest]) => ({ smallest, largest }))
})

describe('RTT estimation (RFC 9002 §5)', () => {
  it('first sample, then EWMA with ack delay subtracted only above min_rtt', () => {
    const r = new RttEstimator()
    expect(r.smoothedRtt).toBe(INITIAL_RTT_MS)
    r.update(100, 0, false, 25)
    expect([r.minRtt, r.smoothedRtt, r.rttvar]).toEqual([100, 100, 50])
    r.update(140, 20, true, 25)
    // adjusted = 120; rttvar = 0.75*50 + 0.25*20 = 42.5; srtt = 0.875*100 + 0.125*120 = 102.5
    expect([r.minRtt, r.smoothedRtt, r.rttvar]).toEqual([100, 102.5, 42.5])
    r.update(105, 50, true, 25) // ack delay capped at 25; 105 < 100 + 25: not adjusted
    expect(r.minRtt).toBe(100)
    expect(r.latestRtt).toBe(105)
  })
})

describe('ACK generation (RFC 9000 §13.2)', () => {
  it('ranges stay descending and merged for any arrival order', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 100 }), (pns) => {
      const t = new AckTracker(25)
      for (const pn of pns) t.onPacket(pn, true, 0)
      const set = new Set(pns)
      const expected: Array<{ smallest: number, largest: number }> = []
      for (let pn = 200; pn >= 0; pn--) {
        if (!set.has(pn)) continue
        const last = expected[expected.length - 1]
        if (last !== undefined && last.smallest === pn + 1) last.smallest = pn
        else expected.push({ smallest: pn, largest: pn })
      }
      expect(t.ranges).toEqual(expected.slice(0, MAX_ACK_RANGES))
      for (const pn of pns) if (expected.length <= MAX_ACK_RANGES) expect(t.has(pn)).toBe(true)
    }))
  })

  it('ACK at once after 2 ack-eliciting packets or a gap; else within max_ack_delay; never for non-eliciting only', () => {
    const t = new AckTracker(25)
    t.onPacket(0, false, 0)
    expect(t.ackDeadline).toBe(Infinity)
    t.onPacket(1, true, 10)
    expect(t.ackDeadline).toBe(35)
    expect(t.ackDue(34)).toBe(false)
    t.onPacket(2, true, 12)
    expect(t.ackDue(12)).toBe(true)
    const f = t.buildAck(14, 3)
    expect(f?.ranges).toEqual([{ smallest: 0, largest: 2 }])
    expect(f?.ackDelay).toBe(Math.floor(2000 / 8))
    t.onPacket(5, true, 20) // gap: immediate
    expect(t.ackDue(20)).toBe(true)
    const hs = new AckTracker(0)
    hs.onPacket(0, true, 3)
    expect(hs.ackDue(3)).toBe(true)
  })
})

function lossUnit (): {
  ld: LossDetection<string>,
  send: (pn: number, t: number, space?: PacketNumberSpace) => SentPacket<string>
} {
  const ld = new LossDetection<string>(new RttEstimator(), new NewReno(1200), 25)
  ld.handshakeConfirmed = true
  const send = (pn: number, t: number, space = PacketNumberSpace.ApplicationData): SentPacket<string> => {
    const p = { pn, space, timeSent: t, ackEliciting: true, inFlight: true, size: 1200, frames: `p${pn}` }
    ld.onPacketSent(p)
    return p
  }
  return { ld, send }
}

describe('loss detection (RFC 9002 §6)', () => {
  it('an ACK takes exactly the packets its ranges cover, any gaps and ranges (against a naive scan)', () => {
    const pns = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 120 }).map(a => a.sort((x, y) => x - y))
    const ranges = fc.uniqueArray(fc.integer({ min: 0, max: 320 }), { minLength: 2, maxLength: 20 })
      .map(a => a.sort((x, y) => y - x))
      .map(a => {
        const out: Array<[number, number]> = []
        for (let i = 0; i + 1 < a.length; i += 2) out.push([a[i + 1] as number, a[i] as number])
        return out
      })
    fc.assert(fc.property(pns, ranges, (sent, rs) => {
      const { ld, send } = lossUnit()
      for (const pn of sent) send(pn, 0)
      const covered = (pn: number): boolean => rs.some(([lo, hi]) => pn >= lo && pn <= hi)
      const r = ld.onAckReceived(PacketNumberSpace.ApplicationData, ack(...rs), 0, 0)
      expect(r.acked.map(p => p.pn)).toEqual(sent.filter(covered))
      const stillSent = ld.sent[PacketNumberSpace.ApplicationData] as Array<SentPacket<string>>
      const left = [...stillSent, ...r.lost].map(p => p.pn)
      expect(left.sort((x, y) => x - y)).toEqual(sent.filter(pn => !covered(pn)))
    }))
  })

  it('packet threshold: 3 newer packets acknowledged', () => {
    const { ld, send } = lossUnit()
    for (let pn = 0; pn < 5; pn++) send(pn, pn)
    const r = ld.onAckReceived(PacketNumberSpace.ApplicationData, ack([4, 4]), 0, 100)
    expect(r.acked.map(p => p.pn)).toEqual([4])
    expect(r.lost.map(p => p.frames)).toEqual(['p0', 'p1'])
    expect(r.rttSampled).toBe(true)
  })

  it('time threshold: the remaining one is lost when its timer fires', () => {
    const { ld, send } = lossUnit()
    send(0, 0); send(1, 70); send(2, 60)
    const r = ld.onAckReceived(PacketNumberSpace.ApplicationData, ack([2, 2]), 0, 100) // rtt sample 40
    // loss delay 9/8 * 40 = 45: packet 0 (sent at 0) is older than 100 - 45, packet 1 is due at 70 + 45
    expect(r.lost.map(p => p.pn)).toEqual([0])
    const deadline = ld.timerDeadline(100)
    expect(deadline).toBe(115)
    const t = ld.onTimeout(deadline)
    expect(t).toMatchObject({ kind: 'loss' })
    if (t.kind === 'loss') expect(t.lost.map(p => p.pn)).toEqual([1])
  })

  it('PTO fires with probes and backs off exponentially; an ACK resets it', () => {
    const { ld, send } = lossUnit()
    send(0, 0)
    const first = ld.timerDeadline(0)
    expect(first).toBe(INITIAL_RTT_MS + 4 * INITIAL_RTT_MS / 2 + 25)
    expect(ld.onTimeout(first - 1)).toEqual({ kind: 'none' })
    expect(ld.onTimeout(first)).toEqual({ kind: 'pto', space: PacketNumberSpace.ApplicationData, probes: 2 })
    expect(ld.timerDeadline(first)).toBe(2 * first)
    send(1, first)
    ld.onAckReceived(PacketNumberSpace.ApplicationData, ack([0, 1]), 0, first + 10)
    expect(ld.ptoCount).toBe(0)
    expect(ld.timerDeadline(first + 10)).toBe(Infinity)
  })

  it('a client before address validation arms PTO with nothing in flight (anti-deadlock, §6.2.2.1)', () => {
    const { ld } = lossUnit()
    ld.peerCompletedAddressValidation = false
    expect(ld.timerDeadline(0)).toBeLessThan(Infinity)
    expect(ld.onTimeout(ld.timerDeadline(0))).toMatchObject({
      kind: 'pto',
      space: PacketNumberSpace.Initial,
      probes: 1
    })
  })

  it('discarding a space removes its bytes from flight', () => {
    const { ld, send } = lossUnit()
    send(0, 0, PacketNumberSpace.Initial)
    expect(ld.bytesInFlight).toBe(1200)
    ld.discardSpace(PacketNumberSpace.Initial)
    expect(ld.bytesInFlight).toBe(0)
  })
})

describe('NewReno (RFC 9002 §7)', () => {
  it('slow start, one reduction per recovery period, congestion avoidance, persistent congestion', () => {
    const cc = new NewReno(1200)
    expect(cc.congestionWindow).toBe(initialWindow(1200))
    expect(initialWindow(1200)).toBe(12000)
    cc.onPacketSent(12000) // a full window: it may grow (§7.8)
    cc.onPacketAcked(1200, 0)
    expect(cc.congestionWindow).toBe(13200)
    cc.onPacketSent(3600)
    cc.onPacketsLost(1200, 5, 10, false)
    expect(cc.congestionWindow).toBe(6600)
    cc.onPacketsLost(1200, 8, 12, false) // sent before recovery started: no second cut
    expect(cc.congestionWindow).toBe(6600)
    cc.onPacketAcked(1200, 20)
    expect(cc.congestionWindow).toBeCloseTo(6600 + 1200 * 1200 / 6600)
    cc.onPacketsLost(0, 30, 40, true)
    expect(cc.congestionWindow).toBe(minimumWindow(1200))
  })

  it('an underutilized window does not grow (§7.8): a flight held back by the application or flow control', () => {
    // 100 packets acknowledged one by one, with a fake clock: an application-limited sender keeps 2 in flight
    const limited = new LossDetection<string>(new RttEstimator(), new NewReno(1200), 25)
    limited.handshakeConfirmed = true
    for (let pn = 0; pn < 100; pn++) {
      const p = { pn, space: PacketNumberSpace.ApplicationData, timeSent: pn, ackEliciting: true, inFlight: true }
      limited.onPacketSent({ ...p, size: 1200, frames: '' })
      if (pn > 0) limited.onAckReceived(PacketNumberSpace.ApplicationData, ack([pn - 1, pn - 1]), 0, pn + 50)
    }
    expect(limited.cc.congestionWindow).toBe(initialWindow(1200))
    // the same ACKs for a sender that keeps its window full: slow start doubles it per round trip
    const full = new NewReno(1200)
    full.onPacketSent(full.congestionWindow)
    full.onPacketAcked(1200, 0)
    expect(full.congestionWindow).toBe(initialWindow(1200) + 1200)
    // more than half the window in flight still counts in slow start; less than half does not
    const half = new NewReno(1200)
    half.onPacketSent(6001)
    half.onPacketAcked(1200, 0, 6001 + 1200)
    expect(half.congestionWindow).toBe(13200)
    expect(half.windowLimited(6000)).toBe(false)
    // in congestion avoidance only a flight within WINDOW_LIMITED_SLACK_DATAGRAMS of the window counts
    const ca = new NewReno(1200)
    ca.onPacketSent(48000)
    ca.onPacketsLost(1200, 1, 2, false)
    ca.congestionWindow = ca.ssthresh = 60000
    expect(ca.inSlowStart).toBe(false)
    expect(ca.windowLimited(60000 - WINDOW_LIMITED_SLACK_DATAGRAMS * 1200)).toBe(true)
    expect(ca.windowLimited(60000 - WINDOW_LIMITED_SLACK_DATAGRAMS * 1200 - 1)).toBe(false)
    const before = ca.congestionWindow
    ca.onPacketAcked(1200, 10, 30000)
    expect(ca.congestionWindow).toBe(before)
  })

  it('a larger datagram size (DPLPMTUD) recalculates the initial window before the first loss only (§7.2)', () => {
    const cc = new NewReno(1200)
    cc.onDatagramSizeChanged(9000)
    expect(cc.maxDatagramSize).toBe(9000)
    expect(cc.congestionWindow).toBe(initialWindow(9000))
    expect(initialWindow(9000)).toBe(18000)
    const lossy = new NewReno(1200)
    lossy.onPacketSent(2400)
    lossy.onPacketsLost(1200, 5, 10, false)
    lossy.onDatagramSizeChanged(9000)
    expect(lossy.congestionWindow).toBe(6000)
  })

  it('the pacer lets a burst out, then spaces packets at 5/4 cwnd per srtt', () => {
    const p = new Pacer(1200)
    for (let i = 0; i < 10; i++) { expect(p.delayUntil(0, 1200, 12000, 100)).toBe(0); p.onSent(0, 1200, 12000, 100) }
    const next = p.delayUntil(0, 1200, 12000, 100)
    expect(next).toBeCloseTo(1200 / (1.25 * 12000 / 100))
    expect(p.delayUntil(next, 1200, 12000, 100)).toBe(next)
  })

  it('a sender woken by a 1 ms timer still sends a window per round trip (burst of 2 ms at the rate, §7.7)', () => {
    // cwnd 2 MB, srtt 50 ms: the rate is 50 000 bytes per ms, 42 datagrams — more than one burst of 10
    const cwnd = 2_000_000
    const srtt = 50
    const p = new Pacer(1200)
    expect(p.burstBytes(cwnd, srtt)).toBe(PACING_BURST_INTERVAL_MS * 1.25 * cwnd / srtt)
    expect(p.burstBytes(12000, 100)).toBe(PACING_BURST_DATAGRAMS * 1200)
    let sent = 0
    // the fake clock: the sender wakes every whole millisecond (a Node timer's granularity) and sends what it may
    for (let now = 0; now < srtt; now++) {
      while (p.delayUntil(now, 1200, cwnd, srtt) <= now) { p.onSent(now, 1200, cwnd, srtt); sent += 1200 }
    }
    expect(sent).toBeGreaterThanOrEqual(cwnd)
    // and no faster than the rate allows (plus one burst)
    expect(sent).toBeLessThanOrEqual(1.25 * cwnd + p.burstBytes(cwnd, srtt) + 1200)
  })
})

describe('anti-amplification (RFC 9000 §8.1)', () => {
  it('at most 3x the received bytes before validation', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 5000 }))), (steps) => {
        const a = new AmplificationLimit()
        for (const [rx, tx] of steps) {
          a.onReceived(rx)
          const n = Math.min(tx, a.allowance)
          a.onSent(n)
          expect(a.sent).toBeLessThanOrEqual(3 * a.received)
        }
        a.validated = true
        expect(a.allowance).toBe(Infinity)
      })
    )
  })
})
