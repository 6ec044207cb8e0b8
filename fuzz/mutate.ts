/**
 * Deterministic mutators for the coverage-guided fuzzer (fuzz/engine.ts).
 *
 * Besides the classic byte-level ones (AFL's bit flips, interesting values, arithmetic,
 * insert/delete/duplicate, splice with another corpus entry, dictionary tokens), two know the
 * shapes every libp2p layer is made of:
 *  - varints: an unsigned LEB128 varint (unsigned-varint README; multistream, LP, protobuf, mplex)
 *    or a QUIC varint (RFC 9000 §16) found at a position is replaced by another value — a boundary
 *    (0, 127, 128, 2^14, 2^31, 2^53…), the length of what follows ± 1, or a non-minimal encoding;
 *  - length prefixes: a varint or 1/2/3/4-byte big-endian length (yamux 4, Noise 2, TLS 2/3, WS 2/8)
 *    is rewritten to the real remaining length (so framing checks pass and the body is reached),
 *    or a new length-prefixed chunk is inserted.
 * All randomness comes from one seeded `Rng`, so a run is reproducible from its seed.
 */

/** xorshift128+ reduced to 32 bits: fast, seedable, good enough to pick mutations. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    // splitmix32 to spread small seeds over the whole state
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next(); this.b = next(); this.c = next(); this.d = next() | 1
  }

  /** A uniform 32-bit unsigned integer (xoshiro128**). */
  u32 (): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return r
  }

  /** An integer in [0, n). */
  int (n: number): number { return n <= 1 ? 0 : this.u32() % n }
  bool (): boolean { return (this.u32() & 1) === 1 }
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] as T }
  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }
}

function rotl (x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0 }

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x0a, 0x2f]
const INTERESTING_32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x3ffff, 0x40000, 0x40001, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
const INTERESTING_VARINT = [0, 1, 2, 0x7f, 0x80, 0x3fff, 0x4000, 0xffff, 0x10000, 0x40000, 0x100000, 0x3fffffff,
  0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62 - 1]

export interface MutationContext {
  /** Protocol tokens (protocol ids, magic numbers, header bytes). */
  dictionary: readonly Uint8Array[]
  /** Other inputs to splice with. */
  corpus: readonly Uint8Array[]
  maxLength: number
}

/** An unsigned LEB128 varint of any value up to 2^64 (possibly non-minimal when `pad` > 0). */
export function leb128 (value: number, pad = 0): Uint8Array {
  const out: number[] = []
  let v = BigInt(Math.max(0, Math.floor(value)))
  do {
    const low = Number(v & 0x7fn)
    v >>= 7n
    out.push(v > 0n || pad > 0 ? low | 0x80 : low)
  } while (v > 0n)
  for (let i = 0; i < pad; i++) out.push(i === pad - 1 ? 0x00 : 0x80)
  return Uint8Array.from(out)
}

/** A QUIC variable-length integer (RFC 9000 §16) in the smallest (or the given) length. */
export function quicVarint (value: number, length?: 1 | 2 | 4 | 8): Uint8Array {
  const v = BigInt(Math.max(0, Math.floor(value))) & ((1n << 62n) - 1n)
  const len = length ?? (v < 64n ? 1 : v < 16384n ? 2 : v < 1073741824n ? 4 : 8)
  const prefix = BigInt({ 1: 0, 2: 1, 4: 2, 8: 3 }[len]) << BigInt(len * 8 - 2)
  let x = (v & ((1n << BigInt(len * 8 - 2)) - 1n)) | prefix
  const out = new Uint8Array(len)
  for (let i = len - 1; i >= 0; i--) { out[i] = Number(x & 0xffn); x >>= 8n }
  return out
}

/** Length of the LEB128 varint at `pos` (0: none within 10 bytes). */
function leb128At (buf: Uint8Array, pos: number): number {
  for (let i = pos; i < Math.min(buf.length, pos + 10); i++) if (((buf[i] as number) & 0x80) === 0) return i - pos + 1
  return 0
}

function replace (buf: Uint8Array, pos: number, removed: number, inserted: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length - removed + inserted.length)
  out.set(buf.subarray(0, pos), 0)
  out.set(inserted, pos)
  out.set(buf.subarray(pos + removed), pos + inserted.length)
  return out
}

function beBytes (value: number, width: number): Uint8Array {
  const out = new Uint8Array(width)
  let v = value
  for (let i = width - 1; i >= 0; i--) { out[i] = v & 0xff; v = Math.floor(v / 256) }
  return out
}

type Mutator = (buf: Uint8Array, rng: Rng, ctx: MutationContext) => Uint8Array

const MUTATORS: Array<[weight: number, Mutator]> = [
  [3, (b, r) => { // flip a bit
    if (b.length === 0) return r.bytes(1)
    const o = b.slice(); const i = r.int(o.length); o[i] = (o[i] as number) ^ (1 << r.int(8)); return o
  }],
  [2, (b, r) => { // random byte
    if (b.length === 0) return r.bytes(1)
    const o = b.slice(); o[r.int(o.length)] = r.u32() & 0xff; return o
  }],
  [2, (b, r) => { // interesting byte
    if (b.length === 0) return Uint8Array.of(r.pick(INTERESTING_8))
    const o = b.slice(); o[r.int(o.length)] = r.pick(INTERESTING_8); return o
  }],
  [2, (b, r) => { // interesting 16/32-bit value, big or little endian
    const width = r.pick([2, 4])
    if (b.length < width) return b
    const o = b.slice(); const pos = r.int(o.length - width + 1)
    const v = beBytes(r.pick(INTERESTING_32) % 2 ** (width * 8), width)
    o.set(r.bool() ? v : v.reverse(), pos); return o
  }],
  [2, (b, r) => { // small arithmetic on a byte
    if (b.length === 0) return b
    const o = b.slice(); const i = r.int(o.length); o[i] = ((o[i] as number) + r.int(35) - 17) & 0xff; return o
  }],
  [2, (b, r) => { // delete a range
    if (b.length === 0) return b
    const pos = r.int(b.length); const n = 1 + r.int(Math.min(16, b.length - pos))
    return replace(b, pos, n, new Uint8Array(0))
  }],
  [2, (b, r) => replace(b, r.int(b.length + 1), 0, r.bytes(1 + r.int(8)))], // insert random bytes
  [1, (b, r) => { // duplicate a range (repeated frames)
    if (b.length === 0) return b
    const pos = r.int(b.length); const n = 1 + r.int(Math.min(64, b.length - pos))
    const piece = b.slice(pos, pos + n)
    const times = 1 + r.int(4)
    let out = b
    for (let i = 0; i < times; i++) out = replace(out, pos, 0, piece)
    return out
  }],
  [1, (b, r) => b.subarray(0, r.int(b.length + 1))], // truncate
  [3, (b, r, ctx) => { // dictionary token, inserted or overwriting
    if (ctx.dictionary.length === 0) return b
    const tok = r.pick(ctx.dictionary); const pos = r.int(b.length + 1)
    return r.bool() ? replace(b, pos, 0, tok) : replace(b, pos, Math.min(tok.length, b.length - pos), tok)
  }],
  [2, (b, r, ctx) => { // splice with another input
    if (ctx.corpus.length === 0) return b
    const other = r.pick(ctx.corpus)
    const cut = r.int(b.length + 1); const from = r.int(other.length + 1)
    const out = new Uint8Array(cut + other.length - from)
    out.set(b.subarray(0, cut)); out.set(other.subarray(from), cut); return out
  }],
  [3, (b, r) => { // LEB128 varint: boundary value, remaining length ± 1, or non-minimal
    if (b.length === 0) return leb128(r.pick(INTERESTING_VARINT))
    const pos = r.int(b.length); const n = Math.max(1, leb128At(b, pos))
    const rest = b.length - pos - n
    const value = r.int(3) === 0 ? Math.max(0, rest + r.int(3) - 1) : r.pick(INTERESTING_VARINT)
    return replace(b, pos, Math.min(n, b.length - pos), leb128(value, r.int(6) === 0 ? 1 + r.int(3) : 0))
  }],
  [2, (b, r) => { // QUIC varint (RFC 9000 §16)
    if (b.length === 0) return quicVarint(r.pick(INTERESTING_VARINT))
    const pos = r.int(b.length); const n = 1 << ((b[pos] as number) >> 6)
    const rest = b.length - pos - n
    const value = r.bool() ? Math.max(0, rest) : r.pick(INTERESTING_VARINT)
    return replace(
      b,
      pos,
      Math.min(n, b.length - pos),
      quicVarint(value, r.int(4) === 0 ? r.pick([1, 2, 4, 8] as const) : undefined)
    )
  }],
  [3, (b, r) => { // fixed-width big-endian length := what really follows (reach the body)
    const width = r.pick([1, 2, 3, 4])
    if (b.length < width) return b
    const pos = r.int(b.length - width + 1)
    const rest = b.length - pos - width
    const o = b.slice()
    o.set(beBytes(Math.max(0, rest - r.int(Math.min(rest, 16) + 1)) % 2 ** (width * 8), width), pos)
    return o
  }],
  [2, (b, r, ctx) => { // insert a length-prefixed chunk (varint or u16 length)
    const body = ctx.dictionary.length > 0 && r.bool() ? r.pick(ctx.dictionary) : r.bytes(r.int(24))
    const prefix = r.bool() ? leb128(body.length) : beBytes(body.length, 2)
    const chunk = new Uint8Array(prefix.length + body.length); chunk.set(prefix); chunk.set(body, prefix.length)
    return replace(b, r.int(b.length + 1), 0, chunk)
  }]
]

const TOTAL_WEIGHT = MUTATORS.reduce((s, [w]) => s + w, 0)

/** 1 to 5 stacked mutations of `input` (never longer than `ctx.maxLength`). */
export function mutate (input: Uint8Array, rng: Rng, ctx: MutationContext): Uint8Array {
  let out = input
  const rounds = 1 + r5(rng)
  for (let i = 0; i < rounds; i++) {
    let pick = rng.int(TOTAL_WEIGHT)
    for (const [w, m] of MUTATORS) {
      if (pick < w) { out = m(out, rng, ctx); break }
      pick -= w
    }
  }
  return out.length > ctx.maxLength ? out.subarray(0, ctx.maxLength) : out
}

/** Mostly one or two stacked mutations, sometimes more (havoc). */
function r5 (rng: Rng): number {
  const x = rng.int(16)
  return x < 8 ? 0 : x < 12 ? 1 : x < 14 ? 2 : x < 15 ? 3 : 4
}
