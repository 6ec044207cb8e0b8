/**
 * Noise over real loopback TCP (src/transport/tcp.ts): handshakes in both roles, bulk data both ways
 * with random configurations, the wrong-peer case on a real socket, and concurrent handshakes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { dial, listen } from '../../src/transport/tcp.js'
import type { TcpConnection } from '../../src/transport/tcp.js'
import {
  generateEd25519,
  generateSecp256k1,
  nobleSuite,
  nodeSuite,
  PeerId,
  secureInbound,
  secureOutbound
} from '../../src/security/index.js'
import type { SecureOptions, SecureResult } from '../../src/security/index.js'
import { Collector } from './helpers.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { while (cleanups.length > 0) await cleanups.pop()!() })

async function tcpPair (): Promise<{ client: TcpConnection, server: TcpConnection }> {
  let accept!: (c: TcpConnection) => void
  const accepted = new Promise<TcpConnection>(resolve => { accept = resolve })
  const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: c => accept(c) })
  cleanups.push(async () => { await listener.close() })
  const client = await dial(listener.multiaddrs[0]!)
  const server = await accepted
  cleanups.push(() => { client.abort(); server.abort() })
  return { client, server }
}

async function secured (
  c: Partial<SecureOptions> = {},
  s: Partial<SecureOptions> = {}
): Promise<[SecureResult, SecureResult]> {
  const { client, server } = await tcpPair()
  return await Promise.all([
    secureOutbound(client, { identity: generateEd25519(), ...c }),
    secureInbound(server, { identity: generateEd25519(), ...s })
  ])
}

describe('Noise over loopback TCP', () => {
  it('handshakes, agrees on yamux, and moves 4 MiB each way intact', async () => {
    const [c, s] = await secured()
    expect(c.muxer).toBe('/yamux/1.0.0')
    const cs = new Collector()
    const ss = new Collector()
    c.conn.attach(cs)
    s.conn.attach(ss)
    const size = 4 * 1024 * 1024
    const a = Uint8Array.from({ length: size }, (_, i) => (i * 13) & 0xff)
    const b = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 1) & 0xff)
    for (let off = 0; off < size; off += 100_000) c.conn.write([a.subarray(off, Math.min(size, off + 100_000))])
    s.conn.write([b])
    await ss.until(() => ss.length === size, 20_000)
    await cs.until(() => cs.length === size, 20_000)
    expect(Buffer.from(ss.bytes).equals(Buffer.from(a))).toBe(true)
    expect(Buffer.from(cs.bytes).equals(Buffer.from(b))).toBe(true)
    c.conn.closeWrite()
    await ss.until(() => ss.ended)
    await s.conn.close()
    await cs.until(() => cs.closed)
  })

  it('dialer expecting another peer: ERR_PEER_ID_MISMATCH on a real socket, listener fails too', async () => {
    const { client, server } = await tcpPair()
    const [c, s] = await Promise.allSettled([
      secureOutbound(client, {
        identity: generateEd25519(),
        expectedPeer: PeerId.fromPublicKey(generateEd25519().publicKey)
      }),
      secureInbound(server, { identity: generateEd25519() })
    ])
    expect((c as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
    expect((s as PromiseRejectedResult).reason).toMatchObject({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
  })

  it('property: random suites, key types, muxer lists and write sizes all round-trip', async () => {
    await fc.assert(fc.asyncProperty(
      fc.boolean(), fc.boolean(), fc.boolean(),
      fc.subarray(['/yamux/1.0.0', '/mplex/6.7.0'], { minLength: 0 }),
      fc.subarray(['/mplex/6.7.0', '/yamux/1.0.0'], { minLength: 0 }),
      fc.array(fc.integer({ min: 0, max: 140_000 }), { minLength: 1, maxLength: 6 }),
      async (nobleC, nobleS, secp, mc, ms, sizes) => {
        const [c, s] = await secured(
          { suite: nobleC ? nobleSuite : nodeSuite, muxers: mc, ...(secp ? { identity: generateSecp256k1() } : {}) },
          { suite: nobleS ? nobleSuite : nodeSuite, muxers: ms }
        )
        const expected = mc.length > 0 && ms.length > 0 ? mc.find(m => ms.includes(m)) : undefined
        expect(c.muxer).toBe(expected)
        expect(s.muxer).toBe(expected)
        const ss = new Collector()
        s.conn.attach(ss)
        c.conn.attach(new Collector())
        const total = sizes.reduce((a, b) => a + b, 0)
        const data = Uint8Array.from({ length: total }, (_, i) => (i * 31 + 7) & 0xff)
        let off = 0
        for (const n of sizes) { c.conn.write([data.subarray(off, off + n)]); off += n }
        await ss.until(() => ss.length === total, 20_000)
        expect(Buffer.from(ss.bytes).equals(Buffer.from(data))).toBe(true)
        c.conn.abort()
        s.conn.abort()
      }
    ), { numRuns: 12 })
  })

  it('20 concurrent handshakes on one listener', async () => {
    const identity = generateEd25519()
    const results: Array<Promise<SecureResult>> = []
    const listener = await listen('/ip4/127.0.0.1/tcp/0', {
      onConnection: conn => { results.push(secureInbound(conn, { identity })) }
    })
    cleanups.push(async () => { await listener.close({ closeConnections: true }) })
    const dials = await Promise.all(Array.from({ length: 20 }, async () => {
      const conn = await dial(listener.multiaddrs[0]!)
      cleanups.push(() => conn.abort())
      return await secureOutbound(conn, {
        identity: generateEd25519(),
        expectedPeer: PeerId.fromPublicKey(identity.publicKey)
      })
    }))
    expect(dials).toHaveLength(20)
    const inbound = await Promise.all(results)
    expect(new Set(inbound.map(r => r.remotePeer.toString())).size).toBe(20)
  })
})
