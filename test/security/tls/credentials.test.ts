/**
 * What a libp2p TLS endpoint keeps across connections (src/security/tls/credentials.ts), shared by
 * `/tls/1.0.0` and QUIC: our certificate, one per identity and renewed near its end; the peers'
 * certificates verified before, which skip the signature checks but never their validity period,
 * while a bad one is refused every time and never remembered. Over TCP: the memo does not stand in
 * for CertificateVerify (node-tls.test.ts shows the certificate kept across connections).
 */
import crypto from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SecuredConnection } from '../../../src/connection.js'
import { generateEd25519 } from '../../../src/security/keys.js'
import type { PrivateKey } from '../../../src/security/keys.js'
import { PeerId } from '../../../src/security/peer-id.js'
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../../src/security/tls/certificate.js'
import { tlsSecurity } from '../../../src/security/tls/connection.js'
import {
  CERTIFICATE_RENEW_BEFORE_MS,
  Libp2pCredentials,
  VERIFIED_CERTIFICATES,
  VerifiedCertificates
} from '../../../src/security/tls/credentials.js'
import type { TlsCredential } from '../../../src/security/tls/handshake.js'
import { parseCertificate } from '../../../src/security/tls/x509.js'
import { dial, listen } from '../../../src/transport/tcp.js'
import type { TcpConnection } from '../../../src/transport/tcp.js'

const YEAR = 365 * 24 * 60 * 60 * 1000
/** A whole second: X.509 times have second precision. */
const T0 = Date.UTC(2026, 11, 6, 5, 0, 0)

function counting (): { generate: (id: PrivateKey, now: number) => TlsCredential, made: () => number } {
  let n = 0
  return {
    generate: (id, now) => { n++; return generateLibp2pCredential(id, now) },
    made: () => n
  }
}

const notAfterOf = (c: TlsCredential): number => parseCertificate(c.chain[0] as Uint8Array).notAfter

describe('Libp2pCredentials: our certificate', () => {
  it('one certificate per identity, made once and reused', () => {
    const g = counting()
    const creds = new Libp2pCredentials(g.generate)
    const identity = generateEd25519()
    const first = creds.get(identity, T0)
    expect(creds.get(identity, T0 + 1000)).toBe(first)
    expect(creds.get(identity, T0 + 50 * YEAR)).toBe(first)
    expect(g.made()).toBe(1)
    const peer = verifyLibp2pCertificate(first.chain, T0)
    expect(peer.info.peerId.equals(PeerId.fromPublicKey(identity.publicKey))).toBe(true)
  })

  it('another identity gets another certificate, bound to it', () => {
    const creds = new Libp2pCredentials()
    const [a, b] = [generateEd25519(), generateEd25519()]
    const ca = creds.get(a, T0)
    const cb = creds.get(b, T0)
    expect(Buffer.from(cb.chain[0] as Uint8Array).equals(Buffer.from(ca.chain[0] as Uint8Array))).toBe(false)
    expect(verifyLibp2pCertificate(cb.chain, T0).info.peerId.equals(PeerId.fromPublicKey(b.publicKey))).toBe(true)
    expect(creds.get(a, T0)).toBe(ca)
  })

  it(`renewed once less than ${CERTIFICATE_RENEW_BEFORE_MS} ms of validity is left (fake clock)`, () => {
    const g = counting()
    const creds = new Libp2pCredentials(g.generate)
    const identity = generateEd25519()
    const first = creds.get(identity, T0)
    const renewAt = notAfterOf(first) - CERTIFICATE_RENEW_BEFORE_MS
    expect(creds.get(identity, renewAt - 1000)).toBe(first)
    expect(creds.get(identity, renewAt)).toBe(first)
    const second = creds.get(identity, renewAt + 1000)
    expect(second).not.toBe(first)
    expect(g.made()).toBe(2)
    expect(notAfterOf(second)).toBeGreaterThan(notAfterOf(first))
    // valid for a peer whose clock agrees with ours, and then kept
    expect(verifyLibp2pCertificate(second.chain, renewAt + 1000).info.peerId.equals(
      PeerId.fromPublicKey(identity.publicKey))).toBe(true)
    expect(creds.get(identity, renewAt + 2000)).toBe(second)
  })

  it('renewed when the clock went back before the certificate was made', () => {
    const g = counting()
    const creds = new Libp2pCredentials(g.generate)
    const identity = generateEd25519()
    const first = creds.get(identity, T0)
    const earlier = creds.get(identity, T0 - 3 * 60 * 60 * 1000)
    expect(earlier).not.toBe(first)
    expect(() => verifyLibp2pCertificate(first.chain, T0 - 3 * 60 * 60 * 1000)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' }))
    expect(verifyLibp2pCertificate(earlier.chain, T0 - 3 * 60 * 60 * 1000)).toBeDefined()
    expect(g.made()).toBe(2)
  })
})

describe('VerifiedCertificates: the peers\' certificates', () => {
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

  it('a remembered certificate past its validity is refused (certificate_expired), and forgotten', () => {
    const v = new VerifiedCertificates()
    const chain = generateLibp2pCredential(generateEd25519(), T0).chain
    const first = v.verify(chain, T0)
    const end = parseCertificate(chain[0] as Uint8Array).notAfter
    expect(v.verify(chain, end)).toBe(first) // inclusive (RFC 5280 §4.1.2.5)
    expect(() => v.verify(chain, end + 1)).toThrow(expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' }))
    expect(v.size).toBe(0)
  })

  it('a remembered certificate before its validity is refused', () => {
    const v = new VerifiedCertificates()
    const chain = generateLibp2pCredential(generateEd25519(), T0).chain
    v.verify(chain, T0)
    const start = parseCertificate(chain[0] as Uint8Array).notBefore
    expect(() => v.verify(chain, start - 1)).toThrow(expect.objectContaining({ code: 'ERR_TLS_CERTIFICATE_EXPIRED' }))
  })

  it('defaults to the system clock', () => {
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

  it('a good certificate remembered does not vouch for a tampered copy', () => {
    const v = new VerifiedCertificates()
    const chain = generateLibp2pCredential(generateEd25519()).chain
    v.verify(chain)
    const cert = (chain[0] as Uint8Array).slice()
    cert[cert.length - 5] = (cert[cert.length - 5] as number) ^ 0xff
    expect(() => v.verify([cert])).toThrow(expect.objectContaining({ code: 'ERR_TLS_BAD_CERTIFICATE' }))
    expect(v.size).toBe(1)
  })

  it(`remembers at most ${VERIFIED_CERTIFICATES}, the least recently used go first`, () => {
    const v = new VerifiedCertificates()
    const make = (): readonly Uint8Array[] => generateLibp2pCredential(generateEd25519()).chain
    const chains = Array.from({ length: VERIFIED_CERTIFICATES + 1 }, make)
    const first = v.verify(chains[0]!)
    const second = v.verify(chains[1]!)
    for (const c of chains.slice(2, -1)) v.verify(c)
    v.verify(chains[0]!) // used again: now the most recent
    v.verify(chains[VERIFIED_CERTIFICATES]!)
    expect(v.size).toBe(VERIFIED_CERTIFICATES)
    expect(v.verify(chains[0]!)).toBe(first)
    expect(v.verify(chains[1]!)).not.toBe(second) // evicted: verified afresh
  })
})

describe('/tls/1.0.0 over TCP: what one tlsSecurity() keeps', () => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

  async function pair (
    client: ReturnType<typeof tlsSecurity>,
    clientId: PrivateKey,
    server: ReturnType<typeof tlsSecurity>,
    serverId: PrivateKey
  ): Promise<PromiseSettledResult<SecuredConnection>[]> {
    let accepted: (c: TcpConnection) => void = () => {}
    const inbound = new Promise<TcpConnection>(resolve => { accepted = resolve })
    const l = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: c => { cleanups.push(() => c.abort()); accepted(c) } })
    cleanups.push(async () => await l.close())
    const out = await dial(l.multiaddrs[0]!.toString())
    cleanups.push(() => out.abort())
    const opts = { muxers: ['/yamux/1.0.0'], handshakeTimeoutMs: 5000 }
    return await Promise.allSettled([
      client.secureOutbound(out, { identity: clientId, ...opts }),
      server.secureInbound(await inbound, { identity: serverId, ...opts })
    ])
  }

  it('a remembered certificate without its key fails CertificateVerify (RFC 8446 §4.4.3)', async () => {
    const server = tlsSecurity()
    const [serverId, aliceId] = [generateEd25519(), generateEd25519()]
    const alice = generateLibp2pCredential(aliceId)
    const honest = await pair(tlsSecurity({ credential: () => alice }), aliceId, server, serverId)
    expect(honest.map(r => r.status)).toEqual(['fulfilled', 'fulfilled'])
    // the same certificate bytes (a hit in the listener's memo), another P-256 key signing
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const thief = tlsSecurity({ credential: () => ({ chain: alice.chain, privateKey }) })
    // (the client is done once its Finished is out, RFC 8446 §2: only the listener's verdict counts)
    const s = (await pair(thief, generateEd25519(), server, serverId))[1]
    expect(s?.status).toBe('rejected')
    expect(s?.status === 'rejected' ? s.reason : undefined).toMatchObject({ code: 'ERR_TLS_DECRYPT_ERROR' })
  })
})
