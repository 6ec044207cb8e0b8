/**
 * Two (or more) switches over loopback TCP + Noise + yamux/mplex: streams, reuse, dial errors,
 * handler failures, graceful stop, limits, identify, muxer fallback.
 */
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EndOfStreamError,
  LPProtocol,
  NoiseError,
  PeerId,
  ProtocolNotSupportedError,
  StreamResetError,
  SwitchError,
  SwitchyardError,
  TransportError,
  generateEd25519
} from '../../src/index.js'
import type { PeerConnection, Stream, Switch, SwitchEvents, TraceEvent } from '../../src/index.js'
import { echo, echoProtocol } from '../../src/protocols/echo.js'
import { ECHO_CODEC, PING_CODEC, STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { ping } from '../../src/protocols/ping.js'
import { identifyPush } from '../../src/protocols/identify.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { closedPort, Fleet, gate, text, utf8, waitFor } from './helpers.js'
import { Flag, FrameType } from '../../src/muxer/constants.js'
import { createYamux, YAMUX_PROTOCOL_ID } from '../../src/muxer/yamux.js'
import { selectOnStream } from '../../src/multistream/negotiate.js'
import { upgradeOutbound } from '../../src/switch/upgrader.js'
import { noise } from '../../src/security/noise.js'
import { dial as tcpDial } from '../../src/transport/tcp.js'
import type { Multiaddr } from '../../src/transport/multiaddr.js'

const fleet = new Fleet()
afterEach(async () => {
  await fleet.stopAll()
})

const TUTORIAL_PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)

/**
 * A stream the server resets right after accepting its protocol: the reset may overtake the
 * accepting echo (then the dial fails) or follow it (then the first read fails). Either way, the
 * error the client meets first.
 */
async function resetOutcome (dialing: Promise<Stream>): Promise<unknown> {
  return await dialing.then(async s => await s.read()).then(() => undefined, (e: unknown) => e)
}

/**
 * `/slow/1.0.0`, a handler that is in the middle of its exchange when the switch stops: it reads
 * one message, says it `started`, waits for `release`, then writes `late 0` … `late n-1` and closes.
 */
function slowProtocol (started: { open: () => void }, release: { promise: Promise<void> }, n: number): LPProtocol {
  return new LPProtocol({
    codecs: ['/slow/1.0.0'],
    handler: async (stream) => {
      await stream.readLp(100)
      started.open()
      await release.promise
      for (let i = 0; i < n; i++) await stream.writeLp(`late ${i}`)
      await stream.close()
    }
  })
}

/** `/hold/1.0.0`, a handler that keeps each stream open until `release`, then closes it. */
function holdProtocol (release: { promise: Promise<void> }): LPProtocol {
  return new LPProtocol({
    codecs: ['/hold/1.0.0'],
    handler: async (s) => {
      await release.promise
      await s.close()
    }
  })
}

/** Every length-prefixed message until the remote ends the stream (which must be how it stops). */
async function readLpsToEnd (s: Stream): Promise<string[]> {
  const got: string[] = []
  for (;;) {
    try {
      got.push(text(await s.readLp(100)))
    } catch (err) {
      expect(err).toBeInstanceOf(EndOfStreamError)
      return got
    }
  }
}

async function waitForConnection (sw: Switch, peer: PeerId): Promise<PeerConnection> {
  await waitFor(`a connection to ${peer.toString()}`, () => sw.connections(peer).length > 0)
  return sw.connections(peer)[0] as PeerConnection
}

describe('streams and connections', () => {
  it('runs many concurrent streams on one connection', async () => {
    const server = await fleet.standard({ protocols: [echoProtocol] })
    const client = await fleet.standard()
    const { peerId, addrs } = server.peerInfo
    const results = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const s = await client.dial(peerId, addrs, ECHO_CODEC)
      const payload = utf8(`stream ${i} `.repeat(100 + i))
      const back = await echo(s, payload)
      return text(back) === text(payload)
    }))
    expect(results.every(Boolean)).toBe(true)
    expect(client.connections(peerId)).toHaveLength(1)
    expect(server.connections()).toHaveLength(1)
  })

  it('reuses the connection for later streams', async () => {
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const { peerId, addrs } = server.peerInfo
    const s1 = await client.dial(peerId, addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s1)).toEqual(TUTORIAL_PARTS)
    const s2 = await client.dial(peerId, addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s2)).toEqual(TUTORIAL_PARTS)
    expect(s1.connection).toBe(s2.connection)
    expect(s1.id).not.toBe(s2.id)
    expect(client.connections(peerId)).toHaveLength(1)
    // The connection itself, without a protocol.
    const conn = await client.dial(peerId, addrs)
    expect(conn).toBe(s1.connection)
  })

  it('shares one connection between concurrent dials to one peer', async () => {
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const opened: PeerConnection[] = []
    client.on('connection:open', ({ connection }) => opened.push(connection))
    const { peerId, addrs } = server.peerInfo
    const streams = await Promise.all(
      Array.from({ length: 10 }, async () => await client.dial(peerId, addrs, STREAM_PROTO_CODEC))
    )
    expect(new Set(streams.map(s => s.connection)).size).toBe(1)
    expect(opened).toHaveLength(1)
    const parts = await Promise.all(streams.map(async s => await streamProtoClient(s)))
    for (const p of parts) expect(p).toEqual(TUTORIAL_PARTS)
    expect(server.connections()).toHaveLength(1)
  })

  it('dials anew once the peer closed the connection', async () => {
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const closed: Array<SwitchEvents['connection:close']> = []
    client.on('connection:close', e => closed.push(e))
    const first = await client.dial(server.peerId, server.peerInfo.addrs)
    await waitForConnection(server, client.peerId)
    await server.hangUp(client.peerId)
    await waitFor('the client to see the close', () => closed.length === 1)
    expect(first.status).toBe('closed')
    expect(client.connections(server.peerId)).toHaveLength(0)
    const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(s.connection).not.toBe(first)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    await expect(first.newStream(STREAM_PROTO_CODEC)).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' })
  })

  it('accepts a /p2p/ multiaddr (dial(addr, protocol))', async () => {
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const addr = `${server.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${server.peerId.toString()}`
    const s = await client.dial(addr, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    expect(s.remotePeer.equals(server.peerId)).toBe(true)
    const conn = await client.dial(addr)
    expect(conn).toBe(s.connection)
  })

  it('puts protocol, remote peer and connection on the stream, on both sides', async () => {
    let serverSide: Stream | undefined
    const server = await fleet.standard({
      protocols: [
        new LPProtocol({
          codecs: ['/who/1.0.0'],
          handler: async (stream) => {
            serverSide = stream
            await stream.writeLp('hi')
            await stream.close()
          }
        })
      ]
    })
    const client = await fleet.standard()
    const s = await client.dial(server.peerId, server.peerInfo.addrs, '/who/1.0.0')
    expect(text(await s.readLp(16))).toBe('hi')
    await expect(s.readLp(16)).rejects.toBeInstanceOf(EndOfStreamError)
    await s.close()
    expect(s.protocol).toBe('/who/1.0.0')
    expect(s.direction).toBe('outbound')
    expect(s.remotePeer.toString()).toBe(server.peerId.toString())
    expect(s.connection.direction).toBe('outbound')
    const ss = serverSide as unknown as { protocol: string, remotePeer: PeerId, direction: string }
    expect(ss.protocol).toBe('/who/1.0.0')
    expect(ss.direction).toBe('inbound')
    expect(ss.remotePeer.equals(client.peerId)).toBe(true)
  })

  it('supports read()/write()/closeWrite() and async iteration', async () => {
    const server = await fleet.standard({ protocols: [echoProtocol] })
    const client = await fleet.standard()
    const s = await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
    await s.write(utf8('abc'))
    await s.write(utf8('def'))
    await s.closeWrite()
    const got: string[] = []
    for await (const chunk of s) got.push(text(chunk))
    expect(got.join('')).toBe('abcdef')
    expect(await s.read()).toBeNull()
    await expect(s.readLp(10)).rejects.toBeInstanceOf(EndOfStreamError)
  })
})

describe('dial errors', () => {
  it('wrong peer id: a typed error, and the connection is closed', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard()
    const impostor = PeerId.fromPublicKey(generateEd25519().publicKey)
    const errors: Array<SwitchEvents['connection:error']> = []
    client.on('connection:error', e => errors.push(e))
    const serverErrors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => serverErrors.push(e))
    const err = await client.dial(impostor, server.peerInfo.addrs, PING_CODEC).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NoiseError)
    expect((err as NoiseError).code).toBe('ERR_PEER_ID_MISMATCH')
    expect((err as Error).message).toContain(impostor.toString())
    expect(client.connections()).toHaveLength(0)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.stage).toBe('security')
    // The listener sees its side of the connection fail, and keeps no connection either.
    await waitFor('the listener to drop the connection', () => serverErrors.length === 1)
    expect(server.connections()).toHaveLength(0)
    expect(server.inspect().pendingUpgrades).toHaveLength(0)
  })

  it('refuses an address whose /p2p/ names another peer before dialing', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard()
    const other = PeerId.fromPublicKey(generateEd25519().publicKey)
    const addr = `${server.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${other.toString()}`
    await expect(client.dial(server.peerId, [addr])).rejects.toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
  })

  it('dial self, no addresses, refused port, stopped switch', async () => {
    const a = await fleet.standard()
    await expect(a.dial(a.peerId, a.peerInfo.addrs)).rejects.toMatchObject({ code: 'ERR_DIAL_SELF' })
    const b = await fleet.standard()
    await expect(a.dial(b.peerId, [])).rejects.toMatchObject({ code: 'ERR_NO_ADDRESSES' })
    const nobody = `/ip4/127.0.0.1/tcp/${await closedPort()}`
    await expect(a.dial(nobody, PING_CODEC)).rejects.toMatchObject({ code: 'ERR_NO_ADDRESSES' })
    const refused = await a.dial(b.peerId, [nobody]).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(TransportError)
    expect((refused as TransportError).code).toBe('ERR_CONNECTION_REFUSED')
    // Several addresses: the good one after a bad one still connects.
    const conn = await a.dial(b.peerId, [nobody, ...b.peerInfo.addrs])
    expect(conn.remotePeer.equals(b.peerId)).toBe(true)
    await a.stop()
    await expect(a.dial(b.peerId, b.peerInfo.addrs)).rejects.toMatchObject({ code: 'ERR_SWITCH_STOPPED' })
  })

  it('a listener that never answers: the dial fails at the handshake deadline, or at once on stop()', async () => {
    const sockets: Socket[] = []
    const silent = createServer(s => {
      sockets.push(s)
      s.on('error', () => {})
    })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const addr = `/ip4/127.0.0.1/tcp/${(silent.address() as { port: number }).port}`
      const someone = PeerId.fromPublicKey(generateEd25519().publicKey)
      const a = await fleet.bare({ config: { handshakeTimeoutMs: 200 } })
      const err = await a.dial(someone, [addr]).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(SwitchError)
      expect((err as SwitchError).code).toBe('ERR_HANDSHAKE_TIMEOUT')
      expect((err as Error).message).toContain('stage "security"')

      const b = await fleet.bare({ config: { handshakeTimeoutMs: 60_000 } })
      const dialing = b.dial(someone, [addr]).then(() => undefined, (e: unknown) => e)
      await waitFor('the dial to be in flight', () => b.inspect().pendingUpgrades.length === 1)
      expect(b.inspect().pendingDials).toEqual([someone.toString()])
      await b.stop()
      expect(await dialing).toMatchObject({ code: 'ERR_SWITCH_STOPPED' })
      expect(b.inspect().pendingUpgrades).toEqual([])
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise(resolve => silent.close(resolve))
    }
  })

  it('a protocol the peer does not serve: ProtocolNotSupportedError (at dial; with lazy, on first read)', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard()
    await expect(client.dial(server.peerId, server.peerInfo.addrs, '/nope/1.0.0')).rejects.toBeInstanceOf(
      ProtocolNotSupportedError
    )
    const lazy = await client.dial(server.peerId, server.peerInfo.addrs, '/nope/1.0.0', { lazy: true })
    await expect(lazy.read()).rejects.toBeInstanceOf(ProtocolNotSupportedError)
    // Several choices: the first the peer serves wins.
    const s = await client.dial(server.peerId, server.peerInfo.addrs, ['/nope/1.0.0', PING_CODEC])
    expect(s.protocol).toBe(PING_CODEC)
    expect(await ping(s)).toHaveLength(1)
    // The connection survived all of it.
    expect(client.connections(server.peerId)[0]?.status).toBe('open')
  })
})

describe('handlers', () => {
  it('a handler that throws resets only its stream, is reported, and the switch goes on', async () => {
    const boom = new Error('handler exploded')
    const server = await fleet.standard({
      protocols: [
        new LPProtocol({
          codecs: ['/boom/1.0.0'],
          handler: async (stream) => {
            await stream.readLp(100)
            throw boom
          }
        }),
        streamProtoProtocol
      ]
    })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    const client = await fleet.standard()
    const { peerId, addrs } = server.peerInfo
    // A long-running stream on the same connection must not notice.
    const survivor = await client.dial(peerId, addrs, STREAM_PROTO_CODEC)

    const s = await client.dial(peerId, addrs, '/boom/1.0.0')
    await s.writeLp('go')
    await expect(s.read()).rejects.toBeInstanceOf(StreamResetError)
    await waitFor('the protocol:error event', () => errors.length === 1)
    expect(errors[0]?.stage).toBe('handler')
    expect(errors[0]?.protocol).toBe('/boom/1.0.0')
    expect(errors[0]?.error).toBe(boom)

    expect(await streamProtoClient(survivor)).toEqual(TUTORIAL_PARTS)
    expect(survivor.connection.status).toBe('open')
    const again = await client.dial(peerId, addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(again)).toEqual(TUTORIAL_PARTS)
    expect(server.state).toBe('started')
  })

  it('a handler that throws synchronously, or a non-Error, is handled the same way', async () => {
    const server = await fleet.standard({
      protocols: [
        new LPProtocol({
          codecs: ['/sync/1.0.0'],
          handler: () => {
            throw new RangeError('sync')
          }
        }),
        new LPProtocol({
          codecs: ['/str/1.0.0'],
          handler: async () => {
            throw 'a string' as unknown as Error
          }
        })
      ]
    })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    const client = await fleet.standard()
    expect(await resetOutcome(client.dial(server.peerId, server.peerInfo.addrs, '/sync/1.0.0'))).toBeInstanceOf(
      StreamResetError
    )
    expect(await resetOutcome(client.dial(server.peerId, server.peerInfo.addrs, '/str/1.0.0'))).toBeInstanceOf(
      StreamResetError
    )
    await waitFor('two protocol errors', () => errors.length === 2)
    expect(errors.map(e => e.error.constructor.name).sort()).toEqual(['RangeError', 'SwitchError'])
    expect((errors.find(e => e.error instanceof SwitchError)?.error as SwitchError).code).toBe('ERR_HANDLER')
  })

  it('reports an inbound stream that fails negotiation (unknown protocol) without touching the connection', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard()
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    await expect(client.dial(server.peerId, server.peerInfo.addrs, '/unknown/1.0.0')).rejects.toBeInstanceOf(
      ProtocolNotSupportedError
    )
    expect(client.connections(server.peerId)[0]?.status).toBe('open')
    expect(errors.every(e => e.stage === 'negotiation')).toBe(true)
  })
})

describe('identify', () => {
  it('runs in the background on each new connection and records what the peer said', async () => {
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const identified: Array<SwitchEvents['identify']> = []
    client.on('identify', e => identified.push(e))
    const conn = await client.dial(server.peerId, server.peerInfo.addrs)
    const id = await conn.identified()
    expect(id).toBeDefined()
    expect(id?.agentVersion).toMatch(/^switchyard\//)
    expect(id?.protocolVersion).toBe('ipfs/0.1.0')
    expect(id?.protocols).toEqual(expect.arrayContaining([STREAM_PROTO_CODEC, PING_CODEC, '/ipfs/id/1.0.0']))
    expect(id?.listenAddrs.map(a => a.toString())).toEqual(server.peerInfo.addrs.map(a => a.toString()))
    expect(id?.observedAddr?.toString()).toBe(conn.localAddr)
    expect(identified).toHaveLength(1)
    expect(conn.identity).toBe(id)
    // The server identified us too.
    const back = await server.connections(client.peerId)[0]?.identified()
    expect(back?.protocols).toEqual(expect.arrayContaining([PING_CODEC]))
  })

  it('applies identify-push updates (absent fields unchanged) and ignores a push with another key', async () => {
    const server = await fleet.standard()
    const client = await fleet.standard()
    const conn = await client.dial(server.peerId, server.peerInfo.addrs)
    const serverConn = await waitForConnection(server, client.peerId)
    const before = await serverConn.identified()
    expect(before?.agentVersion).toMatch(/^switchyard\//)
    const updates: Array<SwitchEvents['identify']> = []
    server.on('identify', e => updates.push(e))

    const push = await conn.newStream('/ipfs/id/push/1.0.0')
    await identifyPush(push, { protocols: ['/new/1.0.0'], listenAddrs: [] })
    await waitFor('the push to be applied', () => updates.length === 1)
    expect(serverConn.identity?.protocols).toEqual(['/new/1.0.0'])
    expect(serverConn.identity?.agentVersion).toBe(before?.agentVersion)
    expect(serverConn.identity?.listenAddrs.map(String)).toEqual(before?.listenAddrs.map(String))

    const forged = await conn.newStream('/ipfs/id/push/1.0.0')
    await identifyPush(forged, {
      protocols: ['/evil/1.0.0'],
      listenAddrs: [],
      publicKey: generateEd25519().publicKey.bytes()
    })
    const marker = await conn.newStream('/ipfs/id/push/1.0.0')
    await identifyPush(marker, { agentVersion: 'marker/1', protocols: [], listenAddrs: [] })
    await waitFor('the marker push', () => updates.length === 2)
    expect(serverConn.identity?.protocols).toEqual(['/new/1.0.0'])
    expect(serverConn.identity?.agentVersion).toBe('marker/1')
  })

  it('a peer without identify leaves identity undefined and streams work', async () => {
    const server = await fleet.bare({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard()
    const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    expect(await s.connection.identified()).toBeUndefined()
  })
})

describe('stop()', () => {
  it('is graceful: open streams finish, new dials fail, connections close with GoAway', async () => {
    const release = gate()
    const started = gate()
    const server = await fleet.standard({ protocols: [slowProtocol(started, release, 5)] })
    const client = await fleet.standard()
    const closed: Array<SwitchEvents['connection:close']> = []
    client.on('connection:close', e => closed.push(e))
    const s = await client.dial(server.peerId, server.peerInfo.addrs, '/slow/1.0.0')
    await s.writeLp('start')
    await started.promise

    const addrs = server.peerInfo.addrs
    const stopping = server.stop()
    expect(server.state).toBe('stopping')
    // No new connections while stopping: the listener is closed, and the server dials nothing.
    const third = await fleet.standard()
    await expect(third.dial(server.peerId, addrs)).rejects.toBeInstanceOf(SwitchyardError)
    await expect(server.dial(client.peerId, client.peerInfo.addrs)).rejects.toMatchObject({
      code: 'ERR_SWITCH_STOPPED'
    })

    release.open()
    const got = await readLpsToEnd(s)
    await s.close()
    await stopping
    expect(got).toEqual(['late 0', 'late 1', 'late 2', 'late 3', 'late 4'])
    expect(server.state).toBe('stopped')
    expect(server.connections()).toHaveLength(0)
    await waitFor('the client to see the connection close', () => closed.length === 1)
  })

  it.each(
    [
      ['earlyGoAway: GoAway goes out first, yamux refuses the new stream', true],
      ['by default: the switch refuses the new stream, GoAway goes out last', false]
    ] as const
  )(
    'the open yamux stream completes its exchange across stop(); a new stream from the remote is refused (%s)',
    async (_name, earlyGoAway) => {
      const release = gate()
      const started = gate()
      let refusedHandled = 0
      const server = await fleet.bare({
        muxers: ['yamux'],
        earlyGoAway,
        protocols: [
          slowProtocol(started, release, 3),
          new LPProtocol({
            codecs: ['/other/1.0.0'],
            handler: async (stream) => {
              refusedHandled++
              await stream.close()
            }
          })
        ]
      })
      // The remote: a bare yamux muxer over an upgraded connection, so the test can hold its reading
      // back (it then opens a stream before it could know about the GoAway) and see every frame.
      const frames: Array<[type: number, flags: number, id: number]> = []
      const observer = {
        event: (e: TraceEvent) => {
          if (e.layer === 'yamux' && e.kind === 'frame' && e.dir === 'in' && e.frameType !== FrameType.Ping) {
            frames
              .push([e.frameType, e.flags, e.streamId])
          }
        }
      }
      const raw = await tcpDial(server.peerInfo.addrs[0] as Multiaddr, { timeoutMs: 5000 })
      const { muxer } = await upgradeOutbound(raw, {
        identity: generateEd25519(),
        expectedPeer: server.peerId,
        security: [noise()],
        muxers: [{
          protocol: YAMUX_PROTOCOL_ID,
          create: (conn, o) =>
            createYamux(conn, {
              initiator: o.initiator,
              ...(o.initialBytes !== undefined ? { initialBytes: [...o.initialBytes] } : {}),
              observer
            })
        }],
        handshakeTimeoutMs: 5000
      })
      const muxerClosed = new Promise<Error | undefined>(resolve => {
        muxer.onClose = resolve
      })
      try {
        const a = muxer.newStream()
        await selectOnStream(a, ['/slow/1.0.0'], { timeoutMs: 5000 })
        await a.writeLp('start')
        await started.promise

        raw.pause()
        const mark = frames.length
        const stopping = server.stop()
        // close() marks the connection closing and, with earlyGoAway, calls goAway() in the same turn.
        await waitFor('the server connection to be closing', () => server.connections()[0]?.status === 'closing')
        const b = muxer.newStream()
        const refused = selectOnStream(b, ['/other/1.0.0'], { timeoutMs: 5000 }).then(() => undefined, (e: unknown) =>
          e)
        raw.resume()
        expect(await refused).toBeInstanceOf(StreamResetError)
        // With earlyGoAway the remote was told: it does not even try a new stream on this connection.
        if (earlyGoAway) {
          expect(() =>
            muxer.newStream()
          ).toThrow(expect.objectContaining({ code: 'ERR_YAMUX_GOAWAY' }) as Error)
        }

        release.open()
        const got = await readLpsToEnd(a)
        await a.close()
        await stopping
        expect(got).toEqual(['late 0', 'late 1', 'late 2'])
        expect(refusedHandled).toBe(0)
        expect(await muxerClosed).toBeUndefined()

        const after = frames.slice(mark)
        const goAway = after.findIndex(([type]) => type === FrameType.GoAway)
        const rstB = after.findIndex(([, flags, id]) => id === b.id && (flags & Flag.RST) !== 0)
        const finA = after.findIndex(([, flags, id]) => id === a.id && (flags & Flag.FIN) !== 0)
        expect(after.filter(([type]) => type === FrameType.GoAway)).toEqual([[FrameType.GoAway, 0, 0]])
        expect([goAway, rstB, finA].every(i => i >= 0)).toBe(true)
        if (earlyGoAway) {
          expect(goAway).toBe(0)
          expect(goAway).toBeLessThan(rstB)
        } else {
          expect(goAway).toBeGreaterThan(finA)
        }
        expect(rstB).toBeLessThan(finA)
      } finally {
        muxer.abort()
      }
    }
  )

  it('resets streams still open at the deadline', async () => {
    const server = await fleet.standard({
      config: { stopTimeoutMs: 200 },
      protocols: [
        new LPProtocol({
          codecs: ['/hang/1.0.0'],
          handler: async () => {
            await new Promise(() => {})
          }
        })
      ]
    })
    const client = await fleet.standard()
    const s = await client.dial(server.peerId, server.peerInfo.addrs, '/hang/1.0.0')
    await s.writeLp('x')
    await waitFor(
      'the server to have the stream',
      () =>
        server.inspect().totals.streams > 0 &&
        server.inspect().connections[0]?.streams.some(st => st.protocol === '/hang/1.0.0') === true
    )
    await server.stop()
    await expect(s.read()).rejects.toBeInstanceOf(SwitchyardError)
    expect(server.connections()).toHaveLength(0)
  })

  it('start() and stop() are idempotent, and a stop() during start() waits for it', async () => {
    const sw = await fleet.bare()
    await Promise.all([sw.start(), sw.start()])
    expect(sw.peerInfo.addrs).toHaveLength(1)
    await Promise.all([sw.stop(), sw.stop()])
    expect(sw.state).toBe('stopped')
    const starting = sw.start()
    const stopping = sw.stop()
    await starting
    await stopping
    expect(sw.state).toBe('stopped')
    expect(sw.peerInfo.addrs).toHaveLength(0)
  })

  it('can start again after stop', async () => {
    const a = await fleet.standard({ protocols: [streamProtoProtocol] })
    await a.stop()
    expect(a.peerInfo.addrs).toHaveLength(0)
    await a.start()
    const b = await fleet.standard()
    const s = await b.dial(a.peerId, a.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
  })
})

describe('limits', () => {
  it('maxConnections: the peer past the limit is refused; the others go on', async () => {
    const server = await fleet.standard({ config: { maxConnections: 1 }, protocols: [streamProtoProtocol] })
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    const a = await fleet.standard()
    const b = await fleet.standard()
    const sa = await a.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    await expect(b.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)).rejects.toBeInstanceOf(
      SwitchyardError
    )
    await waitFor('the limit error', () => errors.length >= 1)
    expect(errors[0]?.stage).toBe('limit')
    expect((errors[0]?.error as SwitchError).code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect(await streamProtoClient(sa)).toEqual(TUTORIAL_PARTS)
    expect(server.connections()).toHaveLength(1)
  })

  it('maxConnections on the dialing side: a typed error before dialing', async () => {
    const client = await fleet.standard({ config: { maxConnections: 1 } })
    const s1 = await fleet.standard()
    const s2 = await fleet.standard()
    await client.dial(s1.peerId, s1.peerInfo.addrs)
    const err = await client.dial(s2.peerId, s2.peerInfo.addrs).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(SwitchError)
    expect((err as SwitchError).code).toBe('ERR_TOO_MANY_CONNECTIONS')
    expect((err as Error).message).toContain('"maxConnections"')
  })

  it('maxInboundStreamsPerConnection: the stream past the limit is reset and reported', async () => {
    const release = gate()
    let running = 0
    const server = await fleet.standard({
      config: { maxInboundStreamsPerConnection: 3 },
      protocols: [
        new LPProtocol({
          codecs: ['/hold/1.0.0'],
          handler: async (stream) => {
            running++
            await release.promise
            await stream.writeLp('done')
            await stream.close()
          }
        })
      ]
    })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    // identify would open inbound streams of its own on the server: use a bare client.
    const client = await fleet.bare()
    const { peerId, addrs } = server.peerInfo
    const held = await Promise.all([1, 2, 3].map(async () => {
      const s = await client.dial(peerId, addrs, '/hold/1.0.0')
      await s.write(new Uint8Array(0))
      await s.writeLp('x')
      return s
    }))
    await waitFor('three running handlers', () => running === 3)
    // Reset before the server negotiates anything: the dial itself fails.
    await expect(client.dial(peerId, addrs, '/hold/1.0.0')).rejects.toBeInstanceOf(StreamResetError)
    await waitFor('the limit event', () => errors.length === 1)
    expect(errors[0]?.stage).toBe('limit')
    expect((errors[0]?.error as SwitchError).code).toBe('ERR_TOO_MANY_STREAMS')
    release.open()
    for (const s of held) expect(text(await s.readLp(10))).toBe('done')
    await Promise.all(held.map(async s => {
      await s.close()
    }))
    // Room again once the held streams are closed.
    await waitFor('the streams to be released', () => server.inspect().totals.streams === 0)
    const after = await client.dial(peerId, addrs, '/hold/1.0.0')
    expect(text(await after.readLp(10))).toBe('done')
    await after.close()
    expect(server.connections()).toHaveLength(1)
  })

  it.each(['yamux', 'mplex'] as const)(
    'maxOutboundStreamsPerConnection (%s): newStream past the limit throws',
    async (muxer) => {
      const release = gate()
      const server = await fleet.standard({ protocols: [holdProtocol(release)] })
      const client = await fleet.bare({ muxers: [muxer], config: { maxOutboundStreamsPerConnection: 2 } })
      const held = [
        await client.dial(server.peerId, server.peerInfo.addrs, '/hold/1.0.0'),
        await client.dial(server.peerId, server.peerInfo.addrs, '/hold/1.0.0')
      ]
      const err = await client.dial(server.peerId, server.peerInfo.addrs, '/hold/1.0.0').then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err).toBeInstanceOf(SwitchError)
      expect((err as SwitchError).code).toBe('ERR_TOO_MANY_STREAMS')
      expect((err as Error).message).toContain('"maxOutboundStreamsPerConnection"')
      release.open()
      for (const s of held) {
        expect(await s.read()).toBeNull()
        await s.close()
      }
      await waitFor('the streams to be gone', () => client.inspect().totals.streams === 0)
      const again = await client.dial(server.peerId, server.peerInfo.addrs, '/hold/1.0.0')
      expect(await again.read()).toBeNull()
      await again.close()
    }
  )

  it('maxNegotiationMessageBytes: a longer stream proposal is refused at its prefix; the connection and other streams go on', async () => {
    const release = gate()
    const server = await fleet.bare({
      config: { maxNegotiationMessageBytes: 64 },
      protocols: [
        echoProtocol,
        new LPProtocol({
          codecs: ['/hold/1.0.0'],
          handler: async (stream) => {
            const m = await stream.readLp(100)
            await release.promise
            await stream.writeLp(m)
            await stream.close()
          }
        })
      ]
    })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    const client = await fleet.bare()
    const { peerId, addrs } = server.peerInfo
    const held = await client.dial(peerId, addrs, '/hold/1.0.0')
    await held.writeLp('kept')

    const long = `/${'x'.repeat(64)}` // a 66-byte message with its newline
    await expect(client.dial(peerId, addrs, long)).rejects.toBeInstanceOf(StreamResetError)
    await waitFor('the negotiation error', () => errors.length === 1)
    expect(errors[0]?.stage).toBe('negotiation')
    expect(errors[0]?.error).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect(errors[0]?.error.message).toMatch(/expected <= 64 \(including the newline\), got 66/)

    // The connection and the stream already open are untouched; new streams still work on it.
    expect(client.connections(peerId).map(c => c.status)).toEqual(['open'])
    release.open()
    expect(text(await held.readLp(100))).toBe('kept')
    const s = await client.dial(peerId, addrs, ECHO_CODEC)
    expect(text(await echo(s, utf8('still up')))).toBe('still up')
    expect(s.connection).toBe(held.connection)
    expect(server.connections()).toHaveLength(1)
    await Promise.all([held.close(), s.close()])
    // An id the limit would refuse cannot be mounted either.
    expect(() => {
      server.mount(new LPProtocol({ codecs: [long], handler: async () => {} }))
    }).toThrow(RangeError)
  })

  it('LPProtocol maxIncomingStreams limits one protocol per connection', async () => {
    const release = gate()
    let running = 0
    const server = await fleet.standard({
      protocols: [
        new LPProtocol({
          codecs: ['/one/1.0.0'],
          maxIncomingStreams: 1,
          handler: async (stream) => {
            running++
            await release.promise
            await stream.close()
          }
        })
      ]
    })
    const client = await fleet.standard()
    const first = await client.dial(server.peerId, server.peerInfo.addrs, '/one/1.0.0')
    await first.writeLp('x')
    await waitFor('the first handler', () => running === 1)
    expect(await resetOutcome(client.dial(server.peerId, server.peerInfo.addrs, '/one/1.0.0'))).toBeInstanceOf(
      StreamResetError
    )
    release.open()
    expect(await first.read()).toBeNull()
    await first.close()
  })
})

describe('muxers', () => {
  it.each(
    [
      ['mplex-only dials yamux+mplex', ['mplex'], ['yamux', 'mplex'], '/mplex/6.7.0'],
      ['yamux+mplex dials mplex-only', ['yamux', 'mplex'], ['mplex'], '/mplex/6.7.0'],
      ['yamux+mplex dials yamux+mplex', ['yamux', 'mplex'], ['yamux', 'mplex'], '/yamux/1.0.0'],
      [
        'mplex+yamux dials yamux+mplex (initiator\'s order wins)',
        ['mplex', 'yamux'],
        ['yamux', 'mplex'],
        '/mplex/6.7.0'
      ]
    ] as const
  )('%s → %s', async (_name, clientMuxers, serverMuxers, expected) => {
    const server = await fleet.standard({ muxers: serverMuxers, protocols: [streamProtoProtocol, echoProtocol] })
    const client = await fleet.standard({ muxers: clientMuxers })
    const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    expect(s.connection.multiplexer).toBe(expected)
    expect(s.connection.muxerNegotiation).toBe('early')
    expect(server.connections()[0]?.multiplexer).toBe(expected)
    const big = new Uint8Array(300_000).map((_, i) => i & 0xff)
    const e = await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
    expect(Buffer.from(await echo(e, big)).equals(Buffer.from(big))).toBe(true)
  })

  it.each(
    [
      ['one muxer (lazy select)', ['yamux'], ['yamux', 'mplex'], '/yamux/1.0.0'],
      ['mplex only (lazy select)', ['mplex'], ['yamux', 'mplex'], '/mplex/6.7.0'],
      ['two muxers, first refused (full select)', ['yamux', 'mplex'], ['mplex'], '/mplex/6.7.0']
    ] as const
  )('without early negotiation (rust/nim style): %s', async (_name, clientMuxers, serverMuxers, expected) => {
    const server = await fleet.standard({
      muxers: serverMuxers,
      earlyMuxerNegotiation: false,
      protocols: [streamProtoProtocol]
    })
    const client = await fleet.standard({ muxers: clientMuxers, earlyMuxerNegotiation: false })
    const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    expect(s.connection.multiplexer).toBe(expected)
    expect(s.connection.muxerNegotiation).toBe('multistream')
    expect(server.connections()[0]?.muxerNegotiation).toBe('multistream')
  })

  it('no common muxer: both sides fail the upgrade with a typed error', async () => {
    const server = await fleet.standard({ muxers: ['yamux'] })
    const client = await fleet.standard({ muxers: ['mplex'] })
    const err = await client.dial(server.peerId, server.peerInfo.addrs, PING_CODEC).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(SwitchyardError)
    expect(client.connections()).toHaveLength(0)
  })
})

describe('introspection', () => {
  it('lists connections with their streams, and pending upgrades', async () => {
    const release = gate()
    const server = await fleet.standard({ protocols: [holdProtocol(release)] })
    const client = await fleet.standard()
    const s = await client.dial(server.peerId, server.peerInfo.addrs, '/hold/1.0.0')
    await s.writeLp('x')
    await waitFor(
      'the server stream',
      () => server.inspect().connections[0]?.streams.some(x => x.protocol === '/hold/1.0.0') === true
    )
    const view = server.inspect()
    expect(view.state).toBe('started')
    expect(view.peerId).toBe(server.peerId.toString())
    expect(view.listenAddrs).toEqual(server.peerInfo.addrs.map(a => a.toString()))
    expect(view.connections).toHaveLength(1)
    const c = view.connections[0]
    expect(c?.remotePeer).toBe(client.peerId.toString())
    expect(c?.direction).toBe('inbound')
    expect(c?.multiplexer).toBe('/yamux/1.0.0')
    expect(c?.streams.find(x => x.protocol === '/hold/1.0.0')?.direction).toBe('inbound')
    expect(view.pendingUpgrades).toEqual([])
    expect(view.totals.pendingInbound).toBe(0)
    expect(JSON.parse(JSON.stringify(view))).toEqual(view)
    release.open()
    expect(await s.read()).toBeNull()
    await s.close()
  })
})

describe('tracing', () => {
  it('hands the observer to every layer of a connection, stream data scoped by id', async () => {
    const events: TraceEvent[] = []
    const seen: Array<{ direction: string }> = []
    const server = await fleet.standard({ protocols: [streamProtoProtocol] })
    const client = await fleet.standard({
      observer: (conn) => {
        seen.push(conn)
        return {
          event: (e) => {
            events.push({ ...e, ...(e.bytes !== undefined ? { bytes: e.bytes.slice() } : {}) } as TraceEvent)
          }
        }
      }
    })
    const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
    expect(await streamProtoClient(s)).toEqual(TUTORIAL_PARTS)
    expect(seen.map(c => c.direction)).toEqual(['outbound'])
    const layers = new Set(events.map(e => e.layer))
    for (const l of ['tcp', 'multistream', 'noise', 'yamux']) expect(layers).toContain(l)
    expect(events[0]).toMatchObject({ layer: 'tcp', kind: 'open', direction: 'outbound' })
    // The stream's bytes (its negotiation included) are reported with its stream id; multistream
    // reports only the connection's negotiation (a Tracer reads a stream's from its bytes).
    const proposal = events.find(e =>
      e.layer === 'stream' && e.kind === 'data' && e.dir === 'out' && e.bytes !== undefined &&
      Buffer.from(e.bytes).includes(Buffer.from(STREAM_PROTO_CODEC))
    )
    expect(proposal?.stream).toBe(s.id)
    expect(events.filter(e => e.layer === 'multistream').every(e => e.stream === undefined)).toBe(true)
  })
})
