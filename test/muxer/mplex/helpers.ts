/**
 * Test plumbing for the mplex adapter:
 *  - `FakeConnection`: a scriptable ByteConnection (inject bytes/end/close, control `write`'s
 *    backpressure answer, record every batch) for deterministic adapter tests;
 *  - small byte helpers.
 */
import { createHash } from 'node:crypto'
import type { ByteConnection, ByteSink } from '../../../src/connection.js'
import { StreamClosedError } from '../../../src/errors.js'
import { encodeFrame } from '../../../src/muxer/mplex/frame.js'
import type { MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { refDecodeAll } from './reference.js'
import type { RefFrame } from './reference.js'
import { concat } from '../../helpers/bytes.js'

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export function frame (streamId: number, flag: MessageFlag, data: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  return concat(encodeFrame(streamId, flag, typeof data === 'string' ? utf8(data) : data))
}

/** Let pending promise continuations and ticks run. */
export async function settle (turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise(resolve => setImmediate(resolve))
}

/** Deterministic pseudo-random bytes (xorshift), so payloads differ per stream without a global RNG. */
export function payload (seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

// ───────────────────────────── scripted connection ─────────────────────────────

export class FakeConnection implements ByteConnection {
  readonly remoteAddr = '/ip4/127.0.0.1/tcp/2'
  readonly localAddr = '/ip4/127.0.0.1/tcp/1'
  readonly direction: 'inbound' | 'outbound' = 'outbound'
  sink: ByteSink | undefined
  /** Every `write` call's chunks (copied). */
  batches: Uint8Array[][] = []
  /** What `write` answers (false = above the high-water mark). */
  accept = true
  aborted: Array<Error | undefined> = []
  closeCalls = 0
  writeEnded = false
  closed = false

  attach (sink: ByteSink): void { this.sink = sink }
  detach (): void { this.sink = undefined }
  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded || this.closed) throw new StreamClosedError('fake: write after close')
    this.batches.push(chunks.map(c => c.slice()))
    return this.accept
  }

  get writableLength (): number { return 0 }
  pause (): void {}
  resume (): void {}
  closeWrite (): void { this.writeEnded = true }
  async close (): Promise<void> {
    this.closeCalls++
    this.writeEnded = true
    if (this.closed) return
    this.closed = true
    this.sink?.onClose()
  }

  abort (err?: Error): void {
    this.aborted.push(err)
    if (this.closed) return
    this.closed = true
    this.sink?.onClose(err)
  }

  // ── driving the muxer ──
  inject (...chunks: Uint8Array[]): void { for (const c of chunks) this.sink?.onData(c) }
  end (): void { this.sink?.onEnd() }
  drain (): void { this.accept = true; this.sink?.onDrain?.() }
  lose (err?: Error): void { this.closed = true; this.sink?.onClose(err) }

  /** Every frame written so far, decoded (and forgotten). */
  takeFrames (): RefFrame[] {
    const bytes = concat(this.batches.flat())
    this.batches = []
    return refDecodeAll(bytes, 1 << 20).frames
  }
}
