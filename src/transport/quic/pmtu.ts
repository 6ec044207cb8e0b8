/**
 * Datagram Packetization Layer PMTU Discovery for QUIC (RFC 9000 §14.3, RFC 8899), the search
 * alone, pure: which probe size to try next, and what an acknowledged or lost probe means.
 *
 *   base      1200 bytes, carried by every QUIC path (RFC 9000 §14)
 *   limit     the largest size allowed: min(our ceiling for the path, peer's max_udp_payload_size)
 *   search    the limit first (on loopback, and on any path as large as the limit, one probe ends
 *             the search), then halving between the largest acknowledged and the smallest lost
 *             size until they are within SEARCH_GRANULARITY bytes; a sender whose window cannot
 *             hold such a probe yet asks for a smaller one (`cap`), a step on the way
 *
 * A probe is a PING padded to the size (RFC 9000 §14.4): its loss says the size does not fit
 * and is no sign of congestion (the connection keeps it out of the congestion response). One
 * probe is out at a time. A size fails after MAX_PROBES lost probes of it (RFC 8899 §5.1.2), so
 * a random loss (a socket buffer overflowing on a loaded host) does not end the search low.
 * Black holes (RFC 8899 §4.3): persistent congestion takes the size back to the base, searched no more.
 */
import { MIN_INITIAL_DATAGRAM_SIZE } from './constants.js'

/** RFC 9000 §14: the datagram size every QUIC path carries. */
export const BASE_DATAGRAM_SIZE = MIN_INITIAL_DATAGRAM_SIZE
/** RFC 8899 §5.1.2 MAX_PROBES: lost probes of one size before it counts as too large. */
export const MAX_PROBES = 3
/** The search stops when the largest working and the smallest failing size are this close. */
export const SEARCH_GRANULARITY = 32

export class PathMtuSearch {
  /** The largest size known to work (acknowledged), the datagram size to use. */
  current = BASE_DATAGRAM_SIZE
  /** The smallest size that failed, or limit + 1. */
  private failed: number
  /** The size of the probe in flight, if any. */
  inFlight: number | undefined
  private abandoned = false
  /** Probes of `lostSize` lost so far. */
  private losses = 0
  private lostSize = 0
  /** The largest size allowed. */
  readonly limit: number

  constructor (limit: number) {
    this.limit = Math.max(limit, BASE_DATAGRAM_SIZE)
    this.failed = this.limit + 1
  }

  /** No probe will be sent any more. */
  get done (): boolean {
    return this.abandoned || this.failed - this.current <= SEARCH_GRANULARITY
  }

  /**
   * The size of the next probe, at most `cap` (the sender's budget for one); undefined when one is
   * in flight, the search is over, or `cap` allows no step worth a probe.
   */
  nextProbe (cap = Infinity): number | undefined {
    if (this.inFlight !== undefined || this.done) return undefined
    // the limit itself first; halving after a failure; a smaller cap takes a step towards it
    const target = this.failed > this.limit ? this.limit : Math.floor((this.current + this.failed - 1) / 2)
    if (target <= cap) return target
    const step = Math.floor(cap)
    return step - this.current >= SEARCH_GRANULARITY ? step : undefined
  }

  onProbeSent (size: number): void {
    this.inFlight = size
  }

  /** The probe of `size` was acknowledged: that size works. */
  onProbeAcked (size: number): void {
    if (this.inFlight === size) this.inFlight = undefined
    if (size > this.current && size < this.failed) this.current = size
  }

  /** The probe of `size` was declared lost: it does not fit. */
  onProbeLost (size: number): void {
    if (this.inFlight === size) this.inFlight = undefined
    if (size <= this.current || size >= this.failed) return
    this.losses = size === this.lostSize ? this.losses + 1 : 1
    this.lostSize = size
    if (this.losses < MAX_PROBES && this.nextProbe() === size) return
    this.failed = size
    this.losses = 0
  }

  /** Persistent congestion (a black hole, RFC 8899 §4.3): back to the base size, searched no more. */
  onBlackHole (): void {
    this.current = BASE_DATAGRAM_SIZE
    this.inFlight = undefined
    this.abandoned = true
  }
}
