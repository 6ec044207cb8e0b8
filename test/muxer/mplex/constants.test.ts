import { describe, expect, it } from 'vitest'
import {
  FLAG_BITS,
  FLAG_SPACE,
  MAX_FLAG,
  MAX_HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_STREAM_ID,
  MessageFlag,
  MPLEX_PROTOCOL_ID
} from '../../../src/muxer/mplex/constants.js'
import { encodingLength } from '../../../src/codec/varint.js'

describe('mplex constants (pinned to the spec)', () => {
  it('protocol id', () => {
    expect(MPLEX_PROTOCOL_ID).toBe('/mplex/6.7.0')
  })

  it('flag values (mplex README §Flag Values)', () => {
    expect([
      MessageFlag.NewStream, MessageFlag.MessageReceiver, MessageFlag.MessageInitiator,
      MessageFlag.CloseReceiver, MessageFlag.CloseInitiator, MessageFlag.ResetReceiver, MessageFlag.ResetInitiator
    ]).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(MAX_FLAG).toBe(6)
  })

  it('header layout and limits', () => {
    expect(FLAG_BITS).toBe(3)
    expect(FLAG_SPACE).toBe(8)
    expect(MAX_MESSAGE_BYTES).toBe(1048576)
    expect(MAX_STREAM_ID).toBe(2 ** 50 - 1)
    // The longest header we can send: largest header varint plus largest length varint.
    expect(MAX_HEADER_BYTES).toBe(encodingLength(MAX_STREAM_ID * 8 + 7) + encodingLength(MAX_MESSAGE_BYTES))
  })
})
