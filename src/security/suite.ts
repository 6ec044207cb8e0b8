/**
 * The crypto functions of Noise_XX_25519_ChaChaPoly_SHA256 (Noise §12.1 X25519, §12.3 ChaChaPoly,
 * §12.4 SHA256, §4.3 HKDF) behind one small interface, with exactly two implementations:
 *
 *  - `nodeSuite`  — `node:crypto` (OpenSSL): the fast path and the default.
 *  - `nobleSuite` — `@noble/*`, audited pure JS: the reference the node suite is checked against
 *                   (test/security/suite.test.ts runs the Noise vectors and a randomised cross-check
 *                   through both and demands identical bytes).
 *
 * No third backend (STYLE: no backend roulette). Both suites treat an all-zero X25519 output as a
 * handshake failure: Node throws on it anyway (OpenSSL), noble rejects the low-order inputs that
 * produce it, and Noise §12.1 allows either behaviour; making both identical keeps the suites
 * interchangeable.
 */
import crypto from 'node:crypto'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { NoiseError } from '../errors.js'
import { DH_LENGTH, HASH_LENGTH, TAG_LENGTH } from './constants.js'
import { okpPrivateKey, okpPublicBytes, okpRandomPrivate } from './okp.js'

export interface X25519KeyPair {
  publicKey: Uint8Array
  privateKey: Uint8Array
}

export interface CryptoSuite {
  readonly name: 'node' | 'noble'
  /** A fresh X25519 key pair (Noise §4.1 `GENERATE_KEYPAIR`). */
  generateKeyPair: () => X25519KeyPair
  /** The key pair of a given 32-byte private key (injected keys: test vectors, configured statics). */
  keyPairFromPrivateKey: (privateKey: Uint8Array) => X25519KeyPair
  /** Noise §4.1 `DH`: X25519. NoiseError ERR_NOISE_HANDSHAKE on an invalid public key / all-zero output. */
  dh: (privateKey: Uint8Array, publicKey: Uint8Array) => Uint8Array
  /** Noise §4.3 `HASH(a ‖ b)` without building `a ‖ b`. */
  hash: (a: Uint8Array, b?: Uint8Array) => Uint8Array
  /** Noise §4.3 `HKDF(chaining_key, input_key_material, 2)`. */
  hkdf: (chainingKey: Uint8Array, ikm: Uint8Array) => [Uint8Array, Uint8Array]
  /**
   * Noise §4.1 `ENCRYPT(k, n, ad, plaintext)`, written to `out[offset … offset + plaintext.length + 16)`
   * as ciphertext ‖ tag. `out` must not overlap `plaintext` (except exactly, for in-place encryption).
   */
  encryptInto: (
    k: Uint8Array,
    n: number,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number
  ) => void
  /**
   * `ENCRYPT` returning `[ciphertext, tag]` in whatever buffers the backend produced them, without
   * copying (node:crypto allocates the ciphertext itself; copying it again costs a 64 KiB allocation
   * per frame, measured at ~25% of the throughput of 65519-byte frames).
   */
  seal: (k: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array) => [ciphertext: Uint8Array, tag: Uint8Array]
  /**
   * Noise §4.1 `DECRYPT(k, n, ad, ciphertext)`. The tag is checked before any plaintext is returned;
   * failure → NoiseError ERR_NOISE_DECRYPT.
   */
  decrypt: (k: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array) => Uint8Array
  /**
   * `DECRYPT` fed as the ciphertext arrives (the transport reader keeps no socket buffer, see
   * transport-reader.ts): `update` deciphers the next ciphertext bytes, `final(tag)` verifies. The
   * plaintext `update` returns is unauthenticated until `final` returns (RFC 8439 §2.8): the caller
   * holds it until then. Failure → NoiseError ERR_NOISE_DECRYPT. Optional: only a backend with a
   * streaming AEAD has it (node:crypto); CipherState gathers the ciphertext and calls `decrypt`
   * otherwise.
   */
  openStream?: (k: Uint8Array, n: number, ad: Uint8Array, ciphertextLength: number) => AeadOpener
  /**
   * `ENCRYPT` of the concatenation of `parts` (a frame's plaintext spread over the muxer's header and
   * payload chunks) without gathering it: one ciphertext piece per non-empty part, then the tag, as
   * the backend produced them. Optional, like `openStream`; CipherState gathers and calls `seal`
   * otherwise.
   */
  sealParts?: (k: Uint8Array, n: number, ad: Uint8Array, parts: readonly Uint8Array[]) => Uint8Array[]
}

/** One message being decrypted piece by piece (CryptoSuite.openStream). */
export interface AeadOpener {
  /** Decipher the next ciphertext bytes; the result (possibly empty) is not yet authenticated. */
  update: (ciphertext: Uint8Array) => Uint8Array
  /** Verify `tag`; returns any remaining plaintext (possibly empty). Throws on failure. */
  final: (tag: Uint8Array) => Uint8Array
}

/**
 * Noise §12.3: the 96-bit ChaChaPoly nonce is 32 bits of zeros followed by the little-endian
 * 64-bit `n`. `n` is a safe integer (constants.ts MAX_NONCE), so the high word is `n / 2^32`.
 */
export function writeNonce (nonce: Uint8Array, n: number): void {
  const lo = n >>> 0
  const hi = (n - lo) / 0x1_0000_0000
  nonce[4] = lo; nonce[5] = lo >>> 8; nonce[6] = lo >>> 16; nonce[7] = lo >>> 24
  nonce[8] = hi; nonce[9] = hi >>> 8; nonce[10] = hi >>> 16; nonce[11] = hi >>> 24
}

function dhFailed (cause?: unknown): NoiseError {
  return new NoiseError(
    'ERR_NOISE_HANDSHAKE',
    'X25519 failed: the remote public key is invalid (low order or all-zero shared secret, Noise §12.1)',
    { cause }
  )
}

export function decryptFailed (n: number, cause?: unknown): NoiseError {
  return new NoiseError(
    'ERR_NOISE_DECRYPT',
    `ChaCha20-Poly1305 authentication failed (nonce ${n}): the message was tampered with, truncated, or encrypted under another key`,
    { cause }
  )
}

function assertLength (what: string, b: Uint8Array, expected: number): void {
  if (b.length !== expected) throw new RangeError(`"${what}" expected ${expected} bytes, got ${b.length}`)
}

function isAllZero (b: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < b.length; i++) acc |= b[i] as number
  return acc === 0
}

// ---------------------------------------------------------------------------------------------
// node:crypto
// ---------------------------------------------------------------------------------------------

const CHACHA = 'chacha20-poly1305'
const EMPTY = new Uint8Array(0)
const ONE = Uint8Array.of(0x01)
const TWO = Uint8Array.of(0x02)

/**
 * KeyObjects by the key bytes they were made from. Importing a key costs about as much as the
 * X25519 itself, and every handshake uses each of its keys twice (e in ee and es/se, the static key
 * in every handshake of the process, the remote e twice), so the suite keeps the KeyObject next to
 * the bytes. Keyed by array identity (a WeakMap: no leak, no hashing); the arrays are never mutated.
 *
 * Raw keys cross into OpenSSL as JWK (`x`/`d` in base64url), not as DER with the RFC 8410 prefixes
 * (what js-libp2p-noise does): measured on Node 20, a JWK import or export of an X25519 key is
 * 10–50× cheaper than going through the DER encoder/decoder (okp.ts).
 */
const keyObjects = new WeakMap<Uint8Array, crypto.KeyObject>()

const b64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url')

function nodePrivateKey (raw: Uint8Array): crypto.KeyObject {
  const cached = keyObjects.get(raw)
  if (cached !== undefined) return cached
  assertLength('X25519 private key', raw, DH_LENGTH)
  const key = okpPrivateKey('X25519', raw)
  keyObjects.set(raw, key)
  return key
}

function nodePublicKey (raw: Uint8Array): crypto.KeyObject {
  const cached = keyObjects.get(raw)
  if (cached !== undefined) return cached
  assertLength('X25519 public key', raw, DH_LENGTH)
  const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' })
  keyObjects.set(raw, key)
  return key
}

function nodeHmac (key: Uint8Array, a: Uint8Array, b?: Uint8Array): Buffer {
  const h = crypto.createHmac('sha256', key).update(a)
  if (b !== undefined) h.update(b)
  return h.digest()
}

// One nonce buffer per suite: OpenSSL copies the IV when the cipher is created, and nothing here
// re-enters (every call is synchronous).
const nodeNonce = Buffer.alloc(12)

export const nodeSuite: CryptoSuite = {
  name: 'node',

  // Random bytes imported, not generateKeyPairSync: that one can hang the process (okp.ts).
  generateKeyPair () {
    const privateKey = okpRandomPrivate()
    return { publicKey: okpPublicBytes(nodePrivateKey(privateKey)), privateKey }
  },

  keyPairFromPrivateKey (privateKey) {
    const copy = Uint8Array.from(privateKey)
    return { publicKey: okpPublicBytes(nodePrivateKey(copy)), privateKey: copy }
  },

  dh (privateKey, publicKey) {
    let out: Uint8Array
    try {
      out = crypto.diffieHellman({ privateKey: nodePrivateKey(privateKey), publicKey: nodePublicKey(publicKey) })
    } catch (err) {
      if (err instanceof RangeError) throw err
      throw dhFailed(err) // OpenSSL refuses an all-zero result ("failed during derivation")
    }
    if (isAllZero(out)) throw dhFailed()
    return out
  },

  hash (a, b) {
    const h = crypto.createHash('sha256').update(a)
    if (b !== undefined) h.update(b)
    return h.digest()
  },

  hkdf (chainingKey, ikm) {
    // Noise §4.3, literally (= RFC 5869 with an empty info and two outputs).
    const tempKey = nodeHmac(chainingKey, ikm)
    const output1 = nodeHmac(tempKey, ONE)
    const output2 = nodeHmac(tempKey, output1, TWO)
    return [output1, output2]
  },

  encryptInto (k, n, ad, plaintext, out, offset) {
    const [ct, tag] = nodeSuite.seal(k, n, ad, plaintext)
    out.set(ct, offset)
    out.set(tag, offset + plaintext.length)
  },

  seal (k, n, ad, plaintext) {
    writeNonce(nodeNonce, n)
    const cipher = crypto.createCipheriv(CHACHA, k, nodeNonce, { authTagLength: TAG_LENGTH })
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length })
    const ct = cipher.update(plaintext)
    cipher.final() // a stream cipher: final() yields nothing
    return [ct, cipher.getAuthTag()]
  },

  decrypt (k, n, ad, ciphertext) {
    if (ciphertext.length < TAG_LENGTH) throw decryptFailed(n)
    const end = ciphertext.length - TAG_LENGTH
    writeNonce(nodeNonce, n)
    const decipher = crypto.createDecipheriv(CHACHA, k, nodeNonce, { authTagLength: TAG_LENGTH })
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: end })
    decipher.setAuthTag(ciphertext.subarray(end))
    const pt = decipher.update(ciphertext.subarray(0, end))
    try {
      decipher.final() // verifies the tag; `pt` is discarded unless it passes
    } catch (err) {
      throw decryptFailed(n, err)
    }
    return pt
  },

  sealParts (k, n, ad, parts) {
    let total = 0
    for (const p of parts) total += p.length
    writeNonce(nodeNonce, n)
    const cipher = crypto.createCipheriv(CHACHA, k, nodeNonce, { authTagLength: TAG_LENGTH })
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: total })
    const out: Uint8Array[] = []
    for (const p of parts) if (p.length > 0) out.push(cipher.update(p))
    cipher.final() // a stream cipher: final() yields nothing
    out.push(cipher.getAuthTag())
    return out
  },

  openStream (k, n, ad, ciphertextLength) {
    writeNonce(nodeNonce, n)
    const decipher = crypto.createDecipheriv(CHACHA, k, nodeNonce, { authTagLength: TAG_LENGTH })
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: ciphertextLength })
    return {
      update: ct => decipher.update(ct),
      final: tag => {
        // node:crypto: for chacha20-poly1305 the tag may be set any time before final().
        decipher.setAuthTag(tag)
        try {
          return decipher.final()
        } catch (err) {
          throw decryptFailed(n, err)
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// @noble (reference)
// ---------------------------------------------------------------------------------------------

function nobleNonce (n: number): Uint8Array {
  const nonce = new Uint8Array(12)
  writeNonce(nonce, n)
  return nonce
}

export const nobleSuite: CryptoSuite = {
  name: 'noble',

  generateKeyPair () {
    const { secretKey, publicKey } = x25519.keygen()
    return { publicKey, privateKey: secretKey }
  },

  keyPairFromPrivateKey (privateKey) {
    assertLength('X25519 private key', privateKey, DH_LENGTH)
    let publicKey: Uint8Array
    try {
      publicKey = x25519.getPublicKey(privateKey)
    } catch (err) {
      throw dhFailed(err)
    }
    return { publicKey, privateKey: Uint8Array.from(privateKey) }
  },

  dh (privateKey, publicKey) {
    assertLength('X25519 private key', privateKey, DH_LENGTH)
    assertLength('X25519 public key', publicKey, DH_LENGTH)
    let out: Uint8Array
    try {
      out = x25519.getSharedSecret(privateKey, publicKey) // rejects low-order points
    } catch (err) {
      throw dhFailed(err)
    }
    if (isAllZero(out)) throw dhFailed()
    return out
  },

  hash (a, b) {
    const h = nobleSha256.create().update(a)
    if (b !== undefined) h.update(b)
    return h.digest()
  },

  hkdf (chainingKey, ikm) {
    const okm = nobleHkdf(nobleSha256, ikm, chainingKey, EMPTY, 2 * HASH_LENGTH)
    return [okm.subarray(0, HASH_LENGTH), okm.subarray(HASH_LENGTH)]
  },

  encryptInto (k, n, ad, plaintext, out, offset) {
    const end = offset + plaintext.length + TAG_LENGTH
    chacha20poly1305(k, nobleNonce(n), ad).encrypt(plaintext, out.subarray(offset, end))
  },

  seal (k, n, ad, plaintext) {
    const sealed = chacha20poly1305(k, nobleNonce(n), ad).encrypt(plaintext)
    return [sealed.subarray(0, plaintext.length), sealed.subarray(plaintext.length)]
  },

  decrypt (k, n, ad, ciphertext) {
    if (ciphertext.length < TAG_LENGTH) throw decryptFailed(n)
    try {
      return chacha20poly1305(k, nobleNonce(n), ad).decrypt(ciphertext) // RFC 8439 §2.8: tag first
    } catch (err) {
      throw decryptFailed(n, err)
    }
  }
}

/** Both suites, for tests and benchmarks that run the same checks through each. */
export const SUITES: readonly CryptoSuite[] = [nodeSuite, nobleSuite]
