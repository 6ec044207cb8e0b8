/**
 * libp2p identity keys (libp2p/specs peer-ids/peer-ids.md §"Key Types").
 *
 * | type      | public `Data`          | private `Data`              | signature                          |
 * |-----------|------------------------|-----------------------------|------------------------------------|
 * | Ed25519   | raw 32 bytes           | seed ‖ public (64; legacy 96)| RFC 8032 over the message          |
 * | Secp256k1 | 33-byte compressed SEC1| raw 32-byte scalar          | ECDSA over SHA-256, DER, low-S     |
 * | ECDSA     | DER SubjectPublicKeyInfo| DER SEC1 ECPrivateKey       | ECDSA over SHA-256, DER            |
 * | RSA       | DER SubjectPublicKeyInfo| DER PKCS#1 RSAPrivateKey    | RSASSA-PKCS1-v1_5 with SHA-256     |
 *
 * Ed25519 is our identity (the spec's MUST). Every type verifies, because a remote peer may use any
 * of them. Ed25519, ECDSA and RSA go through `node:crypto`; secp256k1 through `@noble/curves` (OpenSSL
 * neither normalises S nor parses raw SEC1 secp256k1 keys). Keys are parsed and validated once, when
 * constructed; `bytes()` always gives the canonical encoding (the one peer ids are derived from).
 *
 * This is the one module besides suite.ts that imports `node:crypto` (RSA/ECDSA need it).
 */
import crypto from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { KeyError } from '../errors.js'
import { decodeKeyMessage, encodeKeyMessage, KeyType, keyTypeName } from '../proto/keys.js'
import { okpPrivateKey, okpPublicBytes, okpRandomPrivate } from './okp.js'

export { KeyType, keyTypeName } from '../proto/keys.js'

export interface PublicKey {
  readonly type: KeyType
  /** The type-specific `Data` bytes (canonical encoding). */
  readonly raw: Uint8Array
  /** The `PublicKey` protobuf (deterministic encoding). */
  bytes: () => Uint8Array
  /** True when `sig` is a valid signature of `msg` under this key. Never throws for a bad signature. */
  verify: (msg: Uint8Array, sig: Uint8Array) => boolean
  equals: (other: PublicKey) => boolean
}

export interface PrivateKey {
  readonly type: KeyType
  readonly publicKey: PublicKey
  sign: (msg: Uint8Array) => Uint8Array
  /** The `PrivateKey` protobuf (what key files hold). */
  bytes: () => Uint8Array
}

function invalid (what: string, detail: string, cause?: unknown): KeyError {
  return new KeyError('ERR_INVALID_KEY', `${what}: ${detail}`, cause === undefined ? undefined : { cause })
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

abstract class BasePublicKey implements PublicKey {
  abstract readonly type: KeyType
  abstract readonly raw: Uint8Array
  private encoded: Uint8Array | undefined

  bytes (): Uint8Array {
    this.encoded ??= encodeKeyMessage({ type: this.type, data: this.raw })
    return this.encoded
  }

  abstract verify (msg: Uint8Array, sig: Uint8Array): boolean

  equals (other: PublicKey): boolean {
    return other.type === this.type && bytesEqual(other.raw, this.raw)
  }

  toString (): string {
    return `${keyTypeName(this.type)} public key`
  }
}

abstract class BasePrivateKey implements PrivateKey {
  abstract readonly type: KeyType
  abstract readonly publicKey: PublicKey
  /** The private `Data` bytes. */
  protected abstract readonly data: Uint8Array

  bytes (): Uint8Array {
    return encodeKeyMessage({ type: this.type, data: this.data })
  }

  abstract sign (msg: Uint8Array): Uint8Array

  /** Never print key material. */
  toString (): string {
    return `${keyTypeName(this.type)} private key`
  }

  toJSON (): string {
    return this.toString()
  }
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (node:crypto)
// ---------------------------------------------------------------------------------------------

const ED25519_KEY_LENGTH = 32
const ED25519_SIGNATURE_LENGTH = 64

export class Ed25519PublicKey extends BasePublicKey {
  readonly type = KeyType.Ed25519
  readonly raw: Uint8Array
  /**
   * Only our own key keeps its KeyObject. A remote key builds one per `verify` (once or twice per
   * connection: the Noise payload, a signed peer record) and drops it: kept, it would hold ~2 KiB of
   * OpenSSL memory for every connection's lifetime (measured: RSS of 1000 KeyObjects).
   */
  private readonly keyObject: crypto.KeyObject | undefined

  constructor (raw: Uint8Array, keyObject?: crypto.KeyObject) {
    super()
    if (raw.length !== ED25519_KEY_LENGTH) {
      throw invalid('Ed25519 public key', `expected ${ED25519_KEY_LENGTH} bytes, got ${raw.length}`)
    }
    this.raw = Uint8Array.from(raw)
    this.keyObject = keyObject
  }

  verify (msg: Uint8Array, sig: Uint8Array): boolean {
    if (sig.length !== ED25519_SIGNATURE_LENGTH) return false
    try {
      // JWK, not DER: an order of magnitude cheaper to import on Node 20 (see suite.ts)
      const key = this.keyObject ?? crypto.createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(this.raw).toString('base64url') },
        format: 'jwk'
      })
      return crypto.verify(null, msg, key, sig)
    } catch {
      return false // OpenSSL refuses to load some 32-byte strings as points: no valid signature exists
    }
  }
}

export class Ed25519PrivateKey extends BasePrivateKey {
  readonly type = KeyType.Ed25519
  readonly publicKey: Ed25519PublicKey
  protected readonly data: Uint8Array
  private readonly keyObject: crypto.KeyObject

  /** From the 32-byte seed (RFC 8032 private key). */
  constructor (seed: Uint8Array) {
    super()
    if (seed.length !== ED25519_KEY_LENGTH) {
      throw invalid('Ed25519 private key', `seed expected ${ED25519_KEY_LENGTH} bytes, got ${seed.length}`)
    }
    this.keyObject = okpPrivateKey('Ed25519', seed)
    this.publicKey = new Ed25519PublicKey(okpPublicBytes(this.keyObject), crypto.createPublicKey(this.keyObject))
    this.data = new Uint8Array(2 * ED25519_KEY_LENGTH)
    this.data.set(seed)
    this.data.set(this.publicKey.raw, ED25519_KEY_LENGTH)
  }

  /**
   * peer-ids.md §Ed25519: `seed ‖ public` (64 bytes), or the legacy `seed ‖ public ‖ public` (96
   * bytes, accepted only when both copies agree). The public half must be the seed's public key.
   */
  static fromData (data: Uint8Array): Ed25519PrivateKey {
    const what = 'Ed25519 private key'
    if (data.length !== 64 && data.length !== 96) {
      throw invalid(what, `"Data" expected 64 bytes (seed ‖ public) or 96 (legacy), got ${data.length}`)
    }
    if (data.length === 96 && !bytesEqual(data.subarray(32, 64), data.subarray(64, 96))) {
      throw invalid(what, 'legacy 96-byte form with two different public keys')
    }
    const key = new Ed25519PrivateKey(data.subarray(0, 32))
    if (!bytesEqual(key.publicKey.raw, data.subarray(32, 64))) {
      throw invalid(what, 'the public half does not belong to the seed')
    }
    return key
  }

  sign (msg: Uint8Array): Uint8Array {
    return crypto.sign(null, msg, this.keyObject)
  }
}

// ---------------------------------------------------------------------------------------------
// Secp256k1 (@noble/curves)
// ---------------------------------------------------------------------------------------------

export class Secp256k1PublicKey extends BasePublicKey {
  readonly type = KeyType.Secp256k1
  /** Always the 33-byte compressed form (go `SerializeCompressed`). */
  readonly raw: Uint8Array

  /** Accepts the compressed (33 bytes) and, like go, the uncompressed (65 bytes) SEC1 form. */
  constructor (sec1: Uint8Array) {
    super()
    if (sec1.length !== 33 && sec1.length !== 65) {
      throw invalid('Secp256k1 public key', `expected 33 (compressed) or 65 (uncompressed) bytes, got ${sec1.length}`)
    }
    try {
      this.raw = secp256k1.Point.fromBytes(sec1).toBytes(true)
    } catch (err) {
      throw invalid('Secp256k1 public key', 'not a point on the curve', err)
    }
  }

  /**
   * ECDSA over SHA-256(msg) with a DER signature. High-S signatures are accepted (go's verifier does
   * not care); we only ever emit low-S ones.
   */
  verify (msg: Uint8Array, sig: Uint8Array): boolean {
    try {
      return secp256k1.verify(sig, msg, this.raw, { format: 'der', lowS: false, prehash: true })
    } catch {
      return false
    }
  }
}

export class Secp256k1PrivateKey extends BasePrivateKey {
  readonly type = KeyType.Secp256k1
  readonly publicKey: Secp256k1PublicKey
  protected readonly data: Uint8Array

  constructor (scalar: Uint8Array) {
    super()
    if (scalar.length !== 32) throw invalid('Secp256k1 private key', `expected 32 bytes, got ${scalar.length}`)
    this.data = Uint8Array.from(scalar)
    let pub: Uint8Array
    try {
      pub = secp256k1.getPublicKey(this.data, true)
    } catch (err) {
      throw invalid('Secp256k1 private key', 'scalar out of range (0 or >= n)', err)
    }
    this.publicKey = new Secp256k1PublicKey(pub)
  }

  /** Low-S DER (@libp2p/crypto rejects high-S signatures); deterministic k (RFC 6979). */
  sign (msg: Uint8Array): Uint8Array {
    return secp256k1.sign(msg, this.data, { format: 'der', lowS: true, prehash: true })
  }
}

// ---------------------------------------------------------------------------------------------
// ECDSA and RSA (node:crypto, DER)
// ---------------------------------------------------------------------------------------------

/** Curves go's x509 parses (go-libp2p accepts any of them; P-256 is its default). */
const ECDSA_CURVES: Readonly<Record<string, string>> = {
  prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp224r1: 'P-224'
}
/** go `MinRsaKeyBits` / `maxRsaKeyBits`. */
export const MIN_RSA_BITS = 2048
export const MAX_RSA_BITS = 8192

function parseSpki (what: string, der: Uint8Array): crypto.KeyObject {
  try {
    return crypto.createPublicKey({
      key: Buffer.from(der.buffer, der.byteOffset, der.length),
      format: 'der',
      type: 'spki'
    })
  } catch (err) {
    throw invalid(what, 'not a DER SubjectPublicKeyInfo', err)
  }
}

function parsePrivateDer (what: string, der: Uint8Array, type: 'sec1' | 'pkcs1', expected: string): crypto.KeyObject {
  try {
    return crypto.createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.length), format: 'der', type })
  } catch (err) {
    throw invalid(what, `not ${expected}`, err)
  }
}

function exportSpki (key: crypto.KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }))
}

function checkEc (what: string, key: crypto.KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType !== 'ec' || curve === undefined || ECDSA_CURVES[curve] === undefined) {
    throw invalid(
      what,
      `expected an EC key on P-224/P-256/P-384/P-521, got ${key.asymmetricKeyType ?? 'unknown'}${
        curve !== undefined ? ` (${curve})` : ''
      }`
    )
  }
  return curve
}

function checkRsa (what: string, key: crypto.KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw invalid(what, `expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`)
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw invalid(what, `"modulus" expected ${MIN_RSA_BITS}..${MAX_RSA_BITS} bits, got ${bits}`)
  }
}

export class EcdsaPublicKey extends BasePublicKey {
  readonly type = KeyType.ECDSA
  readonly raw: Uint8Array
  private readonly keyObject: crypto.KeyObject

  constructor (spki: Uint8Array | crypto.KeyObject) {
    super()
    const what = 'ECDSA public key'
    this.keyObject = spki instanceof Uint8Array ? parseSpki(what, spki) : spki
    checkEc(what, this.keyObject)
    this.raw = exportSpki(this.keyObject) // canonical (uncompressed point), as go re-marshals
  }

  /** ECDSA over SHA-256(msg), DER (r, s), on the key's curve. */
  verify (msg: Uint8Array, sig: Uint8Array): boolean {
    try {
      return crypto.verify('sha256', msg, { key: this.keyObject, dsaEncoding: 'der' }, sig)
    } catch {
      return false
    }
  }
}

export class EcdsaPrivateKey extends BasePrivateKey {
  readonly type = KeyType.ECDSA
  readonly publicKey: EcdsaPublicKey
  protected readonly data: Uint8Array
  private readonly keyObject: crypto.KeyObject

  constructor (sec1: Uint8Array | crypto.KeyObject) {
    super()
    const what = 'ECDSA private key'
    this.keyObject = sec1 instanceof Uint8Array ? parsePrivateDer(what, sec1, 'sec1', 'a DER SEC1 ECPrivateKey') : sec1
    checkEc(what, this.keyObject)
    this.data = new Uint8Array(this.keyObject.export({ type: 'sec1', format: 'der' }))
    this.publicKey = new EcdsaPublicKey(crypto.createPublicKey(this.keyObject))
  }

  sign (msg: Uint8Array): Uint8Array {
    return crypto.sign('sha256', msg, { key: this.keyObject, dsaEncoding: 'der' })
  }
}

export class RsaPublicKey extends BasePublicKey {
  readonly type = KeyType.RSA
  readonly raw: Uint8Array
  private readonly keyObject: crypto.KeyObject

  constructor (spki: Uint8Array | crypto.KeyObject) {
    super()
    const what = 'RSA public key'
    this.keyObject = spki instanceof Uint8Array ? parseSpki(what, spki) : spki
    checkRsa(what, this.keyObject)
    this.raw = exportSpki(this.keyObject)
  }

  /** RSASSA-PKCS1-v1_5 with SHA-256 (node's default padding for RSA keys). */
  verify (msg: Uint8Array, sig: Uint8Array): boolean {
    try {
      return crypto.verify('sha256', msg, this.keyObject, sig)
    } catch {
      return false
    }
  }
}

export class RsaPrivateKey extends BasePrivateKey {
  readonly type = KeyType.RSA
  readonly publicKey: RsaPublicKey
  protected readonly data: Uint8Array
  private readonly keyObject: crypto.KeyObject

  constructor (pkcs1: Uint8Array | crypto.KeyObject) {
    super()
    const what = 'RSA private key'
    this.keyObject = pkcs1 instanceof Uint8Array
      ? parsePrivateDer(what, pkcs1, 'pkcs1', 'a DER PKCS#1 RSAPrivateKey')
      : pkcs1
    checkRsa(what, this.keyObject)
    this.data = new Uint8Array(this.keyObject.export({ type: 'pkcs1', format: 'der' }))
    this.publicKey = new RsaPublicKey(crypto.createPublicKey(this.keyObject))
  }

  sign (msg: Uint8Array): Uint8Array {
    return crypto.sign('sha256', msg, this.keyObject)
  }
}

// ---------------------------------------------------------------------------------------------
// Generation and (un)marshalling
// ---------------------------------------------------------------------------------------------

/** A fresh Ed25519 identity (our default key type). */
export function generateEd25519 (): Ed25519PrivateKey {
  // a random seed imported, not generateKeyPairSync: that one can hang the process (okp.ts)
  return new Ed25519PrivateKey(okpRandomPrivate())
}

export function generateSecp256k1 (): Secp256k1PrivateKey {
  return new Secp256k1PrivateKey(secp256k1.utils.randomSecretKey())
}

export function generateEcdsa (curve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): EcdsaPrivateKey {
  return new EcdsaPrivateKey(crypto.generateKeyPairSync('ec', { namedCurve: curve }).privateKey)
}

/** RSA generation is slow (tens to hundreds of ms); meant for tests and tools. */
export function generateRsa (bits = MIN_RSA_BITS): RsaPrivateKey {
  return new RsaPrivateKey(
    crypto.generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 }).privateKey
  )
}

/** Build a public key from its type and `Data` bytes. */
export function publicKeyFromRaw (type: KeyType, data: Uint8Array): PublicKey {
  switch (type) {
    case KeyType.Ed25519: return new Ed25519PublicKey(data)
    case KeyType.Secp256k1: return new Secp256k1PublicKey(data)
    case KeyType.ECDSA: return new EcdsaPublicKey(data)
    case KeyType.RSA: return new RsaPublicKey(data)
  }
}

/** Build a private key from its type and `Data` bytes. */
export function privateKeyFromRaw (type: KeyType, data: Uint8Array): PrivateKey {
  switch (type) {
    case KeyType.Ed25519: return Ed25519PrivateKey.fromData(data)
    case KeyType.Secp256k1: return new Secp256k1PrivateKey(data)
    case KeyType.ECDSA: return new EcdsaPrivateKey(data)
    case KeyType.RSA: return new RsaPrivateKey(data)
  }
}

/** Parse a `PublicKey` protobuf. KeyError ERR_INVALID_KEY / ERR_UNSUPPORTED_KEY_TYPE. */
export function unmarshalPublicKey (bytes: Uint8Array): PublicKey {
  const { type, data } = decodeKeyMessage(bytes, 'public key')
  return publicKeyFromRaw(type, data)
}

/** Parse a `PrivateKey` protobuf. KeyError ERR_INVALID_KEY / ERR_UNSUPPORTED_KEY_TYPE. */
export function unmarshalPrivateKey (bytes: Uint8Array): PrivateKey {
  const { type, data } = decodeKeyMessage(bytes, 'private key')
  return privateKeyFromRaw(type, data)
}
