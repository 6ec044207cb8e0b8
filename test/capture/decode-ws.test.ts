/**
 * `switchyard decode` on a `/ws` connection: the tutorial exchange between two switches over
 * loopback WebSocket, through the recording proxy; the decoded capture shows the HTTP upgrade, the
 * WebSocket frames, and the same libp2p layers above them as the live trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { Tracer } from '../../src/trace/tracer.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import { decodeCapture } from '../../src/capture/decode-capture.js'
import { waitFor } from '../helpers/wait.js'
import { LoopbackRecorder } from './recorder.js'
import { frameOf, writePcap } from './synth.js'
import type { SynthSegment } from './synth.js'

const CODEC = '/test/stream-proto/1.0.0'

let live: TraceRecord[] = []
let keys: string[] = []
let segments: SynthSegment[] = []
let parts: string[] = []

beforeAll(async () => {
  const tracer = new Tracer({
    sinks: [{
      write: r => {
        live.push({ ...r, ...(r.bytes !== undefined ? { bytes: r.bytes.slice() } : {}) } as TraceRecord)
      }
    }]
  })
  const server: Switch = newStandardSwitch({ log: () => {}, listenAddrs: ['/ip4/127.0.0.1/tcp/0/ws'] })
  server.mount(streamProtoProtocol)
  await server.start()
  const addr = server.peerInfo.addrs[0]?.toNodeAddress()
  if (addr === undefined) throw new Error('server has no address')
  const recorder = await LoopbackRecorder.start({ host: addr.host, port: addr.port }, 300)
  const client: Switch = newStandardSwitch({
    log: () => {},
    observer: tracer.switchObserver,
    keyLog: line => {
      keys.push(line)
    }
  })
  await client.start()
  try {
    const stream = await client.dial(server.peerInfo.peerId, [`/ip4/127.0.0.1/tcp/${recorder.port}/ws`], CODEC)
    parts = await streamProtoClient(stream)
    await client.stop()
    await server.stop()
    await waitFor('the recorder to see both FINs', () => recorder.openFlows === 0)
    segments = recorder.segments.slice()
  } finally {
    await client.stop()
    await server.stop()
    await recorder.stop()
  }
}, 30_000)

afterAll(() => {
  live = []
  keys = []
})

const wsLines = (records: readonly TraceRecord[]): string[] =>
  records.flatMap(r => {
    if (r.layer !== 'ws') return []
    if (r.kind === 'upgrade') return [`${r.dir} ${r.startLine.split(' ')[0] ?? ''} ${r.headers.length}`]
    if (r.kind === 'frame') return [`${r.dir} ${r.opcode} ${r.length} ${r.fin} ${r.masked}`]
    return [`${r.kind}`]
  })
const byDir = (
  lines: string[]
): string[][] => [lines.filter(l => l.startsWith('out')), lines.filter(l => l.startsWith('in'))]

describe('decode a loopback capture of a /ws connection', () => {
  it('the decoded capture shows the upgrade, every frame, and the tutorial in clear', () => {
    expect(parts).toHaveLength(11)
    const result = decodeCapture(writePcap(segments.map(seg => frameOf(1, seg)), 1), {
      keyLog: parseKeyLog(keys.map(l => l + '\n').join(''))
    })
    expect(result.error).toBeUndefined()
    const decoded = result.connections[0]
    expect(decoded?.decrypted).toBe(true)
    const got = wsLines(decoded?.records ?? [])
    const want = wsLines(live.filter(r => r.conn === 1))
    expect(got[0]).toBe('out GET 5')
    expect(got).toContain('in HTTP/1.1 3')
    expect(byDir(got)).toEqual(byDir(want))
    const texts = (decoded?.records ?? []).filter(r => r.layer === 'stream' && r.kind === 'message' && r.dir === 'in')
      .map(r => new TextDecoder().decode(r.bytes))
    expect(texts.filter(t => t.startsWith('Part '))).toEqual(parts)
    expect((decoded?.records ?? []).filter(r => r.kind === 'error')).toEqual([])
  })
})
