/**
 * X.509 v3 certificates (RFC 5280 §4.1), only as far as libp2p TLS needs: parse the structure,
 * check the self-signature, and build a self-signed certificate. No chains, no name checks.
 *
 *   Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber, signature, issuer,
 *       validity { notBefore, notAfter }, subject, subjectPublicKeyInfo,
 *       issuerUniqueID [1] IMPLICIT OPTIONAL, subjectUniqueID [2] IMPLICIT OPTIONAL,
 *       extensions [3] EXPLICIT SEQUENCE OF Extension OPTIONAL }
 *   Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 */
import crypto from 'node:crypto'
import { AlertDescription } from './constants.js'
import {
  checkInteger,
  contextTag,
  decodeBitString,
  decodeBoolean,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  der,
  derError,
  DerReader,
  readSequence,
  Tag
} from './der.js'
import type { DerNode } from './der.js'
import { tlsError } from './wire.js'

export interface X509Extension {
  oid: string
  critical: boolean
  value: Uint8Array
}

export interface X509Certificate {
  /** The whole DER. */
  raw: Uint8Array
  /** The DER of TBSCertificate (what the signature covers). */
  tbs: Uint8Array
  version: number
  serialNumber: Uint8Array
  signatureAlgorithm: string
  issuer: Uint8Array
  subject: Uint8Array
  notBefore: number
  notAfter: number
  /** The DER of SubjectPublicKeyInfo. */
  spki: Uint8Array
  /** SubjectPublicKeyInfo.algorithm OID, and its parameters' OID (named curve) when there is one. */
  keyAlgorithm: string
  keyParameters: string | undefined
  hasUniqueIds: boolean
  extensions: X509Extension[]
  signature: Uint8Array
}

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  prime256v1: '1.2.840.10045.3.1.7'
} as const

function algorithmIdentifier (node: DerNode, what: string): { oid: string, params: DerNode | undefined } {
  const r = readSequence(node)
  const oid = decodeOid(r.next(Tag.OID, `${what} algorithm`).value)
  const params = r.done ? undefined : r.next(undefined, `${what} parameters`)
  r.end(what)
  return { oid, params }
}

export function parseCertificate (bytes: Uint8Array): X509Certificate {
  const top = new DerReader(bytes)
  const cert = top.next(Tag.SEQUENCE, 'Certificate')
  top.end('Certificate')
  const c = readSequence(cert)
  const tbsNode = c.next(Tag.SEQUENCE, 'tbsCertificate')
  const sigAlg = algorithmIdentifier(c.next(Tag.SEQUENCE, 'signatureAlgorithm'), 'signatureAlgorithm')
  const signature = decodeBitString(c.next(Tag.BIT_STRING, 'signatureValue').value)
  c.end('Certificate')

  const t = readSequence(tbsNode)
  let version = 1
  const v = t.optional(contextTag(0), 'version')
  if (v !== undefined) {
    const vr = new DerReader(v.value)
    version = decodeSmallInteger(vr.next(Tag.INTEGER, 'version').value) + 1
    vr.end('version')
  }
  const serialNumber = checkInteger(t.next(Tag.INTEGER, 'serialNumber').value)
  const innerAlg = algorithmIdentifier(t.next(Tag.SEQUENCE, 'signature'), 'signature')
  if (innerAlg.oid !== sigAlg.oid) {
    throw derError('tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2)')
  }
  const issuer = t.next(Tag.SEQUENCE, 'issuer').raw
  const validity = readSequence(t.next(Tag.SEQUENCE, 'validity'))
  const notBefore = decodeTime(validity.next(undefined, 'notBefore'))
  const notAfter = decodeTime(validity.next(undefined, 'notAfter'))
  validity.end('validity')
  const subject = t.next(Tag.SEQUENCE, 'subject').raw
  const spkiNode = t.next(Tag.SEQUENCE, 'subjectPublicKeyInfo')
  const spkiReader = readSequence(spkiNode)
  const keyAlg = algorithmIdentifier(
    spkiReader.next(Tag.SEQUENCE, 'subjectPublicKeyInfo.algorithm'),
    'subjectPublicKeyInfo.algorithm'
  )
  decodeBitString(spkiReader.next(Tag.BIT_STRING, 'subjectPublicKey').value)
  spkiReader.end('subjectPublicKeyInfo')
  let hasUniqueIds = false
  if (t.optional(contextTag(1, false)) !== undefined) hasUniqueIds = true
  if (t.optional(contextTag(2, false)) !== undefined) hasUniqueIds = true
  const extensions: X509Extension[] = []
  const extNode = t.optional(contextTag(3), 'extensions')
  if (extNode !== undefined) {
    const outer = new DerReader(extNode.value)
    const list = readSequence(outer.next(Tag.SEQUENCE, 'extensions'))
    outer.end('extensions')
    const seen = new Set<string>()
    while (!list.done) {
      const e = readSequence(list.next(Tag.SEQUENCE, 'Extension'))
      const oid = decodeOid(e.next(Tag.OID, 'extnID').value)
      const crit = e.optional(Tag.BOOLEAN, 'critical')
      const value = e.next(Tag.OCTET_STRING, 'extnValue').value
      e.end('Extension')
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (seen.has(oid)) throw derError(`extension ${oid} appears twice`)
      seen.add(oid)
      extensions.push({ oid, critical: crit === undefined ? false : decodeBoolean(crit.value), value })
    }
  }
  t.end('tbsCertificate')
  let keyParameters: string | undefined
  if (keyAlg.params !== undefined && keyAlg.params.tag === Tag.OID) keyParameters = decodeOid(keyAlg.params.value)
  return {
    raw: bytes,
    tbs: tbsNode.raw,
    version,
    serialNumber,
    signatureAlgorithm: sigAlg.oid,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: spkiNode.raw,
    keyAlgorithm: keyAlg.oid,
    keyParameters,
    hasUniqueIds,
    extensions,
    signature
  }
}

/** The certificate's public key as a KeyObject; EC keys must use a named curve (tls.md). */
export function certificatePublicKey (cert: X509Certificate): crypto.KeyObject {
  if (cert.keyAlgorithm === OID.ecPublicKey && cert.keyParameters === undefined) {
    throw tlsError(
      'ERR_TLS_BAD_CERTIFICATE',
      AlertDescription.bad_certificate,
      'EC key without the NamedCurve encoding (tls.md: MUST abort)'
    )
  }
  try {
    return crypto.createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' })
  } catch (err) {
    throw tlsError(
      'ERR_TLS_UNSUPPORTED_CERTIFICATE',
      AlertDescription.unsupported_certificate,
      `certificate key (${cert.keyAlgorithm}) cannot be used`,
      err
    )
  }
}

/** Hash per signature algorithm; SHA-1/MD5 are refused (tls.md: output < 256 bits MUST NOT be used). */
const SIGNATURE_HASH: Readonly<Record<string, string | null>> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
  [OID.ed25519]: null
}

/** Does `issuerKey` sign this certificate? */
export function verifyCertificateSignature (cert: X509Certificate, issuerKey: crypto.KeyObject): boolean {
  const hash = SIGNATURE_HASH[cert.signatureAlgorithm]
  if (hash === undefined) {
    throw tlsError(
      'ERR_TLS_UNSUPPORTED_CERTIFICATE',
      AlertDescription.unsupported_certificate,
      `certificate signature algorithm ${cert.signatureAlgorithm} is not supported`
    )
  }
  try {
    const isEc = cert.signatureAlgorithm.startsWith('1.2.840.10045.4.3.')
    return crypto.verify(hash, cert.tbs, isEc ? { key: issuerKey, dsaEncoding: 'der' } : issuerKey, cert.signature)
  } catch {
    return false
  }
}

/** A self-signed ECDSA P-256 certificate (ecdsa-with-SHA256), empty names, the given extensions. */
export function buildSelfSignedCertificate (opts: {
  privateKey: crypto.KeyObject
  serialNumber: Uint8Array
  notBefore: number
  notAfter: number
  extensions: readonly X509Extension[]
}): Uint8Array {
  const spki = new Uint8Array(crypto.createPublicKey(opts.privateKey).export({ type: 'spki', format: 'der' }))
  const alg = der.sequence(der.oid(OID.ecdsaWithSha256))
  const emptyName = der.sequence()
  const exts = opts.extensions.map(e =>
    der.sequence(der.oid(e.oid), ...(e.critical ? [der.boolean(true)] : []), der.octetString(e.value))
  )
  const tbs = der.sequence(
    der.explicit(0, der.small(2)), // v3
    der.unsignedInteger(opts.serialNumber),
    alg,
    emptyName,
    der.sequence(der.time(opts.notBefore), der.time(opts.notAfter)),
    emptyName,
    spki,
    der.explicit(3, der.sequence(...exts))
  )
  const signature = new Uint8Array(crypto.sign('sha256', tbs, { key: opts.privateKey, dsaEncoding: 'der' }))
  return der.sequence(tbs, alg, der.bitString(signature))
}
