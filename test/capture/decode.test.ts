/**
 * End to end: the tutorial's stream protocol between two switches over loopback TCP, through a
 * recording proxy (recorder.ts). The dialer traces (--trace-file's records) and keeps a key log;
 * the capture is written as pcap/pcapng with several link types and decoded back. The decoded
 * connection must tell the same story, layer by layer, as the live trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers/wait.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { Tracer } from '../../src/trace/tracer.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import { decodeCapture } from '../../src/capture/decode-capture.js'
import { main } from '../../src/cli/main.js'
import type { CaptureDecodeResult } from '../../src/capture/decode-capture.js'
import { CaptureError } from '../../src/capture/errors.js'
import { LoopbackRecorder } from './recorder.js'
import { frameOf, writePcap, writePcapng } from './synth.js'
import type { SynthSegment } from './synth.js'
import { recordingIo } from '../helpers/cli-io.js'
import { keep } from '../trace/helpers.js'

const CODEC = '/test/stream-proto/1.0.0'
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b)

interface Session {
  live: TraceRecord[]
  keys: string[]
  segments: SynthSegment[]
  parts: string[]
}

/** One tutorial exchange through the recorder; `muxers` picks yamux or mplex. */
async function exchange (muxers: Array<'yamux' | 'mplex'>, mss: number): Promise<Session> {
  const live: TraceRecord[] = []
  const keys: string[] = []
  const tracer = new Tracer({ sinks: [keep(live)] })
  const server: Switch = newStandardSwitch({ log: () => {}, muxers })
  server.mount(streamProtoProtocol)
  await server.start()
  const addr = server.peerInfo.addrs[0]?.toNodeAddress()
  if (addr === undefined) throw new Error('server has no address')
  const recorder = await LoopbackRecorder.start({ host: addr.host, port: addr.port }, mss)
  const client: Switch = newStandardSwitch({
    log: () => {},
    muxers,
    observer: tracer.switchObserver,
    keyLog: line => {
      keys.push(line)
    }
  })
  await client.start()
  try {
    const stream = await client.dial(server.peerInfo.peerId, [`/ip4/127.0.0.1/tcp/${recorder.port}`], CODEC)
    const parts = await streamProtoClient(stream)
    await client.stop()
    await server.stop()
    await waitFor('the recorder to see both FINs', () => recorder.openFlows === 0)
    return { live, keys, segments: recorder.segments.slice(), parts }
  } finally {
    await client.stop()
    await server.stop()
    await recorder.stop()
  }
}

/** The story of one connection, per layer, in a form both views share. */
function story (records: readonly TraceRecord[]): Record<string, string[]> {
  const s: Record<string, string[]> = {
    multistream: [],
    handshake: [],
    noise: [],
    muxer: [],
    protocols: [],
    messages: []
  }
  for (const r of records) {
    switch (r.layer) {
      case 'multistream':
        if (r.kind === 'message') s.multistream?.push(`${r.stream ?? '-'} ${r.dir} ${r.message}`)
        break
      case 'noise':
        if (r.kind === 'handshake') {
          s.handshake?.push(
            `${r.dir} ${r.message} [${r.tokens.join(' ')}] ${r.length} ${r.payloadLength} ${r.payload?.peerId ?? ''} ${
              r.payload?.keyType ?? ''
            } ${r.payload?.streamMuxers?.join(',') ?? ''}`
          )
        }
        if (r.kind === 'frame') s.noise?.push(`${r.dir} ${r.length}`)
        if (r.kind === 'complete') s.handshake?.push(`complete ${r.remotePeer} ${r.muxer ?? ''}`)
        break
      case 'yamux':
        if (r.kind === 'frame') s.muxer?.push(`${r.dir} ${r.frameType} ${r.flags} ${r.streamId} ${r.length}`)
        break
      case 'mplex':
        if (r.kind === 'frame') s.muxer?.push(`${r.dir} ${r.flag} ${r.streamId} ${r.length}`)
        break
      case 'stream':
        if (r.kind === 'protocol') s.protocols?.push(`${r.opener}:${r.stream} ${r.protocol}`)
        if (r.kind === 'message') {
          s.messages?.push(
            `${r.opener}:${r.stream} ${r.dir} ${Buffer.from(r.bytes ?? new Uint8Array(0)).toString('hex')}`
          )
        }
        break
      default:
        break
    }
  }
  // Each direction keeps its order; the two directions interleave differently in the two views.
  for (const k of Object.keys(s)) {
    s[k] = [
      ...(s[k] as string[]).filter(l => l.includes(' out ') || l.startsWith('out')),
      '|',
      ...(s[k] as string[]).filter(l => !(l.includes(' out ') || l.startsWith('out')))
    ]
  }
  return s
}

function liveConnection (live: TraceRecord[]): TraceRecord[] {
  return live.filter(r => r.conn === 1)
}

let yamux: Session
let mplex: Session

beforeAll(async () => {
  yamux = await exchange(['yamux'], 1460)
  mplex = await exchange(['mplex'], 200) // small segments: many per message
}, 30_000)

describe('decode a loopback capture of the tutorial exchange', () => {
  it('the exchange itself worked and logged one connection\'s keys', () => {
    expect(yamux.parts).toEqual(Array.from({ length: 11 }, (_, i) => `Part ${i}`))
    // One connection: its transport line and its handshake line, each handed over on its own.
    expect(yamux.keys).toHaveLength(2)
    const log = parseKeyLog(yamux.keys.map(line => line + '\n').join(''))
    expect(log.size).toBe(1)
    expect(log.entries[0]?.role).toBe('initiator')
    expect(log.entries[0]?.handshakeKeys).toBeDefined()
  })

  for (const muxer of ['yamux', 'mplex'] as const) {
    it(`${muxer}: the decoded capture tells the live trace's story, layer by layer`, () => {
      const s = muxer === 'yamux' ? yamux : mplex
      const keyLog = parseKeyLog(s.keys.map(line => line + '\n').join(''))
      const pcap = writePcap(s.segments.map(seg => frameOf(1, seg)), 1)
      const result = decodeCapture(pcap, { keyLog })
      expect(result.error).toBeUndefined()
      expect(result.connections).toHaveLength(1)
      const decoded = result.connections[0]
      expect(decoded?.decrypted).toBe(true)
      const want = story(liveConnection(s.live))
      const got = story(decoded?.records ?? [])
      expect(got.multistream).toEqual(want.multistream)
      expect(got.noise).toEqual(want.noise)
      expect(got.muxer).toEqual(want.muxer)
      expect(got.protocols).toEqual(want.protocols)
      expect(got.messages).toEqual(want.messages)
      // the handshake: same tokens, sizes, peer ids, key types and muxer lists
      expect(got.handshake).toEqual(want.handshake)
      // and the tutorial's messages are there in clear
      const texts = (decoded?.records ?? []).filter(r => r.layer === 'stream' && r.kind === 'message' && r.dir === 'in')
        .map(r => text(r.bytes))
      expect(texts.filter(t => t.startsWith('Part '))).toEqual(s.parts)
      // signatures are checked against the decrypted static keys
      const sigs = (decoded?.records ?? []).flatMap(r =>
        r.layer === 'noise' && r.kind === 'handshake' && r.payload !== undefined ? [r.payload.signature] : []
      )
      expect(sigs).toEqual(['verified', 'verified'])
    })
  }

  it('the same capture as pcapng over Linux SLL2, raw IP and NULL loopback, with IPv6 addresses, reordered and retransmitted', () => {
    const keyLog = parseKeyLog(mplex.keys.map(line => line + '\n').join(''))
    const v6 = mplex.segments.map(seg => ({ ...seg, src: { ...seg.src, ip: '::1' }, dst: { ...seg.dst, ip: '::1' } }))
    // swap neighbours and duplicate some segments, past the handshake
    const shuffled = v6.slice()
    for (let i = 5; i + 1 < shuffled.length; i += 7) {
      const t = shuffled[i] as SynthSegment
      shuffled[i] = shuffled[i + 1] as SynthSegment
      shuffled[i + 1] = t
    }
    for (let i = 4; i < v6.length; i += 11) shuffled.push(v6[i] as SynthSegment)
    const reference = story(
      decodeCapture(writePcap(mplex.segments.map(seg => frameOf(1, seg)), 1), { keyLog }).connections[0]?.records ?? []
    )
    for (const linkType of [276, 101, 0]) {
      const file = writePcapng([{
        interfaces: [{ linkType, tsresol: 9 }],
        packets: shuffled.map(seg => ({ iface: 0, frame: frameOf(linkType, seg) }))
      }])
      const result = decodeCapture(file, { keyLog })
      expect(result.error).toBeUndefined()
      expect(result.connections).toHaveLength(1)
      expect(result.connections[0]?.client).toMatch(/^\/ip6\/::1\/tcp\/\d+$/)
      expect(story(result.connections[0]?.records ?? [])).toEqual(reference)
    }
  })

  it('without the connection\'s keys: the handshake only, then a note', () => {
    const pcap = writePcap(yamux.segments.map(seg => frameOf(113, seg)), 113)
    const [c] = decodeCapture(pcap).connections
    expect(c?.decrypted).toBe(false)
    const kinds = (c?.records ?? []).map(r => `${r.layer}:${r.kind}`)
    expect(kinds.filter(k => k === 'noise:handshake')).toHaveLength(3)
    expect(kinds).not.toContain('yamux:frame')
    expect((c?.records ?? []).some(r => r.kind === 'note' && r.message.includes('no keys for this connection'))).toBe(
      true
    )
    const hs = (c?.records ?? []).filter(r => r.layer === 'noise' && r.kind === 'handshake')
    expect(hs.map(r => r.layer === 'noise' && r.kind === 'handshake' ? `${r.dir} [${r.tokens.join(', ')}]` : ''))
      .toEqual(['out [e]', 'in [e, ee, s, es]', 'out [s, se]'])
  })

  it('a capture cut short: a clear error, and the connection decoded up to the cut', async () => {
    const keyLog = parseKeyLog(yamux.keys.map(line => line + '\n').join(''))
    const pcap = writePcap(yamux.segments.map(seg => frameOf(1, seg)), 1)
    const whole = decodeCapture(pcap, { keyLog })
    const cut = pcap.subarray(0, Math.floor(pcap.length * 0.6))
    let result: CaptureDecodeResult | undefined
    expect(() => { result = decodeCapture(cut, { keyLog }) }).not.toThrow()
    expect(result?.error).toBeInstanceOf(CaptureError)
    expect(result?.error?.message).toMatch(/pcap: record \d+ at offset \d+ is truncated/)
    expect(result?.connections).toHaveLength(1)
    const n = result?.connections[0]?.records.length ?? 0
    expect(n).toBeGreaterThan(5)
    expect(n).toBeLessThan(whole.connections[0]?.records.length ?? 0)

    const out: string[] = []
    const err: string[] = []
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-decode-'))
    try {
      writeFileSync(join(dir, 'cut.pcap'), cut)
      writeFileSync(join(dir, 'keys.log'), yamux.keys.map(line => line + '\n').join(''))
      const code = await main(['decode', join(dir, 'cut.pcap'), '--keylog', join(dir, 'keys.log')], {
        out: s => out.push(s),
        err: s => err.push(s),
        signal: new Promise(() => {})
      })
      expect(code).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    expect(out.join('\n')).toContain('noise handshake complete: initiator')
    expect(err[err.length - 1]).toMatch(
      /^error: \S+cut\.pcap: pcap: record \d+ at offset \d+ is truncated.*\(the connections up to there are printed above\)$/
    )
  })

  it('switchyard decode prints the layered view with the tutorial messages; usage errors exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-decode-'))
    const at = (f: string): string => join(dir, f)
    writeFileSync(
      at('c.pcapng'),
      writePcapng([{
        interfaces: [{ linkType: 1 }],
        packets: yamux.segments.map(seg => ({ iface: 0, frame: frameOf(1, seg) }))
      }])
    )
    writeFileSync(at('k.log'), yamux.keys.map(line => line + '\n').join(''))
    const io = recordingIo()
    const { stdout: out, stderr: err } = io
    try {
      expect(await main(['decode', at('c.pcapng'), '--keylog', at('k.log'), '--utc'], io)).toBe(0)
      expect(await main(['decode', at('missing.pcap')], io)).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    expect(err[err.length - 1]).toMatch(/^error: \S+missing\.pcap: ENOENT/)
    err.pop()
    expect(out.every(l => !l.includes('\n'))).toBe(true)
    expect(err).toEqual([
      expect.stringMatching(/^\[decode\] \d+ packets, \d+ TCP segments, 1 connections, 1 decrypted with \S+k\.log$/)
    ])
    const view = out.join('\n')
    expect(view).toMatch(/#1 tcp open \/ip4\/127\.0\.0\.1\/tcp\/\d+ -> \/ip4\/127\.0\.0\.1\/tcp\/\d+ \(outbound\)/)
    expect(view).toContain('  multistream -> /multistream/1.0.0')
    expect(view).toContain('    noise -> e (32 B)')
    expect(view).toMatch(/noise <- e, ee, s, es \(\d+ B, payload \d+ B\) Ed25519 12D3KooW\w+, signature verified/)
    // identify has a stream of its own; find the tutorial's
    const id = /\[(\d+)\] multistream -> \/test\/stream-proto\/1\.0\.0/.exec(view)?.[1]
    expect(id).toMatch(/^[13579]\d*$/) // odd: opened by the dialer (yamux spec §Stream ID)
    expect(view).toContain(`[${id ?? ''}] protocol ${CODEC}`)
    expect(view).toContain(`[${id ?? ''}] -> "please send data" (16 B)`)
    expect(view).toContain(`[${id ?? ''}] <- "Part 10" (7 B)`)
    expect(await main(['decode'], io)).toBe(2)
    expect(await main(['decode', 'a', 'b'], io)).toBe(2)
  })

  it('keys appear only where asked: nothing of them in the trace records', () => {
    const keyHex = parseKeyLog(yamux.keys.map(line => line + '\n').join('')).entries.flatMap(
      k => [
        k.initiatorToResponder,
        k.responderToInitiator,
        k.handshakeKeys?.ee,
        k.handshakeKeys?.es,
        k.handshakeKeys?.se
      ]
    )
      .filter((k): k is Uint8Array => k !== undefined).map(k => Buffer.from(k).toString('hex'))
    const dump = JSON.stringify(
      yamux.live,
      (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v
    )
    for (const k of keyHex) expect(dump).not.toContain(k)
  })
})

describe('decoding damaged captures', () => {
  it('a capture cut after any packet decodes without throwing, the handshake messages in order', () => {
    const keyLog = parseKeyLog(yamux.keys.map(line => line + '\n').join(''))
    for (let n = 0; n <= yamux.segments.length; n++) {
      const result = decodeCapture(writePcap(yamux.segments.slice(0, n).map(seg => frameOf(1, seg)), 1), { keyLog })
      expect(result.error).toBeUndefined()
      for (const c of result.connections) {
        const numbers = c.records.flatMap(r => r.layer === 'noise' && r.kind === 'handshake' ? [r.message] : [])
        expect(numbers).toEqual([1, 2, 3].slice(0, numbers.length))
      }
    }
  })

  it('corrupted payload bytes become error events, never exceptions', () => {
    const keyLog = parseKeyLog(yamux.keys.map(line => line + '\n').join(''))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (flips) => {
          const segs = yamux.segments.map(seg => ({ ...seg, payload: seg.payload.slice() }))
          const withData = segs.filter(seg => seg.payload.length > 0)
          for (const [i, j, x] of flips) {
            const seg = withData[i % withData.length] as SynthSegment
            const k = j % seg.payload.length
            seg.payload[k] = (seg.payload[k] as number) ^ x
          }
          const result = decodeCapture(writePcap(segs.map(seg => frameOf(1, seg)), 1), { keyLog })
          expect(result.connections).toHaveLength(1)
          const records = result.connections[0]?.records ?? []
          // a flipped bit is caught somewhere: by a parser, or by the AEAD tag, or the keys no longer match h
          const caught = records.some(r => r.kind === 'error' || (r.kind === 'note' && r.message.includes('no keys')))
          expect(caught).toBe(true)
        }
      ),
      { numRuns: 40 }
    )
  })
})

afterAll(() => {})
