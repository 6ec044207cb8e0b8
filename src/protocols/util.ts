/**
 * Small helpers shared by the protocol drivers: deadlines, failure handling, a monotonic clock.
 */
import type { Stream } from '../connection.js'
import { ProtocolError } from './errors.js'

/** Milliseconds from a monotonic clock (`process.hrtime`), for RTTs and throughput. */
export function monotonicMs (): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Validate a timeout option: a positive number of milliseconds, or `Infinity` for none. */
export function checkTimeout (name: string, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`"${name}" expected a positive number of milliseconds or Infinity, got ${ms}`)
  return ms
}

/**
 * Run `work` against a deadline. When the deadline passes first, the stream is reset (which makes
 * any pending read or write of `work` fail) and a ProtocolError ERR_PROTOCOL_TIMEOUT naming `what`
 * is thrown instead of whatever `work` then rejects with.
 */
export async function withTimeout<T> (
  stream: Stream,
  timeoutMs: number,
  what: string,
  work: () => Promise<T>
): Promise<T> {
  if (timeoutMs === Infinity) return await work()
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new ProtocolError(
        'ERR_PROTOCOL_TIMEOUT',
        `${what}: expected to finish within ${timeoutMs} ms, timed out`
      )
      stream.reset(err)
      reject(err)
    }, timeoutMs)
  })
  const running = work()
  // After a timeout the reset makes `running` reject too; that rejection is already reported.
  running.catch(() => {})
  try {
    return await Promise.race([running, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** Reset `stream` because of `err` (a no-op if it is already reset or fully closed) and return `err` to rethrow. */
export function abortWith (stream: Stream, err: unknown): unknown {
  stream.reset(err instanceof Error ? err : undefined)
  return err
}

const lenientUtf8 = new TextDecoder()

/** Text of a message for display (invalid UTF-8 becomes U+FFFD, like nim's `string.fromBytes` shows raw bytes). */
export function displayText (bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes)
}

/** Lowercase hex, for error messages. */
export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
