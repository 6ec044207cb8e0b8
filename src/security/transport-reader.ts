/**
 * Noise transport messages read as they arrive (noise/README.md §"Wire Format": `u16 BE length ‖
 * ciphertext ‖ 16-byte tag`), deciphered piece by piece, keeping no reference to any chunk pushed.
 *
 * Algorithm for one `push(chunk)`, repeated until the chunk is used up:
 *  1. Length prefix: 2 bytes, read from the chunk, or gathered in `prefix` when split across chunks.
 *     A declared length below 16 (no room for the tag) fails at once.
 *  2. Ciphertext (the first length − 16 bytes): fed to the message's AEAD opener as it arrives
 *     (CipherState.openStream); the plaintext it returns is held back, unauthenticated.
 *  3. Tag (the last 16 bytes): copied into `tag` (it may span chunks). Then `final`: on success the
 *     held plaintext pieces join the output queue; on failure `failure` is set, the held plaintext
 *     is dropped (RFC 8439 §2.8) and nothing more is read.
 *
 * At most 2 + 16 bytes are copied out of a chunk; everything else is deciphered straight from it. So
 * the caller may hand over views into a buffer it reuses for the next socket read (ByteSink
 * `borrowsChunks`), and no ciphertext is held between reads: only verified plaintext waiting for the
 * consumer, and the unverified plaintext of the one message in progress (≤ 65519 bytes).
 */
import { NoiseError, toError } from '../errors.js'
import { LENGTH_PREFIX_BYTES, TAG_LENGTH } from './constants.js'
import type { CipherState } from './cipher-state.js'
import type { AeadOpener } from './suite.js'

/** Called with each whole message (ciphertext ‖ tag), for trace observers only: it costs a copy. */
export type MessageCallback = (message: Uint8Array) => void

export class NoiseTransportReader {
  private readonly cs: CipherState
  private readonly onMessage: MessageCallback | undefined
  /** Verified plaintext not yet taken, from `outHead` on. */
  private out: Uint8Array[] = []
  private outHead = 0
  /** Bytes of the length prefix gathered so far (0 or 1 when split; 2 while in a message). */
  private prefixBytes = 0
  private readonly prefix = new Uint8Array(LENGTH_PREFIX_BYTES)
  /** The message in progress: its length (ciphertext ‖ tag) and how many of its bytes arrived. */
  private length = 0
  private got = 0
  private opener: AeadOpener | undefined
  /** Unverified plaintext of the message in progress. */
  private held: Uint8Array[] = []
  private readonly tag = new Uint8Array(TAG_LENGTH)
  /** The whole message, gathered only for `onMessage`. */
  private copy: Uint8Array | undefined
  /** Why reading stopped (a bad tag, a message too short, nonce exhaustion); later pushes are ignored. */
  failure: Error | undefined

  constructor (cs: CipherState, onMessage?: MessageCallback) {
    this.cs = cs
    this.onMessage = onMessage
  }

  /** The next verified plaintext piece (never empty), or undefined when none is waiting. */
  shift (): Uint8Array | undefined {
    const out = this.out
    if (this.outHead === out.length) return undefined
    const piece = out[this.outHead++] as Uint8Array
    if (this.outHead === out.length) { out.length = 0; this.outHead = 0 }
    return piece
  }

  /** Bytes of a message (prefix included) that has begun and not ended: > 0 at EOF means a cut message. */
  get partialBytes (): number {
    return this.prefixBytes < LENGTH_PREFIX_BYTES ? this.prefixBytes : LENGTH_PREFIX_BYTES + this.got
  }

  /** For errors at EOF: what the partial message at the front still lacks. */
  describePending (): string {
    if (this.prefixBytes < LENGTH_PREFIX_BYTES) {
      return `"length prefix" expected ${LENGTH_PREFIX_BYTES} bytes, got ${this.prefixBytes}`
    }
    return `"message" expected ${this.length} bytes, got ${this.got}`
  }

  /** Take every byte of `chunk` (see the module comment); keeps no reference to it. */
  push (chunk: Uint8Array): void {
    const end = chunk.length
    let offset = 0
    while (offset < end && this.failure === undefined) {
      // 1. length prefix
      if (this.prefixBytes < LENGTH_PREFIX_BYTES) {
        if (this.prefixBytes === 0 && end - offset >= LENGTH_PREFIX_BYTES) {
          this.begin(((chunk[offset] as number) << 8) | (chunk[offset + 1] as number))
          offset += LENGTH_PREFIX_BYTES
        } else {
          this.prefix[this.prefixBytes++] = chunk[offset++] as number
          if (this.prefixBytes === LENGTH_PREFIX_BYTES) {
            this.prefixBytes = 0
            this.begin(((this.prefix[0] as number) << 8) | (this.prefix[1] as number))
          }
        }
        continue
      }
      // 2./3. ciphertext, then tag
      const take = Math.min(this.length - this.got, end - offset)
      const piece = offset === 0 && take === end ? chunk : chunk.subarray(offset, offset + take)
      offset += take
      this.body(piece)
    }
  }

  private begin (length: number): void {
    this.prefixBytes = LENGTH_PREFIX_BYTES
    this.length = length
    this.got = 0
    if (length < TAG_LENGTH) {
      this.failure = new NoiseError(
        'ERR_NOISE_DECRYPT',
        `"transport message length" expected >= ${TAG_LENGTH} (the tag), got ${length}`
      )
      return
    }
    try {
      this.opener = this.cs.openStream(length - TAG_LENGTH)
    } catch (err) {
      this.failure = toError(err)
      return
    }
    if (this.onMessage !== undefined) this.copy = new Uint8Array(length)
  }

  /** The next bytes of the current message's body (ciphertext ‖ tag), never past its end. */
  private body (piece: Uint8Array): void {
    const ctEnd = this.length - TAG_LENGTH
    const got = this.got
    this.copy?.set(piece, got)
    if (got < ctEnd) {
      const ctBytes = Math.min(ctEnd - got, piece.length)
      const pt = (this.opener as AeadOpener).update(ctBytes === piece.length ? piece : piece.subarray(0, ctBytes))
      if (pt.length > 0) this.held.push(pt)
      if (ctBytes < piece.length) this.tag.set(piece.subarray(ctBytes), 0)
    } else {
      this.tag.set(piece, got - ctEnd)
    }
    this.got = got + piece.length
    if (this.got === this.length) this.finish()
  }

  private finish (): void {
    const opener = this.opener as AeadOpener
    const held = this.held
    this.opener = undefined
    this.prefixBytes = 0
    try {
      const rest = opener.final(this.tag)
      if (rest.length > 0) held.push(rest)
    } catch (err) {
      held.length = 0
      this.failure = toError(err)
      return
    }
    for (let i = 0; i < held.length; i++) this.out.push(held[i] as Uint8Array)
    held.length = 0
    const copy = this.copy
    if (copy !== undefined) {
      this.copy = undefined
      this.onMessage?.(copy)
    }
    this.length = 0
    this.got = 0
  }
}
