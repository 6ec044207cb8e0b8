/**
 * Framing micro-benchmarks (no sockets): unsigned-varint and length-prefixed messages, ours beside
 * `uint8-varint` and `it-length-prefixed` (what js-libp2p uses) in the same process.
 * Every pair is cross-checked on the same input before it is timed.
 */
import * as uvarint from 'uint8-varint'
import * as itlp from 'it-length-prefixed'
import {
  decodeUvarint,
  decodeUvarintValue,
  encodeUvarintTo,
  encodeUvarint,
  encodingLength
} from '../src/codec/varint.js'
import { encodeLp, encodeLpPrefix, LpDecoder } from '../src/codec/length-prefixed.js'
import { crossCheck, FULL, measureSync, QUICK, row, formatTable } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'

const MiB = 1024 * 1024

/**
 * Varint sizes the table sweeps: 1, 2, 3, 5 and 9 bytes asked for. A 9-byte varint carries a value
 * of at least 2^56, above 2^53-1, which switchyard refuses by design (a JavaScript number cannot
 * hold it exactly; the unsigned-varint spec allows 9 bytes, libp2p lengths never need them), so
 * the largest size both sides agree on, 8 bytes (2^53-1), stands in for it.
 */
const VARINT_CASES: Array<[string, number]> = [
  ['1 B', 127], ['2 B', 128], ['3 B', 16384], ['5 B', 2 ** 28], ['8 B = 2^53-1 (for 9 B)', Number.MAX_SAFE_INTEGER]
]
const NINE_BYTE_NOTE =
  '9-byte varints encode values >= 2^56 > 2^53-1, which switchyard refuses by design (VarintError; a JS number cannot hold them exactly): the 8-byte maximum, 2^53-1, stands in for them.'

function varintRows (quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const rows: BenchRow[] = []
  const N = 1024
  for (const [label, value] of VARINT_CASES) {
    const enc = encodeUvarint(value)
    crossCheck(`varint ${label}`, enc, uvarint.encode(value))
    // Decode: a buffer of N copies, decoded back to back at offsets.
    const buf = new Uint8Array(enc.length * N)
    for (let i = 0; i < N; i++) buf.set(enc, i * enc.length)
    if (decodeUvarint(buf, 0)[0] !== value || uvarint.decode(buf, 0) !== value) throw new Error('varint cross-check')

    const oursDec = measureSync((it) => {
      let acc = 0
      for (let k = 0; k < it; k++) {
        let off = 0
        for (let i = 0; i < N; i++) { const v = decodeUvarintValue(buf, off); acc += v; off += encodingLength(v) }
      }
      return acc
    }, opts)
    const theirsDec = measureSync((it) => {
      let acc = 0
      for (let k = 0; k < it; k++) {
        let off = 0
        for (let i = 0; i < N; i++) { const v = uvarint.decode(buf, off); acc += v; off += uvarint.encodingLength(v) }
      }
      return acc
    }, opts)
    const scale = (s: { median: number, min: number, max: number }): typeof s => ({
      median: s.median * N,
      min: s.min * N,
      max: s.max * N
    })
    const decRow = row('varint', `decode ${label}`, 'ops/s', scale(oursDec), {
      name: 'uint8-varint',
      sample: scale(theirsDec)
    })
    if (value === Number.MAX_SAFE_INTEGER) decRow.note = NINE_BYTE_NOTE
    rows.push(decRow)

    const target = new Uint8Array(enc.length * N)
    const oursEnc = measureSync((it) => {
      for (let k = 0; k < it; k++) {
        let off = 0
        for (let i = 0; i < N; i++) off += encodeUvarintTo(value, target, off)
      }
      return target[0]
    }, opts)
    const theirsEnc = measureSync((it) => {
      for (let k = 0; k < it; k++) {
        let off = 0
        for (let i = 0; i < N; i++) { uvarint.encode(value, target, off); off += uvarint.encodingLength(value) }
      }
      return target[0]
    }, opts)
    rows.push(
      row('varint', `encode ${label}`, 'ops/s', scale(oursEnc), { name: 'uint8-varint', sample: scale(theirsEnc) })
    )
  }
  return rows
}

/** A wire stream of `count` messages of `size` bytes, cut into `chunkSize` chunks as a socket would deliver it. */
function lpStream (size: number, count: number, chunkSize: number): { chunks: Uint8Array[], totalBytes: number } {
  const msg = new Uint8Array(size).map((_, i) => i & 0xff)
  const one = encodeLp(msg)
  const wire = new Uint8Array(one.length * count)
  for (let i = 0; i < count; i++) wire.set(one, i * one.length)
  const chunks: Uint8Array[] = []
  for (let off = 0; off < wire.length; off += chunkSize) chunks.push(wire.subarray(off, off + chunkSize))
  return { chunks, totalBytes: wire.length }
}

function lpRows (quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const rows: BenchRow[] = []
  const cases: Array<[string, number, number]> = [
    ['100 B msgs, 64 KiB chunks', 100, 10_000],
    ['1 MiB msgs, 64 KiB chunks', MiB, 16]
  ]
  for (const [label, size, count] of cases) {
    const { chunks, totalBytes } = lpStream(size, count, 64 * 1024)
    // Cross-check: both decoders yield the same messages.
    const ours: Uint8Array[] = []
    const dec = new LpDecoder(2 * MiB)
    for (const c of chunks) ours.push(...dec.push(c))
    const theirs = [...itlp.decode(chunks, { maxDataLength: 2 * MiB })].map(l => l.subarray())
    if (ours.length !== count || theirs.length !== count) {
      throw new Error(`lp cross-check: ${ours.length}/${theirs.length} of ${count}`)
    }
    crossCheck(`lp ${label}`, ours[count - 1] as Uint8Array, theirs[count - 1] as Uint8Array)

    const oursS = measureSync((it) => {
      let n = 0
      for (let k = 0; k < it; k++) {
        const d = new LpDecoder(2 * MiB)
        for (const c of chunks) n += d.push(c).length
      }
      return n
    }, opts)
    const theirsS = measureSync((it) => {
      let n = 0
      for (let k = 0; k < it; k++) {
        // .subarray() makes each message contiguous, which is what LpDecoder returns.
        for (const m of itlp.decode(chunks, { maxDataLength: 2 * MiB })) n += m.subarray().length > 0 ? 1 : 0
      }
      return n
    }, opts)
    const toMsgs = (s: { median: number, min: number, max: number }): typeof s => ({
      median: s.median * count,
      min: s.min * count,
      max: s.max * count
    })
    const toMiB = (s: { median: number, min: number, max: number }): typeof s => ({
      median: s.median * totalBytes / MiB,
      min: s.min * totalBytes / MiB,
      max: s.max * totalBytes / MiB
    })
    const msgRow = row('length-prefixed', `decode ${label}`, 'msgs/s', toMsgs(oursS), {
      name: 'it-length-prefixed',
      sample: toMsgs(theirsS)
    })
    if (size === 100) msgRow.goals = [{ against: 'anchor', op: '>=', ratio: 2, label: '≥2x it-lp' }]
    rows.push(msgRow)
    rows.push(
      row('length-prefixed', `decode ${label}`, 'MiB/s', toMiB(oursS), {
        name: 'it-length-prefixed',
        sample: toMiB(theirsS)
      })
    )
  }

  // Encode: one buffer for small messages; [prefix, body] views (no body copy) for large ones.
  const small = new Uint8Array(100).fill(7)
  crossCheck('lp encode', encodeLp(small), itlp.encode.single(small).subarray())
  const encSmall = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) n += encodeLp(small).length
    return n
  }, opts)
  const encSmallTheirs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) n += itlp.encode.single(small).byteLength
    return n
  }, opts)
  rows.push(
    row('length-prefixed', 'encode 100 B (one buffer)', 'msgs/s', encSmall, {
      name: 'it-length-prefixed',
      sample: encSmallTheirs
    })
  )
  const big = new Uint8Array(MiB).fill(3)
  const encBig = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) {
      const parts = [encodeLpPrefix(big.length), big]
      n += parts.length
    }
    return n
  }, opts)
  const encBigTheirs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) n += itlp.encode.single(big).byteLength
    return n
  }, opts)
  rows.push(
    row('length-prefixed', 'encode 1 MiB ([prefix, body] views)', 'msgs/s', encBig, {
      name: 'it-length-prefixed',
      sample: encBigTheirs
    })
  )
  return rows
}

export async function runFramingBench (opts: { quick: boolean }): Promise<BenchRow[]> {
  return [...varintRows(opts.quick), ...lpRows(opts.quick)]
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rows = await runFramingBench({ quick: process.argv.includes('--quick') })
  console.log(formatTable(rows))
}
