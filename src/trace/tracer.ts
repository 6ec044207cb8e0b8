/**
 * The live tracer: hands each connection an observer that stamps every event with the connection
 * number and the time, reads each muxed stream's data with the stream dissector (multistream-select,
 * then length-prefixed messages; dissect.ts), and writes the records to its sinks (the text view,
 * a JSON Lines file, a test's array).
 *
 *   layers ──event──► ConnectionTrace ──record──► sinks
 *                          │ stream data
 *                          └──► streamDissector ──multistream, protocol, messages──► sinks
 *
 * Inside a stream the view follows the wire: the dissector reads multistream-select and the
 * messages from the data the muxer moved, when it moved it. The switch gives stream negotiations no
 * observer: multistream's own reports would come when the application reads (a lazy dialer checks
 * the echo on its first read, a handler negotiates when it runs), so the live view and a decoded
 * capture show one and the same sequence.
 *
 * Nothing here runs unless tracing was asked for: the layers hold no observer otherwise.
 */
import type { Dissector } from './dissect.js'
import { streamDissector } from './dissect.js'
import type { TraceEvent, TraceObserver, TraceRecord } from './observer.js'

/**
 * Where records go. `write` is synchronous and must not throw; the record is not reused after it returns, but its
 * `bytes` may be.
 */
export interface TraceSink {
  write: (record: TraceRecord) => void
  /** Flush and release (files); called by `Tracer.close()`. */
  close?: () => void | Promise<void>
}

/** What the switch knows about a connection when it asks for its observer. */
export interface ConnectionInfo {
  direction: 'inbound' | 'outbound'
  localAddr: string
  remoteAddr: string
}

export interface TracerOptions {
  sinks: TraceSink[]
  /** Milliseconds since the epoch; default `performance.timeOrigin + performance.now()` (µs precision). */
  now?: () => number
}

const defaultNow = (): number => performance.timeOrigin + performance.now()

/** yamux flags (spec §Flags) and mplex flags (README §Flag Values) that end a stream direction. */
const YAMUX_FIN = 0x4
const YAMUX_RST = 0x8
const MPLEX_CLOSE = [3, 4]
const MPLEX_RESET = [5, 6]

export class Tracer {
  private readonly sinks: TraceSink[]
  readonly now: () => number
  private nextConn = 1
  /** Open connections by `local remote` address pair (for the transport's close hook). */
  private readonly open = new Map<string, ConnectionTrace>()

  constructor (opts: TracerOptions) {
    this.sinks = opts.sinks
    this.now = opts.now ?? defaultNow
  }

  /**
   * A new connection: returns the observer to give its layers. The transport reports `tcp open`
   * when it gets the observer; if some other layer speaks first, the tracer reports the open itself
   * from `info`. Use as the switch's per-connection observer: `observer: tracer.switchObserver`.
   */
  connection (info: ConnectionInfo): TraceObserver {
    const c = new ConnectionTrace(this, this.nextConn++, info)
    this.open.set(`${info.localAddr} ${info.remoteAddr}`, c)
    return c
  }

  /** The observer of an open connection by its addresses (e.g. to report `tcp close`), if any. */
  find (localAddr: string, remoteAddr: string): TraceObserver | undefined {
    return this.open.get(`${localAddr} ${remoteAddr}`)
  }

  /** Bound form of `connection`, for `SwitchOptions.observer`. */
  readonly switchObserver = (info: ConnectionInfo): TraceObserver => this.connection(info)

  /** @internal */
  write (r: TraceRecord): void {
    for (const s of this.sinks) s.write(r)
  }

  /** @internal */
  forget (c: ConnectionTrace): void {
    const key = `${c.info.localAddr} ${c.info.remoteAddr}`
    if (this.open.get(key) === c) this.open.delete(key)
  }

  async close (): Promise<void> {
    for (const s of this.sinks) await s.close?.()
  }
}

interface StreamTrack {
  dissector: Dissector
  finIn: boolean
  finOut: boolean
}

/** The observer of one connection. */
class ConnectionTrace implements TraceObserver {
  private readonly streams = new Map<string, StreamTrack>()
  private opened = false
  private closed = false

  constructor (private readonly tracer: Tracer, readonly id: number, readonly info: ConnectionInfo) {}

  event (e: TraceEvent): void {
    const time = this.tracer.now()
    if (!this.opened) {
      this.opened = true
      if (e.layer !== 'tcp' || e.kind !== 'open') {
        const i = this.info
        this.record({
          layer: 'tcp',
          kind: 'open',
          localAddr: i.localAddr,
          remoteAddr: i.remoteAddr,
          direction: i.direction
        }, time)
      }
    }
    this.record(e, time)
    switch (e.layer) {
      case 'stream':
        if (e.kind === 'data' && e.bytes !== undefined) {
          this.track(e.stream, e.opener).dissector.push(e.dir, e.bytes, time)
        }
        break
      case 'yamux':
        if (e.kind === 'frame' && (e.flags & (YAMUX_FIN | YAMUX_RST)) !== 0 && e.streamId !== 0) {
          this.ended(e.streamId, undefined, e.dir, (e.flags & YAMUX_RST) !== 0)
        }
        break
      case 'mplex':
        if (e.kind === 'frame' && (MPLEX_CLOSE.includes(e.flag) || MPLEX_RESET.includes(e.flag))) {
          this.ended(e.streamId, e.opener, e.dir, MPLEX_RESET.includes(e.flag))
        }
        break
      case 'tcp':
        if (e.kind === 'close' && !this.closed) {
          this.closed = true
          this.streams.clear()
          this.tracer.forget(this)
        }
        break
      default:
        break
    }
  }

  private record (e: TraceEvent, time: number): void {
    const r = e as TraceRecord
    r.conn = this.id
    r.time = time
    this.tracer.write(r)
  }

  /**
   * Who opened a stream: given by mplex; for yamux the id says it (spec §Stream ID: the client —
   * the connection's dialer — uses odd ids).
   */
  private openerOf (stream: number, opener: 'local' | 'remote' | undefined): 'local' | 'remote' {
    if (opener !== undefined) return opener
    return ((stream & 1) === 1) === (this.info.direction === 'outbound') ? 'local' : 'remote'
  }

  private track (stream: number, given: 'local' | 'remote' | undefined): StreamTrack {
    const opener = this.openerOf(stream, given)
    const key = `${opener}:${stream}`
    let t = this.streams.get(key)
    if (t === undefined) {
      t = {
        dissector: streamDissector({ stream, opener }, (ev, time) => this.record(ev, time)),
        finIn: false,
        finOut: false
      }
      this.streams.set(key, t)
    }
    return t
  }

  /** Forget a stream's dissector once both directions ended (or it was reset). */
  private ended (stream: number, given: 'local' | 'remote' | undefined, dir: 'in' | 'out', reset: boolean): void {
    const key = `${this.openerOf(stream, given)}:${stream}`
    const t = this.streams.get(key)
    if (t === undefined) return
    if (dir === 'in') t.finIn = true
    else t.finOut = true
    // The frame that carries FIN may still carry data (reported right after its header): forget
    // the stream only once the current decode loop is over.
    if (reset || (t.finIn && t.finOut)) {
      queueMicrotask(() => {
        if (this.streams.get(key) === t) this.streams.delete(key)
      })
    }
  }
}
