/**
 * The thin adapter (yamux.ts) over a fake ByteConnection: batching, backpressure from the
 * connection, early inbound streams, close and abort.
 */
import { describe, expect, it } from 'vitest'
import type { ByteConnection, ByteSink } from '../../src/connection.js'
import { createYamux } from '../../src/muxer/index.js'
import { Flag, FrameType } from '../../src/muxer/constants.js'
import { frameBytes, FrameRecorder, settle } from './helpers.js'

class FakeConnection implements ByteConnection {
  readonly remoteAddr = '/ip4/127.0.0.1/tcp/1'
  readonly localAddr = '/ip4/127.0.0.1/tcp/2'
  readonly direction = 'outbound' as const
  sink: ByteSink | undefined
  writes: Uint8Array[][] = []
  writableLength = 0
  /** What `write` returns (false = above the high-water mark). */
  accept = true
  closed = false
  aborted: Error | undefined | null = null
  readonly wire = new FrameRecorder()

  attach (sink: ByteSink): void { this.sink = sink }
  detach (): void { this.sink = undefined }
  write (chunks: readonly Uint8Array[]): boolean {
    this.writes.push([...chunks])
    this.wire.push([...chunks])
    return this.accept
  }

  pause (): void {}
  resume (): void {}
  closeWrite (): void {}
  async close (): Promise<void> { this.closed = true; this.sink?.onClose() }
  abort (err?: Error): void { this.aborted = err; this.closed = true; this.sink?.onClose(err) }
}

const noTimers = { rttIntervalMs: 0, keepAliveIntervalMs: 0 }

describe('yamux adapter', () => {
  it('one conn.write per event-loop turn, however many frames', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const s = m.newStream()
    for (let i = 0; i < 50; i++) await s.write(new Uint8Array(1000))
    await s.closeWrite()
    expect(conn.writes).toHaveLength(0)
    await settle(1)
    expect(conn.writes).toHaveLength(1)
    const frames = conn.wire.take()
    expect(frames).toHaveLength(52) // SYN, 50 Data, FIN
    expect(frames.map(f => f.header.type)).toEqual([
      FrameType.WindowUpdate,
      ...Array(50).fill(FrameType.Data),
      FrameType.WindowUpdate
    ])
  })

  it('write() waits while the connection is above its high-water mark and resumes on drain', async () => {
    const conn = new FakeConnection()
    conn.accept = false
    const m = createYamux(conn, { initiator: true, config: { ...noTimers, maxWriteBatchBytes: 10_000 } })
    const s = m.newStream()
    await s.write(new Uint8Array(5000))
    await settle(1)
    expect(conn.writes).toHaveLength(1) // flushed, and the connection said "full"
    let done = false
    const w = s.write(new Uint8Array(5000)).then(() => { done = true })
    await settle(3)
    expect(done).toBe(false)
    expect(conn.writes).toHaveLength(1)
    conn.accept = true
    conn.sink?.onDrain?.()
    await w
    await settle(1)
    expect(conn.writes).toHaveLength(2)
  })

  it('inbound streams that arrive before onStream is set are delivered when it is', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: false, config: noTimers })
    conn.sink?.onData(frameBytes(FrameType.Data, Flag.SYN, 1, 2, Uint8Array.of(1, 2)))
    conn.sink?.onData(frameBytes(FrameType.WindowUpdate, Flag.SYN, 3, 0))
    const got: number[] = []
    m.onStream = (s) => { got.push(s.id) }
    expect(got).toEqual([1, 3])
    expect(await m.streams.get(1)?.read()).toEqual(Uint8Array.of(1, 2))
  })

  it('close(): GoAway(normal) is written, then the connection closes; onClose without error', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const errs: Array<Error | undefined> = []
    m.onClose = (e) => { errs.push(e) }
    await m.close()
    expect(conn.closed).toBe(true)
    expect(conn.wire.take().map(f => [f.header.type, f.header.length])).toEqual([[FrameType.GoAway, 0]])
    expect(errs).toEqual([undefined])
    expect(() => m.newStream()).toThrow(/closed/)
  })

  it('goAway(): GoAway(normal) is flushed, the connection stays open; close() later adds no second GoAway', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const errs: Array<Error | undefined> = []
    m.onClose = (e) => { errs.push(e) }
    const s = m.newStream()
    m.goAway()
    await settle(1)
    expect(conn.wire.take().map(f => [f.header.type, f.header.flags, f.header.length])).toEqual([[
      FrameType.WindowUpdate,
      Flag.SYN,
      0
    ], [FrameType.GoAway, 0, 0]])
    expect(conn.closed).toBe(false)
    expect(() => m.newStream()).toThrow(expect.objectContaining({ code: 'ERR_MUXER_CLOSED' }) as Error)
    await s.write(Uint8Array.of(7)) // the open stream goes on
    await settle(1)
    expect(conn.wire.take().map(f => [f.header.type, f.header.streamId, f.header.length])).toEqual([[
      FrameType.Data,
      1,
      1
    ]])
    await m.close()
    expect(conn.closed).toBe(true)
    expect(conn.wire.take()).toEqual([])
    expect(errs).toEqual([undefined])
  })

  it('abort(err): streams reset with it, the connection aborted, nothing more written', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const s = m.newStream()
    await settle(1)
    const before = conn.writes.length
    const err = new Error('boom')
    m.abort(err)
    await expect(s.read()).rejects.toMatchObject({ code: 'ERR_STREAM_RESET' })
    expect(conn.aborted).toBe(err)
    await settle(1)
    expect(conn.writes).toHaveLength(before)
  })

  it('a protocol error from the peer: GoAway(1) is flushed before the connection closes', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const errs: Array<Error | undefined> = []
    m.onClose = (e) => { errs.push(e) }
    conn.sink?.onData(frameBytes(FrameType.WindowUpdate, Flag.SYN, 1, 0)) // our own parity
    expect(conn.closed).toBe(true)
    expect(conn.wire.take().map(f => [f.header.type, f.header.length])).toEqual([[FrameType.GoAway, 1]])
    expect(errs[0]).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL' })
  })

  it('the connection ending under open streams resets them with a typed error', async () => {
    const conn = new FakeConnection()
    const m = createYamux(conn, { initiator: true, config: noTimers })
    const s = m.newStream()
    const errs: Array<Error | undefined> = []
    m.onClose = (e) => { errs.push(e) }
    conn.sink?.onEnd()
    await expect(s.read()).rejects.toMatchObject({ code: 'ERR_STREAM_RESET' })
    expect(errs[0]).toMatchObject({ code: 'ERR_MUXER_CLOSED' })
  })
})
