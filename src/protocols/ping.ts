/**
 * `/ipfs/ping/1.0.0` (libp2p/specs ping/ping.md).
 *
 *   dialer   → 32 random bytes          listener → the same 32 bytes
 *   (repeat on the same stream)
 *   dialer   → FIN after the last echo  listener → FIN once it has read EOF
 *
 * Not every listener repeats: nim-libp2p (v1.x `protocols/ping.nim`) reads one payload, echoes it
 * and returns, after which its switch closes the stream. The spec lets the dialer repeat on one
 * stream but does not oblige the listener to, so with `openStream` the client meets a clean end of
 * stream *before any byte of an echo* on a stream that already carried a round trip by opening a
 * new stream and sending that round again there (reported through `onNewStream`). An end inside an
 * echo, or on a stream's first round, stays an error.
 *
 * RTT = time from handing the payload to the stream until its echo is complete, on a monotonic
 * clock (`process.hrtime`). A wrong echo is a ProtocolError ERR_PING_MISMATCH.
 */
import type { Stream } from '../connection.js'
import { CodecError, EndOfStreamError, StreamResetError } from '../errors.js'
import {
  PING_CLIENT_TIMEOUT_MS,
  PING_CODEC,
  PING_MAX_INBOUND_STREAMS,
  PING_PAYLOAD_BYTES,
  PING_SERVER_IDLE_TIMEOUT_MS
} from './constants.js'
import { ProtocolError } from './errors.js'
import type { ProtocolDefinition, ProtocolHandler } from './types.js'
import { abortWith, checkTimeout, hex, monotonicMs, withTimeout } from './util.js'

export interface PingOptions {
  /** Round trips on this stream. Default 1. */
  count?: number
  /** Time allowed for each round trip. Default `PING_CLIENT_TIMEOUT_MS` (10 s). */
  timeoutMs?: number
  /** Called with each RTT (milliseconds) as it is measured; `index` counts from 0. */
  onRtt?: (rttMs: number, index: number) => void
  /** Source of the payloads (tests inject it). Default: `crypto.getRandomValues`. */
  randomBytes?: (length: number) => Uint8Array
  /**
   * Opens a fresh, negotiated `/ipfs/ping/1.0.0` stream to the same peer. Given, ping goes on over a
   * new stream when the listener ends the current one after an echo (nim-libp2p answers one payload
   * per stream); absent, that end is an EndOfStreamError.
   */
  openStream?: () => Promise<Stream>
  /** Called when ping moves to a new stream; `index` is the round (from 0) resent on it. */
  onNewStream?: (index: number, reason: string) => void
}

/** Why ping moves to a new stream: the listener ended the old one between round trips. */
const ENDED_AFTER_ECHO = 'the listener ended the stream after its echo'

const defaultRandomBytes = (length: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(length))

/**
 * Ping over an already negotiated `/ipfs/ping/1.0.0` stream: `count` round trips, then close.
 * Resolves with the RTTs in milliseconds. On any failure the stream is reset and the error thrown:
 * ERR_PING_MISMATCH, ERR_PROTOCOL_TIMEOUT, EndOfStreamError (the listener closed early and no
 * `openStream` was given, or a new stream ended before its first echo), or the stream's own errors.
 */
export async function ping (stream: Stream, options: PingOptions = {}): Promise<number[]> {
  const count = options.count ?? 1
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`"count" expected a positive integer, got ${count}`)
  }
  const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? PING_CLIENT_TIMEOUT_MS)
  const randomBytes = options.randomBytes ?? defaultRandomBytes
  const openStream = options.openStream
  const rtts: number[] = []
  let current = stream
  // Round trips completed on `current`: only a stream that already echoed may end "normally".
  let roundsOnCurrent = 0
  try {
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(PING_PAYLOAD_BYTES)
      if (payload.length !== PING_PAYLOAD_BYTES) {
        throw new RangeError(`"randomBytes" expected ${PING_PAYLOAD_BYTES} bytes, got ${payload.length}`)
      }
      let rtt = await roundTrip(current, payload, i, count, timeoutMs, roundsOnCurrent > 0 && openStream !== undefined)
      if (rtt === null && openStream !== undefined) {
        // The listener ended the stream where a new echo should start: close ours, go on anew.
        const ended = current
        await ended.close().catch(() => { ended.reset() })
        options.onNewStream?.(i, ENDED_AFTER_ECHO)
        current = await openStream()
        roundsOnCurrent = 0
        rtt = await roundTrip(current, payload, i, count, timeoutMs, false)
      }
      if (rtt === null) throw new EndOfStreamError(`ping round ${i + 1}: the stream ended before the echo`)
      roundsOnCurrent++
      rtts.push(rtt)
      options.onRtt?.(rtt, i)
    }
    // ping.md: the dialer closes its side after the last payload; the listener then closes too.
    await current.close()
  } catch (err) {
    throw abortWith(current, err)
  }
  return rtts
}

/**
 * One round trip on `stream`: the RTT, or null when `endIsNormal` and the stream ended cleanly
 * before the first byte of the echo.
 */
async function roundTrip (
  stream: Stream,
  payload: Uint8Array,
  i: number,
  count: number,
  timeoutMs: number,
  endIsNormal: boolean
): Promise<number | null> {
  return await withTimeout(stream, timeoutMs, `ping round ${i + 1} of ${count}`, async () => {
    const start = monotonicMs()
    await stream.write(payload)
    if (endIsNormal) {
      // Peek the first chunk: a clean end (the listener's FIN, sent right after its last echo, so
      // it is here before any answer to this payload could be) means the listener is done with
      // this stream. A reset stays an error: it may be our own (stop, SIGINT), not the listener's.
      const first = await stream.read()
      if (first === null) return null
      stream.unread(first)
    }
    const echo = await stream.readExactly(PING_PAYLOAD_BYTES)
    const rtt = monotonicMs() - start
    if (!equalBytes(echo, payload)) {
      throw new ProtocolError(
        'ERR_PING_MISMATCH',
        `ping round ${i + 1}: echo expected ${hex(payload)}, got ${hex(echo)}`
      )
    }
    return rtt
  })
}

export interface PingHandlerOptions {
  /** Reset a stream on which no payload arrives for this long. Default 60 s (go `pingTimeout`). */
  idleTimeoutMs?: number
}

/** A ping listener: echoes every 32-byte payload until EOF, then closes. */
export function createPingHandler (options: PingHandlerOptions = {}): ProtocolHandler {
  const idleTimeoutMs = checkTimeout('idleTimeoutMs', options.idleTimeoutMs ?? PING_SERVER_IDLE_TIMEOUT_MS)
  return async (stream) => {
    try {
      for (;;) {
        const payload = await withTimeout(
          stream,
          idleTimeoutMs,
          'ping listener: waiting for a payload',
          async () => await readPayload(stream)
        )
        if (payload === null) break
        await stream.write(payload)
      }
      await stream.close()
    } catch (err) {
      throw abortWith(stream, err)
    }
  }
}

/** The next payload, or null at a clean end of stream (EOF between payloads). */
async function readPayload (stream: Stream): Promise<Uint8Array | null> {
  // Peek one chunk first so EOF *between* payloads (normal) is told apart from EOF *inside* one.
  // go-libp2p's ping client resets the stream when it is done instead of half-closing it, so a reset
  // between payloads is that peer's way of saying EOF; inside a payload it stays an error.
  let first: Uint8Array | null
  try {
    first = await stream.read()
  } catch (err) {
    if (err instanceof StreamResetError) return null
    throw err
  }
  if (first === null) return null
  stream.unread(first)
  try {
    return await stream.readExactly(PING_PAYLOAD_BYTES)
  } catch (err) {
    if (err instanceof EndOfStreamError) {
      throw new CodecError('ERR_UNEXPECTED_EOF', `ping: stream ended inside a ${PING_PAYLOAD_BYTES}-byte payload`, {
        cause: err
      })
    }
    throw err
  }
}

export const pingHandler: ProtocolHandler = createPingHandler()

/** `/ipfs/ping/1.0.0`, ready to mount, with ping.md's limit of two inbound streams per peer. */
export const pingProtocol: ProtocolDefinition = {
  codecs: [PING_CODEC],
  handler: pingHandler,
  maxIncomingStreams: PING_MAX_INBOUND_STREAMS
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
