import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeLp } from '../../src/codec/length-prefixed.js'
import { encodeLsResponse, encodeMessage } from '../../src/multistream/messages.js'
import { MessageDissector, streamDissector, TimedBuffer } from '../../src/trace/dissect.js'
import type { TraceDirection, TraceEvent } from '../../src/trace/observer.js'
import { concat } from '../helpers/bytes.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Compact, comparable form of an event. */
function show (e: TraceEvent): string {
  switch (e.kind) {
    case 'message':
      return e.layer === 'multistream'
        ? `${e.dir} ms ${e.message}`
        : `${e.dir} msg ${new TextDecoder().decode(e.bytes)}`
    case 'ls':
      return `${e.dir} ls ${e.protocols.join(',')}`
    case 'protocol':
      return `protocol ${e.protocol}`
    case 'error':
      return `error ${e.layer}`
    default:
      return `${e.layer} ${e.kind}`
  }
}

function run (
  pieces: Array<[TraceDirection, Uint8Array]>,
  opener: 'local' | 'remote' = 'local'
): Array<{ s: string, time: number, e: TraceEvent }> {
  const out: Array<{ s: string, time: number, e: TraceEvent }> = []
  const d = streamDissector({ stream: 3, opener }, (e, time) => out.push({ s: show(e), time, e }))
  pieces.forEach(([dir, bytes], i) => { d.push(dir, bytes, i) })
  return out
}

// The tutorial exchange on a stream we opened: dialer = 'out'.
const dialerBytes = concat([
  encodeMessage('/multistream/1.0.0'),
  encodeMessage('/test/stream-proto/1.0.0'),
  encodeLp(utf8('please send data'))
])
const listenerBytes = concat([
  encodeMessage('/multistream/1.0.0'),
  encodeMessage('/test/stream-proto/1.0.0'),
  ...['Part 0', 'Part 1', 'Part 10'].map(p => encodeLp(utf8(p)))
])
const expectedOut = ['out ms /multistream/1.0.0', 'out ms /test/stream-proto/1.0.0', 'out msg please send data']
const expectedIn = [
  'in ms /multistream/1.0.0',
  'in ms /test/stream-proto/1.0.0',
  'in msg Part 0',
  'in msg Part 1',
  'in msg Part 10'
]

function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of [...points, bytes.length]) { if (p > prev) out.push(bytes.subarray(prev, p)); prev = p }
  return out
}

describe('streamDissector', () => {
  it('reads negotiation and messages whatever the split and the interleaving of the two sides', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (cutsOut, cutsIn, order) => {
          const outs = split(dialerBytes, cutsOut)
          const ins = split(listenerBytes, cutsIn)
          const pieces: Array<[TraceDirection, Uint8Array]> = []
          let k = 0
          while (outs.length > 0 || ins.length > 0) {
            const pickOut = ins.length === 0 || (outs.length > 0 && (order[k++ % Math.max(order.length, 1)] ?? true))
            pieces.push(pickOut ? ['out', outs.shift() as Uint8Array] : ['in', ins.shift() as Uint8Array])
          }
          const events = run(pieces).map(x => x.s)
          expect(events.filter(s => s.startsWith('out'))).toEqual(expectedOut)
          expect(events.filter(s =>
            s.startsWith('in')
          )).toEqual(expectedIn)
          expect(events.filter(s => s.startsWith('protocol'))).toEqual(['protocol /test/stream-proto/1.0.0'])
          // the protocol is known before any message of it
          expect(events.indexOf('protocol /test/stream-proto/1.0.0')).toBeLessThan(
            events.findIndex(s => s.includes(' msg '))
          )
        }
      )
    )
  })

  it('waits for the answer before reading a lazy dialer\'s data, and stamps each event with the time of its last byte', () => {
    const events = run([['out', dialerBytes.subarray(0, 5)], ['out', dialerBytes.subarray(5)], ['in', listenerBytes]])
    const byName = new Map(events.map(x => [x.s, x.time]))
    expect(byName.get('out ms /multistream/1.0.0')).toBe(1) // the header's last byte came in piece 1
    expect(byName.get('out msg please send data')).toBe(1)
    expect(byName.get('in ms /test/stream-proto/1.0.0')).toBe(2)
    expect(events.map(x => x.s).indexOf('out msg please send data')).toBeGreaterThan(
      events.map(x => x.s).indexOf('protocol /test/stream-proto/1.0.0')
    )
    for (const x of events) {
      expect(x.e.stream).toBe(3)
      expect(x.e.opener).toBe('local')
    }
  })

  it('follows na, ls and a second proposal; the remote opener dials from the other side', () => {
    const dialer = concat([
      encodeMessage('/multistream/1.0.0'),
      encodeMessage('ls'),
      encodeMessage('/a'),
      encodeMessage('/b'),
      encodeLp(utf8('x'))
    ])
    const listener = concat([
      encodeMessage('/multistream/1.0.0'),
      encodeLsResponse(['/b', '/c']),
      encodeMessage('na'),
      encodeMessage('/b'),
      encodeLp(utf8('y'))
    ])
    const events = run([['in', dialer], ['out', listener]], 'remote').map(x => x.s)
    expect(events).toEqual([
      'in ms /multistream/1.0.0',
      'in ms ls',
      'out ms /multistream/1.0.0',
      'out ls /b,/c',
      'in ms /a',
      'out ms na',
      'in ms /b',
      'out ms /b',
      'protocol /b',
      'in msg x',
      'out msg y'
    ])
  })

  it('reports garbage as one error event and then ignores the stream; never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
      const events = run([['out', a], ['in', b], ['out', dialerBytes], ['in', listenerBytes]])
      expect(events.filter(x => x.s.startsWith('error')).length).toBeLessThanOrEqual(1)
    }))
    const events = run([['out', Uint8Array.of(3, 0x61, 0x62, 0x63)]]).map(x => x.s) // "abc" without its newline
    expect(events).toEqual(['error multistream'])
  })
})

describe('MessageDissector', () => {
  it('shows nothing for raw protocols (ping), and switches a direction to raw when it is not length-prefixed', () => {
    const out: TraceEvent[] = []
    const ping = new MessageDissector('/ipfs/ping/1.0.0', { stream: 1, opener: 'local' }, e => out.push(e))
    ping.push('out', new Uint8Array(32).fill(7), 0)
    expect(out).toEqual([])
    expect(ping.isRaw('out')).toBe(true)
    const lp = new MessageDissector('/x', { stream: 1, opener: 'local' }, e => out.push(e), 16)
    lp.push('in', encodeLp(utf8('ok')), 0)
    lp.push('in', Uint8Array.of(0x7f, 1, 2), 1) // declares 127 B > 16
    lp.push('in', encodeLp(utf8('later')), 2)
    expect(out.map(show)).toEqual(['in msg ok', 'error stream'])
    expect(lp.isRaw('in')).toBe(true)
    expect(lp.isRaw('out')).toBe(false)
  })
})

describe('TimedBuffer', () => {
  it('consumes across chunks and reports the time of the last byte taken', () => {
    const b = new TimedBuffer()
    b.push(Uint8Array.of(1, 2), 10)
    b.push(Uint8Array.of(3), 20)
    b.push(Uint8Array.of(4, 5), 30)
    expect(b.view()).toEqual(Uint8Array.of(1, 2, 3, 4, 5))
    expect(b.consume(1)).toBe(10)
    expect(b.consume(2)).toBe(20)
    expect(b.view()).toEqual(Uint8Array.of(4, 5))
    expect(b.drain()).toEqual([{ bytes: Uint8Array.of(4, 5), time: 30 }])
    expect(b.length).toBe(0)
  })
})
