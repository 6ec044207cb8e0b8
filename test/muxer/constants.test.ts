import { describe, expect, it } from 'vitest'
import * as C from '../../src/muxer/constants.js'
import { DEFAULT_YAMUX_CONFIG, yamuxConfig } from '../../src/muxer/config.js'

describe('yamux constants (pinned, spec §Framing / §Flow Control)', () => {
  it('wire numbers', () => {
    expect(C.YAMUX_PROTOCOL_ID).toBe('/yamux/1.0.0')
    expect(C.YAMUX_VERSION).toBe(0)
    expect([C.FrameType.Data, C.FrameType.WindowUpdate, C.FrameType.Ping, C.FrameType.GoAway]).toEqual([0, 1, 2, 3])
    expect([C.Flag.SYN, C.Flag.ACK, C.Flag.FIN, C.Flag.RST]).toEqual([1, 2, 4, 8])
    expect([C.GoAwayCode.Normal, C.GoAwayCode.ProtocolError, C.GoAwayCode.InternalError]).toEqual([0, 1, 2])
    expect(C.HEADER_LENGTH).toBe(12)
    expect(C.INITIAL_STREAM_WINDOW).toBe(262144)
    expect(C.INITIAL_SEND_WINDOW).toBe(256000)
    expect(C.DEFAULT_MAX_STREAM_WINDOW).toBe(16 * 1024 * 1024)
    expect(C.MAX_UINT32).toBe(2 ** 32 - 1)
  })
})

describe('yamux config', () => {
  it('documented defaults', () => {
    expect(DEFAULT_YAMUX_CONFIG).toEqual({
      maxInboundStreams: 1024,
      maxOutboundStreams: 1024,
      initialStreamWindowBytes: 262144,
      maxStreamWindowBytes: 16 * 1024 * 1024,
      maxBufferedBytesPerConnection: 64 * 1024 * 1024,
      maxFramePayloadBytes: 65536 - 12,
      maxWriteBatchBytes: 1024 * 1024,
      keepAliveIntervalMs: 30_000,
      keepAliveTimeoutMs: 15_000,
      rttIntervalMs: 10_000
    })
    expect(yamuxConfig()).toEqual(DEFAULT_YAMUX_CONFIG)
  })

  it('overrides are validated and errors name the field', () => {
    expect(yamuxConfig({ maxInboundStreams: 5 }).maxInboundStreams).toBe(5)
    expect(() => yamuxConfig({ initialStreamWindowBytes: 1000 })).toThrow(/initialStreamWindowBytes/)
    expect(() => yamuxConfig({ maxStreamWindowBytes: 1024 })).toThrow(/maxStreamWindowBytes/)
    expect(() => yamuxConfig({ maxFramePayloadBytes: 0 })).toThrow(/maxFramePayloadBytes/)
    expect(() => yamuxConfig({ keepAliveIntervalMs: -1 })).toThrow(/keepAliveIntervalMs/)
    expect(() => yamuxConfig({ maxInboundStreams: 1.5 })).toThrow(/maxInboundStreams/)
    expect(() => yamuxConfig({ bogus: 1 } as never)).toThrow(/config key/)
    try {
      yamuxConfig({ maxFramePayloadBytes: 0 })
    } catch (e) {
      expect(e).toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    }
  })
})
