/**
 * The dgram adapter over real UDP loopback, for the connection features the simulated link tests
 * in detail: key updates (RFC 9001 §6), pacing, Retry and Version Negotiation.
 */
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import type { Stream, TransportConnection, UpgradedConnection } from '../../../src/connection.js'
import { generateEd25519 } from '../../../src/security/keys.js'
import { multiaddr } from '../../../src/transport/multiaddr.js'
import type { QuicConnection } from '../../../src/transport/quic/connection.js'
import dgram from 'node:dgram'
import { encodeVersionNegotiation, parseHeader } from '../../../src/transport/quic/header.js'
import { quic, type QuicTransportOptions } from '../../../src/transport/quic/transport.js'
import { foreignLongHeader } from './packets.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function readAll (s: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for (let c = await s.read(); c !== null; c = await s.read()) parts.push(c)
  return Buffer.concat(parts)
}

/** The machine behind an upgraded QUIC connection (the adapter's muxer keeps its driver). */
function machine (c: UpgradedConnection): QuicConnection {
  return (c.muxer as unknown as { driver: { conn: QuicConnection } }).driver.conn
}

/** Listen with `serverOpts`, dial with `clientOpts`, echo `streams` × `bytes` through it. */
async function echoOverLoopback (
  serverOpts: QuicTransportOptions,
  clientOpts: QuicTransportOptions,
  streams: number,
  bytes: number
): Promise<{ dialed: UpgradedConnection, inbound: UpgradedConnection, close: () => Promise<void> }> {
  let resolveAccepted: (c: UpgradedConnection) => void = () => {}
  const accepted = new Promise<UpgradedConnection>(resolve => { resolveAccepted = resolve })
  const listener = await quic(serverOpts).listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
    identity: generateEd25519(),
    onConnection: (c: TransportConnection) => { if (c.kind === 'upgraded') resolveAccepted(c.connection) }
  })
  const d = await quic(clientOpts).dial(listener.multiaddrs[0]!, { identity: generateEd25519() })
  if (d.kind !== 'upgraded') throw new Error('expected an upgraded connection')
  const inbound = await accepted
  inbound.muxer.onStream = (s: Stream) => {
    void (async () => {
      const data = await readAll(s)
      await s.write(data)
      await s.closeWrite()
    })()
  }
  const payloads = Array.from({ length: streams }, () => new Uint8Array(randomBytes(bytes)))
  const echoed = await Promise.all(payloads.map(async (p) => {
    const s = d.connection.muxer.newStream()
    await s.write(p)
    await s.closeWrite()
    return await readAll(s)
  }))
  expect(echoed.map(sha)).toEqual(payloads.map(sha))
  return {
    dialed: d.connection,
    inbound,
    close: async () => {
      await d.connection.muxer.close()
      await listener.close()
    }
  }
}

describe('QUIC over node:dgram: connection features (loopback)', () => {
  it('key updates every 50 packets on both sides while 2 x 512 KiB echo intact (RFC 9001 §6)', async () => {
    // 1200-byte datagrams (no DPLPMTUD): enough packets for several updates
    const small = { keyUpdateIntervalPackets: 50, loopbackDatagramSize: 1200 }
    const r = await echoOverLoopback(small, small, 2, 512 * 1024)
    const c = machine(r.dialed)
    const s = machine(r.inbound)
    expect(c.keyUpdates.local + c.keyUpdates.remote).toBeGreaterThanOrEqual(5)
    expect(s.keyUpdates.local + s.keyUpdates.remote).toBeGreaterThanOrEqual(5)
    await r.close()
  }, 30_000)

  it('DPLPMTUD on loopback: both sides grow their datagrams past 1200 bytes, echo intact (RFC 9000 §14.3)', async () => {
    const r = await echoOverLoopback({ loopbackDatagramSize: 9000 }, { loopbackDatagramSize: 9000 }, 2, 512 * 1024)
    const size = (c: UpgradedConnection): number => (machine(c) as unknown as { datagramSize: number }).datagramSize
    expect(machine(r.dialed).localParams.maxUdpPayloadSize).toBe(9000)
    expect(size(r.dialed)).toBe(9000)
    expect(size(r.inbound)).toBe(9000)
    await r.close()
  }, 30_000)

  it(
    'paced (the default): 4 x 1 MiB echo intact over loopback, the adapter\'s one timer driving the pacer',
    async () => {
      const r = await echoOverLoopback({}, {}, 4, 1024 * 1024)
      expect(machine(r.dialed).state).toBe('established')
      await r.close()
    },
    60_000
  )

  it(
    'Retry always: the dial goes through one Retry, the address counts as validated, echo intact (RFC 9000 §8.1.2)',
    async () => {
      const r = await echoOverLoopback({ retry: 'always' }, {}, 2, 256 * 1024)
      const c = machine(r.dialed)
      expect(c.retrySourceCid).toBeDefined()
      expect(c.peerParams?.retrySourceConnectionId).toEqual(c.retrySourceCid)
      expect((machine(r.inbound) as unknown as { amplification: { validated: boolean } }).amplification.validated).toBe(
        true
      )
      await r.close()
    },
    30_000
  )

  it(
    'Retry under load: with the threshold at 0 pending handshakes every dial is retried; the default listener does not retry one dial',
    async () => {
      const loaded = await echoOverLoopback({ retryAfterPendingHandshakes: 0 }, {}, 1, 1024)
      expect(machine(loaded.dialed).retrySourceCid).toBeDefined()
      await loaded.close()
      const idle = await echoOverLoopback({}, {}, 1, 1024)
      expect(machine(idle.dialed).retrySourceCid).toBeUndefined()
      await idle.close()
    },
    30_000
  )

  it(
    'the listener answers an unknown version with Version Negotiation, and not a datagram under 1200 bytes',
    async () => {
      const listener = await quic().listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'), {
        identity: generateEd25519(),
        onConnection: () => {}
      })
      const port = Number(listener.multiaddrs[0]!.toString().split('/')[4])
      const sock = dgram.createSocket('udp4')
      const reply = new Promise<Uint8Array>(resolve => sock.once('message', m => resolve(new Uint8Array(m))))
      await new Promise<void>(resolve => sock.bind(0, '127.0.0.1', resolve))
      const small = foreignLongHeader(0x00000002, Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1), Uint8Array.of(1), 1199)
      const big = foreignLongHeader(0x00000002, Uint8Array.of(2, 2, 2, 2, 2, 2, 2, 2), Uint8Array.of(2), 1200)
      // the small one goes first: if it were answered, its answer would come first (loopback keeps order)
      sock.send(small, port, '127.0.0.1')
      sock.send(big, port, '127.0.0.1')
      const vn = parseHeader(await reply, 0, 8)
      expect(vn).toMatchObject({
        form: 'version-negotiation',
        dcid: Uint8Array.of(2),
        scid: Uint8Array.of(2, 2, 2, 2, 2, 2, 2, 2)
      })
      expect(vn.form === 'version-negotiation' && vn.versions.includes(1)).toBe(true)
      sock.close()
      await listener.close()
    },
    30_000
  )

  it('a dial to a server that speaks other versions fails with ERR_QUIC_VERSION naming them', async () => {
    const server = dgram.createSocket('udp4')
    await new Promise<void>(resolve => server.bind(0, '127.0.0.1', resolve))
    server.on('message', (m, rinfo) => {
      const h = parseHeader(new Uint8Array(m), 0, 8)
      if (h.form === 'long') {
        server.send(encodeVersionNegotiation(h.scid, h.dcid, [0x00000002, 0x6b3343cf], 0x11), rinfo.port, rinfo.address)
      }
    })
    const port = server.address().port
    await expect(quic().dial(multiaddr(`/ip4/127.0.0.1/udp/${port}/quic-v1`), { identity: generateEd25519() }))
      .rejects.toMatchObject({ code: 'ERR_QUIC_VERSION', message: expect.stringContaining('0x00000002, 0x6b3343cf') })
    server.close()
  }, 30_000)
})
