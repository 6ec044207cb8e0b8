import { describe, expect, it } from 'vitest'
import type { ByteConnection } from '../../src/connection.js'
import { SwitchError } from '../../src/errors.js'
import { resolveConfig } from '../../src/switch/config.js'
import { addressKey, ConnectionManager } from '../../src/switch/connection-manager.js'
import type { PendingUpgrade } from '../../src/switch/connection-manager.js'
import type { PeerConnection } from '../../src/switch/peer-connection.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { PeerId } from '../../src/security/peer-id.js'

function fakeRaw (remoteAddr: string): ByteConnection & { abortedWith: Error | undefined } {
  const raw = {
    remoteAddr,
    localAddr: '/ip4/127.0.0.1/tcp/1',
    direction: 'inbound' as const,
    abortedWith: undefined as Error | undefined,
    abort (err?: Error) { raw.abortedWith = err },
    attach () {},
    detach () {},
    write () { return true },
    writableLength: 0,
    pause () {},
    resume () {},
    closeWrite () {},
    async close () {},
    closed: false
  }
  return raw
}

function fakeConn (
  peer: PeerId,
  status: 'open' | 'closing' | 'closed' = 'open',
  at: { openedAt?: number, lastActivityAt?: number, streamCount?: number } = {}
): PeerConnection {
  const openedAt = at.openedAt ?? Date.now()
  return {
    remotePeer: peer,
    status,
    openedAt,
    lastActivityAt: at.lastActivityAt ?? openedAt,
    streamCount: at.streamCount ?? 0
  } as unknown as PeerConnection
}

const newPeer = (): PeerId => PeerId.fromPublicKey(generateEd25519().publicKey)

describe('ConnectionManager', () => {
  it('keeps connections per peer and hands out only open ones for reuse', () => {
    const m = new ConnectionManager(resolveConfig())
    const peer = newPeer()
    const closing = fakeConn(peer, 'closing')
    const open = fakeConn(peer)
    m.add(closing)
    expect(m.open(peer.toString())).toBeUndefined()
    m.add(open)
    expect(m.open(peer.toString())).toBe(open)
    expect(m.list(peer.toString())).toEqual([closing, open])
    expect(m.size).toBe(2)
    expect(m.remove(open)).toBe(true)
    expect(m.remove(open)).toBe(false)
    expect(m.remove(closing)).toBe(true)
    expect(m.list(peer.toString())).toEqual([])
    expect(m.size).toBe(0)
  })

  it('refuses dials past maxConnections and maxPendingDials, shares one dial per peer', async () => {
    const m = new ConnectionManager(resolveConfig({ maxConnections: 2, maxPendingDials: 1 }))
    const a = newPeer().toString()
    let finish!: (c: PeerConnection) => void
    const attempt = new Promise<PeerConnection>(resolve => { finish = resolve })
    m.checkDial(a)
    const running = m.runDial(a, attempt)
    expect(m.joinDial(a)).toBe(attempt)
    expect(m.dialsInFlight()).toEqual([a])
    expect(() => m.checkDial(newPeer().toString())).toThrow(/"maxPendingDials" expected < 1 dials in flight, got 1/)
    const conn = fakeConn(newPeer())
    finish(conn)
    expect(await running).toBe(conn)
    expect(m.joinDial(a)).toBeUndefined()
    m.add(conn)
    m.add(fakeConn(newPeer()))
    let caught: unknown
    try { m.checkDial(newPeer().toString()) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(SwitchError)
    expect((caught as SwitchError).code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect(() => m.checkRegister(newPeer(), 'inbound')).toThrow(/"maxConnections" expected <= 2/)
  })

  it('evicts the OLDEST pending inbound upgrade at maxPendingConnections, never an outbound one', () => {
    const m = new ConnectionManager(resolveConfig({ maxPendingConnections: 2 }))
    const out = m.track(fakeRaw('/ip4/10.0.0.9/tcp/9'), 'outbound')
    const raws = [1, 2, 3].map(i => fakeRaw(`/ip4/10.0.0.${i}/tcp/${i}`))
    expect(m.admitInbound('/a')).toBeUndefined()
    const first = m.track(raws[0] as ByteConnection, 'inbound')
    expect(m.admitInbound('/b')).toBeUndefined()
    m.track(raws[1] as ByteConnection, 'inbound')
    expect(m.admitInbound('/c')).toBeUndefined()
    expect(raws[0]?.abortedWith).toBeInstanceOf(SwitchError)
    expect(raws[0]?.abortedWith?.message).toMatch(
      /"maxPendingConnections" expected <= 2 upgrading connections: closed the oldest \(\/ip4\/10\.0\.0\.1\/tcp\/1/
    )
    expect(first.cancelled).toBe(raws[0]?.abortedWith)
    expect(raws[1]?.abortedWith).toBeUndefined()
    expect(out.cancelled).toBeUndefined()
    m.track(raws[2] as ByteConnection, 'inbound')
    expect(m.pendingView(Date.now()).map(p => p.remoteAddr)).toEqual([
      '/ip4/10.0.0.9/tcp/9',
      '/ip4/10.0.0.2/tcp/2',
      '/ip4/10.0.0.3/tcp/3'
    ])
    // Untracking the evicted one again (its upgrade failing later) changes nothing.
    m.untrack(first)
    expect(m.admitInbound('/d')).toBeUndefined()
    expect(raws[1]?.abortedWith).toBeDefined()
  })

  it('refuses an inbound connection outright at maxConnections', () => {
    const m = new ConnectionManager(resolveConfig({ maxConnections: 1 }))
    m.add(fakeConn(newPeer()))
    const refusal = m.admitInbound('/ip4/1.2.3.4/tcp/5')
    expect(refusal?.code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect(refusal?.message).toContain('/ip4/1.2.3.4/tcp/5')
  })

  it('cancelAll aborts every upgrade with the given reason', () => {
    const m = new ConnectionManager(resolveConfig())
    const raws = [fakeRaw('/a'), fakeRaw('/b')]
    const ps = [m.track(raws[0] as ByteConnection, 'inbound'), m.track(raws[1] as ByteConnection, 'outbound')]
    const why = new SwitchError('ERR_SWITCH_STOPPED', 'stopping')
    m.cancelAll(why)
    expect(raws.map(r => r.abortedWith)).toEqual([why, why])
    expect(ps.map(p => p.cancelled)).toEqual([why, why])
    expect(m.hasPending).toBe(true) // untracked by the upgrade's own failure path
  })

  it('bounds pending upgrades per remote address (the IP, not the port): one more from a full address is refused at once', () => {
    const m = new ConnectionManager(resolveConfig({ maxPendingConnectionsPerAddress: 2 }))
    const a = [1, 2].map(port => m.track(fakeRaw(`/ip4/10.0.0.1/tcp/${port}`), 'inbound'))
    const refusal = m.admitInbound('/ip4/10.0.0.1/tcp/3')
    expect(refusal?.code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect(refusal?.message).toMatch(
      /"maxPendingConnectionsPerAddress" expected <= 2 upgrading connections from \/ip4\/10\.0\.0\.1, got one more/
    )
    expect(m.admitInbound('/ip4/10.0.0.2/tcp/3')).toBeUndefined()
    m.untrack(a[0] as PendingUpgrade)
    expect(m.admitInbound('/ip4/10.0.0.1/tcp/4')).toBeUndefined()
    // Outbound upgrades never count against an address.
    m.track(fakeRaw('/ip4/10.0.0.1/tcp/9'), 'outbound')
    m.track(fakeRaw('/ip4/10.0.0.1/tcp/5'), 'inbound')
    expect(m.admitInbound('/ip4/10.0.0.1/tcp/6')?.code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect(addressKey('/ip4/10.0.0.1/tcp/6/ws')).toBe('/ip4/10.0.0.1')
  })

  it('counts an IPv6 source by its /64: a flood from one end site spread over its addresses is one address', () => {
    expect(addressKey('/ip6/2001:db8:0:1:aaaa:bbbb:cccc:dddd/tcp/6')).toBe('/ip6/2001:db8:0:1::/64')
    expect(addressKey('/ip6/2001:DB8:0000:0001::7/udp/6/quic-v1')).toBe('/ip6/2001:db8:0:1::/64')
    expect(addressKey('/ip6/2001:db8::1/tcp/6')).toBe('/ip6/2001:db8:0:0::/64')
    expect(addressKey('/ip6/::1/tcp/6')).toBe('/ip6/0:0:0:0::/64')
    expect(addressKey('/ip6/fe80::1:2:3:4/tcp/1')).toBe('/ip6/fe80:0:0:0::/64')
    // an embedded IPv4 part, or anything that is not plain IPv6, counts one by one
    expect(addressKey('/ip6/::ffff:10.0.0.1/tcp/6')).toBe('/ip6/::ffff:10.0.0.1')
    expect(addressKey('/ip6/1:2:3/tcp/6')).toBe('/ip6/1:2:3')
    expect(addressKey('/ip6/1::2::3/tcp/6')).toBe('/ip6/1::2::3')
    const m = new ConnectionManager(resolveConfig({ maxPendingConnectionsPerAddress: 2 }))
    m.track(fakeRaw('/ip6/2001:db8:0:1::a/tcp/1'), 'inbound')
    m.track(fakeRaw('/ip6/2001:db8:0:1:ffff::b/tcp/1'), 'inbound')
    expect(m.admitInbound('/ip6/2001:db8:0:1:1234:5678:9abc:def0/tcp/2')?.message).toMatch(
      /"maxPendingConnectionsPerAddress" expected <= 2 upgrading connections from \/ip6\/2001:db8:0:1::\/64/
    )
    // the next /64 is another source
    expect(m.admitInbound('/ip6/2001:db8:0:2::a/tcp/2')).toBeUndefined()
  })

  it('at maxPendingConnections evicts the oldest upgrade of the BUSIEST address: a flood from one host evicts its own', () => {
    const m = new ConnectionManager(resolveConfig({ maxPendingConnections: 4, maxPendingConnectionsPerAddress: 3 }))
    const honest = fakeRaw('/ip4/10.0.0.1/tcp/1')
    m.track(honest, 'inbound') // the oldest of all
    const flood = [2, 3, 4].map(port => fakeRaw(`/ip4/10.6.6.6/tcp/${port}`))
    for (const r of flood) m.track(r, 'inbound')
    expect(m.admitInbound('/ip4/10.0.0.7/tcp/1')).toBeUndefined()
    expect(honest.abortedWith).toBeUndefined()
    expect(flood[0]?.abortedWith?.message).toMatch(
      /closed the oldest \(\/ip4\/10\.6\.6\.6\/tcp\/2, .* of the address with the most \(3\)/
    )
    expect(flood[1]?.abortedWith).toBeUndefined()
  })

  it('trims least valuable first: past the grace period, unprotected, fewest streams, longest idle', () => {
    const m = new ConnectionManager(
      resolveConfig({
        maxConnections: 8,
        connectionsHighWater: 4,
        connectionsLowWater: 2,
        connectionGracePeriodMs: 1000
      })
    )
    const now = 100_000
    const peers = Array.from({ length: 6 }, newPeer)
    const busy = fakeConn(peers[0] as PeerId, 'open', { openedAt: now - 50_000, streamCount: 2 })
    const idleOld = fakeConn(peers[1] as PeerId, 'open', { openedAt: now - 40_000 })
    const idleRecent = fakeConn(peers[2] as PeerId, 'open', { openedAt: now - 40_000, lastActivityAt: now - 10 })
    const fresh = fakeConn(peers[3] as PeerId, 'open', { openedAt: now - 999 })
    const guarded = fakeConn(peers[4] as PeerId, 'open', { openedAt: now - 90_000 })
    const closing = fakeConn(peers[5] as PeerId, 'closing', { openedAt: now - 90_000 })
    for (const c of [busy, idleOld, idleRecent, fresh, guarded, closing]) m.add(c)
    m.protect(peers[4]?.toString() as string, 'bootstrap')
    expect(m.openCount()).toBe(5)
    // busy has open streams: never a candidate.
    expect(m.trimCandidates(now, 10)).toEqual([idleOld, idleRecent])
    // 5 open > high water 4: down to low water 2 = three to close, two can be.
    expect(m.overHighWater(now)).toEqual([idleOld, idleRecent])
    expect(m.unprotect(peers[4]?.toString() as string, 'other')).toBe(true)
    expect(m.unprotect(peers[4]?.toString() as string, 'bootstrap')).toBe(false)
    expect(m.trimCandidates(now, 1)).toEqual([guarded])
  })

  it('at maxConnections names one connection to trim for the new one, and refuses only when none is past its grace period', () => {
    const m = new ConnectionManager(resolveConfig({ maxConnections: 2, connectionGracePeriodMs: 1000 }))
    const now = 100_000
    const old = fakeConn(newPeer(), 'open', { openedAt: now - 5000 })
    const young = fakeConn(newPeer(), 'open', { openedAt: now - 10 })
    m.add(old)
    m.add(young)
    expect(m.admitInbound('/ip4/1.2.3.4/tcp/5', now)).toBeUndefined()
    expect(m.checkRegister(newPeer(), 'inbound', now)).toBe(old)
    expect(() => { m.checkDial(newPeer().toString(), now) }).not.toThrow()
    m.remove(old)
    m.add(fakeConn(newPeer(), 'open', { openedAt: now - 20 }))
    expect(m.admitInbound('/ip4/1.2.3.4/tcp/6', now)?.message).toMatch(/none past its grace period to trim/)
    expect(() => m.checkRegister(newPeer(), 'inbound', now)).toThrow(
      /"maxConnections" expected <= 2 open connections, got one more \(none past its 1000 ms grace period to trim\)/
    )
  })
})
