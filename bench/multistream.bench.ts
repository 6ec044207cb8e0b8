/**
 * multistream-select message codec (no sockets): encode and incremental decode of the messages a
 * negotiation sends, ours beside the anchor in the same process.
 *
 * The anchor: @libp2p/multistream-select 7.x has no encoder or decoder of its own to call — it
 * frames with `lpStream` (it-length-prefixed underneath) and checks each message with
 * `readString` (newline, UTF-8, trimEnd) behind an async reader. So the anchor here is exactly
 * that work done synchronously: it-length-prefixed framing of the same strings, and
 * it-length-prefixed decoding + the same checks (TextDecoder, trailing newline).
 *
 * Verified before timing: both produce the same bytes, and both decode the same texts.
 */
import * as itlp from 'it-length-prefixed'
import { encodeMessage, MessageReader } from '../src/multistream/messages.js'
import { crossCheck, FULL, formatTable, measureSync, QUICK, row } from './lib/harness.js'
import type { Sample } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'

/** What a negotiation sends: the header, the common protocol ids, `na`, and a long id. */
const MESSAGES = [
  '/multistream/1.0.0', '/noise', '/yamux/1.0.0', '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', 'na',
  '/switchyard/a-long-protocol-identifier/with/several/segments/1.0.0'
]

const utf8 = new TextEncoder()
const utf8d = new TextDecoder('utf-8', { fatal: true })

/** The anchor's encoder: it-length-prefixed around `text + "\n"` (multistream-select's `lp.write`). */
function theirsEncode (text: string): Uint8Array {
  return itlp.encode.single(utf8.encode(text + '\n')).subarray()
}

/** The anchor's per-message checks (`readString`): trailing newline, UTF-8 text, trimEnd. */
function theirsText (body: Uint8Array): string {
  if (body.length === 0 || body[body.length - 1] !== 0x0a) throw new Error('Missing newline')
  return utf8d.decode(body).trimEnd()
}

export async function runMultistreamBench (opts: { quick: boolean }): Promise<BenchRow[]> {
  const m = opts.quick ? QUICK : FULL
  const N = MESSAGES.length
  // A negotiation's worth of messages on the wire, 64 copies, cut at odd places (socket reads).
  const one = MESSAGES.map(encodeMessage)
  for (let i = 0; i < N; i++) {
    crossCheck(`multistream "${MESSAGES[i] as string}"`, one[i] as Uint8Array, theirsEncode(MESSAGES[i] as string))
  }
  const copies = 64
  const wireLen = one.reduce((s, b) => s + b.length, 0) * copies
  const wire = new Uint8Array(wireLen)
  let off = 0
  for (let c = 0; c < copies; c++) for (const b of one) { wire.set(b, off); off += b.length }
  const chunks: Uint8Array[] = []
  for (let o = 0, k = 0; o < wire.length; k++) {
    const len = 37 + (k * 53) % 211
    chunks.push(wire.subarray(o, o + len))
    o += len
  }
  const total = N * copies

  const oursDecode = (): string[] => {
    const r = new MessageReader()
    const out: string[] = []
    for (const c of chunks) {
      r.push(c)
      let t: string | undefined
      while ((t = r.nextMessage()) !== undefined) out.push(t)
    }
    return out
  }
  const theirsDecode = (): string[] =>
    Array.from(itlp.decode(chunks, { maxDataLength: 1024 }), l => theirsText(l.subarray()))
  const a = oursDecode()
  const b = theirsDecode()
  if (a.length !== total || b.length !== total || a.some((t, i) => t !== b[i] || t !== MESSAGES[i % N])) {
    throw new Error('multistream decode cross-check failed')
  }

  const scale = (s: Sample, f: number): Sample => ({ median: s.median * f, min: s.min * f, max: s.max * f })
  const encOurs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (const t of MESSAGES) n += encodeMessage(t).length
    return n
  }, m)
  const encTheirs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (const t of MESSAGES) n += theirsEncode(t).length
    return n
  }, m)
  const decOurs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) n += oursDecode().length
    return n
  }, m)
  const decTheirs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) n += theirsDecode().length
    return n
  }, m)
  const anchor = 'it-length-prefixed (as multistream-select)'
  return [
    row('multistream', 'message encode (7 typical ids)', 'msgs/s', scale(encOurs, N), {
      name: anchor,
      sample: scale(encTheirs, N)
    }),
    row('multistream', 'message decode, odd-sized chunks', 'msgs/s', scale(decOurs, total), {
      name: anchor,
      sample: scale(decTheirs, total)
    })
  ]
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  console.log(formatTable(await runMultistreamBench({ quick: process.argv.includes('--quick') })))
}
