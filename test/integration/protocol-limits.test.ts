/**
 * Per-protocol stream limits (issue #14: echo had none, ping has 2 — libp2p specs ping/ping.md) and
 * the switch's own stream limit, over real Noise + yamux connections:
 * - inbound: the stream past a protocol's `maxIncomingStreams` is reset after negotiation, the
 *   error reported (`protocol:error`, stage `limit`) and named; the others go on;
 * - outbound: `newStream` past a mounted protocol's `maxOutgoingStreams` throws ERR_TOO_MANY_STREAMS
 *   without opening anything (one protocol asked) or resets what it negotiated (a list);
 * - SYNs past `maxInboundStreamsPerConnection` get a bare RST from yamux, never an ACK first.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { UpgradedConnection } from '../../src/connection.js'
import { StreamResetError, SwitchyardError } from '../../src/errors.js'
import type { Stream, SwitchEvents } from '../../src/index.js'
import { Flag } from '../../src/muxer/constants.js'
import { ECHO_CODEC, ECHO_MAX_STREAMS, PING_CODEC, PING_MAX_INBOUND_STREAMS } from '../../src/protocols/constants.js'
import { echoProtocol } from '../../src/protocols/echo.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { TraceEvent } from '../../src/trace/observer.js'
import { authenticatedConnection } from '../helpers/authenticated-peer.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
const held: UpgradedConnection[] = []
afterEach(async () => {
  for (const up of held.splice(0)) up.muxer.abort()
  await fleet.stopAll()
})

/** Streams left open at the end are reset quickly instead of waiting stopTimeoutMs (5 s) for them. */
const QUICK_STOP = { stopTimeoutMs: 50 }

async function roundTrip (s: Stream, n: number): Promise<void> {
  await s.write(Uint8Array.of(n))
  const got = await s.read()
  expect(got?.[0]).toBe(n)
}

describe('per-protocol stream limits', () => {
  it(
    `echo: the ${
      ECHO_MAX_STREAMS + 1
    }th concurrent inbound echo stream on one connection is reset, named, and the others go on`,
    async () => {
      const server = await fleet.bare({ protocols: [echoProtocol], config: QUICK_STOP })
      const client = await fleet.bare({ config: QUICK_STOP })
      const errors: Array<SwitchEvents['protocol:error']> = []
      server.on('protocol:error', e => errors.push(e))
      const streams: Stream[] = []
      for (let i = 0; i < ECHO_MAX_STREAMS; i++) {
        const s = await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC)
        await roundTrip(s, i)
        streams.push(s)
      }
      // Negotiated, then reset: the reset may overtake the listener's answer, so either call fails.
      await expect(client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC).then(async s => await s.read()))
        .rejects.toBeInstanceOf(StreamResetError)
      await waitFor('the refusal to be reported', () => errors.length === 1)
      expect(errors[0]).toMatchObject({ protocol: ECHO_CODEC, stage: 'limit', error: { code: 'ERR_TOO_MANY_STREAMS' } })
      expect(errors[0]?.error.message).toMatch(
        new RegExp(
          `"maxIncomingStreams" of /switchyard/echo/1.0.0 expected <= ${ECHO_MAX_STREAMS} running handlers, got one more`
        )
      )
      for (const [i, s] of streams.entries()) await roundTrip(s, 100 + i)
      // A finished echo stream frees its slot.
      await streams[0]?.closeWrite()
      expect(await streams[0]?.read()).toBeNull()
      await waitFor('the first handler to finish', () =>
        server.connections()[0]?.streams().filter(s => s.protocol === ECHO_CODEC).length === ECHO_MAX_STREAMS - 1)
      await roundTrip(await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC), 7)
    },
    60_000
  )

  it(`ping: the ${PING_MAX_INBOUND_STREAMS + 1}rd concurrent ping stream is reset (ping.md)`, async () => {
    const server = await fleet.standard({ config: QUICK_STOP })
    const client = await fleet.bare({ config: QUICK_STOP })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    const pings: Stream[] = []
    for (let i = 0; i < PING_MAX_INBOUND_STREAMS; i++) {
      const s = await client.dial(server.peerId, server.peerInfo.addrs, PING_CODEC)
      const payload = new Uint8Array(32).fill(i)
      await s.write(payload)
      expect(Array.from(await s.readExactly(32))).toEqual(Array.from(payload))
      pings.push(s)
    }
    await expect(client.dial(server.peerId, server.peerInfo.addrs, PING_CODEC).then(async s => await s.read())).rejects
      .toBeInstanceOf(StreamResetError)
    await waitFor('the refusal to be reported', () => errors.length === 1)
    expect(errors[0]?.error.message).toMatch(/"maxIncomingStreams" of \/ipfs\/ping\/1\.0\.0 expected <= 2/)
  })

  it('outbound: newStream past a mounted protocol\'s maxOutgoingStreams throws ERR_TOO_MANY_STREAMS; one asked alone opens nothing', async () => {
    const server = await fleet.bare({
      protocols: [{ ...echoProtocol, maxIncomingStreams: 100 }, { codecs: ['/other/1.0.0'], handler: () => {} }],
      config: QUICK_STOP
    })
    const client = await fleet.bare({ protocols: [{ ...echoProtocol, maxOutgoingStreams: 3 }], config: QUICK_STOP })
    const conn = await client.connect(server.peerId, server.peerInfo.addrs)
    const streams: Stream[] = []
    for (let i = 0; i < 3; i++) streams.push(await conn.newStream(ECHO_CODEC))
    const before = conn.streamCount
    let caught: unknown
    try { await conn.newStream(ECHO_CODEC) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(SwitchyardError)
    expect(caught).toMatchObject({
      code: 'ERR_TOO_MANY_STREAMS',
      message: expect.stringMatching(
        /"maxOutgoingStreams" of \/switchyard\/echo\/1\.0\.0 expected <= 3 open outbound streams/
      ) as unknown
    })
    expect(conn.streamCount).toBe(before)
    // A list whose negotiation lands on echo: refused once negotiated, that stream reset.
    await expect(conn.newStream(['/not-mounted/1.0.0', ECHO_CODEC])).rejects.toMatchObject({
      code: 'ERR_TOO_MANY_STREAMS'
    })
    // Other protocols are not affected, and a closed echo stream frees a slot.
    await conn.newStream('/other/1.0.0')
    await roundTrip(streams[0] as Stream, 1)
    await streams[0]?.closeWrite()
    expect(await streams[0]?.read()).toBeNull()
    await waitFor('the stream to be gone', () => conn.streams().filter(s => s.protocol === ECHO_CODEC).length === 2)
    await roundTrip(await conn.newStream(ECHO_CODEC), 2)
  })
})

describe('switch-level stream limit: refused with a bare RST, never ACK then RST', () => {
  it('SYNs past maxInboundStreamsPerConnection are answered RST only', async () => {
    const server = await fleet.bare({ protocols: [echoProtocol], config: { maxInboundStreamsPerConnection: 2 } })
    const reported: number[] = []
    server.on('protocol:error', e => { if (e.stage === 'limit') reported.push(e.streamId) })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const frames: Array<{ streamId: number, flags: number }> = []
    const observer = {
      event: (e: TraceEvent) => {
        if (e.layer === 'yamux' && e.kind === 'frame' && e.dir === 'in' && e.streamId !== 0) {
          frames.push({
            streamId: e.streamId,
            flags: e.flags
          })
        }
      }
    }
    const opened = server.next('connection:open')
    const up = await authenticatedConnection(port, {
      identity: generateEd25519(),
      expectedPeer: server.peerId,
      observer
    })
    held.push(up)
    // Once the listener's switch holds the connection: a stream arriving before that waits in the
    // muxer (bounded by the muxer's own limit, one above the switch's) and is ACKed there.
    await opened
    // No bytes on them: the two accepted stay open (waiting for multistream) while the rest arrive —
    // 8 SYNs at first, the others once the listener's first answer is in (OPENING_ACK_BACKLOG).
    const streams = Array.from({ length: 20 }, () => up.muxer.newStream())
    const ids = streams.map(s => s.id)
    await waitFor(
      'an answer to every SYN',
      () => ids.every(id => frames.some(f => f.streamId === id && (f.flags & (Flag.ACK | Flag.RST)) !== 0)),
      10_000
    )
    const acked = ids.filter(id => frames.some(f => f.streamId === id && (f.flags & Flag.ACK) !== 0))
    const refusedBare = ids.filter(id =>
      !acked.includes(id) && frames.some(f => f.streamId === id && f.flags === Flag.RST)
    )
    expect(acked).toEqual(ids.slice(0, 2))
    expect(refusedBare).toEqual(ids.slice(2))
    // The switch saw (and reported) the first one past its limit; the muxer refused the rest itself.
    expect(reported).toContain(ids[2])
  })
})
