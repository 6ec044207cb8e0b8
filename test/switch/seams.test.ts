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
import { Multiaddr } from '../../src/transport/multiaddr.js'
import { upgradeInbound, upgradeOutbound } from '../../src/switch/upgrader.js'
import type { HandlerContext } from '../../src/switch/protocol.js'
import { Fleet, gate, waitFor } from '../integration/helpers.js'

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
    expect(invalidConfig(() => new Switch({ transports: [], security: [noise()], muxers: [yamux()] })).message).toMatch(
      /"transports" expected a non-empty list/
    )
    expect(invalidConfig(() => new Switch({ transports: [tcp()], security: [], muxers: [yamux()] })).message).toMatch(
      /"security" expected a non-empty list/
    )
    expect(
      invalidConfig(() => new Switch({ transports: [tcp()], security: [noise()], muxers: [yamux(), yamux()] })).message
    ).toMatch(/"muxers" lists \/yamux\/1\.0\.0 twice/)
    expect(
      invalidConfig(() =>
        new Switch({ transports: [tcp()], security: ['noise' as unknown as SecurityProtocol], muxers: [yamux()] })
      ).message
    ).toMatch(/"security\[0\]" expected a SecurityProtocol/)
    expect(
      invalidConfig(() => new Switch({ transports: [tcp()], security: [noiseAs('no-slash')], muxers: [yamux()] }))
        .message
    ).toMatch(/"security\[0\]"/)
    expect(invalidConfig(() => new Switch(undefined as never)).message).toMatch(/"options" expected/)
  })

  it('muxer settings and layer names are checked before any connection', () => {
    expect(invalidConfig(() => newStandardSwitch({ yamux: { maxFramePayloadBytes: 0 } })).message).toMatch(
      /"muxers" yamux: .*maxFramePayloadBytes/
    )
    expect(invalidConfig(() => newStandardSwitch({ mplex: { maxInboundStreams: -1 } })).message).toMatch(
      /"muxers" mplex: .*maxInboundStreams/
    )
    expect(invalidConfig(() => newStandardSwitch({ security: ['nope' as 'noise'] })).message).toMatch(
      /"security" expected one of noise.*got "nope"/
    )
    expect(invalidConfig(() => newStandardSwitch({ transports: ['carrier-pigeon' as 'tcp'] })).message).toMatch(
      /"transports" expected one of tcp/
    )
    // A factory's own check, at the factory: the same code.
    expect(() => yamux({ maxFramePayloadBytes: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(() => mplex({ maxInboundStreams: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
  })

  it('a listen address no transport can take is refused at construction', () => {
    expect(invalidConfig(() => newStandardSwitch({ listenAddrs: ['/ip4/127.0.0.1/udp/0'] })).message).toMatch(
      /"listenAddrs" expected addresses a transport can listen on \(tcp, ws, quic-v1\), got \/ip4\/127\.0\.0\.1\/udp\/0/
    )
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
    expect(server.inspect().connections.map(c => [c.security, c.multiplexer])).toEqual([[
      '/noise-alt/1.0.0',
      '/yamux/1.0.0'
    ]])
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
      const up = await upgradeOutbound(raw.connection, {
        ...layers,
        identity: opts.identity,
        ...(opts.expectedPeer !== undefined ? { expectedPeer: opts.expectedPeer } : {})
      })
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
    const server = await fleet.standard({
      identity: a.identity,
      transports: [a.transport, 'tcp'],
      listenAddrs: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.2/tcp/0']
    })
    const addrs = server.peerInfo.addrs.map(x => x.toString())
    expect(addrs).toHaveLength(2)
    expect(addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(addrs[1]).toMatch(/^\/ip4\/127\.0\.0\.2\/tcp\/\d+$/)

    const b = selfSecuring()
    const viaTransport = await fleet.standard({
      identity: b.identity,
      listenAddrs: [],
      transports: [b.transport, 'tcp']
    })
    const opened = server.next(
      'connection:open',
      ev =>
        ev.connection.remoteAddr.startsWith('/ip4/127.0.0.1/') && ev.connection.localAddr.startsWith('/ip4/127.0.0.2/')
    )
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

  it('tcp({ localAddress }): dials leave from it, the listener registers it; no other family is dialable', async () => {
    const server = await fleet.standard()
    const addr = server.peerInfo.addrs[0] as Multiaddr
    const clients = await Promise.all(['127.0.0.5', '127.0.2.9'].map(async localAddress =>
      await fleet.standard({ listenAddrs: [], transports: [tcp({ localAddress })] })
    ))
    for (const [i, localAddress] of ['127.0.0.5', '127.0.2.9'].entries()) {
      const client = clients[i] as Switch
      const opened = server.next('connection:open', ev => ev.connection.remotePeer.equals(client.peerId))
      const conn = await client.dial(server.peerId, [addr])
      expect(conn.localAddr).toMatch(new RegExp(`^/ip4/${localAddress.replaceAll('.', '\\.')}/tcp/\\d+$`))
      expect((await opened).connection.remoteAddr).toBe(conn.localAddr)
    }
    const nobody = PeerId.fromPublicKey(generateEd25519().publicKey)
    const err = await (clients[0] as Switch).dial(nobody, ['/ip6/::1/tcp/4001']).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toMatchObject({ code: 'ERR_NO_TRANSPORT' })
    expect(() => tcp({ localAddress: '127.0.0.256' })).toThrow(TypeError)
  })

  it('an upgraded dial that authenticated someone else is refused with ERR_PEER_ID_MISMATCH', async () => {
    const a = selfSecuring()
    const server = await fleet.standard({
      identity: a.identity,
      transports: [a.transport],
      listenAddrs: ['/ip4/127.0.0.2/tcp/0']
    })
    // The transport is not told whom to expect: the switch itself checks what it returns.
    const lax: Transport = {
      ...a.transport,
      dial: async (ma, opts) => await a.transport.dial(ma, { identity: opts.identity })
    }
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

describe('a connection owns its records (one owner, gone with it)', () => {
  it('handler context, running handlers, identify message and resource scope live on the PeerConnection', async () => {
    const server = await fleet.standard()
    const contexts: Array<{ conn: PeerConnection, ctx: HandlerContext }> = []
    const hold = gate()
    server.mount({
      codecs: ['/seams/hold/1.0.0'],
      maxIncomingStreams: 1,
      handler: async (stream, _protocol, ctx) => {
        contexts.push({ conn: stream.connection, ctx })
        await hold.promise
        await stream.close()
      }
    })
    const client = await fleet.standard({ listenAddrs: [] })
    const conn = await client.dial(server.peerId, server.peerInfo.addrs)
    await conn.identified()
    await waitFor('the server identified the client', () => server.connections()[0]?.identity !== undefined)
    const serverConn = server.connections()[0] as PeerConnection
    // identify's raw message is kept by the connection it came on.
    expect(serverConn.identifyMessage?.agentVersion).toBe(serverConn.identity?.agentVersion)
    expect(conn.identifyMessage?.protocols).toContain('/seams/hold/1.0.0')

    // The first stream runs; the second on the same connection is over maxIncomingStreams = 1.
    const limited = server.next('protocol:error')
    await client.dial(server.peerId, server.peerInfo.addrs, '/seams/hold/1.0.0')
    await waitFor('the first handler ran', () => contexts.length === 1)
    await expect(client.dial(server.peerId, server.peerInfo.addrs, '/seams/hold/1.0.0')).rejects.toMatchObject({
      code: 'ERR_STREAM_RESET'
    })
    expect((await limited).stage).toBe('limit')
    // Another connection has its own count and its own context.
    const other = await fleet.standard({ listenAddrs: [] })
    await other.dial(server.peerId, server.peerInfo.addrs, '/seams/hold/1.0.0')
    await waitFor('the handler on the other connection ran', () => contexts.length === 2)
    expect(contexts[0]?.conn).not.toBe(contexts[1]?.conn)
    expect(contexts[0]?.ctx).not.toBe(contexts[1]?.ctx)
    expect(contexts[0]?.ctx).toBe(contexts[0]?.conn.context)
    hold.open()

    // A connection that closes releases its resource scope with it.
    expect(server.inspect().resources.connections).toHaveLength(2)
    const closed = server.next('connection:close', ev => ev.connection === serverConn)
    await conn.close()
    await closed
    expect(server.inspect().resources.connections).toHaveLength(1)
  })
})

describe('dial: one entry, documented forms', () => {
  it('dial(peer, addrs), dial(peer, addrs, protocol), dial("/…/p2p/<id>"[, protocol]) and the deprecated aliases', async () => {
    const server = await fleet.standard()
    const HELLO = '/seams/hello/1.0.0'
    server.mount({
      codecs: [HELLO],
      handler: async (stream) => {
        await stream.write(new TextEncoder().encode('hello'))
        await stream.close()
      }
    })
    const client = await fleet.standard({ listenAddrs: [] })
    const full = `${server.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${server.peerId.toString()}`
    const conn = await client.dial(server.peerId.toString(), server.peerInfo.addrs)
    expect(await client.dial(full)).toBe(conn)
    expect(await client.connect(server.peerId, server.peerInfo.addrs)).toBe(conn)
    for (const stream of [
      await client.dial(server.peerId, server.peerInfo.addrs, HELLO),
      await client.dial(Multiaddr.parse(full), [HELLO]),
      await client.newStream(server.peerId, server.peerInfo.addrs, HELLO)
    ]) {
      expect(stream.connection).toBe(conn)
      expect(stream.protocol).toBe(HELLO)
      expect(new TextDecoder().decode(await stream.readExactly(5))).toBe('hello')
      await stream.close()
    }
    expect(client.connections()).toHaveLength(1)
  })
})
