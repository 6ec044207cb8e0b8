/**
 * The machine view of a trace (`--trace-file <path>`): JSON Lines, one object per event, for tools
 * and tests. Every object has
 *
 *   time    milliseconds since the Unix epoch (fractional: microseconds)
 *   conn    connection number (1, 2, … in order of appearance)
 *   layer   tcp | multistream | noise | yamux | mplex | stream | capture
 *   kind    the event kind within the layer (open, message, handshake, frame, data, …)
 *
 * then the event's own fields as named in src/trace/observer.ts (`dir` 'in'/'out', `stream`,
 * `opener`, `frameType`, `flags`, `streamId`, `length`, `message`, `tokens`, `payload`, …), and
 * `bytes`: the raw bytes that crossed the layer, base64 (absent when the layer reported none).
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import type { TraceRecord } from './observer.js'
import type { TraceSink } from './tracer.js'

/** One record as a JSON object (`bytes` as base64), field order: time, conn, layer, kind, the rest. */
export function recordToJson (r: TraceRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { time: r.time, conn: r.conn, layer: r.layer, kind: r.kind }
  for (const [k, v] of Object.entries(r)) {
    if (k in out || v === undefined) continue
    out[k] = v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v
  }
  return out
}

export function formatJsonl (r: TraceRecord): string {
  return JSON.stringify(recordToJson(r)) + '\n'
}

/** Decode a JSON Lines trace back to objects (`bytes` stays base64); for tools and tests. */
export function parseJsonl (text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter(l => l.trim().length > 0).map(l => JSON.parse(l) as Record<string, unknown>)
}

/** Bytes buffered before a write to the file. */
const FLUSH_BYTES = 64 * 1024

/**
 * Appends records to a file. Writes are batched (FLUSH_BYTES) and synchronous, and the buffer is
 * flushed on `close()` and at process exit, so a trace is complete even when the program ends abruptly.
 */
export class JsonlTraceSink implements TraceSink {
  private fd: number | undefined
  private pending: string[] = []
  private pendingBytes = 0
  private readonly onExit = (): void => { this.flush() }

  constructor (readonly path: string) {
    this.fd = openSync(path, 'w')
    process.on('exit', this.onExit)
  }

  write (r: TraceRecord): void {
    if (this.fd === undefined) return
    const line = formatJsonl(r)
    this.pending.push(line)
    this.pendingBytes += line.length
    if (this.pendingBytes >= FLUSH_BYTES) this.flush()
  }

  flush (): void {
    if (this.fd === undefined || this.pending.length === 0) return
    writeSync(this.fd, this.pending.join(''))
    this.pending = []
    this.pendingBytes = 0
  }

  close (): void {
    if (this.fd === undefined) return
    this.flush()
    closeSync(this.fd)
    this.fd = undefined
    process.off('exit', this.onExit)
  }
}
