/**
 * Every published libp2p muxer DoS class as a regression test, each named by its advisory, against
 * the sans-I/O sessions (yamux, mplex) fed raw frames by a hostile peer. Assertions are on the
 * session's own state and output (frames, counters, resource scopes), never on timing or RSS.
 */
import { describe, expect, it } from 'vitest'
import { MAX_ACK_BACKLOG, OPENING_ACK_BACKLOG } from '../../src/muxer/session.js'
import type { StreamEvents } from '../../src/muxer/stream-table.js'
import { Flag, FrameType, GoAwayCode, INITIAL_STREAM_WINDOW, MAX_UINT32 } from '../../src/muxer/constants.js'
import { MplexSession, mplexConfig } from '../../src/muxer/mplex/session.js'
import type { MplexSessionHandler } from '../../src/muxer/mplex/session.js'
import { encodeFrame } from '../../src/muxer/mplex/frame.js'
import { MessageFlag } from '../../src/muxer/mplex/constants.js'
import { ResourceLimitError, StreamResetError, YamuxError } from '../../src/errors.js'
import { ResourceManager } from '../../src/resources/index.js'
import type { ResourceScope } from '../../src/resources/index.js'
import type { MuxedStream } from '../../src/muxer/stream.js'
import { Clock, frameBytes, FrameRecorder, loneSession, testSession } from './helpers.js'
import type { Frame, LoneSession } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const { Data, WindowUpdate, Ping, GoAway } = FrameType
const { SYN, ACK, RST } = Flag
const KiB = 1024
const MiB = 1024 * KiB

/** A listener-side session fed raw bytes, its output decoded. */
const lone = (config: Record<string, number> = {}, resources?: ResourceScope, initiator = false): LoneSession =>
  loneSession(initiator, config, resources)

const count = (frames: Frame[], type: number, flags: number): number =>
  frames.filter(f => f.header.type === type && f.header.flags === flags).length
const goAways = (frames: Frame[]): number[] => frames.filter(f => f.header.type === GoAway).map(f => f.header.length)

function scopeFor (
  limits: { memoryBytes?: number, streams?: number, inboundStreams?: number } = {}
): { rm: ResourceManager, scope: ResourceScope } {
  const rm = new ResourceManager({ peer: limits })
  return { rm, scope: rm.openConnection('attacker', 'conn 1') as ResourceScope }
}

describe('yamux stream floods and the ACK backlog (go CVE-2022-23492, rust CVE-2022-23486, js CVE-2022-23487)', () => {
  it('10,000 SYNs: the first maxInboundStreams are ACKed, every one beyond is refused with RST directly, never ACKed', () => {
    const l = lone({ maxInboundStreams: 256 })
    const frames: Uint8Array[] = []
    for (let i = 0; i < 10_000; i++) frames.push(frameBytes(WindowUpdate, SYN, 2 * i + 1, 0))
    l.s.receive(concat(frames))
    const out = l.out()
    expect(count(out, WindowUpdate, ACK)).toBe(256)
    expect(count(out, WindowUpdate, RST)).toBe(10_000 - 256)
    expect(out.filter(f => f.header.flags & ACK && f.header.flags & RST)).toEqual([])
    expect(l.inbound).toHaveLength(256)
    expect(l.s.streams.size).toBe(256)
    expect(l.s.refusedStreams).toBe(10_000 - 256)
    expect(l.closed).toEqual([])
  })

  it('SYNs the application refuses as they arrive (the switch\'s own stream limits) get a bare RST, never ACK then RST', () => {
    const clock = new Clock()
    const rec = new FrameRecorder()
    let seen = 0
    const s = testSession({
      initiator: false,
      config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
      now: clock.now,
      // The application keeps two and refuses every later one inside onStream.
      host: { onOutput: () => {}, onStream: (st: MuxedStream) => { if (++seen > 2) st.reset() }, onClose: () => {} }
    })
    s.receive(
      concat(Array.from({ length: 1000 }, (_, i) => frameBytes(i % 2 === 0 ? WindowUpdate : Data, SYN, 2 * i + 1, 0)))
    )
    rec.push(s.takeOutbox())
    const out = rec.take()
    expect(count(out, WindowUpdate, ACK)).toBe(2)
    expect(count(out, WindowUpdate, RST)).toBe(998)
    expect(out.filter(f => (f.header.flags & ACK) !== 0).map(f => f.header.streamId)).toEqual([1, 3])
    expect(s.streams.size).toBe(2)
  })

  it('SYNs beyond the resource scope\'s stream limit are refused the same way, and counted there', () => {
    const { rm, scope } = scopeFor({ streams: 100 })
    const l = lone({}, scope)
    l.s.receive(concat(Array.from({ length: 300 }, (_, i) => frameBytes(WindowUpdate, SYN, 2 * i + 1, 0))))
    const out = l.out()
    expect(count(out, WindowUpdate, ACK)).toBe(100)
    expect(count(out, WindowUpdate, RST)).toBe(200)
    expect(rm.inspect().peers[0]?.usage).toMatchObject({ inboundStreams: 100, refused: { streams: 200 } })
  })

  it(`our own streams: at most ${MAX_ACK_BACKLOG} SYNs wait for an ACK; the rest are held back and released one per ACK`, async () => {
    const l = lone({}, undefined, true)
    l.s.receive(frameBytes(Ping, SYN, 0, 7)) // the peer has been heard from: the full backlog applies
    const streams = Array.from({ length: 1000 }, () => l.s.openStream())
    const writes = streams.map(async st => { await st.write(Uint8Array.of(1)) })
    writes[999]?.catch(() => {}) // reset below
    let out = l.out()
    expect(count(out, WindowUpdate, SYN)).toBe(MAX_ACK_BACKLOG)
    expect(l.s.heldBackStreams).toBe(1000 - MAX_ACK_BACKLOG)
    // The peer ACKs the first stream: exactly one more SYN goes out, with its data.
    l.s.receive(frameBytes(WindowUpdate, ACK, 1, 0))
    await Promise.resolve()
    out = l.out()
    expect(out.filter(f => f.header.flags === SYN).map(f => f.header.streamId)).toEqual([2 * MAX_ACK_BACKLOG + 1])
    // A held-back stream reset locally never reaches the wire.
    streams[999]?.reset()
    expect(l.out().filter(f => f.header.streamId === 1999)).toEqual([])
    // ACK everything: every stream gets on the wire, every write completes.
    for (let round = 0; round < 4; round++) {
      for (const st of streams.slice(0, 999)) l.s.receive(frameBytes(WindowUpdate, ACK, st.id, 0))
      l.out()
    }
    streams.pop()
    await Promise.all(writes.slice(0, 999))
    expect(l.s.heldBackStreams).toBe(0)
  })
})

describe('streams opened before the peer\'s first frame (js-libp2p maxEarlyStreams 10)', () => {
  it(`at most ${OPENING_ACK_BACKLOG} SYNs go out until the peer is heard from; its first frame releases the rest`, async () => {
    const l = lone({}, undefined, true)
    const streams = Array.from({ length: 50 }, () => l.s.openStream())
    const writes = streams.map(async st => { await st.write(Uint8Array.of(1)) })
    let out = l.out()
    expect(count(out, WindowUpdate, SYN)).toBe(OPENING_ACK_BACKLOG)
    expect(l.s.heldBackStreams).toBe(50 - OPENING_ACK_BACKLOG)
    // Any frame proves the peer's muxer listens — here a ping, not an ACK of ours.
    l.s.receive(frameBytes(Ping, SYN, 0, 1))
    await Promise.resolve()
    out = l.out()
    expect(out.filter(f => f.header.flags === SYN).map(f => f.header.streamId))
      .toEqual(streams.slice(OPENING_ACK_BACKLOG).map(st => st.id))
    expect(out.filter(f => f.header.type === Data).length).toBeGreaterThanOrEqual(50 - OPENING_ACK_BACKLOG)
    expect(l.s.heldBackStreams).toBe(0)
    await Promise.all(writes)
  })

  it('a listener is held to the same rule until the dialer\'s first frame', () => {
    const l = lone()
    for (let i = 0; i < 20; i++) l.s.openStream()
    expect(count(l.out(), WindowUpdate, SYN)).toBe(OPENING_ACK_BACKLOG)
    l.s.receive(frameBytes(WindowUpdate, ACK, 2, 0))
    expect(count(l.out(), WindowUpdate, SYN)).toBe(20 - OPENING_ACK_BACKLOG)
  })
})

describe('a peer that stops reading while we must answer (rust CVE-2024-32984)', () => {
  it('ping answers and control frames queued for a blocked connection are bounded; past the bound the session ends', () => {
    const l = lone()
    l.s.setBlocked(true)
    l.s.receive(concat(Array.from({ length: 100_000 }, (_, i) => frameBytes(Ping, SYN, 0, i))))
    expect(l.s.outboxBytes).toBeLessThanOrEqual(32 * 12)
    expect(l.closed).toEqual([])
    // SYN+RST churn makes us owe ACKs/RSTs: the control backlog is capped, then the session ends.
    const syns: Uint8Array[] = []
    for (let i = 0; i < 10_000; i++) {
      syns.push(frameBytes(WindowUpdate, SYN, 2 * i + 1, 0), frameBytes(WindowUpdate, RST, 2 * i + 1, 0))
    }
    l.s.receive(concat(syns))
    expect(l.closed).toHaveLength(1)
    expect(l.closed[0]).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    expect(l.s.outboxBytes).toBeLessThanOrEqual((32 + 4096 + 2) * 12)
  })
})

describe('Data|SYN longer than the initial window (rust-yamux CVE-2026-32314)', () => {
  it('a SYN whose Data frame declares 256 KiB + 1 is a protocol error at its header; nothing is buffered', () => {
    for (const window of [INITIAL_STREAM_WINDOW, 16 * MiB]) {
      const l = lone({ initialStreamWindowBytes: window, maxStreamWindowBytes: Math.max(window, 16 * MiB) })
      l.s.receive(frameBytes(Data, SYN, 1, INITIAL_STREAM_WINDOW + 1).subarray(0, 12)) // header only
      expect(goAways(l.out())).toEqual([GoAwayCode.ProtocolError])
      expect(l.closed[0]).toBeInstanceOf(YamuxError)
      expect(l.closed[0]?.message).toMatch(
        /"frame length" expected <= 262144, got 262145 \(stream 1: Data\|SYN beyond the initial window\)/
      )
    }
  })

  it('a giant declared length (2^32-1) on an open stream is refused before any payload byte', () => {
    const l = lone()
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    l.s.receive(frameBytes(Data, 0, 1, MAX_UINT32).subarray(0, 12))
    expect(goAways(l.out())).toEqual([GoAwayCode.ProtocolError])
  })
})

describe('window credit overflow (GHSA-4w32-2493-32g7, nim-libp2p#2651)', () => {
  it('0xFFFF0000 on top of existing credit saturates at 2^32-1: no wrap, no crash, the stream still writes', async () => {
    const l = lone()
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0xffff0000))
    l.s.receive(frameBytes(WindowUpdate, 0, 1, 0xffff0000))
    l.s.receive(frameBytes(WindowUpdate, 0, 1, MAX_UINT32))
    expect(l.closed).toEqual([])
    const st = l.inbound[0] as MuxedStream
    await st.write(new Uint8Array(300 * KiB)) // more than the initial 256000: only possible with the credit
    const data = l.out().filter(f => f.header.type === Data).reduce((a, f) => a + f.header.length, 0)
    expect(data).toBe(300 * KiB)
  })
})

describe('header version other than 0 (spec §Framing)', () => {
  it('version 1 is a protocol error: GoAway(1), session closed', () => {
    const l = lone()
    const b = frameBytes(Ping, SYN, 0, 1)
    b[0] = 1
    l.s.receive(b)
    expect(goAways(l.out())).toEqual([GoAwayCode.ProtocolError])
    expect(l.closed[0]?.message).toMatch(/"yamux version" expected 0, got 1/)
  })
})

describe('data on streams we reset or refused is skipped, counted, and bounded by the credit the peer had', () => {
  it('within the credit: dropped unbuffered and counted; beyond it: GoAway(protocol error)', () => {
    const l = lone({ maxInboundStreams: 1 })
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    l.s.receive(frameBytes(WindowUpdate, SYN, 3, 0)) // refused: RST
    expect(count(l.out(), WindowUpdate, RST)).toBe(1)
    const chunk = new Uint8Array(64 * KiB)
    // exactly 256 KiB: allowed in flight
    for (let i = 0; i < 4; i++) l.s.receive(frameBytes(Data, 0, 3, chunk.length, chunk))
    expect(l.s.discardedBytes).toBe(256 * KiB)
    expect(l.closed).toEqual([])
    l.s.receive(frameBytes(Data, 0, 3, 1, Uint8Array.of(1)))
    expect(goAways(l.out())).toEqual([GoAwayCode.ProtocolError])
    expect(l.closed[0]?.message).toMatch(/stream 3 was reset or closed: data beyond the credit/)
  })

  it('after a local reset the peer may send only what it still had credit for', async () => {
    const l = lone()
    l.s.receive(frameBytes(Data, SYN, 1, 1000, new Uint8Array(1000)))
    const st = l.inbound[0] as MuxedStream
    st.reset()
    l.out()
    l.s.receive(frameBytes(Data, 0, 1, INITIAL_STREAM_WINDOW - 1000, new Uint8Array(INITIAL_STREAM_WINDOW - 1000)))
    expect(l.closed).toEqual([])
    l.s.receive(frameBytes(Data, 0, 1, 1, Uint8Array.of(1)))
    expect(l.closed).toHaveLength(1)
  })
})

describe('resource accounting in yamux: a peer cannot make us hold more than its scope', () => {
  it('1000 streams × 256 KiB never read: buffered bytes stay within the peer budget; excess streams are reset, the rest intact', async () => {
    const { rm, scope } = scopeFor({ memoryBytes: 4 * MiB })
    const l = lone({ maxInboundStreams: 1000 }, scope)
    const body = new Uint8Array(64 * KiB).fill(7)
    for (let id = 1; id < 2000; id += 2) {
      const frames = [frameBytes(WindowUpdate, SYN, id, 0)]
      for (let k = 0; k < 4; k++) frames.push(frameBytes(Data, 0, id, body.length, body))
      l.s.receive(concat(frames))
      expect(rm.process.memory).toBeLessThanOrEqual(4 * MiB)
    }
    expect(l.closed).toEqual([]) // the connection stays up: only streams are reset
    const usage = rm.inspect().peers[0]?.usage
    expect(usage?.memoryBytes).toBe(4 * MiB)
    expect(usage?.refused.memory).toBeGreaterThan(0)
    expect(l.s.resetForResources).toBe(1000 - 16)
    const survivors = l.inbound.filter(s => !s.isReset)
    expect(survivors).toHaveLength(16)
    const victim = l.inbound.find(s => s.isReset) as MuxedStream
    await expect(victim.read()).rejects.toThrow(/"peer memory" expected <= 4194304 bytes/)
    // The peer's reset streams' RSTs went out; reading a survivor frees budget for the others.
    expect(count(l.out(), WindowUpdate, RST)).toBe(1000 - 16)
    const first = survivors[0] as MuxedStream
    let n = 0
    while (first.readableLength > 0) n += (await first.read())?.length ?? 0
    expect(n).toBe(256 * KiB)
    expect(rm.process.memory).toBe(4 * MiB - 256 * KiB)
    l.s.close()
    scope.close()
    expect(rm.inspect().process.usage).toMatchObject({ memoryBytes: 0, inboundStreams: 0 })
  })

  it('window auto-tuning only grows as far as the scope can pay for the grown window', async () => {
    const { scope } = scopeFor({ memoryBytes: MiB })
    const l = lone({ maxStreamWindowBytes: 16 * MiB }, scope)
    ;(l.s as unknown as { rttMs: number }).rttMs = 1000
    l.s.receive(frameBytes(WindowUpdate, SYN, 1, 0))
    const st = l.inbound[0] as MuxedStream
    let credit = INITIAL_STREAM_WINDOW
    for (let i = 0; i < 50; i++) {
      l.s.receive(frameBytes(Data, 0, 1, credit, new Uint8Array(credit)))
      while (st.readableLength > 0) await st.read()
      credit = l.out().filter(f => f.header.type === WindowUpdate).reduce((a, f) => a + f.header.length, 0)
      expect(scope.memory).toBeLessThanOrEqual(MiB)
      if (credit === 0) break
    }
    expect(l.closed).toEqual([])
    expect(scope.memory).toBe(MiB) // the whole budget, promised as window
  })
})

describe('mplex: per-stream buffers × many streams (js-libp2p#3220)', () => {
  class Handler implements MplexSessionHandler, StreamEvents {
    readonly streams: StreamEvents = this
    resets: Error[] = []
    opened = 0
    onStreamOpen = (): void => { this.opened++ }
    onStreamData = (): void => {}
    onStreamEnd = (): void => {}
    onStreamReset = (_key: number, err: Error): void => { this.resets.push(err) }
    onStreamRemoved = (): void => {}
    onOutboxReady = (): void => {}
    onStreamWritable = (): void => {}
  }
  const frame = (id: number, flag: MessageFlag, data: Uint8Array): Uint8Array => concat(encodeFrame(id, flag, data))

  it('1000 streams × 1 MiB unread: the scope holds the peer to its budget, excess streams are reset, the session lives', () => {
    const { rm, scope } = scopeFor({ memoryBytes: 8 * MiB })
    const h = new Handler()
    const s = new MplexSession(mplexConfig({ maxInboundStreams: 1000 }), h, undefined, scope)
    const body = new Uint8Array(MiB)
    for (let id = 0; id < 1000; id++) {
      s.receive(frame(id, MessageFlag.NewStream, new Uint8Array(0)))
      s.receive(frame(id, MessageFlag.MessageInitiator, body))
      expect(rm.process.memory).toBeLessThanOrEqual(8 * MiB)
    }
    expect(h.opened).toBe(1000)
    expect(h.resets).toHaveLength(1000 - 8)
    expect(h.resets[0]).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    expect((h.resets[0] as Error & { cause?: unknown }).cause).toBeInstanceOf(ResourceLimitError)
    expect(s.resetForBuffers).toBe(992)
    s.abortAll(new StreamResetError('done'))
    expect(rm.process.memory).toBe(0)
    expect(rm.process.inbound).toBe(0)
  })
})
