/** fast-check generators for QUIC frames and transport parameters (shared by the property tests). */
import fc from 'fast-check'
import { FrameType } from '../../../src/transport/quic/constants.js'
import type { AckRange, Frame } from '../../../src/transport/quic/frame.js'
import type { TransportParameters } from '../../../src/transport/quic/transport-parameters.js'

export const varint = (): fc.Arbitrary<number> =>
  fc.oneof(
    fc.integer({ min: 0, max: 63 }),
    fc.integer({ min: 0, max: 2 ** 30 }),
    fc.integer({ min: 0, max: 2 ** 53 - 1 })
  )
const small = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** 40 })
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max })

export const ackRanges = (): fc.Arbitrary<AckRange[]> =>
  fc.tuple(
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 8 })
  )
    .map(([top, pairs]) => {
      const ranges: AckRange[] = []
      let cursor = top + 100_000_000
      for (const [gap, len] of pairs.length === 0 ? [[0, 0] as [number, number]] : pairs) {
        const largest = cursor
        const smallest = largest - len
        ranges.push({ smallest, largest })
        cursor = smallest - gap - 2
        if (cursor < 0) break
      }
      return ranges
    })

export const frame = (): fc.Arbitrary<Frame> =>
  fc.oneof(
    fc.constant<Frame>({ type: FrameType.Ping }),
    fc.constant<Frame>({ type: FrameType.HandshakeDone }),
    fc.integer({ min: 1, max: 40 }).map((length): Frame => ({ type: FrameType.Padding, length })),
    fc.record({ ranges: ackRanges(), ackDelay: small() }).map((a): Frame => ({ type: FrameType.Ack, ...a })),
    fc.record({ ranges: ackRanges(), ackDelay: small(), ecn: fc.record({ ect0: small(), ect1: small(), ce: small() }) })
      .map((a): Frame => ({ type: FrameType.Ack, ...a })),
    fc.record({ streamId: varint(), errorCode: varint(), finalSize: varint() }).map((f): Frame => ({
      type: FrameType.ResetStream,
      ...f
    })),
    fc.record({ streamId: varint(), errorCode: varint() }).map((f): Frame => ({ type: FrameType.StopSending, ...f })),
    fc.record({ offset: small(), data: bytes(0, 64) }).map((f): Frame => ({ type: FrameType.Crypto, ...f })),
    bytes(1, 64).map((token): Frame => ({ type: FrameType.NewToken, token })),
    fc.record({ streamId: varint(), offset: small(), data: bytes(0, 64), fin: fc.boolean() }).map((f): Frame => ({
      type: FrameType.Stream,
      ...f
    })),
    varint().map((maximum): Frame => ({ type: FrameType.MaxData, maximum })),
    fc.record({ streamId: varint(), maximum: varint() }).map((f): Frame => ({ type: FrameType.MaxStreamData, ...f })),
    fc.record({ type: fc.constantFrom(FrameType.MaxStreamsBidi, FrameType.MaxStreamsUni), maximum: small() }).map((
      f
    ): Frame => f as Frame),
    varint().map((limit): Frame => ({ type: FrameType.DataBlocked, limit })),
    fc.record({ streamId: varint(), limit: varint() }).map((f): Frame => ({ type: FrameType.StreamDataBlocked, ...f })),
    fc.record({ type: fc.constantFrom(FrameType.StreamsBlockedBidi, FrameType.StreamsBlockedUni), limit: small() }).map(
      (f): Frame => f as Frame
    ),
    fc.record({
      sequenceNumber: small(),
      back: small(),
      connectionId: bytes(1, 20),
      statelessResetToken: bytes(16, 16)
    })
      .map(({ back, ...f }): Frame => ({
        type: FrameType.NewConnectionId,
        retirePriorTo: Math.max(0, f.sequenceNumber - back),
        ...f
      })),
    varint().map((sequenceNumber): Frame => ({ type: FrameType.RetireConnectionId, sequenceNumber })),
    bytes(8, 8).map((data): Frame => ({ type: FrameType.PathChallenge, data })),
    bytes(8, 8).map((data): Frame => ({ type: FrameType.PathResponse, data })),
    fc.record({ errorCode: varint(), frameType: varint(), reason: bytes(0, 40) }).map((f): Frame => ({
      type: FrameType.ConnectionClose,
      ...f
    })),
    fc.record({ errorCode: varint(), reason: bytes(0, 40) }).map((f): Frame => ({
      type: FrameType.ConnectionCloseApp,
      frameType: 0,
      ...f
    }))
  )

export const transportParameters = (sender: 'client' | 'server'): fc.Arbitrary<TransportParameters> => fc.record({
  maxIdleTimeout: varint(),
  maxUdpPayloadSize: fc.integer({ min: 1200, max: 65527 }),
  initialMaxData: varint(),
  initialMaxStreamDataBidiLocal: varint(),
  initialMaxStreamDataBidiRemote: varint(),
  initialMaxStreamDataUni: varint(),
  initialMaxStreamsBidi: fc.integer({ min: 0, max: 2 ** 40 }),
  initialMaxStreamsUni: fc.integer({ min: 0, max: 2 ** 40 }),
  ackDelayExponent: fc.integer({ min: 0, max: 20 }),
  maxAckDelay: fc.integer({ min: 0, max: 2 ** 14 - 1 }),
  disableActiveMigration: fc.boolean(),
  activeConnectionIdLimit: fc.integer({ min: 2, max: 2 ** 20 }),
  initialSourceConnectionId: fc.option(bytes(0, 20), { nil: undefined }),
  ...(sender === 'server'
    ? {
        originalDestinationConnectionId: fc.option(bytes(0, 20), { nil: undefined }),
        retrySourceConnectionId: fc.option(bytes(0, 20), { nil: undefined }),
        statelessResetToken: fc.option(bytes(16, 16), { nil: undefined }),
        preferredAddress: fc.option(fc.record({
          ipv4Address: bytes(4, 4),
          ipv4Port: fc.integer({ min: 0, max: 65535 }),
          ipv6Address: bytes(16, 16),
          ipv6Port: fc.integer({ min: 0, max: 65535 }),
          connectionId: bytes(1, 20),
          statelessResetToken: bytes(16, 16)
        }), { nil: undefined })
      }
    : {})
}, {
  requiredKeys: [
    'maxIdleTimeout',
    'maxUdpPayloadSize',
    'initialMaxData',
    'initialMaxStreamDataBidiLocal',
    'initialMaxStreamDataBidiRemote',
    'initialMaxStreamDataUni',
    'initialMaxStreamsBidi',
    'initialMaxStreamsUni',
    'ackDelayExponent',
    'maxAckDelay',
    'disableActiveMigration',
    'activeConnectionIdLimit'
  ]
}) as fc.Arbitrary<TransportParameters>
