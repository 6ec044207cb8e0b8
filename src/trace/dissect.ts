/**
 * Dissectors: incremental readers of a two-way byte stream that turn bytes into trace events,
 * built on the project's own codecs (multistream `decodeMessageBody`/`decodeLsResponse`, the codec's
 * `decodeLp`). The live tracer runs them over each muxed stream's data (multistream-select, then the
 * length-prefixed messages); the capture decoder chains them over a whole recorded connection.
 *
 * A dissector is fed `(dir, bytes, time)` in any interleaving of the two directions: it buffers a
 * direction whose meaning depends on the other one (a lazy dialer's data after its proposal waits
 * for the listener's answer) and stamps each event with the time of the chunk that completed it.
 * Malformed input never throws: the dissector reports an error event and stops interpreting.
 */
import { concatBytes } from '../codec/bytes.js'
import { decodeLp, DEFAULT_MAX_LP_LENGTH } from '../codec/length-prefixed.js'
import { SwitchyardError } from '../errors.js'
import { LS, MAX_LS_RESPONSE_LENGTH, MAX_MESSAGE_LENGTH, NA, PROTOCOL_ID } from '../multistream/constants.js'
import { decodeLsResponse, decodeMessageBody } from '../multistream/messages.js'
import { describeIdentify, IDENTIFY_PROTOCOLS } from './identify.js'
import type { TraceDirection, TraceEvent, TraceLayer } from './observer.js'

/** Where dissectors send events; `time` is the capture/arrival time of the bytes that completed the event. */
export type Emit = (e: TraceEvent, time: number) => void

export interface Dissector {
  push: (dir: TraceDirection, bytes: Uint8Array, time: number) => void
}

/** Stream id and opener stamped on every event of a dissector that runs inside a muxed stream. */
export interface StreamScope {
  stream: number
  opener: 'local' | 'remote'
}

/**
 * Protocols whose streams carry raw bytes rather than length-prefixed messages: ping (32-byte
 * echoes, specs ping/ping.md) and perf (u64 size, then bulk bytes, specs perf/perf.md).
 */
export const RAW_PROTOCOLS: ReadonlySet<string> = new Set(['/ipfs/ping/1.0.0', '/perf/1.0.0'])

export function other (dir: TraceDirection): TraceDirection {
  return dir === 'in' ? 'out' : 'in'
}

/** An error event for `err` (its code when it is a SwitchyardError), stamped with `scope` if given. */
export function errorEvent (layer: TraceLayer, err: unknown, scope?: StreamScope): TraceEvent {
  const e: TraceEvent = { layer, kind: 'error', message: err instanceof Error ? err.message : String(err) }
  if (err instanceof SwitchyardError) e.code = err.code
  if (scope !== undefined) { e.stream = scope.stream; e.opener = scope.opener }
  return e
}

/** A piece of a byte stream with the time it arrived. */
export interface TimedChunk { bytes: Uint8Array, time: number }

/** Bytes waiting to be interpreted, each chunk with its arrival time. */
export class TimedBuffer {
  private chunks: TimedChunk[] = []
  private headOffset = 0
  private total = 0
  private joined: Uint8Array | undefined

  get length (): number { return this.total }

  push (bytes: Uint8Array, time: number): void {
    if (bytes.length === 0) return
    this.chunks.push({ bytes, time })
    this.total += bytes.length
    this.joined = undefined
  }

  /** Every waiting byte, contiguous (a view when it sits in one chunk). */
  view (): Uint8Array {
    if (this.joined !== undefined) return this.joined
    const first = this.chunks[0]
    if (first === undefined) return new Uint8Array(0)
    if (this.chunks.length === 1) return (this.joined = first.bytes.subarray(this.headOffset))
    return (this.joined = concatBytes(this.chunks.map((c, i) => i === 0 ? c.bytes.subarray(this.headOffset) : c.bytes)))
  }

  /** Drop `n` bytes from the front; returns the arrival time of the last one. */
  consume (n: number): number {
    let time = this.chunks[0]?.time ?? 0
    this.total -= n
    this.joined = undefined
    while (n > 0) {
      const c = this.chunks[0] as TimedChunk
      time = c.time
      const left = c.bytes.length - this.headOffset
      if (n < left) { this.headOffset += n; return time }
      n -= left
      this.chunks.shift()
      this.headOffset = 0
    }
    return time
  }

  /** Take every waiting chunk (with its time) and empty the buffer. */
  drain (): TimedChunk[] {
    const out = this.chunks.map((c, i) =>
      i === 0 && this.headOffset > 0 ? { bytes: c.bytes.subarray(this.headOffset), time: c.time } : c
    )
    this.chunks = []
    this.headOffset = 0
    this.total = 0
    this.joined = undefined
    return out
  }
}

const enum DialerState { Header, Propose, Wait, Done, Failed }
const enum ListenerState { Header, Answer, Done }

export interface MultistreamDissectorOptions {
  /** Which direction the multistream dialer (the connection's or the stream's opener) writes in. */
  dialer: TraceDirection
  emit: Emit
  /** Set when dissecting a muxed stream. */
  scope?: StreamScope
  /** The protocol was agreed at `time`: what reads the bytes that follow (undefined: ignore them). */
  onAgreed: (protocol: string, time: number) => Dissector | undefined
}

/**
 * multistream-select, read from both sides (multistream-select README):
 *
 *   dialer:   header, then one proposal (or `ls`) at a time;
 *   listener: header, then one answer per proposal: the same id (agreed), `na`, or an ls list.
 *
 * After a proposal, the dialer's later bytes mean nothing until the listener has answered (a lazy
 * dialer sends data right behind its proposal, go-multistream lazyClient.go, rust multistream-select V1Lazy), so they
 * wait in the buffer. Once a
 * protocol is agreed, everything after the last message of each side goes to `onAgreed`'s dissector.
 */
export class MultistreamDissector implements Dissector {
  private readonly opts: MultistreamDissectorOptions
  private readonly buffers = { in: new TimedBuffer(), out: new TimedBuffer() }
  private dialerState = DialerState.Header
  private listenerState = ListenerState.Header
  private pending: { ls: true } | { ls: false, protocol: string } | undefined
  private next: Dissector | undefined
  private agreed = false

  constructor (opts: MultistreamDissectorOptions) {
    this.opts = opts
  }

  /** The agreed protocol's dissector, once there is one. */
  get downstream (): Dissector | undefined { return this.next }

  /** True once a protocol was agreed. */
  get done (): boolean { return this.agreed }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.agreed) { this.next?.push(dir, bytes, time); return }
    if (this.dialerState === DialerState.Failed) return
    this.buffers[dir].push(bytes, time)
    try {
      while (this.step()) { /* until neither side can progress */ }
    } catch (err) {
      this.dialerState = DialerState.Failed
      this.opts.emit(errorEvent('multistream', err, this.opts.scope), time)
    }
  }

  private emitMessage (dir: TraceDirection, message: string, raw: Uint8Array, time: number): void {
    const e: TraceEvent = { layer: 'multistream', kind: 'message', dir, message, bytes: raw }
    const s = this.opts.scope
    if (s !== undefined) { e.stream = s.stream; e.opener = s.opener }
    this.opts.emit(e, time)
  }

  /** The next whole message of `dir` as text, or undefined until more bytes arrive. */
  private read (dir: TraceDirection): string | undefined {
    const buf = this.buffers[dir]
    const view = buf.view()
    const r = decodeLp(view, 0, MAX_MESSAGE_LENGTH)
    if (r === undefined) return undefined
    const [body, used] = r
    const text = decodeMessageBody(body)
    const raw = view.subarray(0, used)
    this.lastReadTime = buf.consume(used)
    this.emitMessage(dir, text, raw, this.lastReadTime)
    return text
  }

  /** Arrival time of the last message read. */
  private lastReadTime = 0

  /** One step of either side; false when neither can progress. */
  private step (): boolean {
    const dialer = this.opts.dialer
    const listener = other(dialer)
    if (this.dialerState === DialerState.Header || this.dialerState === DialerState.Propose) {
      const msg = this.read(dialer)
      if (msg !== undefined) {
        if (this.dialerState === DialerState.Header) {
          if (msg !== PROTOCOL_ID) {
            throw new Error(`multistream header expected "${PROTOCOL_ID}", got ${JSON.stringify(msg)}`)
          }
          this.dialerState = DialerState.Propose
        } else {
          this.pending = msg === LS ? { ls: true } : { ls: false, protocol: msg }
          this.dialerState = DialerState.Wait
        }
        return true
      }
    }
    if (this.listenerState === ListenerState.Header) {
      const msg = this.read(listener)
      if (msg === undefined) return false
      if (msg !== PROTOCOL_ID) {
        throw new Error(`multistream header expected "${PROTOCOL_ID}", got ${JSON.stringify(msg)}`)
      }
      this.listenerState = ListenerState.Answer
      return true
    }
    const pending = this.pending
    if (pending === undefined) return false
    if (pending.ls) return this.readLs(listener)
    const msg = this.read(listener)
    if (msg === undefined) return false
    this.pending = undefined
    if (msg === pending.protocol) {
      this.agree(msg)
      return false
    }
    if (msg !== NA) {
      throw new Error(
        `answer to ${JSON.stringify(pending.protocol)} expected the same id or "na", got ${JSON.stringify(msg)}`
      )
    }
    this.dialerState = DialerState.Propose
    return true
  }

  private readLs (listener: TraceDirection): boolean {
    const buf = this.buffers[listener]
    const view = buf.view()
    const r = decodeLp(view, 0, MAX_LS_RESPONSE_LENGTH)
    if (r === undefined) return false
    const [body, used] = r
    const raw = view.subarray(0, used)
    const time = buf.consume(used)
    this.pending = undefined
    this.dialerState = DialerState.Propose
    if (body.length === 3 && body[0] === 0x6e && body[1] === 0x61 && body[2] === 0x0a) {
      this.emitMessage(listener, NA, raw, time)
      return true
    }
    const protocols = decodeLsResponse(body)
    const e: TraceEvent = { layer: 'multistream', kind: 'ls', dir: listener, protocols, bytes: body }
    const s = this.opts.scope
    if (s !== undefined) { e.stream = s.stream; e.opener = s.opener }
    this.opts.emit(e, time)
    return true
  }

  private agree (protocol: string): void {
    this.agreed = true
    this.dialerState = DialerState.Done
    this.listenerState = ListenerState.Done
    const rest = [
      ...this.buffers.in.drain().map(c => ({ dir: 'in' as const, ...c })),
      ...this.buffers.out.drain().map(c => ({ dir: 'out' as const, ...c }))
    ].sort((a, b) => a.time - b.time)
    this.next = this.opts.onAgreed(protocol, this.lastReadTime)
    if (this.next !== undefined) for (const r of rest) this.next.push(r.dir, r.bytes, r.time)
  }
}

/**
 * The messages of one muxed stream after its protocol was agreed: unsigned-varint length-prefixed
 * messages (the tutorial's `readLp`/`writeLp`, identify, …) for most protocols; nothing for the
 * raw-byte protocols (RAW_PROTOCOLS), whose data the muxer's data events already show. A direction
 * whose bytes do not parse as length-prefixed messages is reported once and then left raw.
 */
export class MessageDissector implements Dissector {
  private readonly buffers = { in: new TimedBuffer(), out: new TimedBuffer() }
  private readonly raw = { in: false, out: false }
  /** On identify streams: whether it is the push variant (each message is then decoded). */
  private readonly identifyPush: boolean | undefined

  constructor (
    readonly protocol: string,
    private readonly scope: StreamScope,
    private readonly emit: Emit,
    private readonly maxMessageLength = DEFAULT_MAX_LP_LENGTH
  ) {
    if (RAW_PROTOCOLS.has(protocol)) { this.raw.in = true; this.raw.out = true }
    this.identifyPush = IDENTIFY_PROTOCOLS.get(protocol)
  }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.raw[dir]) return
    const buf = this.buffers[dir]
    buf.push(bytes, time)
    for (;;) {
      const view = buf.view()
      let r: [Uint8Array, number] | undefined
      try {
        r = decodeLp(view, 0, this.maxMessageLength)
      } catch (err) {
        this.raw[dir] = true
        buf.drain()
        const e = errorEvent('stream', err, this.scope)
        if (e.kind === 'error') {
          e.message = `${
            dir === 'out' ? 'sent' : 'received'
          } bytes are not length-prefixed messages (${e.message}); showing raw data`
        }
        this.emit(e, time)
        return
      }
      if (r === undefined) return
      const [body, used] = r
      const t = buf.consume(used)
      const e: TraceEvent = {
        layer: 'stream',
        kind: 'message',
        dir,
        stream: this.scope.stream,
        opener: this.scope.opener,
        length: body.length,
        bytes: body
      }
      if (this.identifyPush !== undefined) e.identify = describeIdentify(body, this.identifyPush)
      this.emit(e, t)
    }
  }

  /** True when `dir` is shown as raw data (a raw protocol, or bytes that were not messages). */
  isRaw (dir: TraceDirection): boolean { return this.raw[dir] }
}

/** The usual stream pipeline: multistream-select, then `StreamProtocolEvent` and the messages. */
export function streamDissector (scope: StreamScope, emit: Emit): MultistreamDissector {
  return new MultistreamDissector({
    dialer: scope.opener === 'local' ? 'out' : 'in',
    emit,
    scope,
    onAgreed: (protocol, time) => {
      emit({ layer: 'stream', kind: 'protocol', stream: scope.stream, opener: scope.opener, protocol }, time)
      return new MessageDissector(protocol, scope, emit)
    }
  })
}
