/**
 * Version Negotiation (RFC 9000 §6, §17.2.1): the server endpoint answers an unknown version —
 * only datagrams of at least 1200 bytes, never a VN packet, at a bounded rate; the client gives up
 * with ERR_QUIC_VERSION naming what the server offers, and ignores a VN that lists v1, that does
 * not echo its connection ids, or that comes after the server answered.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { QUIC_V1 } from '../../../src/transport/quic/constants.js'
import type { QuicTraceEvent } from '../../../src/transport/quic/connection.js'
import { encodeVersionNegotiation, parseHeader } from '../../../src/transport/quic/header.js'
import { GREASE_VERSION, StatelessServer } from '../../../src/transport/quic/stateless.js'
import { Harness } from './harness.js'
import { foreignLongHeader } from './packets.js'

const peer = { address: '203.0.113.5', port: 443 }

describe('server: Version Negotiation (RFC 9000 §6.1, §17.2.1)', () => {
  const dcid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)
  const scid = Uint8Array.of(9, 8, 7)

  it('answers an unknown version in a 1200-byte datagram: ids swapped, v1 listed (plus a grease version)', () => {
    const gate = new StatelessServer({ cidLength: 8 }, 0)
    const d = gate.onDatagram(foreignLongHeader(0x00000002, dcid, scid, 1200), peer, 0, 0)
    expect(d).toMatchObject({ kind: 'send', reason: 'version-negotiation' })
    if (d.kind !== 'send') return
    const vn = parseHeader(d.datagram, 0, 8)
    expect(vn).toMatchObject({
      form: 'version-negotiation',
      dcid: scid,
      scid: dcid,
      versions: [QUIC_V1, GREASE_VERSION]
    })
    expect((d.datagram[0] as number) & 0x80).toBe(0x80)
    // RFC 9000 §15: the grease version has the reserved 0x?a?a?a?a pattern
    expect(GREASE_VERSION & 0x0f0f0f0f).toBe(0x0a0a0a0a)
  })

  it('echoes connection ids of any length an unknown version may use (RFC 8999 §5.1: up to 255)', () => {
    const gate = new StatelessServer({ cidLength: 8 }, 0)
    const long = new Uint8Array(255).fill(0xab)
    const d = gate.onDatagram(foreignLongHeader(0xff00001d, long, new Uint8Array(0), 1300), peer, 0, 0)
    if (d.kind !== 'send') throw new Error('expected a VN')
    expect(parseHeader(d.datagram, 0, 8)).toMatchObject({ dcid: new Uint8Array(0), scid: long })
  })

  it('never answers a datagram under 1200 bytes, nor a Version Negotiation packet', () => {
    const gate = new StatelessServer({ cidLength: 8 }, 0)
    expect(gate.onDatagram(foreignLongHeader(2, dcid, scid, 1199), peer, 0, 0)).toMatchObject({
      kind: 'drop',
      reason: expect.stringContaining('< 1200')
    })
    const vn = encodeVersionNegotiation(scid, dcid, [2, 3], 0)
    const padded = new Uint8Array(1200); padded.set(vn)
    expect(gate.onDatagram(vn, peer, 0, 0).kind).toBe('drop')
    // a VN packet's version list runs to the end, so a padded one is a VN listing version 0s: still a VN
    expect(gate.onDatagram(padded, peer, 0, 0).kind).toBe('drop')
    expect(gate.stats.versionNegotiation).toBe(0)
  })

  it('rate-limited: a flood gets the configured number of answers per second, then they resume', () => {
    const gate = new StatelessServer({ cidLength: 8, versionNegotiationPerSecond: 5 }, 0)
    const probe = foreignLongHeader(2, dcid, scid, 1200)
    const answered = (now: number, n: number): number =>
      Array.from({ length: n }, () => gate.onDatagram(probe, peer, 0, now)).filter(d => d.kind === 'send').length
    expect(answered(0, 50)).toBe(5)
    expect(gate.stats.versionNegotiationLimited).toBe(45)
    expect(answered(100, 10)).toBe(0)
    expect(answered(1000, 10)).toBe(5)
  })

  it('property: garbage never throws, and nothing under 1200 bytes is ever answered', () => {
    const gate = new StatelessServer({ cidLength: 8, retry: 'always' }, 0)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1199 }), (d) => {
      expect(gate.onDatagram(d, peer, 0, 0).kind).toBe('drop')
    }))
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1200, maxLength: 1400 }), (d) => {
        expect(['drop', 'send', 'accept']).toContain(gate.onDatagram(d, peer, 0, 0).kind)
      }),
      { numRuns: 200 }
    )
  })
})

describe('client: Version Negotiation (RFC 9000 §6.2)', () => {
  function started (): { h: Harness, trace: QuicTraceEvent[], ids: { local: Uint8Array, odcid: Uint8Array } } {
    const trace: QuicTraceEvent[] = []
    const h = new Harness({}, { client: { onTrace: e => trace.push(e) } })
    h.client.pollDatagrams(h.now)
    const c = h.client as unknown as { localCid: Uint8Array, originalDcid: Uint8Array }
    return { h, trace, ids: { local: c.localCid, odcid: c.originalDcid } }
  }

  it('gives up with ERR_QUIC_VERSION naming the versions the server offers', () => {
    const { h, ids, trace } = started()
    h.client.receiveDatagram(encodeVersionNegotiation(ids.local, ids.odcid, [0x00000002, 0xff00001d], 0x2a), h.now)
    expect(h.client.isClosed).toBe(true)
    const closed = h.client.pollEvents().find(e => e.type === 'closed')
    expect(closed).toMatchObject({
      error: { code: 'ERR_QUIC_VERSION', message: expect.stringMatching(/0x00000002, 0xff00001d.*0x00000001/) }
    })
    expect(trace).toContainEqual({ type: 'version-negotiation', versions: [2, 0xff00001d] })
  })

  it('ignores a VN that lists v1, one that does not echo its ids, and one after the server answered', () => {
    const a = started()
    a.h.client.receiveDatagram(encodeVersionNegotiation(a.ids.local, a.ids.odcid, [2, QUIC_V1], 0), a.h.now)
    a.h.client.receiveDatagram(encodeVersionNegotiation(a.ids.local, Uint8Array.of(1), [2], 0), a.h.now)
    a.h.client.receiveDatagram(encodeVersionNegotiation(Uint8Array.of(1), a.ids.odcid, [2], 0), a.h.now)
    expect(a.h.client.isClosed).toBe(false)
    expect(a.trace.filter(e => e.type === 'dropped').map(e => e.type === 'dropped' ? e.reason : '')).toEqual([
      'Version Negotiation listing our version',
      'Version Negotiation for other connection ids',
      'Version Negotiation for other connection ids'
    ])
    // the handshake goes on undisturbed
    a.h.runUntil(() => a.h.client.state === 'established')
    const b = new Harness()
    b.runUntil(() => b.client.state === 'established')
    const c = b.client as unknown as { localCid: Uint8Array, originalDcid: Uint8Array }
    b.client.receiveDatagram(encodeVersionNegotiation(c.localCid, c.originalDcid, [2], 0), b.now)
    expect(b.client.state).toBe('established')
  })
})
