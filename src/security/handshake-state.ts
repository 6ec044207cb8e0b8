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

const EMPTY = new Uint8Array(0)

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
      throw new NoiseError('ERR_NOISE_HANDSHAKE', `token "${token}": missing ${local === undefined ? 'local' : 'remote'} key`)
    }
    return this.suite.dh(local.privateKey, remote)
  }

  private mixKeyToken (token: 'ee' | 'es' | 'se' | 'ss'): void {
    this.symmetricState.mixKey(this.dhToken(token))
    if (this.tokenKeys !== undefined) this.tokenKeys[token] = this.symmetricState.cipherState.key
  }

  /** Noise §5.3 `WriteMessage(payload, message_buffer)`. */
  writeMessage (payload: Uint8Array = EMPTY): Uint8Array {
    if (this.isComplete) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'writeMessage: the handshake is already complete')
    if (!this.isMyTurn) throw new NoiseError('ERR_NOISE_HANDSHAKE', `writeMessage: message ${this.messageIndex + 1} is the peer's to send`)
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
    if (this.isMyTurn) throw new NoiseError('ERR_NOISE_HANDSHAKE', `readMessage: message ${this.messageIndex + 1} is ours to send`)
    const ss = this.symmetricState
    const number = this.messageIndex + 1
    let offset = 0
    const take = (n: number, what: string): Uint8Array => {
      if (offset + n > message.length) {
        throw new NoiseError('ERR_NOISE_HANDSHAKE', `handshake message ${number}: "${what}" expected ${n} bytes at offset ${offset}, message has ${message.length}`)
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
            const len = ss.cipherState.hasKey() ? DH_LENGTH + TAG_LENGTH : DH_LENGTH
            this.remoteStatic = Uint8Array.from(ss.decryptAndHash(take(len, 's')))
            break
          }
          default:
            this.mixKeyToken(token)
        }
      }
      if (ss.cipherState.hasKey() && message.length - offset < TAG_LENGTH) {
        take(TAG_LENGTH, 'payload tag')
      }
      const payload = ss.decryptAndHash(message.subarray(offset))
      this.index++
      return payload
    } catch (err) {
      if (err instanceof NoiseError && err.code === 'ERR_NOISE_HANDSHAKE') throw err
      throw new NoiseError('ERR_NOISE_HANDSHAKE', `handshake message ${number}: ${toError(err).message}`, { cause: err })
    }
  }

  /**
   * Noise §5.2 `Split()`, available once complete: `[c1, c2]`, c1 for initiator→responder.
   */
  split (): [CipherState, CipherState] {
    if (!this.isComplete) throw new NoiseError('ERR_NOISE_HANDSHAKE', `split: handshake incomplete (message ${this.messageIndex + 1} of ${this.pattern.length} pending)`)
    return this.symmetricState.split()
  }
}
