/**
 * Test plumbing for the mplex adapter:
 *  - `FakeConnection`: a scriptable ByteConnection (inject bytes/end/close, control `write`'s
 *    backpressure answer, record every batch) for deterministic adapter tests;
 *  - `socketConnection`/`tcpPair`: node:net sockets over loopback as ByteConnections (a tiny test
 *    adapter; src/transport/tcp.ts is the real one);
 *  - small byte helpers.
 */
import net from 'node:net'
import { createHash } from 'node:crypto'
import type { ByteConnection, ByteSink } from '../../../src/connection.js'
import { StreamClosedError } from '../../../src/errors.js'
import { encodeFrame } from '../../../src/muxer/mplex/frame.js'
import type { MessageFlag } from '../../../src/muxer/mplex/constants.js'
import { refDecodeAll } from './reference.js'
import type { RefFrame } from './reference.js'
import { concat } from '../../helpers/bytes.js'

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export function frame (streamId: number, flag: MessageFlag, data: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  return concat(encodeFrame(streamId, flag, typeof data === 'string' ? utf8(data) : data))
}

/** Let pending promise continuations and ticks run. */
export async function settle (turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise(resolve => setImmediate(resolve))
}

/** Resolve `p`, or reject after `ms` naming `what` (every wait in these tests is bounded). */
export async function within<T> (p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms} ms: ${what}`))
    }, ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Deterministic pseudo-random bytes (xorshift), so payloads differ per stream without a global RNG. */
export function payload (seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

// ───────────────────────────── scripted connection ─────────────────────────────

export class FakeConnection implements ByteConnection {
  readonly remoteAddr = '/ip4/127.0.0.1/tcp/2'
  readonly localAddr = '/ip4/127.0.0.1/tcp/1'
  readonly direction: 'inbound' | 'outbound' = 'outbound'
  sink: ByteSink | undefined
  /** Every `write` call's chunks (copied). */
  batches: Uint8Array[][] = []
  /** What `write` answers (false = above the high-water mark). */
  accept = true
  aborted: Array<Error | undefined> = []
  closeCalls = 0
  writeEnded = false
  closed = false

  attach (sink: ByteSink): void { this.sink = sink }
  detach (): void { this.sink = undefined }
  write (chunks: readonly Uint8Array[]): boolean {
    if (this.writeEnded || this.closed) throw new StreamClosedError('fake: write after close')
    this.batches.push(chunks.map(c => c.slice()))
    return this.accept
  }

  get writableLength (): number { return 0 }
  pause (): void {}
  resume (): void {}
  closeWrite (): void { this.writeEnded = true }
  async close (): Promise<void> {
    this.closeCalls++
    this.writeEnded = true
    if (this.closed) return
    this.closed = true
    this.sink?.onClose()
  }

  abort (err?: Error): void {
    this.aborted.push(err)
    if (this.closed) return
    this.closed = true
    this.sink?.onClose(err)
  }

  // ── driving the muxer ──
  inject (...chunks: Uint8Array[]): void { for (const c of chunks) this.sink?.onData(c) }
  end (): void { this.sink?.onEnd() }
  drain (): void { this.accept = true; this.sink?.onDrain?.() }
  lose (err?: Error): void { this.closed = true; this.sink?.onClose(err) }

  /** Every frame written so far, decoded (and forgotten). */
  takeFrames (): RefFrame[] {
    const bytes = concat(this.batches.flat())
    this.batches = []
    return refDecodeAll(bytes, 1 << 20).frames
  }
}

// ───────────────────────────── node:net → ByteConnection ─────────────────────────────

const addr = (host: string | undefined, port: number | undefined): string =>
  host?.includes(':') === true ? `/ip6/${host}/tcp/${port ?? 0}` : `/ip4/${host ?? '0.0.0.0'}/tcp/${port ?? 0}`

/** A ByteConnection over a connected node:net socket (half-open allowed). */
export function socketConnection (socket: net.Socket, direction: 'inbound' | 'outbound'): ByteConnection {
  let sink: ByteSink | undefined
  const early: Uint8Array[] = []
  let ended = false
  let endDelivered = false
  let closed = false
  let closeDelivered = false
  let error: Error | undefined
  let writeEnded = false
  socket.setNoDelay(true)
  socket.pause()
  const deliver = (): void => {
    if (sink === undefined || early.length > 0) return
    if (ended && !endDelivered) { endDelivered = true; sink.onEnd() }
    if (closed && !closeDelivered) { closeDelivered = true; sink.onClose(error) }
  }
  socket.on('data', (buf: Buffer) => {
    const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    if (sink === undefined) { early.push(chunk); socket.pause() } else sink.onData(chunk)
  })
  socket.on('end', () => { ended = true; deliver() })
  socket.on('error', (err) => { error ??= err })
  socket.on('close', () => { closed = true; deliver() })
  socket.on('drain', () => { sink?.onDrain?.() })
  return {
    remoteAddr: addr(socket.remoteAddress, socket.remotePort),
    localAddr: addr(socket.localAddress, socket.localPort),
    direction,
    attach (s) {
      sink = s
      while (early.length > 0 && sink === s) s.onData(early.shift() as Uint8Array)
      deliver()
      if (!closed) socket.resume()
    },
    detach () { sink = undefined; socket.pause() },
    write (chunks) {
      if (writeEnded || closed) throw new StreamClosedError('socket: write after close')
      socket.cork()
      for (const c of chunks) socket.write(c)
      socket.uncork()
      return socket.writableLength < socket.writableHighWaterMark
    },
    get writableLength () { return socket.writableLength },
    pause () { socket.pause() },
    resume () { socket.resume() },
    closeWrite () { if (!writeEnded) { writeEnded = true; socket.end() } },
    async close () {
      writeEnded = true
      if (closed) return
      await new Promise<void>(resolve => {
        socket.once('close', () => { resolve() })
        socket.end()
        socket.resume()
        setTimeout(() => { socket.destroy() }, 2000).unref()
      })
    },
    abort (err) {
      writeEnded = true
      error ??= err
      if (!socket.destroyed) socket.resetAndDestroy()
    },
    get closed () { return closed }
  }
}

export interface TcpPair { client: ByteConnection, server: ByteConnection, close: () => void }

/** One loopback TCP connection as two ByteConnections. */
export async function tcpPair (): Promise<TcpPair> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const dialed = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => { resolve(s) })
    s.once('error', reject)
  })
  const inbound = await accepted
  server.close()
  return {
    client: socketConnection(dialed, 'outbound'),
    server: socketConnection(inbound, 'inbound'),
    close: () => { dialed.destroy(); inbound.destroy() }
  }
}
