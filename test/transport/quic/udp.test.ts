/** The dgram adapter over real UDP sockets on loopback: dial, accept, streams, peer-id check. */
import dgram from 'node:dgram'
import { describe, expect, it } from 'vitest'
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../../src/security/tls/certificate.js'
import type { Libp2pPeer } from '../../../src/security/tls/certificate.js'
import { QuicConnection as QuicMachine } from '../../../src/transport/quic/connection.js'
import { createHash, randomBytes } from 'node:crypto'
import type { Stream, TransportConnection, UpgradedConnection } from '../../../src/connection.js'
import { generateEd25519 } from '../../../src/security/keys.js'
import { PeerId } from '../../../src/security/peer-id.js'
import { multiaddr } from '../../../src/transport/multiaddr.js'
import type { QuicConnection } from '../../../src/transport/quic/connection.js'
import { quic } from '../../../src/transport/quic/transport.js'
import type { MuxedStream } from '../../../src/muxer/stream.js'
import { waitFor, within } from '../../helpers/wait.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function readAll (s: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for (let c = await s.read(); c !== null; c = await s.read()) parts.push(c)
  return Buffer.concat(parts)
}

describe('QUIC over node:dgram (loopback)', () => {
  it('dials, accepts, echoes 4 streams of 256 KiB, and both sides know each other\'s peer id', async () => {
    const serverId = generateEd25519()
    const clientId = generateEd25519()
    const server = quic()
    const client = quic()
    let resolveAccepted: (c: UpgradedConnection) => void = () => {}
    const acceptedPromise = new Promise<UpgradedConnection>(resolve => { resolveAccepted = resolve })
    const listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
      identity: serverId,
      onConnection: (c: TransportConnection) => { if (c.kind === 'upgraded') resolveAccepted(c.connection) }
    })
    const addr = listener.multiaddrs[0]
    expect(addr?.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1$/)
    const dialed = await client.dial(addr!, {
      identity: clientId,
      expectedPeer: PeerId.fromPublicKey(serverId.publicKey)
    })
    expect(dialed.kind).toBe('upgraded')
    if (dialed.kind !== 'upgraded') return
    const inbound = await acceptedPromise
    expect(dialed.connection.remotePeer.equals(PeerId.fromPublicKey(serverId.publicKey))).toBe(true)
    expect(inbound.remotePeer.equals(PeerId.fromPublicKey(clientId.publicKey))).toBe(true)
    expect(dialed.connection.muxerNegotiation).toBe('transport')

    inbound.muxer.onStream = (s: Stream) => {
      void (async () => {
        const data = await readAll(s)
        await s.write(data)
        await s.closeWrite()
      })()
    }
    const payloads = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(256 * 1024)))
    const echoed = await Promise.all(payloads.map(async (p) => {
      const s = dialed.connection.muxer.newStream()
      await s.write(p)
      await s.closeWrite()
      return await readAll(s)
    }))
    expect(echoed.map(sha)).toEqual(payloads.map(sha))
    await dialed.connection.muxer.close()
    await listener.close()
  }, 30_000)

  it('inbound streams wait for onStream (stream-table.ts); a handler that throws resets its stream only', async () => {
    let resolveAccepted: (c: UpgradedConnection) => void = () => {}
    const accepted = new Promise<UpgradedConnection>(resolve => { resolveAccepted = resolve })
    const listener = await quic().listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
      identity: generateEd25519(),
      onConnection: (c: TransportConnection) => { if (c.kind === 'upgraded') resolveAccepted(c.connection) }
    })
    const dialed = await quic().dial(listener.multiaddrs[0]!, { identity: generateEd25519() })
    if (dialed.kind !== 'upgraded') throw new Error('not upgraded')
    const inbound = await accepted
    const ask = async (text: string): Promise<string> => {
      const s = dialed.connection.muxer.newStream()
      await s.write(new TextEncoder().encode(text))
      await s.closeWrite()
      return new TextDecoder().decode(await readAll(s))
    }
    // a stream that arrives while nobody listens is held, not lost
    const early = ask('early')
    await waitFor('the early stream at the listener', () => inbound.muxer.streams.size === 1)
    let calls = 0
    let thrownOn: Stream | undefined
    inbound.muxer.onStream = (s: Stream) => {
      if (calls++ === 1) {
        thrownOn = s
        throw new Error('handler bug')
      }
      void (async () => { await s.write(await readAll(s)); await s.closeWrite() })()
    }
    expect(await within(5000, 'early', early)).toBe('early')
    // the listener resets the stream whose handler threw; the dialer, its FIN already sent, sees that
    // reset (RESET_STREAM, RFC 9000 §3.2) rather than waiting on a stream the listener forgot
    const thrown = ask('thrown on')
    thrown.catch(() => {})
    await waitFor('the throwing handler', () => thrownOn !== undefined)
    await expect(thrownOn?.read()).rejects.toThrow('handler bug')
    await expect(within(5000, 'thrown on', thrown)).rejects.toThrow(/reset/i)
    // and the connection carries on
    expect(await within(5000, 'after', ask('after'))).toBe('after')
    await dialed.connection.muxer.close()
    await listener.close()
  }, 30_000)

  it('a stream nobody reads holds the writer at the stream window; reading releases the rest intact', async () => {
    const WINDOW = 256 * 1024
    const serverId = generateEd25519()
    let inboundStream: MuxedStream | undefined
    const listener = await quic().listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
      identity: serverId,
      onConnection: (c: TransportConnection) => {
        if (c.kind === 'upgraded') c.connection.muxer.onStream = (s: Stream) => { inboundStream = s as MuxedStream }
      }
    })
    const dialed = await quic().dial(listener.multiaddrs[0]!, { identity: generateEd25519() })
    if (dialed.kind !== 'upgraded') throw new Error('not upgraded')
    const conn = (dialed.connection.muxer as unknown as { driver: { conn: QuicConnection } }).driver.conn
    const s = dialed.connection.muxer.newStream()
    const payload = new Uint8Array(randomBytes(4 * 1024 * 1024))
    let written = false
    const writing = s.write(payload).then(() => {
      written = true
    })
    await waitFor(
      'one window at the reader',
      () => inboundStream !== undefined && inboundStream.readableLength >= WINDOW,
      10_000
    )
    // the moment has passed once the writer has sent its whole credit and is blocked
    const sendSide = (conn as unknown as { streams: Map<number, { sendFc: { sent: number, peerMax: number } }> })
      .streams.get(s.id as number)!
    await waitFor(
      'the writer blocked on MAX_STREAM_DATA',
      () => sendSide.sendFc.sent === sendSide.sendFc.peerMax,
      10_000
    )
    expect(sendSide.sendFc.peerMax).toBe(WINDOW)
    expect(inboundStream!.readableLength).toBe(WINDOW)
    expect(written).toBe(false)
    const [received] = await Promise.all([readAll(inboundStream!), writing.then(async () => { await s.closeWrite() })])
    expect(sha(received)).toBe(sha(payload))
    await dialed.connection.muxer.close()
    await listener.close()
  }, 60_000)

  it('refuses a peer that is not the expected one (ERR_PEER_ID_MISMATCH)', async () => {
    const server = quic()
    const listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
      identity: generateEd25519(),
      onConnection: () => {}
    })
    await expect(
      quic().dial(listener.multiaddrs[0]!, {
        identity: generateEd25519(),
        expectedPeer: PeerId.fromPublicKey(generateEd25519().publicKey)
      })
    )
      .rejects.toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
    await listener.close()
  }, 30_000)

  it('a failed handshake frees its place under maxConnections once (was twice: failures raised the cap)', async () => {
    const serverId = generateEd25519()
    const errors: Error[] = []
    const accepted: UpgradedConnection[] = []
    const listener = await quic({ maxConnections: 1, handshakeTimeoutMs: 300 }).listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
      identity: serverId,
      onConnection: (c: TransportConnection) => { if (c.kind === 'upgraded') accepted.push(c.connection) },
      onError: (err) => { errors.push(err) }
    })
    const addr = listener.multiaddrs[0]!
    // two handshakes that fail on the server: a client's first Initial, then silence (handshake timeout)
    const port = Number(addr.toString().split('/')[4])
    for (let i = 1; i <= 2; i++) {
      const machine = new QuicMachine<Libp2pPeer>({
        role: 'client',
        credential: generateLibp2pCredential(generateEd25519()),
        verifyPeer: (chain) => verifyLibp2pCertificate(chain),
        alpn: ['libp2p'],
        localCid: randomBytes(8),
        remoteCid: randomBytes(8),
        now: performance.now()
      })
      const socket = dgram.createSocket('udp4')
      for (const d of machine.pollDatagrams(performance.now())) socket.send(d, port, '127.0.0.1')
      await waitFor(`the server's handshake failure #${i}`, () => errors.length === i)
      socket.close()
    }
    expect(accepted).toHaveLength(0)
    // the one place is free again: a good dial gets it
    const expectedPeer = PeerId.fromPublicKey(serverId.publicKey)
    const first = await quic().dial(addr, { identity: generateEd25519(), expectedPeer })
    await waitFor('the first connection accepted', () => accepted.length === 1)
    // and it is the only one: a second connection is not accepted (its Initials are dropped)
    await expect(quic({ handshakeTimeoutMs: 1500 }).dial(addr, { identity: generateEd25519(), expectedPeer }))
      .rejects.toThrow()
    expect(accepted).toHaveLength(1)
    if (first.kind === 'upgraded') await first.connection.muxer.close()
    await listener.close()
  }, 30_000)

  it('canDial only /udp/N/quic-v1 over ip4/ip6', () => {
    const t = quic()
    expect(t.canDial(multiaddr('/ip4/1.2.3.4/udp/4001/quic-v1'))).toBe(true)
    expect(t.canDial(multiaddr('/ip6/::1/udp/4001/quic-v1'))).toBe(true)
    expect(t.canDial(multiaddr('/ip4/1.2.3.4/tcp/4001'))).toBe(false)
  })
})
