/**
 * A small DER reader and writer (ITU-T X.690 §8, §10): only what X.509 certificates need —
 * SEQUENCE, SET, INTEGER, BOOLEAN, BIT STRING, OCTET STRING, NULL, OBJECT IDENTIFIER, UTCTime,
 * GeneralizedTime, strings, and context-specific tags. Strict: definite, minimal lengths only,
 * single-byte tags; anything else → TlsError (bad_certificate, ERR_TLS_BAD_CERTIFICATE).
 */
import { concatBytes } from '../../codec/bytes.js'
import { TlsError } from '../../errors.js'
import { AlertDescription } from './constants.js'

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31
} as const

/** `[n]` constructed context-specific tag (EXPLICIT tagging), and the primitive one (IMPLICIT). */
export const contextTag = (n: number, constructed = true): number => 0x80 | (constructed ? 0x20 : 0) | n

export function derError (detail: string): TlsError {
  return new TlsError('ERR_TLS_BAD_CERTIFICATE', `DER: ${detail}`, AlertDescription.bad_certificate)
}

/** One TLV: its tag, its value (a view) and the whole encoding (a view). */
export interface DerNode {
  tag: number
  value: Uint8Array
  raw: Uint8Array
}

/** Reads consecutive TLVs from a buffer. */
export class DerReader {
  private readonly buf: Uint8Array
  private offset = 0

  constructor (buf: Uint8Array) {
    this.buf = buf
  }

  get done (): boolean { return this.offset >= this.buf.length }

  peekTag (): number | undefined {
    return this.done ? undefined : this.buf[this.offset]
  }

  /** The next TLV; with `tag`, it must carry that tag. */
  next (tag?: number, what = 'element'): DerNode {
    const b = this.buf
    const start = this.offset
    if (start + 2 > b.length) throw derError(`${what}: truncated header`)
    const t = b[start] as number
    if ((t & 0x1f) === 0x1f) throw derError(`${what}: multi-byte tags are not supported`)
    if (tag !== undefined && t !== tag) {
      throw derError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.toString(16)}`)
    }
    let len = b[start + 1] as number
    let o = start + 2
    if (len & 0x80) {
      const n = len & 0x7f
      if (n === 0) throw derError(`${what}: indefinite length is not DER`)
      if (n > 3) throw derError(`${what}: length of ${n} bytes is too large`)
      if (o + n > b.length) throw derError(`${what}: truncated length`)
      len = 0
      for (let i = 0; i < n; i++) len = len * 256 + (b[o + i] as number)
      if (b[o] === 0 || len < 0x80) throw derError(`${what}: length not minimally encoded`)
      o += n
    }
    if (o + len > b.length) throw derError(`${what}: expected ${len} bytes of value, got ${b.length - o}`)
    this.offset = o + len
    return { tag: t, value: b.subarray(o, o + len), raw: b.subarray(start, o + len) }
  }

  /** The next TLV only if it carries `tag`. */
  optional (tag: number, what?: string): DerNode | undefined {
    return this.peekTag() === tag ? this.next(tag, what) : undefined
  }

  end (what = 'structure'): void {
    if (!this.done) throw derError(`${what}: ${this.buf.length - this.offset} trailing bytes`)
  }
}

export function readSequence (node: DerNode): DerReader {
  return new DerReader(node.value)
}

export function decodeOid (value: Uint8Array): string {
  if (value.length === 0) throw derError('empty OBJECT IDENTIFIER')
  const parts: number[] = []
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const byte = value[i] as number
    if (n === 0 && byte === 0x80) throw derError('OBJECT IDENTIFIER arc not minimally encoded')
    n = n * 128 + (byte & 0x7f)
    if (n > Number.MAX_SAFE_INTEGER) throw derError('OBJECT IDENTIFIER arc too large')
    if ((byte & 0x80) === 0) {
      parts.push(n)
      n = 0
    } else if (i === value.length - 1) throw derError('OBJECT IDENTIFIER truncated')
  }
  const first = parts[0] as number
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
  return [...head, ...parts.slice(1)].join('.')
}

export function decodeBoolean (value: Uint8Array): boolean {
  if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff)) throw derError('BOOLEAN must be one byte 00 or ff')
  return value[0] === 0xff
}

/** BIT STRING contents with 0 unused bits (all X.509 uses). */
export function decodeBitString (value: Uint8Array): Uint8Array {
  if (value.length === 0 || value[0] !== 0) throw derError('BIT STRING expected 0 unused bits')
  return value.subarray(1)
}

/** INTEGER value bytes, checked for minimal encoding. */
export function checkInteger (value: Uint8Array): Uint8Array {
  if (value.length === 0) throw derError('empty INTEGER')
  if (
    value.length > 1 &&
    ((value[0] === 0 && ((value[1] as number) & 0x80) === 0) ||
      (value[0] === 0xff && ((value[1] as number) & 0x80) !== 0))
  ) {
    throw derError('INTEGER not minimally encoded')
  }
  return value
}

export function decodeSmallInteger (value: Uint8Array): number {
  checkInteger(value)
  if (value.length > 6 || ((value[0] as number) & 0x80) !== 0) throw derError('INTEGER out of range')
  let n = 0
  for (const b of value) n = n * 256 + b
  return n
}

const ascii = new TextDecoder('latin1')

/** UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1) or GeneralizedTime `YYYYMMDDHHMMSSZ` (§4.1.2.5.2) → ms. */
export function decodeTime (node: DerNode): number {
  const s = ascii.decode(node.value)
  let m: RegExpMatchArray | null
  let year: number
  if (node.tag === Tag.UTC_TIME) {
    m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s)
    if (m === null) throw derError(`UTCTime "${s}" is not YYMMDDHHMMSSZ`)
    const yy = Number(m[1])
    year = yy >= 50 ? 1900 + yy : 2000 + yy
  } else if (node.tag === Tag.GENERALIZED_TIME) {
    m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s)
    if (m === null) throw derError(`GeneralizedTime "${s}" is not YYYYMMDDHHMMSSZ`)
    year = Number(m[1])
  } else {
    throw derError(`expected UTCTime or GeneralizedTime, got tag 0x${node.tag.toString(16)}`)
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) throw derError(`time "${s}" out of range`)
  return Date.UTC(year, mo - 1, d, h, mi, se)
}

// ── writer ──────────────────────────────────────────────────────────────────────────────────────

export function encodeTlv (tag: number, value: Uint8Array): Uint8Array {
  const len = value.length
  const lenBytes: number[] = []
  if (len < 0x80) lenBytes.push(len)
  else {
    const bytes: number[] = []
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff)
    lenBytes.push(0x80 | bytes.length, ...bytes)
  }
  const out = new Uint8Array(1 + lenBytes.length + len)
  out[0] = tag
  out.set(lenBytes, 1)
  out.set(value, 1 + lenBytes.length)
  return out
}

export const der = {
  sequence: (...children: Uint8Array[]): Uint8Array => encodeTlv(Tag.SEQUENCE, concatBytes(children)),
  set: (...children: Uint8Array[]): Uint8Array => encodeTlv(Tag.SET, concatBytes(children)),
  explicit: (n: number, child: Uint8Array): Uint8Array => encodeTlv(contextTag(n), child),
  /**
   * A non-negative INTEGER from big-endian magnitude bytes (leading zeros trimmed, 00 added when the top bit is set).
   */
  unsignedInteger: (magnitude: Uint8Array): Uint8Array => {
    let i = 0
    while (i < magnitude.length - 1 && magnitude[i] === 0) i++
    const m = magnitude.subarray(i)
    return encodeTlv(
      Tag.INTEGER,
      ((m[0] ?? 0) & 0x80) !== 0 ? concatBytes([Uint8Array.of(0), m]) : (m.length === 0 ? Uint8Array.of(0) : m)
    )
  },
  small: (n: number): Uint8Array => {
    const bytes: number[] = []
    do { bytes.unshift(n & 0xff); n = Math.floor(n / 256) } while (n > 0)
    if (((bytes[0] as number) & 0x80) !== 0) bytes.unshift(0)
    return encodeTlv(Tag.INTEGER, Uint8Array.from(bytes))
  },
  boolean: (v: boolean): Uint8Array => encodeTlv(Tag.BOOLEAN, Uint8Array.of(v ? 0xff : 0)),
  bitString: (bytes: Uint8Array): Uint8Array => encodeTlv(Tag.BIT_STRING, concatBytes([Uint8Array.of(0), bytes])),
  octetString: (bytes: Uint8Array): Uint8Array => encodeTlv(Tag.OCTET_STRING, bytes),
  null: (): Uint8Array => encodeTlv(Tag.NULL, new Uint8Array(0)),
  oid: (dotted: string): Uint8Array => {
    const arcs = dotted.split('.').map(Number)
    if (arcs.length < 2 || arcs.some(a => !Number.isSafeInteger(a) || a < 0)) {
      throw new RangeError(`"oid" expected dotted decimal, got ${dotted}`)
    }
    const values = [(arcs[0] as number) * 40 + (arcs[1] as number), ...arcs.slice(2)]
    const out: number[] = []
    for (const v of values) {
      const group: number[] = []
      let n = v
      do { group.unshift(n % 128); n = Math.floor(n / 128) } while (n > 0)
      for (let i = 0; i < group.length - 1; i++) group[i] = (group[i] as number) | 0x80
      out.push(...group)
    }
    return encodeTlv(Tag.OID, Uint8Array.from(out))
  },
  /** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
  time: (ms: number): Uint8Array => {
    const d = new Date(ms)
    const p = (n: number, w = 2): string => String(n).padStart(w, '0')
    const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${
      p(d.getUTCSeconds())
    }Z`
    const y = d.getUTCFullYear()
    return y < 2050 && y >= 1950
      ? encodeTlv(Tag.UTC_TIME, new TextEncoder().encode(`${p(y % 100)}${rest}`))
      : encodeTlv(Tag.GENERALIZED_TIME, new TextEncoder().encode(`${p(y, 4)}${rest}`))
  },
  raw: (bytes: Uint8Array): Uint8Array => bytes
}
