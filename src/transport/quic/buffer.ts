/**
 * A cursor over one packet's bytes (QuicReader) and a growable writer (QuicWriter). A QUIC datagram
 * arrives whole, so running out of bytes inside a frame or header is malformed input, not "need
 * more": the reader throws the error its owner chose (FRAME_ENCODING_ERROR for frames,
 * TRANSPORT_PARAMETER_ERROR for transport parameters, a dropped packet for headers).
 */
import type { QuicError } from '../../errors.js'
import { decodeVarint, varintLength, writeVarint } from './varint.js'

export class QuicReader {
  readonly buf: Uint8Array
  pos: number
  readonly end: number
  private readonly truncated: (what: string) => QuicError

  constructor (buf: Uint8Array, truncated: (what: string) => QuicError, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = end
    this.truncated = truncated
  }

  get remaining (): number { return this.end - this.pos }

  varint (what: string): number {
    const [v, n] = decodeVarint(this.buf, this.pos, this.end)
    if (n === 0) throw this.truncated(what)
    this.pos += n
    return v
  }

  u8 (what: string): number {
    if (this.pos >= this.end) throw this.truncated(what)
    return this.buf[this.pos++] as number
  }

  u32 (what: string): number {
    if (this.end - this.pos < 4) throw this.truncated(what)
    const b = this.buf
    const p = this.pos
    this.pos += 4
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) |
      (b[p + 3] as number)) >>> 0
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes (n: number, what: string): Uint8Array {
    if (n > this.end - this.pos) throw this.truncated(what)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}

export class QuicWriter {
  buf: Uint8Array
  pos = 0

  constructor (capacity = 64) {
    this.buf = new Uint8Array(capacity)
  }

  private reserve (n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  varint (n: number, length?: 1 | 2 | 4 | 8): this {
    this.reserve(length ?? varintLength(n))
    this.pos += writeVarint(this.buf, this.pos, n, length)
    return this
  }

  u8 (n: number): this {
    this.reserve(1)
    this.buf[this.pos++] = n
    return this
  }

  u32 (n: number): this {
    this.reserve(4)
    const b = this.buf
    b[this.pos] = n >>> 24
    b[this.pos + 1] = n >>> 16
    b[this.pos + 2] = n >>> 8
    b[this.pos + 3] = n
    this.pos += 4
    return this
  }

  /** `n` zero bytes (PADDING: one fill, not a call per byte). */
  zeros (n: number): this {
    this.reserve(n)
    this.buf.fill(0, this.pos, this.pos + n)
    this.pos += n
    return this
  }

  bytes (data: Uint8Array): this {
    this.reserve(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
    return this
  }

  /** A view of what was written. */
  finish (): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}
