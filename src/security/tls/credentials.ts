/**
 * What a libp2p TLS endpoint keeps across connections, shared by `/tls/1.0.0` over TCP/WS
 * (connection.ts) and QUIC (transport/quic/transport.ts):
 *
 *  - ours: one certificate per identity (Libp2pCredentials). tls.md §"Peer Authentication":
 *    endpoints "MAY reuse the same key and certificate for multiple connections", as go-libp2p does
 *    (p2p/security/tls NewIdentity); making one costs a P-256 key pair and two signatures. It "MUST
 *    have NotBefore and NotAfter fields set such that the certificate is valid at the time it is
 *    received by the peer", so it is renewed a day before it expires and when the clock went back
 *    before it was made.
 *  - theirs: certificates verified before, by their bytes (VerifiedCertificates). Peers keep theirs
 *    too, so the self-signature, the extension's host-key signature and the key parsing are done
 *    once; the validity period is checked on every use, a failure is never remembered.
 *
 * Neither replaces CertificateVerify: every handshake still proves possession of the certificate
 * key over that handshake's transcript (RFC 8446 §4.4.3), so a copied certificate is worth nothing.
 */
import type { PrivateKey } from '../keys.js'
import { generateLibp2pCredential, verifyLibp2pCertificate } from './certificate.js'
import type { TlsCredential } from './handshake.js'
import { parseCertificate } from './x509.js'

/**
 * Our certificate is renewed once it has less than this left: peers whose clocks run ahead of ours
 * would refuse it first (its validity is a century, certificate.ts, so this is a formality).
 */
export const CERTIFICATE_RENEW_BEFORE_MS = 24 * 60 * 60 * 1000

/** Certificates remembered as verified (VerifiedCertificates). */
export const VERIFIED_CERTIFICATES = 64

export type VerifiedPeer = ReturnType<typeof verifyLibp2pCertificate>

interface OwnCertificate { credential: TlsCredential, madeAt: number, notAfter: number }

/** One libp2p certificate per identity, made on first use and renewed near its end. */
export class Libp2pCredentials {
  private readonly own = new WeakMap<PrivateKey, OwnCertificate>()
  private readonly generate: (identity: PrivateKey, now: number) => TlsCredential

  constructor (generate: (identity: PrivateKey, now: number) => TlsCredential = generateLibp2pCredential) {
    this.generate = generate
  }

  get (identity: PrivateKey, now = Date.now()): TlsCredential {
    const c = this.own.get(identity)
    // a clock set back before the certificate was made: a new one gets the full not-before margin again
    if (c !== undefined && now >= c.madeAt && now <= c.notAfter - CERTIFICATE_RENEW_BEFORE_MS) return c.credential
    const credential = this.generate(identity, now)
    const { notAfter } = parseCertificate(credential.chain[0] ?? new Uint8Array(0))
    this.own.set(identity, { credential, madeAt: now, notAfter })
    return credential
  }
}

/**
 * libp2p certificates verified before, by their bytes, at most VERIFIED_CERTIFICATES of them (the
 * least recently used go first). A hit is used only within the certificate's validity period; out
 * of it, the certificate is verified (and refused) in full again.
 */
export class VerifiedCertificates {
  private readonly entries = new Map<string, VerifiedPeer>()

  get size (): number { return this.entries.size }

  verify (chain: readonly Uint8Array[], now = Date.now()): VerifiedPeer {
    const cert = chain[0]
    if (chain.length !== 1 || cert === undefined) return verifyLibp2pCertificate(chain, now)
    const key = Buffer.from(cert.buffer, cert.byteOffset, cert.length).toString('latin1')
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.entries.delete(key)
      if (now >= hit.notBefore && now <= hit.notAfter) {
        this.entries.set(key, hit)
        return hit
      }
    }
    const peer = verifyLibp2pCertificate(chain, now) // throws: nothing remembered
    this.entries.set(key, peer)
    if (this.entries.size > VERIFIED_CERTIFICATES) this.entries.delete(this.entries.keys().next().value as string)
    return peer
  }
}
