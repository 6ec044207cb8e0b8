/**
 * A minimal protobuf wire reader/writer: enough for the handful of libp2p messages (keys, the Noise
 * handshake payload, identify). Messages are not hot, so clarity wins over speed here.
 *
 * Writer: fields come out in call order, varints minimal — which is exactly the deterministic
 * encoding the peer-id spec demands for keys (fields in tag order, minimal varints).
 * Reader: returns every field with its wire type; callers pick what they know and skip the rest
 * (protobuf's rule for unknown fields). Truncated or malformed input → CodecError.
 */
import { CodecError, toError } from '../errors.js'
import { decodeUvarint, encodeUvarintTo, encodingLength } from './varint.js'

/** protobuf encoding guide §"Message Structure": wire types we read. Groups (3, 4) are rejected. */
export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  Fixed32: 5
} as const
export type WireType = typeof WireType[keyof typeof WireType]

/** Largest field number protobuf allows (2^29 - 1). */
export const MAX_FIELD_NUMBER = 0x1fff_ffff

export interface ProtoField {
  field: number
  wireType: WireType
  /** Varint and fixed32 values (fixed32 as unsigned). 0 for the other wire types. */
  value: number
  /** Length-delimited contents, or the 8 raw little-endian bytes of a fixed64; empty otherwise. */
  bytes: Uint8Array
  /** With `decodeFields(buf, { uint64: true })`: a varint's full value (up to 2^64 - 1). */
  value64?: bigint
}

export interface DecodeFieldsOptions {
  /**
   * Read varints as protobuf `uint64` (up to 10 bytes, any value below 2^64) into `value64`,
   * instead of refusing values above 2^53 - 1. `value` then holds `Number(value64)`, possibly rounded.
   * For fields such as PeerRecord `seq`, which go-libp2p fills with a UnixNano timestamp.
   */
  uint64?: boolean
}

const EMPTY = new Uint8Array(0)
const utf8 = new TextEncoder()

export class ProtoWriter {
  private readonly parts: Uint8Array[] = []
  private size = 0

  private tag (field: number, wireType: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD_NUMBER) {
      throw new RangeError(`"field number" expected 1..${MAX_FIELD_NUMBER}, got ${field}`)
    }
    this.raw(encodeVarint(field * 8 + wireType))
  }

  private raw (b: Uint8Array): void {
    this.parts.push(b)
    this.size += b.length
  }

  varint (field: number, n: number): this {
    this.tag(field, WireType.Varint)
    this.raw(encodeVarint(n))
    return this
  }

  bool (field: number, b: boolean): this {
    return this.varint(field, b ? 1 : 0)
  }

  bytes (field: number, b: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited)
    this.raw(encodeVarint(b.length))
    this.raw(b)
    return this
  }

  string (field: number, s: string): this {
    return this.bytes(field, utf8.encode(s))
  }

  /** A protobuf `uint64` varint (0 … 2^64 - 1). */
  uint64 (field: number, n: bigint): this {
    if (n < 0n || n >= 1n << 64n) throw new RangeError(`"uint64" expected 0 … 2^64 - 1, got ${n}`)
    this.tag(field, WireType.Varint)
    const out: number[] = []
    let v = n
    do {
      const b = Number(v & 0x7fn)
      v >>= 7n
      out.push(v === 0n ? b : b | 0x80)
    } while (v !== 0n)
    this.raw(Uint8Array.from(out))
    return this
  }

  fixed32 (field: number, n: number): this {
    this.tag(field, WireType.Fixed32)
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, n >>> 0, true)
    this.raw(b)
    return this
  }

  fixed64 (field: number, n: bigint): this {
    this.tag(field, WireType.Fixed64)
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true)
    this.raw(b)
    return this
  }

  finish (): Uint8Array {
    const out = new Uint8Array(this.size)
    let off = 0
    for (const p of this.parts) { out.set(p, off); off += p.length }
    return out
  }
}

function encodeVarint (n: number): Uint8Array {
  const out = new Uint8Array(encodingLength(n))
  encodeUvarintTo(n, out, 0)
  return out
}

function malformed (what: string, offset: number): CodecError {
  return new CodecError('ERR_PROTOBUF_MALFORMED', `protobuf: ${what} at offset ${offset}`)
}

function readVarint (buf: Uint8Array, offset: number, what: string): [number, number] {
  let r: [number, number]
  try {
    r = decodeUvarint(buf, offset)
  } catch (err) {
    throw new CodecError(
      'ERR_PROTOBUF_MALFORMED',
      `protobuf: malformed ${what} at offset ${offset}: ${toError(err).message}`,
      { cause: err }
    )
  }
  if (r[1] === 0) throw malformed(`truncated ${what}`, offset)
  return r
}

/** A protobuf uint64 varint: at most 10 bytes, below 2^64 (protobuf encoding guide, "Base 128 Varints"). */
function readUint64 (buf: Uint8Array, offset: number, field: number): [bigint, number] {
  let value = 0n
  for (let i = 0; i < 10; i++) {
    const b = buf[offset + i]
    if (b === undefined) throw malformed(`truncated varint of field ${field}`, offset)
    value |= BigInt(b & 0x7f) << BigInt(7 * i)
    if ((b & 0x80) === 0) {
      if (value >= 1n << 64n) throw malformed(`varint of field ${field} exceeds 64 bits`, offset)
      return [value, i + 1]
    }
  }
  throw malformed(`varint of field ${field} longer than 10 bytes`, offset)
}

/** Every field of the message in `buf`, in wire order. */
export function decodeFields (buf: Uint8Array, options: DecodeFieldsOptions = {}): ProtoField[] {
  const fields: ProtoField[] = []
  let offset = 0
  while (offset < buf.length) {
    const start = offset
    const [key, keyLength] = readVarint(buf, offset, 'field key')
    offset += keyLength
    const field = Math.floor(key / 8)
    const wireType = key % 8
    if (field < 1 || field > MAX_FIELD_NUMBER) throw malformed(`field number ${field} out of range`, start)
    switch (wireType) {
      case WireType.Varint: {
        if (options.uint64 === true) {
          const [value64, n] = readUint64(buf, offset, field)
          offset += n
          fields.push({ field, wireType, value: Number(value64), value64, bytes: EMPTY })
          break
        }
        const [value, n] = readVarint(buf, offset, `varint of field ${field}`)
        offset += n
        fields.push({ field, wireType, value, bytes: EMPTY })
        break
      }
      case WireType.LengthDelimited: {
        const [length, n] = readVarint(buf, offset, `length of field ${field}`)
        offset += n
        if (offset + length > buf.length) {
          throw malformed(`field ${field} declares ${length} bytes but only ${buf.length - offset} remain`, start)
        }
        fields.push({ field, wireType, value: 0, bytes: buf.subarray(offset, offset + length) })
        offset += length
        break
      }
      case WireType.Fixed32: {
        if (offset + 4 > buf.length) throw malformed(`truncated fixed32 field ${field}`, start)
        const value = new DataView(buf.buffer, buf.byteOffset + offset, 4).getUint32(0, true)
        offset += 4
        fields.push({ field, wireType, value, bytes: EMPTY })
        break
      }
      case WireType.Fixed64: {
        if (offset + 8 > buf.length) throw malformed(`truncated fixed64 field ${field}`, start)
        fields.push({ field, wireType, value: 0, bytes: buf.subarray(offset, offset + 8) })
        offset += 8
        break
      }
      default:
        throw malformed(`unsupported wire type ${wireType} (field ${field})`, start)
    }
  }
  return fields
}

/** UTF-8 decode that refuses invalid sequences (protobuf `string` must be valid UTF-8). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })
export function decodeString (bytes: Uint8Array, what = 'string'): string {
  try {
    return strictUtf8.decode(bytes)
  } catch (err) {
    throw new CodecError('ERR_PROTOBUF_MALFORMED', `protobuf: ${what} is not valid UTF-8`, { cause: err })
  }
}
