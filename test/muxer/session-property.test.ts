/**
 * Properties of two sessions driven by random application operations and random delivery:
 *  - no frame is ever sent for a stream after it finished on the sender's side (both FINs, or an
 *    RST sent or received): older nim kills the connection on one (digest TL;DR 6);
 *  - neither side ever sees a protocol error (the sessions stay up);
 *  - a sender never exceeds the window the receiver granted.
 * And: arbitrary bytes from a peer end the session with a typed error, never an exception.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Flag, FrameType } from '../../src/muxer/constants.js'
import { SwitchyardError } from '../../src/errors.js'
import type { TraceEvent } from '../../src/trace/observer.js'
import type { MuxedStream } from '../../src/muxer/stream.js'
import { Clock, loneSession, settle, testSession } from './helpers.js'
import type { TestSession } from './helpers.js'

type Op =
  | { kind: 'open', side: number }
  | { kind: 'write', side: number, stream: number, size: number }
  | { kind: 'closeWrite' | 'close' | 'reset' | 'read', side: number, stream: number }
  | { kind: 'deliver', side: number }

const side = fc.integer({ min: 0, max: 1 })
const stream = fc.nat(3)
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('open' as const), side }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      side,
      stream,
      size: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 100_000, max: 400_000 }))
    })
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('closeWrite' as const), side, stream }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('close' as const, 'reset' as const), side, stream }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), side, stream }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), side }) }
)

/** Follows one session's frames in the order it produced and consumed them. */
class WireAuditor {
  readonly violations: string[] = []
  private readonly localFin = new Set<number>()
  private readonly remoteFin = new Set<number>()
  private readonly finished = new Set<number>()
  /** Data bytes we may still send per stream: 256000 (our assumption) + deltas. */
  private readonly credit = new Map<number, number>()

  event (e: TraceEvent): void {
    if (e.layer !== 'yamux' || e.kind !== 'frame') return
    const id = e.streamId
    if (e.frameType === FrameType.Ping || e.frameType === FrameType.GoAway) return
    if (e.dir === 'out') {
      if (this.finished.has(id)) {
        this.violations.push(`frame type ${e.frameType} flags ${e.flags} for finished stream ${id}`)
      }
      if (e.frameType === FrameType.Data) {
        const c = this.credit.get(id) ?? 256_000
        if (e.length > c) this.violations.push(`Data of ${e.length} bytes with ${c} credit on stream ${id}`)
        this.credit.set(id, c - e.length)
      }
      if ((e.flags & Flag.FIN) !== 0) this.localFin.add(id)
      if ((e.flags & Flag.RST) !== 0) this.finished.add(id)
    } else {
      if (e.frameType === FrameType.WindowUpdate && (e.flags & Flag.RST) === 0) {
        this.credit.set(id, (this.credit.get(id) ?? 256_000) + e.length)
      }
      if ((e.flags & Flag.FIN) !== 0) this.remoteFin.add(id)
      if ((e.flags & Flag.RST) !== 0) this.finished.add(id)
    }
    if (this.localFin.has(id) && this.remoteFin.has(id)) this.finished.add(id)
  }
}

describe('session pair under random operations', () => {
  it('never a frame for a finished stream, never over the window, never a protocol error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 60 }), async (ops) => {
        const clock = new Clock()
        const auditors = [new WireAuditor(), new WireAuditor()]
        const streams: MuxedStream[][] = [[], []]
        const closed: Array<Array<Error | undefined>> = [[], []]
        const sessions = [0, 1].map(side =>
          testSession({
            initiator: side === 0,
            config: { rttIntervalMs: 0, keepAliveIntervalMs: 0, maxFramePayloadBytes: 50_000 },
            now: clock.now,
            observer: auditors[side],
            host: {
              onOutput: () => {},
              onStream: (s) => {
                streams[side]?.push(s)
              },
              onClose: (e) => {
                closed[side]?.push(e)
              }
            }
          })
        ) as [TestSession, TestSession]
        const deliver = (from: number): void => {
          const chunks = sessions[from]?.takeOutbox() ?? []
          sessions[from]?.setBlocked(false)
          for (const c of chunks) sessions[1 - from]?.receive(c.slice())
        }
        const quiet = (p: Promise<unknown>): void => {
          p.catch(() => {})
        }
        for (const op of ops) {
          const mine = streams[op.side] as MuxedStream[]
          const s = 'stream' in op ? mine[op.stream % Math.max(mine.length, 1)] : undefined
          switch (op.kind) {
            case 'open':
              mine.push((sessions[op.side] as TestSession).openStream())
              break
            case 'write':
              if (s !== undefined) quiet(s.write(new Uint8Array(op.size)))
              break
            case 'closeWrite':
              if (s !== undefined) quiet(s.closeWrite())
              break
            case 'close':
              if (s !== undefined) quiet(s.close())
              break
            case 'reset':
              s?.reset()
              break
            case 'read':
              if (s !== undefined) quiet(s.read())
              break
            case 'deliver':
              deliver(op.side)
              break
          }
          await settle(1)
        }
        // wind down: every stream half-closes on both sides (so each one finishes), then read
        // everything and deliver until quiet; late reads of buffered data must stay silent
        for (let round = 0; round < 3; round++) {
          deliver(0)
          deliver(1)
          await settle(1)
        }
        for (const side of [0, 1]) for (const s of streams[side] ?? []) quiet(s.closeWrite())
        for (let round = 0; round < 50; round++) {
          for (const side of [0, 1]) for (const s of streams[side] ?? []) if (s.readableLength > 0) quiet(s.read())
          deliver(0)
          deliver(1)
          await settle(1)
        }
        expect(auditors[0]?.violations).toEqual([])
        expect(auditors[1]?.violations).toEqual([])
        expect(closed).toEqual([[], []])
      }),
      { numRuns: 150 }
    )
  }, 60_000)

  it('arbitrary bytes from a peer: the session ends with a typed error or carries on, it never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 10 }), fc.boolean(), (chunks, initiator) => {
        const { s, closed } = loneSession(initiator)
        for (const c of chunks) s.receive(c)
        for (const e of closed) expect(e).toBeInstanceOf(SwitchyardError)
        expect(closed.length).toBeLessThanOrEqual(1)
      }),
      { numRuns: 3000 }
    )
  })

  it('random valid-looking frames: typed errors only', () => {
    const frame = fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: 0, max: 300_000 })
    )
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), (frames) => {
        const { s, closed } = loneSession(false)
        for (const [type, flags, id, len] of frames) {
          const h = new Uint8Array(12)
          const v = new DataView(h.buffer)
          v.setUint8(1, type)
          v.setUint16(2, flags)
          v.setUint32(4, id)
          v.setUint32(8, len)
          s.receive(h)
          if (type === 0) s.receive(new Uint8Array(Math.min(len, 1000)))
          s.takeOutbox()
        }
        for (const e of closed) expect(e).toBeInstanceOf(SwitchyardError)
      }),
      { numRuns: 2000 }
    )
  })
})
