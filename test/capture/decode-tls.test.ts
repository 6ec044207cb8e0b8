/**
 * End to end over TLS: the tutorial's stream protocol between two switches speaking `/tls/1.0.0`,
 * through the recording proxy; the dialer keeps an NSS key log. The decoded capture must show the
 * TLS handshake (with the libp2p extension checked), the early muxer from ALPN, and the tutorial's
 * messages in clear — the same multistream, muxer and stream story as the live trace.
 */
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { Tracer } from '../../src/trace/tracer.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { parseKeyLog } from '../../src/trace/keylog.js'
import { decodeCapture } from '../../src/capture/decode-capture.js'
import { LoopbackRecorder } from './recorder.js'
import { frameOf, writePcap } from './synth.js'
import { keep } from '../trace/helpers.js'

const CODEC = '/test/stream-proto/1.0.0'
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b)

function story (records: readonly TraceRecord[]): string[] {
  const out: string[] = []
  for (const r of records) {
    if (r.layer === 'tls' && r.kind === 'handshake') {
      out.push(`tls ${r.dir} ${r.message} ${r.info.libp2p?.peerId ?? ''}`)
    }
    if (r.layer === 'stream' && r.kind === 'message') out.push(`msg ${r.dir} ${text(r.bytes)}`)
    if (r.layer === 'stream' && r.kind === 'protocol') out.push(`protocol ${r.protocol}`)
  }
  // each direction keeps its order; the two interleave differently in the two views
  return [...out.filter(l => l.includes(' out ')), '|', ...out.filter(l => !l.includes(' out '))]
}

describe('decode a loopback capture of the tutorial exchange over TLS', () => {
  it('decrypts it with the NSS key log and tells the live trace\'s story', async () => {
    const live: TraceRecord[] = []
    const keys: string[] = []
    const tracer = new Tracer({ sinks: [keep(live)] })
    const server: Switch = newStandardSwitch({ log: () => {}, security: ['tls'] })
    server.mount(streamProtoProtocol)
    await server.start()
    const addr = server.peerInfo.addrs[0]?.toNodeAddress()
    if (addr === undefined) throw new Error('server has no address')
    const recorder = await LoopbackRecorder.start({ host: addr.host, port: addr.port })
    const client: Switch = newStandardSwitch({
      log: () => {},
      security: ['tls'],
      observer: tracer.switchObserver,
      keyLog: line => {
        keys.push(line)
      }
    })
    await client.start()
    let parts: string[]
    try {
      const stream = await client.dial(server.peerInfo.peerId, [`/ip4/127.0.0.1/tcp/${recorder.port}`], CODEC)
      parts = await streamProtoClient(stream)
      await client.stop()
      await server.stop()
      await waitFor('the recorder to see both FINs', () => recorder.openFlows === 0)
    } finally {
      await client.stop()
      await server.stop()
      await recorder.stop()
    }
    expect(parts).toHaveLength(11)
    expect(keys.map(k => k.split(' ')[0])).toEqual([
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'SERVER_TRAFFIC_SECRET_0'
    ])

    const result = decodeCapture(writePcap(recorder.segments.map(seg => frameOf(1, seg)), 1), {
      keyLog: parseKeyLog(keys.join('\n'))
    })
    expect(result.error).toBeUndefined()
    const decoded = result.connections[0]
    expect(decoded?.decrypted).toBe(true)
    const records = decoded?.records ?? []
    expect(records.filter(r => r.kind === 'error')).toEqual([])
    expect(records.find(r => r.layer === 'tls' && r.kind === 'complete')).toMatchObject({
      remotePeer: server.peerId.toString(),
      alpn: '/yamux/1.0.0'
    })
    expect(story(records)).toEqual(story(live.filter(r => r.conn === 1)))
    expect(story(records)).toEqual(
      expect.arrayContaining(['tls out ClientHello ', 'tls in Finished ', 'msg out please send data'])
    )
    const texts = records.filter(r => r.layer === 'stream' && r.kind === 'message' && r.dir === 'in').map(r =>
      text(r.bytes)
    )
    expect(texts.filter(t => t.startsWith('Part '))).toEqual(parts)

    // without the key log: the hellos only, and a note
    const bare = decodeCapture(writePcap(recorder.segments.map(seg => frameOf(1, seg)), 1), {}).connections[0]
    expect(bare?.decrypted).toBe(false)
    expect(
      (bare?.records ?? []).filter(r => r.layer === 'tls' && r.kind === 'handshake').map(r =>
        r.kind === 'handshake' ? r.message : ''
      )
    ).toEqual(['ClientHello', 'ServerHello'])
  }, 30_000)
})
