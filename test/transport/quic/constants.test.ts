import { describe, expect, it } from 'vitest'
import * as C from '../../../src/transport/quic/constants.js'
import { QuicTransportErrorCode } from '../../../src/errors.js'

describe('QUIC constants are the RFC numbers', () => {
  it('pins versions, sizes and frame types (RFC 9000 §12.4 Table 3, §17, §18.2)', () => {
    expect(C.QUIC_V1).toBe(1)
    expect(C.MAX_CID_LENGTH).toBe(20)
    expect(C.MIN_INITIAL_DATAGRAM_SIZE).toBe(1200)
    expect(C.DEFAULT_MAX_UDP_PAYLOAD_SIZE).toBe(65527)
    expect([
      C.FrameType.Padding,
      C.FrameType.Ack,
      C.FrameType.Crypto,
      C.FrameType.Stream,
      C.FrameType.NewConnectionId,
      C.FrameType.ConnectionClose,
      C.FrameType.HandshakeDone
    ])
      .toEqual([0x00, 0x02, 0x06, 0x08, 0x18, 0x1c, 0x1e])
    expect([
      C.TransportParameterId.MaxIdleTimeout,
      C.TransportParameterId.InitialSourceConnectionId,
      C.TransportParameterId.RetrySourceConnectionId
    ]).toEqual([0x01, 0x0f, 0x10])
    expect([C.LongPacketType.Initial, C.LongPacketType.ZeroRtt, C.LongPacketType.Handshake, C.LongPacketType.Retry])
      .toEqual([0, 1, 2, 3])
  })

  it('pins the transport error codes (RFC 9000 §20.1)', () => {
    expect(QuicTransportErrorCode.FRAME_ENCODING_ERROR).toBe(0x07)
    expect(QuicTransportErrorCode.PROTOCOL_VIOLATION).toBe(0x0a)
    expect(QuicTransportErrorCode.TRANSPORT_PARAMETER_ERROR).toBe(0x08)
    expect(QuicTransportErrorCode.AEAD_LIMIT_REACHED).toBe(0x0f)
    expect(QuicTransportErrorCode.CRYPTO_ERROR_BASE).toBe(0x100)
  })
})
