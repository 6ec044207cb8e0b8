import { describe, expect, it } from 'vitest'
import * as C from '../../src/multistream/constants.js'

describe('multistream constants (digest §2)', () => {
  it('pins the wire values', () => {
    expect(C.PROTOCOL_ID).toBe('/multistream/1.0.0')
    expect(C.NA).toBe('na')
    expect(C.LS).toBe('ls')
    expect(C.NEWLINE).toBe(0x0a)
    expect(C.MAX_MESSAGE_LENGTH).toBe(1024)
    expect(C.MAX_PREFIX_BYTES).toBe(2)
    expect(C.HEADER_MESSAGE_LENGTH).toBe(19)
    expect(C.MAX_LS_RESPONSE_LENGTH).toBe(16383)
    expect(C.MAX_LS_ENTRIES).toBe(1000)
    expect(C.DEFAULT_NEGOTIATION_TIMEOUT_MS).toBe(10_000)
  })
})
