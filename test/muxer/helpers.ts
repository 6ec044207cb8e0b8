/**
 * Test plumbing for the yamux tests:
 *  - `sessionPair`: two sans-I/O sessions wired back to back, with a manual clock and an explicit
 *    `pump()` that moves outboxes across (so every test controls exactly when bytes travel);
 *  - `FrameRecorder`: decodes everything one session sends, to assert exact frames;
 *  - `socketConnection`/`tcpPair`: node:net sockets as `ByteConnection`s over loopback, until
 *    src/transport/tcp.ts is the one to use.
 */
import { createHash } from 'node:crypto'
import net from 'node:net'
import type { ByteConnection, ByteSink, Stream } from '../../src/connection.js'
import { StreamClosedError } from '../../src/errors.js'
import { FrameDecoder } from '../../src/muxer/frame-decoder.js'
import type { Header } from '../../src/muxer/frame.js'
import { encodeHeader } from '../../src/muxer/frame.js'
import { Session } from '../../src/muxer/session.js'
import type { SessionInit } from '../../src/muxer/session.js'
import { StreamTable } from '../../src/muxer/stream-table.js'
import type { YamuxConfig } from '../../src/muxer/config.js'
import type { MuxedStream } from '../../src/muxer/stream.js'
import type { ResourceScope } from '../../src/resources/scope.js'
import { concat } from '../helpers/bytes.js'

export interface Frame { header: Header, payload: Uint8Array }

/**
 * A yamux `Session` with the adapter's `StreamTable` in front, so that tests hold `MuxedStream`s as
 * the application does: `openStream()` returns the stream, `streams` are the live ones, inbound
 * streams go to `host.onStream`. Everything else is the session itself.
 */
export type TestSession = Omit<Session, 'openStream'> & {
  openStream: () => MuxedStream,
  readonly streams: ReadonlyMap<number, MuxedStream>
}

export interface TestSessionInit extends Omit<SessionInit, 'host'> {
  host: { onOutput: () => void, onStream: (stream: MuxedStream) => void, onClose: (err?: Error) => void }
}

export function testSession (init: TestSessionInit): TestSession {
  let session: Session | undefined
  const get = (): Session => session as Session
  const table = new StreamTable({
    send: (id, data) => get().send(id, data),
    closeWrite: (id) => { get().closeWrite(id) },
    reset: (id) => { get().reset(id) },
    consumed: (id, n) => { get().consumed(id, n) }
  })
  table.onStream = (s) => { init.host.onStream(s as MuxedStream) }
  session = new Session({
    ...init,
    host: {
      onOutput: init.host.onOutput,
      onClose: init.host.onClose,
      streams: table
    }
  })
  const target = session
  return new Proxy(target, {
    get (t, key) {
      if (key === 'openStream') return () => { const id = t.openStream(); return table.add(id, id, 'outbound') }
      if (key === 'streams') return table.streams
      return Reflect.get(t, key, t)
    }
  }) as unknown as TestSession
}

/** Decodes a byte stream into whole frames (payload pieces joined), for assertions. */
export class FrameRecorder {
  readonly frames: Frame[] = []
  private pieces: Uint8Array[] = []
  private readonly decoder = new FrameDecoder({
    onHeader: (h) => { if (h.type !== 0) this.frames.push({ header: h, payload: new Uint8Array(0) }); return true },
    onPayload: (_h, p) => { this.pieces.push(p.slice()) },
    onDataEnd: (h) => { this.frames.push({ header: h, payload: concat(this.pieces) }); this.pieces = [] }
  })

  push (chunks: Uint8Array[]): void { for (const c of chunks) this.decoder.push(c) }
  take (): Frame[] { return this.frames.splice(0) }
}

export function frameBytes (
  type: number,
  flags: number,
  streamId: number,
  length: number,
  payload?: Uint8Array
): Uint8Array {
  const h = encodeHeader({ type, flags, streamId, length } as Header)
  return payload === undefined ? h : concat([h, payload])
}

/** A manual clock. */
export class Clock {
  t = 1000
  now = (): number => this.t
  advance (ms: number): void { this.t += ms }
}

/** One session with no peer: a test feeds it raw bytes (`s.receive`) and reads what it sent. */
export interface LoneSession {
  s: TestSession
  /** Streams the (absent) peer opened, in order. */
  inbound: MuxedStream[]
  /** Each `onClose` the session reported. */
  closed: Array<Error | undefined>
  clock: Clock
  /** The frames sent since the last call, decoded. */
  out: () => Frame[]
}

/** A session fed raw bytes, with its output decoded; keep-alive and RTT pings off unless `config` says. */
export function loneSession (
  initiator: boolean,
  config: Partial<YamuxConfig> = {},
  resources?: ResourceScope
): LoneSession {
  const clock = new Clock()
  const inbound: MuxedStream[] = []
  const closed: Array<Error | undefined> = []
  const rec = new FrameRecorder()
  const s = testSession({
    initiator,
    config: { rttIntervalMs: 0, keepAliveIntervalMs: 0, ...config },
    now: clock.now,
    resources,
    host: { onOutput: () => {}, onStream: st => { inbound.push(st) }, onClose: e => { closed.push(e) } }
  })
  return { s, inbound, closed, clock, out: () => { rec.push(s.takeOutbox()); return rec.take() } }
}

export interface SessionEnd {
  session: TestSession
  /** Streams the peer opened, in order. */
  inbound: MuxedStream[]
  /** Decoder for what a test takes out of the outbox itself (`pump`/`flush` do not record). */
  sent: FrameRecorder
  closedWith: Array<Error | undefined>
}

export interface SessionPair {
  client: SessionEnd
  server: SessionEnd
  clock: Clock
  /** Deliver queued output both ways until nothing moves (bounded). Returns the number of batches moved. */
  pump: () => number
  /** Deliver one side's queued output to the other once. */
  flush: (from: SessionEnd) => Uint8Array[]
}

export function sessionPair (
  opts: { client?: Partial<YamuxConfig>, server?: Partial<YamuxConfig>, noPings?: boolean } = {}
): SessionPair {
  const clock = new Clock()
  const base: Partial<YamuxConfig> = opts.noPings === false ? {} : { rttIntervalMs: 0, keepAliveIntervalMs: 0 }
  const make = (initiator: boolean, cfg: Partial<YamuxConfig> | undefined): SessionEnd => {
    const end: Partial<SessionEnd> & {
      inbound: MuxedStream[],
      sent: FrameRecorder,
      closedWith: Array<Error | undefined>
    } = { inbound: [], sent: new FrameRecorder(), closedWith: [] }
    end.session = testSession({
      initiator,
      config: { ...base, ...cfg },
      now: clock.now,
      host: {
        onOutput: () => {},
        onStream: (s) => { end.inbound.push(s) },
        onClose: (err) => { end.closedWith.push(err) }
      }
    })
    return end as SessionEnd
  }
  const client = make(true, opts.client)
  const server = make(false, opts.server)
  const flush = (from: SessionEnd): Uint8Array[] => {
    const to = from === client ? server : client
    const chunks = from.session.takeOutbox().map(c => c.slice())
    // as the adapter does after every conn.write that stayed below the high-water mark
    from.session.setBlocked(false)
    for (const c of chunks) to.session.receive(c)
    return chunks
  }
  const pump = (): number => {
    let moved = 0
    for (let i = 0; i < 10_000; i++) {
      const a = flush(client).length
      const b = flush(server).length
      if (a + b === 0) return moved
      moved++
    }
    throw new Error('pump did not settle after 10000 rounds')
  }
  return { client, server, clock, pump, flush }
}

/** Let pending promise continuations run. */
export async function settle (turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise(resolve => setImmediate(resolve))
}

// ───────────────────────────── node:net → ByteConnection ─────────────────────────────

function multiaddrOf (address: string | undefined, port: number | undefined): string {
  return address?.includes(':') === true
    ? `/ip6/${address}/tcp/${port ?? 0}`
    : `/ip4/${address ?? '0.0.0.0'}/tcp/${port ?? 0}`
}

/** A `ByteConnection` over a node:net socket (the tiny test adapter; src/transport/tcp.ts is the real one). */
export function socketConnection (socket: net.Socket, direction: 'inbound' | 'outbound'): ByteConnection {
  let sink: ByteSink | undefined
  const early: Uint8Array[] = []
  let ended = false
  let endDelivered = false
  let closed = false
  let closeErr: Error | undefined
  let closeDelivered = false
  let writeClosed = false
  socket.setNoDelay(true)
  socket.pause()

  const deliverState = (): void => {
    if (sink === undefined) return
    if (ended && !endDelivered) { endDelivered = true; sink.onEnd() }
    if (closed && !closeDelivered) { closeDelivered = true; sink.onClose(closeErr) }
  }
  socket.on('data', (buf: Buffer) => {
    const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    if (sink === undefined) early.push(chunk)
    else sink.onData(chunk)
  })
  socket.on('end', () => { ended = true; deliverState() })
  socket.on('error', (err) => { closeErr = err })
  socket.on('close', () => { closed = true; deliverState() })
  socket.on('drain', () => { sink?.onDrain?.() })

  const conn: ByteConnection = {
    remoteAddr: multiaddrOf(socket.remoteAddress, socket.remotePort),
    localAddr: multiaddrOf(socket.localAddress, socket.localPort),
    direction,
    attach (s) {
      sink = s
      while (early.length > 0) s.onData(early.shift() as Uint8Array)
      deliverState()
      if (!closed) socket.resume()
    },
    detach () { sink = undefined; socket.pause() },
    write (chunks) {
      if (writeClosed || closed) throw new StreamClosedError('write after close')
      let ok = true
      if (chunks.length === 1) return socket.write(chunks[0] as Uint8Array)
      socket.cork()
      for (const c of chunks) ok = socket.write(c)
      socket.uncork()
      return ok
    },
    get writableLength () { return socket.writableLength },
    pause () { socket.pause() },
    resume () { socket.resume() },
    closeWrite () { if (!writeClosed) { writeClosed = true; socket.end() } },
    async close () {
      writeClosed = true
      if (closed) return
      await new Promise<void>(resolve => {
        socket.once('close', () => { resolve() })
        socket.end()
        // Bounded: a peer that never ends its side is destroyed after a while.
        setTimeout(() => { socket.destroy() }, 2000).unref()
      })
    },
    abort (err) {
      writeClosed = true
      closeErr = err
      socket.resetAndDestroy()
    },
    get closed () { return closed || socket.destroyed }
  }
  return conn
}

export interface TcpPair {
  client: ByteConnection
  server: ByteConnection
  /** The sockets underneath, for byte counts (`bytesWritten`/`bytesRead`). */
  sockets: { client: net.Socket, server: net.Socket }
  close: () => Promise<void>
}

/** A loopback TCP connection as two ByteConnections. */
export async function tcpPair (): Promise<TcpPair> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const dialed = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
  const inbound = await accepted
  return {
    client: socketConnection(dialed, 'outbound'),
    server: socketConnection(inbound, 'inbound'),
    sockets: { client: dialed, server: inbound },
    close: async () => {
      dialed.destroy()
      inbound.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Every byte until the end of the stream. */
export async function readAll (s: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c)
  return concat(parts)
}

/** `p`, or a rejection naming `what` after `ms` (so a hung test says what hung). */
export function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_resolve, reject) =>
      setTimeout(() => {
        reject(new Error(`${what}: timed out after ${ms} ms`))
      }, ms).unref()
    )
  ])
}
