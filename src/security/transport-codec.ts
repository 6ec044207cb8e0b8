/**
 * Noise wire framing (noise/README.md §"Wire Format"; digest §3.3): every Noise message, handshake or
 * transport, is `u16 big-endian length ‖ message`, message ≤ 65535 bytes. Transport messages carry
 * at most 65519 plaintext bytes (65535 − 16-byte tag); a larger write is split over several frames.
 *
 * Pure and synchronous. Decoding is a loop over a ChunkQueue: whole frames that sit inside one chunk
 * come out as views (no copy); a frame that spans chunks is copied once. Since the length field is 16
 * bits, no declared length can exceed the 65535 limit: there is nothing to refuse before buffering.
 *
 * Encoding writes every frame of a batch into ONE buffer, ciphertext in place:
 *
 *   out: [len₀][ciphertext₀ ‖ tag₀][len₁][ciphertext₁ ‖ tag₁] …      len = plaintext + 16
 *
 * so the adapter hands the socket one write per batch (STYLE pattern 14).
 */
import { ChunkQueue } from '../codec/chunk-queue.js'
import { allocUnsafe } from '../codec/alloc.js'
import { LENGTH_PREFIX_BYTES, MAX_PLAINTEXT_LENGTH, TAG_LENGTH } from './constants.js'
import type { CipherState } from './cipher-state.js'

const EMPTY = new Uint8Array(0)
const FRAME_OVERHEAD = LENGTH_PREFIX_BYTES + TAG_LENGTH

/** Splits a byte stream into Noise messages (u16 BE length prefix removed). */
export class NoiseFrameDecoder {
  private readonly queue = new ChunkQueue()

  push (chunk: Uint8Array): void {
    this.queue.push(chunk)
  }

  /** The next complete message, or `undefined` when more bytes are needed. */
  next (): Uint8Array | undefined {
    const q = this.queue
    if (q.length < LENGTH_PREFIX_BYTES) return undefined
    const length = (q.byteAt(0) << 8) | q.byteAt(1)
    if (q.length < LENGTH_PREFIX_BYTES + length) return undefined
    q.skip(LENGTH_PREFIX_BYTES)
    return q.consume(length)
  }

  /** For errors at EOF: what the partial message at the front still lacks. */
  describePending (): string {
    const q = this.queue
    if (q.length < LENGTH_PREFIX_BYTES) return `"length prefix" expected ${LENGTH_PREFIX_BYTES} bytes, got ${q.length}`
    const length = (q.byteAt(0) << 8) | q.byteAt(1)
    return `"message" expected ${length} bytes, got ${q.length - LENGTH_PREFIX_BYTES}`
  }

  /** Bytes received and not yet returned as a message (a partial frame when > 0 at EOF). */
  get buffered (): number {
    return this.queue.length
  }
}

/** Number of transport frames (and output bytes) needed for `plaintextLength` bytes. */
export function encodedLength (plaintextLength: number, maxPlaintext = MAX_PLAINTEXT_LENGTH): number {
  const frames = Math.ceil(plaintextLength / maxPlaintext)
  return plaintextLength + frames * FRAME_OVERHEAD
}

/**
 * Encrypt the concatenation of `chunks` as transport messages of at most `maxPlaintext` bytes each
 * (default 65519), all framed into one buffer. Empty input → empty output (no frame: a zero-length
 * write sends nothing). A frame whose plaintext sits inside one chunk is encrypted straight from that
 * view; one that spans chunks is first gathered into its place in the output and encrypted in place.
 * Throws NoiseError ERR_NOISE_NONCE_EXHAUSTED when the sending nonce runs out.
 */
export function encryptFrames (cs: CipherState, chunks: readonly Uint8Array[], maxPlaintext = MAX_PLAINTEXT_LENGTH): Uint8Array {
  if (!(maxPlaintext >= 1 && maxPlaintext <= MAX_PLAINTEXT_LENGTH)) {
    throw new RangeError(`"maxPlaintext" expected 1..${MAX_PLAINTEXT_LENGTH}, got ${maxPlaintext}`)
  }
  let total = 0
  for (const c of chunks) total += c.length
  if (total === 0) return EMPTY
  const out = allocUnsafe(encodedLength(total, maxPlaintext))
  let pos = 0
  let ci = 0 // current chunk
  let co = 0 // offset inside it
  let remaining = total
  while (remaining > 0) {
    const len = remaining < maxPlaintext ? remaining : maxPlaintext
    const msgLen = len + TAG_LENGTH
    out[pos] = msgLen >>> 8
    out[pos + 1] = msgLen & 0xff
    const body = pos + LENGTH_PREFIX_BYTES
    let chunk = chunks[ci] as Uint8Array
    while (co === chunk.length) { ci++; co = 0; chunk = chunks[ci] as Uint8Array } // skip empty/finished chunks
    let plaintext: Uint8Array
    if (chunk.length - co >= len) {
      plaintext = chunk.subarray(co, co + len) // zero copy: the frame lies inside one chunk
      co += len
    } else {
      let filled = 0 // gather the pieces into the frame's own place in `out`
      while (filled < len) {
        chunk = chunks[ci] as Uint8Array
        const take = Math.min(chunk.length - co, len - filled)
        out.set(chunk.subarray(co, co + take), body + filled)
        filled += take
        co += take
        if (co === chunk.length && filled < len) { ci++; co = 0 }
      }
      plaintext = out.subarray(body, body + len)
    }
    cs.encryptInto(EMPTY, plaintext, out, body)
    pos = body + msgLen
    remaining -= len
  }
  return out
}
