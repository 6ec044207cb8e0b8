/**
 * `/perf/1.0.0` (libp2p/specs perf/perf.md, r0 2022-11-16), both roles.
 *
 *   client → u64 BE N (bytes it wants back) ‖ upload bytes … FIN
 *   server: read the u64, read until EOF, *then* write N bytes, FIN
 *   client: read until EOF; the count must equal N
 *
 * perf.md: the server must not write while it is still reading. Both sides write from one
 * preallocated, never-mutated 64 KiB block (go perf: a pooled 64 KiB buffer), so a muxer may keep
 * views into it safely.
 *
 * The client reports test-plans perf results: `intermediary` lines at most once per interval with
 * the bytes and seconds *since the previous line*, and one `final` line with the totals
 * (js-libp2p protocol-perf `measurePerformance`; `formatPerfOutput` prints them as JSON lines).
 */
import type { Stream } from '../connection.js'
import { CodecError } from '../errors.js'
import { PERF_BLOCK_BYTES, PERF_CODEC, PERF_HEADER_BYTES, PERF_PROGRESS_INTERVAL_MS } from './constants.js'
import { ProtocolError } from './errors.js'
import type { ProtocolDefinition, ProtocolHandler } from './types.js'
import { abortWith, monotonicMs } from './util.js'

/** perf.md: the header is a u64; 2^64 - 1 is valid (the "run until stopped" variant). */
export const PERF_MAX_REQUEST = (1n << 64n) - 1n

/** The zero-filled block every write is a view of. Never written to after creation. */
const BLOCK = new Uint8Array(PERF_BLOCK_BYTES)

/** The 8-byte request header: big-endian u64 `downloadBytes`. */
export function encodePerfHeader (downloadBytes: number | bigint): Uint8Array {
  const n = BigInt(downloadBytes)
  if (n < 0n || n > PERF_MAX_REQUEST || (typeof downloadBytes === 'number' && !Number.isSafeInteger(downloadBytes))) {
    throw new RangeError(`"perf download size" expected an integer in [0, 2^64 - 1], got ${downloadBytes}`)
  }
  const out = new Uint8Array(PERF_HEADER_BYTES)
  new DataView(out.buffer).setBigUint64(0, n, false)
  return out
}

/** Decode the header at `buf[offset]`; CodecError ERR_UNEXPECTED_EOF when fewer than 8 bytes remain. */
export function decodePerfHeader (buf: Uint8Array, offset = 0): bigint {
  const have = buf.length - offset
  if (have < PERF_HEADER_BYTES) {
    throw new CodecError(
      'ERR_UNEXPECTED_EOF',
      `"perf request header" expected ${PERF_HEADER_BYTES} bytes (big-endian u64), got ${Math.max(have, 0)}`
    )
  }
  return new DataView(buf.buffer, buf.byteOffset + offset, PERF_HEADER_BYTES).getBigUint64(0, false)
}

// ────────────────────────── server ──────────────────────────

/** The perf server. */
export const perfHandler: ProtocolHandler = async (stream) => {
  try {
    // 1. The u64 may arrive split over chunks, or share its chunk with upload data.
    const head: Uint8Array[] = []
    let have = 0
    while (have < PERF_HEADER_BYTES) {
      const chunk = await stream.read()
      if (chunk === null) break
      head.push(chunk)
      have += chunk.length
    }
    const request = decodePerfHeader(head.length === 1 ? head[0] as Uint8Array : Buffer.concat(head))
    // 2. Drain the upload until EOF — only then write (perf.md: never concurrently).
    while (await stream.read() !== null) { /* discard */ }
    // 3. Send N bytes. Beyond 2^53 - 1 we cannot count exactly; that is the "until stopped" variant,
    //    which ends when the client resets the stream.
    await writeZeros(stream, request > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(request))
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/** `/perf/1.0.0`, ready to mount. Not mounted by default (perf.md: not on public nodes). */
export const perfProtocol: ProtocolDefinition = { codecs: [PERF_CODEC], handler: perfHandler }

async function writeZeros (stream: Stream, n: number, onBlock?: (bytes: number) => void): Promise<void> {
  let remaining = n
  while (remaining > 0) {
    const size = Math.min(remaining, PERF_BLOCK_BYTES)
    await stream.write(size === PERF_BLOCK_BYTES ? BLOCK : BLOCK.subarray(0, size))
    remaining -= size
    onBlock?.(size)
  }
}

// ────────────────────────── client ──────────────────────────

/** One result line of the test-plans perf output. */
export interface PerfOutput {
  type: 'intermediary' | 'final'
  /** intermediary: seconds since the previous line; final: seconds for the whole run. */
  timeSeconds: number
  /** intermediary: bytes since the previous line; final: total. */
  uploadBytes: number
  downloadBytes: number
}

export interface PerfOptions {
  /** Bytes to upload after the header. */
  uploadBytes: number
  /** Bytes to ask the server to send back. */
  downloadBytes: number
  /** Receives intermediary lines (at most one per `progressIntervalMs`) and the final line. */
  onOutput?: (output: PerfOutput) => void
  /** Default 1000 ms (test-plans perf). */
  progressIntervalMs?: number
  /** When the run started on `now`'s clock, e.g. before dialing, so the final time includes it. Default: the call. */
  startMs?: number
  /** Monotonic clock in milliseconds (tests inject one). Default `process.hrtime`. */
  now?: () => number
}

export interface PerfResult {
  uploadBytes: number
  downloadBytes: number
  /** From the header write to the half-close. */
  uploadSeconds: number
  /** From the half-close to EOF. */
  downloadSeconds: number
  /** From `startMs` to EOF: the final line's `timeSeconds`. */
  timeSeconds: number
}

/**
 * Run the perf client over an already negotiated `/perf/1.0.0` stream. Resolves with the byte
 * counts and times; on failure the stream is reset and the error thrown (ProtocolError
 * ERR_PERF_SIZE_MISMATCH when the server sends a different number of bytes than requested).
 */
export async function perf (stream: Stream, options: PerfOptions): Promise<PerfResult> {
  const { uploadBytes, downloadBytes } = options
  checkSize('uploadBytes', uploadBytes)
  checkSize('downloadBytes', downloadBytes)
  const now = options.now ?? monotonicMs
  const interval = options.progressIntervalMs ?? PERF_PROGRESS_INTERVAL_MS
  const start = options.startMs ?? now()
  const emit = options.onOutput

  // Intermediary reporting: bytes and time since the last line.
  let lastReport = now()
  let sinceUp = 0
  let sinceDown = 0
  const progress = (up: number, down: number): void => {
    sinceUp += up
    sinceDown += down
    if (emit === undefined) return
    const t = now()
    if (t - lastReport < interval) return
    emit({ type: 'intermediary', timeSeconds: (t - lastReport) / 1000, uploadBytes: sinceUp, downloadBytes: sinceDown })
    lastReport = t
    sinceUp = 0
    sinceDown = 0
  }

  try {
    const uploadStart = now()
    await stream.write(encodePerfHeader(downloadBytes))
    await writeZeros(stream, uploadBytes, (n) => { progress(n, 0) })
    await stream.closeWrite()
    const downloadStart = now()

    let received = 0
    for (;;) {
      const chunk = await stream.read()
      if (chunk === null) break
      received += chunk.length
      if (received > downloadBytes) break // fail fast: no need to take more than was asked for
      progress(0, chunk.length)
    }
    if (received !== downloadBytes) {
      const got = received > downloadBytes ? `more than ${downloadBytes}` : `${received}`
      throw new ProtocolError('ERR_PERF_SIZE_MISMATCH', `perf: expected ${downloadBytes} download bytes, got ${got}`)
    }
    const end = now()
    await stream.close()

    const result: PerfResult = {
      uploadBytes,
      downloadBytes: received,
      uploadSeconds: (downloadStart - uploadStart) / 1000,
      downloadSeconds: (end - downloadStart) / 1000,
      timeSeconds: (end - start) / 1000
    }
    emit?.({ type: 'final', timeSeconds: result.timeSeconds, uploadBytes, downloadBytes: received })
    return result
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/**
 * One JSON line as the test-plans perf runner reads it: `{"type":…,"timeSeconds":…,"uploadBytes":…,"downloadBytes":…}`.
 */
export function formatPerfOutput (output: PerfOutput): string {
  return JSON.stringify({
    type: output.type,
    timeSeconds: output.timeSeconds,
    uploadBytes: output.uploadBytes,
    downloadBytes: output.downloadBytes
  })
}

function checkSize (name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`"${name}" expected a non-negative integer, got ${n}`)
}
