/**
 * Connection pressure (issue #14): one host opens 1000 authenticated connections and leaves them
 * idle, while an honest client connects during the flood and keeps using its connection. Before
 * the connection manager, 265 such connections filled the table, the honest client was reset
 * during its handshake and stayed locked out as long as the idle ones stayed.
 *
 * The attacker connects from 127.0.0.2, the honest clients from 127.0.0.1 (both loopback), so the
 * per-address bound on pending upgrades applies to the flood and not to them. Assertions are on
 * the listener's own view (`inspect()`, events), never on time or RSS.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { UpgradedConnection } from '../../src/connection.js'
import type { Stream, Switch } from '../../src/index.js'
import { ECHO_CODEC } from '../../src/protocols/constants.js'
import { echoProtocol } from '../../src/protocols/echo.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { PrivateKey } from '../../src/security/keys.js'
import { authenticatedConnection } from '../helpers/authenticated-peer.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
const held: UpgradedConnection[] = []
afterEach(async () => {
  for (const up of held.splice(0)) up.muxer.abort()
  await fleet.stopAll()
})

const ATTACKER_HOST = '127.0.0.2'
const FLOOD = 1000

/** One round trip on a held echo stream. */
async function roundTrip (s: Stream, n: number): Promise<void> {
  const msg = new Uint8Array(64).fill(n)
  await s.write(msg)
  let got = 0
  while (got < msg.length) {
    const chunk = await s.read()
    if (chunk === null) throw new Error('echo stream ended')
    expect(chunk.every(b => b === n)).toBe(true)
    got += chunk.length
  }
}

interface FloodResult {
  authenticated: number
  failed: number
}

/**
 * Open `FLOOD` authenticated connections from ATTACKER_HOST, `concurrency` at a time, and keep
 * every one that stays open (idle: no stream is ever opened). `identity(i)` picks the key of the
 * i-th connection. `during` runs once `startAfter` attempts have finished, while the flood goes on.
 */
async function flood (
  server: Switch,
  identity: (i: number) => PrivateKey,
  concurrency: number,
  startAfter: number,
  during: () => Promise<void>
): Promise<FloodResult> {
  const port = Number(server.peerInfo.addrs[0]?.toString().split('/')[4])
  const result: FloodResult = { authenticated: 0, failed: 0 }
  let next = 0
  let duringDone: Promise<void> | undefined
  const worker = async (): Promise<void> => {
    while (next < FLOOD) {
      const i = next++
      try {
        held.push(
          await authenticatedConnection(port, {
            identity: identity(i),
            expectedPeer: server.peerId,
            localAddress: ATTACKER_HOST
          })
        )
        result.authenticated++
      } catch {
        result.failed++
      }
      if (result.authenticated + result.failed === startAfter) duringDone = during()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  await duringDone
  return result
}

function connectionsFrom (server: Switch, host: string): number {
  return server.inspect().connections.filter(c => c.remoteAddr.startsWith(`/ip4/${host}/`)).length
}

/**
 * An honest client of `server` through a flood: `during` dials and keeps one echo stream in use
 * (run while the flood lasts); `expectStillServed` checks afterwards that the same connection and
 * stream still echo, and that a newcomer is served too.
 */
async function honestClient (server: Switch): Promise<{
  sw: Switch
  during: () => Promise<void>
  expectStillServed: () => Promise<void>
}> {
  const sw = await fleet.bare()
  let stream: Stream | undefined
  let connId = -1
  return {
    sw,
    during: async () => {
      stream = await sw.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
      await roundTrip(stream, 1)
      connId = server.connections(sw.peerId)[0]?.id ?? -1
    },
    expectStillServed: async () => {
      if (stream === undefined) throw new Error('the honest client never got a stream')
      await roundTrip(stream, 2)
      expect(server.connections(sw.peerId).map(c => c.id)).toEqual([connId])
      const late = await fleet.bare()
      await roundTrip(await late.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC), 3)
    }
  }
}

describe('1000 authenticated idle connections from one host (issue #14)', () => {
  it(
    'one peer id: held to its peer connection budget; an honest client connecting during the flood is served and stays served',
    async () => {
      const server = await fleet.bare({ protocols: [echoProtocol] })
      const attackerKey = generateEd25519()
      let maxFromAttacker = 0
      const onOpen = (): void => {
        maxFromAttacker = Math.max(maxFromAttacker, connectionsFrom(server, ATTACKER_HOST))
      }
      server.on('connection:open', onOpen)
      const honest = await honestClient(server)
      const result = await flood(server, () => attackerKey, 8, 200, honest.during)
      expect(result.authenticated + result.failed).toBe(FLOOD)
      const peerLimit = server.resources.config.peer.connections
      expect(maxFromAttacker).toBeLessThanOrEqual(peerLimit)
      const attackerScope = server.resources.inspect().peers.find(p =>
        p.usage.connections > 0 && p.peer !== honest.sw.peerId.toString()
      )
      expect(attackerScope?.usage.refused.connections).toBeGreaterThan(0)
      await honest.expectStillServed()
    },
    120_000
  )

  it(
    '1000 peer ids (keys are free): the connection manager trims the idle ones past their grace period, the honest client keeps its connection',
    async () => {
      const server = await fleet.bare({
        protocols: [echoProtocol],
        // Grace 500 ms: long enough for the honest client's first stream to arrive under load, short
        // enough that the flood's connections become trimmable while it lasts; the cap leaves room
        // for those still in their grace period.
        config: { maxConnections: 256, connectionsHighWater: 64, connectionsLowWater: 32, connectionGracePeriodMs: 500 }
      })
      const keys = Array.from({ length: FLOOD }, () => generateEd25519())
      let trimmed = 0
      let honestTrimmed = false
      let maxOpen = 0
      const honest = await honestClient(server)
      server.on('connection:trim', ({ connection }) => {
        trimmed++
        if (connection.remotePeer.equals(honest.sw.peerId)) honestTrimmed = true
      })
      server.on('connection:open', () => {
        maxOpen = Math.max(maxOpen, server.inspect().connections.filter(c => c.status === 'open').length)
      })
      const result = await flood(server, i => keys[i] as PrivateKey, 8, 200, honest.during)
      expect(result.authenticated).toBeGreaterThan(FLOOD / 2)
      expect(trimmed).toBeGreaterThan(FLOOD / 2)
      expect(maxOpen).toBeLessThanOrEqual(256)
      expect(honestTrimmed).toBe(false)
      // Trimming runs when a connection opens (no timer): what is left is bounded by the cap.
      expect(connectionsFrom(server, ATTACKER_HOST)).toBeLessThanOrEqual(256)
      await honest.expectStillServed()
    },
    120_000
  )

  it(
    'stalled upgrades from four hosts: each held to maxPendingConnectionsPerAddress, and at maxPendingConnections the busiest host loses one, never the honest handshake',
    async () => {
      const server = await fleet.bare({
        protocols: [echoProtocol],
        config: { maxPendingConnections: 16, maxPendingConnectionsPerAddress: 4 }
      })
      const honestErrors: string[] = []
      const refusedPerAddress: string[] = []
      server.on('connection:error', ({ remoteAddr, error }) => {
        if (remoteAddr.startsWith('/ip4/127.0.0.1/')) honestErrors.push(error.message)
        else if (error.message.includes('"maxPendingConnectionsPerAddress"')) refusedPerAddress.push(remoteAddr)
      })
      const port = Number(server.peerInfo.addrs[0]?.toString().split('/')[4])
      // 4 hosts × 50 silent sockets: each would sit in the upgrade until the handshake deadline.
      const sockets: Socket[] = []
      let closed = 0
      for (const host of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) {
        for (let i = 0; i < 50; i++) {
          const sock = connect({ host: '127.0.0.1', port, localAddress: host })
          sock.on('error', () => {})
          sock.on('close', () => {
            closed++
          })
          sockets.push(sock)
        }
      }
      try {
        await waitFor('all but 16 stalled sockets to be refused', () => closed >= 200 - 16, 20_000)
        const pending = server.inspect().pendingUpgrades
        expect(pending).toHaveLength(16)
        for (const host of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) {
          expect(pending.filter(p => p.remoteAddr.startsWith(`/ip4/${host}/`))).toHaveLength(4)
        }
        expect(refusedPerAddress.length).toBe(200 - 16)
        // The table of pending upgrades is full: the honest handshake evicts a stalled one and completes.
        const honest = await fleet.bare()
        const s = await honest.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
        await roundTrip(s, 7)
        expect(honestErrors).toEqual([])
        expect(server.inspect().pendingUpgrades.length).toBeLessThanOrEqual(16)
      } finally {
        for (const sock of sockets) sock.destroy()
      }
    },
    60_000
  )

  it('trims on its ticker too (go connmgr\'s periodic trim): idle connections past their grace period above the high water, with fake time', async () => {
    let offset = 0
    let tick: (() => void) | undefined
    let cleared = false
    const clock = {
      now: () => Date.now() + offset,
      setInterval: (fn: () => void, ms: number) => { expect(ms).toBe(60_000); tick = fn; return 1 },
      clearInterval: (h: unknown) => { expect(h).toBe(1); cleared = true }
    }
    const server = await fleet.bare({
      clock,
      config: { maxConnections: 8, connectionsHighWater: 5, connectionsLowWater: 3, connectionGracePeriodMs: 10_000 }
    })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const trims: string[] = []
    server.on('connection:trim', e => trims.push(e.reason))
    for (let i = 0; i < 7; i++) {
      held.push(await authenticatedConnection(port, { identity: generateEd25519(), expectedPeer: server.peerId }))
    }
    await waitFor('the server to hold seven connections', () => server.inspect().connections.length === 7)
    // above the high water, but every connection is in its grace period: nothing was trimmed at open
    expect(trims).toEqual([])
    expect(tick).toBeDefined()
    tick?.()
    expect(trims).toEqual([])
    // time passes (fake): the next tick trims the idle ones down to the low water
    offset = 10_001
    tick?.()
    expect(trims.length).toBe(4)
    expect(trims[0]).toMatch(/above "connectionsHighWater" \(5\) at the periodic check: trimmed to "connectionsLowWater" \(3\)/)
    await waitFor('the trimmed connections to close', () => server.inspect().connections.length === 3)
    await server.stop()
    expect(cleared).toBe(true)
  })
})
