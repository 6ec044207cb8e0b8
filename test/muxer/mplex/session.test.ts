import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  MplexSession,
  mplexConfig,
  streamKey,
  keyStreamId,
  DEFAULT_MPLEX_CONFIG
} from '../../../src/muxer/mplex/session.js'
import type { MplexConfig, MplexSessionHandler } from '../../../src/muxer/mplex/session.js'
import type { StreamEvents } from '../../../src/muxer/stream-table.js'
import { encodeFrame } from '../../../src/muxer/mplex/frame.js'
import { MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { MplexError, StreamResetError } from '../../../src/errors.js'
import type { TraceEvent } from '../../../src/trace/observer.js'
import { refDecodeAll } from './reference.js'
import type { RefFrame } from './reference.js'

type Ev = ['open', number] | ['data', number, string] | ['end', number] | ['reset', number, Error] | ['removed', number]

class Recorder implements MplexSessionHandler, StreamEvents {
  readonly streams: StreamEvents = this
  events: Ev[] = []
  ready = 0
  onStreamOpen = (key: number): void => {
    this.events.push(['open', key])
  }

  onStreamData = (key: number, data: Uint8Array): void => {
    this.events.push(['data', key, Buffer.from(data).toString('latin1')])
  }

  onStreamEnd = (key: number): void => {
    this.events.push(['end', key])
  }

  onStreamReset = (key: number, err: Error): void => {
    this.events.push(['reset', key, err])
  }

  onStreamRemoved = (key: number): void => {
    this.events.push(['removed', key])
  }

  onOutboxReady = (): void => {
    this.ready++
  }

  onStreamWritable = (): void => {}
  take (): Ev[] {
    const e = this.events
    this.events = []
    return e
  }
}

function make (config: Partial<MplexConfig> = {}, events?: TraceEvent[]): { s: MplexSession, r: Recorder } {
  const r = new Recorder()
  const observer = events === undefined
    ? undefined
    : {
        event: (e: TraceEvent) => {
          events.push(e)
        }
      }
  return { s: new MplexSession(mplexConfig(config), r, observer), r }
}

const frame = (streamId: number, flag: MessageFlag, data = ''): Uint8Array =>
  Uint8Array.from(Buffer.concat(encodeFrame(streamId, flag, new TextEncoder().encode(data))))
/** The frames in the outbox, decoded (and the outbox emptied). */
const sent = (s: MplexSession): Array<[number, number, string]> =>
  refDecodeAll(Uint8Array.from(Buffer.concat(s.takeOutbox())), 1 << 20).frames.map((
    f: RefFrame
  ) => [f.streamId, f.flag, Buffer.from(f.data).toString()])

describe('MplexSession: opening and addressing', () => {
  it('opens streams 0, 1, 2… with NewStream named by the decimal id; keys are id*2+1', () => {
    const { s, r } = make()
    expect([s.openStream(), s.openStream(), s.openStream()]).toEqual([1, 3, 5])
    expect(sent(s)).toEqual([[0, 0, '0'], [1, 0, '1'], [2, 0, '2']])
    expect(r.ready).toBe(1) // one flush request for the whole batch
    expect(streamKey(7, true)).toBe(15)
    expect(keyStreamId(15)).toBe(7)
  })

  it('the peer\'s stream 0 and ours coexist; flags route frames to the right one', () => {
    const { s, r } = make()
    const mine = s.openStream()
    s.takeOutbox()
    s.receive(frame(0, MessageFlag.NewStream, 'x'))
    expect(r.take()).toEqual([['open', 0]])
    s.receive(Uint8Array.from(Buffer.concat([
      frame(0, MessageFlag.MessageInitiator, 'to-theirs'), // the peer opened its stream 0
      frame(0, MessageFlag.MessageReceiver, 'to-mine') // the peer accepted our stream 0
    ])))
    expect(r.take()).toEqual([['data', 0, 'to-theirs'], ['data', mine, 'to-mine']])
    // We write with the flag of our role in each stream.
    s.send(mine, new TextEncoder().encode('a'))
    s.send(0, new TextEncoder().encode('b'))
    expect(sent(s)).toEqual([[0, MessageFlag.MessageInitiator, 'a'], [0, MessageFlag.MessageReceiver, 'b']])
  })

  it('a second NewStream for an id the peer has open is a connection error', () => {
    const { s } = make()
    s.receive(frame(4, MessageFlag.NewStream))
    expect(() => {
      s.receive(frame(4, MessageFlag.NewStream))
    }).toThrowError(
      expect.objectContaining({ code: 'ERR_MPLEX_PROTOCOL', message: expect.stringContaining('stream 4') })
    )
  })

  it('frames for unknown streams are ignored and answered with nothing', () => {
    const { s, r } = make()
    for (const f of [1, 2, 3, 4, 5, 6]) s.receive(frame(9, f, f <= 2 ? 'zz' : ''))
    expect(r.take()).toEqual([])
    expect(s.outboxBytes).toBe(0)
  })

  it('over maxInboundStreams a NewStream is refused with ResetReceiver; its later frames are ignored', () => {
    const { s, r } = make({ maxInboundStreams: 2 })
    s.receive(
      Uint8Array.from(
        Buffer.concat([frame(0, 0), frame(1, 0), frame(2, 0), frame(2, MessageFlag.MessageInitiator, 'x')])
      )
    )
    expect(r.take()).toEqual([['open', 0], ['open', 2]])
    expect(sent(s)).toEqual([[2, MessageFlag.ResetReceiver, '']])
    expect(s.inboundStreams).toBe(2)
    // once one closes, a new one fits again
    s.reset(0)
    s.takeOutbox()
    s.receive(frame(3, 0))
    expect(r.take()).toEqual([['removed', 0], ['open', 6]])
  })

  it('stopAccepting refuses every later NewStream', () => {
    const { s, r } = make()
    s.stopAccepting()
    s.receive(frame(0, 0))
    expect(r.take()).toEqual([])
    expect(sent(s)).toEqual([[0, MessageFlag.ResetReceiver, '']])
  })
})

describe('MplexSession: close and reset', () => {
  it('half-close both ways: Close flags by role, EOF event, removed after both, silent afterwards', () => {
    const { s, r } = make()
    const k = s.openStream()
    s.takeOutbox()
    s.closeWrite(k)
    expect(sent(s)).toEqual([[0, MessageFlag.CloseInitiator, '']])
    expect(s.send(k, Uint8Array.of(1))).toBe(false) // no data after our Close
    s.closeWrite(k) // idempotent
    expect(s.outboxBytes).toBe(0)
    s.receive(frame(0, MessageFlag.MessageReceiver, 'late but legal'))
    s.receive(frame(0, MessageFlag.CloseReceiver))
    expect(r.take()).toEqual([['data', k, 'late but legal'], ['end', k], ['removed', k]])
    // Fully closed: nothing may be sent for it any more (digest TL;DR 6).
    s.reset(k)
    s.closeWrite(k)
    expect(s.send(k, Uint8Array.of(1))).toBe(false)
    expect(s.outboxBytes).toBe(0)
    expect(s.has(k)).toBe(false)
  })

  it('remote Close first, then ours (CloseReceiver for an inbound stream)', () => {
    const { s, r } = make()
    s.receive(
      Uint8Array.from(
        Buffer.concat([frame(3, 0), frame(3, MessageFlag.MessageInitiator, 'q'), frame(3, MessageFlag.CloseInitiator)])
      )
    )
    expect(r.take()).toEqual([['open', 6], ['data', 6, 'q'], ['end', 6]])
    s.receive(frame(3, MessageFlag.MessageInitiator, 'after close')) // dropped (go-mplex does the same)
    s.receive(frame(3, MessageFlag.CloseInitiator)) // duplicate: ignored
    expect(r.take()).toEqual([])
    s.send(6, new TextEncoder().encode('answer'))
    s.closeWrite(6)
    expect(sent(s)).toEqual([[3, MessageFlag.MessageReceiver, 'answer'], [3, MessageFlag.CloseReceiver, '']])
    expect(r.take()).toEqual([['removed', 6]])
  })

  it('remote reset: StreamResetError, forgotten, later frames ignored, nothing sent', () => {
    const { s, r } = make()
    const k = s.openStream()
    s.takeOutbox()
    s.receive(frame(0, MessageFlag.ResetReceiver))
    const ev = r.take()
    expect(ev.map(e => e[0])).toEqual(['reset', 'removed'])
    expect(ev[0]?.[2]).toBeInstanceOf(StreamResetError)
    s.receive(frame(0, MessageFlag.MessageReceiver, 'x'))
    s.reset(k)
    expect(r.take()).toEqual([])
    expect(s.outboxBytes).toBe(0)
  })

  it('local reset sends the role\'s Reset flag once', () => {
    const { s, r } = make()
    s.receive(frame(1, 0))
    s.reset(2)
    s.reset(2)
    expect(sent(s)).toEqual([[1, MessageFlag.ResetReceiver, '']])
    expect(r.take()).toEqual([['open', 2], ['removed', 2]])
  })
})

describe('MplexSession: bodies in pieces', () => {
  it('a body split across chunks is delivered piece by piece to the right stream (same events for every split)', () => {
    const wire = Uint8Array.from(
      Buffer.concat([
        frame(0, 0),
        frame(0, MessageFlag.MessageInitiator, 'abcdefghij'),
        frame(0, MessageFlag.CloseInitiator)
      ])
    )
    for (let cut = 0; cut <= wire.length; cut++) {
      const { s, r } = make()
      s.receive(wire.subarray(0, cut))
      s.receive(wire.subarray(cut))
      const ev = r.take()
      expect(ev.filter(e => e[0] === 'data').map(e => e[2]).join('')).toBe('abcdefghij')
      expect(ev.filter(e => e[0] !== 'data')).toEqual([['open', 0], ['end', 0]])
    }
  })

  it('a stream reset while its frame is still arriving gets none of the rest', () => {
    const { s, r } = make()
    s.receive(frame(0, 0))
    const wire = frame(0, MessageFlag.MessageInitiator, 'x'.repeat(100))
    s.receive(wire.subarray(0, 50))
    s.reset(0)
    s.receive(wire.subarray(50))
    s.receive(frame(0, MessageFlag.MessageInitiator, 'later'))
    expect(r.take().map(e => e[0])).toEqual(['open', 'data', 'removed'])
  })
})

describe('MplexSession: slow readers', () => {
  it('resets a stream whose unread bytes would exceed maxStreamBufferBytes — only that stream', () => {
    const { s, r } = make({ maxMessageBytes: 10, maxStreamBufferBytes: 25 })
    s.receive(Uint8Array.from(Buffer.concat([frame(0, 0), frame(1, 0)])))
    r.take()
    const ten = 'x'.repeat(10)
    s.receive(frame(0, MessageFlag.MessageInitiator, ten))
    s.receive(frame(0, MessageFlag.MessageInitiator, ten))
    s.consumed(0, 5) // the reader took 5: 15 unread
    s.receive(frame(0, MessageFlag.MessageInitiator, ten)) // 25: still fits
    expect(s.bufferedBytes(0)).toBe(25)
    s.receive(frame(0, MessageFlag.MessageInitiator, 'y')) // 26 > 25
    const ev = r.take()
    expect(ev.map(e => e[0])).toEqual(['data', 'data', 'data', 'reset', 'removed'])
    const err = ev[3]?.[2]
    expect(err).toBeInstanceOf(MplexError)
    expect(err).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    expect((err as Error).message).toContain('"stream buffer" expected <= 25 unread bytes, got 26 (stream 0, inbound)')
    expect(sent(s)).toEqual([[0, MessageFlag.ResetReceiver, '']])
    // the other stream and the connection are fine
    s.receive(frame(1, MessageFlag.MessageInitiator, 'ok'))
    expect(r.take()).toEqual([['data', 2, 'ok']])
  })
})

describe('MplexSession: sending', () => {
  it('splits writes at maxFramePayloadBytes; large bodies are views, small frames are coalesced into one chunk', () => {
    const { s } = make({ maxFramePayloadBytes: 1000 })
    const k = s.openStream()
    const big = new Uint8Array(2600).map((_, i) => i & 0xff)
    s.send(k, big)
    const chunks = s.takeOutbox()
    // [NewStream + header] [view 0..1000] [header] [view 1000..2000] [header] [view 2000..2600]
    expect(chunks).toHaveLength(6)
    expect(chunks[1]?.buffer).toBe(big.buffer)
    expect(chunks[1]?.length).toBe(1000)
    const frames = refDecodeAll(Uint8Array.from(Buffer.concat(chunks)), 1 << 20).frames
    expect(frames.map(f => [f.flag, f.data.length])).toEqual([[0, 1], [2, 1000], [2, 1000], [2, 600]])
    expect(Buffer.concat(frames.slice(1).map(f => f.data))).toEqual(Buffer.from(big))
    // many small frames become one contiguous chunk
    for (let i = 0; i < 50; i++) s.send(k, Uint8Array.of(i))
    s.closeWrite(k)
    expect(s.takeOutbox()).toHaveLength(1)
  })

  it('outbox readiness is signalled once per empty→non-empty transition', () => {
    const { s, r } = make()
    const k = s.openStream()
    s.send(k, Uint8Array.of(1))
    expect(r.ready).toBe(1)
    s.takeOutbox()
    s.send(k, Uint8Array.of(2))
    s.send(k, Uint8Array.of(3))
    expect(r.ready).toBe(2)
  })
})

describe('MplexSession: connection end', () => {
  function threeStreams (): { s: MplexSession, r: Recorder } {
    const x = make()
    x.s.receive(
      Uint8Array.from(
        Buffer.concat([
          frame(0, 0),
          frame(1, 0),
          frame(1, MessageFlag.MessageInitiator, 'last words'),
          frame(1, MessageFlag.CloseInitiator)
        ])
      )
    )
    x.s.openStream()
    x.s.takeOutbox()
    x.r.take()
    return x
  }

  it('connectionLost releases remote-closed streams without a reset, resets the others, sends nothing', () => {
    const { s, r } = threeStreams()
    s.send(2, Uint8Array.of(1))
    s.connectionLost(new Error('gone'))
    expect(r.take().map(e => [e[0], e[1]])).toEqual([['reset', 0], ['removed', 0], ['removed', 2], ['reset', 1], [
      'removed',
      1
    ]])
    expect(s.outboxBytes).toBe(0)
    expect(s.isClosed).toBe(true)
    s.receive(frame(5, 0))
    expect(r.take()).toEqual([])
    expect(() => s.openStream()).toThrowError(expect.objectContaining({ code: 'ERR_MUXER_CLOSED' }))
  })

  it('abortAll resets every stream with the given error', () => {
    const { s, r } = threeStreams()
    const err = new MplexError('ERR_MPLEX_PROTOCOL', 'bad')
    s.abortAll(err)
    const resets = r.take().filter(e => e[0] === 'reset')
    expect(resets.map(e => e[1]).sort()).toEqual([0, 1, 2])
    expect(resets.every(e => e[2] === err)).toBe(true)
  })
})

describe('MplexSession: config and tracing', () => {
  it('defaults and validation name the field', () => {
    expect(mplexConfig()).toEqual(DEFAULT_MPLEX_CONFIG)
    expect(DEFAULT_MPLEX_CONFIG).toEqual({
      maxMessageBytes: 1048576,
      maxFramePayloadBytes: 65536,
      maxStreamBufferBytes: 4194304,
      maxInboundStreams: 1000,
      writeHighWaterBytes: 1048576
    })
    expect(() => mplexConfig({ maxFramePayloadBytes: (1 << 20) + 1 })).toThrow(
      /"maxFramePayloadBytes" expected an integer in \[1, 1048576\], got 1048577/
    )
    expect(() => mplexConfig({ maxMessageBytes: 100, maxStreamBufferBytes: 99 })).toThrow(
      /"maxStreamBufferBytes" expected an integer in \[100,/
    )
    expect(() => mplexConfig({ maxInboundStreams: -1 })).toThrow(RangeError)
    expect(() => mplexConfig({ nope: 1 } as unknown as Partial<MplexConfig>)).toThrow(/no field "nope"/)
  })

  it('the observer sees every frame in and out, with who opened the stream', () => {
    const events: TraceEvent[] = []
    const { s } = make({}, events)
    const k = s.openStream()
    s.send(k, Uint8Array.of(7))
    s.receive(frame(0, MessageFlag.CloseReceiver))
    const frames = events.filter(e => e.layer === 'mplex').map(e =>
      e.layer === 'mplex' && e.kind === 'frame'
        ? [e.dir, e.streamId, e.flag, e.length, e.opener, Buffer.from(e.bytes ?? []).toString('hex')]
        : []
    )
    expect(frames).toEqual([
      ['out', 0, 0, 1, 'local', '0001'],
      ['out', 0, 2, 1, 'local', '0201'],
      ['in', 0, 3, 0, 'local', '0300']
    ])
    expect(events.filter(e => e.layer === 'stream')).toHaveLength(1)
  })
})

describe('MplexSession: two sessions back to back (model check)', () => {
  type Op =
    | { t: 'open', side: 0 | 1 }
    | { t: 'send', side: 0 | 1, pick: number, len: number }
    | { t: 'close', side: 0 | 1, pick: number }
    | { t: 'reset', side: 0 | 1, pick: number }
    | { t: 'consume', side: 0 | 1, pick: number }
  const side = fc.constantFrom(0 as const, 1 as const)
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ t: fc.constant('open' as const), side }) },
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('send' as const),
        side,
        pick: fc.nat(),
        len: fc.integer({ min: 1, max: 40 })
      })
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), side, pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), side, pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('consume' as const), side, pick: fc.nat() }) }
  )

  it('every byte sent arrives on the right stream; frames for forgotten streams only ever follow the receiver\'s own reset', () => {
    let checkedBytes = 0
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const recs = [new Recorder(), new Recorder()]
        const unknownFrames: string[] = []
        const sessions: MplexSession[] = []
        /** Keys each side reset itself (by an op, or its buffer limit). */
        const resetBy = [new Set<number>(), new Set<number>()]
        for (const i of [0, 1]) {
          const observer = {
            event: (e: TraceEvent) => {
              if (e.layer !== 'mplex' || e.kind !== 'frame' || e.dir !== 'in' || e.flag === 0) return
              const key = e.streamId * 2 + ((e.flag & 1) === 0 ? 0 : 1)
              // Frames already in flight when the receiver reset a stream are legitimate (that is why
              // receivers ignore them); a frame for a stream both sides closed, or the peer reset, is not.
              if (!(sessions[i] as MplexSession).has(key) && !(resetBy[i] as Set<number>).has(key)) {
                unknownFrames.push(`${i}: ${e.streamId}/${e.flag}`)
              }
            }
          }
          const rec = recs[i] as Recorder
          const onReset = rec.onStreamReset
          rec.onStreamReset = (key, err) => {
            if (err instanceof MplexError) (resetBy[i] as Set<number>).add(key)
            onReset(key, err)
          }
          sessions.push(
            new MplexSession(
              mplexConfig({ maxMessageBytes: 16, maxStreamBufferBytes: 64, maxFramePayloadBytes: 16 }),
              rec,
              observer
            )
          )
        }
        // expected bytes per (receiver, key), built from what each sender sent
        const sentBytes = new Map<string, number[]>()
        // Deliver until both outboxes are empty, so no two frames cross on the wire (crossings, e.g. a
        // Close racing a Reset, legitimately name forgotten streams; that is why receivers ignore them).
        const pump = (): void => {
          for (let round = 0; round < 10; round++) {
            let moved = false
            for (const i of [0, 1] as const) {
              const out = (sessions[i] as MplexSession).takeOutbox()
              for (const c of out) {
                moved = true
                ;(sessions[1 - i] as MplexSession).receive(c)
              }
            }
            if (!moved) return
          }
          throw new Error('frames still flowing after 10 rounds')
        }
        let counter = 0
        for (const o of ops) {
          const s = sessions[o.side] as MplexSession
          const keys = [...Array(200).keys()].filter(k => s.has(k))
          if (o.t === 'open') s.openStream()
          else if (keys.length > 0) {
            const k = keys[o.pick % keys.length] as number
            if (o.t === 'send') {
              const data = Uint8Array.from({ length: o.len }, () => counter++ & 0xff)
              if (s.send(k, data)) {
                const peerKey = k ^ 1 // the same stream as the other side keys it
                const id = `${1 - o.side}:${peerKey}`
                sentBytes.set(id, [...(sentBytes.get(id) ?? []), ...data])
              }
            } else if (o.t === 'close') s.closeWrite(k)
            else if (o.t === 'reset') {
              s.reset(k)
              ;(resetBy[o.side] as Set<number>).add(k)
            } else s.consumed(k, s.bufferedBytes(k))
          }
          pump()
        }
        expect(unknownFrames).toEqual([])
        // Each receiver got, per stream, a prefix of what was sent (exactly all of it unless reset).
        for (const i of [0, 1]) {
          const got = new Map<number, number[]>()
          const resetKeys = new Set<number>()
          for (const e of (recs[i] as Recorder).events) {
            if (e[0] === 'data') got.set(e[1], [...(got.get(e[1]) ?? []), ...Buffer.from(e[2], 'latin1')])
            if (e[0] === 'reset') resetKeys.add(e[1])
          }
          for (const [id, bytes] of sentBytes) {
            const [rcv, key] = id.split(':').map(Number) as [number, number]
            if (rcv !== i) continue
            const g = got.get(key) ?? []
            // in order, nothing lost or duplicated; all of it unless the stream was reset
            expect(g).toEqual(bytes.slice(0, g.length))
            if (!resetKeys.has(key)) expect(g.length).toBe(bytes.length)
            checkedBytes += g.length
          }
        }
      }),
      { numRuns: 300 }
    )
    expect(checkedBytes).toBeGreaterThan(2000) // the property did move data
  })
})
