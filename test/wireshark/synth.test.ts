/**
 * The plugin on captures we shape ourselves (test/capture/synth.ts writes them): the committed
 * tutorial capture re-cut into tiny TCP segments (every layer must be reassembled across segments,
 * and still agree with switchyard decode), and a multistream violation (expert info).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readCapture } from '../../src/capture/pcap.js'
import { parseTcpSegment } from '../../src/capture/packet.js'
import { TcpReassembler } from '../../src/capture/reassembly.js'
import type { TcpConnectionCapture } from '../../src/capture/reassembly.js'
import { frameOf, TcpFlow, writePcapng } from '../capture/synth.js'
import type { SynthSegment } from '../capture/synth.js'
import { decode, FIXTURES, fromDecode, fromTshark, parsePdml, texts, tshark } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-wireshark-synth-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const ETHERNET = 1
const PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)

function connections (buf: Uint8Array): TcpConnectionCapture[] {
  const r = new TcpReassembler()
  for (const p of readCapture(buf)) {
    const s = parseTcpSegment(p)
    if (s !== undefined) r.push(s)
  }
  return r.finish()
}

const ip = (b: Uint8Array): string => Array.from(b).join('.')

/** The same TCP byte streams, in the same order, cut into segments of at most `mss` bytes. */
function recut (c: TcpConnectionCapture, mss: number): SynthSegment[] {
  const flow = new TcpFlow(
    { ip: ip(c.client.ip), port: c.client.port },
    { ip: ip(c.server.ip), port: c.server.port },
    1000,
    5000,
    mss
  )
  flow.handshake(c.openTime)
  const chunks = [
    ...c.toServer.data.chunks.map(ch => ({ fromClient: true, ...ch })),
    ...c.toClient.data.chunks.map(ch => ({ fromClient: false, ...ch }))
  ].sort((a, b) => a.time - b.time)
  for (const ch of chunks) flow.send(ch.fromClient, ch.time, ch.bytes)
  flow.fin(true, c.lastTime)
  flow.fin(false, c.lastTime)
  return flow.segments
}

function write (name: string, segments: SynthSegment[]): string {
  const file = join(dir, name)
  writeFileSync(
    file,
    writePcapng([{
      interfaces: [{ linkType: ETHERNET }],
      packets: segments.map(s => ({ iface: 0, frame: frameOf(ETHERNET, s) }))
    }])
  )
  return file
}

describe('wireshark plugin on shaped captures', () => {
  for (const mss of [1, 7, 100]) {
    it(
      `the tutorial capture cut into ${mss}-byte segments: reassembled at every layer, the same view as switchyard decode`,
      async () => {
        const [c] = connections(readFileSync(join(FIXTURES, 'tutorial-yamux.pcapng')))
        if (c === undefined) throw new Error('no connection in the fixture')
        const capture = write(`recut-${mss}.pcapng`, recut(c, mss))
        const keylog = join(dir, 'keys')
        copyFileSync(join(FIXTURES, 'tutorial-yamux.keys'), keylog)
        const protos = parsePdml(await tshark(capture, keylog, ['-T', 'pdml']))
        const ts = fromTshark(protos)
        expect(ts).toEqual(fromDecode(await decode(capture, keylog, join(dir, `recut-${mss}.jsonl`))))
        expect(ts.handshake.length).toBe(3)
        expect(texts(protos)).toEqual(['please send data', ...PARTS])
      },
      60_000
    )
  }

  it(
    'a listener answering a proposal with another protocol: multistream expert info, nothing read past it',
    async () => {
      const flow = new TcpFlow({ ip: '127.0.0.1', port: 40000 }, { ip: '127.0.0.1', port: 4001 })
      const lp = (s: string): Uint8Array => Uint8Array.from([s.length + 1, ...Buffer.from(s + '\n')])
      flow.handshake(1)
      flow.send(true, 2, Buffer.concat([lp('/multistream/1.0.0'), lp('/noise')]))
      flow.send(false, 3, Buffer.concat([lp('/multistream/1.0.0'), lp('/tls/1.0.0')]))
      flow.send(true, 4, Uint8Array.from([0, 32, ...new Uint8Array(32)]))
      flow.fin(true, 5)
      flow.fin(false, 5)
      const capture = write('bad-answer.pcapng', flow.segments)
      const protos = parsePdml(await tshark(capture, undefined, ['-T', 'pdml']))
      const expert = protos.flatMap(p => p.fields.filter(f => f.name === 'multistream.malformed').map(f => f.showname))
      expect(expert).toEqual([expect.stringContaining('answer to /noise expected the same id or na, got /tls/1.0.0')])
      expect(protos.some(p => p.name === 'noise')).toBe(false)
      const ts = fromTshark(protos)
      expect(ts.connectionMultistream).toEqual({
        out: ['/multistream/1.0.0', '/noise'],
        in: ['/multistream/1.0.0', '/tls/1.0.0']
      })
    },
    60_000
  )
})
