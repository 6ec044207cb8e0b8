/**
 * The libp2p TLS certificate (libp2p specs tls/tls.md §"Peer Authentication"):
 *
 *  - ours: a fresh ECDSA P-256 key (never the host key), a self-signed certificate carrying the
 *    libp2p Public Key Extension (OID 1.3.6.1.4.1.53594.1.1, critical, like go-libp2p) whose value is
 *      SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }
 *    with publicKey = the host key's `PublicKey` protobuf and signature = host key signing
 *    "libp2p-tls-handshake:" ‖ DER(SubjectPublicKeyInfo). (The spec's ASN.1 says BIT STRING; go,
 *    rust and js all write OCTET STRING, as its test vectors do. We read both.)
 *  - theirs: exactly one certificate; no issuer/subjectUniqueID; valid now; self-signature valid;
 *    the extension found at any position, critical or not; any other critical extension we do not
 *    understand → abort; the host key signature valid; the peer id is derived from the host key.
 */
import crypto from 'node:crypto'
import { TlsError, toError } from '../../errors.js'
import { unmarshalPublicKey, keyTypeName } from '../keys.js'
import type { PrivateKey, PublicKey } from '../keys.js'
import { PeerId } from '../peer-id.js'
import { AlertDescription, LIBP2P_EXTENSION_OID, LIBP2P_SIGNATURE_PREFIX } from './constants.js'
import { decodeBitString, der, DerReader, readSequence, Tag } from './der.js'
import type { TlsCredential } from './handshake.js'
import {
  certificatePublicKey,
  buildSelfSignedCertificate,
  OID,
  parseCertificate,
  verifyCertificateSignature
} from './x509.js'
import { tlsError } from './wire.js'

/** go-libp2p: valid from one hour ago for 100 years (clock skew, long-lived connections). */
const NOT_BEFORE_SKEW_MS = 60 * 60 * 1000
const VALIDITY_MS = 100 * 365 * 24 * 60 * 60 * 1000

/** Extensions whose critical flag we can honour: basicConstraints, keyUsage, extKeyUsage, subjectAltName. */
const UNDERSTOOD_CRITICAL = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', LIBP2P_EXTENSION_OID])

const prefix = new TextEncoder().encode(LIBP2P_SIGNATURE_PREFIX)

export interface Libp2pPeer {
  peerId: PeerId
  hostKey: PublicKey
  /** Key type name of the host key (`Ed25519`, `Secp256k1`, `ECDSA`, `RSA`). */
  keyType: string
}

function signedMessage (spki: Uint8Array): Uint8Array {
  const m = new Uint8Array(prefix.length + spki.length)
  m.set(prefix, 0)
  m.set(spki, prefix.length)
  return m
}

/** A fresh certificate key and self-signed certificate for `identity` (kept per identity: credentials.ts). */
export function generateLibp2pCredential (identity: PrivateKey, now = Date.now()): TlsCredential {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const spki = new Uint8Array(crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'der' }))
  const signedKey = der.sequence(
    der.octetString(identity.publicKey.bytes()),
    der.octetString(identity.sign(signedMessage(spki)))
  )
  const serial = crypto.randomBytes(8)
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01
  const cert = buildSelfSignedCertificate({
    privateKey,
    serialNumber: serial,
    notBefore: now - NOT_BEFORE_SKEW_MS,
    notAfter: now + VALIDITY_MS,
    extensions: [{ oid: LIBP2P_EXTENSION_OID, critical: true, value: signedKey }]
  })
  return { chain: [cert], privateKey }
}

function bad (detail: string, cause?: unknown): TlsError {
  return tlsError(
    'ERR_TLS_BAD_CERTIFICATE',
    AlertDescription.bad_certificate,
    `tls: libp2p certificate: ${detail}`,
    cause
  )
}

/** SignedKey's fields: OCTET STRING (what implementations write) or BIT STRING (the spec's ASN.1). */
function octetsOrBits (r: DerReader, what: string): Uint8Array {
  const tag = r.peekTag()
  if (tag === Tag.OCTET_STRING) return r.next(Tag.OCTET_STRING, what).value
  return decodeBitString(r.next(Tag.BIT_STRING, what).value)
}

/**
 * Verify a peer's chain per tls.md; returns the certificate key (for CertificateVerify), the
 * libp2p identity and the validity period (ms since the epoch, inclusive). TlsError:
 * bad_certificate, certificate_expired, unsupported_certificate.
 */
export function verifyLibp2pCertificate (
  chain: readonly Uint8Array[],
  now = Date.now()
): { publicKey: crypto.KeyObject, info: Libp2pPeer, notBefore: number, notAfter: number } {
  if (chain.length !== 1) {
    throw bad(`expected exactly one certificate, got ${chain.length} (tls.md: MUST NOT send a chain)`)
  }
  const cert = parseCertificate(chain[0] as Uint8Array)
  if (cert.hasUniqueIds) throw bad('issuerUniqueID / subjectUniqueID present (tls.md: MUST omit)')
  if (now < cert.notBefore || now > cert.notAfter) {
    throw tlsError(
      'ERR_TLS_CERTIFICATE_EXPIRED',
      AlertDescription.certificate_expired,
      `tls: libp2p certificate: valid ${new Date(cert.notBefore).toISOString()} .. ${
        new Date(cert.notAfter).toISOString()
      }, now is ${new Date(now).toISOString()}`
    )
  }
  const publicKey = certificatePublicKey(cert)
  if (cert.keyAlgorithm === OID.ecPublicKey && cert.keyParameters === undefined) {
    throw bad('EC key parameters are not a named curve')
  }
  if (!verifyCertificateSignature(cert, publicKey)) throw bad('the self-signature does not verify')
  let ext: Uint8Array | undefined
  for (const e of cert.extensions) {
    if (e.oid === LIBP2P_EXTENSION_OID) ext = e.value
    else if (e.critical && !UNDERSTOOD_CRITICAL.has(e.oid)) {
      throw tlsError(
        'ERR_TLS_UNSUPPORTED_CERTIFICATE',
        AlertDescription.unsupported_certificate,
        `tls: libp2p certificate: unknown critical extension ${e.oid} (tls.md: MUST abort)`
      )
    }
  }
  if (ext === undefined) throw bad(`the libp2p Public Key Extension (${LIBP2P_EXTENSION_OID}) is missing`)
  const outer = new DerReader(ext)
  const sk = readSequence(outer.next(Tag.SEQUENCE, 'SignedKey'))
  outer.end('SignedKey')
  const keyBytes = octetsOrBits(sk, 'SignedKey.publicKey')
  const signature = octetsOrBits(sk, 'SignedKey.signature')
  sk.end('SignedKey')
  let hostKey: PublicKey
  try {
    hostKey = unmarshalPublicKey(keyBytes)
  } catch (err) {
    throw bad(`SignedKey.publicKey: ${toError(err).message}`, err)
  }
  if (!hostKey.verify(signedMessage(cert.spki), signature)) {
    throw tlsError(
      'ERR_TLS_BAD_CERTIFICATE',
      AlertDescription.bad_certificate,
      `tls: bad signature in the libp2p certificate extension: the ${
        keyTypeName(hostKey.type)
      } host key signature over "${LIBP2P_SIGNATURE_PREFIX}" ‖ SubjectPublicKeyInfo does not verify`
    )
  }
  return {
    publicKey,
    info: { peerId: PeerId.fromPublicKey(hostKey), hostKey, keyType: keyTypeName(hostKey.type) },
    notBefore: cert.notBefore,
    notAfter: cert.notAfter
  }
}
