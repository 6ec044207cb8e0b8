import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { TcpReassembler } from '../../src/capture/reassembly.js'
import { parseTcpSegment } from '../../src/capture/packet.js'
import type { TcpSegment } from '../../src/capture/packet.js'
import { frameOf, TcpFlow } from './synth.js'
import type { SynthSegment } from './synth.js'

const client = { ip: '127.0.0.1', port: 50312 }
const server = { ip: '127.0.0.1', port: 4001 }

function toSegment (s: SynthSegment, i: number): TcpSegment {
  return parseTcpSegment({
    index: i + 1,
    offset: 0,
    time: s.time,
    linkType: 1,
    data: frameOf(1, s).data,
    originalLength: 0
  }) as TcpSegment
}

function reassemble (segments: SynthSegment[]): ReturnType<TcpReassembler['finish']> {
  const r = new TcpReassembler()
  segments.forEach((s, i) => r.push(toSegment(s, i)))
  return r.finish()
}

describe('TcpReassembler', () => {
  it('rebuilds both directions through reordering, retransmission, overlap and sequence wrap-around', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.uint8Array({ maxLength: 2000 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 1, max: 700 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (up, down, isnC, isnS, mss, swaps, dups) => {
        const flow = new TcpFlow(client, server, isnC, isnS, mss)
        flow.handshake(1)
        flow.send(true, 2, up)
        flow.send(false, 3, down)
        flow.fin(true, 4); flow.fin(false, 5)
        const segs = flow.segments.slice()
        const head = segs.splice(0, 3) // keep the handshake first
        for (const d of dups) {
          const s = segs[d % segs.length] as SynthSegment
          segs.push({ ...s, payload: s.payload.subarray(0, Math.ceil(s.payload.length / 2)) }, s)
        }
        for (let i = 0; i < swaps.length; i++) {
          const a = (swaps[i] as number) % segs.length; const b = (a + 1) % segs.length
          const t = segs[a] as SynthSegment; segs[a] = segs[b] as SynthSegment; segs[b] = t
        }
        const [c, ...rest] = reassemble([...head, ...segs])
        expect(rest).toHaveLength(0)
        expect(c!.toServer.data.bytes()).toEqual(up)
        expect(c!.toClient.data.bytes()).toEqual(down)
        expect(c!.toServer.gap).toBeUndefined()
        expect(c!.toClient.gap).toBeUndefined()
        expect(c!.toServer.synSeen && c!.toClient.synSeen).toBe(true)
        expect(c!.client.port).toBe(50312)
      }))
  })

  it('reports the first hole left by a lost segment and delivers only the bytes before it', () => {
    const flow = new TcpFlow(client, server, 1, 2, 10)
    flow.handshake(1)
    const data = Uint8Array.from({ length: 50 }, (_, i) => i)
    flow.send(true, 2, data)
    const segs = flow.segments.filter((_, i) => i !== 3 + 2) // drop bytes 20..29
    const [c] = reassemble(segs)
    expect(c!.toServer.data.bytes()).toEqual(data.subarray(0, 20))
    expect(c!.toServer.gap).toEqual({ at: 20, length: 10 })
  })

  it('starts mid-stream when the SYN was not captured, and orients by SYN+ACK when only that was seen', () => {
    const flow = new TcpFlow(client, server, 10, 20, 100)
    flow.handshake(1)
    flow.send(true, 2, Uint8Array.of(1, 2, 3))
    flow.send(false, 3, Uint8Array.of(4))
    const [c] = reassemble(flow.segments.slice(1)) // no SYN: the SYN+ACK tells who is the server
    expect(c!.client.port).toBe(50312)
    expect(c!.toServer.synSeen).toBe(false)
    expect(c!.toServer.data.bytes()).toEqual(Uint8Array.of(1, 2, 3))
    const [d] = reassemble(flow.segments.slice(3))
    expect(d!.toServer.data.bytes()).toEqual(Uint8Array.of(1, 2, 3))
    expect(d!.toClient.data.bytes()).toEqual(Uint8Array.of(4))
  })

  it('splits a reused port pair into two connections and stamps chunks with their packet time', () => {
    const a = new TcpFlow(client, server, 100, 200)
    a.handshake(1); a.send(true, 2, Uint8Array.of(1)); a.fin(true, 3); a.fin(false, 3)
    const b = new TcpFlow(client, server, 9000, 9900)
    b.handshake(10); b.send(true, 11, Uint8Array.of(2)); b.rst(false, 12)
    const conns = reassemble([...a.segments, ...b.segments])
    expect(conns.map(c => c.toServer.data.bytes())).toEqual([Uint8Array.of(1), Uint8Array.of(2)])
    expect(conns[0]!.toServer.finTime).toBe(3)
    expect(conns[1]!.resetTime).toBe(12)
    expect(conns[1]!.toServer.data.timeAt(0)).toBe(11)
    expect(conns.map(c => c.id)).toEqual([1, 2])
  })

  it('keeps a retransmitted SYN in the same connection', () => {
    const flow = new TcpFlow(client, server, 5, 6)
    flow.handshake(1)
    const syn = flow.segments[0] as SynthSegment
    flow.send(true, 2, Uint8Array.of(7))
    const conns = reassemble([syn, ...flow.segments])
    expect(conns).toHaveLength(1)
    expect(conns[0]!.toServer.data.bytes()).toEqual(Uint8Array.of(7))
  })
})
