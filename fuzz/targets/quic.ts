/** Targets: QUIC packet headers, frames and transport parameters (src/transport/quic, RFC 9000). */
import { QuicError } from '../../src/errors.js'
import { QuicReader } from '../../src/transport/quic/buffer.js'
import { assertFrameAllowed, decodeFrames } from '../../src/transport/quic/frame.js'
import { LongPacketType } from '../../src/transport/quic/constants.js'
import { splitDatagram } from '../../src/transport/quic/header.js'
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters
} from '../../src/transport/quic/transport-parameters.js'
import type { FuzzTarget } from '../engine.js'
import { quicVarint as v } from '../mutate.js'
import { concat, utf8 } from './util.js'

const cid = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
/** A long header (RFC 9000 §17.2): first byte, version, DCID, SCID, then type-specific fields. */
const long = (first: number, version: number, rest: Uint8Array): Uint8Array =>
  concat(
    Uint8Array.of(first, version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff, 8),
    cid(8, 1),
    Uint8Array.of(8),
    cid(8, 2),
    rest
  )

const FRAMES = (): Uint8Array[] => [
  concat(Uint8Array.of(0x01), Uint8Array.of(0x00, 0x00)), // PING, PADDING
  concat(Uint8Array.of(0x02), v(10), v(0), v(1), v(2), v(1), v(3)), // ACK with a gap
  concat(Uint8Array.of(0x03), v(10), v(0), v(0), v(5), v(1), v(2), v(3)), // ACK_ECN
  concat(Uint8Array.of(0x06), v(0), v(5), utf8('hello')), // CRYPTO
  concat(Uint8Array.of(0x0f), v(4), v(100), v(3), utf8('abc')), // STREAM off len fin
  concat(Uint8Array.of(0x04), v(4), v(1), v(10), Uint8Array.of(0x05), v(4), v(1)), // RESET_STREAM, STOP_SENDING
  concat(
    Uint8Array.of(0x10),
    v(1 << 20),
    Uint8Array.of(0x11),
    v(4),
    v(1 << 16),
    Uint8Array.of(0x12),
    v(100),
    Uint8Array.of(0x13),
    v(100)
  ),
  // NEW/RETIRE_CONNECTION_ID
  concat(Uint8Array.of(0x18), v(1), v(0), Uint8Array.of(8), cid(8, 3), cid(16, 4), Uint8Array.of(0x19), v(0)),
  concat(
    Uint8Array.of(0x1a),
    cid(8, 5),
    Uint8Array.of(0x1b),
    cid(8, 5),
    Uint8Array.of(0x1c),
    v(0x0a),
    v(0x06),
    v(3),
    utf8('bye'),
    Uint8Array.of(0x1e)
  ),
  concat(
    Uint8Array.of(0x07),
    v(4),
    utf8('tokn'),
    Uint8Array.of(0x14),
    v(9),
    Uint8Array.of(0x15),
    v(4),
    v(9),
    Uint8Array.of(0x16),
    v(9),
    Uint8Array.of(0x1d),
    v(0),
    v(0)
  )
]

export const targets: FuzzTarget[] = [
  {
    name: 'quic/frames',
    seeds: FRAMES,
    run: data => {
      const frames = decodeFrames(
        new QuicReader(data, what => new QuicError('ERR_QUIC_FRAME_ENCODING', `truncated ${what}`))
      )
      for (const f of frames) {
        for (
          const type of [LongPacketType.Initial, LongPacketType.ZeroRtt, LongPacketType.Handshake, 'short'] as const
        ) {
          try {
            assertFrameAllowed(f, type)
          } catch (err) {
            if (!(err instanceof QuicError)) throw err
          }
        }
      }
    }
  },
  {
    name: 'quic/header',
    seeds: () => [
      long(0xc0, 1, concat(v(0), v(20), new Uint8Array(20))), // Initial, no token
      long(0xc1, 1, concat(v(4), utf8('tokn'), v(30), new Uint8Array(30))),
      long(0xe0, 1, concat(v(20), new Uint8Array(20))), // Handshake
      long(0xf0, 1, concat(utf8('retry token'), new Uint8Array(16))), // Retry
      long(0x80, 0, Uint8Array.of(0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf)), // Version Negotiation
      concat(Uint8Array.of(0x40), cid(8, 1), new Uint8Array(24)) // short header
    ],
    run: data => {
      const r = splitDatagram(data, 8)
      if (r.error !== undefined && !(r.error instanceof QuicError)) throw r.error
      let end = 0
      for (const p of r.packets) {
        if (p.packetEnd <= end || p.packetEnd > data.length) {
          throw new Error(`packet end ${p.packetEnd} out of order or past the datagram (${data.length})`)
        }
        end = p.packetEnd
      }
    }
  },
  {
    name: 'quic/transport-parameters',
    seeds: () => {
      const p = defaultTransportParameters()
      return [
        encodeTransportParameters(p),
        encodeTransportParameters({
          ...p,
          initialSourceConnectionId: cid(8, 1),
          originalDestinationConnectionId: cid(8, 2),
          statelessResetToken: cid(16, 3),
          disableActiveMigration: true
        })
      ]
    },
    run: (data, report) => {
      try { decodeTransportParameters(data, 'client') } catch (err) { report(err) }
      decodeTransportParameters(data, 'server')
    }
  }
]
