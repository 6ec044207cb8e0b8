/**
 * Noise §5.2 SymmetricState: the chaining key `ck`, the handshake hash `h`, and a CipherState.
 * Pure: no I/O.
 */
import { HASH_LENGTH } from './constants.js'
import { CipherState } from './cipher-state.js'
import type { CryptoSuite } from './suite.js'

const utf8 = new TextEncoder()

export class SymmetricState {
  /** Chaining key. */
  ck: Uint8Array
  /** Handshake hash. */
  h: Uint8Array
  readonly cipherState: CipherState
  private readonly suite: CryptoSuite

  /**
   * Noise §5.2 `InitializeSymmetric(protocol_name)`: `h` = the name padded with zeros when it fits in
   * HASHLEN bytes, else HASH(name); `ck = h`; no key.
   */
  constructor (suite: CryptoSuite, protocolName: string) {
    this.suite = suite
    const name = utf8.encode(protocolName)
    if (name.length <= HASH_LENGTH) {
      this.h = new Uint8Array(HASH_LENGTH)
      this.h.set(name)
    } else {
      this.h = suite.hash(name)
    }
    this.ck = this.h
    this.cipherState = new CipherState(suite)
  }

  /** Noise §5.2 `MixKey(ikm)`: `ck, temp_k = HKDF(ck, ikm, 2)`; `InitializeKey(temp_k)`. */
  mixKey (ikm: Uint8Array): void {
    const [ck, tempK] = this.suite.hkdf(this.ck, ikm)
    this.ck = ck
    this.cipherState.initializeKey(tempK) // HASHLEN = 32 = key length: no truncation
  }

  /** Noise §5.2 `MixHash(data)`: `h = HASH(h ‖ data)`. */
  mixHash (data: Uint8Array): void {
    this.h = this.suite.hash(this.h, data)
  }

  /** Noise §5.2 `EncryptAndHash(plaintext)`: encrypt with `ad = h`, then MixHash(ciphertext). */
  encryptAndHash (plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  /** Noise §5.2 `DecryptAndHash(ciphertext)`: decrypt with `ad = h`, then MixHash(ciphertext). */
  decryptAndHash (ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }

  /**
   * Noise §5.2 `Split()`: `temp_k1, temp_k2 = HKDF(ck, zerolen, 2)`; two CipherStates.
   * c1 encrypts initiator→responder, c2 responder→initiator.
   */
  split (): [CipherState, CipherState] {
    const [k1, k2] = this.suite.hkdf(this.ck, new Uint8Array(0))
    return [new CipherState(this.suite, k1), new CipherState(this.suite, k2)]
  }
}
