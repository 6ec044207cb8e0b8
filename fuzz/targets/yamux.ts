/**
 * Targets: the yamux frame decoder and the whole sans-I/O session (src/muxer), fed what a peer
 * sends. The session must end any misbehaviour with a typed error (GoAway), never with a JS error
 * (which it would wrap as "yamux internal error": the cause is checked).
 */
import { encodeHeader } from '../../src/muxer/frame.js'
import { FrameDecoder } from '../../src/muxer/frame-decoder.js'
import { Session } from '../../src/muxer/session.js'
import { StreamTable } from '../../src/muxer/stream-table.js'
import { ResourceManager } from '../../src/resources/manager.js'
import type { ResourceScope } from '../../src/resources/scope.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, concat, fixedClock, pieces, utf8, whole } from './util.js'

const frame = (
  type: number,
  flags: number,
  streamId: number,
  length: number,
  body: Uint8Array = new Uint8Array(0)
): Uint8Array => concat(encodeHeader({ type, flags, streamId, length }), body)
const [Data, WindowUpdate, Ping, GoAway] = [0, 1, 2, 3]
const [SYN, ACK, FIN, RST] = [1, 2, 4, 8]

const SEEDS = (): Uint8Array[] => [
  whole(frame(WindowUpdate, SYN, 1, 0), frame(Data, 0, 1, 5, utf8('hello')), frame(Data, FIN, 1, 0)),
  pieces(
    3,
    frame(Data, SYN, 1, 3, utf8('abc')),
    frame(WindowUpdate, 0, 1, 1 << 20),
    frame(Ping, SYN, 0, 7),
    frame(Data, RST, 1, 0)
  ),
  whole(
    frame(WindowUpdate, SYN, 1, 0),
    frame(WindowUpdate, SYN, 3, 0),
    frame(WindowUpdate, ACK, 2, 0),
    frame(GoAway, 0, 0, 0)
  ),
  whole(frame(Ping, ACK, 0, 1), frame(WindowUpdate, SYN | FIN, 5, 0xffff0000), frame(Data, 0, 5, 300000))
]

export const targets: FuzzTarget[] = [
  {
    name: 'yamux/frame-decoder',
    seeds: SEEDS,
    run: data => {
      let payloadBytes = 0
      const dec = new FrameDecoder({
        onHeader: () => true,
        onPayload: (_h, piece) => { payloadBytes += piece.length },
        onDataEnd: () => {}
      })
      for (const c of chunks(data)) dec.push(c)
      if (payloadBytes > data.length) {
        throw new Error(`decoder delivered ${payloadBytes} payload bytes out of a ${data.length}-byte input`)
      }
    }
  },
  {
    name: 'yamux/session',
    seeds: SEEDS,
    maxLength: 16384,
    run: (data, report) => {
      const clock = fixedClock()
      const rm = new ResourceManager({ peer: { memoryBytes: 1 << 20, streams: 64 } })
      const scope = rm.openConnection('fuzzer', 'conn') as ResourceScope
      // The adapter's shape: the session's stream events drive MuxedStreams through a StreamTable.
      let session: Session | undefined
      const table = new StreamTable({
        send: (id, d) => session?.send(id, d) ?? 0,
        closeWrite: (id) => { session?.closeWrite(id) },
        reset: (id) => { session?.reset(id) },
        consumed: (id, n) => { session?.consumed(id, n) }
      })
      table.onStream = () => {}
      const s = session = new Session({
        initiator: (data[0] ?? 0) >= 0x80,
        config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
        now: clock.now,
        resources: scope,
        host: { onOutput: () => {}, streams: table, onClose: err => { if (err !== undefined) report(err) } }
      })
      for (const c of chunks(data)) {
        s.receive(c)
        s.takeOutbox()
        clock.advance(10)
        s.tick()
      }
      s.connectionEnded()
      // oracle: everything charged to the connection comes back once the session has ended
      const u = scope.usage()
      if (u.inboundStreams + u.outboundStreams > 0 || u.memoryBytes > 0) {
        throw new Error(
          `after the session ended the scope still holds ${u.inboundStreams} inbound / ${u.outboundStreams} outbound streams and ${u.memoryBytes} bytes`
        )
      }
      scope.close()
    }
  }
]
