/**
 * The async driver of the HTTP/1.1 upgrade (RFC 6455 §4) over a TCP ByteConnection: read one
 * HTTP head off the connection (bounded in size and time), hand back the bytes read past it, and
 * answer or check it with handshake.ts. Bytes after the head belong to the WebSocket (a peer may
 * send its first frame in the same segment as its request or 101 response) and are never dropped.
 */
import type { ByteConnection } from '../../connection.js'
import { ChunkQueue } from '../../codec/chunk-queue.js'
import { WsError, toError } from '../../errors.js'
import {
  buildErrorResponse, buildUpgradeRequest, buildUpgradeResponse, checkUpgradeRequest, checkUpgradeResponse,
  findHeadEnd, newKey, parseHttpHead
} from './handshake.js'
import type { HttpHead } from './handshake.js'

export interface UpgradeLimits {
  /** Largest HTTP head accepted, in bytes. */
  maxUpgradeBytes: number
  /** Deadline for the whole upgrade, in milliseconds. */
  upgradeTimeoutMs: number
  signal?: AbortSignal
  /** Trace hook: the raw request / response head as sent or received. */
  onHead?: (dir: 'in' | 'out', head: Uint8Array) => void
}

export interface UpgradeResult {
  head: HttpHead
  /** Bytes that arrived after the head: the first WebSocket frames. */
  leftover: Uint8Array[]
}

/**
 * Read one head. Rejects with WsError: ERR_WS_HANDSHAKE (too large → httpStatus 431, connection
 * ended or failed first) or ERR_WS_HANDSHAKE_TIMEOUT. The connection is left detached.
 */
function readHead (
  conn: ByteConnection,
  what: 'request' | 'response',
  limits: UpgradeLimits
): Promise<{ raw: Uint8Array, leftover: Uint8Array[] }> {
  return new Promise((resolve, reject) => {
    const queue = new ChunkQueue()
    let buffered = new Uint8Array(0)
    let done = false
    const finish = (err: Error | undefined, result?: { raw: Uint8Array, leftover: Uint8Array[] }): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      limits.signal?.removeEventListener('abort', onAbort)
      conn.detach()
      if (err !== undefined) reject(err)
      else resolve(result as { raw: Uint8Array, leftover: Uint8Array[] })
    }
    const timer = setTimeout(
      () =>
        finish(
          new WsError(
            'ERR_WS_HANDSHAKE_TIMEOUT',
            `WebSocket upgrade ${what} expected within ${limits.upgradeTimeoutMs} ms, it did not complete`
          )
        ),
      limits.upgradeTimeoutMs
    )
    const onAbort = (): void =>
      finish(new WsError('ERR_WS_HANDSHAKE', 'WebSocket upgrade aborted', {}, { cause: limits.signal?.reason }))
    limits.signal?.addEventListener('abort', onAbort, { once: true })
    conn.attach({
      onData: chunk => {
        if (done) { queue.push(chunk); return }
        // Heads are small: gather into one buffer (bounded by maxUpgradeBytes) and scan the new part.
        const from = buffered.length
        const take = Math.min(chunk.length, limits.maxUpgradeBytes + 1 - from)
        const next = new Uint8Array(from + take)
        next.set(buffered)
        next.set(chunk.subarray(0, take), from)
        buffered = next
        const end = findHeadEnd(buffered, from > 3 ? from - 3 : 0)
        if (end < 0) {
          if (buffered.length > limits.maxUpgradeBytes) {
            finish(
              new WsError(
                'ERR_WS_HANDSHAKE',
                `"HTTP ${what} head" expected <= ${limits.maxUpgradeBytes} bytes, got more`,
                { httpStatus: 431 }
              )
            )
          }
          return
        }
        const raw = buffered.subarray(0, end)
        // The rest of this chunk after the head: a view of the chunk itself (not of our copy).
        const restStart = end - from
        const leftover = restStart < chunk.length ? [chunk.subarray(restStart)] : []
        finish(undefined, { raw, leftover })
      },
      onEnd: () =>
        finish(new WsError('ERR_WS_HANDSHAKE', `connection ended before the WebSocket upgrade ${what} was complete`)),
      onClose: err =>
        finish(
          new WsError('ERR_WS_HANDSHAKE', `connection closed before the WebSocket upgrade ${what} was complete`, {}, {
            cause: err
          })
        )
    })
  })
}

/**
 * Server side: read the client's request, answer 101 (or the HTTP error of handshake.ts and close).
 * Resolves with the request and the bytes after it; rejects with WsError (the connection is being
 * closed then).
 */
export async function upgradeInbound (conn: ByteConnection, limits: UpgradeLimits): Promise<UpgradeResult> {
  let raw: Uint8Array
  let leftover: Uint8Array[]
  try {
    ({ raw, leftover } = await readHead(conn, 'request', limits))
  } catch (err) {
    const status = (err as WsError).httpStatus
    if (status !== undefined && !conn.closed) {
      const answer = buildErrorResponse(status, toError(err).message)
      limits.onHead?.('out', answer)
      conn.write([answer])
      void conn.close()
    } else {
      conn.abort(toError(err))
    }
    throw err
  }
  limits.onHead?.('in', raw)
  let head: HttpHead
  let key: string
  try {
    head = parseHttpHead(raw, 'request')
    key = checkUpgradeRequest(head)
  } catch (err) {
    const status = (err as WsError).httpStatus ?? 400
    const answer = buildErrorResponse(status, toError(err).message)
    limits.onHead?.('out', answer)
    if (!conn.closed) { conn.write([answer]); void conn.close() }
    throw err
  }
  const answer = buildUpgradeResponse(key)
  limits.onHead?.('out', answer)
  conn.write([answer])
  return { head, leftover }
}

/**
 * Client side: send the request for `path` at `host` (`name:port`), check the 101 response.
 * Rejects with WsError ERR_WS_HANDSHAKE (httpStatus = the server's status when it refused) or
 * ERR_WS_HANDSHAKE_TIMEOUT; the connection is aborted then.
 */
export async function upgradeOutbound (
  conn: ByteConnection,
  host: string,
  path: string,
  randomFill: (t: Uint8Array) => void,
  limits: UpgradeLimits
): Promise<UpgradeResult> {
  const key = newKey(randomFill)
  const request = buildUpgradeRequest(host, path, key)
  limits.onHead?.('out', request)
  try {
    conn.write([request])
    const { raw, leftover } = await readHead(conn, 'response', limits)
    limits.onHead?.('in', raw)
    const head = parseHttpHead(raw, 'response')
    checkUpgradeResponse(head, key)
    return { head, leftover }
  } catch (err) {
    conn.abort(toError(err))
    throw err
  }
}
