import { describe, expect, it } from 'vitest'
import { Flag, FrameType, GoAwayCode } from '../../src/muxer/constants.js'
import { EndOfStreamError, StreamResetError, YamuxError } from '../../src/errors.js'
import type { TraceEvent } from '../../src/trace/observer.js'
import type { MuxedStream } from '../../src/muxer/stream.js'
import { Clock, frameBytes, FrameRecorder, loneSession, sessionPair, settle, testSession } from './helpers.js'
import type { Frame, SessionEnd } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const { Data, WindowUpdate, Ping, GoAway } = FrameType
const { SYN, ACK, FIN, RST } = Flag

/** Take and decode what `end` queued. */
function sent (end: SessionEnd): Frame[] {
  end.sent.push(end.session.takeOutbox())
  return end.sent.take()
}
const hdr = (
  f: Frame
): [number, number, number, number] => [f.header.type, f.header.flags, f.header.streamId, f.header.length]

async function readAll (s: MuxedStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c)
  return concat(parts)
}

describe('stream opening (spec §Stream Establishment)', () => {
  it('SYN on a WindowUpdate, ACK on accept; dialer ids odd, listener ids even', () => {
    const p = sessionPair()
    const a = p.client.session.openStream()
    const b = p.client.session.openStream()
    expect([a.id, b.id]).toEqual([1, 3])
    expect(sent(p.client).map(hdr)).toEqual([[WindowUpdate, SYN, 1, 0], [WindowUpdate, SYN, 3, 0]])
    p.server.session.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    expect(p.server.inbound.map(s => s.id)).toEqual([1])
    expect(p.server.inbound[0]?.direction).toBe('inbound')
    expect(sent(p.server).map(hdr)).toEqual([[WindowUpdate, ACK, 1, 0]])
    expect(p.server.session.openStream().id).toBe(2)
  })

  it('never waits for the ACK before writing (rust acknowledges lazily)', async () => {
    const p = sessionPair()
    const s = p.client.session.openStream()
    await s.write(Uint8Array.of(1, 2, 3))
    expect(sent(p.client).map(hdr)).toEqual([[WindowUpdate, SYN, 1, 0], [Data, 0, 1, 3]])
  })

  it('accepts a stream opened by SYN on a Data frame, data included', async () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Data, SYN, 1, 3, Uint8Array.of(7, 8, 9)))
    expect(l.out().map(hdr)).toEqual([[WindowUpdate, ACK, 1, 0]])
    const st = l.inbound[0] as MuxedStream
    expect(await st.read()).toEqual(Uint8Array.of(7, 8, 9))
  })

  it('a window above 256 KiB rides on SYN and on ACK as a delta', () => {
    const p = sessionPair({
      client: { initialStreamWindowBytes: 1024 * 1024 },
      server: { initialStreamWindowBytes: 16 * 1024 * 1024 }
    })
    p.client.session.openStream()
    expect(sent(p.client).map(hdr)).toEqual([[WindowUpdate, SYN, 1, 1024 * 1024 - 262144]])
    p.server.session.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    expect(sent(p.server).map(hdr)).toEqual([[WindowUpdate, ACK, 1, 0xfc0000]])
  })

  it('illegal openings are protocol errors: GoAway(1) and the session closes', () => {
    const cases: Array<[string, boolean, Uint8Array[], RegExp]> = [
      [
        'own parity (both endpoints are clients)',
        true,
        [frameBytes(WindowUpdate, SYN, 1, 0)],
        /both endpoints are clients/
      ],
      ['own parity on the listener', false, [frameBytes(WindowUpdate, SYN, 2, 0)], /expected odd/],
      ['stream id 0', false, [frameBytes(WindowUpdate, SYN, 0, 0)], /"stream id" expected != 0/],
      ['Data on stream 0', false, [frameBytes(Data, 0, 0, 0)], /expected != 0 on a Data frame/],
      ['duplicate SYN', false, [frameBytes(WindowUpdate, SYN, 1, 0), frameBytes(WindowUpdate, SYN, 1, 0)], /in use/],
      ['reused id after close', false, [
        frameBytes(WindowUpdate, SYN, 1, 0),
        frameBytes(WindowUpdate, RST, 1, 0),
        frameBytes(WindowUpdate, SYN, 1, 0)
      ], /recently closed/]
    ]
    for (const [name, initiator, frames, msg] of cases) {
      const l = loneSession(initiator)
      for (const f of frames) l.s.receive(f)
      const frames2 = l.out()
      expect(hdr(frames2[frames2.length - 1] as Frame), name).toEqual([GoAway, 0, 0, GoAwayCode.ProtocolError])
      expect(l.closed, name).toHaveLength(1)
      expect(l.closed[0], name).toBeInstanceOf(YamuxError)
      expect((l.closed[0] as Error).message, name).toMatch(msg)
      expect(l.s.closed).toBe(true)
    }
  })

  it('remembers the last 256 retired ids (bounded heap per session): an older id is no longer "recently closed"', () => {
    const l = loneSession(false)
    for (let i = 0; i < 257; i++) {
      const id = 1 + 2 * i
      l.s.receive(frameBytes(WindowUpdate, SYN, id, 0))
      l.s.receive(frameBytes(WindowUpdate, RST, id, 0))
    }
    expect(l.closed).toEqual([])
    // id 1 left the window: its reuse opens a stream; id 3 (one of the last 256) is still refused
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    expect(l.closed).toEqual([])
    l.s.receive(frameBytes(WindowUpdate, SYN, 3, 0))
    expect((l.closed[0] as Error).message).toMatch(/recently closed/)
  })

  it('bad version or frame type: GoAway(protocol error)', () => {
    const l = loneSession(false)
    l.s.receive(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]))
    expect(l.out().map(hdr)).toEqual([[GoAway, 0, 0, 1]])
    expect(l.closed[0]).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL', goAwayCode: 1 })
  })
})

describe('closing and reset (spec §Stream Close, §Stream Reset)', () => {
  it('half-close in each direction independently; fully closed streams are forgotten and silent', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    await c.write(Uint8Array.of(1))
    await c.closeWrite()
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    expect(await s.read()).toEqual(Uint8Array.of(1))
    expect(await s.read()).toBeNull()
    await expect(s.readLp(10)).rejects.toBeInstanceOf(EndOfStreamError)
    // the other direction still works
    await s.write(Uint8Array.of(2, 3))
    p.pump()
    expect(await c.read()).toEqual(Uint8Array.of(2, 3))
    await s.closeWrite()
    expect(sent(p.server).map(hdr)).toEqual([[WindowUpdate, FIN, 1, 0]])
    expect(p.server.session.streams.size).toBe(0)
    p.server.session.receive(new Uint8Array(0))
    p.client.session.receive(frameBytes(WindowUpdate, FIN, 1, 0))
    expect(await c.read()).toBeNull()
    expect(p.client.session.streams.size).toBe(0)
    // nothing more for stream 1 from anyone: reset and reads are silent
    c.reset()
    s.reset()
    expect(sent(p.client)).toEqual([])
    expect(sent(p.server)).toEqual([])
  })

  it('FIN and RST are honoured on Data and on WindowUpdate frames alike', async () => {
    for (const type of [Data, WindowUpdate]) {
      const l = loneSession(false)
      l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
      l.s.receive(frameBytes(type, FIN, 1, 0))
      expect(await (l.inbound[0] as MuxedStream).read()).toBeNull()
      l.s.receive(frameBytes(WindowUpdate, SYN, 3, 0))
      l.s.receive(frameBytes(type, RST, 3, 0))
      await expect((l.inbound[1] as MuxedStream).read()).rejects.toBeInstanceOf(StreamResetError)
      await expect((l.inbound[1] as MuxedStream).write(Uint8Array.of(1))).rejects.toBeInstanceOf(StreamResetError)
      expect(l.s.streams.has(3)).toBe(false)
    }
  })

  it('data and FIN in one Data frame: the data is read, then EOF', async () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Data, SYN | FIN, 1, 2, Uint8Array.of(5, 6)))
    const st = l.inbound[0] as MuxedStream
    expect(await readAll(st)).toEqual(Uint8Array.of(5, 6))
  })

  it('local reset sends RST on a WindowUpdate and fails both sides', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    const pending = s.read()
    c.reset()
    expect(sent(p.client).map(hdr)).toEqual([[WindowUpdate, RST, 1, 0]])
    p.server.session.receive(frameBytes(WindowUpdate, RST, 1, 0))
    await expect(pending).rejects.toBeInstanceOf(StreamResetError)
    expect(p.client.session.streams.size + p.server.session.streams.size).toBe(0)
  })

  it('RST for a stream never ACKed carries no SYN twice', () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    c.reset()
    expect(sent(p.client).map(hdr)).toEqual([[WindowUpdate, SYN, 1, 0], [WindowUpdate, RST, 1, 0]])
  })

  it('frames for unknown streams are ignored, Data payloads skipped unbuffered', async () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Data, 0, 7, 100_000).subarray(0, 12))
    l.s.receive(new Uint8Array(100_000))
    l.s.receive(frameBytes(WindowUpdate, 0, 9, 5))
    l.s.receive(frameBytes(WindowUpdate, FIN, 9, 0))
    l.s.receive(frameBytes(WindowUpdate, RST, 11, 0))
    expect(l.out()).toEqual([])
    expect(l.closed).toEqual([])
    // the session still works afterwards
    l.s.receive(frameBytes(Data, SYN, 13, 1, Uint8Array.of(4)))
    expect(await (l.inbound[0] as MuxedStream).read()).toEqual(Uint8Array.of(4))
  })

  it('data after the remote FIN is dropped (still window-checked), the stream stays up', async () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Data, SYN | FIN, 1, 1, Uint8Array.of(1)))
    l.s.receive(frameBytes(Data, 0, 1, 2, Uint8Array.of(2, 3)))
    const st = l.inbound[0] as MuxedStream
    expect(await readAll(st)).toEqual(Uint8Array.of(1))
    await st.write(Uint8Array.of(9))
    expect(l.out().map(hdr)).toEqual([[WindowUpdate, ACK, 1, 0], [Data, 0, 1, 1]])
    l.s.receive(frameBytes(Data, 0, 1, 300_000))
    expect(l.closed[0]).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL' })
  })
})

describe('flow control (spec §Flow Control)', () => {
  it('a Data frame larger than the receive window: GoAway(protocol error), checked at the header', () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    l.out()
    l.s.receive(frameBytes(Data, 0, 1, 262145).subarray(0, 12)) // header only: no payload buffered yet
    expect(l.out().map(hdr)).toEqual([[GoAway, 0, 0, 1]])
    expect((l.closed[0] as Error).message).toBe(
      '"frame length" expected <= 262144, got 262145 (stream 1: receive window exceeded)'
    )
    expect(l.s.streams.size).toBe(0)
  })

  it('initial send credit is 256000 (older nim), then grows by the deltas', async () => {
    const l = loneSession(true)
    const st = l.s.openStream()
    let done = false
    const w = st.write(new Uint8Array(300_000)).then(() => { done = true })
    const frames = l.out().filter(f => f.header.type === Data)
    expect(frames.reduce((n, f) => n + f.header.length, 0)).toBe(256_000)
    await settle()
    expect(done).toBe(false)
    l.s.receive(frameBytes(WindowUpdate, ACK, 1, 44_000))
    await w
    expect(l.out().filter(f => f.header.type === Data).reduce((n, f) => n + f.header.length, 0)).toBe(44_000)
  })

  it('the first window update is a delta, not an absolute window', async () => {
    const l = loneSession(true)
    const st = l.s.openStream()
    l.s.receive(frameBytes(WindowUpdate, ACK, 1, 1000)) // window is now 256 KiB + 1000 (we count 256000 + 1000)
    void st.write(new Uint8Array(400_000))
    expect(l.out().filter(f => f.header.type === Data).reduce((n, f) => n + f.header.length, 0)).toBe(257_000)
  })

  it('Data frames are at most maxFramePayloadBytes', async () => {
    const p = sessionPair({ client: { maxFramePayloadBytes: 16 * 1024 } })
    const st = p.client.session.openStream()
    await st.write(new Uint8Array(100_000))
    const lens = sent(p.client).filter(f => f.header.type === Data).map(f => f.header.length)
    expect(lens).toEqual([16384, 16384, 16384, 16384, 16384, 16384, 1696])
  })

  it('credit is granted on read, once half the window is free, not on receipt', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    void c.write(new Uint8Array(200_000))
    p.flush(p.client)
    expect(sent(p.server)).toEqual([]) // received, not read: no update
    expect(await s.readExactly(131_071)).toHaveLength(131_071)
    expect(sent(p.server)).toEqual([])
    expect(await s.readExactly(1)).toHaveLength(1)
    expect(sent(p.server).map(hdr)).toEqual([[WindowUpdate, 0, 1, 131_072]])
  })

  it('a reader that never reads: the writer sends one window and its write stays pending', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    let resolved = false
    const w = c.write(new Uint8Array(4 * 1024 * 1024)).then(() => { resolved = true }, () => {})
    for (let i = 0; i < 5; i++) { p.pump(); await settle() }
    const s = p.server.inbound[0] as MuxedStream
    expect(s.readableLength).toBe(256_000)
    expect(resolved).toBe(false)
    expect(p.client.session.outboxBytes).toBe(0)
    c.reset()
    await w
  })

  it('100 streams, one stalled reader: the other 99 complete', async () => {
    const p = sessionPair()
    const size = 600_000
    const payload = new Uint8Array(size).map((_, i) => i * 7)
    const clients = Array.from({ length: 100 }, () => p.client.session.openStream())
    const writes = clients.map(async c => { await c.write(payload); await c.closeWrite() })
    p.pump()
    const stalled = 42
    const reads = p.server.inbound.map(async (s, i) => i === stalled ? null : await readAll(s))
    for (let i = 0; i < 200; i++) {
      p.pump()
      await settle(1)
    }
    const done = await Promise.race([
      Promise.all(reads.filter((_, i) => i !== stalled)),
      new Promise(resolve => setTimeout(resolve, 5000, 'timeout'))
    ])
    expect(done).not.toBe('timeout')
    for (const got of done as Uint8Array[]) expect(Buffer.from(got).equals(payload)).toBe(true)
    expect((p.server.inbound[stalled] as MuxedStream).readableLength).toBe(256_000)
    await Promise.all(writes.filter((_, i) => i !== stalled))
  })

  it('windows auto-tune up to the maximum when consumed within 2 RTT, within the connection budget', async () => {
    const p = sessionPair({ server: { maxStreamWindowBytes: 2 * 1024 * 1024 } })
    // learn an RTT of 10 ms on the server
    p.client.session.receive(new Uint8Array(0))
    const srv = p.server.session
    ;(srv as unknown as { sendPing: () => void }).sendPing()
    p.flush(p.server)
    p.clock.advance(10)
    p.flush(p.client)
    expect(srv.rtt).toBe(10)
    const c = p.client.session.openStream()
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    const deltas: number[] = []
    void c.write(new Uint8Array(20 * 1024 * 1024))
    for (let i = 0; i < 200; i++) {
      p.flush(p.client)
      while (s.readableLength > 0) await s.read()
      p.clock.advance(1) // a half window every 1 ms < 2 RTT: window-limited
      for (const f of sent(p.server)) {
        if (f.header.type === WindowUpdate) deltas.push(f.header.length)
        p.client.session.receive(
          concat([frameBytes(f.header.type, f.header.flags, f.header.streamId, f.header.length)])
        )
      }
      await settle(1)
    }
    expect(Math.max(...deltas)).toBeGreaterThan(1024 * 1024)
    expect(srv.receiveWindowTotal).toBe(2 * 1024 * 1024)
  })

  it('no auto-tuning without an RTT sample, nor when reads are slower than 2 RTT', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    void c.write(new Uint8Array(4 * 1024 * 1024))
    for (let i = 0; i < 50; i++) {
      p.pump()
      while (s.readableLength > 0) await s.read()
      await settle(1)
    }
    expect(p.server.session.receiveWindowTotal).toBe(262144)
  })

  it('the connection budget caps the sum of windows', async () => {
    const p = sessionPair({
      server: { maxBufferedBytesPerConnection: 600 * 1024, maxStreamWindowBytes: 4 * 1024 * 1024 }
    })
    ;(p.server.session as unknown as { rttMs: number }).rttMs = 1000 // everything is "within 2 RTT"
    const cs = [p.client.session.openStream(), p.client.session.openStream()]
    p.pump()
    for (const c of cs) void c.write(new Uint8Array(8 * 1024 * 1024))
    for (let i = 0; i < 100; i++) {
      p.pump()
      for (const s of p.server.inbound) while (s.readableLength > 0) await s.read()
      await settle(1)
    }
    expect(p.server.session.receiveWindowTotal).toBe(600 * 1024)
  })
})

describe('ping and keepalive (spec §Ping)', () => {
  it('answers a ping SYN with an ACK carrying the same value, on stream 0', () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Ping, SYN, 0, 0xdeadbeef))
    expect(l.out().map(hdr)).toEqual([[Ping, ACK, 0, 0xdeadbeef]])
  })

  it('never sends an unsolicited ping ACK; an unknown ACK is ignored', () => {
    const l = loneSession(false)
    l.s.receive(frameBytes(Ping, ACK, 0, 5))
    expect(l.out()).toEqual([])
    expect(l.closed).toEqual([])
  })

  it('no ping at start (a Nagle peer would answer our first batch twice); the RTT is measured when a window first moves', async () => {
    const p = sessionPair({ noPings: false })
    expect(sent(p.client)).toEqual([])
    // Small exchanges both ways: still no ping.
    const c = p.client.session.openStream()
    await c.write(Uint8Array.of(1, 2, 3))
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    expect(await s.read()).toEqual(Uint8Array.of(1, 2, 3))
    await s.write(Uint8Array.of(4))
    expect(sent(p.server).map(hdr)).toEqual([[Data, 0, 1, 1]])
    // The server reads half a window: its WindowUpdate goes out with the RTT ping, in one batch.
    const half = new Uint8Array(128 * 1024)
    await c.write(half)
    p.flush(p.client)
    let got = 0
    while (got < half.length) got += (await s.read())?.length ?? 0
    const batch = sent(p.server).map(hdr)
    expect(batch.map(([type, flags, id]) => [type, flags, id])).toEqual([[WindowUpdate, 0, 1], [Ping, SYN, 0]])
    expect(batch[0]?.[3]).toBeGreaterThanOrEqual(128 * 1024)
    p.client.session.receive(frameBytes(Ping, SYN, 0, 1))
    p.clock.advance(25)
    p.server.session.receive(concat(p.client.session.takeOutbox()))
    expect(p.server.session.rtt).toBe(25)
  })

  it('keepalive: a ping after the idle interval, the session ends when it goes unanswered', () => {
    const l = loneSession(true, { keepAliveIntervalMs: 1000, keepAliveTimeoutMs: 500 })
    expect(l.s.nextDeadline()).toBe(2000)
    l.clock.advance(999)
    l.s.tick()
    expect(l.out()).toEqual([])
    l.clock.advance(1)
    l.s.tick()
    expect(l.out().map(hdr)).toEqual([[Ping, SYN, 0, 1]])
    expect(l.s.nextDeadline()).toBe(2500)
    // bytes from the peer (its answer may queue behind data) push the deadline back
    l.clock.advance(400)
    l.s.receive(frameBytes(Data, 0, 99, 0))
    l.clock.advance(100)
    l.s.tick()
    expect(l.closed).toEqual([])
    expect(l.s.nextDeadline()).toBe(2900)
    l.clock.advance(400)
    l.s.tick()
    expect(l.closed[0]).toMatchObject({ code: 'ERR_MUXER_CLOSED' })
    expect((l.closed[0] as Error).message).toMatch(/keepalive/)
  })

  it('pong answers are bounded while the connection is blocked', () => {
    const l = loneSession(false)
    l.s.setBlocked(true)
    for (let i = 0; i < 100; i++) l.s.receive(frameBytes(Ping, SYN, 0, i))
    expect(l.out()).toHaveLength(32)
  })
})

describe('GoAway (spec §Go Away)', () => {
  it('GoAway(normal) from the peer: no new streams, existing ones carry on', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    p.client.session.receive(frameBytes(GoAway, 0, 0, 0))
    expect(() => p.client.session.openStream()).toThrow(YamuxError)
    await c.write(Uint8Array.of(1))
    p.pump()
    expect(await (p.server.inbound[0] as MuxedStream).read()).toEqual(Uint8Array.of(1))
    expect(p.client.closedWith).toEqual([])
  })

  it('GoAway(error) from the peer ends the session and resets streams; nothing is sent back', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    p.client.session.receive(frameBytes(GoAway, 0, 0, GoAwayCode.InternalError))
    await expect(c.read()).rejects.toBeInstanceOf(StreamResetError)
    expect(p.client.closedWith[0]).toMatchObject({ code: 'ERR_YAMUX_GOAWAY', goAwayCode: 2 })
    expect(sent(p.client)).toEqual([])
  })

  it('goAway(): GoAway(normal) once; new SYNs get RST, openStream throws; open streams finish both ways', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    await c.write(Uint8Array.of(1))
    p.pump()
    const s = p.server.inbound[0] as MuxedStream
    p.server.session.goAway()
    p.server.session.goAway()
    expect(p.server.session.goingAway).toBe(true)
    const wire = new FrameRecorder()
    wire.push(p.flush(p.server))
    expect(wire.take().map(hdr)).toEqual([[GoAway, 0, 0, GoAwayCode.Normal]])
    // Both sides now refuse to open streams: we sent GoAway, the client received it.
    expect(() => p.server.session.openStream()).toThrow(expect.objectContaining({ code: 'ERR_MUXER_CLOSED' }) as Error)
    expect(() => p.client.session.openStream()).toThrow(
      expect.objectContaining({ code: 'ERR_YAMUX_GOAWAY', goAwayCode: 0 }) as Error
    )
    // SYNs that crossed our GoAway are refused one by one (a payload on the SYN is skipped).
    p.server.session.receive(
      concat([frameBytes(WindowUpdate, SYN, 3, 0), frameBytes(Data, SYN, 5, 2, Uint8Array.of(8, 9))])
    )
    expect(sent(p.server).map(hdr)).toEqual([[WindowUpdate, RST, 3, 0], [WindowUpdate, RST, 5, 0]])
    expect(p.server.inbound).toHaveLength(1)
    // The open stream runs to its end, data and FIN both ways.
    expect(await s.read()).toEqual(Uint8Array.of(1))
    await s.write(Uint8Array.of(2))
    await s.closeWrite()
    await c.closeWrite()
    p.pump()
    expect(await readAll(c)).toEqual(Uint8Array.of(2))
    expect(await s.read()).toBeNull()
    expect(p.server.session.streams.size + p.client.session.streams.size).toBe(0)
    expect([p.server.closedWith, p.client.closedWith]).toEqual([[], []])
    // close() afterwards: no second GoAway.
    p.server.session.close()
    expect(sent(p.server)).toEqual([])
    expect(p.server.closedWith).toEqual([undefined])
  })

  it('a protocol error after goAway() still sends GoAway(protocol error); nothing after close()', () => {
    const l = loneSession(false)
    l.s.goAway()
    expect(l.out().map(hdr)).toEqual([[GoAway, 0, 0, GoAwayCode.Normal]])
    l.s.receive(frameBytes(WindowUpdate, SYN, 2, 0)) // our own parity
    expect(l.out().map(hdr)).toEqual([[GoAway, 0, 0, GoAwayCode.ProtocolError]])
    expect(l.closed[0]).toMatchObject({ code: 'ERR_YAMUX_PROTOCOL' })
    const m = loneSession(true)
    m.s.close()
    m.s.goAway()
    expect(m.out().map(hdr)).toEqual([[GoAway, 0, 0, GoAwayCode.Normal]])
    expect(m.s.goingAway).toBe(true)
  })

  it('close() sends GoAway(normal) and resets what is left', async () => {
    const p = sessionPair()
    const c = p.client.session.openStream()
    p.pump()
    p.client.session.close()
    expect(sent(p.client).map(hdr)).toEqual([[GoAway, 0, 0, 0]])
    await expect(c.read()).rejects.toBeInstanceOf(StreamResetError)
    expect(p.client.closedWith).toEqual([undefined])
    expect(() => p.client.session.openStream()).toThrow(/closed/)
  })
})

describe('limits', () => {
  it('over maxInboundStreams: RST that stream, keep the connection', async () => {
    const p = sessionPair({ server: { maxInboundStreams: 2 } })
    const cs = [p.client.session.openStream(), p.client.session.openStream(), p.client.session.openStream()]
    for (const c of cs) void c.write(Uint8Array.of(c.id)).catch(() => {})
    p.pump()
    expect(p.server.inbound.map(s => s.id)).toEqual([1, 3])
    await expect((cs[2] as MuxedStream).read()).rejects.toBeInstanceOf(StreamResetError)
    expect(p.server.closedWith).toEqual([])
    expect(await (p.server.inbound[1] as MuxedStream).read()).toEqual(Uint8Array.of(3))
    // once one closes, a new stream fits again
    p.server.inbound[0]?.reset()
    p.pump()
    p.client.session.openStream()
    p.pump()
    expect(p.server.inbound.map(s => s.id)).toEqual([1, 3, 7])
  })

  it('maxOutboundStreams: newStream throws ERR_TOO_MANY_STREAMS', () => {
    const p = sessionPair({ client: { maxOutboundStreams: 1 } })
    p.client.session.openStream()
    expect(() => p.client.session.openStream()).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_MANY_STREAMS' }) as Error
    )
  })

  it('a blocked connection stops stream writes; unblocking resumes them round-robin', async () => {
    const p = sessionPair({ client: { maxWriteBatchBytes: 64 * 1024 } })
    const a = p.client.session.openStream()
    const b = p.client.session.openStream()
    p.pump()
    p.client.session.setBlocked(true)
    let aDone = false
    const wa = a.write(new Uint8Array(1000)).then(() => { aDone = true })
    const wb = b.write(new Uint8Array(1000))
    await settle()
    expect(aDone).toBe(false)
    expect(p.client.session.outboxBytes).toBe(0)
    p.client.session.setBlocked(false)
    await wa
    await wb
    expect(sent(p.client).map(f => f.header.streamId)).toEqual([1, 3])
  })

  it('outbox holds at most maxWriteBatchBytes of stream data before writes wait', async () => {
    const p = sessionPair({ client: { maxWriteBatchBytes: 100_000, maxFramePayloadBytes: 10_000 } })
    const a = p.client.session.openStream()
    p.pump()
    void a.write(new Uint8Array(250_000))
    expect(p.client.session.outboxBytes).toBeLessThanOrEqual(100_000 + 10_012)
    sent(p.client)
    p.client.session.setBlocked(false)
    await settle()
    expect(p.client.session.outboxBytes).toBeGreaterThan(0)
  })

  it('a peer that never reads cannot pile up control frames: the session ends past the cap', () => {
    const l = loneSession(false, { maxInboundStreams: 0 })
    l.s.setBlocked(true)
    for (let i = 0; i < 5000 && l.closed.length === 0; i++) l.s.receive(frameBytes(WindowUpdate, SYN, 2 * i + 1, 0))
    expect(l.closed[0]).toMatchObject({ code: 'ERR_BUFFER_FULL' })
  })
})

describe('batching and tracing', () => {
  it('many frames, one onOutput call, one outbox batch; small payloads share a chunk with their headers', async () => {
    const clock = new Clock()
    let outputs = 0
    const s = testSession({
      initiator: true,
      config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
      now: clock.now,
      host: {
        onOutput: () => {
          outputs++
        },
        onStream: () => {},
        onClose: () => {}
      }
    })
    const st = s.openStream()
    for (let i = 0; i < 100; i++) await st.write(Uint8Array.of(i))
    expect(outputs).toBe(1)
    const chunks = s.takeOutbox()
    expect(chunks).toHaveLength(1)
    expect(chunks[0]?.length).toBe(12 + 100 * 13)
  })

  it('an idle session keeps a small scratch buffer; a busy one grows it to 16 KiB, batches staying contiguous', async () => {
    const s = testSession({
      initiator: true,
      config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
      now: new Clock().now,
      host: { onOutput: () => {}, onStream: () => {}, onClose: () => {} }
    })
    const st = s.openStream()
    await st.write(Uint8Array.of(1))
    const first = s.takeOutbox()
    expect(first).toHaveLength(1)
    expect(first[0]?.buffer.byteLength).toBeLessThanOrEqual(256)
    for (let i = 0; i < 2000; i++) await st.write(Uint8Array.of(i & 0xff))
    const busy = s.takeOutbox()
    expect(busy.reduce((n, c) => n + c.length, 0)).toBe(2000 * 13)
    expect(Math.max(...busy.map(c => c.buffer.byteLength))).toBe(16 * 1024)
  })

  it('the observer sees every frame in and out', async () => {
    const events: TraceEvent[] = []
    const clock = new Clock()
    const s = testSession({
      initiator: false,
      config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
      now: clock.now,
      observer: { event: e => events.push(e) },
      host: { onOutput: () => {}, onStream: () => {}, onClose: () => {} }
    })
    s.receive(frameBytes(Data, SYN, 1, 2, Uint8Array.of(1, 2)))
    expect(events.map(e => [e.layer, e.kind, 'dir' in e ? e.dir : ''])).toEqual([
      ['yamux', 'frame', 'in'], ['yamux', 'frame', 'out'], ['stream', 'data', 'in']
    ])
    expect(events[1]).toMatchObject({ frameType: 1, flags: 2, streamId: 1, length: 0 })
    expect(Buffer.from(events[1]?.bytes ?? []).toString('hex')).toBe('000100020000000100000000')
  })
})
