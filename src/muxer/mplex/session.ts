/**
 * The mplex session as a sans-I/O state machine: bytes in (`receive`), stream events out (through
 * a synchronous `MplexSessionHandler`), frames to send collected in an outbox the adapter flushes.
 * No sockets, timers or promises here. Events are callbacks rather than returned
 * objects so that a chunk holding hundreds of frames allocates nothing per frame but the data
 * views (bodies are handed on as views of the received chunks, never gathered or copied).
 *
 * Stream identity. Both peers number the streams they open independently, from 0 (go-mplex
 * `nextChanID`, js `_streamId = 0`; nim starts at 1); the spec's "initiator odd, receiver even"
 * rule is followed by no implementation and is not needed, because every frame's flag says whose
 * id space it refers to (even flags: the sender opened the stream; odd: the sender accepted it).
 * A stream is therefore identified by (id, who opened it), packed into one number:
 *
 *     key = id * 2 + (we opened it ? 1 : 0)
 *
 * which stays a safe integer for every id the header can carry (< 2^50), keeps `Map` lookups on
 * small integers, and lets id 0 exist twice (our stream 0 → key 1, the peer's stream 0 → key 0).
 *
 * Stream lifecycle (mplex README §Closing/§Resetting a stream):
 *
 *   NewStream ──► open ──Close sent──► local closed ──Close received──► removed
 *                  │  └─Close received─► remote closed ──Close sent──────► removed
 *                  └── Reset sent or received (any state) ────────────────► removed
 *
 * Invariants:
 *  - no frame is ever queued for a stream that is not in `streams` (removed = gone on the wire;
 *    old nim kills the connection on frames for unknown streams, js-libp2p#2505, js-libp2p-yamux#91);
 *  - frames for unknown streams are ignored (go, js and nim do the same), except a NewStream;
 *  - a connection-level violation (flag 7, oversize frame, bad varint, NewStream for an id the peer
 *    already has open) throws MplexError out of `receive`; the adapter then aborts everything.
 *
 * Slow readers. mplex has no flow control, so a peer can make us buffer without bound. Every
 * implementation caps it differently:
 *  - go-mplex: 8 queued messages per stream (up to 8 MiB), then blocks the whole connection for up
 *    to `ReceiveTimeout` = 5 s, then resets the stream;
 *  - js-libp2p (`@libp2p/utils` AbstractMessageStream): resets the stream once its read buffer
 *    exceeds `maxReadBufferLength` = 4 MiB;
 *  - nim-libp2p (`BufferStream`, a 1-slot queue): blocks the whole connection until the reader
 *    takes the message; only the channel's idle timeout (5 min in `newStandardSwitch`) resets it.
 * We follow js: a stream whose unread bytes would exceed `maxStreamBufferBytes` (default 4 MiB,
 * four maximum-size messages) is reset, with a ResetInitiator/ResetReceiver frame to the peer and
 * MplexError(ERR_BUFFER_FULL) as the local cause. The check runs on a Message frame's declared
 * length, when its header arrives, before any of its body is held. Blocking the connection (go,
 * nim) would let one slow stream stall every other stream; the reset costs only that stream.
 * Per connection that alone allows maxInboundStreams × maxStreamBufferBytes (1000 × 4 MiB; the
 * many-streams case of js-libp2p#3220), so every buffered byte is also charged to the connection's
 * resource scope (src/resources: connection → peer → process, 32 MiB per peer by default) when its
 * frame header arrives: a refusal resets that stream the same way, before its body is held.
 */
import { MplexError, StreamResetError } from '../../errors.js'
import type { ResourceScope } from '../../resources/scope.js'
import { MAX_HEADER_BYTES, MAX_MESSAGE_BYTES, MAX_STREAM_ID, MessageFlag } from './constants.js'
import { FrameDecoder } from './frame-decoder.js'
import type { FrameHandler } from './frame-decoder.js'
import { closeFlag, frameEvent, messageFlag, resetFlag, sentByInitiator, writeFrameHeader } from './frame.js'
import { Outbox, SMALL_PAYLOAD_BYTES } from '../outbox.js'
import type { StreamEvents } from '../stream-table.js'
import type { TraceDirection, TraceObserver } from '../../trace/observer.js'

/** Every limit of the mplex layer (hashicorp yamux mux.go DefaultConfig/VerifyConfig). */
export interface MplexConfig {
  /**
   * Largest frame we accept, checked against the declared length before the body is buffered; a
   * larger one is a connection error. Default 1 MiB, what go, js and nim send at most.
   */
  maxMessageBytes: number
  /**
   * Largest data payload per frame we send; longer writes are split. Default 64 KiB (small enough
   * that streams interleave fairly, large enough that the 2–4 header bytes are noise). At most
   * 1 MiB: every peer rejects larger frames.
   */
  maxFramePayloadBytes: number
  /**
   * Unread bytes one stream may hold; data beyond this resets the stream (not the connection).
   * Default 4 MiB, js-libp2p's `maxReadBufferLength`. Must be at least `maxMessageBytes` so that
   * one maximum-size message always fits an empty buffer.
   */
  maxStreamBufferBytes: number
  /** Streams the peer may have open at once; a NewStream beyond this is answered with a reset. Default 1000. */
  maxInboundStreams: number
  /**
   * Bytes queued for the next batched connection write above which stream writes wait (the
   * adapter's backpressure point, together with the connection's own high-water mark). Default 1 MiB.
   */
  writeHighWaterBytes: number
}

export const DEFAULT_MPLEX_CONFIG: Readonly<MplexConfig> = Object.freeze({
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxFramePayloadBytes: 64 * 1024,
  maxStreamBufferBytes: 4 * 1024 * 1024,
  maxInboundStreams: 1000,
  writeHighWaterBytes: 1024 * 1024
})

/** Defaults merged with `config`, validated. Throws RangeError naming the field. */
export function mplexConfig (config: Partial<MplexConfig> = {}): MplexConfig {
  const c: MplexConfig = { ...DEFAULT_MPLEX_CONFIG }
  for (const [k, v] of Object.entries(config) as Array<[keyof MplexConfig, unknown]>) {
    if (!(k in DEFAULT_MPLEX_CONFIG)) throw new RangeError(`"mplex config" has no field ${JSON.stringify(k)}`)
    if (v !== undefined) c[k] = v as number
  }
  const int = (name: keyof MplexConfig, min: number, max: number): void => {
    const v = c[name]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new RangeError(`"${name}" expected an integer in [${min}, ${max}], got ${String(v)}`)
    }
  }
  int('maxMessageBytes', 1, 64 * 1024 * 1024)
  int('maxFramePayloadBytes', 1, MAX_MESSAGE_BYTES)
  int('maxStreamBufferBytes', c.maxMessageBytes, Number.MAX_SAFE_INTEGER)
  int('maxInboundStreams', 0, 1 << 30)
  int('writeHighWaterBytes', 1, Number.MAX_SAFE_INTEGER)
  return c
}

/**
 * What the session tells its adapter: stream events by key (stream-table.ts states when they may
 * re-enter the session), and when to flush. `onStreamReset` comes from the peer (StreamResetError),
 * our buffer limit (MplexError ERR_BUFFER_FULL; a Reset frame was queued) or `abortAll`;
 * `onStreamRemoved` follows it, and follows both Close frames.
 */
export interface MplexSessionHandler {
  /** Where stream events go, by key (the adapter's `StreamTable`). */
  streams: StreamEvents
  /** Flush the outbox: soon (first frame of a batch), or at once when `full` (outbox.ts). */
  onOutboxReady: (full: boolean) => void
}

/** Pack (id, who opened it) into the session's stream key (see the module comment). */
export function streamKey (streamId: number, weOpened: boolean): number {
  return streamId * 2 + (weOpened ? 1 : 0)
}

/** The mplex stream id of a key. */
export function keyStreamId (key: number): number {
  return Math.floor(key / 2)
}

interface StreamState {
  readonly streamId: number
  /** We opened the stream (we send the Initiator flags). */
  readonly weOpened: boolean
  /** We sent Close. */
  localClosed: boolean
  /** The peer sent Close. */
  remoteClosed: boolean
  /** Bytes delivered to the handler and not yet reported `consumed`. */
  buffered: number
}

const utf8 = new TextEncoder()

export class MplexSession {
  readonly config: MplexConfig
  private readonly handler: MplexSessionHandler
  private readonly observer: TraceObserver | undefined
  private readonly scope: ResourceScope | undefined
  private readonly decoder: FrameDecoder
  private readonly streams = new Map<number, StreamState>()
  private nextStreamId = 0
  private inbound = 0
  /** NewStreams refused (limit, GoAway, resource scope). */
  refusedStreams = 0
  /** Streams reset because their buffer limit or the resource scope refused more data. */
  resetForBuffers = 0
  private accepting = true
  private closed = false

  /** Frames waiting for the adapter's next batched write, and the connection's backpressure (outbox.ts). */
  private readonly outbox: Outbox

  constructor (config: MplexConfig, handler: MplexSessionHandler, observer?: TraceObserver, resources?: ResourceScope) {
    this.config = config
    this.handler = handler
    this.observer = observer
    this.scope = resources
    this.decoder = new FrameDecoder(config.maxMessageBytes)
    this.outbox = new Outbox({
      limit: config.writeHighWaterBytes,
      onReady: (full) => {
        handler.onOutboxReady(full)
      },
      onRoom: (key) => {
        handler.streams.onStreamWritable(key)
      }
    })
  }

  // ────────────────────────── inspection ──────────────────────────

  /** Streams not yet removed. */
  get size (): number { return this.streams.size }
  /** Streams the peer opened that are not yet removed. */
  get inboundStreams (): number { return this.inbound }
  has (key: number): boolean { return this.streams.has(key) }
  /** Unread bytes the session counts for a stream (0 for unknown streams). */
  bufferedBytes (key: number): number { return this.streams.get(key)?.buffered ?? 0 }
  /** The peer has closed its direction of the stream. */
  remoteClosed (key: number): boolean { return this.streams.get(key)?.remoteClosed ?? false }
  get isClosed (): boolean { return this.closed }
  /** Bytes waiting in the outbox. */
  get outboxBytes (): number { return this.outbox.bytes }

  /** Everything queued since the last call, in order, for one connection write. */
  takeOutbox (): Uint8Array[] {
    return this.outbox.take()
  }

  /** The connection's write buffer went above (true) or back below (false) its high-water mark. */
  setBlocked (blocked: boolean): void {
    this.outbox.setBlocked(blocked)
  }

  /**
   * Take as much of `data` for stream `key` as there is room for (mplex has no flow control: the
   * connection and the outbox are the only backpressure, mplex README §Implementation notes): at
   * least one whole frame whenever there is room, so progress is steady. With no room, the stream
   * waits for `onStreamWritable`. Returns how many bytes were taken.
   */
  trySend (key: number, data: Uint8Array): number {
    const outbox = this.outbox
    if (!outbox.hasRoom) {
      outbox.waitForRoom(key)
      return 0
    }
    const n = Math.min(
      data.length,
      Math.max(this.config.writeHighWaterBytes - outbox.bytes, this.config.maxFramePayloadBytes)
    )
    if (!this.send(key, n === data.length ? data : data.subarray(0, n))) return 0
    if (n < data.length) outbox.waitForRoom(key)
    return n
  }

  // ────────────────────────── inbound ──────────────────────────

  /** Bytes from the connection. Throws MplexError for a connection-level violation. */
  receive (chunk: Uint8Array): void {
    if (this.closed) return
    this.decoder.push(chunk, this.frames)
  }

  /** The connection ended while a frame was incomplete. */
  get midFrame (): boolean { return this.decoder.midFrame }

  /**
   * The decoder's handler. `onFrame` acts on a header — before its body arrives, so the buffer
   * limit is checked against the declared length (the limit is checked at the length prefix) — and picks where the
   * body's
   * pieces go: `target` is the stream whose data is arriving, or undefined to drop them (NewStream
   * names, stray bodies of Close/Reset, frames for unknown or over-limit streams).
   */
  private target: StreamState | undefined
  private targetKey = -1

  private readonly frames: FrameHandler = {
    onFrame: (streamId, flag, length) => {
      this.target = undefined
      if (this.closed) return // aborted from inside a handler callback while this chunk was being parsed
      if (this.observer !== undefined) this.traceFrame('in', streamId, flag, length)
      if (flag === MessageFlag.NewStream) {
        this.onNewStream(streamId)
        return
      }
      // Even flags come from the stream's opener (the peer: key id*2), odd ones from its acceptor (us).
      const key = streamId * 2 + (sentByInitiator(flag) ? 0 : 1)
      const s = this.streams.get(key)
      if (s === undefined) return // unknown or already forgotten (we reset it, or both closed): ignore
      switch (flag) {
        case MessageFlag.MessageReceiver:
        case MessageFlag.MessageInitiator:
          // Data after the peer's own Close breaks the spec; go-mplex drops it too.
          if (s.remoteClosed || length === 0) return
          if (s.buffered + length > this.config.maxStreamBufferBytes) {
            this.overflow(key, s, length)
            return
          }
          if (this.scope !== undefined) {
            const refused = this.scope.reserveMemory(length)
            if (refused !== undefined) {
              this.overflow(key, s, length, refused)
              return
            }
          }
          s.buffered += length // counted now: every byte of the body is on its way
          this.target = s
          this.targetKey = key
          return
        case MessageFlag.CloseReceiver:
        case MessageFlag.CloseInitiator:
          if (s.remoteClosed) return // duplicate Close: harmless, ignored (go does the same)
          s.remoteClosed = true
          this.handler.streams.onStreamEnd(key)
          if (s.localClosed) this.remove(key, s)
          return
        default: // ResetReceiver, ResetInitiator
          this.remove(key, s, new StreamResetError(`mplex: the peer reset stream ${streamId}`))
      }
    },
    onData: (data) => {
      const s = this.target
      if (s === undefined) return
      if (this.observer !== undefined) this.traceData('in', s, data)
      this.handler.streams.onStreamData(this.targetKey, data)
    }
  }

  private onNewStream (streamId: number): void {
    const key = streamId * 2
    if (this.streams.has(key)) {
      // go-mplex (ErrInvalidState) and nim (InvalidChannelIdError) drop the connection too.
      throw new MplexError('ERR_MPLEX_PROTOCOL', `NewStream for stream ${streamId}, which the peer already has open`)
    }
    if (
      !this.accepting || this.inbound >= this.config.maxInboundStreams || this.scope?.addStream('inbound') !== undefined
    ) {
      // Refuse this stream only (nim drops the whole connection here; a reset is enough).
      this.refusedStreams++
      this.queueFrame(streamId, MessageFlag.ResetReceiver, EMPTY)
      return
    }
    this.streams.set(key, { streamId, weOpened: false, localClosed: false, remoteClosed: false, buffered: 0 })
    this.inbound++
    this.handler.streams.onStreamOpen(key, streamId)
  }

  private overflow (key: number, s: StreamState, incoming: number, refused?: Error): void {
    this.resetForBuffers++
    const err = refused !== undefined
      ? new MplexError(
        'ERR_BUFFER_FULL',
        `stream ${s.streamId} (${s.weOpened ? 'outbound' : 'inbound'}) reset: ${refused.message}`,
        { cause: refused }
      )
      : new MplexError(
        'ERR_BUFFER_FULL',
        `"stream buffer" expected <= ${this.config.maxStreamBufferBytes} unread bytes, got ${
          s.buffered + incoming
        } (stream ${s.streamId}, ${s.weOpened ? 'outbound' : 'inbound'}): the reader is too slow, stream reset`
      )
    this.queueFrame(s.streamId, resetFlag(s.weOpened), EMPTY)
    this.remove(key, s, err)
  }

  private remove (key: number, s: StreamState, resetErr?: Error): void {
    this.streams.delete(key)
    this.outbox.forget(key)
    if (this.scope !== undefined) {
      if (s.buffered > 0) this.scope.releaseMemory(s.buffered)
      this.scope.removeStream(s.weOpened ? 'outbound' : 'inbound')
    }
    s.buffered = 0
    if (this.target === s) this.target = undefined // the rest of its current frame is dropped
    if (!s.weOpened) this.inbound--
    if (resetErr !== undefined) this.handler.streams.onStreamReset(key, resetErr)
    this.handler.streams.onStreamRemoved(key)
  }

  // ────────────────────────── outbound ──────────────────────────

  /** Open a stream (NewStream, named with its decimal id like go-mplex). Returns its key. */
  openStream (): number {
    if (this.closed) throw new MplexError('ERR_MUXER_CLOSED', 'cannot open a stream: the mplex session is closed')
    const streamId = this.nextStreamId
    if (streamId > MAX_STREAM_ID) {
      throw new MplexError(
        'ERR_TOO_MANY_STREAMS',
        `"stream id" expected <= ${MAX_STREAM_ID}, got ${streamId}: id space exhausted`
      )
    }
    const refused = this.scope?.addStream('outbound')
    if (refused !== undefined) throw refused
    this.nextStreamId++
    const key = streamId * 2 + 1
    this.streams.set(key, { streamId, weOpened: true, localClosed: false, remoteClosed: false, buffered: 0 })
    this.queueFrame(streamId, MessageFlag.NewStream, utf8.encode(String(streamId)))
    return key
  }

  /**
   * Queue `data` as Message frames of at most `maxFramePayloadBytes` (views, no copy for large
   * frames). Returns false, queuing nothing, when the stream is unknown or we already sent Close.
   */
  send (key: number, data: Uint8Array): boolean {
    const s = this.streams.get(key)
    if (s === undefined || s.localClosed) return false
    const flag = messageFlag(s.weOpened)
    const max = this.config.maxFramePayloadBytes
    if (this.observer !== undefined && data.length > 0) this.traceData('out', s, data)
    for (let off = 0; off < data.length; off += max) {
      this.queueFrame(s.streamId, flag, off === 0 && data.length <= max ? data : data.subarray(off, off + max))
    }
    return true
  }

  /** Half-close our direction (Close). No-op for an unknown or already closed stream. */
  closeWrite (key: number): void {
    const s = this.streams.get(key)
    if (s === undefined || s.localClosed) return
    s.localClosed = true
    this.queueFrame(s.streamId, closeFlag(s.weOpened), EMPTY)
    if (s.remoteClosed) this.remove(key, s)
  }

  /** Reset the stream (Reset frame) and forget it. No-op for an unknown stream. */
  reset (key: number): void {
    const s = this.streams.get(key)
    if (s === undefined) return
    this.queueFrame(s.streamId, resetFlag(s.weOpened), EMPTY)
    this.remove(key, s)
  }

  /** The application took `n` bytes of the stream's data (or they were discarded). */
  consumed (key: number, n: number): void {
    const s = this.streams.get(key)
    if (s === undefined) return
    const k = Math.min(n, s.buffered)
    s.buffered -= k
    this.scope?.releaseMemory(k)
  }

  /** Refuse (reset) every stream the peer opens from now on; used by a graceful close. */
  stopAccepting (): void {
    this.accepting = false
  }

  /**
   * The connection is gone (both directions). Every stream is forgotten: those the peer had not
   * closed are reset with `err`; those it had closed are released without a reset, so that their
   * buffered data stays readable up to EOF (only their later writes can fail). The outbox is dropped.
   */
  connectionLost (err: Error): void {
    if (this.closed) return
    this.closed = true
    this.accepting = false
    this.outbox.discard()
    for (const [key, s] of [...this.streams]) this.remove(key, s, s.remoteClosed ? undefined : err)
  }

  /**
   * The connection is broken (protocol violation, local abort): every stream is reset with `err`
   * and forgotten, the outbox is dropped, and the session accepts nothing more. Sends nothing.
   */
  abortAll (err: Error): void {
    if (this.closed) return
    this.closed = true
    this.accepting = false
    this.outbox.discard()
    for (const [key, s] of [...this.streams]) this.remove(key, s, err)
  }

  private queueFrame (streamId: number, flag: MessageFlag, data: Uint8Array): void {
    if (this.observer !== undefined) this.traceFrame('out', streamId, flag, data.length)
    const length = data.length
    const inline = length <= SMALL_PAYLOAD_BYTES
    const outbox = this.outbox
    const buf = outbox.reserve(MAX_HEADER_BYTES + (inline ? length : 0))
    const at = outbox.pos
    const header = writeFrameHeader(buf, at, streamId, flag, length)
    if (inline) {
      if (length > 0) buf.set(data, at + header)
      outbox.commit(header + length)
    } else {
      outbox.commit(header, data)
    }
  }

  /** Report one frame header to the observer; only called when there is one. */
  private traceFrame (dir: TraceDirection, streamId: number, flag: MessageFlag, length: number): void {
    ;(this.observer as TraceObserver).event(frameEvent(dir, streamId, flag, length))
  }

  /** Report stream payload to the observer; only called when there is one. */
  private traceData (dir: TraceDirection, s: StreamState, data: Uint8Array): void {
    const opener = s.weOpened ? 'local' : 'remote'
    ;(this.observer as TraceObserver).event({
      layer: 'stream',
      kind: 'data',
      dir,
      stream: s.streamId,
      opener,
      length: data.length,
      bytes: data
    })
  }
}

const EMPTY = new Uint8Array(0)
