/**
 * Test plumbing for the yamux tests:
 *  - `sessionPair`: two sans-I/O sessions wired back to back, with a manual clock and an explicit
 *    `pump()` that moves outboxes across (so every test controls exactly when bytes travel);
 *  - `FrameRecorder`: decodes everything one session sends, to assert exact frames;
 *  - `loneSession`: one session fed raw bytes, its output decoded.
 * The node:net adapter over loopback (`socketConnection`/`tcpPair`) is ../helpers/socket-connection.ts.
 */
import { createHash } from 'node:crypto'
import type { Stream } from '../../src/connection.js'
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

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Every byte until the end of the stream. */
export async function readAll (s: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c)
  return concat(parts)
}
