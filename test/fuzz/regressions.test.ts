/**
 * Bugs the fuzzer (fuzz/) found, each pinned with the input that showed it (minimised by hand).
 */
import { describe, expect, it } from 'vitest'
import { encodeHeader } from '../../src/muxer/frame.js'
import type { MuxedStream } from '../../src/muxer/stream.js'
import { testSession } from '../muxer/helpers.js'
import { ResourceManager } from '../../src/resources/manager.js'
import type { ResourceScope } from '../../src/resources/scope.js'
import { concat } from '../helpers/bytes.js'

describe('yamux session (fuzz/targets/yamux.ts)', () => {
  it('frames after the one that ended the session, in the same chunk, open no stream (found: a stream handed out after onClose, never uncounted)', () => {
    const rm = new ResourceManager()
    const scope = rm.openConnection('peer', 'conn') as ResourceScope
    const events: string[] = []
    const streams: MuxedStream[] = []
    const s = testSession({
      initiator: false,
      config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
      now: () => 0,
      resources: scope,
      host: {
        onOutput: () => {},
        onStream: st => {
          streams.push(st)
          events.push(`stream ${st.id}`)
        },
        onClose: err => {
          events.push(`close ${(err as { code?: string } | undefined)?.code}`)
        }
      }
    })
    s.receive(concat([
      encodeHeader({ type: 1, flags: 1, streamId: 1, length: 0 }), // WindowUpdate|SYN 1
      encodeHeader({ type: 3, flags: 0, streamId: 0, length: 0x10000 }), // GoAway, unknown code: the session ends
      encodeHeader({ type: 1, flags: 1, streamId: 3, length: 0 }), // WindowUpdate|SYN 3, same chunk
      encodeHeader({ type: 0, flags: 1, streamId: 5, length: 3 }), Uint8Array.of(1, 2, 3) // Data|SYN 5
    ]))
    expect(events).toEqual(['stream 1', 'close ERR_YAMUX_GOAWAY'])
    expect(scope.usage()).toMatchObject({ inboundStreams: 0, outboundStreams: 0, memoryBytes: 0 })
  })
})
