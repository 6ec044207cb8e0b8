/**
 * yamux over loopback TCP, and the two load cases also over TCP + Noise (src/security), the stack
 * as the switch builds it minus multistream.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createYamux } from '../../src/muxer/index.js'
import type { ByteConnection, Stream, StreamMuxer } from '../../src/connection.js'
import { StreamResetError } from '../../src/errors.js'
import { generateEd25519, secureInbound, secureOutbound } from '../../src/security/index.js'
import { frameBytes, readAll, sha256 } from './helpers.js'
import { tcpPair } from '../helpers/socket-connection.js'
import type { TcpPair } from '../helpers/socket-connection.js'
import { waitFor, within } from '../helpers/wait.js'
import { FrameType, Flag } from '../../src/muxer/constants.js'
import type { TraceEvent } from '../../src/trace/observer.js'
import { concat } from '../helpers/bytes.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

let pair: TcpPair | undefined
const muxers: StreamMuxer[] = []
afterEach(async () => {
  for (const m of muxers.splice(0)) m.abort()
  await pair?.close()
  pair = undefined
})

function muxPair (a: ByteConnection, b: ByteConnection, config = {}): { client: StreamMuxer, server: StreamMuxer } {
  const client = createYamux(a, { initiator: true, config })
  const server = createYamux(b, { initiator: false, config })
  muxers.push(client, server)
  return { client, server }
}

async function setup (config = {}): Promise<{ client: StreamMuxer, server: StreamMuxer }> {
  pair = await tcpPair()
  return muxPair(pair.client, pair.server, config)
}

async function setupOverNoise (): Promise<{ client: StreamMuxer, server: StreamMuxer }> {
  pair = await tcpPair()
  const [c, s] = await within(10_000, 'noise handshake', Promise.all([
    secureOutbound(pair.client, { identity: generateEd25519() }),
    secureInbound(pair.server, { identity: generateEd25519() })
  ]))
  expect(c.muxer).toBe('/yamux/1.0.0') // early muxer negotiation inside Noise
  return muxPair(c.conn, s.conn)
}

/** The two ends over raw loopback TCP, or over TCP + Noise with yamux agreed inside the handshake. */
const CONNECTIONS: Array<[string, () => Promise<{ client: StreamMuxer, server: StreamMuxer }>]> = [
  ['loopback TCP', async () => await setup()],
  ['TCP + Noise', setupOverNoise]
]

describe.each(CONNECTIONS)('yamux over %s', (_name, connect) => {
  it('1000 concurrent streams, each with a checksummed payload, answered with its digest', async () => {
    const { client, server } = await connect()
    server.onStream = (s) => {
      void (async () => {
        const body = await readAll(s)
        await s.writeLp(sha256(body))
        await s.closeWrite()
      })()
    }
    const run = async (i: number): Promise<void> => {
      const body = randomBytes(1 + (i * 7919) % 40_000)
      const s = client.newStream()
      await s.write(body)
      await s.closeWrite()
      const digest = new TextDecoder().decode(await s.readLp(64))
      expect(digest).toBe(sha256(body))
      expect(await s.read()).toBeNull()
    }
    await within(25_000, '1000 streams', Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      await run(i)
    }))
    )
    // every stream is fully closed on both ends and forgotten
    await waitFor('stream cleanup', () => client.streams.size + server.streams.size === 0)
  })

  it('one stream carries 32 MiB intact in both directions (window auto-tuning on)', async () => {
    const { client, server } = await connect()
    const size = 32 * 1024 * 1024
    const data = randomBytes(size)
    server.onStream = (s) => {
      void (async () => {
        const body = await readAll(s)
        await s.write(body)
        await s.closeWrite()
      })()
    }
    const s = client.newStream()
    const echoed = readAll(s)
    for (let o = 0; o < size; o += 1024 * 1024) await s.write(data.subarray(o, o + 1024 * 1024))
    await s.closeWrite()
    const got = await within(25_000, '32 MiB echo', echoed)
    expect(got.length).toBe(size)
    expect(Buffer.from(got).equals(data)).toBe(true)
  })
})

describe('yamux over loopback TCP', () => {
  it('a reader that never reads: the sender holds at most one window, its write stays pending', async () => {
    const { client, server } = await setup()
    let inbound: Stream | undefined
    server.onStream = (s) => { inbound = s }
    const s = client.newStream()
    let done = false
    const w = s.write(new Uint8Array(8 * 1024 * 1024)).then(() => { done = true }, () => {})
    const buffered = (): number => (inbound as unknown as { readableLength: number } | undefined)?.readableLength ?? 0
    await waitFor('first window', () => buffered() >= 256_000)
    // Everything the client handed to its socket has reached the server (which parses each chunk
    // synchronously): what is buffered now is all that was sent.
    const sockets = (pair as TcpPair).sockets
    await waitFor(
      'bytes in flight landed',
      () => pair?.client.writableLength === 0 && sockets.server.bytesRead === sockets.client.bytesWritten
    )
    expect((inbound as unknown as { readableLength: number }).readableLength).toBe(256_000)
    expect(done).toBe(false)
    expect((client as unknown as { yamux: { outboxBytes: number } }).yamux.outboxBytes).toBe(0)
    expect(pair?.client.writableLength).toBe(0)
    s.reset()
    await w
  })

  it('100 streams with one stalled reader: the other 99 finish', async () => {
    const { client, server } = await setup()
    const stalled = 37
    let n = 0
    server.onStream = (s) => {
      const mine = n++
      if (mine === stalled) return
      void (async () => { await s.writeLp(sha256(await readAll(s))); await s.closeWrite() })()
    }
    const body = randomBytes(1024 * 1024)
    const streams = Array.from({ length: 100 }, () => client.newStream())
    const results = streams.map(async (s, i) => {
      if (i === stalled) { void s.write(body).catch(() => {}); return }
      await s.write(body)
      await s.closeWrite()
      expect(new TextDecoder().decode(await s.readLp(64))).toBe(sha256(body))
    })
    await within(20_000, '99 streams', Promise.all(results))
  })

  it('bytes read past negotiation (initialBytes) are decoded first', async () => {
    pair = await tcpPair()
    const server = createYamux(pair.server, {
      initiator: false,
      initialBytes: [
        frameBytes(FrameType.Data, Flag.SYN | Flag.FIN, 1, 3, Uint8Array.of(1, 2, 3)).subarray(0, 7),
        frameBytes(FrameType.Data, Flag.SYN | Flag.FIN, 1, 3, Uint8Array.of(1, 2, 3)).subarray(7)
      ]
    })
    muxers.push(server)
    const got = new Promise<Uint8Array>(resolve => { server.onStream = (s) => { void readAll(s).then(resolve) } })
    expect(await within(5000, 'initial bytes', got)).toEqual(Uint8Array.of(1, 2, 3))
  })

  it('close() sends GoAway: the peer ends normally, streams left open are reset on both ends', async () => {
    const { client, server } = await setup()
    const serverClosed = new Promise<Error | undefined>(resolve => { server.onClose = resolve })
    let inbound: Stream | undefined
    server.onStream = (s) => { inbound = s }
    const s = client.newStream()
    await s.write(Uint8Array.of(1))
    await waitFor('stream', () => inbound !== undefined)
    await client.close()
    expect(await within(5000, 'server close', serverClosed)).toBeUndefined()
    await expect(s.read()).rejects.toBeInstanceOf(StreamResetError)
    // as go's forceClose: the session is gone, so is what the stream had buffered
    await expect((inbound as Stream).read()).rejects.toBeInstanceOf(StreamResetError)
  })

  it('goAway(): a SYN that crossed it is refused with RST, the peer opens no more, the open stream finishes; close() sends no second GoAway', async () => {
    pair = await tcpPair()
    const frames: Array<[number, number, number]> = []
    const observer = {
      event: (e: TraceEvent) => {
        if (e.layer === 'yamux' && e.kind === 'frame' && e.dir === 'in') frames.push([e.frameType, e.flags, e.streamId])
      }
    }
    const client = createYamux(pair.client, { initiator: true, observer })
    const server = createYamux(pair.server, { initiator: false })
    muxers.push(client, server)
    const inbound: Stream[] = []
    server.onStream = (s) => { inbound.push(s) }
    const clientClosed = new Promise<Error | undefined>(resolve => { client.onClose = resolve })

    const a = client.newStream()
    await a.write(utf8('hello'))
    await waitFor('stream a', () => inbound.length > 0)
    // The client stops reading, so it opens stream b before it can know about the GoAway.
    pair.client.pause()
    server.goAway()
    const b = client.newStream()
    await b.write(utf8('too late'))
    pair.client.resume()
    await expect(within(5000, 'b refused', b.read())).rejects.toBeInstanceOf(StreamResetError)
    expect(() => client.newStream()).toThrow(expect.objectContaining({ code: 'ERR_YAMUX_GOAWAY' }) as Error)

    const s = inbound[0] as Stream
    expect(new TextDecoder().decode(await s.readExactly(5))).toBe('hello')
    await s.write(utf8('world'))
    await s.closeWrite()
    await a.closeWrite()
    expect(new TextDecoder().decode(await within(5000, 'a', readAll(a)))).toBe('world')
    expect(await s.read()).toBeNull()
    expect(inbound).toHaveLength(1)

    await server.close()
    expect(await within(5000, 'client close', clientClosed)).toBeUndefined()
    const goAways = frames.filter(([type]) => type === FrameType.GoAway)
    expect(goAways).toHaveLength(1)
    // GoAway came first, then the RST refusing b, then the open stream's data.
    const at = (type: number, flags: number, id: number): number =>
      frames.findIndex(f => f[0] === type && (f[1] & flags) === flags && f[2] === id)
    expect(at(FrameType.GoAway, 0, 0)).toBeLessThan(at(FrameType.WindowUpdate, Flag.RST, b.id))
    expect(at(FrameType.WindowUpdate, Flag.RST, b.id)).toBeLessThan(at(FrameType.Data, 0, a.id))
  })

  it('a protocol violation from the peer: GoAway(protocol error) on the wire, then the connection closes', async () => {
    pair = await tcpPair()
    const server = createYamux(pair.server, { initiator: false })
    muxers.push(server)
    const closed = new Promise<Error | undefined>(resolve => { server.onClose = resolve })
    const received: Uint8Array[] = []
    const ended = new Promise<void>(resolve => {
      pair?.client.attach({ onData: c => { received.push(c) }, onEnd: resolve, onClose: () => { resolve() } })
    })
    pair.client.write([frameBytes(FrameType.WindowUpdate, Flag.SYN, 2, 0)]) // a listener-parity id from the dialer
    expect(await within(5000, 'close', closed)).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL' })
    await within(5000, 'end', ended)
    const bytes = Buffer.from(concat(received)).toString('hex')
    expect(bytes.endsWith('000300000000000000000001')).toBe(true)
  })
})
