/**
 * QUIC registered in the standard switch: listen and dial `/udp/N/quic-v1` by name, the connection
 * arrives upgraded through the Transport seam (TLS 1.3 + QUIC streams, no multistream for either),
 * ping/identify/echo run on QUIC streams with multistream-select per stream, and the connection and
 * its streams are charged to the switch's resource scopes (src/resources) as over TCP.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { newStandardSwitch, type Switch } from '../../../src/index.js'
import { ECHO_CODEC, PING_CODEC } from '../../../src/protocols/constants.js'
import { echo, echoProtocol } from '../../../src/protocols/echo.js'
import { ping } from '../../../src/protocols/ping.js'
import { waitFor } from '../../helpers/wait.js'

const started: Switch[] = []
afterEach(async () => { await Promise.all(started.splice(0).map(async s => { await s.stop() })) })

async function standard (options: Parameters<typeof newStandardSwitch>[0] = {}): Promise<Switch> {
  const sw = newStandardSwitch({ log: () => {}, ...options })
  started.push(sw)
  await sw.start()
  return sw
}

describe('QUIC in the standard switch', () => {
  it('listens on /udp/0/quic-v1 through the default registry; ping, identify and echo over QUIC streams', async () => {
    const server = await standard({ listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'], protocols: [echoProtocol] })
    const client = await standard({ listenAddrs: [] })
    const addr = server.peerInfo.addrs[0]
    expect(addr?.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1$/)
    const conn = await client.connect(server.peerId, server.peerInfo.addrs)
    expect(conn.security).toBe('/tls/1.0.0')
    expect(conn.multiplexer).toBe('/quic-v1')
    expect(conn.muxerNegotiation).toBe('transport')
    expect(conn.remoteAddr).toBe(addr?.toString())
    const [rtt] = await ping(await conn.newStream(PING_CODEC), { count: 1 })
    expect(rtt).toBeGreaterThanOrEqual(0)
    const id = await conn.identified()
    expect(id?.agentVersion).toMatch(/switchyard/)
    expect(id?.listenAddrs.map(a => a.toString())).toContain(addr?.toString())
    const data = new Uint8Array(300 * 1024).map((_, i) => i * 7)
    expect(await echo(await conn.newStream(ECHO_CODEC), data)).toEqual(data)
  }, 30_000)

  it(
    'charges QUIC connections and streams to the switch\'s resource scopes; the inbound stream cap refuses',
    async () => {
      const server = await standard({
        listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'],
        protocols: [echoProtocol],
        resources: { connection: { inboundStreams: 2 } }
      })
      const client = await standard({ listenAddrs: [] })
      const conn = await client.connect(server.peerId, server.peerInfo.addrs)
      await waitFor('the server to register the connection', () => server.inspect().resources.connections.length === 1)
      const view = server.inspect().resources.connections[0]
      expect(view?.peer).toBe(client.peerId.toString())
      expect(view?.name).toMatch(/^inbound \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1/)
      await conn.identified()
      // two echo streams held open fill the inbound cap; a third is reset by the server
      const held = [await conn.newStream(ECHO_CODEC), await conn.newStream(ECHO_CODEC)]
      for (const s of held) {
        await s.write(Uint8Array.of(1))
        expect(await s.read()).toEqual(Uint8Array.of(1))
      }
      expect(server.inspect().resources.connections[0]?.usage.inboundStreams).toBe(2)
      await expect(conn.newStream(ECHO_CODEC).then(async s => await echo(s, Uint8Array.of(2)))).rejects.toThrow()
      expect(server.inspect().resources.connections[0]?.usage.refused.streams).toBeGreaterThan(0)
      // closing both releases their charge once the QUIC streams are gone
      for (const s of held) {
        await s.closeWrite()
        expect(await s.read()).toBeNull()
      }
      await waitFor('the streams to be released', () =>
        server.inspect().resources.connections[0]?.usage.inboundStreams === 0)
      expect(await echo(await conn.newStream(ECHO_CODEC), Uint8Array.of(3))).toEqual(Uint8Array.of(3))
      await conn.close()
      await waitFor('the connection scope to close', () =>
        server.inspect().resources.connections.length === 0)
    },
    30_000
  )

  it(
    'charges QUIC bytes: nothing while idle, then what is held and each stream\'s send queue until acknowledged; a full scope stops the writer',
    async () => {
      const limit = 600 * 1024
      const server = await standard({
        listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1'],
        protocols: [echoProtocol],
        resources: { connection: { memoryBytes: limit } }
      })
      const client = await standard({ listenAddrs: [] })
      const conn = await client.connect(server.peerId, server.peerInfo.addrs)
      await waitFor('the server to register the connection', () => server.inspect().resources.connections.length === 1)
      const usage = (): { memoryBytes: number, refused: { memory: number } } | undefined =>
        server.inspect().resources.connections[0]?.usage
      // an idle connection holds nothing: its initial windows are not charged (at most a few unconsumed bytes)
      expect(usage()?.memoryBytes).toBeLessThan(16 * 1024)
      // four echo streams, 512 KiB written on each, the echoes never read: the server's answers
      // beyond our 256 KiB stream windows queue on its side, charged to its connection scope, and what it
      // receives while its writes wait is held, charged too
      const payload = new Uint8Array(512 * 1024).fill(9)
      const streams = await Promise.all(Array.from({ length: 4 }, async () => await conn.newStream(ECHO_CODEC)))
      for (const s of streams) void s.write(payload).catch(() => {})
      let peak = 0
      await waitFor('the server\'s scope to refuse send-queue bytes', () => {
        peak = Math.max(peak, usage()?.memoryBytes ?? 0)
        return (usage()?.refused.memory ?? 0) > 0
      }, 20_000)
      peak = Math.max(peak, usage()?.memoryBytes ?? 0)
      expect(peak).toBeGreaterThan(256 * 1024)
      expect(peak).toBeLessThanOrEqual(limit)
      // another peer is not affected
      const other = await standard({ listenAddrs: [] })
      const data = new Uint8Array(100 * 1024).map((_, i) => i)
      expect(await echo(await other.newStream(server.peerId, server.peerInfo.addrs, ECHO_CODEC), data)).toEqual(data)
      // the peer leaves: everything charged to its connection goes back
      await conn.close()
      await waitFor('the scope to be given back', () =>
        server.inspect().resources.connections.every(c => c.peer !== client.peerId.toString()), 15_000)
      const r = server.inspect().resources
      expect(r.process.usage.memoryBytes).toBe(r.connections.reduce((n, c) => n + c.usage.memoryBytes, 0))
    },
    40_000
  )
})
