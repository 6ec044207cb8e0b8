/**
 * The libp2p certificate: tls.md test vectors (valid per key type, the invalid one), our own
 * certificates for every host key type, each refusal case, and DER decoder properties.
 */
import crypto from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TlsError } from '../../../src/errors.js'
import { generateEcdsa, generateEd25519, generateRsa, generateSecp256k1 } from '../../../src/security/keys.js'
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../../src/security/tls/certificate.js'
import { der, DerReader, decodeOid, Tag } from '../../../src/security/tls/der.js'
import { buildSelfSignedCertificate, parseCertificate } from '../../../src/security/tls/x509.js'
import { LIBP2P_EXTENSION_OID } from '../../../src/security/tls/constants.js'
import { libp2pCerts, rfc8448 } from './vectors.js'

const NOW = Date.UTC(2026, 0, 1)

describe('tls.md test vectors', () => {
  for (
    const [name, v] of [['Ed25519', libp2pCerts.ed25519], ['ECDSA', libp2pCerts.ecdsa], [
      'secp256k1',
      libp2pCerts.secp256k1
    ]] as const
  ) {
    it(`accepts the valid ${name} certificate and derives ${v.peerId}`, () => {
      const r = verifyLibp2pCertificate([v.cert], NOW)
      expect(r.info.peerId.toString()).toBe(v.peerId)
      expect(r.info.keyType).toBe(name === 'secp256k1' ? 'Secp256k1' : name)
    })
  }

  it('refuses the invalid certificate (host key signature mismatch)', () => {
    expect(() => verifyLibp2pCertificate([libp2pCerts.invalid.cert], NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_BAD_CERTIFICATE' })
    )
  })

  it('parses the RFC 8448 RSA certificate', () => {
    const cert = parseCertificate(rfc8448.certificate.subarray(11, 11 + 0x1b0))
    expect(cert.version).toBe(3)
    expect(cert.extensions.map(e => e.oid)).toEqual(['2.5.29.19', '2.5.29.15'])
    expect(cert.notBefore).toBe(Date.UTC(2016, 6, 30, 1, 23, 59))
  })
})

describe('our certificates', () => {
  for (
    const [name, gen] of [['Ed25519', generateEd25519], ['Secp256k1', generateSecp256k1], ['ECDSA', generateEcdsa], [
      'RSA',
      () => generateRsa(2048)
    ]] as const
  ) {
    it(`round-trips a ${name} host key`, () => {
      const id = gen()
      const cred = generateLibp2pCredential(id)
      const r = verifyLibp2pCertificate(cred.chain)
      expect(r.info.hostKey.equals(id.publicKey)).toBe(true)
      // the certificate key is a fresh P-256 key, never the host key
      expect(cred.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
      // node's own X.509 parser reads what we write
      const x = new crypto.X509Certificate(cred.chain[0] as Uint8Array)
      expect(x.verify(x.publicKey)).toBe(true)
    })
  }

  it('refuses expired and not-yet-valid certificates', () => {
    const cred = generateLibp2pCredential(generateEd25519(), NOW)
    expect(() => verifyLibp2pCertificate(cred.chain, NOW - 2 * 3600_000)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' })
    )
    expect(() => verifyLibp2pCertificate(cred.chain, NOW + 101 * 365 * 86400_000)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' })
    )
  })

  it('refuses a chain of two, and none', () => {
    const cred = generateLibp2pCredential(generateEd25519())
    expect(() => verifyLibp2pCertificate([...cred.chain, ...cred.chain])).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_BAD_CERTIFICATE' })
    )
    expect(() => verifyLibp2pCertificate([])).toThrow(expect.objectContaining({ code: 'ERR_TLS_BAD_CERTIFICATE' }))
  })

  function custom (extensions: Array<{ oid: string, critical: boolean, value: Uint8Array }>): Uint8Array {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    return buildSelfSignedCertificate({
      privateKey,
      serialNumber: Uint8Array.of(1),
      notBefore: NOW - 1000,
      notAfter: NOW + 1000,
      extensions
    })
  }
  const signedKeyFor = (ext: Uint8Array): Uint8Array =>
    parseCertificate(ext).extensions.find(e => e.oid === LIBP2P_EXTENSION_OID)?.value as Uint8Array

  it('refuses a certificate without the libp2p extension', () => {
    expect(() => verifyLibp2pCertificate([custom([])], NOW)).toThrow(/Public Key Extension .* is missing/)
  })

  it('refuses an unknown critical extension, ignores an unknown non-critical one, finds ours at any position', () => {
    const value = signedKeyFor(generateLibp2pCredential(generateEd25519()).chain[0] as Uint8Array)
    // the signature covers another SPKI: expect the signature error, which proves the extension was found
    const other = { oid: '1.2.3.4', critical: false, value: Uint8Array.of(5) }
    expect(() => verifyLibp2pCertificate([custom([other, { oid: LIBP2P_EXTENSION_OID, critical: false, value }])], NOW))
      .toThrow(/host key signature/)
    expect(() =>
      verifyLibp2pCertificate([
        custom([{ ...other, critical: true }, { oid: LIBP2P_EXTENSION_OID, critical: true, value }])
      ], NOW)
    )
      .toThrow(expect.objectContaining({ code: 'ERR_TLS_UNSUPPORTED_CERTIFICATE' }))
  })

  it('refuses a broken self-signature', () => {
    const cert = Uint8Array.from(generateLibp2pCredential(generateEd25519()).chain[0] as Uint8Array)
    cert[cert.length - 3] = (cert[cert.length - 3] as number) ^ 1
    expect(() => verifyLibp2pCertificate([cert])).toThrow(TlsError)
  })
})

describe('DER properties', () => {
  it('round-trips OIDs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.nat({ max: 2 ** 40 }), { maxLength: 8 }),
        (a, b, rest) => {
          const oid = [a, b, ...rest].join('.')
          const node = new DerReader(der.oid(oid)).next(Tag.OID)
          expect(decodeOid(node.value)).toBe(oid)
        }
      )
    )
  })

  it('round-trips nested TLVs of any length', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (items) => {
      const enc = der.sequence(...items.map(i => der.octetString(i)))
      const r = new DerReader(new DerReader(enc).next(Tag.SEQUENCE).value)
      for (const i of items) expect(r.next(Tag.OCTET_STRING).value).toEqual(i)
      r.end()
    }))
  })

  it('every truncation of a certificate is a TlsError', () => {
    const cert = libp2pCerts.ed25519.cert
    for (let n = 0; n < cert.length; n++) {
      expect(() => parseCertificate(cert.subarray(0, n))).toThrow(TlsError)
    }
  })

  it('garbage is a TlsError, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try { verifyLibp2pCertificate([bytes]) } catch (err) { expect(err).toBeInstanceOf(TlsError) }
    }))
    // and single-byte corruptions of a valid certificate
    const cert = libp2pCerts.ecdsa.cert
    for (let i = 0; i < cert.length; i += 3) {
      const bad = Uint8Array.from(cert)
      bad[i] = (bad[i] as number) ^ 0x55
      try { verifyLibp2pCertificate([bad], NOW) } catch (err) { expect(err).toBeInstanceOf(TlsError) }
    }
  })
})
