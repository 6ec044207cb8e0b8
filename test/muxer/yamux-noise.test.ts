/**
 * yamux over TCP + Noise (src/security): the stack as the switch builds it, minus multistream.
 * 1000 concurrent streams with checksummed payloads, and one large stream.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createYamux } from '../../src/muxer/index.js'
import type { StreamMuxer } from '../../src/connection.js'
import { generateEd25519, secureInbound, secureOutbound } from '../../src/security/index.js'
import { readAll, sha256, tcpPair, withTimeout } from './helpers.js'
import type { TcpPair } from './helpers.js'

let pair: TcpPair | undefined
const muxers: StreamMuxer[] = []
afterEach(async () => {
  for (const m of muxers.splice(0)) m.abort()
  await pair?.close()
  pair = undefined
})

async function setup (): Promise<{ client: StreamMuxer, server: StreamMuxer }> {
  pair = await tcpPair()
  const [c, s] = await withTimeout(Promise.all([
    secureOutbound(pair.client, { identity: generateEd25519() }),
    secureInbound(pair.server, { identity: generateEd25519() })
  ]), 10_000, 'noise handshake')
  expect(c.muxer).toBe('/yamux/1.0.0') // early muxer negotiation inside Noise
  const client = createYamux(c.conn, { initiator: true })
  const server = createYamux(s.conn, { initiator: false })
  muxers.push(client, server)
  return { client, server }
}

describe('yamux over TCP + Noise', () => {
  it('1000 concurrent streams, each with a checksummed payload, answered with its digest', async () => {
    const { client, server } = await setup()
    server.onStream = (s) => {
      void (async () => {
        await s.writeLp(sha256(await readAll(s)))
        await s.closeWrite()
      })()
    }
    await withTimeout(Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      const body = randomBytes(1 + (i * 7919) % 40_000)
      const s = client.newStream()
      await s.write(body)
      await s.closeWrite()
      expect(new TextDecoder().decode(await s.readLp(64))).toBe(sha256(body))
      expect(await s.read()).toBeNull()
    })), 25_000, '1000 streams over noise')
  })

  it('16 MiB in one stream each way', async () => {
    const { client, server } = await setup()
    server.onStream = (s) => {
      void (async () => { await s.write(await readAll(s)); await s.closeWrite() })()
    }
    const data = randomBytes(16 * 1024 * 1024)
    const s = client.newStream()
    const echoed = readAll(s)
    await s.write(data)
    await s.closeWrite()
    const got = await withTimeout(echoed, 25_000, 'echo over noise')
    expect(got.length).toBe(data.length)
    expect(sha256(got)).toBe(sha256(data))
  })
})
