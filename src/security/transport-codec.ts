/**
 * Noise wire framing (noise/README.md §"Wire Format"): every Noise message, handshake or
 * transport, is `u16 big-endian length ‖ message`, message ≤ 65535 bytes. Transport messages carry
 * at most 65519 plaintext bytes (65535 − 16-byte tag); a larger write is split over several frames.
 *
 * Pure and synchronous. Decoding is a loop over a ChunkQueue: whole frames that sit inside one chunk
 * come out as views (no copy); a frame that spans chunks is copied once by `next`. (After the
 * handshake, transport-reader.ts reads the transport messages without buffering them.) Since
 * the length field is 16 bits, no declared length can exceed the 65535 limit: there is nothing to
 * refuse before buffering.
 *
 * Encoding turns one batch of plaintext into the frames' wire bytes, as few chunks as possible
 * (`encryptFrames`), so the adapter hands the socket one write per batch (ws lib/sender.js cork/uncork; js-libp2p#1491
 * measured small writes):
 *
 *   [len₀][ciphertext₀ ‖ tag₀][len₁][ciphertext₁ ‖ tag₁] …      len = plaintext + 16
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
    const length = this.takePrefix()
    return length === undefined ? undefined : this.queue.consume(length)
  }

  /** When a whole message has arrived: its 2-byte length prefix consumed, its length. */
  private takePrefix (): number | undefined {
    const q = this.queue
    if (q.length < LENGTH_PREFIX_BYTES) return undefined
    const length = (q.byteAt(0) << 8) | q.byteAt(1)
    if (q.length < LENGTH_PREFIX_BYTES + length) return undefined
    q.skip(LENGTH_PREFIX_BYTES)
    return length
  }

  /** For errors at EOF: what the partial message at the front still lacks. */
  describePending (): string {
    const q = this.queue
    if (q.length < LENGTH_PREFIX_BYTES) return `"length prefix" expected ${LENGTH_PREFIX_BYTES} bytes, got ${q.length}`
    const length = (q.byteAt(0) << 8) | q.byteAt(1)
    return `"message" expected ${length} bytes, got ${q.length - LENGTH_PREFIX_BYTES}`
  }

  /** Remove and return every byte not yet returned as a message (hand-over to the transport reader). */
  takeAll (): Uint8Array[] {
    return this.queue.drainAll()
  }

  /** Bytes received and not yet returned as a message (a partial frame when > 0 at EOF). */
  get buffered (): number {
    return this.queue.length
  }
}

/** Number of output bytes (plaintext + 18 per frame) needed for `plaintextLength` bytes. */
export function encodedLength (plaintextLength: number, maxPlaintext = MAX_PLAINTEXT_LENGTH): number {
  const frames = Math.ceil(plaintextLength / maxPlaintext)
  return plaintextLength + frames * FRAME_OVERHEAD
}

/**
 * Frames with at least this much plaintext keep their ciphertext in the buffer the cipher produced
 * (a chunk of its own) instead of being copied into the batch buffer: node:crypto always allocates
 * the ciphertext, and a second 64 KiB buffer per frame cost ~25% of the throughput (measured,
 * bench/crypto.bench.ts). Below it, Node's pooled allocator makes the copy nearly free and one
 * contiguous buffer is cheaper for the socket than many small chunks. 4096 = Node's pool cut-off.
 */
export const ZERO_COPY_MIN_PLAINTEXT = 4096

/** Observer hook: one call per frame; `body` (ciphertext ‖ tag) only when it is contiguous. */
export type FrameCallback = (length: number, body: Uint8Array | undefined) => void

/**
 * Encrypt the concatenation of `chunks` as transport messages of at most `maxPlaintext` bytes each
 * (default 65519) and return the wire bytes of every frame as a list of chunks, to be handed to the
 * connection in ONE write:
 *
 *   small frames only:  [ len₀ ct₀ tag₀ len₁ ct₁ tag₁ … ]                       one buffer
 *   large frames:       [ … len₀ ] [ ct₀ ] [ tag₀ len₁ ] [ ct₁ ] [ tag₁ … ]      glue + ciphertexts
 *
 * All lengths and tags (and every small frame) live in one "glue" buffer per batch; a large frame's
 * ciphertext is the cipher's own output (see ZERO_COPY_MIN_PLAINTEXT). A frame whose plaintext lies
 * inside one input chunk is encrypted straight from that view; a large one that spans chunks is
 * encrypted part by part (CipherState.sealParts: one ciphertext chunk per part, no gather); a small
 * one is gathered into its place in the glue buffer and encrypted in place.
 * Empty input → no chunk (a zero-length write sends nothing). Throws NoiseError
 * ERR_NOISE_NONCE_EXHAUSTED when the sending nonce runs out.
 */
export function encryptFrames (
  cs: CipherState,
  chunks: readonly Uint8Array[],
  maxPlaintext = MAX_PLAINTEXT_LENGTH,
  onFrame?: FrameCallback
): Uint8Array[] {
  if (!(Number.isInteger(maxPlaintext) && maxPlaintext >= 1 && maxPlaintext <= MAX_PLAINTEXT_LENGTH)) {
    throw new RangeError(`"maxPlaintext" expected 1..${MAX_PLAINTEXT_LENGTH}, got ${maxPlaintext}`)
  }
  let total = 0
  for (const c of chunks) total += c.length
  if (total === 0) return []
  const frames = Math.ceil(total / maxPlaintext)
  const lastLength = total - (frames - 1) * maxPlaintext
  let largeBytes = lastLength >= ZERO_COPY_MIN_PLAINTEXT ? lastLength : 0
  if (maxPlaintext >= ZERO_COPY_MIN_PLAINTEXT) largeBytes += (frames - 1) * maxPlaintext
  const glue = allocUnsafe(encodedLength(total, maxPlaintext) - largeBytes)
  const out: Uint8Array[] = []
  let g = 0 // write position in `glue`
  let segment = 0 // start of the glue not yet handed out
  let ci = 0 // current input chunk
  let co = 0 // offset inside it
  let remaining = total
  while (remaining > 0) {
    const len = remaining < maxPlaintext ? remaining : maxPlaintext
    const large = len >= ZERO_COPY_MIN_PLAINTEXT
    const msgLen = len + TAG_LENGTH
    glue[g] = msgLen >>> 8
    glue[g + 1] = msgLen & 0xff
    g += LENGTH_PREFIX_BYTES
    let chunk = chunks[ci] as Uint8Array
    while (co === chunk.length) { ci++; co = 0; chunk = chunks[ci] as Uint8Array } // skip finished/empty chunks
    let plaintext: Uint8Array | undefined
    let parts: Uint8Array[] | undefined
    if (chunk.length - co >= len) {
      plaintext = chunk.subarray(co, co + len) // zero copy: the frame lies inside one chunk
      co += len
    } else if (large) {
      // A large frame across chunks (the muxer's header and payload): enciphered part by part, never
      // gathered — a gather would cost a 64 KiB buffer and copy per frame on top of the cipher's own.
      parts = []
      let filled = 0
      while (filled < len) {
        chunk = chunks[ci] as Uint8Array
        const take = Math.min(chunk.length - co, len - filled)
        parts.push(chunk.subarray(co, co + take))
        filled += take
        co += take
        if (co === chunk.length && filled < len) { ci++; co = 0 }
      }
    } else {
      plaintext = glue.subarray(g, g + len)
      let filled = 0
      while (filled < len) {
        chunk = chunks[ci] as Uint8Array
        const take = Math.min(chunk.length - co, len - filled)
        plaintext.set(chunk.subarray(co, co + take), filled)
        filled += take
        co += take
        if (co === chunk.length && filled < len) { ci++; co = 0 }
      }
    }
    if (large) {
      out.push(glue.subarray(segment, g))
      let tag: Uint8Array
      if (parts === undefined) {
        const [ct, t] = cs.seal(EMPTY, plaintext as Uint8Array)
        out.push(ct)
        tag = t
      } else {
        const sealed = cs.sealParts(EMPTY, parts)
        for (let i = 0; i < sealed.length - 1; i++) out.push(sealed[i] as Uint8Array)
        tag = sealed[sealed.length - 1] as Uint8Array
      }
      segment = g
      glue.set(tag, g)
      g += TAG_LENGTH
      onFrame?.(msgLen, undefined)
    } else {
      cs.encryptInto(EMPTY, plaintext as Uint8Array, glue, g)
      onFrame?.(msgLen, glue.subarray(g, g + msgLen))
      g += msgLen
    }
    remaining -= len
  }
  if (g > segment) out.push(glue.subarray(segment, g))
  return out
}
