import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { encodeLp } from '../../src/codec/length-prefixed.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { Tracer } from '../../src/trace/tracer.js'
import type { TraceSink } from '../../src/trace/tracer.js'
import { formatPayload, formatTime, formatYamuxFrame, hexDump, TextFormatter } from '../../src/trace/format-text.js'
import { formatJsonl, JsonlTraceSink, parseJsonl, recordToJson } from '../../src/trace/format-jsonl.js'
import type { TraceRecord } from '../../src/trace/observer.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const dir = mkdtempSync(join(tmpdir(), 'switchyard-trace-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function collect (): { sink: TraceSink, records: TraceRecord[] } {
  const records: TraceRecord[] = []
  return { records, sink: { write: r => { records.push({ ...r }) } } }
}

describe('Tracer', () => {
  it('stamps connection and time, reports the open itself when the transport did not, and reads stream data', () => {
    const { sink, records } = collect()
    let clock = 1000
    const tracer = new Tracer({ sinks: [sink], now: () => clock++ })
    const a = tracer.connection({
      direction: 'outbound',
      localAddr: '/ip4/127.0.0.1/tcp/5',
      remoteAddr: '/ip4/127.0.0.1/tcp/6'
    })
    const b = tracer.connection({
      direction: 'inbound',
      localAddr: '/ip4/127.0.0.1/tcp/6',
      remoteAddr: '/ip4/127.0.0.1/tcp/5'
    })
    a.event({ layer: 'yamux', kind: 'frame', dir: 'out', frameType: 1, flags: 1, streamId: 1, length: 0 })
    b.event({
      layer: 'tcp',
      kind: 'open',
      localAddr: '/ip4/127.0.0.1/tcp/6',
      remoteAddr: '/ip4/127.0.0.1/tcp/5',
      direction: 'inbound'
    })
    // stream 1 on the dialer's side is ours (odd id, outbound connection): we are the multistream dialer
    const out = Uint8Array.from([
      ...encodeMessage('/multistream/1.0.0'),
      ...encodeMessage('/p'),
      ...encodeLp(utf8('hi'))
    ])
    a.event({ layer: 'stream', kind: 'data', dir: 'out', stream: 1, length: out.length, bytes: out })
    const back = Uint8Array.from([
      ...encodeMessage('/multistream/1.0.0'),
      ...encodeMessage('/p'),
      ...encodeLp(utf8('yo'))
    ])
    a.event({ layer: 'stream', kind: 'data', dir: 'in', stream: 1, length: back.length, bytes: back })
    a.event({ layer: 'tcp', kind: 'close' })

    const summary = records.map(r =>
      `${r.conn} ${r.layer}:${r.kind}${r.kind === 'message' && r.layer === 'multistream' ? ' ' + r.message : ''}`
    )
    // Inside the stream everything is read from the wire data, in wire order.
    expect(summary).toEqual([
      '1 tcp:open',
      '1 yamux:frame',
      '2 tcp:open',
      '1 stream:data',
      '1 multistream:message /multistream/1.0.0',
      '1 multistream:message /p',
      '1 stream:data',
      '1 multistream:message /multistream/1.0.0',
      '1 multistream:message /p',
      '1 stream:protocol',
      '1 stream:message',
      '1 stream:message',
      '1 tcp:close'
    ])
    expect(records.filter(r => r.layer === 'tcp' && r.kind === 'open')).toHaveLength(2) // b's own open is not doubled
    expect(records[0]?.time).toBe(1000)
    const derived = records.filter(r => r.layer === 'multistream' || (r.layer === 'stream' && r.kind !== 'data'))
    expect(
      derived.filter(r => r.layer === 'stream').map(r =>
        r.kind === 'message' ? new TextDecoder().decode(r.bytes) : r.kind
      )
    ).toEqual(['protocol', 'hi', 'yo'])
    for (const r of derived) {
      expect(r.stream).toBe(1)
      expect(r.opener).toBe('local')
    }
    expect(tracer.find('/ip4/127.0.0.1/tcp/5', '/ip4/127.0.0.1/tcp/6')).toBeUndefined() // forgotten at close
    expect(tracer.find('/ip4/127.0.0.1/tcp/6', '/ip4/127.0.0.1/tcp/5')).toBe(b)
  })
})

describe('text view', () => {
  const rec = (r: Record<string, unknown>): TraceRecord =>
    ({ conn: 1, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6) + 0.789, ...r }) as TraceRecord

  it('formats time, yamux frames and payloads', () => {
    expect(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6) + 0.789, true)).toBe('03:04:05.006789')
    expect(formatYamuxFrame(0, 1, 3, 5)).toBe('Data [SYN] stream 3 length 5')
    expect(formatYamuxFrame(1, 6, 3, 262144)).toBe('WindowUpdate [ACK|FIN] stream 3 delta 262144')
    expect(formatYamuxFrame(2, 2, 0, 7)).toBe('Ping [ACK] opaque 7 (0x00000007)')
    expect(formatYamuxFrame(3, 0, 0, 1)).toBe('GoAway code 1 (protocol error)')
    expect(formatPayload(utf8('Part 1'))).toBe('"Part 1" (6 B)')
    expect(formatPayload(Uint8Array.of(0, 1, 255))).toBe('0001ff (3 B, binary)')
    expect(formatPayload(new Uint8Array(300).fill(0x61))).toMatch(/^"a{200}"… \(300 B\)$/)
    expect(hexDump(utf8('/multistream/1.0.0\n'), '')).toEqual([
      '0000  2f 6d 75 6c 74 69 73 74  72 65 61 6d 2f 31 2e 30  |/multistream/1.0|',
      '0010  2e 30 0a                                          |.0.|'
    ])
  })

  it('indents by layer, moves connection-level multistream deeper once Noise is done, hides message streams\' data unless hex', () => {
    const f = new TextFormatter({ utc: true })
    const lines = [
      rec({ layer: 'tcp', kind: 'open', localAddr: '/a', remoteAddr: '/b', direction: 'outbound' }),
      rec({ layer: 'multistream', kind: 'message', dir: 'out', message: '/noise' }),
      rec({
        layer: 'noise',
        kind: 'handshake',
        dir: 'in',
        message: 2,
        tokens: ['e', 'ee', 's', 'es'],
        length: 200,
        payloadLength: 120,
        payload: { keyType: 'Ed25519', peerId: '12D3', signature: 'verified', streamMuxers: ['/yamux/1.0.0'] }
      }),
      rec({ layer: 'noise', kind: 'complete', role: 'initiator', remotePeer: '12D3' }),
      rec({ layer: 'multistream', kind: 'message', dir: 'out', message: '/yamux/1.0.0' }),
      rec({ layer: 'yamux', kind: 'frame', dir: 'out', frameType: 0, flags: 0, streamId: 1, length: 3 }),
      rec({ layer: 'stream', kind: 'data', dir: 'out', stream: 1, length: 3, bytes: utf8('abc') }),
      rec({ layer: 'stream', kind: 'protocol', stream: 1, opener: 'local', protocol: '/test/stream-proto/1.0.0' }),
      rec({
        layer: 'stream',
        kind: 'message',
        dir: 'in',
        stream: 1,
        opener: 'local',
        length: 6,
        bytes: utf8('Part 0')
      }),
      rec({ layer: 'stream', kind: 'protocol', stream: 3, opener: 'local', protocol: '/ipfs/ping/1.0.0' }),
      rec({ layer: 'stream', kind: 'data', dir: 'out', stream: 3, length: 32, bytes: new Uint8Array(32) })
    ].flatMap(r => f.format(r))
    expect(lines.map(l => l.replace(/^\S+ /, ''))).toEqual([
      '#1 tcp open /a -> /b (outbound)',
      '#1   multistream -> /noise',
      '#1     noise <- e, ee, s, es (200 B, payload 120 B) Ed25519 12D3, signature verified, stream_muxers [/yamux/1.0.0]',
      '#1     noise handshake complete: initiator, remote 12D3',
      '#1       multistream -> /yamux/1.0.0',
      '#1       yamux -> Data stream 1 length 3',
      '#1         [1] protocol /test/stream-proto/1.0.0',
      '#1         [1] <- "Part 0" (6 B)',
      '#1         [3] protocol /ipfs/ping/1.0.0',
      '#1         [3] -> data 32 B'
    ])
    const hex = new TextFormatter({ hex: true, utc: true }).format(
      rec({ layer: 'multistream', kind: 'message', dir: 'in', message: 'na', bytes: encodeMessage('na') })
    )
    expect(hex).toHaveLength(2)
    expect(hex[1]).toMatch(/0000 {2}03 6e 61 0a +\|\.na\.\|$/)
  })
})

describe('JSON Lines', () => {
  it('writes one object per record with base64 bytes, readable back', () => {
    const r = {
      conn: 2,
      time: 12.5,
      layer: 'yamux',
      kind: 'frame',
      dir: 'in',
      frameType: 2,
      flags: 1,
      streamId: 0,
      length: 7,
      bytes: Uint8Array.of(0, 2, 0, 1)
    } as TraceRecord
    const line = formatJsonl(r)
    expect(line.endsWith('\n')).toBe(true)
    expect(JSON.parse(line)).toEqual({
      time: 12.5,
      conn: 2,
      layer: 'yamux',
      kind: 'frame',
      dir: 'in',
      frameType: 2,
      flags: 1,
      streamId: 0,
      length: 7,
      bytes: 'AAIAAQ=='
    })
    expect(Object.keys(recordToJson(r)).slice(0, 4)).toEqual(['time', 'conn', 'layer', 'kind'])
  })

  it('the file sink flushes on close', async () => {
    const path = join(dir, 'trace.jsonl')
    const sink = new JsonlTraceSink(path)
    const tracer = new Tracer({ sinks: [sink] })
    const c = tracer.connection({ direction: 'outbound', localAddr: '/l', remoteAddr: '/r' })
    c.event({ layer: 'multistream', kind: 'message', dir: 'out', message: '/noise', bytes: encodeMessage('/noise') })
    await tracer.close()
    const objs = parseJsonl(readFileSync(path, 'utf8'))
    expect(objs.map(o => `${o.layer as string}:${o.kind as string}`)).toEqual(['tcp:open', 'multistream:message'])
    expect(Buffer.from(objs[1]?.bytes as string, 'base64')).toEqual(Buffer.from(encodeMessage('/noise')))
  })
})
