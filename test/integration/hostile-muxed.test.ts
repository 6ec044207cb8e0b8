/**
 * Hostile peers AFTER the handshake: authenticated (real Noise + yamux/mplex), then misbehaving
 * inside the secure channel, while an honest peer uses the same listener. Assertions are on the
 * listener's own accounting (`inspect().resources`), never on RSS (bench/hostile reports RSS).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Stream, Switch } from '../../src/index.js'
import { ECHO_CODEC } from '../../src/protocols/constants.js'
import { echo, echoProtocol } from '../../src/protocols/echo.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
afterEach(async () => { await fleet.stopAll() })

const KiB = 1024
const MiB = 1024 * KiB

async function honest (server: Switch): Promise<void> {
  const client = await fleet.bare()
  const s = await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
  const got = await echo(s, new Uint8Array(100 * KiB).fill(3))
  expect(got.length).toBe(100 * KiB)
  await client.stop()
}

describe.each(['yamux', 'mplex'] as const)('authenticated peer, never-read echo flood over %s', (muxer) => {
  it(
    'the attacker is held to its peer budget, honest peers are served, and everything is released when it leaves',
    async () => {
      // Echo's own limit (128 streams per connection) lifted: the memory budget alone must hold the attacker.
      const server = await fleet.bare({
        protocols: [{ ...echoProtocol, maxIncomingStreams: 1000 }],
        resources: { peer: { memoryBytes: 4 * MiB } }
      })
      const attacker = await fleet.bare({ muxers: [muxer] })
      const { peerId, addrs } = server.peerInfo
      const streams: Stream[] = []
      let settled = 0
      const payload = new Uint8Array(256 * KiB).fill(9)
      // 60 streams × 256 KiB written, nothing read back: the echoes back up and the server stops reading.
      // All 60 are negotiated before the first write: a listener at its budget refuses new streams, so
      // opening them while earlier ones fill it would race the data.
      for (let i = 0; i < 60; i++) streams.push(await attacker.dial(peerId, addrs, ECHO_CODEC))
      for (const s of streams) {
        void s.write(payload).catch(() => {}).finally(() => {
          settled++
        })
      }
      let peak = 0
      await waitFor('the attacker\'s data to reach its budget or be refused', () => {
        const v = server.inspect().resources
        const p = v.peers.find(x => x.peer === attacker.peerId.toString())
        peak = Math.max(peak, p?.usage.memoryBytes ?? 0)
        // yamux: the windows let the echoes back up until the budget refuses; mplex (no flow
        // control) lets every write through, the attacker's own side buffering the echoes.
        return (p?.usage.refused.memory ?? 0) > 0 || (p?.usage.memoryBytes ?? 0) >= 3 * MiB || settled === 60
      }, 20_000)
      expect(peak).toBeLessThanOrEqual(4 * MiB)
      const during = server.inspect().resources
      const p = during.peers.find(x => x.peer === attacker.peerId.toString())
      expect(p?.usage.memoryBytes).toBeLessThanOrEqual(4 * MiB)
      expect(during.process.usage.memoryBytes).toBeLessThanOrEqual(4 * MiB + 1 * MiB)
      expect(streams).toHaveLength(60)
      await honest(server)
      await attacker.stop()
      await waitFor('the attacker\'s scopes to be released', () => {
        const v = server.inspect().resources
        return v.process.usage.memoryBytes === 0 && v.peers.length === 0 && v.process.usage.connections === 0
      }, 10_000)
      await honest(server)
    },
    60_000
  )
})
