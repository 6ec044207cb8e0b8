/**
 * Latency against peers that leave Nagle's algorithm on (rust-libp2p's `tcp::Config` default has
 * `nodelay` off). Such a peer sends a small write at once and holds the next one until its first
 * is acknowledged; our kernel delays that ACK (~40 ms on Linux) unless we send something. So every
 * time our batch makes the peer answer with two writes, one round trip costs ~40 ms. A yamux Ping
 * in our first batch did exactly that (rust-yamux answers a Ping at once, the streams a moment
 * later): ~46 ms on the first request of every connection to such a listener.
 *
 * No timing here: the test asserts the write pattern that avoids the stall — Nagle off on our own
 * sockets, no yamux Ping before any window moves (session.ts §RTT), one TCP write per ping round
 * on an open stream, each way.
 */
import { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TraceEvent } from '../../src/index.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { ping } from '../../src/protocols/ping.js'
import { FrameType } from '../../src/muxer/constants.js'
import { TcpConnection } from '../../src/transport/tcp.js'
import { Fleet } from './helpers.js'

const fleet = new Fleet()
afterEach(async () => {
  vi.restoreAllMocks()
  await fleet.stopAll()
})

describe('peers with Nagle on: our write pattern never makes them answer one batch twice', () => {
  it('TCP_NODELAY on both ends, no yamux Ping on setup, identify or ping, one TCP write per round each way', async () => {
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay')
    const writes = vi.spyOn(TcpConnection.prototype, 'write')
    const pings: Array<{ side: string, dir: string }> = []
    const observer = (side: string) => ({
      event: (e: TraceEvent): void => {
        if (e.layer === 'yamux' && e.kind === 'frame' && e.frameType === FrameType.Ping) {
          pings.push({ side, dir: e.dir })
        }
      }
    })
    const server = await fleet.standard({ observer: observer('listener') })
    const client = await fleet.standard({ observer: observer('dialer') })

    const addr = `${server.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${server.peerId.toString()}`
    // Setup (Noise, yamux), identify both ways, and a ping round trip.
    expect(await ping(await client.dial(addr, PING_CODEC), { count: 2 })).toHaveLength(2)

    // Our sockets: Nagle off, every one of them (dialed and accepted).
    expect(noDelay.mock.calls.filter(([on]) => on !== false).length).toBeGreaterThanOrEqual(2)
    expect(noDelay.mock.calls.filter(([on]) => on === false)).toEqual([])

    // Rounds on one open stream: exactly one TCP write per round on each side.
    const perRound: number[] = []
    const s2 = await client.dial(addr, PING_CODEC)
    const payload = new Uint8Array(32).fill(7)
    await s2.write(payload)
    await s2.readExactly(32) // the negotiation is behind us
    for (let i = 0; i < 5; i++) {
      const before = writes.mock.calls.length
      await s2.write(payload)
      await s2.readExactly(32)
      perRound.push(writes.mock.calls.length - before)
    }
    await s2.close()
    // one write by the dialer (the payload) and one by the listener (the echo)
    expect(perRound).toEqual([2, 2, 2, 2, 2])

    // Setup, identify, ping: no yamux Ping either way (the RTT is measured once windows move).
    expect(pings).toEqual([])
  })
})
