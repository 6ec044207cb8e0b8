/**
 * The yamux session as a sans-I/O state machine: bytes in (`receive`), frames out (`takeOutbox`),
 * the clock injected (`now`), timers reduced to `nextDeadline()` + `tick()`. No sockets, no timers,
 * no `node:*`; yamux.ts binds it to a ByteConnection.
 *
 * Inbound, per frame (spec §Framing; flags on Data and WindowUpdate alike, rust-yamux#189, py-libp2p#1014):
 *  1. Data/WindowUpdate on stream 0 → protocol error.
 *  2. SYN: a new inbound stream. Our own parity ("both endpoints are clients"), an id in use or
 *     recently closed → protocol error. After our GoAway, or over `maxInboundStreams` → RST for
 *     that stream only. Otherwise the stream is created and ACKed at once.
 *  3. No such stream → ignored, its payload skipped unbuffered (go, rust, js; js-libp2p#2505, js-libp2p-yamux#91) and
 * counted
 *     (`discardedBytes`). For a stream we reset or refused, the peer may still have had the credit
 *     it held then in flight, and no more: data beyond it is a protocol error (GoAway), so a peer
 *     cannot make us decrypt and skip without end on streams we already refused.
 *  4. Data: the declared length is checked against the stream's receive window *before* any byte
 *     is buffered; more than the window → GoAway(protocol error), connection closed (this also
 *     covers a Data|SYN longer than the initial window, rust-yamux CVE-2026-32314). Then the bytes
 *     are charged to the connection's resource scope; when it refuses, that stream alone is reset
 *     (RST) and the payload skipped. Payload views go to the stream; FIN/RST apply after the payload.
 *  5. WindowUpdate: delta added to the send window, then ACK/FIN/RST.
 *  6. Ping SYN → Ping ACK with the same opaque value (never an unsolicited ACK: js closes the
 *     session on one, js-libp2p-yamux closes the session on an unsolicited ping ACK). Ping ACK matching our outstanding
 * ping → RTT sample.
 *  7. GoAway(normal): no new outbound streams, existing ones carry on (go). Any other code: the
 *     session ends and every stream is reset.
 *
 * RTT. The RTT only feeds window auto-tuning, so it is measured when a window first moves (the
 * first WindowUpdate crediting a stream), then at most every `rttIntervalMs` while windows keep
 * moving — never at session start, where go-yamux pings. A ping in the first batch makes the peer
 * answer twice to one batch (its Ping ACK at once, its streams' answers a moment later), and a
 * peer whose socket has Nagle's algorithm on (rust-libp2p's `tcp::Config` default, `nodelay` off)
 * holds the second write until our delayed ACK of the first: ~40 ms on Linux, on the first request
 * of every connection. Idle connections are still probed by keepalive.
 *
 * Lifecycle, our side (spec §Session Termination):
 *  - `goAway()`: GoAway(normal) once; from then on SYNs are answered with RST and `openStream`
 *    throws (as js's), while open streams run to their end (go `Session.GoAway`). Only go lets its
 *    own open streams finish after receiving it: js 8, rust and nim end the session.
 *  - `close()`: GoAway(normal) unless `goAway()` already sent it, then every live stream is reset
 *    locally and the session ends. A protocol error after `goAway()` still sends its own
 *    GoAway(protocol/internal error): at most one normal and one error GoAway per session.
 *
 * Outbound: frames go into the shared `Outbox` (outbox.ts: headers and small payloads in one scratch
 * buffer, the host told once per batch through `onOutput`), so the adapter makes one
 * `conn.write(chunks)` per flush however many frames were produced.
 *
 * Streams: the session knows them by id and reports what happens to them as `StreamEvents`
 * (stream-table.ts, which also states when those events may re-enter the session); the adapter's
 * `StreamTable` turns them into `MuxedStream` calls. The session never holds application objects.
 *
 * Re-entrancy. The rule every session follows is in stream-table.ts; this is how this one keeps it.
 * Application code runs synchronously inside two events: `onStreamOpen` (the switch's onStream
 * handler) and `onStreamWritable` (a stream's pending write goes on, calling `send`). Both are
 * emitted in the middle of a frame on purpose, not queued until after it (rust-yamux PR #142's
 * shape): the application must see a new stream before its ACK goes out, so that a stream refused at
 * once is answered with a bare RST (never ACK then RST), and a write inside onStream carries the ACK.
 * Every event is emitted after the frame's bookkeeping is done; after it, the session re-checks
 * what a handler may have changed, in these places and no others (each marked "re-entrancy"):
 *  - `onStreamHeader`, after `onStreamOpen`: `records.get(id) !== rec` (the handler reset the
 *    stream) and `closedWith` (it closed the session);
 *  - `onStreamHeader`, WindowUpdate: `records.get(id) === rec` before `onStreamWritable` (the
 *    frame's FIN/RST may have retired the stream); `onDataEnd`: the same before the frame's flags;
 *  - `onHeader`: `closedWith` first (a frame earlier in the same chunk, or a handler, ended the
 *    session: later frames must not open streams), and again after the peer's first frame released
 *    held-back SYNs (`peerHeard`: their writers run);
 *  - `retire`: `records.get(rec.id) !== rec` makes a second retire of the same stream a no-op;
 *  - the stream operations (`send`, `closeWrite`, `reset`, `consumed`) and `ackSlotFreed` check
 *    `closedWith` and the record, as a handler may call them on a stream or session that just ended.
 *
 * Memory bounds (a stalled peer cannot grow any of these without limit):
 *  - receive: Σ stream windows ≤ max(maxBufferedBytesPerConnection, streams × 256 KiB), and what is
 *    really held (unread bytes, windows grown beyond 256 KiB) is charged to the resource scope
 *    (src/resources: connection → peer → process), whose refusal resets the stream;
 *  - streams: inbound SYNs beyond `maxInboundStreams` or the scope's stream limits are refused with
 *    RST directly (never ACKed first); at most MAX_ACK_BACKLOG (256) of our own streams wait for
 *    their ACK (yamux spec §ACK backlog; go CVE-2022-23492, rust CVE-2022-23486, js CVE-2022-23487):
 *    a stream opened beyond that exists locally, its SYN and data held until an ACK frees a slot;
 *  - send: stream writes are taken only while the outbox is below `maxWriteBatchBytes` and the
 *    connection is not above its high-water mark; each stream is also held to the peer's window;
 *  - control frames: at most `MAX_PENDING_PONGS` ping answers and `MAX_CONTROL_BACKLOG` other
 *    control frames wait while the connection is blocked; beyond that the peer is not reading and
 *    the session ends.
 */
import { StreamResetError, SwitchyardError, YamuxError } from '../errors.js'
import type { ResourceScope } from '../resources/scope.js'
import {
  Flag,
  FrameType,
  GoAwayCode,
  HEADER_LENGTH,
  INITIAL_STREAM_WINDOW,
  MAX_UINT32,
  SESSION_STREAM_ID
} from './constants.js'
import { yamuxConfig } from './config.js'
import type { YamuxConfig } from './config.js'
import { FrameDecoder } from './frame-decoder.js'
import type { FrameSink } from './frame-decoder.js'
import { writeHeader } from './frame.js'
import type { Header } from './frame.js'
import { ReceiveWindow, SendWindow, WindowBudget } from './flow-control.js'
import { Outbox, SMALL_PAYLOAD_BYTES } from './outbox.js'
import type { StreamEvents } from './stream-table.js'
import { HalfState, OpenState, RemoteEvent, StreamState } from './stream-state.js'
import type { TraceObserver } from '../trace/observer.js'

/** What the session needs from its driver: stream events (a `StreamTable`), output and the end. */
export interface SessionHost {
  /** Where stream events go, by stream id (the adapter's `StreamTable`). */
  streams: StreamEvents
  /** Flush the outbox (`takeOutbox`): soon (first frame of a batch), or at once when `full` (outbox.ts). */
  onOutput: (full: boolean) => void
  /** The session ended (once). `err` is undefined for a normal end. Flush the outbox, then close the connection. */
  onClose: (err?: Error) => void
}

export interface SessionInit {
  /** true on the connection's dialer side (odd stream ids), false on the listener (even). */
  initiator: boolean
  config?: Partial<YamuxConfig>
  host: SessionHost
  /** Monotonic clock in milliseconds. */
  now: () => number
  /**
   * Tracing hook: a `yamux`/`frame` event per frame in and out and a `stream`/`data` event per
   * payload piece. Absent = one `undefined` check per frame, nothing built.
   */
  observer?: TraceObserver
  /**
   * The connection's resource scope (src/resources): receive buffers, grown windows and streams
   * are charged to it. Absent: a scope of its own limited to `maxBufferedBytesPerConnection`.
   */
  resources?: ResourceScope
}

/**
 * Our streams that may wait for the peer's ACK at once (libp2p yamux spec §ACK backlog: 256).
 * `openStream` beyond it still returns a stream, whose SYN waits for a free slot (go blocks in `Open`).
 */
export const MAX_ACK_BACKLOG = 256

/**
 * Our streams whose SYN may go out before the peer's first frame has reached us. js-libp2p's muxers
 * (@libp2p/utils abstract-stream-muxer.ts, `maxEarlyStreams` 10) buffer the streams that arrive
 * before the upgraded connection listens for them, and abort the whole connection at the 11th: a
 * dialer whose first muxer frames ride with Noise msg 3 (early muxer negotiation) reaches that
 * window. Any frame from the peer proves its muxer is attached (what it sends is read after that
 * listener is added), so from then on only the ACK backlog applies. Below 10 for the margin of a
 * stream the peer may count that we do not (none today).
 */
export const OPENING_ACK_BACKLOG = 8

/** Ping answers kept while the connection is blocked (go-yamux drops replies beyond 32). */
const MAX_PENDING_PONGS = 32
/** Other control frames (RST, ACK, window updates, GoAway) allowed to pile up while blocked. */
const MAX_CONTROL_BACKLOG = 4096
/**
 * Recently retired ids remembered per session, to detect reuse and bound data after our RST. 256:
 * as many as may be open at once (the switch's inbound stream limit, the ACK backlog). Each costs
 * ~55 bytes of heap (a Map entry) and stays until the session ends: at 1024, a thousand busy
 * connections held ~55 MiB of them (the soak's heap growth at steady state); an id past the
 * window is only treated as unknown (its data skipped), never refused.
 */
const TOMBSTONES = 256

/** One live stream: wire state and flow control. */
class StreamRecord {
  readonly state: StreamState
  readonly recv: ReceiveWindow
  readonly send = new SendWindow()
  /** Ours, held back by the ACK backlog: no frame sent yet (in `Session.synBacklog`). */
  deferred = false
  /** The application closed its side while the stream was deferred: FIN goes with the SYN. */
  finPending = false

  constructor (readonly id: number, readonly inbound: boolean, recv: ReceiveWindow) {
    this.state = inbound ? StreamState.inbound() : StreamState.outbound()
    this.recv = recv
  }
}

export class Session implements FrameSink {
  readonly config: YamuxConfig
  readonly initiator: boolean
  private readonly host: SessionHost
  private readonly now: () => number
  private readonly observer: TraceObserver | undefined
  private readonly records = new Map<number, StreamRecord>()
  private readonly decoder: FrameDecoder
  private readonly budget: WindowBudget
  private nextId: number
  private inboundCount = 0
  private outboundCount = 0
  /** Recently retired ids → the credit the peer may still have in flight for them (data beyond it is a violation). */
  private readonly tombstones = new Map<number, number>()
  /** Our streams whose SYN the peer has not ACKed yet. */
  private unacked = 0
  /** Our streams opened beyond the ACK backlog, SYN not sent yet, in opening order. */
  private synBacklog = new Set<StreamRecord>()
  /** SYNs allowed to wait for their ACK: OPENING_ACK_BACKLOG until the peer's first frame, then MAX_ACK_BACKLOG. */
  private ackBacklog = OPENING_ACK_BACKLOG
  private readonly scope: ResourceScope | undefined
  /** Payload bytes received for streams we no longer (or never) had, skipped unbuffered. */
  discardedBytes = 0
  /** Streams reset because the resource scope refused their data, and SYNs refused. */
  resetForResources = 0
  refusedStreams = 0

  // ── outbox ──
  private readonly outbox: Outbox
  private pendingPongs = 0
  private controlBacklog = 0

  // ── receive-side routing for the Data frame in progress ──
  private currentRecord: StreamRecord | undefined

  // ── ping / RTT / keepalive ──
  private rttMs = 0
  private pingValue = 0
  private pingOutstanding: { value: number, sentAt: number } | undefined
  private lastPingAt = -Infinity
  private lastRecvAt: number

  // ── lifecycle ──
  /** We sent GoAway: inbound SYNs are refused, openStream throws. */
  private localGoAway = false
  /** The code of the last GoAway we sent (undefined: none). */
  private goAwaySent: GoAwayCode | undefined
  private remoteGoAway: number | undefined
  private closedWith: { err: Error | undefined } | undefined

  constructor (init: SessionInit) {
    this.config = yamuxConfig(init.config)
    this.initiator = init.initiator
    this.host = init.host
    this.now = init.now
    this.observer = init.observer
    this.nextId = init.initiator ? 1 : 2
    this.decoder = new FrameDecoder(this)
    this.budget = new WindowBudget(this.config.maxBufferedBytesPerConnection)
    this.scope = init.resources
    const host = this.host
    this.outbox = new Outbox({
      limit: this.config.maxWriteBatchBytes,
      onReady: (full) => {
        host.onOutput(full)
      },
      onRoom: (id) => {
        host.streams.onStreamWritable(id)
      }
    })
    this.lastRecvAt = this.now()
  }

  // ══════════════════════════ driver API ══════════════════════════

  /** Bytes from the connection. Protocol errors end the session (GoAway first); they do not throw. */
  receive (chunk: Uint8Array): void {
    if (this.closedWith !== undefined) return
    this.lastRecvAt = this.now()
    try {
      this.decoder.push(chunk)
    } catch (err) {
      this.fail(err)
    }
  }

  /** The connection's read side ended (or the connection closed). Every live stream is reset. */
  connectionEnded (err?: Error): void {
    if (this.closedWith !== undefined) return
    const clean = err === undefined && this.decoder.idle &&
      (this.remoteGoAway === GoAwayCode.Normal || this.localGoAway || this.records.size === 0)
    this.end(
      clean
        ? undefined
        : (err ?? new YamuxError(
            'ERR_MUXER_CLOSED',
            this.decoder.idle
              ? 'yamux: the peer closed the connection'
              : 'yamux: the peer closed the connection in the middle of a frame'
          ))
    )
  }

  /** Take every queued frame (views; one `conn.write(chunks)`). */
  takeOutbox (): Uint8Array[] {
    if (!this.outbox.blocked) { this.controlBacklog = 0; this.pendingPongs = 0 }
    return this.outbox.take()
  }

  get outboxBytes (): number { return this.outbox.bytes }

  /** Live streams (ours and the peer's). */
  get size (): number { return this.records.size }

  /**
   * The connection's write buffer went above (true) or back below (false) its high-water mark.
   * Streams waiting for room are woken round-robin when it falls.
   */
  setBlocked (blocked: boolean): void {
    if (!blocked) {
      this.controlBacklog = 0
      this.pendingPongs = 0
    }
    this.outbox.setBlocked(blocked)
  }

  /**
   * Open an outbound stream; returns its id (its key). SYN goes out at once (with our window if
   * above 256 KiB); data may follow immediately.
   */
  openStream (): number {
    if (this.closedWith !== undefined) {
      throw new YamuxError('ERR_MUXER_CLOSED', 'yamux session closed: cannot open a stream')
    }
    if (this.localGoAway) {
      throw new YamuxError('ERR_MUXER_CLOSED', 'yamux session is going away (we sent GoAway): cannot open a stream')
    }
    if (this.remoteGoAway !== undefined) {
      throw new YamuxError(
        'ERR_YAMUX_GOAWAY',
        `yamux: the peer sent GoAway(${goAwayName(this.remoteGoAway)}): no new streams on this connection`,
        this.remoteGoAway
      )
    }
    if (this.outboundCount >= this.config.maxOutboundStreams) {
      throw new YamuxError(
        'ERR_TOO_MANY_STREAMS',
        `"outbound streams" expected <= ${this.config.maxOutboundStreams}, got ${this.outboundCount + 1}`
      )
    }
    const id = this.nextId
    if (id > MAX_UINT32) {
      throw new YamuxError('ERR_TOO_MANY_STREAMS', `"stream id" expected <= ${MAX_UINT32}, got ${id} (ids exhausted)`)
    }
    const rec = this.addRecord(id, false)
    if (rec instanceof Error) throw rec
    this.nextId += 2
    this.outboundCount++
    if (this.unacked >= this.ackBacklog) {
      rec.deferred = true
      this.synBacklog.add(rec)
    } else {
      this.sendSyn(rec)
    }
    return id
  }

  /**
   * Stop taking new streams while the open ones finish: GoAway(normal), sent once (spec §Session
   * Termination). Afterwards every SYN is answered with RST and `openStream` throws YamuxError
   * ERR_MUXER_CLOSED; open streams carry data, FIN and RST as before. Nothing after close().
   */
  goAway (): void {
    if (this.closedWith !== undefined) return
    this.sendGoAway(GoAwayCode.Normal)
  }

  /** True once we sent GoAway (new streams are refused both ways). */
  get goingAway (): boolean { return this.localGoAway }

  /**
   * Graceful close: GoAway(normal) unless already sent, every live stream reset locally. The driver then flushes and
   * closes the connection.
   */
  close (): void {
    if (this.closedWith !== undefined) return
    this.sendGoAway(GoAwayCode.Normal)
    this.end(undefined)
  }

  /** Immediate teardown: every stream reset with `err`, nothing more is sent. */
  abort (err?: Error): void {
    if (this.closedWith !== undefined) return
    this.end(err ?? new YamuxError('ERR_MUXER_CLOSED', 'yamux session aborted'))
  }

  get closed (): boolean { return this.closedWith !== undefined }
  /** Latest RTT sample from a ping (ms), 0 while unknown. */
  get rtt (): number { return this.rttMs }
  /** Sum of the receive windows of all live streams (bytes the peer may make us buffer). */
  get receiveWindowTotal (): number { return this.budget.reserved }

  /** When `tick` next has work (ms on the session's clock), or undefined when no timer is needed. */
  nextDeadline (): number | undefined {
    if (this.closedWith !== undefined) return undefined
    const c = this.config
    let at = Infinity
    if (this.pingOutstanding !== undefined) {
      if (c.keepAliveIntervalMs > 0) at = Math.max(this.pingOutstanding.sentAt, this.lastRecvAt) + c.keepAliveTimeoutMs
    } else if (c.keepAliveIntervalMs > 0) {
      at = Math.max(this.lastRecvAt, this.lastPingAt) + c.keepAliveIntervalMs
    }
    return at === Infinity ? undefined : at
  }

  /** Run timer work due at `now()`: keepalive pings, keepalive timeout. */
  tick (): void {
    if (this.closedWith !== undefined) return
    const now = this.now()
    const c = this.config
    const p = this.pingOutstanding
    if (p !== undefined) {
      // Any byte from the peer since the ping proves it alive (its answer may sit behind data).
      if (c.keepAliveIntervalMs > 0 && now - Math.max(p.sentAt, this.lastRecvAt) >= c.keepAliveTimeoutMs) {
        this.end(
          new YamuxError(
            'ERR_MUXER_CLOSED',
            `yamux keepalive: ping ${p.value} unanswered after ${c.keepAliveTimeoutMs} ms`
          )
        )
      }
      return
    }
    if (c.keepAliveIntervalMs > 0 && now - Math.max(this.lastRecvAt, this.lastPingAt) >= c.keepAliveIntervalMs) {
      this.sendPing()
    }
  }

  // ══════════════════════════ FrameSink (called by the decoder) ══════════════════════════

  onHeader (h: Header): boolean {
    // A frame that ended the session (GoAway with an error code, a protocol error) may be followed by
    // more frames in the same chunk: they must not open streams on a session that is gone (found by
    // fuzz/targets/yamux.ts: the stream was handed out after onClose and never uncounted). re-entrancy
    if (this.closedWith !== undefined) return false
    if (this.ackBacklog < MAX_ACK_BACKLOG) {
      this.peerHeard()
      if (this.closedWith !== undefined) return false // re-entrancy: a released stream's writer ended the session
    }
    const obs = this.observer
    if (obs !== undefined) {
      obs.event({
        layer: 'yamux',
        kind: 'frame',
        dir: 'in',
        frameType: h.type,
        flags: h.flags,
        streamId: h.streamId,
        length: h.length
      })
    }
    switch (h.type) {
      case FrameType.Data: return this.onStreamHeader(h, true)
      case FrameType.WindowUpdate: this.onStreamHeader(h, false); return false
      case FrameType.Ping: this.onPing(h); return false
      case FrameType.GoAway: this.onGoAway(h); return false
    }
  }

  onPayload (h: Header, piece: Uint8Array): void {
    const obs = this.observer
    if (obs !== undefined) {
      obs.event({ layer: 'stream', kind: 'data', dir: 'in', stream: h.streamId, length: piece.length, bytes: piece })
    }
    const rec = this.currentRecord
    if (rec !== undefined) this.host.streams.onStreamData(rec.id, piece)
  }

  onDataEnd (h: Header): void {
    const rec = this.currentRecord
    this.currentRecord = undefined
    // re-entrancy: onStreamOpen of a Data|SYN may have reset the stream
    if (rec !== undefined && this.records.get(h.streamId) === rec) this.applyRemoteFlags(rec, h.flags)
  }

  // ══════════════════════════ inbound frames ══════════════════════════

  /** Data and WindowUpdate. Returns whether a Data payload is wanted. */
  private onStreamHeader (h: Header, isData: boolean): boolean {
    const id = h.streamId
    if (id === SESSION_STREAM_ID) {
      throw protocolError(`"stream id" expected != 0 on a ${isData ? 'Data' : 'WindowUpdate'} frame, got 0`)
    }
    let rec = this.records.get(id)
    if ((h.flags & Flag.SYN) !== 0) {
      if (rec !== undefined || this.tombstones.has(id)) {
        throw protocolError(
          `"SYN stream id" expected a new id, got ${id} (${rec !== undefined ? 'in use' : 'recently closed'})`
        )
      }
      if ((id % 2 === 1) === this.initiator) {
        throw protocolError(
          `"SYN stream id" expected ${this.initiator ? 'even' : 'odd'} (peer is the ${
            this.initiator ? 'listener' : 'dialer'
          }), got ${id}: both endpoints are ${this.initiator ? 'clients' : 'servers'}`
        )
      }
      // The opener cannot know a window we have not announced yet: a Data|SYN may carry at most the
      // spec's 256 KiB, whatever window we are about to grant (rust-yamux CVE-2026-32314).
      if (isData && h.length > INITIAL_STREAM_WINDOW) {
        throw protocolError(
          `"frame length" expected <= ${INITIAL_STREAM_WINDOW}, got ${h.length} (stream ${id}: Data|SYN beyond the initial window)`
        )
      }
      const added = this.localGoAway || this.inboundCount >= this.config.maxInboundStreams
        ? undefined
        : this.addRecord(id, true)
      if (added === undefined || added instanceof Error) {
        // Refuse this stream only, with RST and never an ACK first (go `incomingStream`; spec: RST
        // to refuse). The peer may have sent up to the initial window before it sees the RST.
        this.refusedStreams++
        this.remember(id, INITIAL_STREAM_WINDOW)
        this.control(FrameType.WindowUpdate, Flag.RST, id, 0)
        return this.onRetiredStream(h, isData, INITIAL_STREAM_WINDOW)
      }
      rec = added
      this.inboundCount++
      // The application sees the stream before we ACK it: one it refuses at once (the switch's own
      // stream limits, a closing connection) is answered with a bare RST, never ACK then RST.
      this.host.streams.onStreamOpen(id, id)
      if (this.records.get(id) !== rec) return false // re-entrancy: the application reset it inside onStream
      // ACK on accept, with our window above 256 KiB if configured (a delta: rust-yamux#90, #92). A control
      // frame: a peer that opens and resets streams without reading must not grow our outbox. (A write
      // inside onStream already carried the ACK; the window delta still goes out here.)
      const flags = rec.state.takeOpenFlags()
      const delta = rec.recv.openingDelta(this.now())
      if (flags !== 0 || delta > 0) this.control(FrameType.WindowUpdate, flags, id, delta)
      if (this.closedWith !== undefined) return false // re-entrancy: onStream closed the session
    }
    if (rec === undefined) {
      // Unknown or already closed stream: ignore (js-libp2p#2505, js-libp2p-yamux#91), within the credit it had if we
      // remember it.
      const left = this.tombstones.get(id)
      return this.onRetiredStream(h, isData, left)
    }

    if (!isData) {
      if (h.length > 0 && rec.state.maySendData) {
        rec.send.grow(h.length)
        this.applyRemoteFlags(rec, h.flags)
        if (this.records.get(id) === rec) this.host.streams.onStreamWritable(id) // re-entrancy: still live
      } else {
        this.applyRemoteFlags(rec, h.flags)
      }
      return false
    }

    // spec §Flow Control: a sender must not exceed the window; checked before buffering anything.
    if (!rec.recv.fits(h.length)) {
      throw protocolError(
        `"frame length" expected <= ${rec.recv.credit}, got ${h.length} (stream ${id}: receive window exceeded)`
      )
    }
    if (h.length > 0 && rec.state.mayGrantCredit && !rec.recv.admit(h.length)) {
      // The resource scope is full: this stream is reset and its payload skipped, never buffered.
      const refusal = rec.recv.refusal
      this.resetForResources++
      const left = rec.recv.credit - h.length
      this.control(FrameType.WindowUpdate, rec.state.sendReset(id), id, 0)
      this.retire(
        rec,
        left,
        new StreamResetError(`stream ${id} reset: ${refusal?.message ?? 'resource limit'}`, { cause: refusal })
      )
      this.discardedBytes += h.length
      return false
    }
    rec.recv.onReceived(h.length)
    if ((h.flags & Flag.ACK) !== 0 && (rec.state.onRemoteFlags(Flag.ACK) & RemoteEvent.Acked) !== 0) this.ackSlotFreed()
    if (h.length === 0) { this.currentRecord = rec; return false }
    if (rec.state.mayGrantCredit) {
      this.currentRecord = rec
      return true
    }
    // Data after the peer's FIN: counted against the window (so the check above stays exact) and
    // dropped; the reader was already promised EOF. go would buffer it; rust drops it.
    rec.recv.onConsumed(h.length)
    this.currentRecord = rec
    return false
  }

  private applyRemoteFlags (rec: StreamRecord, flags: number): void {
    if ((flags & (Flag.ACK | Flag.FIN | Flag.RST)) === 0) return
    const ev = rec.state.onRemoteFlags(flags)
    if ((ev & RemoteEvent.Acked) !== 0) this.ackSlotFreed()
    if ((ev & RemoteEvent.Reset) !== 0) {
      this.retire(rec, 0, new StreamResetError(`yamux: the peer reset stream ${rec.id} (RST)`))
      return
    }
    if ((ev & RemoteEvent.Fin) !== 0) {
      this.host.streams.onStreamEnd(rec.id)
      if (rec.state.finished) this.retire(rec)
    }
  }

  private onPing (h: Header): void {
    if ((h.flags & Flag.SYN) !== 0) {
      // Answer with the same opaque value. Bounded: a peer that pings without reading gets silence.
      if (this.pendingPongs >= MAX_PENDING_PONGS) return
      this.pendingPongs++
      this.frame(FrameType.Ping, Flag.ACK, SESSION_STREAM_ID, h.length)
      return
    }
    if ((h.flags & Flag.ACK) !== 0) {
      const p = this.pingOutstanding
      if (p !== undefined && p.value === h.length) {
        this.rttMs = Math.max(this.now() - p.sentAt, 0.001)
        this.pingOutstanding = undefined
      }
      // An ACK we did not ask for is ignored (go); we never send one ourselves.
    }
  }

  private onGoAway (h: Header): void {
    if (h.length === GoAwayCode.Normal) {
      // go: remote GoAway(normal) only stops new streams; existing ones finish.
      this.remoteGoAway = GoAwayCode.Normal
      return
    }
    this.remoteGoAway = h.length
    this.end(
      new YamuxError(
        'ERR_YAMUX_GOAWAY',
        `yamux: the peer sent GoAway(${goAwayName(h.length)}) and ended the session`,
        h.length
      )
    )
  }

  // ══════════════════════════ StreamOps (stream-table.ts), by stream id ══════════════════════════

  /** Frame as much of `data` as the peer's window and the connection allow. */
  send (id: number, data: Uint8Array): number {
    const rec = this.records.get(id)
    if (rec === undefined || this.closedWith !== undefined || !rec.state.maySendData || rec.deferred) return 0
    const max = this.config.maxFramePayloadBytes
    const outbox = this.outbox
    let sent = 0
    while (sent < data.length) {
      if (!outbox.hasRoom) {
        outbox.waitForRoom(id)
        break
      }
      const n = rec.send.take(Math.min(data.length - sent, max))
      if (n === 0) break // window exhausted: the next WindowUpdate calls notifyWritable
      this.frame(FrameType.Data, rec.state.takeOpenFlags(), rec.id, n, data.subarray(sent, sent + n))
      sent += n
    }
    return sent
  }

  /** Half-close our direction: FIN. */
  closeWrite (id: number): void {
    const rec = this.records.get(id)
    if (rec !== undefined) this.sendFin(rec)
  }

  private sendFin (rec: StreamRecord): void {
    if (this.closedWith !== undefined || !rec.state.maySendData) return
    if (rec.deferred) { rec.finPending = true; return }
    // FIN on a WindowUpdate (go, js); nim uses an empty Data frame. Both are legal (rust-yamux#189, py-libp2p#1014).
    this.control(FrameType.WindowUpdate, rec.state.sendFin(rec.id), rec.id, 0)
    if (rec.state.finished) this.retire(rec)
  }

  /** Reset the stream: RST (nothing for a stream the peer never heard of). */
  reset (id: number): void {
    const rec = this.records.get(id)
    if (this.closedWith !== undefined || rec === undefined || rec.state.finished) return
    if (rec.deferred) { this.retire(rec); return } // the peer never heard of it: nothing to send
    this.control(FrameType.WindowUpdate, rec.state.sendReset(rec.id), rec.id, 0)
    this.retire(rec, rec.recv.credit)
  }

  /** The application read `n` bytes: credit the peer once half a window is free. */
  consumed (id: number, n: number): void {
    const rec = this.records.get(id)
    if (rec === undefined) return
    rec.recv.onConsumed(n)
    if (this.closedWith !== undefined || !rec.state.mayGrantCredit) return
    const now = this.now()
    const delta = rec.recv.nextUpdate(now, this.rttMs)
    if (delta <= 0) return
    this.control(FrameType.WindowUpdate, rec.state.takeOpenFlags(), rec.id, delta)
    // §RTT: windows move, so auto-tuning wants a (fresh) RTT.
    const c = this.config
    if (
      c.rttIntervalMs > 0 && this.pingOutstanding === undefined && now - this.lastPingAt >= c.rttIntervalMs &&
      this.closedWith === undefined
    ) this.sendPing()
  }

  // ══════════════════════════ internals ══════════════════════════

  /** A new stream charged to the resource scope, or the scope's refusal (nothing charged then). */
  private addRecord (id: number, inbound: boolean): StreamRecord | Error {
    const direction = inbound ? 'inbound' : 'outbound'
    const refused = this.scope?.addStream(direction)
    if (refused !== undefined) return refused
    const recv = new ReceiveWindow({
      initialWindow: this.config.initialStreamWindowBytes,
      maxWindow: this.config.maxStreamWindowBytes,
      budget: this.budget,
      account: this.scope
    })
    if (!recv.open()) {
      recv.release()
      this.scope?.removeStream(direction)
      return recv.refusal ?? new YamuxError('ERR_TOO_MANY_STREAMS', 'stream refused')
    }
    const rec = new StreamRecord(id, inbound, recv)
    this.records.set(id, rec)
    return rec
  }

  /**
   * The stream is finished on the wire: forget it (no frame may follow), free its window and its
   * resources. `creditLeft`: what the peer may still send for it (0 after its FIN). With
   * `resetErr` the stream is reset (reported before it is removed).
   */
  private retire (rec: StreamRecord, creditLeft = 0, resetErr?: Error): void {
    if (this.records.get(rec.id) !== rec) return // re-entrancy: retired already
    this.records.delete(rec.id)
    rec.recv.release()
    this.scope?.removeStream(rec.inbound ? 'inbound' : 'outbound')
    this.outbox.forget(rec.id)
    if (rec.inbound) this.inboundCount--
    else this.outboundCount--
    if (rec.deferred) {
      rec.deferred = false // never on the wire
      this.synBacklog.delete(rec)
    } else {
      if (!rec.inbound && rec.state.open === OpenState.SynSent) this.ackSlotFreed()
      // Remember every retired id the peer may still name (its own, and ours it may still answer on).
      this.remember(rec.id, rec.state.read === HalfState.Closed ? 0 : creditLeft)
    }
    if (resetErr !== undefined) this.host.streams.onStreamReset(rec.id, resetErr)
    this.host.streams.onStreamRemoved(rec.id)
  }

  /** SYN for one of our streams (with our window if above 256 KiB); it now waits for its ACK. */
  private sendSyn (rec: StreamRecord): void {
    this.unacked++
    this.frame(FrameType.WindowUpdate, rec.state.takeOpenFlags(), rec.id, rec.recv.openingDelta(this.now()))
  }

  /** One of our streams was ACKed (or went away unACKed): release the next held-back SYN. */
  private ackSlotFreed (): void {
    this.unacked--
    this.releaseSyns()
  }

  /** The peer's first frame: its muxer listens, the full ACK backlog applies (OPENING_ACK_BACKLOG). */
  private peerHeard (): void {
    this.ackBacklog = MAX_ACK_BACKLOG
    this.releaseSyns()
  }

  /** Send held-back SYNs while the backlog has room, in opening order. */
  private releaseSyns (): void {
    while (this.unacked < this.ackBacklog && this.synBacklog.size > 0 && this.closedWith === undefined) {
      const rec = this.synBacklog.values().next().value as StreamRecord
      this.synBacklog.delete(rec)
      rec.deferred = false
      this.sendSyn(rec)
      if (rec.finPending) this.sendFin(rec)
      else this.host.streams.onStreamWritable(rec.id)
    }
  }

  /** Our streams whose SYN waits for the ACK backlog (tests, inspection). */
  get heldBackStreams (): number { return this.synBacklog.size }

  private remember (id: number, creditLeft: number): void {
    this.tombstones.delete(id)
    this.tombstones.set(id, creditLeft)
    if (this.tombstones.size > TOMBSTONES) {
      const oldest = this.tombstones.keys().next().value as number
      this.tombstones.delete(oldest)
    }
  }

  /**
   * A Data or WindowUpdate frame for a stream that is gone. WindowUpdates (late FIN/RST/credit) are
   * ignored. Data is skipped unbuffered and counted; for a stream we remember, the peer may send
   * only the credit it held when we retired it (`left`): beyond that it is ignoring our RST.
   */
  private onRetiredStream (h: Header, isData: boolean, left: number | undefined): false {
    if (!isData || h.length === 0) return false
    this.discardedBytes += h.length
    if (left !== undefined) {
      if (h.length > left) {
        throw protocolError(
          `"frame length" expected <= ${left}, got ${h.length} (stream ${h.streamId} was reset or closed: data beyond the credit it had then)`
        )
      }
      this.tombstones.set(h.streamId, left - h.length)
    }
    return false
  }

  private sendPing (): void {
    const now = this.now()
    this.pingValue = (this.pingValue + 1) >>> 0
    this.pingOutstanding = { value: this.pingValue, sentAt: now }
    this.lastPingAt = now
    this.frame(FrameType.Ping, Flag.SYN, SESSION_STREAM_ID, this.pingValue)
  }

  /** At most one GoAway(normal), then at most one carrying an error code (a violation after our `goAway()`). */
  private sendGoAway (code: GoAwayCode): void {
    const sent = this.goAwaySent
    if (sent !== undefined && (code === GoAwayCode.Normal || sent !== GoAwayCode.Normal)) return
    this.localGoAway = true
    this.goAwaySent = code
    this.control(FrameType.GoAway, 0, SESSION_STREAM_ID, code)
  }

  /** A control frame: counted so that a peer that never reads cannot make the outbox grow forever. */
  private control (type: FrameType, flags: number, id: number, length: number): void {
    if (this.outbox.blocked && ++this.controlBacklog > MAX_CONTROL_BACKLOG) {
      this.end(
        new YamuxError(
          'ERR_BUFFER_FULL',
          `"queued control frames" expected <= ${MAX_CONTROL_BACKLOG} while the peer is not reading, got more`
        )
      )
      return
    }
    this.frame(type, flags, id, length)
  }

  /** Append one frame to the outbox: the header (and a small payload) in scratch, a large payload as a view. */
  private frame (type: FrameType, flags: number, id: number, length: number, payload?: Uint8Array): void {
    const inline = payload !== undefined && length <= SMALL_PAYLOAD_BYTES
    const outbox = this.outbox
    const buf = outbox.reserve(HEADER_LENGTH + (inline ? length : 0))
    const at = outbox.pos
    writeHeader(buf, at, type, flags, id, length)
    const obs = this.observer
    if (obs !== undefined) {
      obs.event({
        layer: 'yamux',
        kind: 'frame',
        dir: 'out',
        frameType: type,
        flags,
        streamId: id,
        length,
        bytes: buf.subarray(at, at + HEADER_LENGTH)
      })
      if (payload !== undefined) {
        obs.event({ layer: 'stream', kind: 'data', dir: 'out', stream: id, length, bytes: payload })
      }
    }
    if (payload === undefined) {
      outbox.commit(HEADER_LENGTH)
    } else if (inline) {
      buf.set(payload, at + HEADER_LENGTH)
      outbox.commit(HEADER_LENGTH + length)
    } else {
      outbox.commit(HEADER_LENGTH, payload)
    }
  }

  /** A protocol violation or internal failure: GoAway with its code, then end. */
  private fail (err: unknown): void {
    const e = err instanceof SwitchyardError
      ? err
      : new YamuxError(
        'ERR_YAMUX_PROTOCOL',
        `yamux internal error: ${err instanceof Error ? err.message : String(err)}`,
        GoAwayCode.InternalError,
        { cause: err }
      )
    const code = e instanceof YamuxError && e.goAwayCode !== undefined ? e.goAwayCode : GoAwayCode.InternalError
    this.sendGoAway(code)
    this.end(e)
  }

  private end (err: Error | undefined): void {
    if (this.closedWith !== undefined) return
    this.closedWith = { err }
    if (this.records.size > 0) {
      // Built only when a live stream needs a reason: no error object on the close of an idle session.
      const reason = err ?? new YamuxError('ERR_MUXER_CLOSED', 'yamux session closed')
      for (const rec of [...this.records.values()]) {
        this.records.delete(rec.id)
        rec.recv.release()
        this.scope?.removeStream(rec.inbound ? 'inbound' : 'outbound')
        this.host.streams.onStreamReset(rec.id, reason)
        this.host.streams.onStreamRemoved(rec.id)
      }
    }
    this.outbox.forgetAll()
    this.synBacklog.clear()
    this.host.onClose(err)
  }
}

function protocolError (message: string): YamuxError {
  return new YamuxError('ERR_YAMUX_PROTOCOL', message, GoAwayCode.ProtocolError)
}

/** A GoAway code as spec §GoAway names it (`normal`, `protocol error`, `internal error`). */
function goAwayName (code: number): string {
  switch (code) {
    case GoAwayCode.Normal: return 'normal'
    case GoAwayCode.ProtocolError: return 'protocol error'
    case GoAwayCode.InternalError: return 'internal error'
    default: return `unknown code ${code}`
  }
}
