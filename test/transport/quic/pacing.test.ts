/**
 * Pacing in the send path (RFC 9002 §7.7): the machine's pacer gates ack-eliciting datagrams and
 * its one timer (nextTimeout) says when the next may go; on the simulated link with the fake clock
 * no instant sees more than the burst allowance, where an unpaced sender dumps its window at once.
 */
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { PACING_BURST_DATAGRAMS } from '../../../src/transport/quic/congestion.js'
import { FrameType, PacketNumberSpace } from '../../../src/transport/quic/constants.js'
import type { QuicConnection, QuicTraceEvent } from '../../../src/transport/quic/connection.js'
import { Harness, type LinkOptions } from './harness.js'
import { bothWays } from './traffic.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Run a bulk exchange; return how many ack-eliciting 1-RTT packets the server sent at each instant. */
function burstsOf (
  pacing: boolean,
  link: LinkOptions
): { perInstant: Map<number, number>, ok: boolean, duration: number } {
  const perInstant = new Map<number, number>()
  let clock = (): number => 0
  const onTrace = (e: QuicTraceEvent): void => {
    if (e.type !== 'packet' || e.dir !== 'out' || e.space !== PacketNumberSpace.ApplicationData) return
    if (!e.frames.some(f => f.type !== FrameType.Ack && f.type !== FrameType.Padding)) return
    const t = clock()
    perInstant.set(t, (perInstant.get(t) ?? 0) + 1)
  }
  const h = new Harness(link, { client: { pacing }, server: { pacing, onTrace } })
  clock = () => h.now
  h.runUntil(() => h.client.state === 'established' && h.server?.state === 'established')
  const start = h.now
  const t = bothWays(h, 1, 1024 * 1024)
  const ok = sha(t.receivedByClient[0] as Uint8Array) === sha(t.sentByServer[0] as Uint8Array) &&
    sha(t.receivedByServer[0] as Uint8Array) === sha(t.sentByClient[0] as Uint8Array)
  return { perInstant, ok, duration: h.now - start }
}

describe('QUIC pacing (RFC 9002 §7.7)', () => {
  it('no instant carries more than the burst allowance of data packets; the transfer completes intact', () => {
    const r = burstsOf(true, { delayMs: 25 })
    expect(r.ok).toBe(true)
    expect(Math.max(...r.perInstant.values())).toBeLessThanOrEqual(PACING_BURST_DATAGRAMS)
    // the data went out at many distinct instants, spread over the round trips
    expect(r.perInstant.size).toBeGreaterThan(100)
  })

  it('the same exchange unpaced sends bursts far above the allowance (what the pacer prevents)', () => {
    const r = burstsOf(false, { delayMs: 25 })
    expect(r.ok).toBe(true)
    expect(Math.max(...r.perInstant.values())).toBeGreaterThan(3 * PACING_BURST_DATAGRAMS)
  })

  it('paced under loss and reordering: intact, bursts bounded', () => {
    const r = burstsOf(true, { delayMs: 20, jitterMs: 10, dropRate: 0.02, seed: 5 })
    expect(r.ok).toBe(true)
    expect(Math.max(...r.perInstant.values())).toBeLessThanOrEqual(PACING_BURST_DATAGRAMS)
  })

  it('a paced sender with data waiting arms its timer for the pacer, not later', () => {
    const h = new Harness({ delayMs: 25 })
    h.runUntil(() => h.client.state === 'established' && h.server?.state === 'established')
    const server = h.server as QuicConnection
    const id = h.client.openStream()
    h.client.write(id, new Uint8Array(200 * 1024))
    // widen the window so that only the pacer holds data back
    ;(h.client as unknown as { loss: { cc: { congestionWindow: number } } }).loss.cc.congestionWindow = 1e6
    const first = h.client.pollDatagrams(h.now)
    expect(first.length).toBeLessThanOrEqual(PACING_BURST_DATAGRAMS)
    const t = h.client.nextTimeout()
    expect(t).toBeGreaterThan(h.now)
    expect(t).toBeLessThan(h.now + 25)
    // nothing more before the pacer's time; more at it
    expect(h.client.pollDatagrams(h.now)).toEqual([])
    h.client.onTimeout(t)
    expect(h.client.pollDatagrams(t).length).toBeGreaterThan(0)
    expect(server.state).toBe('established')
  })
})
