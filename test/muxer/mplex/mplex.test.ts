import { describe, expect, it } from 'vitest'
import { createMplex } from '../../../src/muxer/mplex/index.js'
import { MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { EndOfStreamError, MplexError, StreamResetError, TransportError } from '../../../src/errors.js'
import type { Stream } from '../../../src/connection.js'
import { within } from '../../helpers/wait.js'
import { FakeConnection, frame, settle, utf8 } from './helpers.js'

const text = (b: Uint8Array | null): string => b === null ? '<EOF>' : Buffer.from(b).toString()
const frames = (conn: FakeConnection): Array<[number, number, string]> =>
  conn.takeFrames().map(f => [f.streamId, f.flag, Buffer.from(f.data).toString()])

function setup (
  config = {}
): { conn: FakeConnection, mux: ReturnType<typeof createMplex>, inbound: Stream[], closed: Array<Error | undefined> } {
  const conn = new FakeConnection()
  const mux = createMplex(conn, { initiator: true, config })
  const inbound: Stream[] = []
  const closed: Array<Error | undefined> = []
  mux.onStream = (s) => { inbound.push(s) }
  mux.onClose = (err) => { closed.push(err) }
  return { conn, mux, inbound, closed }
}

describe('mplex adapter: streams and batching', () => {
  it('a new stream and its first writes go out as one batch in one conn.write', async () => {
    const { conn, mux } = setup()
    const s = mux.newStream()
    expect(s.id).toBe(0)
    expect(s.direction).toBe('outbound')
    const writes = [s.write(utf8('a')), s.writeLp('hello'), s.write(utf8('b'))]
    expect(conn.batches).toHaveLength(0) // nothing written synchronously
    await Promise.all(writes)
    await settle(1)
    expect(conn.batches).toHaveLength(1)
    expect(frames(conn)).toEqual([[0, MessageFlag.NewStream, '0'], [0, 2, 'a'], [0, 2, '\x05hello'], [0, 2, 'b']])
  })

  it('inbound streams: data, EOF, answer with the receiver flags, removed after both Close', async () => {
    const { conn, mux, inbound } = setup()
    conn.inject(
      frame(7, MessageFlag.NewStream, 'x'),
      frame(7, MessageFlag.MessageInitiator, utf8('\x03abc')),
      frame(7, MessageFlag.CloseInitiator)
    )
    expect(inbound).toHaveLength(1)
    const s = inbound[0] as Stream
    expect([s.id, s.direction]).toEqual([7, 'inbound'])
    expect(text(await s.readLp(10))).toBe('abc')
    expect(await s.read()).toBeNull()
    await s.writeLp('ok')
    await s.closeWrite()
    await settle(1)
    expect(frames(conn)).toEqual([[7, MessageFlag.MessageReceiver, '\x02ok'], [7, MessageFlag.CloseReceiver, '']])
    expect(mux.streams.size).toBe(0)
  })

  it('streams the peer opens before onStream is set are delivered when it is (initialBytes too)', async () => {
    const conn = new FakeConnection()
    const mux = createMplex(conn, {
      initiator: false,
      initialBytes: [frame(0, MessageFlag.NewStream), frame(0, MessageFlag.MessageInitiator, 'early')]
    })
    const got: Stream[] = []
    mux.onStream = (s) => { got.push(s) }
    expect(got).toHaveLength(1)
    expect(text(await (got[0] as Stream).read())).toBe('early')
  })

  it('our stream 0 and the peer\'s stream 0 are distinct streams', async () => {
    const { conn, mux, inbound } = setup()
    const mine = mux.newStream()
    conn.inject(
      frame(0, MessageFlag.NewStream),
      frame(0, MessageFlag.MessageInitiator, 'theirs'),
      frame(0, MessageFlag.MessageReceiver, 'mine')
    )
    expect(text(await mine.read())).toBe('mine')
    expect(text(await (inbound[0] as Stream).read())).toBe('theirs')
    expect(mux.streams.size).toBe(2)
  })

  it('a handler that throws resets only that stream', async () => {
    const conn = new FakeConnection()
    const mux = createMplex(conn, { initiator: true })
    mux.onStream = () => { throw new Error('handler bug') }
    conn.inject(frame(3, MessageFlag.NewStream))
    await settle(1)
    expect(frames(conn)).toEqual([[3, MessageFlag.ResetReceiver, '']])
    expect(conn.aborted).toEqual([])
  })
})

describe('mplex adapter: backpressure', () => {
  it('a write waits while the connection is above its high-water mark and resolves after onDrain', async () => {
    const { conn, mux } = setup()
    const s = mux.newStream()
    conn.accept = false
    await s.write(utf8('first')) // taken into the outbox at once
    await settle(1) // flushed: the connection says "full"
    expect(conn.batches).toHaveLength(1)
    let done = false
    const p = s.write(utf8('second')).then(() => { done = true })
    await settle(2)
    expect(done).toBe(false)
    expect(conn.batches).toHaveLength(1)
    conn.drain()
    await p
    await settle(1)
    expect(frames(conn).map(f => f[2])).toEqual(['0', 'first', 'second'])
  })

  it('the outbox high-water mark bounds what one tick queues; blocked streams resume after the flush', async () => {
    const { conn, mux } = setup({ writeHighWaterBytes: 100, maxFramePayloadBytes: 40 })
    const a = mux.newStream()
    const b = mux.newStream()
    const big = new Uint8Array(300).fill(0x61)
    await within(10_000, 'both writes complete', Promise.all([a.write(big), b.write(big.fill(0x62, 0))]))
    await settle(1)
    expect(conn.batches.length).toBeGreaterThan(2) // several flushes, not one 600-byte burst
    const fs = conn.takeFrames().filter(f => f.flag === MessageFlag.MessageInitiator)
    expect(fs.every(f => f.data.length <= 40)).toBe(true)
    expect(fs.filter(f => f.streamId === 0).reduce((n, f) => n + f.data.length, 0)).toBe(300)
    expect(fs.filter(f => f.streamId === 1).reduce((n, f) => n + f.data.length, 0)).toBe(300)
  })
})

describe('mplex adapter: slow readers', () => {
  it('a stream whose reader falls behind by more than maxStreamBufferBytes is reset; the connection lives on', async () => {
    const { conn, inbound } = setup({ maxMessageBytes: 1000, maxStreamBufferBytes: 2500 })
    conn.inject(frame(1, MessageFlag.NewStream), frame(2, MessageFlag.NewStream))
    const [slow, other] = inbound as [Stream, Stream]
    const kb = new Uint8Array(1000)
    conn.inject(frame(1, MessageFlag.MessageInitiator, kb), frame(1, MessageFlag.MessageInitiator, kb))
    expect((await slow.read())?.length).toBe(1000) // the reader takes one: 1000 unread
    conn.inject(frame(1, MessageFlag.MessageInitiator, kb)) // 2000 unread: fits
    conn.inject(frame(1, MessageFlag.MessageInitiator, kb)) // 3000 > 2500: reset
    const err = await slow.read().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StreamResetError)
    expect((err as Error).cause).toBeInstanceOf(MplexError)
    expect((err as Error).cause).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    await settle(1)
    expect(frames(conn)).toEqual([[1, MessageFlag.ResetReceiver, '']])
    conn.inject(frame(1, MessageFlag.MessageInitiator, 'late')) // in flight before our reset: ignored
    conn.inject(frame(2, MessageFlag.MessageInitiator, 'still fine'))
    expect(text(await other.read())).toBe('still fine')
    expect(conn.aborted).toEqual([])
  })
})

describe('mplex adapter: errors and teardown', () => {
  it('a malformed frame aborts the connection and resets every stream with MplexError', async () => {
    const { conn, mux, closed } = setup()
    const s = mux.newStream()
    const pending = s.read().then(() => undefined, (e: unknown) => e)
    conn.inject(Uint8Array.of(0x0f, 0x00)) // flag 7
    const err = await pending
    expect(err).toBeInstanceOf(StreamResetError)
    expect((err as Error).cause).toBeInstanceOf(MplexError)
    expect(conn.aborted).toHaveLength(1)
    expect(conn.aborted[0]).toMatchObject({ code: 'ERR_MPLEX_PROTOCOL' })
    expect(closed).toHaveLength(1)
    expect(closed[0]).toBeInstanceOf(MplexError)
    expect(() => mux.newStream()).toThrowError(expect.objectContaining({ code: 'ERR_MUXER_CLOSED' }))
    await expect(s.write(utf8('x'))).rejects.toBeInstanceOf(StreamResetError)
  })

  it('an oversize frame header is a connection error before its body arrives', () => {
    const { conn, closed } = setup()
    conn.inject(Uint8Array.of(0x02, 0x81, 0x80, 0x40)) // 1 MiB + 1, no body
    expect(closed[0]).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
  })

  it('abort(err) resets every stream and aborts the connection; onClose fires once', async () => {
    const { conn, mux, closed } = setup()
    const s = mux.newStream()
    const boom = new Error('boom')
    mux.abort(boom)
    mux.abort(boom)
    await expect(s.read()).rejects.toBeInstanceOf(StreamResetError)
    expect(conn.aborted).toEqual([boom])
    expect(closed).toEqual([boom])
  })

  it('close() half-closes every stream, flushes, closes the connection, then reports a clean close', async () => {
    const { conn, mux, inbound, closed } = setup()
    const a = mux.newStream()
    conn.inject(frame(4, MessageFlag.NewStream))
    void a.write(utf8('bye'))
    await mux.close()
    expect(frames(conn)).toEqual([[0, 0, '0'], [0, 2, 'bye'], [0, MessageFlag.CloseInitiator, ''], [
      4,
      MessageFlag.CloseReceiver,
      ''
    ]])
    expect(conn.closeCalls).toBe(1)
    expect(closed).toEqual([undefined])
    await expect((inbound[0] as Stream).read()).rejects.toBeInstanceOf(StreamResetError) // the peer never closed it
  })

  it('goAway() refuses new inbound streams while open ones go on', async () => {
    const { conn, mux, inbound } = setup()
    conn.inject(frame(0, MessageFlag.NewStream))
    mux.goAway()
    conn.inject(frame(1, MessageFlag.NewStream), frame(0, MessageFlag.MessageInitiator, 'go on'))
    expect(inbound).toHaveLength(1)
    expect(text(await (inbound[0] as Stream).read())).toBe('go on')
    await settle(1)
    expect(frames(conn)).toEqual([[1, MessageFlag.ResetReceiver, '']])
  })

  it('the peer ending the connection: unfinished streams are reset, finished ones stay readable to EOF', async () => {
    const { conn, mux, inbound, closed } = setup()
    conn.inject(
      frame(0, MessageFlag.NewStream),
      frame(0, MessageFlag.MessageInitiator, 'complete'),
      frame(0, MessageFlag.CloseInitiator),
      frame(1, MessageFlag.NewStream),
      frame(1, MessageFlag.MessageInitiator, 'cut off')
    )
    const [done, cut] = inbound as [Stream, Stream]
    conn.end()
    const err = await cut.readExactly(100).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StreamResetError)
    expect((err as Error).cause).toBeInstanceOf(TransportError)
    expect((err as Error).cause).toMatchObject({ code: 'ERR_CONNECTION_CLOSED' })
    expect(() => mux.newStream()).toThrowError(expect.objectContaining({ code: 'ERR_MUXER_CLOSED' }))
    expect(conn.closeCalls).toBe(1) // we close our side too
    expect(closed).toEqual([undefined])
    // The finished stream still reads to a clean EOF…
    expect(text(await done.read())).toBe('complete')
    expect(await done.read()).toBeNull()
    await expect(done.readExactly(1)).rejects.toBeInstanceOf(EndOfStreamError)
    // …and only a write on it fails.
    await expect(done.write(utf8('too late'))).rejects.toBeInstanceOf(StreamResetError)
  })

  it('what was queued before the peer ended still goes out', async () => {
    const { conn, mux } = setup()
    const s = mux.newStream()
    void s.write(utf8('queued'))
    conn.end()
    expect(frames(conn).map(f => f[2])).toEqual(['0', 'queued'])
  })

  it('a write waiting for room fails when the connection goes away, even on a stream the peer had closed', async () => {
    const { conn, inbound } = setup()
    conn.inject(frame(0, MessageFlag.NewStream), frame(0, MessageFlag.CloseInitiator))
    const s = inbound[0] as Stream
    conn.accept = false
    await s.write(utf8('fills the connection'))
    await settle(1)
    const blocked = s.write(utf8('waits for a drain that never comes')).then(() => 'written', (e: unknown) => e)
    await settle(1)
    conn.lose(new Error('connection lost'))
    expect(await within(10_000, 'blocked write settles', blocked)).toBeInstanceOf(StreamResetError)
  })

  it('the peer ending with no streams left closes our side too', async () => {
    const { conn, closed } = setup()
    conn.end()
    await settle(1)
    expect(conn.closeCalls).toBe(1)
    expect(closed).toEqual([undefined])
  })

  it('config is validated at construction', () => {
    expect(() => createMplex(new FakeConnection(), { initiator: true, config: { maxInboundStreams: -5 } })).toThrow(
      /"maxInboundStreams" expected/
    )
  })
})
