import { describe, expect, it } from 'vitest'
import { createPingHandler, ping, pingHandler } from '../../src/protocols/ping.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { ProtocolError } from '../../src/protocols/errors.js'
import { CodecError, EndOfStreamError, StreamResetError } from '../../src/errors.js'
import { streamPair, wireHex } from '../helpers/stream-pair.js'
import { testContext } from './context.js'

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
