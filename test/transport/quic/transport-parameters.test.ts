import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { QuicError } from '../../../src/errors.js'
import { QuicWriter } from '../../../src/transport/quic/buffer.js'
import {
  decodeTransportParameters, defaultTransportParameters, encodeTransportParameters, type TransportParameters
} from '../../../src/transport/quic/transport-parameters.js'
import { transportParameters } from './arbitraries.js'

const norm = (p: TransportParameters): unknown =>
  JSON.parse(JSON.stringify(p, (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))
const build = (...params: Array<[number, Uint8Array]>): Uint8Array => {
  const w = new QuicWriter()
  for (const [id, v] of params) w.varint(id).varint(v.length).bytes(v)
  return w.finish()
}
const vi = (n: number): Uint8Array => { const w = new QuicWriter(); w.varint(n); return w.finish() }

describe('transport parameters (RFC 9000 §18)', () => {
  it.each(['client', 'server'] as const)('round trip (%s)', (sender) => {
    fc.assert(
      fc.property(transportParameters(sender), (p) => {
        const full = { ...defaultTransportParameters(), ...p }
        for (const k of Object.keys(full) as Array<keyof TransportParameters>) {
          if (full[k] === undefined) Reflect.deleteProperty(full, k)
        }
        expect(norm(decodeTransportParameters(encodeTransportParameters(full), sender))).toEqual(norm(full))
      }),
      { numRuns: 500 }
    )
  })

  it('an empty extension means every default', () => {
    expect(decodeTransportParameters(new Uint8Array(0), 'client')).toEqual(defaultTransportParameters())
  })

  it('truncation at every offset and garbage: TRANSPORT_PARAMETER_ERROR or a valid set', () => {
    fc.assert(fc.property(transportParameters('server'), (p) => {
      const enc = encodeTransportParameters({ ...defaultTransportParameters(), ...p })
      for (let i = 0; i < enc.length; i++) {
        try { decodeTransportParameters(enc.subarray(0, i), 'server') } catch (err) {
          expect(err).toBeInstanceOf(QuicError)
          expect((err as QuicError).code).toBe('ERR_QUIC_TRANSPORT_PARAMETER')
          expect((err as QuicError).transportErrorCode).toBe(0x08)
        }
      }
    }), { numRuns: 200 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try { decodeTransportParameters(b, 'server') } catch (err) {
        expect((err as QuicError).code).toBe('ERR_QUIC_TRANSPORT_PARAMETER')
      }
    }), { numRuns: 3000 })
  })

  it.each<[string, Uint8Array, 'client' | 'server']>([
    ['repeated parameter', build([0x04, vi(1)], [0x04, vi(2)]), 'client'],
    ['client sends original_destination_connection_id', build([0x00, new Uint8Array(8)]), 'client'],
    ['client sends stateless_reset_token', build([0x02, new Uint8Array(16)]), 'client'],
    ['client sends retry_source_connection_id', build([0x10, new Uint8Array(8)]), 'client'],
    ['stateless_reset_token of 15 bytes', build([0x02, new Uint8Array(15)]), 'server'],
    ['max_udp_payload_size 1199', build([0x03, vi(1199)]), 'client'],
    ['ack_delay_exponent 21', build([0x0a, vi(21)]), 'client'],
    ['max_ack_delay 2^14', build([0x0b, vi(2 ** 14)]), 'client'],
    ['active_connection_id_limit 1', build([0x0e, vi(1)]), 'client'],
    ['initial_max_streams_bidi above 2^60', build([0x08, vi(2 ** 61)]), 'client'],
    ['varint with trailing bytes', build([0x04, Uint8Array.of(1, 0)]), 'client'],
    ['disable_active_migration with a value', build([0x0c, Uint8Array.of(1)]), 'client'],
    ['connection id of 21 bytes', build([0x0f, new Uint8Array(21)]), 'client'],
    ['preferred_address with an empty connection id', build([0x0d, new Uint8Array(4 + 2 + 16 + 2 + 1 + 16)]), 'server']
  ])('refuses %s', (_what, bytes, sender) => {
    expect(() => decodeTransportParameters(bytes, sender)).toThrowError(
      expect.objectContaining({ code: 'ERR_QUIC_TRANSPORT_PARAMETER' })
    )
  })

  it('skips unknown and reserved (31*N+27) parameters', () => {
    const p = decodeTransportParameters(
      build([31 * 5 + 27, Uint8Array.of(1, 2, 3)], [0x4752, new Uint8Array(0)], [0x04, vi(1000)]),
      'client'
    )
    expect(p.initialMaxData).toBe(1000)
  })
})
