/**
 * The switch composes what it is given (src/connection.ts seams): several security protocols
 * negotiated with multistream-select, a transport that returns already-upgraded connections (the
 * QUIC shape), several transports listening at once, and every layer list checked at construction.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SecurityProtocol, Transport, TransportConnection } from '../../src/connection.js'
import { SwitchError } from '../../src/errors.js'
import { mplex, newStandardSwitch, noise, standardLayers, Switch, tcp, yamux } from '../../src/index.js'
import type { PeerConnection } from '../../src/index.js'
import { ping } from '../../src/protocols/ping.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { PeerId } from '../../src/security/peer-id.js'
import { upgradeInbound, upgradeOutbound } from '../../src/switch/upgrader.js'
import { Fleet } from '../integration/helpers.js'

const fleet = new Fleet()
afterEach(async () => { await fleet.stopAll() })

/** Noise under another multistream id: a second security protocol with a real handshake. */
function noiseAs (protocol: string): SecurityProtocol {
  return { ...noise(), protocol }
}

/** A protocol no listener speaks: proposing it must cost an `na`, never a handshake. */
const refused: SecurityProtocol = {
  protocol: '/refused/1.0.0',
  secureOutbound: async () => { throw new Error('never chosen') },
  secureInbound: async () => { throw new Error('never chosen') }
}

function invalidConfig (make: () => unknown): SwitchError {
  let caught: unknown
  try { make() } catch (err) { caught = err }
  expect(caught).toBeInstanceOf(SwitchError)
  expect((caught as SwitchError).code).toBe('ERR_INVALID_CONFIG')
  return caught as SwitchError
}

describe('the switch checks its layers at construction, with one error type', () => {
  it('empty, malformed and duplicate layer lists', () => {
    expect(invalidConfig(() => new Switch({ transports: [], security: [noise()], muxers: [yamux()] })).message).toMatch(/"transports" expected a non-empty list/)
    expect(invalidConfig(() => new Switch({ transports: [tcp()], security: [], muxers: [yamux()] })).message).toMatch(/"security" expected a non-empty list/)
    expect(invalidConfig(() => new Switch({ transports: [tcp()], security: [noise()], muxers: [yamux(), yamux()] })).message).toMatch(/"muxers" lists \/yamux\/1\.0\.0 twice/)
    expect(invalidConfig(() => new Switch({ transports: [tcp()], security: ['noise' as unknown as SecurityProtocol], muxers: [yamux()] })).message).toMatch(/"security\[0\]" expected a SecurityProtocol/)
    expect(invalidConfig(() => new Switch({ transports: [tcp()], security: [noiseAs('no-slash')], muxers: [yamux()] })).message).toMatch(/"security\[0\]"/)
    expect(invalidConfig(() => new Switch(undefined as never)).message).toMatch(/"options" expected/)
  })

  it('muxer settings and layer names are checked before any connection', () => {
    expect(invalidConfig(() => newStandardSwitch({ yamux: { maxFramePayloadBytes: 0 } })).message).toMatch(/"muxers" yamux: .*maxFramePayloadBytes/)
    expect(invalidConfig(() => newStandardSwitch({ mplex: { maxInboundStreams: -1 } })).message).toMatch(/"muxers" mplex: .*maxInboundStreams/)
    expect(invalidConfig(() => newStandardSwitch({ security: ['nope' as 'noise'] })).message).toMatch(/"security" expected one of noise.*got "nope"/)
    expect(invalidConfig(() => newStandardSwitch({ transports: ['carrier-pigeon' as 'tcp'] })).message).toMatch(/"transports" expected one of tcp/)
    // A factory's own check, at the factory: the same code.
    expect(() => yamux({ maxFramePayloadBytes: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(() => mplex({ maxInboundStreams: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
  })

  it('a listen address no transport can take is refused at construction', () => {
    expect(invalidConfig(() => newStandardSwitch({ listenAddrs: ['/ip4/127.0.0.1/udp/0'] })).message).toMatch(/"listenAddrs" expected addresses a transport can listen on \(tcp\), got \/ip4\/127\.0\.0\.1\/udp\/0/)
  })

  it('an address no transport can dial fails that dial with ERR_NO_TRANSPORT', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard({ listenAddrs: [] })
    const err = await client.dial(server.peerId, ['/ip4/127.0.0.1/udp/4001']).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_NO_TRANSPORT' })
  })
})

describe('security negotiated with multistream-select', () => {
  it('the dialer\'s first choice the listener speaks wins; both sides, events and inspect() report it', async () => {
    const server = await fleet.standard({ security: [noise(), noiseAs('/noise-alt/1.0.0')] })
    const client = await fleet.standard({ listenAddrs: [], security: [noiseAs('/noise-alt/1.0.0'), noise()] })
    const opened = server.next('connection:open')
    const conn = await client.dial(server.peerId, server.peerInfo.addrs)
    expect(conn.security).toBe('/noise-alt/1.0.0')
    expect(conn.encryption).toBe('/noise-alt/1.0.0')
    expect((await opened).connection.security).toBe('/noise-alt/1.0.0')
    expect(server.inspect().connections.map(c => [c.security, c.multiplexer])).toEqual([['/noise-alt/1.0.0', '/yamux/1.0.0']])
    expect(await ping(await conn.newStream(PING_CODEC), { count: 1 })).toHaveLength(1)
  })

  it('a refused proposal is followed by the next one', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard({ listenAddrs: [], security: [refused, noise()] })
    const opened = server.next('connection:open')
    const conn = await client.dial(server.peerId, server.peerInfo.addrs)
    expect(conn.security).toBe('/noise')
    expect((await opened).connection.security).toBe('/noise')
  })

  it('no protocol in common: the upgrade fails at the multistream stage, for both sides', async () => {
    const server = await fleet.standard({ security: [noiseAs('/noise-alt/1.0.0')] })
    // Two proposals, so the dialer waits for each answer (a lone lazy proposal would have its
    // handshake bytes read as the next proposal, and the listener would cut the connection).
    const client = await fleet.standard({ listenAddrs: [], security: [refused, noise()] })
    const serverError = server.next('connection:error')
    const err = await client.dial(server.peerId, server.peerInfo.addrs).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL_NOT_SUPPORTED' })
    expect((await serverError).stage).toBe('multistream')
    expect(server.connections()).toHaveLength(0)
  })
})

/**
 * A transport that secures and multiplexes its connections itself (as QUIC does), built here from
 * TCP and the upgrader; it answers only for 127.0.0.2, so TCP keeps 127.0.0.1.
 */
function selfSecuring (identity = generateEd25519()): { transport: Transport, identity: typeof identity } {
  const inner = tcp()
  const layers = { security: [noise()], muxers: [yamux()], handshakeTimeoutMs: 5000 }
  const mine = (ma: { toString: () => string }): boolean => ma.toString().startsWith('/ip4/127.0.0.2/')
  const transport: Transport = {
    name: 'self-securing',
    canDial: (ma) => mine(ma) && inner.canDial(ma),
    canListen: (ma) => mine(ma) && inner.canListen(ma),
    dial: async (ma, opts): Promise<TransportConnection> => {
      const raw = await inner.dial(ma, { identity: opts.identity })
      if (raw.kind !== 'raw') throw new Error('expected a raw TCP connection')
      const up = await upgradeOutbound(raw.connection, { ...layers, identity: opts.identity, ...(opts.expectedPeer !== undefined ? { expectedPeer: opts.expectedPeer } : {}) })
      return { kind: 'upgraded', connection: { ...up, muxerNegotiation: 'transport' } }
    },
    listen: async (ma, opts) => await inner.listen(ma, {
      identity: opts.identity,
      onConnection: (tc) => {
        if (tc.kind !== 'raw') return
        upgradeInbound(tc.connection, { ...layers, identity: opts.identity }).then(
          up => { opts.onConnection({ kind: 'upgraded', connection: { ...up, muxerNegotiation: 'transport' } }) },
          () => {}
        )
      }
    })
  }
  return { transport, identity }
}

describe('transports', () => {
  it('listens on several transports at once; an upgraded connection is registered as it is', async () => {
    const a = selfSecuring()
    const server = await fleet.standard({ identity: a.identity, transports: [a.transport, 'tcp'], listenAddrs: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.2/tcp/0'] })
    const addrs = server.peerInfo.addrs.map(x => x.toString())
    expect(addrs).toHaveLength(2)
    expect(addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(addrs[1]).toMatch(/^\/ip4\/127\.0\.0\.2\/tcp\/\d+$/)

    const b = selfSecuring()
    const viaTransport = await fleet.standard({ identity: b.identity, listenAddrs: [], transports: [b.transport, 'tcp'] })
    const opened = server.next('connection:open', ev => ev.connection.remoteAddr.startsWith('/ip4/127.0.0.1/') && ev.connection.localAddr.startsWith('/ip4/127.0.0.2/'))
    const c1: PeerConnection = await viaTransport.dial(server.peerId, [addrs[1] as string])
    expect(c1.muxerNegotiation).toBe('transport')
    expect(c1.security).toBe('/noise')
    expect((await opened).connection.muxerNegotiation).toBe('transport')
    expect(await ping(await c1.newStream(PING_CODEC), { count: 1 })).toHaveLength(1)
    expect(viaTransport.inspect().pendingUpgrades).toEqual([])

    const viaTcp = await fleet.standard({ listenAddrs: [] })
    const opened2 = server.next('connection:open', ev => ev.connection.localAddr.startsWith('/ip4/127.0.0.1/'))
    const c2 = await viaTcp.dial(server.peerId, [addrs[0] as string])
    expect(c2.muxerNegotiation).toBe('early')
    expect((await opened2).connection.muxerNegotiation).toBe('early')
    expect(server.connections().map(c => c.muxerNegotiation).sort()).toEqual(['early', 'transport'])
  })

  it('an upgraded dial that authenticated someone else is refused with ERR_PEER_ID_MISMATCH', async () => {
    const a = selfSecuring()
    const server = await fleet.standard({ identity: a.identity, transports: [a.transport], listenAddrs: ['/ip4/127.0.0.2/tcp/0'] })
    // The transport is not told whom to expect: the switch itself checks what it returns.
    const lax: Transport = { ...a.transport, dial: async (ma, opts) => await a.transport.dial(ma, { identity: opts.identity }) }
    const other = generateEd25519()
    const client = new Switch(standardLayers({ transports: [lax], listenAddrs: [], log: () => {} }))
    try {
      const wrong = PeerId.fromPublicKey(other.publicKey)
      const err = await client.dial(wrong, server.peerInfo.addrs).then(() => undefined, (e: unknown) => e)
      expect(err).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
      expect(client.connections()).toHaveLength(0)
    } finally {
      await client.stop()
    }
  })
})
