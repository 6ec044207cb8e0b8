import { describe, expect, it } from 'vitest'
import { createPingHandler, ping, pingHandler } from '../../src/protocols/ping.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { ProtocolError } from '../../src/protocols/errors.js'
import { CodecError, EndOfStreamError, StreamResetError } from '../../src/errors.js'
import { streamPair, wireHex } from '../helpers/stream-pair.js'
import { testContext } from './context.js'
import type { Stream } from '../../src/connection.js'
import { nimPingHandler } from '../helpers/nim-ping-peer.js'
import { MUXERS, muxedConnection } from '../helpers/muxed-pair.js'

/** Deterministic payloads: round i is 32 bytes of value i + 1. */
function counter (): (n: number) => Uint8Array {
  let i = 0
  return (n) => new Uint8Array(n).fill(++i)
}

describe('/ipfs/ping/1.0.0', () => {
  it('round trips on one stream: 32 bytes out, the same 32 back, then FIN both ways', async () => {
    const { client, server, wire } = streamPair({ protocol: PING_CODEC })
    const { ctx } = testContext()
    const seen: number[] = []
    const [, rtts] = await Promise.all([
      pingHandler(server, PING_CODEC, ctx),
      ping(client, { count: 3, randomBytes: counter(), onRtt: (_rtt, i) => seen.push(i) })
    ])
    expect(rtts).toHaveLength(3)
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(0)
    expect(seen).toEqual([0, 1, 2])
    const payloads = '01'.repeat(32) + '02'.repeat(32) + '03'.repeat(32)
    expect(wireHex(wire.clientToServer)).toBe(payloads + ' FIN')
    expect(wireHex(wire.serverToClient)).toBe(payloads + ' FIN')
    expect(client.fullyClosed && server.fullyClosed).toBe(true)
  })

  it('uses fresh random payloads by default', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    await Promise.all([pingHandler(server, PING_CODEC, ctx), ping(client, { count: 2 })])
    const sent = wire.clientToServer.flatMap(e => e.type === 'data' ? [Buffer.from(e.bytes).toString('hex')] : [])
    expect(sent).toHaveLength(2)
    expect(sent[0]).not.toBe(sent[1])
  })

  it('a wrong echo is ProtocolError ERR_PING_MISMATCH and resets the stream', async () => {
    const { client, server, wire } = streamPair()
    const liar = (async () => {
      const got = await server.readExactly(32)
      const wrong = got.slice()
      wrong[31] = (wrong[31] ?? 0) ^ 1
      await server.write(wrong)
    })()
    const pinging = ping(client, { randomBytes: counter() })
    await expect(pinging).rejects.toBeInstanceOf(ProtocolError)
    await expect(pinging).rejects.toMatchObject({ code: 'ERR_PING_MISMATCH' })
    await expect(pinging).rejects.toThrow(/round 1: echo expected (01){32}, got (01){31}00/)
    await liar
    expect(wireHex(wire.clientToServer)).toBe('01'.repeat(32) + ' RST')
  })

  it('a listener that closes instead of echoing gives EndOfStreamError', async () => {
    const { client, server } = streamPair()
    const closer = (async () => { await server.readExactly(32); await server.close() })()
    await expect(ping(client)).rejects.toBeInstanceOf(EndOfStreamError)
    await closer
  })

  it('the client gives up after timeoutMs with ERR_PROTOCOL_TIMEOUT', async () => {
    const { client, wire } = streamPair() // nobody serves the other end
    const pinging = ping(client, { timeoutMs: 20 })
    await expect(pinging).rejects.toMatchObject({ code: 'ERR_PROTOCOL_TIMEOUT' })
    expect(wireHex(wire.clientToServer)).toMatch(/ RST$/)
  })

  it('the listener resets a stream that stays idle past idleTimeoutMs', async () => {
    const { server, client, wire } = streamPair()
    const { ctx } = testContext()
    const handling = createPingHandler({ idleTimeoutMs: 20 })(server, PING_CODEC, ctx)
    await expect(handling).rejects.toMatchObject({ code: 'ERR_PROTOCOL_TIMEOUT' })
    expect(wireHex(wire.serverToClient)).toBe(' RST')
    await expect(client.read()).rejects.toBeInstanceOf(StreamResetError)
  })

  it('the listener rejects a payload cut short by EOF (CodecError ERR_UNEXPECTED_EOF) and resets', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = pingHandler(server, PING_CODEC, ctx)
    await client.write(new Uint8Array(32).fill(7))
    await client.write(new Uint8Array(5))
    await client.closeWrite()
    await expect(handling).rejects.toBeInstanceOf(CodecError)
    await expect(handling).rejects.toMatchObject({ code: 'ERR_UNEXPECTED_EOF' })
    expect(wireHex(wire.serverToClient)).toBe('07'.repeat(32) + ' RST')
  })

  it('the listener takes a reset between payloads as the end (go-libp2p resets instead of closing)', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    const handling = pingHandler(server, PING_CODEC, ctx)
    await client.write(new Uint8Array(32).fill(9))
    expect(Array.from(await client.readExactly(32))).toEqual(new Array(32).fill(9))
    client.reset()
    await expect(handling).resolves.toBeUndefined()
  })

  it('a reset inside a payload is still an error', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    const handling = pingHandler(server, PING_CODEC, ctx)
    await client.write(new Uint8Array(5))
    // The pair delivers with microtasks: by the next macrotask the handler holds the 5 bytes mid-payload.
    await new Promise(resolve => setImmediate(resolve))
    client.reset()
    await expect(handling).rejects.toBeInstanceOf(StreamResetError)
  })

  it('the listener echoes payloads that arrive split and batched arbitrarily', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = pingHandler(server, PING_CODEC, ctx)
    const data = new Uint8Array(96).map((_, i) => i)
    // 96 bytes = 3 payloads, sent as 1 + 40 + 55 bytes
    await client.write(data.subarray(0, 1))
    await client.write(data.subarray(1, 41))
    await client.write(data.subarray(41))
    await client.closeWrite()
    await handling
    expect(wireHex(wire.serverToClient)).toBe(Buffer.from(data).toString('hex') + ' FIN')
  })

  it('validates its options', async () => {
    const { client } = streamPair()
    await expect(ping(client, { count: 0 })).rejects.toBeInstanceOf(RangeError)
    await expect(ping(client, { timeoutMs: -1 })).rejects.toBeInstanceOf(RangeError)
    expect(() => createPingHandler({ idleTimeoutMs: 0 })).toThrow(RangeError)
  })
})

describe('/ipfs/ping/1.0.0 against a listener that answers one payload per stream (nim-libp2p)', () => {
  it('with openStream, each round the listener ended goes on over a new stream, and says so', async () => {
    const [a, b, c] = [streamPair(), streamPair(), streamPair()] as const
    const serving = [a, b, c].map(async p => { await nimPingHandler(p.server) })
    const next = [b.client, c.client]
    const moves: Array<[number, string]> = []
    const rtts = await ping(a.client, {
      count: 3,
      randomBytes: counter(),
      openStream: async () => {
        const s = next.shift()
        if (s === undefined) throw new Error('a fourth stream')
        return s
      },
      onNewStream: (i, reason) => moves.push([i, reason])
    })
    await Promise.all(serving)
    expect(rtts).toHaveLength(3)
    expect(moves).toEqual([[1, 'the listener ended the stream after its echo'], [
      2,
      'the listener ended the stream after its echo'
    ]])
    // Round i + 1 is echoed on stream i; the first stream also saw round 2 before it ended.
    expect(wireHex(a.wire.clientToServer)).toMatch(new RegExp('^' + '01'.repeat(32) + '02'.repeat(32)))
    expect(wireHex(a.wire.serverToClient)).toBe('01'.repeat(32) + ' FIN')
    expect(wireHex(b.wire.serverToClient)).toBe('02'.repeat(32) + ' FIN')
    expect(wireHex(c.wire.serverToClient)).toBe('03'.repeat(32) + ' FIN')
    expect(wireHex(c.wire.clientToServer)).toBe('03'.repeat(32) + ' FIN')
  })

  it('without openStream the end of the stream stays an EndOfStreamError naming the round', async () => {
    const { client, server } = streamPair()
    const serving = nimPingHandler(server)
    const pinging = ping(client, { count: 2 })
    await expect(pinging).rejects.toBeInstanceOf(EndOfStreamError)
    await expect(pinging).rejects.toThrow(/ended after 0 of 32 bytes|round 2/)
    await serving
  })

  it('a new stream that ends before its first echo is an error, not a loop', async () => {
    const first = streamPair()
    const second = streamPair()
    const serving = nimPingHandler(first.server)
    const closing = (async () => { await second.server.readExactly(32); await second.server.close() })()
    const pinging = ping(first.client, { count: 2, openStream: async () => second.client })
    await expect(pinging).rejects.toBeInstanceOf(EndOfStreamError)
    await Promise.all([serving, closing])
  })

  it('an end inside an echo is still an error', async () => {
    const first = streamPair()
    const half = (async () => {
      const p1 = await first.server.readExactly(32)
      await first.server.write(p1)
      const p2 = await first.server.readExactly(32)
      await first.server.write(p2.subarray(0, 10))
      await first.server.close()
    })()
    const pinging = ping(first.client, { count: 2, openStream: async () => { throw new Error('must not reopen') } })
    await expect(pinging).rejects.toBeInstanceOf(EndOfStreamError)
    await half
  })

  it.each(MUXERS)('over $name on loopback TCP: three rounds, three streams', async (kind) => {
    const conn = await muxedConnection(kind)
    try {
      const served: Array<Promise<void>> = []
      const open = async (): Promise<Stream> => {
        const { client, server } = await conn.newPair(PING_CODEC)
        served.push(nimPingHandler(server))
        return client
      }
      const moves: number[] = []
      const rtts = await ping(await open(), { count: 3, openStream: open, onNewStream: i => moves.push(i) })
      expect(rtts).toHaveLength(3)
      expect(moves).toEqual([1, 2])
      expect(served).toHaveLength(3)
      await Promise.all(served)
    } finally {
      await conn.close()
    }
  })

  it('a listener that repeats on one stream (switchyard\'s, as go\'s, rust\'s and js\'s) is never left for a new stream', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    const [, rtts] = await Promise.all([
      pingHandler(server, PING_CODEC, ctx),
      ping(client, {
        count: 4,
        openStream: async () => {
          throw new Error('must not reopen')
        },
        onNewStream: () => {
          throw new Error('must not move')
        }
      })
    ])
    expect(rtts).toHaveLength(4)
  })
})
