// The application protocols end to end over real muxers (yamux, mplex) on loopback TCP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { streamProtoClient, streamProtoHandler } from '../../src/protocols/stream-proto.js'
import { ping, pingHandler } from '../../src/protocols/ping.js'
import { identify, identifyHandler, identifyPush, identifyPushHandler } from '../../src/protocols/identify.js'
import { perf, perfHandler } from '../../src/protocols/perf.js'
import { echo, echoHandler } from '../../src/protocols/echo.js'
import {
  AGENT_VERSION, ECHO_CODEC, IDENTIFY_CODEC, IDENTIFY_PUSH_CODEC, PERF_CODEC, PING_CODEC, STREAM_PROTO_CODEC
} from '../../src/protocols/constants.js'
import { MUXERS, muxedConnection } from '../helpers/muxed-pair.js'
import type { MuxedConnection } from '../helpers/muxed-pair.js'
import { ADDR_IP4, ADDR_IP6, ADDR_OBSERVED, PUBLIC_KEY, testContext } from './context.js'

describe.each(MUXERS)('protocols over $name on loopback TCP', (kind) => {
  let conn: MuxedConnection
  beforeEach(async () => { conn = await muxedConnection(kind) })
  afterEach(async () => { await conn.close() })

  it('tutorial stream-proto', async () => {
    const { client, server } = await conn.newPair(STREAM_PROTO_CODEC)
    const { ctx, lines } = testContext()
    const clientLines: string[] = []
    const [, parts] = await Promise.all([
      streamProtoHandler(server, STREAM_PROTO_CODEC, ctx),
      streamProtoClient(client, { log: (l) => clientLines.push(l) })
    ])
    expect(lines).toEqual(['[server] received from client: please send data'])
    expect(parts).toEqual(Array.from({ length: 11 }, (_, i) => `Part ${i}`))
    expect(clientLines).toHaveLength(11)
  })

  it('ping, 5 round trips on one stream', async () => {
    const { client, server } = await conn.newPair(PING_CODEC)
    const { ctx } = testContext()
    const [, rtts] = await Promise.all([pingHandler(server, PING_CODEC, ctx), ping(client, { count: 5 })])
    expect(rtts).toHaveLength(5)
  })

  it('identify and identify-push', async () => {
    const a = await conn.newPair(IDENTIFY_CODEC)
    const { ctx, pushes } = testContext()
    const [, got] = await Promise.all([identifyHandler(a.server, IDENTIFY_CODEC, ctx), identify(a.client)])
    expect(got).toEqual({
      protocolVersion: 'ipfs/0.1.0',
      agentVersion: AGENT_VERSION,
      publicKey: PUBLIC_KEY,
      listenAddrs: [ADDR_IP4, ADDR_IP6],
      observedAddr: ADDR_OBSERVED,
      protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']
    })
    const b = await conn.newPair(IDENTIFY_PUSH_CODEC)
    await Promise.all([
      identifyPushHandler(b.server, IDENTIFY_PUSH_CODEC, ctx),
      identifyPush(b.client, { listenAddrs: [ADDR_IP6], protocols: [] })
    ])
    expect(pushes).toEqual([{ listenAddrs: [ADDR_IP6], protocols: [] }])
  })

  it.each([
    [0, 0],
    [0, 3_000_000],
    [3_000_000, 0],
    [1_000_000, 2_000_000]
  ])('perf upload %i, download %i', async (up, down) => {
    const { client, server } = await conn.newPair(PERF_CODEC)
    const { ctx } = testContext()
    const [, result] = await Promise.all([
      perfHandler(server, PERF_CODEC, ctx),
      perf(client, { uploadBytes: up, downloadBytes: down })
    ])
    expect(result).toMatchObject({ uploadBytes: up, downloadBytes: down })
  })

  it('8 perf streams at once on one connection', async () => {
    const pairs = []
    for (let i = 0; i < 8; i++) pairs.push(await conn.newPair(PERF_CODEC))
    const { ctx } = testContext()
    const results = await Promise.all(pairs.map(async ({ client, server }, i) => {
      const [, r] = await Promise.all([
        perfHandler(server, PERF_CODEC, ctx),
        perf(client, { uploadBytes: 100_000 * i, downloadBytes: 300_000 - 10_000 * i })
      ])
      return r
    }))
    results.forEach((r, i) =>
      expect(r).toMatchObject({ uploadBytes: 100_000 * i, downloadBytes: 300_000 - 10_000 * i })
    )
  })

  it('echo of 2 MB (well above the stream window)', async () => {
    const { client, server } = await conn.newPair(ECHO_CODEC)
    const { ctx } = testContext()
    const data = new Uint8Array(2_000_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const [, back] = await Promise.all([echoHandler(server, ECHO_CODEC, ctx), echo(client, data)])
    expect(Buffer.from(back).equals(data)).toBe(true)
  })
})
