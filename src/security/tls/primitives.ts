/**
 * node:crypto primitives for TLS 1.3: (EC)DHE key shares (RFC 8446 §4.2.8.2, §7.4), record
 * protection (§5.2, §5.3) and CertificateVerify signature schemes (§4.2.3).
 */
import crypto from 'node:crypto'
import { TlsError } from '../../errors.js'
import {
  AEAD_TAG_LENGTH,
  AlertDescription,
  ContentType,
  MAX_CIPHERTEXT_LENGTH,
  NamedGroup,
  RECORD_HEADER_LENGTH,
  SignatureScheme
} from './constants.js'
import { trafficKeys } from './key-schedule.js'
import type { SuiteParams } from './key-schedule.js'
import { tlsError } from './wire.js'
import { okpPrivateKey, okpPublicBytes, okpPublicKey, okpRandomPrivate } from '../okp.js'

// ── key shares ──────────────────────────────────────────────────────────────────────────────────

export interface KeyShare {
  readonly group: NamedGroup
  /** `key_exchange` as sent: X25519 32 bytes; secp256r1 the uncompressed point (65 bytes, §4.2.8.2). */
  readonly publicKey: Uint8Array
  /** The shared secret with the peer's `key_exchange`; TlsError illegal_parameter for a bad share. */
  computeSharedSecret: (peer: Uint8Array) => Uint8Array
}

function badShare (group: NamedGroup, detail: string, cause?: unknown): TlsError {
  return tlsError(
    'ERR_TLS_ILLEGAL_PARAMETER',
    AlertDescription.illegal_parameter,
    `key_share ${NamedGroup[group]}: ${detail}`,
    cause
  )
}

/** A fresh (or, for vectors, a given) ephemeral key for `group`. */
export function generateKeyShare (group: NamedGroup, privateKey?: Uint8Array): KeyShare {
  if (group === NamedGroup.x25519) {
    // random bytes imported as JWK, not generateKeyPairSync (which can hang the process) nor DER
    // (10x slower to import on Node 20): okp.ts
    const priv = okpPrivateKey('X25519', privateKey ?? okpRandomPrivate())
    const publicKey = okpPublicBytes(priv)
    return {
      group,
      publicKey,
      computeSharedSecret (peer) {
        if (peer.length !== 32) throw badShare(group, `expected 32 bytes, got ${peer.length}`)
        const pub = okpPublicKey('X25519', peer)
        const shared = new Uint8Array(crypto.diffieHellman({ privateKey: priv, publicKey: pub }))
        // RFC 8446 §7.4.2: an all-zero X25519 output MUST be rejected.
        if (shared.every(b => b === 0)) throw badShare(group, 'the shared secret is all zeros (low-order point)')
        return shared
      }
    }
  }
  if (group === NamedGroup.secp256r1) {
    const ecdh = crypto.createECDH('prime256v1')
    if (privateKey === undefined) ecdh.generateKeys()
    else ecdh.setPrivateKey(privateKey)
    return {
      group,
      publicKey: new Uint8Array(ecdh.getPublicKey(null, 'uncompressed')),
      computeSharedSecret (peer) {
        if (peer.length !== 65 || peer[0] !== 4) {
          throw badShare(group, `expected an uncompressed point (65 bytes, 0x04 …), got ${peer.length} bytes`)
        }
        try {
          return new Uint8Array(ecdh.computeSecret(peer))
        } catch (err) {
          throw badShare(group, 'not a point on the curve', err)
        }
      }
    }
  }
  throw new RangeError(`key share for group 0x${(group as number).toString(16)} is not implemented`)
}

// ── record protection ───────────────────────────────────────────────────────────────────────────

/**
 * One direction's AEAD state (RFC 8446 §5.2, §5.3): key, iv and the 64-bit record sequence
 * number. The per-record nonce is iv XOR (seq left-padded to iv length); the additional data is
 * the record header `opaque_type(23) ‖ 0x0303 ‖ length`.
 */
export class RecordCipher {
  readonly params: SuiteParams
  readonly secret: Uint8Array
  private readonly key: Uint8Array
  private readonly iv: Uint8Array
  /** Records sealed or opened under this key. */
  seq = 0

  constructor (params: SuiteParams, secret: Uint8Array) {
    this.params = params
    this.secret = secret
    const k = trafficKeys(params, secret)
    this.key = k.key
    this.iv = k.iv
  }

  private nonce (): Uint8Array {
    const n = Uint8Array.from(this.iv)
    let s = this.seq
    for (let i = n.length - 1; i >= n.length - 8 && s > 0; i--) {
      n[i] = (n[i] as number) ^ (s % 256)
      s = Math.floor(s / 256)
    }
    return n
  }

  /**
   * TLSCiphertext for `content` of `type` (TLSInnerPlaintext = content ‖ type ‖ zeros). `parts`
   * are encrypted in order without being concatenated first.
   */
  seal (type: ContentType, parts: readonly Uint8Array[], padding = 0): Uint8Array {
    let contentLength = 0
    for (const p of parts) contentLength += p.length
    const length = contentLength + 1 + padding + AEAD_TAG_LENGTH
    const out = new Uint8Array(RECORD_HEADER_LENGTH + length)
    out[0] = ContentType.ApplicationData
    out[1] = 3
    out[2] = 3
    out[3] = length >>> 8
    out[4] = length & 0xff
    const cipher = crypto.createCipheriv(this.params.aead as crypto.CipherGCMTypes, this.key, this.nonce(), {
      authTagLength: AEAD_TAG_LENGTH
    }) as crypto.CipherGCM
    cipher.setAAD(out.subarray(0, RECORD_HEADER_LENGTH))
    let o = RECORD_HEADER_LENGTH
    for (const p of parts) { const c = cipher.update(p); out.set(c, o); o += c.length }
    const trailer = new Uint8Array(1 + padding)
    trailer[0] = type
    const c = cipher.update(trailer); out.set(c, o); o += c.length
    const f = cipher.final(); out.set(f, o); o += f.length
    out.set(cipher.getAuthTag(), o)
    this.seq++
    return out
  }

  /** Decrypt one record (`header` = its 5 bytes, `body` = encrypted_record); the inner type and content. */
  open (header: Uint8Array, body: Uint8Array): { type: ContentType, content: Uint8Array } {
    if (body.length < AEAD_TAG_LENGTH + 1 || body.length > MAX_CIPHERTEXT_LENGTH) {
      throw tlsError(
        'ERR_TLS_BAD_RECORD_MAC',
        AlertDescription.bad_record_mac,
        `encrypted record of ${body.length} bytes cannot hold a tag and a content type`
      )
    }
    const decipher = crypto.createDecipheriv(this.params.aead as crypto.CipherGCMTypes, this.key, this.nonce(), {
      authTagLength: AEAD_TAG_LENGTH
    }) as crypto.DecipherGCM
    decipher.setAAD(header)
    decipher.setAuthTag(body.subarray(body.length - AEAD_TAG_LENGTH))
    let plain: Uint8Array
    try {
      const a = decipher.update(body.subarray(0, body.length - AEAD_TAG_LENGTH))
      const b = decipher.final()
      plain = b.length === 0 ? new Uint8Array(a.buffer, a.byteOffset, a.length) : new Uint8Array(Buffer.concat([a, b]))
    } catch (err) {
      throw tlsError(
        'ERR_TLS_BAD_RECORD_MAC',
        AlertDescription.bad_record_mac,
        `record ${this.seq} failed authentication (RFC 8446 §5.2)`,
        err
      )
    }
    this.seq++
    // §5.4: the content type is the last non-zero byte; all zeros → unexpected_message.
    let i = plain.length - 1
    while (i >= 0 && plain[i] === 0) i--
    if (i < 0) {
      throw tlsError(
        'ERR_TLS_UNEXPECTED_MESSAGE',
        AlertDescription.unexpected_message,
        'TLSInnerPlaintext has no non-zero content type (RFC 8446 §5.4)'
      )
    }
    if (i > (1 << 14)) {
      throw tlsError(
        'ERR_TLS_RECORD_OVERFLOW',
        AlertDescription.record_overflow,
        `"TLSInnerPlaintext content" expected <= 16384 bytes, got ${i}`
      )
    }
    return { type: plain[i] as ContentType, content: plain.subarray(0, i) }
  }
}

// ── signatures ──────────────────────────────────────────────────────────────────────────────────

/** The scheme that fits `key`, for signing our CertificateVerify. */
export function schemeForKey (key: crypto.KeyObject): SignatureScheme | undefined {
  switch (key.asymmetricKeyType) {
    case 'ed25519': return SignatureScheme.ed25519
    case 'ec': {
      const c = key.asymmetricKeyDetails?.namedCurve
      return c === 'prime256v1'
        ? SignatureScheme.ecdsa_secp256r1_sha256
        : c === 'secp384r1'
          ? SignatureScheme.ecdsa_secp384r1_sha384
          : undefined
    }
    case 'rsa': return SignatureScheme.rsa_pss_rsae_sha256
    default: return undefined
  }
}

function schemeParams (
  scheme: number,
  key: crypto.KeyObject
): { hash: string | null, options: crypto.SignKeyObjectInput | crypto.VerifyKeyObjectInput } | undefined {
  switch (scheme) {
    case SignatureScheme.ecdsa_secp256r1_sha256:
    case SignatureScheme.ecdsa_secp384r1_sha384: {
      const curve = scheme === SignatureScheme.ecdsa_secp256r1_sha256 ? 'prime256v1' : 'secp384r1'
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== curve) return undefined
      return {
        hash: scheme === SignatureScheme.ecdsa_secp256r1_sha256 ? 'sha256' : 'sha384',
        options: { key, dsaEncoding: 'der' }
      }
    }
    case SignatureScheme.rsa_pss_rsae_sha256:
    case SignatureScheme.rsa_pss_rsae_sha384:
    case SignatureScheme.rsa_pss_rsae_sha512: {
      if (key.asymmetricKeyType !== 'rsa') return undefined
      const hash = scheme === SignatureScheme.rsa_pss_rsae_sha256
        ? 'sha256'
        : scheme === SignatureScheme.rsa_pss_rsae_sha384
          ? 'sha384'
          : 'sha512'
      const saltLength = hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64
      return { hash, options: { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength } }
    }
    case SignatureScheme.ed25519:
      if (key.asymmetricKeyType !== 'ed25519') return undefined
      return { hash: null, options: { key } }
    default:
      return undefined
  }
}

/** Does `scheme` fit `key` at all (RFC 8446 §4.4.3: the scheme must match the certificate's key)? */
export function schemeFitsKey (scheme: number, key: crypto.KeyObject): boolean {
  return schemeParams(scheme, key) !== undefined
}

export function signWithScheme (scheme: number, key: crypto.KeyObject, data: Uint8Array): Uint8Array {
  const p = schemeParams(scheme, key)
  if (p === undefined) {
    throw new RangeError(
      `signature scheme 0x${scheme.toString(16)} does not fit a ${key.asymmetricKeyType ?? 'unknown'} key`
    )
  }
  return new Uint8Array(crypto.sign(p.hash, data, p.options as crypto.SignKeyObjectInput))
}

export function verifyWithScheme (
  scheme: number,
  key: crypto.KeyObject,
  data: Uint8Array,
  signature: Uint8Array
): boolean {
  const p = schemeParams(scheme, key)
  if (p === undefined) return false
  try {
    return crypto.verify(p.hash, data, p.options as crypto.VerifyKeyObjectInput, signature)
  } catch {
    return false
  }
}
