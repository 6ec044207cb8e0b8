/**
 * What tracing costs. The claim to check: a layer with no observer attached pays one `undefined`
 * check per frame — no event object, no string. So the same yamux session decode path is timed
 * three ways, in the same process, on the same bytes:
 *
 *   ours    no observer (the default)
 *   anchor  an observer attached that keeps the last event (so the event objects must really be
 *           built: a no-op observer lets V8 optimise the allocation away, which flatters the hook)
 *   limit   the bare FrameDecoder with an empty sink (the decode floor, no session work at all)
 *
 * plus the tracer's own formatting rates (text view and JSON Lines), for scale.
 *
 * Runnable alone: `node dist/bench/trace.bench.js [--quick]` after `npm run build`.
 */
import { FrameDecoder } from '../src/muxer/frame-decoder.js'
import { writeHeader } from '../src/muxer/frame.js'
import { Flag, FrameType, HEADER_LENGTH } from '../src/muxer/constants.js'
import { Session } from '../src/muxer/session.js'
import { TextFormatter } from '../src/trace/format-text.js'
import { formatJsonl } from '../src/trace/format-jsonl.js'
import type { TraceEvent, TraceObserver, TraceRecord } from '../src/trace/observer.js'
import { FULL, measureSync, QUICK, row, formatTable } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'

/** Frames per decoded buffer (about one socket read's worth of small frames). */
const FRAMES = 1024

/** `count` frames for stream 1, each a WindowUpdate (delta 0) or a Data frame of `payload` bytes. */
function frames (type: FrameType, payload: number, count: number): Uint8Array {
  const size = HEADER_LENGTH + payload
  const buf = new Uint8Array(size * count)
  for (let i = 0; i < count; i++) writeHeader(buf, i * size, type, 0, type === FrameType.Data ? 3 : 1, payload)
  return buf
}

/** A listener-side session with stream 1 opened by the peer (a SYN), ready to take frames. */
function session (observer: TraceObserver | undefined): Session {
  const s = new Session({
    initiator: false,
    config: { rttIntervalMs: 0, keepAliveIntervalMs: 0 },
    host: {
      onOutput: () => {},
      onClose: () => {},
      streams: {
        onStreamOpen: () => {},
        onStreamData: () => {},
        onStreamEnd: () => {},
        onStreamReset: () => {},
        onStreamWritable: () => {},
        onStreamRemoved: () => {}
      }
    },
    now: () => 0,
    observer
  })
  const syn = new Uint8Array(HEADER_LENGTH)
  writeHeader(syn, 0, FrameType.WindowUpdate, Flag.SYN, 1, 0)
  s.receive(syn)
  s.takeOutbox()
  if (s.closed) throw new Error('bench session closed during setup')
  return s
}

interface Case { label: string, buf: Uint8Array }

function sessionRows (quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const cases: Case[] = [
    // WindowUpdate for an open stream: the cheapest frame, so the observer's share is the largest.
    { label: 'WindowUpdate (12 B)', buf: frames(FrameType.WindowUpdate, 0, FRAMES) },
    // Data for a stream the session does not know (id 3): header work only, the payload is skipped.
    { label: 'Data 64 B, unrouted', buf: frames(FrameType.Data, 64, FRAMES) }
  ]
  const rows: BenchRow[] = []
  for (const c of cases) {
    // Verify before timing: with an observer, every frame is reported; without, the session still lives.
    let seen = 0
    const counting = session({ event: () => { seen++ } })
    seen = 0 // the setup's SYN and ACK
    counting.receive(c.buf)
    if (seen !== FRAMES || counting.closed) {
      throw new Error(`trace bench "${c.label}": expected ${FRAMES} frame events, got ${seen}`)
    }
    const plain = session(undefined)
    plain.receive(c.buf)
    if (plain.closed) throw new Error(`trace bench "${c.label}": the session closed`)

    const quiet = session(undefined)
    let last: TraceEvent | undefined
    const noop = session({ event: (e: TraceEvent) => { last = e } })
    const decoder = new FrameDecoder({ onHeader: () => false, onPayload: () => {}, onDataEnd: () => {} })
    const run = (s: Session) => (it: number): number => {
      for (let k = 0; k < it; k++) s.receive(c.buf)
      return it
    }
    const ours = measureSync(run(quiet), opts)
    const anchor = measureSync(run(noop), opts)
    const floor = measureSync((it) => {
      for (let k = 0; k < it; k++) decoder.push(c.buf)
      return it
    }, opts)
    if (quiet.closed || noop.closed || last === undefined) {
      throw new Error(`trace bench "${c.label}": a session closed while timed`)
    }
    const scale = (s: { median: number, min: number, max: number }): typeof s => ({
      median: s.median * FRAMES,
      min: s.min * FRAMES,
      max: s.max * FRAMES
    })
    rows.push(
      row('trace', `yamux session decode ${c.label}, no observer`, 'frames/s', scale(ours), {
        name: 'observer attached',
        sample: scale(anchor)
      }, { name: 'bare FrameDecoder', value: scale(floor).median })
    )
  }
  return rows
}

function formatRows (quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const header = new Uint8Array(HEADER_LENGTH)
  writeHeader(header, 0, FrameType.Data, 0, 1, 42)
  const message = new TextEncoder().encode('Part 10')
  const records: TraceRecord[] = [
    {
      conn: 1,
      time: 1_700_000_000_000.123,
      layer: 'yamux',
      kind: 'frame',
      dir: 'in',
      frameType: 0,
      flags: 0,
      streamId: 1,
      length: 42,
      bytes: header
    },
    {
      conn: 1,
      time: 1_700_000_000_000.456,
      layer: 'stream',
      kind: 'message',
      dir: 'in',
      stream: 1,
      opener: 'local',
      length: message.length,
      bytes: message
    }
  ]
  const text = new TextFormatter()
  const t = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (const r of records) n += text.format(r).length
    return n
  }, opts)
  const j = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (const r of records) n += formatJsonl(r).length
    return n
  }, opts)
  const scale = (s: { median: number, min: number, max: number }): typeof s => ({
    median: s.median * records.length,
    min: s.min * records.length,
    max: s.max * records.length
  })
  return [
    row('trace', 'text view, format one record', 'records/s', scale(t)),
    row('trace', 'JSON Lines, format one record', 'records/s', scale(j))
  ]
}

export async function runTraceBench (opts: { quick: boolean }): Promise<BenchRow[]> {
  return [...sessionRows(opts.quick), ...formatRows(opts.quick)]
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  console.log(formatTable(await runTraceBench({ quick: process.argv.includes('--quick') })))
}
