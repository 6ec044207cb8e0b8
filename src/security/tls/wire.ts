/**
 * The TLS presentation language (RFC 8446 §3) over byte buffers: a bounds-checked reader and a
 * small writer for `uint8/16/24` and `opaque <..2^n-1>` vectors. Every overrun is a TlsError with
 * the `decode_error` alert (RFC 8446 §6.2: "a message could not be decoded because some field was
 * out of the specified range or the length of the message was incorrect").
 */
import { TlsError } from '../../errors.js'
import type { ErrorCode } from '../../errors.js'
import { AlertDescription } from './constants.js'

export function decodeError (what: string, detail: string): TlsError {
  return new TlsError('ERR_TLS_DECODE', `${what}: ${detail}`, AlertDescription.decode_error)
}

export function tlsError (code: ErrorCode, alert: AlertDescription, message: string, cause?: unknown): TlsError {
  return new TlsError(code, message, alert, cause === undefined ? undefined : { cause })
}

export class Reader {
  private readonly buf: Uint8Array
  private offset: number
  private readonly end: number
  readonly what: string

  constructor (buf: Uint8Array, what: string, offset = 0, end = buf.length) {
    this.buf = buf
    this.offset = offset
    this.end = end
    this.what = what
  }

  get remaining (): number { return this.end - this.offset }

  private need (n: number, field: string): void {
    if (this.end - this.offset < n) {
      throw decodeError(this.what, `"${field}" expected ${n} more bytes, got ${this.end - this.offset}`)
    }
  }

  u8 (field: string): number {
    this.need(1, field)
    return this.buf[this.offset++] as number
  }

  u16 (field: string): number {
    this.need(2, field)
    const v = ((this.buf[this.offset] as number) << 8) | (this.buf[this.offset + 1] as number)
    this.offset += 2
    return v
  }

  u24 (field: string): number {
    this.need(3, field)
    const b = this.buf
    const o = this.offset
    this.offset += 3
    return ((b[o] as number) << 16) | ((b[o + 1] as number) << 8) | (b[o + 2] as number)
  }

  /** `n` bytes as a view. */
  bytes (n: number, field: string): Uint8Array {
    this.need(n, field)
    const v = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return v
  }

  /** `opaque field<min..2^(8*lenBytes)-1>`. */
  vector (lenBytes: 1 | 2 | 3, field: string, min = 0): Uint8Array {
    const n = lenBytes === 1 ? this.u8(field) : lenBytes === 2 ? this.u16(field) : this.u24(field)
    if (n < min) throw decodeError(this.what, `"${field}" expected at least ${min} bytes, got ${n}`)
    return this.bytes(n, field)
  }

  /** A sub-reader over a length-prefixed vector (for lists). */
  sub (lenBytes: 1 | 2 | 3, field: string, min = 0): Reader {
    const v = this.vector(lenBytes, field, min)
    return new Reader(v, `${this.what} ${field}`)
  }

  /** A list of uint16 inside a vector with a `lenBytes` prefix. */
  u16List (lenBytes: 1 | 2, field: string, min = 2): number[] {
    const r = this.sub(lenBytes, field, min)
    if (r.remaining % 2 !== 0) throw decodeError(this.what, `"${field}" expected an even length, got ${r.remaining}`)
    const out: number[] = []
    while (r.remaining > 0) out.push(r.u16(field))
    return out
  }

  /** Nothing may follow. */
  done (): void {
    if (this.offset !== this.end) throw decodeError(this.what, `${this.end - this.offset} trailing bytes`)
  }
}

export class Writer {
  private parts: number[] = []
  private readonly chunks: Uint8Array[] = []
  private length = 0

  private flushParts (): void {
    if (this.parts.length === 0) return
    this.chunks.push(Uint8Array.from(this.parts))
    this.length += this.parts.length
    this.parts = []
  }

  u8 (v: number): this { this.parts.push(v & 0xff); return this }
  u16 (v: number): this { this.parts.push((v >>> 8) & 0xff, v & 0xff); return this }
  u24 (v: number): this { this.parts.push((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff); return this }

  bytes (b: Uint8Array): this {
    this.flushParts()
    this.chunks.push(b)
    this.length += b.length
    return this
  }

  /** `opaque <..2^(8*lenBytes)-1>`: length prefix then bytes. */
  vector (lenBytes: 1 | 2 | 3, b: Uint8Array): this {
    const max = 2 ** (8 * lenBytes) - 1
    if (b.length > max) throw new RangeError(`vector expected <= ${max} bytes, got ${b.length}`)
    if (lenBytes === 1) this.u8(b.length)
    else if (lenBytes === 2) this.u16(b.length)
    else this.u24(b.length)
    return this.bytes(b)
  }

  /** A vector whose content is written by `fill`. */
  nested (lenBytes: 1 | 2 | 3, fill: (w: Writer) => void): this {
    const w = new Writer()
    fill(w)
    return this.vector(lenBytes, w.finish())
  }

  finish (): Uint8Array {
    this.flushParts()
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array
    const out = new Uint8Array(this.length)
    let o = 0
    for (const c of this.chunks) { out.set(c, o); o += c.length }
    return out
  }
}
