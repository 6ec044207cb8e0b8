/**
 * Noise §5.3 HandshakeState, for interactive patterns without pre-messages (XX is the one libp2p
 * uses). Pure and synchronous: `writeMessage(payload)` returns the message bytes, `readMessage(bytes)`
 * returns the payload; the caller frames and transports them. Randomness is injected (an explicit
 * ephemeral key pair or a `randomBytes` function), so the published vectors replay byte for byte.
 *
 *   XX:  -> e
 *        <- e, ee, s, es
 *        -> s, se
 */
import { concatBytes } from '../codec/bytes.js'
import { NoiseError, toError } from '../errors.js'
import { DH_LENGTH, TAG_LENGTH } from './constants.js'
import type { CipherState } from './cipher-state.js'
import type { CryptoSuite, X25519KeyPair } from './suite.js'
import { SymmetricState } from './symmetric-state.js'

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss'
export type MessagePattern = readonly Token[]

/** Noise §7.5 XX. Even indices are sent by the initiator. */
export const XX_PATTERN: readonly MessagePattern[] = [
  ['e'],
  ['e', 'ee', 's', 'es'],
  ['s', 'se']
]

export interface HandshakeStateInit {
  suite: CryptoSuite
  protocolName: string
  initiator: boolean
  prologue: Uint8Array
  /** Our static key pair (Noise `s`). */
  s: X25519KeyPair
  /** Our ephemeral key pair (Noise `e`), injected by test vectors. Generated when absent. */
  e?: X25519KeyPair
  /** Randomness for the ephemeral private key when `e` is absent; the suite's CSPRNG otherwise. */
  randomBytes?: (length: number) => Uint8Array
  pattern?: readonly MessagePattern[]
  /** Keep the cipher key after each DH token (for an explicit key log only). Default false. */
  recordTokenKeys?: boolean
}

/**
 * A spectator replays a recorded handshake without either side's private keys (the capture
 * decoder): it reads every message in turn, and at each DH token sets the cipher key the key log
 * recorded for it (`tokenKey`) instead of computing DH and MixKey. Without that key (undefined) the
 * message is still walked — the ciphertexts are hashed as they are, which is all `h` needs (Noise
 * §5.2 MixHash) — and `keysKnown` turns false. `ck` is not followed, so a spectator cannot split().
 */
export interface SpectatorInit {
  suite: CryptoSuite
  protocolName: string
  prologue: Uint8Array
  pattern?: readonly MessagePattern[]
  tokenKey: (token: Token) => Uint8Array | undefined
}

const EMPTY = new Uint8Array(0)
const NO_KEY_PAIR: X25519KeyPair = { publicKey: EMPTY, privateKey: EMPTY }

export class HandshakeState {
  readonly initiator: boolean
  readonly pattern: readonly MessagePattern[]
  readonly symmetricState: SymmetricState
  readonly s: X25519KeyPair
  // Noise §5.3 state variables: set only by writeMessage/readMessage, read through the getters.
  private ephemeral: X25519KeyPair | undefined
  private remoteStatic: Uint8Array | undefined
  private remoteEphemeral: Uint8Array | undefined
  private index = 0
  private readonly suite: CryptoSuite
  private readonly randomBytes: ((length: number) => Uint8Array) | undefined
  /** With `recordTokenKeys`: the `k` set by MixKey after each DH token (`ee`, `es`, `se`). */
  readonly tokenKeys: Partial<Record<Token, Uint8Array>> | undefined
  /** Spectator only (SpectatorInit): the recorded key of each DH token. */
  private spectatorKey: ((token: Token) => Uint8Array | undefined) | undefined
  /** Spectator only: a DH token set a key the record does not have; ciphertexts pass undecrypted. */
  private keyUnknown = false

  /** Noise §5.3 `Initialize(handshake_pattern, initiator, prologue, s, e, rs, re)` (no pre-messages). */
  constructor (init: HandshakeStateInit) {
    this.suite = init.suite
    this.initiator = init.initiator
    this.pattern = init.pattern ?? XX_PATTERN
    this.s = init.s
    this.ephemeral = init.e
    this.randomBytes = init.randomBytes
    this.tokenKeys = init.recordTokenKeys === true ? {} : undefined
    this.symmetricState = new SymmetricState(init.suite, init.protocolName)
    this.symmetricState.mixHash(init.prologue) // even when empty (libp2p specs noise/README.md: empty prologue)
  }

  /** A spectator of a recorded handshake (SpectatorInit): `readMessage` takes every message in turn. */
  static spectator (init: SpectatorInit): HandshakeState {
    const hs = new HandshakeState({
      suite: init.suite,
      protocolName: init.protocolName,
      initiator: true,
      prologue: init.prologue,
      s: NO_KEY_PAIR,
      ...(init.pattern !== undefined ? { pattern: init.pattern } : {})
    })
    hs.spectatorKey = init.tokenKey
    return hs
  }

  /** False once a spectator met a DH token without its recorded key (payloads then stay encrypted). */
  get keysKnown (): boolean { return !this.keyUnknown }

  /** Our ephemeral key pair (Noise `e`), once generated or injected. */
  get e (): X25519KeyPair | undefined { return this.ephemeral }

  /** The remote static public key (Noise `rs`), once received. */
  get rs (): Uint8Array | undefined { return this.remoteStatic }

  /** The remote ephemeral public key (Noise `re`), once received. */
  get re (): Uint8Array | undefined { return this.remoteEphemeral }

  /** Index of the next message in `pattern`. */
  get messageIndex (): number { return this.index }

  /** True once every message of the pattern has been written or read. */
  get isComplete (): boolean {
    return this.messageIndex >= this.pattern.length
  }

  /** True when the next message is ours to write. */
  get isMyTurn (): boolean {
    if (this.spectatorKey !== undefined) return false
    return (this.messageIndex % 2 === 0) === this.initiator
  }

  /** The tokens of the next message. */
  get nextTokens (): MessagePattern {
    return this.pattern[this.messageIndex] ?? []
  }

  /** Noise §5.3 `h`: the handshake hash (channel binding), final once complete. */
  get handshakeHash (): Uint8Array {
    return this.symmetricState.h
  }

  private generateEphemeral (): X25519KeyPair {
    if (this.randomBytes !== undefined) return this.suite.keyPairFromPrivateKey(this.randomBytes(DH_LENGTH))
    return this.suite.generateKeyPair()
  }

  /** The DH of a two-letter token, from our side: `es` = DH(e, rs) for the initiator, DH(s, re) otherwise. */
  private dhToken (token: 'ee' | 'es' | 'se' | 'ss'): Uint8Array {
    const localE = this.initiator ? token[0] === 'e' : token[1] === 'e'
    const remoteE = this.initiator ? token[1] === 'e' : token[0] === 'e'
    const local = localE ? this.ephemeral : this.s
    const remote = remoteE ? this.remoteEphemeral : this.remoteStatic
    if (local === undefined || remote === undefined) {
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        `token "${token}": missing ${local === undefined ? 'local' : 'remote'} key`
      )
    }
    return this.suite.dh(local.privateKey, remote)
  }

  private mixKeyToken (token: 'ee' | 'es' | 'se' | 'ss'): void {
    if (this.spectatorKey !== undefined) {
      const k = this.spectatorKey(token)
      if (k === undefined) this.keyUnknown = true
      else { this.symmetricState.cipherState.initializeKey(k); this.keyUnknown = false }
      return
    }
    this.symmetricState.mixKey(this.dhToken(token))
    if (this.tokenKeys !== undefined) this.tokenKeys[token] = this.symmetricState.cipherState.key
  }

  /** Noise §5.3 `WriteMessage(payload, message_buffer)`. */
  writeMessage (payload: Uint8Array = EMPTY): Uint8Array {
    if (this.isComplete) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'writeMessage: the handshake is already complete')
    if (!this.isMyTurn) {
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        `writeMessage: message ${this.messageIndex + 1} is the peer's to send`
      )
    }
    const ss = this.symmetricState
    const parts: Uint8Array[] = []
    for (const token of this.nextTokens) {
      switch (token) {
        case 'e': {
          const e = this.ephemeral ?? this.generateEphemeral()
          this.ephemeral = e
          parts.push(e.publicKey)
          ss.mixHash(e.publicKey)
          break
        }
        case 's':
          parts.push(ss.encryptAndHash(this.s.publicKey))
          break
        default:
          this.mixKeyToken(token)
      }
    }
    parts.push(ss.encryptAndHash(payload))
    this.index++
    return concatBytes(parts)
  }

  /**
   * Noise §5.3 `ReadMessage(message, payload_buffer)`. A short message, a failed decryption or an
   * invalid DH input is a NoiseError ERR_NOISE_HANDSHAKE (the handshake cannot continue).
   */
  readMessage (message: Uint8Array): Uint8Array {
    if (this.isComplete) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'readMessage: the handshake is already complete')
    if (this.isMyTurn) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', `readMessage: message ${this.messageIndex + 1} is ours to send`)
    }
    const ss = this.symmetricState
    const number = this.messageIndex + 1
    let offset = 0
    const take = (n: number, what: string): Uint8Array => {
      if (offset + n > message.length) {
        throw new NoiseError(
          'ERR_NOISE_HANDSHAKE',
          `handshake message ${number}: "${what}" expected ${n} bytes at offset ${offset}, message has ${message.length}`
        )
      }
      const v = message.subarray(offset, offset + n)
      offset += n
      return v
    }
    try {
      for (const token of this.nextTokens) {
        switch (token) {
          case 'e': {
            const re = Uint8Array.from(take(DH_LENGTH, 'e'))
            this.remoteEphemeral = re
            ss.mixHash(re)
            break
          }
          case 's': {
            const len = this.hasKey() ? DH_LENGTH + TAG_LENGTH : DH_LENGTH
            this.remoteStatic = Uint8Array.from(this.decryptAndHash(take(len, 's')))
            break
          }
          default:
            this.mixKeyToken(token)
        }
      }
      if (this.hasKey() && message.length - offset < TAG_LENGTH) {
        take(TAG_LENGTH, 'payload tag')
      }
      const payload = this.decryptAndHash(message.subarray(offset))
      this.index++
      return payload
    } catch (err) {
      if (err instanceof NoiseError && err.code === 'ERR_NOISE_HANDSHAKE') throw err
      throw new NoiseError('ERR_NOISE_HANDSHAKE', `handshake message ${number}: ${toError(err).message}`, {
        cause: err
      })
    }
  }

  /** A key is set (or, for a spectator, set but not recorded). */
  private hasKey (): boolean {
    return this.keyUnknown || this.symmetricState.cipherState.hasKey()
  }

  /** DecryptAndHash; a spectator without the key hashes the ciphertext and passes it on. */
  private decryptAndHash (bytes: Uint8Array): Uint8Array {
    if (!this.keyUnknown) return this.symmetricState.decryptAndHash(bytes)
    this.symmetricState.mixHash(bytes)
    return bytes
  }

  /**
   * Noise §5.2 `Split()`, available once complete: `[c1, c2]`, c1 for initiator→responder.
   */
  split (): [CipherState, CipherState] {
    if (this.spectatorKey !== undefined) {
      throw new NoiseError('ERR_NOISE_HANDSHAKE', 'split: a spectator does not follow the chaining key')
    }
    if (!this.isComplete) {
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        `split: handshake incomplete (message ${this.messageIndex + 1} of ${this.pattern.length} pending)`
      )
    }
    return this.symmetricState.split()
  }
}
