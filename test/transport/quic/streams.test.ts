/** RFC 9000 §2-4 units: stream ids, reassembly, send buffer with loss, flow control, stream limits. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { QuicError } from '../../../src/errors.js'
import { ReceiveFlowControl, SendFlowControl, StreamLimits } from '../../../src/transport/quic/flow-control.js'
import { RecvBuffer } from '../../../src/transport/quic/recv-buffer.js'
import { SendBuffer, type OutgoingData } from '../../../src/transport/quic/send-buffer.js'
import {
  canReceive,
  canSend,
  initiatorOf,
  isBidirectional,
  streamIdFor,
  streamIndex
} from '../../../src/transport/quic/stream-id.js'

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return err instanceof QuicError ? err.code : String(err)
  }
  return undefined
}

describe('stream ids (RFC 9000 §2.1)', () => {
  it('types and indexes', () => {
    expect([0, 1, 2, 3].map(initiatorOf)).toEqual(['client', 'server', 'client', 'server'])
    expect([0, 1, 2, 3].map(isBidirectional)).toEqual([true, true, false, false])
    expect(streamIdFor('server', true, 2)).toBe(9)
    expect(streamIndex(9)).toBe(2)
    expect(canSend('client', 3)).toBe(false)
    expect(canReceive('client', 3)).toBe(true)
    expect(canReceive('client', 2)).toBe(false)
  })
})

describe('receive buffer: reassembly and final size (RFC 9000 §2.2, §4.5)', () => {
  it('any split, order, duplication and overlap reads back the exact bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 30 }),
        fc.infiniteStream(fc.nat()),
        (data, cuts, rnd) => {
          const pieces: Array<[number, number]> = cuts.map(([a, b]) => {
            const s = a % data.length
            return [s, Math.min(data.length, s + 1 + (b % 50))]
          })
          pieces.push([0, data.length]) // make sure everything arrives at least once
          const order = pieces.map(p => ({ p, k: rnd.next().value })).sort((x, y) => x.k - y.k).map(x => x.p)
          const rb = new RecvBuffer()
          const out: number[] = []
          for (const [s, e] of order) {
            rb.insert(s, data.subarray(s, e), e === data.length)
            for (let c = rb.read(); c !== undefined; c = rb.read()) out.push(...c)
          }
          expect(out).toEqual([...data])
          expect(rb.finished).toBe(true)
          expect(rb.state).toBe('DataRead')
          expect(rb.buffered).toBe(0)
        }
      )
    )
  })

  it('final size violations are FINAL_SIZE_ERROR', () => {
    const rb = new RecvBuffer()
    rb.insert(0, new Uint8Array(10), true)
    expect(codeOf(() => rb.insert(5, new Uint8Array(10), false))).toBe('ERR_QUIC_FINAL_SIZE')
    expect(codeOf(() => rb.insert(0, new Uint8Array(8), true))).toBe('ERR_QUIC_FINAL_SIZE')
    expect(codeOf(() => rb.reset(11))).toBe('ERR_QUIC_FINAL_SIZE')
    const r2 = new RecvBuffer()
    r2.insert(0, new Uint8Array(10), false)
    expect(codeOf(() => r2.insert(0, new Uint8Array(5), true))).toBe('ERR_QUIC_FINAL_SIZE')
    expect(r2.reset(12)).toBe(2)
    expect(r2.state).toBe('ResetRecvd')
  })
})

describe('send buffer with loss and acknowledgement (RFC 9000 §13.3)', () => {
  it('unsent counts what never left (the write backpressure); buffered also what is in flight or lost', () => {
    const sb = new SendBuffer()
    sb.write(new Uint8Array(3000))
    expect([sb.unsent, sb.buffered]).toEqual([3000, 3000])
    const a = sb.nextFrame(1000, Infinity) as OutgoingData
    const b = sb.nextFrame(1000, Infinity) as OutgoingData
    // in flight: no longer unsent, still held until acknowledged
    expect([sb.unsent, sb.buffered]).toEqual([1000, 3000])
    sb.onLost(b.offset, b.data.length, false)
    expect([sb.unsent, sb.buffered]).toEqual([1000, 3000])
    sb.onAcked(a.offset, a.data.length, false)
    expect([sb.unsent, sb.buffered]).toEqual([1000, 2000])
    // flow control holds the rest: it stays unsent
    expect(sb.nextFrame(1000, 1000)?.offset).toBe(1000) // the retransmission of b
    expect(sb.nextFrame(1000, 2000)).toBeUndefined()
    expect(sb.unsent).toBe(1000)
  })

  it('every byte and the FIN are eventually acknowledged, whatever is lost', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 100 }), { minLength: 1, maxLength: 10 }),
        fc.infiniteStream(fc.boolean()),
        fc.integer({ min: 1, max: 64 }),
        (writes, lossy, mtu) => {
          const sb = new SendBuffer()
          const all = writes.flatMap(w => [...w])
          for (const w of writes) sb.write(w)
          sb.finish()
          const received = new RecvBuffer()
          let rounds = 0
          while (sb.state !== 'DataRecvd') {
            if (++rounds > 10_000) throw new Error('hangs')
            const f: OutgoingData | undefined = sb.nextFrame(mtu, Infinity)
            if (f === undefined) throw new Error(`stuck in ${sb.state}`)
            if (lossy.next().value) {
              sb.onLost(f.offset, f.data.length, f.fin)
              continue
            }
            received.insert(f.offset, f.data, f.fin)
            sb.onAcked(f.offset, f.data.length, f.fin)
          }
          const out: number[] = []
          for (let c = received.read(); c !== undefined; c = received.read()) out.push(...c)
          expect(out).toEqual(all)
          expect(received.finished).toBe(true)
          expect(sb.buffered).toBe(0)
        }
      )
    )
  })

  it('new data stops at the flow-control offset', () => {
    const sb = new SendBuffer()
    sb.write(new Uint8Array(100))
    expect(sb.nextFrame(1000, 40)?.data.length).toBe(40)
    expect(sb.nextFrame(1000, 40)).toBeUndefined()
    expect(sb.hasPending(40)).toBe(false)
    expect(sb.hasPending(41)).toBe(true)
  })
})

describe('flow control (RFC 9000 §4)', () => {
  it('refuses data beyond the advertised limit; advertises more after half is consumed; auto-tunes', () => {
    const fcu = new ReceiveFlowControl(100, 400)
    fcu.onReceived(100, 'stream 0')
    expect(codeOf(() => fcu.onReceived(101, 'stream 0'))).toBe('ERR_QUIC_FLOW_CONTROL')
    fcu.onConsumed(40)
    expect(fcu.nextUpdate(0, 10)).toBeUndefined()
    fcu.onConsumed(20)
    expect(fcu.nextUpdate(0, 10)).toBe(160)
    fcu.onReceived(160, 'x')
    fcu.onConsumed(60)
    expect(fcu.nextUpdate(5, 10)).toBe(120 + 200) // within 2 RTT: window doubled
    const s = new SendFlowControl(10)
    s.onSent(10)
    expect(s.blocked).toBe(true)
    s.onMaxData(5)
    expect(s.peerMax).toBe(10)
    s.onMaxData(20)
    expect(s.available).toBe(10)
  })

  it('auto-tuning asks mayGrow first: refused, the window keeps its size and the update is still sent', () => {
    const fc = new ReceiveFlowControl(100, 400)
    fc.onReceived(100, 'x')
    fc.onConsumed(60)
    expect(fc.nextUpdate(0, 10)).toBe(160)
    fc.onReceived(160, 'x')
    fc.onConsumed(60)
    const asked: number[] = []
    expect(fc.nextUpdate(5, 10, n => { asked.push(n); return false })).toBe(120 + 100)
    expect(asked).toEqual([100])
    expect(fc.window).toBe(100)
    fc.onReceived(220, 'x')
    fc.onConsumed(60)
    expect(fc.nextUpdate(6, 10, n => { asked.push(n); return true })).toBe(180 + 200)
    expect(fc.window).toBe(200)
  })

  it('stream limits: STREAM_LIMIT_ERROR beyond MAX_STREAMS; credit comes back as streams close', () => {
    const l = new StreamLimits(4, 2)
    l.onPeerStream(3)
    expect(codeOf(() => l.onPeerStream(4))).toBe('ERR_QUIC_STREAM_LIMIT')
    expect(l.onPeerStreamClosed()).toBeUndefined()
    expect(l.onPeerStreamClosed()).toBe(6)
    expect(l.open()).toBe(0)
    expect(l.open()).toBe(1)
    expect(l.canOpen).toBe(false)
    l.onMaxStreams(3)
    expect(l.canOpen).toBe(true)
  })
})
