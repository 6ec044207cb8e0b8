/**
 * The QUIC transport's memory of verified libp2p certificates (transport.ts VerifiedCertificates):
 * a certificate seen again skips the signature checks but never its validity period; a bad one is
 * refused every time and never remembered; the memory is bounded.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateEd25519 } from '../../../src/security/keys.js'
import { PeerId } from '../../../src/security/peer-id.js'
import { generateLibp2pCredential } from '../../../src/security/tls/certificate.js'
import { VERIFIED_CERTIFICATES, VerifiedCertificates } from '../../../src/transport/quic/transport.js'

const YEAR = 365 * 24 * 60 * 60 * 1000

describe('QUIC transport: verified certificates', () => {
  afterEach(() => { vi.useRealTimers() })

  it('the same certificate again gives the remembered peer (one verification)', () => {
    const v = new VerifiedCertificates()
    const identity = generateEd25519()
    const chain = generateLibp2pCredential(identity).chain
    const first = v.verify(chain)
    expect(first.info.peerId.equals(PeerId.fromPublicKey(identity.publicKey))).toBe(true)
    expect(v.verify(chain.map(c => c.slice()))).toBe(first)
    expect(v.size).toBe(1)
  })

  it('a remembered certificate past its validity is refused (certificate_expired)', () => {
    const v = new VerifiedCertificates()
    const chain = generateLibp2pCredential(generateEd25519()).chain
    v.verify(chain)
    vi.useFakeTimers()
    vi.setSystemTime(Date.now() + 101 * YEAR)
    expect(() => v.verify(chain)).toThrow(expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' }))
  })

  it('a certificate that does not verify is refused each time and not remembered', () => {
    const v = new VerifiedCertificates()
    const cert = (generateLibp2pCredential(generateEd25519()).chain[0] as Uint8Array).slice()
    cert[cert.length - 5] = (cert[cert.length - 5] as number) ^ 0xff // inside the self-signature
    for (let i = 0; i < 2; i++) {
      expect(() => v.verify([cert])).toThrow(expect.objectContaining({ code: 'ERR_TLS_BAD_CERTIFICATE' }))
    }
    expect(v.size).toBe(0)
    expect(() => v.verify([])).toThrow()
  })

  it(`remembers at most ${VERIFIED_CERTIFICATES}, the least recently used go first`, () => {
    const v = new VerifiedCertificates()
    const make = (): readonly Uint8Array[] => generateLibp2pCredential(generateEd25519()).chain
    const chains = Array.from({ length: VERIFIED_CERTIFICATES + 1 }, make)
    const first = v.verify(chains[0]!)
    for (const c of chains.slice(1, -1)) v.verify(c)
    v.verify(chains[0]!) // used again: now the most recent
    v.verify(chains[VERIFIED_CERTIFICATES]!)
    expect(v.size).toBe(VERIFIED_CERTIFICATES)
    expect(v.verify(chains[0]!)).toBe(first)
  })
})
