/**
 * The receive side charged to a memory budget (connection.ts `attachMemory`): bytes received and not
 * consumed, plus the connection window's growth beyond initial_max_data. An idle connection costs
 * nothing; a peer whose data is never read is held by its windows and by the budget.
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_RESOURCE_CONFIG, ResourceManager } from '../../../src/resources/manager.js'
import { standaloneConnectionScope, type ResourceScope } from '../../../src/resources/scope.js'
import { PeerId } from '../../../src/security/peer-id.js'
import { defaultLocalParameters, type QuicConnection } from '../../../src/transport/quic/connection.js'
import { Harness } from './harness.js'

const KiB = 1024
const MiB = 1024 * KiB
const INITIAL_MAX_DATA = defaultLocalParameters().initialMaxData

/** The connection's receive window (the private ReceiveFlowControl), for the growth tests. */
function connectionWindow (c: QuicConnection): number {
  return (c as unknown as { connRecvFc: { window: number } }).connRecvFc.window
}

/** `streams` streams of `bytes` each, written by the client and never read by the server; their ids. */
function sendUnread (h: Harness, streams: number, bytes: number): number[] {
  const ids = Array.from({ length: streams }, () => h.client.openStream())
  for (const id of ids) h.client.write(id, new Uint8Array(bytes).fill(5))
  return ids
}

/** Run `ms` of the harness's fake time, checking `invariant` after every step. */
function runFor (h: Harness, ms: number, invariant: () => void): void {
  const until = h.now + ms
  h.runUntil(() => { invariant(); return h.now >= until })
}

/** Upload `mib` MiB on each of `streams` streams; the server reads and consumes as it arrives. Bytes received. */
function upload (h: Harness, streams: number, mib: number): number {
  const server = h.server as QuicConnection
  const ids = Array.from({ length: streams }, () => h.client.openStream())
  const chunk = new Uint8Array(16 * KiB).fill(7)
  const written = ids.map(() => 0)
  let received = 0
  let ended = 0
  h.runUntil(() => {
    ids.forEach((id, i) => {
      while ((written[i] as number) < mib * MiB && h.client.buffered(id) < 256 * KiB) {
        h.client.write(id, chunk)
        written[i] = (written[i] as number) + chunk.length
        if (written[i] === mib * MiB) h.client.finish(id)
      }
    })
    for (const e of h.serverEvents.splice(0)) {
      if (e.type !== 'stream-readable') continue
      for (let c = server.read(e.id); c !== undefined; c = server.read(e.id)) {
        if (c === null) { ended++; break }
        received += c.length
        server.consumed(e.id, c.length)
      }
    }
    return ended === streams
  })
  return received
}

describe('QUIC receive memory: idle connections', () => {
  it('300 idle connections, one peer each, charge nothing: more than the 256 MiB process budget held at 1 MiB each', () => {
    const resources = new ResourceManager()
    const n = 300
    for (let i = 0; i < n; i++) {
      const h = new Harness({ seed: i + 1 })
      const server = h.established()
      const scope = resources.openConnection(PeerId.fromPublicKey(h.clientIdentity.publicKey).toString(), `quic ${i}`)
      if (scope instanceof Error) throw scope
      expect(server.attachMemory(scope)).toBeUndefined()
      expect(server.memoryChargedBytes).toBe(0)
    }
    const view = resources.inspect()
    expect(view.connections).toHaveLength(n)
    expect(n * INITIAL_MAX_DATA).toBeGreaterThan(view.process.limits.memoryBytes)
    expect(view.process.usage.memoryBytes).toBe(0)
    expect(view.process.usage.refused.memory).toBe(0)
  })

  it('a budget smaller than the initial window still takes an idle connection; what is held at attach is charged', () => {
    const h = new Harness()
    const server = h.established()
    const ids = sendUnread(h, 1, 10_000)
    h.runUntil(() => server.held === 10_000)
    expect(server.attachMemory(standaloneConnectionScope(9_999))).toMatchObject({ code: 'ERR_RESOURCE_LIMIT' })
    const scope = standaloneConnectionScope(10_000)
    expect(server.attachMemory(scope)).toBeUndefined()
    expect(scope.memory).toBe(10_000)
    // consuming gives it back
    for (let c = server.read(ids[0] as number); c instanceof Uint8Array; c = server.read(ids[0] as number)) {
      server.consumed(ids[0] as number, c.length)
    }
    expect(server.held).toBe(0)
    expect(scope.memory).toBe(0)
  })
})

describe('QUIC receive memory: a peer whose data is never read', () => {
  it('is held by the initial windows: initial_max_data, charged byte for byte, nothing refused', () => {
    const h = new Harness()
    const server = h.established()
    const scope = standaloneConnectionScope(DEFAULT_RESOURCE_CONFIG.connection.memoryBytes)
    expect(server.attachMemory(scope)).toBeUndefined()
    // 8 streams × 256 KiB (each its initial stream window) = 2 MiB offered against a 1 MiB connection window
    sendUnread(h, 8, 256 * KiB)
    h.runUntil(() => server.held === INITIAL_MAX_DATA)
    runFor(h, 2000, () => {
      expect(server.held).toBeLessThanOrEqual(INITIAL_MAX_DATA)
      expect(scope.memory).toBe(server.held)
    })
    expect(server.held).toBe(INITIAL_MAX_DATA)
    expect(server.memoryChargedBytes).toBe(INITIAL_MAX_DATA)
    expect(h.serverEvents.some(e => e.type === 'stream-refused')).toBe(false)
    expect(server.state).toBe('established')
  })

  it('within a smaller connection budget: the stream whose bytes do not fit is reset both ways, the rest is held', () => {
    const h = new Harness()
    const server = h.established()
    const limit = 300 * KiB
    const scope = standaloneConnectionScope(limit)
    expect(server.attachMemory(scope)).toBeUndefined()
    const ids = sendUnread(h, 4, 256 * KiB)
    const check = (): void => {
      expect(scope.memory).toBeLessThanOrEqual(limit)
      expect(scope.memory).toBe(server.held)
    }
    h.runUntil(() => { check(); return h.clientEvents.some(e => e.type === 'stop-sending') })
    runFor(h, 2000, check)
    const refused = h.serverEvents.filter(e => e.type === 'stream-refused').map(e => e.id)
    expect(refused.length).toBeGreaterThan(0)
    expect(ids).toEqual(expect.arrayContaining(refused))
    // the client was told on each refused stream (STOP_SENDING, and RESET_STREAM for its receive side)
    for (const id of refused) {
      expect(h.clientEvents).toContainEqual({ type: 'stop-sending', id, errorCode: 0 })
      expect(h.clientEvents).toContainEqual({ type: 'stream-reset', id, errorCode: 0 })
    }
    expect(scope.refused.memory).toBeGreaterThan(0)
    // the first stream fitted whole and stays held for the application to read
    expect(refused).not.toContain(ids[0])
    expect(server.unconsumed(ids[0] as number)).toBe(256 * KiB)
    expect(server.held).toBeGreaterThanOrEqual(256 * KiB)
    expect(server.state).toBe('established')
  })

  it('two connections of one peer stay within the peer budget; the default peer budget covers 16 initial windows', () => {
    const peerBudget = 1.5 * MiB
    const resources = new ResourceManager({ peer: { memoryBytes: peerBudget } })
    const servers: QuicConnection[] = []
    const harnesses: Harness[] = []
    for (let i = 0; i < 2; i++) {
      const h = new Harness({ seed: 10 + i })
      const server = h.established()
      const scope = resources.openConnection('one-peer', `quic ${i}`) as ResourceScope
      expect(server.attachMemory(scope)).toBeUndefined()
      sendUnread(h, 4, 256 * KiB)
      harnesses.push(h)
      servers.push(server)
    }
    const peerUsage = (): number => resources.inspect().peers[0]?.usage.memoryBytes ?? 0
    for (const h of harnesses) {
      runFor(h, 2000, () => expect(peerUsage()).toBeLessThanOrEqual(peerBudget))
    }
    expect(servers[0]?.held).toBe(INITIAL_MAX_DATA)
    expect(peerUsage()).toBe(servers.reduce((n, s) => n + s.held, 0))
    expect(harnesses[1]?.serverEvents.some(e => e.type === 'stream-refused')).toBe(true)
    // the bound of docs/limits.md: a peer's connections × initial_max_data fit its default budget
    const d = DEFAULT_RESOURCE_CONFIG
    expect(d.peer.connections * INITIAL_MAX_DATA).toBeLessThanOrEqual(d.peer.memoryBytes)
  })
})

describe('QUIC receive memory: window growth', () => {
  it('growth beyond initial_max_data is charged before it is advertised; consumed bytes are given back', () => {
    const h = new Harness({ delayMs: 5 })
    const server = h.established()
    const scope = standaloneConnectionScope(64 * MiB)
    expect(server.attachMemory(scope)).toBeUndefined()
    expect(scope.memory).toBe(0)
    expect(upload(h, 4, 1)).toBe(4 * MiB)
    expect(connectionWindow(server)).toBeGreaterThan(INITIAL_MAX_DATA)
    expect(server.held).toBe(0)
    expect(server.memoryChargedBytes).toBe(connectionWindow(server) - INITIAL_MAX_DATA)
    expect(scope.memory).toBe(server.memoryChargedBytes)
  })

  it('a growth the budget refuses is not granted: the window stays, the transfer completes, the refusal is counted', () => {
    const h = new Harness({ delayMs: 5 })
    const server = h.established()
    const scope = standaloneConnectionScope(512 * KiB)
    expect(server.attachMemory(scope)).toBeUndefined()
    expect(upload(h, 4, 1)).toBe(4 * MiB)
    expect(connectionWindow(server)).toBe(INITIAL_MAX_DATA)
    expect(server.memoryChargedBytes).toBe(0)
    expect(scope.memory).toBe(0)
    expect(scope.refused.memory).toBeGreaterThan(0)
    expect(h.serverEvents.some(e => e.type === 'stream-refused')).toBe(false)
  })
})
