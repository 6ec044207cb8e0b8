/**
 * One upgraded connection to one authenticated peer: a transport, a security protocol and a stream
 * muxer (or a transport that brings all three, QUIC). The switch keeps one per peer and opens every
 * stream to that peer on it.
 *
 * Lifecycle:
 *
 *   open ──close()──► closing (no new streams either way; open streams finish)
 *     │                  │ all streams done, or stopTimeoutMs passed (then reset)
 *     │                  ▼
 *     └──abort()/loss──► closed   (`onClose` of the switch fires once, with the error if abnormal)
 *
 * When closing announces it: with `earlyGoAway` the muxer's `goAway()` goes out on entering
 * `closing` (yamux GoAway(normal) first; the muxer then refuses the peer's new streams); by
 * default the connection refuses them itself (reset) and the GoAway goes out with the muxer's
 * `close()` at the end, because js-libp2p-yamux 8, rust-yamux and nim-libp2p end the whole session
 * on any GoAway, which would cut their open streams short (test/muxer/js-interop.test.ts).
 */
import type { Stream, StreamMuxer, UpgradedConnection } from '../connection.js'
import { SwitchError, SwitchyardError, toError } from '../errors.js'
import type { IdentifyMessage } from '../proto/identify.js'
import type { PublicKey } from '../security/keys.js'
import type { PeerId } from '../security/peer-id.js'
import { selectOnStream } from '../multistream/negotiate.js'
import type { ResourceScope } from '../resources/scope.js'
import type { Multiaddr } from '../transport/multiaddr.js'
import type { TraceObserver } from '../trace/observer.js'
import type { HandlerContext } from './protocol.js'
import { SwitchStream } from './stream.js'

/** What identify told us about the peer (libp2p specs identify/README.md). */
export interface PeerIdentity {
  /** Protocol ids the peer accepts inbound streams for. */
  readonly protocols: readonly string[]
  readonly agentVersion: string | undefined
  readonly protocolVersion: string | undefined
  /** The peer's listen addresses (the ones we could parse). */
  readonly listenAddrs: readonly Multiaddr[]
  /** How the peer sees us. */
  readonly observedAddr: Multiaddr | undefined
  /** The peer's signed peer record (RFC 0003), verified: signed by its key, naming it. */
  readonly signedPeerRecord?: { readonly seq: bigint, readonly addresses: readonly Multiaddr[] }
  /** Why the signed peer record the peer sent failed verification (then `signedPeerRecord` is absent). */
  readonly signedPeerRecordError?: Error
}

/** What a connection needs from its switch. */
export interface ConnectionHost {
  /** The context every handler on `conn` receives (asked once per connection). */
  handlerContext: (conn: PeerConnection) => HandlerContext
  /** Negotiate and dispatch an inbound stream (the switch applies its limits there). */
  inboundStream: (conn: PeerConnection, stream: Stream) => void
  /** The muxer is gone (exactly once per connection). */
  connectionClosed: (conn: PeerConnection, err: Error | undefined) => void
  readonly streamNegotiationTimeoutMs: number
  /** Send the muxer's GoAway when closing starts rather than when it ends (SwitchOptions.earlyGoAway). */
  readonly earlyGoAway: boolean
  /** `maxNegotiationMessageBytes`: the largest answer accepted in a stream's negotiation. */
  readonly maxNegotiationMessageBytes: number
  /** `maxOutboundStreamsPerConnection`. */
  readonly maxOutboundStreams: number
  /** The `maxOutgoingStreams` of a protocol we mount, if it has one. */
  outboundStreamLimit: (protocol: string) => number | undefined
}

export interface NewStreamOptions {
  /**
   * Optimistic multistream-select (go-multistream lazyClient.go, rust multistream-select V1Lazy): with one protocol,
   * return at once and send the
   * proposal together with the first bytes written, saving a round trip (the 3-RTT budget of
   * one flight saves a round trip of the dial). The listener's answer is then checked on the first read, which rejects
   * with
   * ProtocolNotSupportedError if it refused. Default false: like nim's `dial`, the stream comes back
   * negotiated (the peer's handler is running).
   */
  lazy?: boolean
  /** Bound on the negotiation (default: the switch's `streamNegotiationTimeoutMs`). */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface PeerConnectionInit {
  id: number
  /** What the upgrade (or a self-securing transport) produced. */
  upgraded: UpgradedConnection
  host: ConnectionHost
  /** Trace hook for the stream negotiations on this connection. */
  observer?: TraceObserver
}

export type ConnectionStatus = 'open' | 'closing' | 'closed'

export class PeerConnection {
  /** Unique within this switch, in order of opening. */
  readonly id: number
  readonly remotePeer: PeerId
  readonly remotePublicKey: PublicKey
  readonly remoteAddr: string
  readonly localAddr: string
  readonly direction: 'inbound' | 'outbound'
  /** The security protocol id the connection was secured with, e.g. `/noise` or `/tls/1.0.0`. */
  readonly security: string
  /** The muxer's protocol id, e.g. `/yamux/1.0.0`. */
  readonly multiplexer: string
  /**
   * 'early' when the security handshake chose the muxer (inlined muxer negotiation),
   * 'multistream' when multistream-select did, 'transport' when the transport has its own (QUIC).
   */
  readonly muxerNegotiation: 'early' | 'multistream' | 'transport'
  /** `Date.now()` when the upgrade completed. */
  readonly openedAt = Date.now()
  /**
   * `Date.now()` when a stream last opened in either direction (the connection manager trims the longest idle first).
   */
  lastActivityAt = this.openedAt
  /** Filled in once identify answered (it runs in the background; never awaited by streams). */
  identity: PeerIdentity | undefined
  /** Why the connection ended abnormally, once closed. */
  closeError: Error | undefined
  /** The trace observer of this connection, if tracing. */
  readonly observer: TraceObserver | undefined

  private readonly muxer: StreamMuxer
  private readonly host: ConnectionHost
  private statusValue: ConnectionStatus = 'open'
  private identityWaiters: Array<(id: PeerIdentity | undefined) => void> = []
  private identifyDone = false
  private closePromise: Promise<void> | undefined
  // The switch's per-connection records live here, with the connection (one owner, gone with it):
  /** The identify message the peer sent, with every push applied. */
  private identifyMessageValue: IdentifyMessage | undefined
  /** Handlers running per protocol (for `maxIncomingStreams`). */
  private readonly running = new Map<string, number>()
  private contextValue: HandlerContext | undefined
  /** The connection's resource budget (src/resources), closed with it. */
  private readonly resources: ResourceScope | undefined

  constructor (init: PeerConnectionInit) {
    const up = init.upgraded
    this.id = init.id
    this.remotePeer = up.remotePeer
    this.remotePublicKey = up.remoteKey
    this.remoteAddr = up.remoteAddr
    this.localAddr = up.localAddr
    this.direction = up.direction
    this.muxer = up.muxer
    this.resources = up.resources
    this.security = up.security
    this.multiplexer = up.muxer.protocol
    this.muxerNegotiation = up.muxerNegotiation
    this.host = init.host
    this.observer = init.observer
    up.muxer.onClose = (err) => { this.muxerClosed(err) }
    up.muxer.onStream = (stream) => {
      if (this.statusValue !== 'open') {
        // Closing: refuse what the peer opens meanwhile (without earlyGoAway it has not been told;
        // with it, only a muxer that announces nothing, like mplex, gets here).
        stream.reset(
          new SwitchError('ERR_MUXER_CLOSED', `connection ${this.id} is closing: inbound stream ${stream.id} refused`)
        )
        return
      }
      this.lastActivityAt = Date.now()
      this.host.inboundStream(this, stream)
    }
  }

  get status (): ConnectionStatus { return this.statusValue }

  /** The security protocol id (the name this field had before `security`). */
  get encryption (): string { return this.security }

  /** Streams currently open on this connection (as the muxer counts them). */
  get streamCount (): number { return this.muxer.streams.size }

  /** Open streams of one direction. */
  countStreams (direction: 'inbound' | 'outbound'): number {
    let n = 0
    for (const s of this.muxer.streams.values()) if (s.direction === direction) n++
    return n
  }

  /** A snapshot of the open streams, for introspection. */
  streams (): Array<{ id: number, direction: 'inbound' | 'outbound', protocol: string }> {
    return [...this.muxer.streams.values()].map(s => ({ id: s.id, direction: s.direction, protocol: s.protocol }))
  }

  /**
   * Open a stream and negotiate one of `protocols` (in order of preference) on it.
   * Throws SwitchError ERR_CONNECTION_CLOSED when the connection is closing or closed,
   * ERR_TOO_MANY_STREAMS from the muxer, ProtocolNotSupportedError when the peer refused every
   * protocol (at once, or on the first read when lazy), MultistreamError on timeout.
   */
  async newStream (protocols: string | readonly string[], options: NewStreamOptions = {}): Promise<SwitchStream> {
    const list = typeof protocols === 'string' ? [protocols] : protocols
    if (this.statusValue !== 'open') {
      throw new SwitchError(
        'ERR_CONNECTION_CLOSED',
        `cannot open a stream to ${this.remotePeer.toString()}: connection ${this.id} is ${this.statusValue}`
      )
    }
    const max = this.host.maxOutboundStreams
    if (this.muxer.streams.size >= max && this.countStreams('outbound') >= max) {
      throw new SwitchError(
        'ERR_TOO_MANY_STREAMS',
        `cannot open a stream to ${this.remotePeer.toString()}: "maxOutboundStreamsPerConnection" expected < ${max} open outbound streams on connection ${this.id}, got ${max}`
      )
    }
    if (list.length === 1) this.checkProtocolLimit(list[0] as string, 0)
    let inner: Stream
    this.lastActivityAt = Date.now()
    try {
      inner = this.muxer.newStream()
    } catch (err) {
      // The peer sent GoAway (or the muxer is going): no new streams here; let the switch dial anew.
      if (isMuxerGone(err) && this.statusValue === 'open') this.statusValue = 'closing'
      throw err
    }
    let negotiated: Stream
    try {
      negotiated = (await selectOnStream(inner, list, {
        lazy: options.lazy ?? false,
        timeoutMs: options.timeoutMs ?? this.host.streamNegotiationTimeoutMs,
        maxMessageBytes: this.host.maxNegotiationMessageBytes,
        signal: options.signal
        // no observer: the tracer reads the negotiation from the stream's bytes (trace/tracer.ts)
      })).stream
      // A list: only now is it known which protocol's limit applies (this stream already counts).
      if (list.length > 1) this.checkProtocolLimit(negotiated.protocol, 1)
    } catch (err) {
      inner.reset(toError(err))
      throw err
    }
    return new SwitchStream(negotiated, this)
  }

  /** Throws ERR_TOO_MANY_STREAMS when `protocol` has more than `maxOutgoingStreams` open (`self`: this one counted). */
  private checkProtocolLimit (protocol: string, self: number): void {
    const max = this.host.outboundStreamLimit(protocol)
    if (max === undefined) return
    let open = 0
    for (const s of this.muxer.streams.values()) if (s.direction === 'outbound' && s.protocol === protocol) open++
    if (open - self >= max) {
      throw new SwitchError(
        'ERR_TOO_MANY_STREAMS',
        `cannot open a stream to ${this.remotePeer.toString()}: "maxOutgoingStreams" of ${protocol} expected <= ${max} open outbound streams on connection ${this.id}, got one more`
      )
    }
  }

  /**
   * The switch's wrapper of an inbound muxer stream. Not cached: the muxer delivers each stream once,
   * and a WeakMap entry per open stream was never read again (issue #15).
   */
  wrap (inner: Stream): SwitchStream {
    return new SwitchStream(inner, this)
  }

  /** The context handed to every handler of this connection's streams. */
  get context (): HandlerContext {
    this.contextValue ??= this.host.handlerContext(this)
    return this.contextValue
  }

  /** The identify message the peer sent, with every identify-push applied (raw, for the switch). */
  get identifyMessage (): IdentifyMessage | undefined { return this.identifyMessageValue }

  /** Record an identify answer or push (its key already checked) and what it says about the peer. */
  recordIdentify (msg: IdentifyMessage, identity: PeerIdentity): void {
    this.identifyMessageValue = msg
    this.setIdentity(identity)
  }

  /**
   * Count one more running handler of `protocol`, unless `max` are running already (then false).
   * `handlerDone` undoes it.
   */
  handlerStarted (protocol: string, max: number): boolean {
    const n = this.running.get(protocol) ?? 0
    if (n >= max) return false
    this.running.set(protocol, n + 1)
    return true
  }

  handlerDone (protocol: string): void {
    const n = (this.running.get(protocol) ?? 1) - 1
    if (n <= 0) this.running.delete(protocol)
    else this.running.set(protocol, n)
  }

  /** Resolves with what identify said, or undefined if it failed or is disabled. */
  identified (): Promise<PeerIdentity | undefined> {
    if (this.identifyDone) return Promise.resolve(this.identity)
    return new Promise(resolve => { this.identityWaiters.push(resolve) })
  }

  /** Record the outcome of identify (the switch runs it). */
  setIdentity (identity: PeerIdentity | undefined): void {
    if (identity !== undefined) this.identity = identity
    this.identifyDone = true
    const waiters = this.identityWaiters
    this.identityWaiters = []
    for (const w of waiters) w(this.identity)
  }

  /**
   * Graceful close: refuse new streams (with `earlyGoAway`: the muxer's GoAway goes out now), let
   * open ones finish for at most `deadlineMs`, reset what is left, then close the muxer (yamux sends
   * GoAway unless it already did) and the connection.
   */
  close (deadlineMs = 0): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise
    if (this.statusValue === 'closed') return Promise.resolve()
    this.statusValue = 'closing'
    this.closePromise = (async () => {
      if (this.host.earlyGoAway) this.muxer.goAway()
      await this.streamsDone(deadlineMs)
      await this.muxer.close().catch(() => {})
      this.muxerClosed(undefined)
    })()
    return this.closePromise
  }

  /** Tear down at once: every stream is reset with `err`. */
  abort (err?: Error): void {
    if (this.statusValue === 'closed') return
    this.muxer.abort(err)
    this.muxerClosed(err)
  }

  toString (): string {
    return `connection ${this.id} (${this.direction}, ${this.security}, ${this.multiplexer}) with ${this.remotePeer.toString()} at ${this.remoteAddr}`
  }

  /**
   * Wait until the muxer has no open stream or `deadlineMs` passed. Polled (the muxer contract has
   * no "stream gone" event, and only closing waits here), with a backoff of 1, 2, 4 … 32 ms so
   * streams that finish within a round trip cost about that much.
   */
  private async streamsDone (deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs
    let wait = 1
    while (this.muxer.streams.size > 0 && Date.now() < until && this.statusValue === 'closing') {
      await new Promise(resolve => setTimeout(resolve, Math.min(wait, Math.max(1, until - Date.now()))))
      wait = Math.min(wait * 2, 32)
    }
  }

  private muxerClosed (err: Error | undefined): void {
    if (this.statusValue === 'closed') return
    this.statusValue = 'closed'
    this.closeError = err
    if (!this.identifyDone) this.setIdentity(undefined)
    this.resources?.close()
    this.host.connectionClosed(this, err)
  }
}

/** The muxer refuses new streams for good (peer GoAway, muxer closed): the connection is draining. */
export function isMuxerGone (err: unknown): boolean {
  return err instanceof SwitchyardError &&
    (err.code === 'ERR_YAMUX_GOAWAY' || err.code === 'ERR_MUXER_CLOSED' || err.code === 'ERR_CONNECTION_CLOSED')
}
