/**
 * The dialer's flights (specs digest §2.3, §8.3): lazy multistream-select on the connection and on
 * streams, early muxer negotiation, leftover bytes handed on. Counted as direction changes seen by
 * a TCP proxy, never with timers.
 */
import { createServer, connect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { PeerId, generateEd25519 } from '../../src/index.js'
import type { MuxerName } from '../../src/index.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { ping, pingProtocol } from '../../src/protocols/ping.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
const servers: Server[] = []
afterEach(async () => {
  await fleet.stopAll()
  await Promise.all(servers.splice(0).map(async s => await new Promise(resolve => s.close(resolve))))
})

async function listenRaw (onSocket: (s: Socket) => void): Promise<number> {
  const server = createServer(onSocket)
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

/** A TCP proxy to `target` that records the direction of every chunk ('D' dialer→listener, 'L' back). */
async function proxy (target: number): Promise<{ port: number, log: string[] }> {
  const log: string[] = []
  const port = await listenRaw((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target })
    client.on('data', (c) => { log.push('D'); upstream.write(c) })
    upstream.on('data', (c) => { log.push('L'); client.write(c) })
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('end', () => upstream.end())
    upstream.on('end', () => client.end())
  })
  return { port, log }
}

/** Consecutive chunks in one direction are one flight. */
function flights (log: readonly string[]): string[] {
  return log.filter((d, i) => i === 0 || log[i - 1] !== d)
}

describe('dialer pipelining', () => {
  it('flight 1 is header + /noise + Noise message 1, sent without waiting for any answer', async () => {
    const received: Buffer[] = []
    let total = 0
    const port = await listenRaw((s) => {
      s.on('data', (c: Buffer) => {
        received.push(c)
        total += c.length
      })
      s.on('error', () => {})
    })
    const client = await fleet.bare({ config: { handshakeTimeoutMs: 2_000 } })
    const someone = PeerId.fromPublicKey(generateEd25519().publicKey)
    const dialing = client.dial(someone, [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e)
    const header = encodeMessage('/multistream/1.0.0')
    const noise = encodeMessage('/noise')
    const expected = header.length + noise.length + 2 + 32
    await waitFor('flight 1', () => total >= expected)
    const flight = Buffer.concat(received)
    expect(flight.length).toBe(expected) // and nothing more: the rest needs the listener's answer
    expect(flight.subarray(0, header.length + noise.length)).toEqual(Buffer.concat([header, noise]))
    // msg 1: e (32 bytes), empty payload
    expect([...flight.subarray(header.length + noise.length, header.length + noise.length + 2)]).toEqual([0x00, 0x20])
    await client.stop()
    expect(await dialing).toBeInstanceOf(Error)
  })

  const noRttPings = { rttIntervalMs: 0 }
  it.each([
    ['early muxer negotiation (switchyard, go, js peers)', true, ['yamux', 'mplex'], 4],
    ['one muxer via lazy multistream (rust, nim peers)', false, ['yamux'], 4],
    ['two muxers via full multistream', false, ['yamux', 'mplex'], 6]
  ] as Array<[string, boolean, MuxerName[], number]>)(
    'connect + ping in the fewest flights: %s',
    async (_name, early, muxers, expected) => {
      const server = await fleet.bare({
        protocols: [pingProtocol],
        muxers,
        earlyMuxerNegotiation: early,
        yamux: noRttPings
      })
      const client = await fleet.bare({ muxers, earlyMuxerNegotiation: early, yamux: noRttPings })
      const target = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
      const { port, log } = await proxy(target)
      const stream = await client.dial(server.peerId, [`/ip4/127.0.0.1/tcp/${port}`], PING_CODEC, { lazy: true })
      expect(await ping(stream)).toHaveLength(1)
      // D: mss + /noise + msg1 · L: mss + msg2 · D: msg3 [+ mss muxer] + SYN + mss + ping · L: … pong
      expect(flights(log)).toEqual(['D', 'L', 'D', 'L', 'D', 'L'].slice(0, expected))
    }
  )

  it('a full (default) stream negotiation costs exactly one more round trip', async () => {
    const server = await fleet.bare({ protocols: [pingProtocol], yamux: noRttPings })
    const client = await fleet.bare({ yamux: noRttPings })
    const { port, log } = await proxy(Number(server.peerInfo.addrs[0]?.toNodeAddress().port))
    const stream = await client.dial(server.peerId, [`/ip4/127.0.0.1/tcp/${port}`], PING_CODEC)
    expect(await ping(stream)).toHaveLength(1)
    expect(flights(log)).toEqual(['D', 'L', 'D', 'L', 'D', 'L'])
  })
})
