import { describe, expect, it } from 'vitest'
import type { ByteConnection } from '../../src/connection.js'
import { SwitchError } from '../../src/errors.js'
import { resolveConfig } from '../../src/switch/config.js'
import { ConnectionManager } from '../../src/switch/connection-manager.js'
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

function fakeConn (peer: PeerId, status: 'open' | 'closing' | 'closed' = 'open'): PeerConnection {
  return { remotePeer: peer, status } as unknown as PeerConnection
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
    expect(raws[0]?.abortedWith?.message).toMatch(/"maxPendingConnections" expected <= 2 upgrading connections: closed the oldest \(\/ip4\/10\.0\.0\.1\/tcp\/1/)
    expect(first.cancelled).toBe(raws[0]?.abortedWith)
    expect(raws[1]?.abortedWith).toBeUndefined()
    expect(out.cancelled).toBeUndefined()
    m.track(raws[2] as ByteConnection, 'inbound')
    expect(m.pendingView(Date.now()).map(p => p.remoteAddr)).toEqual(['/ip4/10.0.0.9/tcp/9', '/ip4/10.0.0.2/tcp/2', '/ip4/10.0.0.3/tcp/3'])
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
})
