/**
 * Raw X25519 and Ed25519 private keys into node:crypto and their public halves back out, as OKP
 * JWKs (RFC 8037 §2: `d` the private key, `x` the public key).
 *
 * Not `generateKeyPairSync`: on Node 20 a key it returns shares its lock with the key-generation
 * job, and the job's finalizer takes that lock. A JWK export holds the lock while it allocates the
 * strings, so a GC that finalizes the job during the export waits on a lock its own thread holds,
 * and the process hangs for good (KeyObjectHandle::ExportJWK → GC → ~KeyGenJob; in a loop it
 * happened within 2,000–10,000 key pairs, test/security/okp.test.ts; DER exports were not seen
 * to). A key imported from bytes has no job. The bytes are 32 random ones either way: X25519
 * clamps its scalar at use (RFC 7748 §5), Ed25519 hashes its seed (RFC 8032 §5.1.5).
 *
 * JWK, not PKCS#8 DER: on Node 20 an import costs ~36 µs as JWK and ~350 µs through OpenSSL 3's DER
 * decoder. Node derives the public half of a private OKP JWK from `d` and only checks that `x` is a
 * string (nodejs/node lib/internal/crypto/keys.js), so `x` goes in empty and is read back from the
 * export; the RFC 7748 and RFC 8032 vectors in the tests pin that behaviour.
 */
import crypto from 'node:crypto'

export type OkpCurve = 'X25519' | 'Ed25519'

/** The private key `d` (32 bytes) as a KeyObject. Throws what node:crypto throws for a bad length. */
export function okpPrivateKey (crv: OkpCurve, d: Uint8Array): crypto.KeyObject {
  const b64 = Buffer.from(d.buffer, d.byteOffset, d.length).toString('base64url')
  return crypto.createPrivateKey({ key: { kty: 'OKP', crv, d: b64, x: '' }, format: 'jwk' })
}

/** The public key `x` (32 bytes) as a KeyObject. */
export function okpPublicKey (crv: OkpCurve, x: Uint8Array): crypto.KeyObject {
  const b64 = Buffer.from(x.buffer, x.byteOffset, x.length).toString('base64url')
  return crypto.createPublicKey({ key: { kty: 'OKP', crv, x: b64 }, format: 'jwk' })
}

/** The public key (32 bytes) of an OKP private or public KeyObject. */
export function okpPublicBytes (key: crypto.KeyObject): Uint8Array {
  const { x } = key.export({ format: 'jwk' })
  if (x === undefined) throw new RangeError('"jwk" expected the x member of an OKP key')
  return Buffer.from(x, 'base64url')
}

/** 32 fresh random bytes: an X25519 private key or an Ed25519 seed. */
export function okpRandomPrivate (): Uint8Array {
  return crypto.randomFillSync(new Uint8Array(32))
}
