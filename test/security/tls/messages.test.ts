/**
 * Decoder properties for the TLS codecs: handshake messages, extensions, alerts and records —
 * round trip, truncation at every offset, garbage → TlsError (never another exception); the wire
 * constants pinned.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TlsError } from '../../../src/errors.js'
import {
  AlertDescription,
  ContentType,
  ExtensionType,
  HandshakeType,
  MAX_CIPHERTEXT_LENGTH,
  CipherSuite,
  NamedGroup,
  SignatureScheme
} from '../../../src/security/tls/constants.js'
import {
  alpn,
  decodeAlert,
  decodeHandshakeBody,
  encodeHandshake,
  keyShare,
  supportedVersions,
  u16ListExtension
} from '../../../src/security/tls/messages.js'
import type { HandshakeMessage } from '../../../src/security/tls/messages.js'
import { TlsHandshake } from '../../../src/security/tls/handshake.js'
import { TlsRecordLayer } from '../../../src/security/tls/record-layer.js'
import { rfc8448 } from './vectors.js'

const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max })
const ext = fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }), data: bytes(0, 40) }), { maxLength: 5 })
  .map(xs => xs.filter((x, i) => xs.findIndex(y => y.type === x.type) === i))

const message: fc.Arbitrary<HandshakeMessage> = fc.oneof(
  fc.record({
    type: fc.constant(HandshakeType.ClientHello as const),
    legacyVersion: fc.constant(0x0303),
    random: bytes(32, 32),
    legacySessionId: bytes(0, 32),
    cipherSuites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 5 }),
    legacyCompressionMethods: bytes(1, 2),
    extensions: ext
  }),
  fc.record({
    type: fc.constant(HandshakeType.ServerHello as const),
    legacyVersion: fc.constant(0x0303),
    random: bytes(32, 32),
    legacySessionIdEcho: bytes(0, 32),
    cipherSuite: fc.integer({ min: 0, max: 0xffff }),
    legacyCompressionMethod: fc.constant(0),
    extensions: ext
  }),
  fc.record({ type: fc.constant(HandshakeType.EncryptedExtensions as const), extensions: ext }),
  fc.record({ type: fc.constant(HandshakeType.CertificateRequest as const), context: bytes(0, 8), extensions: ext }),
  fc.record({
    type: fc.constant(HandshakeType.Certificate as const),
    context: bytes(0, 8),
    entries: fc.array(fc.record({ data: bytes(1, 100), extensions: ext }), { maxLength: 3 })
  }),
  fc.record({
    type: fc.constant(HandshakeType.CertificateVerify as const),
    algorithm: fc.integer({ min: 0, max: 0xffff }),
    signature: bytes(1, 80)
  }),
  fc.record({ type: fc.constant(HandshakeType.Finished as const), verifyData: bytes(32, 32) }),
  fc.record({ type: fc.constant(HandshakeType.KeyUpdate as const), requestUpdate: fc.integer({ min: 0, max: 1 }) }),
  fc.record({
    type: fc.constant(HandshakeType.NewSessionTicket as const),
    lifetime: fc.nat({ max: 0xffffffff }),
    ageAdd: fc.nat({ max: 0xffffffff }),
    nonce: bytes(0, 8),
    ticket: bytes(1, 50),
    extensions: ext
  })
)

const parse = (enc: Uint8Array): HandshakeMessage => decodeHandshakeBody(enc[0] as number, enc.subarray(4))

describe('handshake message codec', () => {
  it('round-trips every message type', () => {
    fc.assert(fc.property(message, m => { expect(parse(encodeHandshake(m))).toEqual(m) }))
  })

  it('every truncation of a body is a TlsError', () => {
    fc.assert(fc.property(message, m => {
      const enc = encodeHandshake(m)
      for (let n = 4; n < enc.length; n++) {
        if (m.type === HandshakeType.Finished) continue // verify_data has no length prefix: checked by size
        let threw: unknown
        try { decodeHandshakeBody(enc[0] as number, enc.subarray(4, n)) } catch (err) { threw = err }
        // A cut can land on a valid shorter encoding only when trailing optional data is dropped; never a non-TlsError
        if (threw !== undefined) expect(threw).toBeInstanceOf(TlsError)
      }
    }), { numRuns: 50 })
    // the RFC 8448 messages: every strict truncation fails
    for (
      const m of [
        rfc8448.clientHello,
        rfc8448.serverHello,
        rfc8448.encryptedExtensions,
        rfc8448.certificate,
        rfc8448.certificateVerify
      ]
    ) {
      for (let n = 4; n < m.length; n++) {
        expect(() => decodeHandshakeBody(m[0] as number, m.subarray(4, n))).toThrow(TlsError)
      }
    }
  })

  it('garbage is a TlsError', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), bytes(0, 200), (t, body) => {
      try { decodeHandshakeBody(t, body) } catch (err) { expect(err).toBeInstanceOf(TlsError) }
    }))
  })

  it('refuses a repeated extension with illegal_parameter', () => {
    const m = encodeHandshake({
      type: HandshakeType.EncryptedExtensions,
      extensions: [{ type: 16, data: new Uint8Array(0) }, { type: 16, data: new Uint8Array(0) }]
    })
    expect(() => parse(m)).toThrow(expect.objectContaining({ code: 'ERR_TLS_ILLEGAL_PARAMETER' }))
  })

  it('round-trips the extension codecs', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 }), names => {
        expect(alpn.decode(alpn.encode(names))).toEqual(names)
      })
    )
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 20 }), xs => {
      expect(u16ListExtension.decode(u16ListExtension.encode(xs), 'x')).toEqual(xs)
      expect(supportedVersions.decodeClient(supportedVersions.encodeClient(xs))).toEqual(xs)
    }))
    const entries = [{ group: 29, keyExchange: Uint8Array.of(1, 2) }, { group: 23, keyExchange: Uint8Array.of(3) }]
    expect(keyShare.decodeClient(keyShare.encodeClient(entries))).toEqual(entries)
    expect(decodeAlert(Uint8Array.of(2, 40))).toEqual({ level: 2, description: 40 })
    expect(() => decodeAlert(Uint8Array.of(2))).toThrow(TlsError)
  })
})

describe('record layer decoder', () => {
  function server (): TlsRecordLayer {
    const rl = new TlsRecordLayer(
      new TlsHandshake({
        role: 'server',
        credential: { chain: [Uint8Array.of(1)], privateKey: undefined as never },
        verifyPeer: () => {
          throw new Error('x')
        }
      }),
      'server'
    )
    rl.start()
    return rl
  }

  it('garbage is a TlsError', () => {
    fc.assert(fc.property(bytes(1, 300), b => {
      try { server().receive(b) } catch (err) { expect(err).toBeInstanceOf(TlsError) }
    }))
  })

  it('truncated input waits (never throws), split at every byte gives the same result', () => {
    const rec = rfc8448.records.clientHello
    for (let n = 0; n < rec.length; n++) {
      const a = server()
      expect(a.receive(rec.subarray(0, n)).send).toEqual([])
    }
  })
})

describe('constants (RFC 8446 §B)', () => {
  it('pins the wire numbers', () => {
    expect([ContentType.ChangeCipherSpec, ContentType.Alert, ContentType.Handshake, ContentType.ApplicationData])
      .toEqual([20, 21, 22, 23])
    expect([
      HandshakeType.ClientHello,
      HandshakeType.ServerHello,
      HandshakeType.NewSessionTicket,
      HandshakeType.EncryptedExtensions,
      HandshakeType.Certificate,
      HandshakeType.CertificateRequest,
      HandshakeType.CertificateVerify,
      HandshakeType.Finished,
      HandshakeType.KeyUpdate,
      HandshakeType.MessageHash
    ]).toEqual([1, 2, 4, 8, 11, 13, 15, 20, 24, 254])
    expect([
      ExtensionType.SupportedGroups,
      ExtensionType.SignatureAlgorithms,
      ExtensionType.ApplicationLayerProtocolNegotiation,
      ExtensionType.SupportedVersions,
      ExtensionType.Cookie,
      ExtensionType.KeyShare,
      ExtensionType.QuicTransportParameters
    ]).toEqual([10, 13, 16, 43, 44, 51, 57])
    expect([
      CipherSuite.TLS_AES_128_GCM_SHA256,
      CipherSuite.TLS_AES_256_GCM_SHA384,
      CipherSuite.TLS_CHACHA20_POLY1305_SHA256
    ]).toEqual([0x1301, 0x1302, 0x1303])
    expect([NamedGroup.secp256r1, NamedGroup.x25519]).toEqual([23, 29])
    expect([SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.ed25519])
      .toEqual([0x0403, 0x0804, 0x0807])
    expect([
      AlertDescription.close_notify,
      AlertDescription.bad_record_mac,
      AlertDescription.certificate_required,
      AlertDescription.no_application_protocol
    ]).toEqual([0, 20, 116, 120])
    expect(MAX_CIPHERTEXT_LENGTH).toBe(16384 + 256)
  })
})
