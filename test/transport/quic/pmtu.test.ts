/**
 * DPLPMTUD (RFC 9000 §14.3, RFC 8899): the search alone, and two machines over a simulated path
 * whose MTU drops larger datagrams — they settle just under it, the lost probes shrink no window,
 * and every byte arrives.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { initialWindow } from '../../../src/transport/quic/congestion.js'
import type { QuicConnection } from '../../../src/transport/quic/connection.js'
import { BASE_DATAGRAM_SIZE, MAX_PROBES, PathMtuSearch, SEARCH_GRANULARITY } from '../../../src/transport/quic/pmtu.js'
import { Harness } from './harness.js'
import { bothWays } from './traffic.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Probe until the search ends, each probe acknowledged when it fits `mtu`; the probe sizes. */
function search (limit: number, mtu: number): { s: PathMtuSearch, probes: number[] } {
  const s = new PathMtuSearch(limit)
  const probes: number[] = []
  for (let size = s.nextProbe(); size !== undefined; size = s.nextProbe()) {
    probes.push(size)
    s.onProbeSent(size)
    expect(s.nextProbe()).toBeUndefined() // one at a time
    if (size <= mtu) s.onProbeAcked(size)
    else s.onProbeLost(size)
    if (probes.length > 64 * MAX_PROBES) throw new Error('search does not end')
  }
  return { s, probes }
}

interface Internals {
  datagramSize: number
  loss: { cc: { ssthresh: number, maxDatagramSize: number, congestionWindow: number } }
}
const internals = (c: QuicConnection): Internals => c as unknown as Internals

describe('DPLPMTUD search (pmtu.ts)', () => {
  it('tries the limit first: a path that carries it ends the search with one probe', () => {
    const { s, probes } = search(65507, 65535)
    expect(probes).toEqual([65507])
    expect(s.current).toBe(65507)
    expect(s.done).toBe(true)
  })

  it('a limit of 1200 (or less) never probes', () => {
    expect(new PathMtuSearch(1200).nextProbe()).toBeUndefined()
    expect(new PathMtuSearch(500).current).toBe(BASE_DATAGRAM_SIZE)
  })

  it('settles within the granularity below any path MTU, never above it, in few probes', () => {
    const sizes = [fc.integer({ min: 1200, max: 65527 }), fc.integer({ min: 1200, max: 70000 })] as const
    fc.assert(fc.property(...sizes, (limit, mtu) => {
      const { s, probes } = search(limit, mtu)
      const best = Math.min(limit, mtu)
      expect(s.current).toBeLessThanOrEqual(best)
      expect(best - s.current).toBeLessThanOrEqual(SEARCH_GRANULARITY)
      expect(new Set(probes).size).toBeLessThanOrEqual(13)
      expect(probes.length).toBeLessThanOrEqual(13 * MAX_PROBES)
      expect(Math.max(...probes, 0)).toBeLessThanOrEqual(limit)
    }))
  })

  it(`a lost probe is sent again; ${MAX_PROBES} losses of one size make it fail (RFC 8899 MAX_PROBES)`, () => {
    const s = new PathMtuSearch(9000)
    s.onProbeSent(9000)
    s.onProbeLost(9000)
    expect(s.nextProbe()).toBe(9000) // one random loss: again
    s.onProbeSent(9000)
    s.onProbeAcked(9000)
    expect(s.current).toBe(9000)
    const t = new PathMtuSearch(9000)
    for (let i = 0; i < MAX_PROBES; i++) { t.onProbeSent(9000); t.onProbeLost(9000) }
    expect(t.nextProbe()).toBeLessThan(9000)
  })

  it('a black hole (persistent congestion) takes the size back to 1200 for good', () => {
    const { s } = search(9000, 9000)
    expect(s.current).toBe(9000)
    s.onBlackHole()
    expect(s.current).toBe(BASE_DATAGRAM_SIZE)
    expect(s.nextProbe()).toBeUndefined()
  })

  it('a window too small for the next probe asks for a step towards it, or none worth a probe', () => {
    const s = new PathMtuSearch(65507)
    expect(s.nextProbe(6000)).toBe(6000)
    expect(s.nextProbe(1220)).toBeUndefined()
    s.onProbeSent(6000)
    s.onProbeAcked(6000)
    expect(s.current).toBe(6000)
    expect(s.nextProbe()).toBe(65507)
  })

  it('an acknowledgement or loss of a probe no longer in flight changes nothing it should not', () => {
    const s = new PathMtuSearch(4000)
    for (let i = 0; i < MAX_PROBES; i++) {
      expect(s.nextProbe()).toBe(4000)
      s.onProbeSent(4000)
      s.onProbeLost(4000)
    }
    s.onProbeAcked(4000) // late ACK after a spurious loss: the size works after all
    expect(s.current).toBe(BASE_DATAGRAM_SIZE) // above the failed bound: ignored, the search goes on below
    expect(s.nextProbe()).toBeLessThan(4000)
  })
})

describe('DPLPMTUD between two machines over a path with an MTU', () => {
  it('both settle just under the path MTU; probe losses shrink no window; data intact both ways', () => {
    const h = new Harness({ delayMs: 5, mtu: 4000 }, {
      client: { maxDatagramSize: 9000 },
      server: { maxDatagramSize: 9000 }
    })
    const server = h.established()
    const t = bothWays(h, 2, 1024 * 1024)
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
    for (const c of [h.client, server]) {
      const size = internals(c).datagramSize
      expect(size).toBeLessThanOrEqual(4000)
      expect(size).toBeGreaterThan(4000 - SEARCH_GRANULARITY)
      expect(internals(c).loss.cc.maxDatagramSize).toBe(size)
      // the only losses were probes: no congestion response; the window at least the initial one of the new size
      expect(internals(c).loss.cc.ssthresh).toBe(Infinity)
      expect(internals(c).loss.cc.congestionWindow).toBeGreaterThanOrEqual(initialWindow(size))
    }
    expect(h.datagrams.tooLarge).toBeGreaterThan(0)
  })

  it('without a ceiling (the default) nothing larger than 1200 bytes is sent', () => {
    const h = new Harness({ delayMs: 5 })
    h.established()
    const t = bothWays(h, 1, 128 * 1024)
    expect(t.receivedByClient.map(sha)).toEqual(t.sentByServer.map(sha))
    expect(h.datagrams.largest).toBeLessThanOrEqual(1200)
  })

  it('the peer\'s max_udp_payload_size caps the search (RFC 9000 §18.2)', () => {
    const h = new Harness({ delayMs: 5 }, {
      client: { maxDatagramSize: 9000 },
      server: { maxDatagramSize: 9000, transportParameters: { maxUdpPayloadSize: 1500 } }
    })
    const server = h.established()
    const t = bothWays(h, 1, 128 * 1024)
    expect(t.receivedByServer.map(sha)).toEqual(t.sentByClient.map(sha))
    expect(internals(h.client).datagramSize).toBe(1500)
    // the server's own search is capped by the client's 9000 only (a step short of it when the transfer ends first)
    expect(internals(server).datagramSize).toBeGreaterThan(1500)
    expect(internals(server).datagramSize).toBeLessThanOrEqual(9000)
    expect(server.localParams.maxUdpPayloadSize).toBe(1500)
  })
})
