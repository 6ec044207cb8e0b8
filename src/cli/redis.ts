/**
 * The few lines of Redis that libp2p/test-plans' transport-interop contract needs (RPUSH and BLPOP
 * on the list `listenerAddr`): RESP2 over node:net, no client library.
 *
 * RESP2 (redis.io/docs/latest/develop/reference/protocol-spec): a command is an array of bulk
 * strings `*<n>\r\n` + n × `$<len>\r\n<bytes>\r\n`; a reply is one of
 *
 *   `+<text>\r\n`   simple string      `-<text>\r\n`  error
 *   `:<int>\r\n`    integer            `$<len>\r\n<bytes>\r\n`, `$-1\r\n` = null bulk string
 *   `*<n>\r\n` + n replies, `*-1\r\n` = null array (BLPOP's timeout)
 *
 * `decodeReply` is a pure decoder (need more bytes = `undefined`, malformed = RedisError with code
 * ERR_REDIS_PROTOCOL); `RedisClient` is the thin adapter, one command in flight at a time.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { SwitchyardError, toError } from '../errors.js'
import { concatBytes } from '../codec/bytes.js'

/** A decoded RESP2 reply; an error reply is a `RedisError` instead. */
export type RedisReply = string | number | null | RedisReply[]

/** Limits of the decoder (checked on the header, before the body is buffered). */
export const REDIS_LIMITS = {
  /** A bulk string's declared length: multiaddrs are well under 1 KiB. */
  maxBulkBytes: 512 * 1024,
  /** Elements of one array reply. */
  maxArrayLength: 1024,
  /** A header, simple string, error or integer line (without CRLF). */
  maxLineBytes: 64 * 1024,
  /** Arrays inside arrays. */
  maxDepth: 4
} as const

/** A malformed reply (ERR_REDIS_PROTOCOL), an error reply from the server (ERR_REDIS_REPLY), or a lost connection. */
export class RedisError extends SwitchyardError {}

const CR = 0x0d
const LF = 0x0a
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** `args` as one RESP2 command (an array of bulk strings). */
export function encodeCommand (args: readonly string[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)]
  for (const a of args) {
    const body = encoder.encode(a)
    parts.push(encoder.encode(`$${body.length}\r\n`), body, encoder.encode('\r\n'))
  }
  return concatBytes(parts)
}

const malformed = (message: string): RedisError =>
  new RedisError('ERR_REDIS_PROTOCOL', `malformed Redis reply: ${message}`)

/** The line starting at `offset` (without CRLF) and the offset after it; undefined while incomplete. */
function readLine (buf: Uint8Array, offset: number): [string, number] | undefined {
  const end = Math.min(buf.length, offset + REDIS_LIMITS.maxLineBytes + 2)
  for (let i = offset; i < end; i++) {
    if (buf[i] !== CR) continue
    if (i + 1 >= buf.length) return undefined
    if (buf[i + 1] !== LF) throw malformed(`CR without LF at byte ${i}`)
    return [text(buf.subarray(offset, i)), i + 2]
  }
  if (end - offset >= REDIS_LIMITS.maxLineBytes + 2) {
    throw malformed(`"line" expected <= ${REDIS_LIMITS.maxLineBytes} bytes without CRLF`)
  }
  return undefined
}

function text (bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch {
    throw malformed('text is not UTF-8')
  }
}

/** A RESP integer: an optional minus sign and decimal digits, within the safe integers. */
function integer (s: string, what: string): number {
  if (!/^-?[0-9]{1,16}$/.test(s)) throw malformed(`${what} ${JSON.stringify(s.slice(0, 40))} is not an integer`)
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw malformed(`${what} ${s} is out of range`)
  return n
}

/**
 * Decode one reply at `offset`: `[reply, bytesUsed]`, or `undefined` when `buf` ends before the
 * reply does. An error reply decodes as a RedisError value (the caller throws it).
 */
export function decodeReply (buf: Uint8Array, offset = 0, depth = 0): [RedisReply | RedisError, number] | undefined {
  if (offset >= buf.length) return undefined
  const line = readLine(buf, offset + 1)
  if (line === undefined) return undefined
  const [body, next] = line
  switch (buf[offset]) {
    case 0x2b: // '+'
      return [body, next - offset]
    case 0x2d: // '-'
      return [new RedisError('ERR_REDIS_REPLY', `Redis error reply: ${body}`), next - offset]
    case 0x3a: // ':'
      return [integer(body, 'integer'), next - offset]
    case 0x24: { // '$'
      const len = integer(body, 'bulk string length')
      if (len === -1) return [null, next - offset]
      if (len < 0 || len > REDIS_LIMITS.maxBulkBytes) {
        throw malformed(`"bulk string length" expected -1 or 0 … ${REDIS_LIMITS.maxBulkBytes}, got ${len}`)
      }
      if (buf.length < next + len + 2) return undefined
      if (buf[next + len] !== CR || buf[next + len + 1] !== LF) {
        throw malformed(`bulk string of ${len} bytes not followed by CRLF`)
      }
      return [text(buf.subarray(next, next + len)), next + len + 2 - offset]
    }
    case 0x2a: { // '*'
      const n = integer(body, 'array length')
      if (n === -1) return [null, next - offset]
      if (n < 0 || n > REDIS_LIMITS.maxArrayLength) {
        throw malformed(`"array length" expected -1 or 0 … ${REDIS_LIMITS.maxArrayLength}, got ${n}`)
      }
      if (depth >= REDIS_LIMITS.maxDepth) throw malformed(`arrays nested deeper than ${REDIS_LIMITS.maxDepth}`)
      const items: RedisReply[] = []
      let at = next
      for (let i = 0; i < n; i++) {
        const item = decodeReply(buf, at, depth + 1)
        if (item === undefined) return undefined
        // An error inside an array (EXEC's replies) is kept as its text; we never send EXEC.
        items.push(item[0] instanceof RedisError ? item[0].message : item[0])
        at += item[1]
      }
      return [items, at - offset]
    }
    default:
      throw malformed(`unknown type byte 0x${(buf[offset] as number).toString(16).padStart(2, '0')}`)
  }
}

/** `host:port` (test-plans' `redis_addr`, default `redis:6379`); `[v6]:port` for IPv6. */
export function parseRedisAddr (addr: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(addr)
  const port = Number(m?.[3])
  if (m === null || port < 1 || port > 65535) {
    throw new RedisError('ERR_REDIS_PROTOCOL', `redis address ${JSON.stringify(addr)}: expected host:port`)
  }
  return { host: (m[1] ?? m[2]) as string, port }
}

/** One connection to a Redis server; commands run one at a time, in order. */
export class RedisClient {
  private buffered: Uint8Array = new Uint8Array(0)
  private waiter: { resolve: (r: RedisReply) => void, reject: (e: Error) => void } | undefined
  private failure: Error | undefined
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk)
    })
    socket.on('error', (err) => {
      this.fail(new RedisError('ERR_REDIS_REPLY', `Redis connection: ${err.message}`, { cause: err }))
    })
    socket.on('close', () => {
      this.fail(new RedisError('ERR_REDIS_REPLY', 'Redis closed the connection'))
    })
  }

  /** Connect to `addr` (`host:port`). */
  static async connect (addr: string): Promise<RedisClient> {
    const { host, port } = parseRedisAddr(addr)
    const socket = connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', (err) => {
        reject(new RedisError('ERR_REDIS_REPLY', `connecting to Redis at ${addr}: ${err.message}`, { cause: err }))
      })
    })
    socket.setNoDelay(true)
    return new RedisClient(socket)
  }

  /** Send one command and wait for its reply; an error reply rejects with ERR_REDIS_REPLY. */
  async command (...args: string[]): Promise<RedisReply> {
    const run = this.queue.then(async () => await new Promise<RedisReply>((resolve, reject) => {
      if (this.failure !== undefined) { reject(this.failure); return }
      this.waiter = { resolve, reject }
      this.socket.write(encodeCommand(args))
    }))
    this.queue = run.catch(() => {})
    return await run
  }

  close (): void {
    this.socket.destroy()
  }

  private onData (chunk: Uint8Array): void {
    this.buffered = this.buffered.length === 0 ? chunk : concatBytes([this.buffered, chunk])
    let decoded
    try {
      decoded = decodeReply(this.buffered)
    } catch (err) {
      this.fail(toError(err))
      this.socket.destroy()
      return
    }
    if (decoded === undefined) return
    const [reply, used] = decoded
    this.buffered = this.buffered.subarray(used)
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter === undefined) { this.fail(malformed('a reply nobody asked for')); this.socket.destroy(); return }
    if (reply instanceof RedisError) waiter.reject(reply)
    else waiter.resolve(reply)
  }

  private fail (err: Error): void {
    this.failure ??= err
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.reject(err)
  }
}
