/**
 * The trace of the tutorial's stream protocol (nim-libp2p tutorial 3), checked structurally: the
 * sequence of events per layer, from both ends of the connection.
 */
import { describe, expect, it } from 'vitest'
import type { TraceRecord } from '../../src/trace/observer.js'
import { TextFormatter } from '../../src/trace/format-text.js'
import { STREAM_PROTO, tracedTutorialExchange } from './helpers.js'

const CODEC = STREAM_PROTO

function layer (records: TraceRecord[], name: string): string[] {
  return records.filter(r => r.layer === name).map(r => {
    switch (r.layer) {
      case 'tcp':
        return r.kind === 'open'
          ? `open ${r.direction}`
          : r.kind === 'data'
            ? `data ${r.dir}`
            : r.kind === 'end'
              ? `end ${r.dir}`
              : r.kind
      case 'multistream':
        return r.kind === 'message' ? `${r.stream ?? 'conn'} ${r.dir} ${r.message}` : `${r.stream ?? 'conn'} ${r.kind}`
      case 'noise':
        return r.kind === 'handshake'
          ? `${r.dir} ${r.tokens.join(',')}${
            r.payload !== undefined ? ` ${r.payload.keyType} ${r.payload.signature}` : ''
          }`
          : r.kind === 'complete'
            ? `complete ${r.role} ${r.muxer ?? '-'}`
            : `${r.kind} ${'dir' in r ? r.dir : ''}`
      case 'stream':
        return r.kind === 'message'
          ? `${r.stream} ${r.dir} ${new TextDecoder().decode(r.bytes)}`
          : r.kind === 'protocol'
            ? `${r.stream} protocol ${r.protocol}`
            : `${r.stream} ${r.kind}`
      default:
        return r.kind
    }
  })
}

describe('trace of the tutorial exchange', () => {
  it('shows every layer, in order, on both ends', async () => {
    const { client, server } = await tracedTutorialExchange()
    const tutorialStream = (records: TraceRecord[]): number | undefined =>
      records.find(r => r.layer === 'stream' && r.kind === 'protocol' && r.protocol === CODEC)?.stream

    for (const [records, role] of [[client, 'initiator'], [server, 'responder']] as const) {
      const out = role === 'initiator' ? 'out' : 'in'
      const inn = role === 'initiator' ? 'in' : 'out'
      expect(records.every(r => r.conn === 1)).toBe(true)
      // tcp: opened first, closed last
      const tcp = layer(records, 'tcp')
      expect(tcp[0]).toBe(`open ${role === 'initiator' ? 'outbound' : 'inbound'}`)
      expect(tcp[tcp.length - 1]).toBe('close')
      expect(records[0]?.layer).toBe('tcp')
      // multistream on the connection: /noise, then nothing else (early muxer negotiation)
      const dialer = [`conn ${out} /multistream/1.0.0`, `conn ${out} /noise`]
      const listener = [`conn ${inn} /multistream/1.0.0`, `conn ${inn} /noise`]
      expect(layer(records, 'multistream').filter(l => l.startsWith('conn'))).toEqual(
        role === 'initiator'
          ? [...dialer, ...listener]
          : [...dialer.slice(0, 1), ...listener.slice(0, 1), ...dialer.slice(1), ...listener.slice(1)]
      )
      // noise: the three XX messages, the payloads of 2 and 3, then transport frames only
      const noise = layer(records, 'noise')
      expect(noise.slice(0, 4)).toEqual([
        `${out} e`,
        `${inn} e,ee,s,es Ed25519 ${role === 'initiator' ? 'verified' : 'sent'}`,
        `${out} s,se Ed25519 ${role === 'initiator' ? 'sent' : 'verified'}`,
        `complete ${role} /yamux/1.0.0`
      ])
      expect(noise.slice(4).every(l => l.startsWith('frame '))).toBe(true)
      // the tutorial's stream: negotiated, then the request and eleven parts, in order
      const id = tutorialStream(records)
      expect(id).toBeDefined()
      expect(id! % 2).toBe(1) // opened by the dialer
      const streamLines = [...layer(records, 'multistream'), ...layer(records, 'stream')].filter(l =>
        l.startsWith(`${id ?? ''} `)
      )
      const messages = layer(records, 'stream').filter(l =>
        l.startsWith(`${id ?? ''} ${inn} `) || l.startsWith(`${id ?? ''} ${out} `)
      )
      expect(messages).toEqual([
        `${id ?? ''} ${out} please send data`,
        ...Array.from({ length: 11 }, (_, i) => `${id ?? ''} ${inn} Part ${i}`)
      ])
      expect(streamLines).toContain(`${id ?? ''} ${out} ${CODEC}`)
      expect(streamLines).toContain(`${id ?? ''} ${inn} ${CODEC}`)
      expect(streamLines).toContain(`${id ?? ''} protocol ${CODEC}`)
      // yamux: the stream opened with SYN, acknowledged with ACK, both sides FIN
      const frames = records.flatMap(r =>
        r.layer === 'yamux' && r.kind === 'frame' && r.streamId === id ? [`${r.dir} ${r.frameType} ${r.flags}`] : []
      )
      expect(frames[0]).toBe(`${out} 1 1`) // WindowUpdate SYN
      expect(frames).toContain(`${inn} 1 2`) // WindowUpdate ACK
      expect(frames.filter(f => (Number(f.split(' ')[2]) & 4) !== 0).map(f => f.split(' ')[0]).sort()).toEqual([
        'in',
        'out'
      ])
      // the text view renders every record without throwing
      const f = new TextFormatter()
      expect(records.flatMap(r => f.format(r)).length).toBeGreaterThan(30)
    }
  })
})
