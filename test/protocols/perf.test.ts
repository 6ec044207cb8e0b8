import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodePerfHeader, encodePerfHeader, formatPerfOutput, perf, perfHandler, PERF_MAX_REQUEST
} from '../../src/protocols/perf.js'
import type { PerfOutput } from '../../src/protocols/perf.js'
import { PERF_CODEC } from '../../src/protocols/constants.js'
import { ProtocolError } from '../../src/protocols/errors.js'
import { CodecError } from '../../src/errors.js'
import { streamPair, wireBytes, wireHex } from '../helpers/stream-pair.js'
import type { WireEvent } from '../helpers/stream-pair.js'
import { testContext } from './context.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const dataBytes = (events: WireEvent[]): number => wireBytes(events).length

describe('perf header (u64 big-endian)', () => {
  it.each([
    [0, '0000000000000000'],
    [1, '0000000000000001'],
    [65536, '0000000000010000'],
    [Number.MAX_SAFE_INTEGER, '001fffffffffffff'],
    [PERF_MAX_REQUEST, 'ffffffffffffffff']
  ])('%s ↔ %s', (n, h) => {
    expect(hex(encodePerfHeader(n))).toBe(h)
    expect(decodePerfHeader(Uint8Array.from(Buffer.from(h, 'hex')))).toBe(BigInt(n))
  })

  it('round trips every u64 and reads at an offset', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: PERF_MAX_REQUEST }), fc.nat(8), (n, pad) => {
      const buf = new Uint8Array(pad + 8)
      buf.set(encodePerfHeader(n), pad)
      expect(decodePerfHeader(buf, pad)).toBe(n)
    }))
  })

  it('fewer than 8 bytes is CodecError ERR_UNEXPECTED_EOF', () => {
    for (let n = 0; n < 8; n++) {
      expect(() => decodePerfHeader(new Uint8Array(n))).toThrow(CodecError)
      expect(() => decodePerfHeader(new Uint8Array(n))).toThrow(`expected 8 bytes (big-endian u64), got ${n}`)
    }
  })

  it('refuses sizes outside [0, 2^64 - 1] and unsafe numbers', () => {
    expect(() => encodePerfHeader(-1)).toThrow(RangeError)
    expect(() => encodePerfHeader(1.5)).toThrow(RangeError)
    expect(() => encodePerfHeader(2 ** 60)).toThrow(RangeError) // not a safe integer: use a bigint
    expect(() => encodePerfHeader(1n << 64n)).toThrow(RangeError)
  })
})

describe('/perf/1.0.0', () => {
  it.each([
    [0, 0],
    [0, 1],
    [1, 0],
    [100, 200_000],
    [300_000, 5],
    [65536, 65536],
    [1_000_000, 1_000_000]
  ])('upload %i / download %i: counts match on both ends of the wire', async (up, down) => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const [, result] = await Promise.all([
      perfHandler(server, PERF_CODEC, ctx),
      perf(client, { uploadBytes: up, downloadBytes: down })
    ])
    expect(result.uploadBytes).toBe(up)
    expect(result.downloadBytes).toBe(down)
    expect(result.uploadSeconds).toBeGreaterThanOrEqual(0)
    expect(result.downloadSeconds).toBeGreaterThanOrEqual(0)
    expect(result.timeSeconds).toBeGreaterThanOrEqual(result.uploadSeconds)
    // client → header ‖ N upload bytes, FIN; server → download bytes, FIN
    const sent = wireBytes(wire.clientToServer)
    expect(sent.length).toBe(8 + up)
    expect(hex(sent.subarray(0, 8))).toBe(hex(encodePerfHeader(down)))
    expect(wire.clientToServer.at(-1)).toEqual({ type: 'fin' })
    expect(dataBytes(wire.serverToClient)).toBe(down)
    expect(wire.serverToClient.at(-1)).toEqual({ type: 'fin' })
    expect(client.fullyClosed && server.fullyClosed).toBe(true)
  })

  it('the server writes nothing until the client has half-closed', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = perfHandler(server, PERF_CODEC, ctx)
    await client.write(encodePerfHeader(1000))
    await client.write(new Uint8Array(5000))
    for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
    expect(wire.serverToClient).toEqual([])
    await client.closeWrite()
    let got = 0
    for await (const chunk of client) got += chunk.length
    await handling
    expect(got).toBe(1000)
  })

  it('the server accepts a header split over several chunks', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = perfHandler(server, PERF_CODEC, ctx)
    const header = encodePerfHeader(70_000)
    for (let i = 0; i < 8; i++) await client.write(header.subarray(i, i + 1))
    await client.closeWrite()
    for await (const _chunk of client) { /* drain */ }
    await handling
    expect(dataBytes(wire.serverToClient)).toBe(70_000)
  })

  it('a short header (stream ends after 3 bytes) is CodecError ERR_UNEXPECTED_EOF and resets', async () => {
    const { client, server, wire } = streamPair()
    const { ctx } = testContext()
    const handling = perfHandler(server, PERF_CODEC, ctx)
    await client.write(Uint8Array.of(0, 0, 0))
    await client.closeWrite()
    await expect(handling).rejects.toBeInstanceOf(CodecError)
    await expect(handling).rejects.toMatchObject({ code: 'ERR_UNEXPECTED_EOF' })
    await expect(handling).rejects.toThrow('got 3')
    expect(wireHex(wire.serverToClient)).toBe(' RST')
  })

  it('a server that sends fewer bytes than asked is ProtocolError ERR_PERF_SIZE_MISMATCH', async () => {
    const { client, server, wire } = streamPair()
    const cheat = (async () => {
      await server.readExactly(8)
      for await (const _c of server) { /* drain */ }
      await server.write(new Uint8Array(10))
      await server.close()
    })()
    const running = perf(client, { uploadBytes: 0, downloadBytes: 11 })
    await expect(running).rejects.toBeInstanceOf(ProtocolError)
    await expect(running).rejects.toMatchObject({ code: 'ERR_PERF_SIZE_MISMATCH' })
    await expect(running).rejects.toThrow('expected 11 download bytes, got 10')
    await cheat
    expect(wire.clientToServer.at(-1)).toEqual({ type: 'fin' }) // the stream was fully closed already: no RST
  })

  it('a server that sends more bytes than asked fails fast and resets', async () => {
    const { client, server, wire } = streamPair()
    const cheat = (async () => {
      await server.readExactly(8)
      for await (const _c of server) { /* drain */ }
      await server.write(new Uint8Array(12))
    })()
    const running = perf(client, { uploadBytes: 0, downloadBytes: 11 })
    await expect(running).rejects.toMatchObject({ code: 'ERR_PERF_SIZE_MISMATCH' })
    await expect(running).rejects.toThrow('got more than 11')
    await cheat
    expect(wireHex(wire.clientToServer)).toMatch(/ FIN RST$/)
  })

  it('works through a small window (backpressure both ways)', async () => {
    const { client, server, wire } = streamPair({ windowBytes: 1000 })
    const { ctx } = testContext()
    const [, result] = await Promise.all([
      perfHandler(server, PERF_CODEC, ctx),
      perf(client, { uploadBytes: 150_000, downloadBytes: 130_000 })
    ])
    expect(result.downloadBytes).toBe(130_000)
    expect(dataBytes(wire.clientToServer)).toBe(150_008)
    expect(wire.serverToClient.every(e => e.type !== 'data' || e.bytes.length <= 1000)).toBe(true)
  })

  it('reports intermediary deltas once per interval and a final total (injected clock)', async () => {
    const { client, server } = streamPair()
    const { ctx } = testContext()
    // Every clock read advances 400 ms: deterministic, independent of real time.
    let t = 0
    const now = (): number => { t += 400; return t }
    const out: PerfOutput[] = []
    await Promise.all([
      perfHandler(server, PERF_CODEC, ctx),
      perf(client, { uploadBytes: 10 * 65536, downloadBytes: 3 * 65536, now, onOutput: (o) => out.push(o), startMs: 0 })
    ])
    const inter = out.filter(o => o.type === 'intermediary')
    const final = out.filter(o => o.type === 'final')
    expect(final).toHaveLength(1)
    expect(out.at(-1)?.type).toBe('final')
    expect(inter.length).toBeGreaterThan(0)
    for (const o of inter) expect(o.timeSeconds).toBeGreaterThanOrEqual(1)
    expect(final[0]).toMatchObject({ uploadBytes: 10 * 65536, downloadBytes: 3 * 65536 })
    expect(final[0]?.timeSeconds).toBe(t / 1000) // startMs 0 to the last clock read
    // intermediary lines carry deltas: they never add up to more than the totals
    const up = inter.reduce((s, o) => s + o.uploadBytes, 0)
    const down = inter.reduce((s, o) => s + o.downloadBytes, 0)
    expect(up).toBeLessThanOrEqual(10 * 65536)
    expect(down).toBeLessThanOrEqual(3 * 65536)
    expect(up).toBeGreaterThan(0)
  })

  it('formats test-plans JSON lines with a fixed key order', () => {
    expect(formatPerfOutput({ downloadBytes: 2, uploadBytes: 1, timeSeconds: 1.5, type: 'final' }))
      .toBe('{"type":"final","timeSeconds":1.5,"uploadBytes":1,"downloadBytes":2}')
    expect(formatPerfOutput({ type: 'intermediary', timeSeconds: 1, uploadBytes: 0, downloadBytes: 65536 }))
      .toBe('{"type":"intermediary","timeSeconds":1,"uploadBytes":0,"downloadBytes":65536}')
  })

  it('validates its options', async () => {
    const { client } = streamPair()
    await expect(perf(client, { uploadBytes: -1, downloadBytes: 0 })).rejects.toBeInstanceOf(RangeError)
    await expect(perf(client, { uploadBytes: 0, downloadBytes: 0.5 })).rejects.toBeInstanceOf(RangeError)
  })
})
