/** Targets: the mplex frame decoder and session (src/muxer/mplex), fed what a peer sends. */
import { encodeFrame } from '../../src/muxer/mplex/frame.js'
import { FrameDecoder } from '../../src/muxer/mplex/frame-decoder.js'
import { mplexConfig, MplexSession } from '../../src/muxer/mplex/session.js'
import { ResourceManager } from '../../src/resources/manager.js'
import type { ResourceScope } from '../../src/resources/scope.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, concat, pieces, utf8, whole } from './util.js'

const f = (id: number, flag: number, data?: Uint8Array): Uint8Array => concat(...encodeFrame(id, flag, data))
const SEEDS = (): Uint8Array[] => [
  whole(f(1, 0, utf8('1')), f(1, 2, utf8('hello')), f(1, 4), f(1, 6)),
  pieces(2, f(3, 0), f(3, 2, new Uint8Array(100)), f(3, 5), f(3, 1, utf8('x'))),
  whole(f(0, 0), f(0, 0), f(7, 2, utf8('no such stream')), f(2 ** 20, 3))
]

export const targets: FuzzTarget[] = [
  {
    name: 'mplex/frame-decoder',
    seeds: SEEDS,
    run: data => {
      const dec = new FrameDecoder(1 << 16)
      let body = 0
      for (const c of chunks(data)) dec.push(c, { onFrame: () => {}, onData: d => { body += d.length } })
      if (body > data.length) throw new Error(`decoder delivered ${body} body bytes out of ${data.length}`)
    }
  },
  {
    name: 'mplex/session',
    seeds: SEEDS,
    maxLength: 16384,
    run: (data, report) => {
      const rm = new ResourceManager({ peer: { memoryBytes: 1 << 20, streams: 64 } })
      const scope = rm.openConnection('fuzzer', 'conn') as ResourceScope
      const s = new MplexSession(mplexConfig({ maxMessageBytes: 1 << 16 }), {
        streams: {
          onStreamOpen: () => {},
          onStreamData: () => {},
          onStreamEnd: () => {},
          onStreamReset: () => {},
          onStreamWritable: () => {},
          onStreamRemoved: () => {}
        },
        onOutboxReady: () => {}
      }, undefined, scope)
      try {
        for (const c of chunks(data)) { s.receive(c); s.takeOutbox() }
      } catch (err) {
        report(err)
      }
      s.connectionLost(new Error('fuzz input ended'))
      // oracle: everything charged to the connection comes back once the session has ended
      const u = scope.usage()
      if (u.inboundStreams + u.outboundStreams > 0 || u.memoryBytes > 0) {
        throw new Error(
          `after the session ended the scope still holds ${u.inboundStreams} inbound / ${u.outboundStreams} outbound streams and ${u.memoryBytes} bytes`
        )
      }
    }
  }
]
