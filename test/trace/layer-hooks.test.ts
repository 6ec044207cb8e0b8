/**
 * The observer hooks of the layers report what crosses them, and nothing changes without one.
 */
import { describe, expect, it } from 'vitest'
import { Dialer, Listener, LsRequest } from '../../src/multistream/negotiation.js'
import type { TraceEvent, TraceObserver } from '../../src/trace/observer.js'
import { concat } from '../helpers/bytes.js'

function collector (): { observer: TraceObserver, events: TraceEvent[] } {
  const events: TraceEvent[] = []
  return { events, observer: { event: e => { events.push({ ...e, bytes: e.bytes?.slice() } as TraceEvent) } } }
}

const summary = (events: TraceEvent[]): string[] => events.map(e => {
  if (e.layer !== 'multistream') return `${e.layer}:${e.kind}`
  if (e.kind === 'message') return `${e.dir} ${e.message}`
  return e.kind === 'ls' ? `${e.dir} ls [${e.protocols.join(',')}]` : `multistream:${e.kind}`
})

describe('multistream hooks', () => {
  it('dialer and listener report each message, with its wire bytes, in order', () => {
    const d = collector()
    const l = collector()
    const dialer = new Dialer(['/a', '/b'], { observer: d.observer })
    const listener = new Listener(['/b'], { observer: l.observer })
    const first = dialer.start()
    const answer1 = listener.receive(concat(first))
    const next = dialer.receive(concat(answer1.send))
    const answer2 = listener.receive(concat(next.send))
    expect(dialer.receive(concat(answer2.send)).protocol).toBe('/b')
    expect(summary(d.events)).toEqual([
      'out /multistream/1.0.0',
      'out /a',
      'in /multistream/1.0.0',
      'in na',
      'out /b',
      'in /b'
    ])
    expect(summary(l.events)).toEqual([
      'in /multistream/1.0.0',
      'out /multistream/1.0.0',
      'in /a',
      'out na',
      'in /b',
      'out /b'
    ])
    // the bytes of every event are the message as it sits on the wire
    expect(concat(d.events.filter(e => 'dir' in e && e.dir === 'out').map(e => e.bytes as Uint8Array))).toEqual(
      concat([...first, ...next.send])
    )
    expect(concat(l.events.filter(e => 'dir' in e && e.dir === 'out').map(e => e.bytes as Uint8Array))).toEqual(
      concat([...answer1.send, ...answer2.send])
    )
  })

  it('ls request and response are reported with the protocol list', () => {
    const r = collector()
    const l = collector()
    const request = new LsRequest({ observer: r.observer })
    const listener = new Listener(['/x', '/y'], { observer: l.observer })
    const out = listener.receive(concat(request.start()))
    expect(request.receive(concat(out.send))).toEqual(['/x', '/y'])
    expect(summary(r.events)).toEqual(['out /multistream/1.0.0', 'out ls', 'in /multistream/1.0.0', 'in ls [/x,/y]'])
    expect(summary(l.events)).toEqual(['in /multistream/1.0.0', 'out /multistream/1.0.0', 'in ls', 'out ls [/x,/y]'])
  })

  it('produces the same bytes with and without an observer', () => {
    const plain = new Dialer(['/p']).start()
    const traced = new Dialer(['/p'], { observer: collector().observer }).start()
    expect(concat(traced)).toEqual(concat(plain))
  })
})
