/**
 * Noise §5.1 CipherState: a key `k` (or none) and a nonce counter `n`.
 *
 * Used twice: inside SymmetricState during the handshake, and after `Split()` as the two transport
 * directions (k1 = initiator→responder, k2 = responder→initiator). Pure: no I/O, no timers.
 */
import { concatBytes } from '../codec/bytes.js'
import { NoiseError } from '../errors.js'
import { MAX_NONCE, TAG_LENGTH } from './constants.js'
import { decryptFailed } from './suite.js'
import type { AeadOpener, CryptoSuite } from './suite.js'

const EMPTY = new Uint8Array(0)

export class CipherState {
  /** The key, or `undefined` before `InitializeKey` (Noise: "empty"). */
  private k: Uint8Array | undefined
  /** Next nonce to use. */
  private n = 0
  private readonly suite: CryptoSuite

  constructor (suite: CryptoSuite, k?: Uint8Array) {
    this.suite = suite
    this.k = k
  }

  /** Noise §5.1 `InitializeKey(key)`: sets k and resets n to 0. */
  initializeKey (key: Uint8Array): void {
    this.k = key
    this.n = 0
  }

  /** Noise §5.1 `HasKey()`. */
  hasKey (): boolean {
    return this.k !== undefined
  }

  /** Noise §5.1 `SetNonce(nonce)`. Tests use it to walk up to nonce exhaustion. */
  setNonce (nonce: number): void {
    if (!Number.isSafeInteger(nonce) || nonce < 0) {
      throw new RangeError(`"nonce" expected a safe integer >= 0, got ${nonce}`)
    }
    this.n = nonce
  }

  /** The next nonce (for observers and tests). */
  get nonce (): number {
    return this.n
  }

  /** The key, for the explicit `exposeKeys` option only; never logged. */
  get key (): Uint8Array | undefined {
    return this.k
  }

  private nextNonce (): number {
    const n = this.n
    if (n >= MAX_NONCE) {
      throw new NoiseError(
        'ERR_NOISE_NONCE_EXHAUSTED',
        `"nonce" expected < ${MAX_NONCE}, got ${n}: the connection must be closed (Noise §5.1)`
      )
    }
    return n
  }

  /** Noise §5.1 `EncryptWithAd(ad, plaintext)`: plaintext passes through while there is no key. */
  encryptWithAd (ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === undefined) return plaintext
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    this.encryptInto(ad, plaintext, out, 0)
    return out
  }

  /**
   * `EncryptWithAd` that writes ciphertext ‖ tag into `out` at `offset` (the transport writer encrypts
   * every frame of a batch into one buffer). Requires a key. Returns the bytes written.
   */
  encryptInto (ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): number {
    const k = this.k
    if (k === undefined) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', 'CipherState.encryptInto: no key (handshake not complete)')
    }
    const n = this.nextNonce()
    this.suite.encryptInto(k, n, ad, plaintext, out, offset)
    this.n = n + 1
    return plaintext.length + TAG_LENGTH
  }

  /** `EncryptWithAd` returning `[ciphertext, tag]` without copying (see CryptoSuite.seal). Requires a key. */
  seal (ad: Uint8Array, plaintext: Uint8Array): [ciphertext: Uint8Array, tag: Uint8Array] {
    const k = this.k
    if (k === undefined) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', 'CipherState.seal: no key (handshake not complete)')
    }
    const n = this.nextNonce()
    const sealed = this.suite.seal(k, n, ad, plaintext)
    this.n = n + 1
    return sealed
  }

  /**
   * `EncryptWithAd` of the concatenation of `parts` without gathering it (CryptoSuite.sealParts):
   * ciphertext pieces, then the tag. A suite without `sealParts` gathers and seals. Requires a key.
   */
  sealParts (ad: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    const k = this.k
    if (k === undefined) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', 'CipherState.sealParts: no key (handshake not complete)')
    }
    const n = this.nextNonce()
    const sealParts = this.suite.sealParts
    const sealed = sealParts !== undefined ? sealParts(k, n, ad, parts) : this.suite.seal(k, n, ad, concatBytes(parts))
    this.n = n + 1
    return sealed
  }

  /**
   * Noise §5.1 `DecryptWithAd(ad, ciphertext)`. On an authentication failure the error propagates and
   * `n` is not incremented; the caller must treat it as fatal (no resync is possible).
   */
  decryptWithAd (ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.k
    if (k === undefined) return ciphertext
    const n = this.nextNonce()
    const plaintext = this.suite.decrypt(k, n, ad, ciphertext)
    this.n = n + 1
    return plaintext
  }

  /**
   * `DecryptWithAd` of a message of `ciphertextLength` bytes (tag excluded) fed as it arrives: see
   * CryptoSuite.openStream. The nonce is taken now and `n` advances only when `final` verifies the
   * tag; no other message may be decrypted in between. A suite without `openStream` gathers the
   * ciphertext (one copy) and decrypts it at `final`.
   */
  openStreamWithAd (ad: Uint8Array, ciphertextLength: number): AeadOpener {
    const k = this.k
    if (k === undefined) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', 'CipherState.openStream: no key (handshake not complete)')
    }
    const n = this.nextNonce()
    const suite = this.suite
    const inner: AeadOpener = suite.openStream !== undefined
      ? suite.openStream(k, n, ad, ciphertextLength)
      : gatheringOpener(suite, k, n, ad, ciphertextLength)
    return {
      update: inner.update,
      final: tag => {
        const rest = inner.final(tag)
        this.n = n + 1
        return rest
      }
    }
  }

  /** Transport messages use an empty AD (noise/README.md §"Transport Messages"). */
  encrypt (plaintext: Uint8Array): Uint8Array {
    return this.encryptWithAd(EMPTY, plaintext)
  }

  decrypt (ciphertext: Uint8Array): Uint8Array {
    return this.decryptWithAd(EMPTY, ciphertext)
  }

  /** `openStreamWithAd` with the transport messages' empty AD. */
  openStream (ciphertextLength: number): AeadOpener {
    return this.openStreamWithAd(EMPTY, ciphertextLength)
  }
}

/** For a suite without a streaming AEAD: copy the ciphertext as it comes, decrypt it whole at `final`. */
function gatheringOpener (
  suite: CryptoSuite,
  k: Uint8Array,
  n: number,
  ad: Uint8Array,
  ciphertextLength: number
): AeadOpener {
  const sealed = new Uint8Array(ciphertextLength + TAG_LENGTH)
  let filled = 0
  return {
    update: ct => {
      if (filled + ct.length > ciphertextLength) throw decryptFailed(n)
      sealed.set(ct, filled)
      filled += ct.length
      return EMPTY
    },
    final: tag => {
      if (filled !== ciphertextLength || tag.length !== TAG_LENGTH) throw decryptFailed(n)
      sealed.set(tag, filled)
      return suite.decrypt(k, n, ad, sealed)
    }
  }
}
