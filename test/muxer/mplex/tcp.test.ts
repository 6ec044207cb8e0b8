// switchyard mplex ↔ switchyard mplex over loopback TCP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createMplex } from '../../../src/muxer/mplex/index.js'
import type { MplexConfig, MplexMuxer } from '../../../src/muxer/mplex/index.js'
import { MplexError, StreamResetError } from '../../../src/errors.js'
import type { Stream } from '../../../src/connection.js'
import { within } from '../../helpers/wait.js'
import { payload, sha256 } from './helpers.js'
import { tcpPair } from '../../helpers/socket-connection.js'
import type { TcpPair as SocketPair } from '../../helpers/socket-connection.js'
import { dial, listen } from '../../../src/transport/tcp.js'
import type { ByteConnection } from '../../../src/connection.js'
import { concat } from '../../helpers/bytes.js'

/** Two connected ends: the node:net test adapter's, or the TCP transport's. */
type TcpPair = Pick<SocketPair, 'client' | 'server' | 'close'>

const cleanups: Array<() => void> = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

/** A loopback connection through switchyard's own TCP transport (src/transport/tcp.ts). */
async function transportPair (): Promise<TcpPair> {
  let accepted: (c: ByteConnection) => void = () => {}
  const inbound = new Promise<ByteConnection>(resolve => { accepted = resolve })
  const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: (c) => { accepted(c) } })
  const addr = listener.multiaddrs[0]
  if (addr === undefined) throw new Error('listener has no address')
  const client = await dial(addr)
  const server = await inbound
  await listener.close()
  return { client, server, close: () => { client.abort(); server.abort() } }
}

const transports: Array<[string, () => Promise<TcpPair>]> = [
  ['node:net test adapter', tcpPair],
  ['src/transport/tcp.ts', transportPair]
]
let makePair: () => Promise<TcpPair> = tcpPair

async function muxPair (
  client: Partial<MplexConfig> = {},
  server: Partial<MplexConfig> = {}
): Promise<{ a: MplexMuxer, b: MplexMuxer, pair: TcpPair }> {
  const pair = await makePair()
  cleanups.push(pair.close)
  const a = createMplex(pair.client, { initiator: true, config: client })
  const b = createMplex(pair.server, { initiator: false, config: server })
  cleanups.push(() => { a.abort(); b.abort() })
  return { a, b, pair }
}

async function readAll (s: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of s) chunks.push(c)
  return concat(chunks)
}

/** Echo every inbound stream back, then half-close. */
function echo (mux: MplexMuxer): void {
  mux.onStream = (s) => {
    void (async () => {
      for await (const c of s) await s.write(c)
      await s.closeWrite()
    })().catch(() => {})
  }
}

/** Write `data` in pieces of `piece` bytes, half-close, and read the whole answer. */
async function roundTrip (s: Stream, data: Uint8Array, piece: number): Promise<Uint8Array> {
  const answer = readAll(s)
  for (let off = 0; off < data.length; off += piece) await s.write(data.subarray(off, off + piece))
  await s.closeWrite()
  return await answer
}

describe.each(transports)('mplex over loopback TCP (%s)', (_name, factory) => {
  beforeEach(() => { makePair = factory })

  it('100 concurrent streams echo checksummed payloads', async () => {
    const { a, b } = await muxPair()
    echo(b)
    const results = await within(10_000, '100 echoes', Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const data = payload(i + 1, 1000 + i * 997)
      const back = await roundTrip(a.newStream(), data, 4096 + i)
      return [sha256(back), sha256(data)]
    })))
    for (const [got, want] of results) expect(got).toBe(want)
    expect(a.streams.size).toBe(0)
    expect(b.streams.size).toBe(0)
  })

  it('8 MiB through one stream in frames of at most maxFramePayloadBytes', async () => {
    const { a, b } = await muxPair({ maxFramePayloadBytes: 16 * 1024 })
    echo(b)
    const data = payload(99, 8 * 1024 * 1024)
    const back = await within(10_000, '8 MiB echo', roundTrip(a.newStream(), data, 1024 * 1024))
    expect(sha256(back)).toBe(sha256(data))
  })

  it('a reader that stops reading gets its stream reset — not the connection', async () => {
    const { a, b } = await muxPair({}, { maxStreamBufferBytes: 2 * 1024 * 1024 })
    const inbound: Stream[] = []
    b.onStream = (s) => { inbound.push(s) }
    const slow = a.newStream()
    const fine = a.newStream()
    // The peer's stream never reads; we send 3 MiB into it.
    const writeResult = slow.write(payload(5, 3 * 1024 * 1024)).then(() => 'written', (e: unknown) => e)
    const readErr = await within(10_000, 'reset reaches the writer', slow.read().then(() => undefined, (e: unknown) => e))
    expect(readErr).toBeInstanceOf(StreamResetError)
    const w = await writeResult
    expect(w === 'written' || w instanceof StreamResetError).toBe(true)
    // On the slow side the stream failed with the buffer limit as its cause.
    const local = await inbound[0]?.read().then(() => undefined, (e: unknown) => e)
    expect(local).toBeInstanceOf(StreamResetError)
    expect((local as Error).cause).toBeInstanceOf(MplexError)
    expect((local as Error).cause).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    // The other stream and new streams still work.
    echo(b)
    const other = inbound[1] as Stream
    void (async () => { for await (const c of other) await other.write(c); await other.closeWrite() })()
    expect(Buffer.from(await roundTrip(fine, payload(6, 5000), 100))).toEqual(Buffer.from(payload(6, 5000)))
    const fresh = await roundTrip(a.newStream(), payload(7, 70_000), 30_000)
    expect(sha256(fresh)).toBe(sha256(payload(7, 70_000)))
  })

  it('reset travels both ways; close() ends the connection cleanly on both sides', async () => {
    const { a, b } = await muxPair()
    const inbound: Stream[] = []
    b.onStream = (s) => { inbound.push(s) }
    const bClosed = new Promise<Error | undefined>(resolve => { b.onClose = resolve })
    const s = a.newStream()
    await s.write(Uint8Array.of(1))
    const their = await within(10_000, 'stream arrives', (async () => {
      while (inbound.length === 0) await new Promise(resolve => setImmediate(resolve))
      return inbound[0] as Stream
    })()
    )
    expect(Array.from(await their.readExactly(1))).toEqual([1])
    their.reset()
    await expect(within(10_000, 'reset arrives', s.read())).rejects.toBeInstanceOf(StreamResetError)
    const t = a.newStream()
    await t.writeLp('last')
    await within(10_000, 'close', a.close())
    expect(await within(10_000, 'peer sees the close', bClosed)).toBeUndefined()
    // the peer's copy of t was closed by us before the connection ended: its data is still there
    const theirT = inbound[1] as Stream
    expect(Buffer.from(await theirT.readLp(10)).toString()).toBe('last')
    expect(await theirT.read()).toBeNull()
  })

  it('property: random limits and payloads round-trip', async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({
        maxFramePayloadBytes: fc.integer({ min: 1, max: 70_000 }),
        writeHighWaterBytes: fc.integer({ min: 1, max: 300_000 })
      }),
      fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 100_000 }),
      async (config, sizes, piece) => {
        const { a, b } = await muxPair(config, config)
        echo(b)
        const out = await within(10_000, 'random round trip', Promise.all(sizes.map(async (n, i) => {
          const data = payload(n + i, n)
          return sha256(await roundTrip(a.newStream(), data, piece)) === sha256(data)
        })))
        expect(out.every(Boolean)).toBe(true)
        a.abort()
        b.abort()
      }
    ), { numRuns: 8 })
  })
})
