/**
 * The switch: identity, listeners, connections per peer, protocol handlers (nim-libp2p `Switch`).
 * It composes the layers it is given — transports, security protocols and muxers, each a list in
 * preference order behind the seams of src/connection.ts — with multistream-select, and adds what
 * none of them knows about: peers, limits, reuse and dispatch. It names no concrete transport,
 * security protocol or muxer (src/standard.ts puts TCP, Noise, yamux and mplex together).
 *
 * Dial (`dial(peerId, addrs, protocol)`):
 *   1. an open connection to the peer is reused; a dial already in flight to it is joined;
 *   2. otherwise each address is tried in order with the first transport that can dial it; a raw
 *      connection is upgraded (upgrader.ts), the peer id checked by the security protocol against
 *      the one expected (ERR_PEER_ID_MISMATCH closes the connection); an already upgraded one
 *      (QUIC) is registered as it is;
 *   3. with a protocol, a stream is opened and negotiated on the connection (`{ lazy: true }`
 *      sends the proposal with the first bytes instead of waiting for the answer).
 *
 * Inbound: a connection is upgraded under `handshakeTimeoutMs` and counted as pending until then
 * (`maxPendingConnections`, oldest evicted first); each inbound stream is negotiated under
 * `streamNegotiationTimeoutMs` against the mounted protocols and handed to the handler. A handler
 * that throws gets its stream reset and the error reported (`protocol:error`); nothing else is
 * affected.
 *
 * Identify runs in the background toward every new connection (when configured); its result lands
 * on `connection.identity` and in an `identify` event. Nothing waits for it.
 *
 * stop(): close the listeners, abort upgrades and dials in flight, then for each connection refuse
 * new streams, wait for open streams up to `stopTimeoutMs`, reset the rest and close (GoAway; sent
 * first instead with `earlyGoAway`).
 */
import { ResourceManager } from '../resources/manager.js'
import type { PartialResourceConfig, ResourcesView } from '../resources/manager.js'
import type { ResourceScope } from '../resources/scope.js'
import type {
  ConnectionEndpoints,
  SecurityProtocol,
  Stream,
  StreamLimits,
  StreamMuxerFactory,
  Transport,
  TransportConnection,
  TransportListener,
  UpgradedConnection
} from '../connection.js'
import { SwitchError, SwitchyardError, toError } from '../errors.js'
import { applyIdentifyUpdate } from '../proto/identify.js'
import { signPeerRecord, verifyPeerRecord } from '../security/peer-record.js'
import type { IdentifyMessage } from '../proto/identify.js'
import type { PrivateKey } from '../security/keys.js'
import { generateEd25519 } from '../security/keys.js'
import { PeerId } from '../security/peer-id.js'
import type { TraceObserver } from '../trace/observer.js'
import { Multiaddr } from '../transport/multiaddr.js'
import { resolveConfig, validateLayers } from './config.js'
import type { SwitchConfig } from './config.js'
import { ConnectionManager } from './connection-manager.js'
import type { ConnectionView, PendingUpgrade, PendingUpgradeView } from './connection-manager.js'
import { Dispatcher, ProtocolRegistry } from './dispatcher.js'
import { TypedEmitter } from './events.js'
import type { SwitchEvents } from './events.js'
import { isMuxerGone, PeerConnection } from './peer-connection.js'
import type { ConnectionHost, NewStreamOptions, PeerIdentity } from './peer-connection.js'
import type { HandlerContext, LocalPeerInfo, ProtocolDefinition } from './protocol.js'
import type { SwitchStream } from './stream.js'
import { upgradeInbound, upgradeOutbound } from './upgrader.js'
import type { UpgradeOptions } from './upgrader.js'

/** The default listen address (nim `newStandardSwitch`): loopback, any free port (for the TCP transport). */
export const DEFAULT_LISTEN_ADDR = '/ip4/127.0.0.1/tcp/0'
/** Default identify `agentVersion` of a bare switch (newStandardSwitch passes the package's). */
export const DEFAULT_AGENT_VERSION = 'switchyard'
/** identify `protocolVersion` libp2p peers send (identify README). */
export const DEFAULT_PROTOCOL_VERSION = 'ipfs/0.1.0'

/**
 * Identify as the switch uses it: the responder to mount, and the query it runs toward every new
 * connection. `newStandardSwitch` (standard.ts) plugs in src/protocols/identify.ts; a bare switch
 * has none.
 */
export interface IdentifyService {
  /** The responder, mounted on the switch (`/ipfs/id/1.0.0`). */
  readonly protocol: ProtocolDefinition
  /** Optional identify-push receiver (`/ipfs/id/push/1.0.0`). */
  readonly push?: ProtocolDefinition
  /** Ask the peer over an already negotiated stream of `protocol.codecs[0]`. */
  readonly query: (stream: Stream, options: { timeoutMs: number }) => Promise<IdentifyMessage>
}

/** Per-connection trace observer, or one for every connection (src/trace/observer.ts). */
export type SwitchObserver = TraceObserver | ((conn: ConnectionEndpoints) => TraceObserver | undefined)

/** The time and the one periodic timer the switch uses for trimming (SwitchOptions.clock). */
export interface SwitchClock {
  now: () => number
  setInterval: (fn: () => void, ms: number) => unknown
  clearInterval: (handle: unknown) => void
}

const SYSTEM_CLOCK: SwitchClock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms)
    t.unref()
    return t
  },
  clearInterval: (h) => { clearInterval(h as ReturnType<typeof setInterval>) }
}

export interface SwitchOptions {
  /** Our identity: a private key, or (default) a fresh Ed25519 key. */
  identity?: PrivateKey
  /**
   * Transports (`tcp()`, …). An address is dialed or listened on with the first one whose
   * `canDial`/`canListen` accepts it; a switch listens on several transports at once when its
   * `listenAddrs` ask for them.
   */
  transports: readonly Transport[]
  /**
   * Security protocols in order of preference (`noise()`, …): the dialer proposes them in this
   * order; the listener accepts any of them.
   */
  security: readonly SecurityProtocol[]
  /** Muxers in order of preference (`yamux()`, `mplex()`); the switch's stream limits fill in theirs. */
  muxers: readonly StreamMuxerFactory[]
  /** Where to listen once started. Default `/ip4/127.0.0.1/tcp/0`. `[]` = dial only. */
  listenAddrs?: ReadonlyArray<string | Multiaddr>
  /**
   * Offer our muxers inside the security handshake (Noise extensions, TLS ALPN; libp2p specs
   * connections/inlined-muxer-negotiation.md), saving the multistream round for the muxer with
   * peers that support it. Default true.
   */
  earlyMuxerNegotiation?: boolean
  /**
   * Graceful close (`stop()`, `hangUp()`): announce it with the muxer's `goAway()` BEFORE waiting for
   * open streams, as go-yamux's `GoAway()` does: the peer stops opening streams at once, and ones
   * already in flight are refused with RST by yamux itself. Default false: the GoAway then goes out
   * once the streams are done (as js-libp2p does), since js-libp2p-yamux 8, rust-yamux and
   * nim-libp2p take any GoAway as the end of the session and would cut their open streams short.
   * Turn it on when every peer is go-libp2p or switchyard.
   */
  earlyGoAway?: boolean
  /** Switch limits and timeouts (config.ts). */
  config?: Partial<SwitchConfig>
  /**
   * Where the connection manager's ticker gets its time and its timer (default: `Date.now` and an
   * unref'd `setInterval`). Tests pass a fake one. Connections stamp their opening with
   * `Date.now()`, so `now()` must not run behind it.
   */
  clock?: SwitchClock
  /**
   * Resource budgets (src/resources; docs/limits.md): memory, streams and connections per process,
   * per peer and per connection. Defaults: 256 MiB / 16384 streams / 1024 connections for the
   * process, 32 MiB / 1000 streams / 16 connections per peer, 32 MiB / 1024 streams per connection.
   */
  resources?: PartialResourceConfig
  /** Protocols mounted at construction. */
  protocols?: readonly ProtocolDefinition[]
  /** Identify in the background on every connection, and its responder. Default: none. */
  identify?: IdentifyService
  /** identify `agentVersion`. Default `switchyard`. */
  agentVersion?: string
  /** identify `protocolVersion`. Default `ipfs/0.1.0`. */
  protocolVersion?: string
  /** Where handlers' `ctx.log` lines go (the tutorial's `echo`). Default `console.log`. */
  log?: (line: string) => void
  /**
   * Trace hook (src/trace/observer.ts), handed to every layer of a connection: transport,
   * multistream (connection and streams, the latter scoped with the stream id), security, muxer.
   * A function is asked once per connection (a tracer numbers connections that way).
   */
  observer?: SwitchObserver
  /**
   * Key log (`--keylog`, src/trace/keylog.ts): receives the key log lines of each connection's
   * security protocol after its handshake (Noise: `SWITCHYARD_NOISE …`), one line per call without
   * its newline, so `switchyard decode` can decrypt a capture. Absent by default: the keys then
   * never leave the security layer.
   */
  keyLog?: (line: string) => void
}

/** What we are: `peerInfo` of nim's switch. `addrs` carry the real ports once started. */
export interface PeerInfo {
  readonly peerId: PeerId
  readonly addrs: readonly Multiaddr[]
}

export type SwitchState = 'idle' | 'starting' | 'started' | 'stopping' | 'stopped'

/** A point-in-time view of the switch, for debugging, tests and the CLI. */
export interface SwitchInspection {
  state: SwitchState
  peerId: string
  listenAddrs: string[]
  connections: ConnectionView[]
  pendingUpgrades: PendingUpgradeView[]
  /** Peers with a dial in flight. */
  pendingDials: string[]
  totals: {
    connections: number
    streams: number
    pendingInbound: number
    pendingOutbound: number
    /**
     * Bytes received from peers whose upgrade has not authenticated them yet: an upper bound on
     * what pending upgrades hold buffered (each capped by its security protocol's
     * `maxPreAuthBytes`, upgrade-guard.ts).
     */
    pendingBytesIn: number
  }
  /** Resource usage and limits per scope: the process, each peer, each connection. */
  resources: ResourcesView
}

/**
 * The libp2p switch. `new Switch(opts)` is the bare switch: the transports, security protocols and
 * muxers given, and only the protocols you mount; `newStandardSwitch` (src/standard.ts) builds one
 * with TCP, Noise, yamux and mplex, identify and ping, as nim's builder does.
 */
export class Switch extends TypedEmitter<SwitchEvents> {
  readonly config: Readonly<SwitchConfig>
  readonly identity: PrivateKey
  readonly peerId: PeerId

  private stateValue: SwitchState = 'idle'
  private readonly clock: SwitchClock
  /** The connection manager's ticker (`connectionTrimIntervalMs`), while started. */
  private trimTimer: unknown
  private readonly listenAddrsWanted: Multiaddr[]
  private listeners: TransportListener[] = []
  private boundAddrs: Multiaddr[] = []
  /** Our signed peer record, for the `boundAddrs` it was signed over (re-signed when they change). */
  private ownRecord: { addrs: Multiaddr[], envelope: Uint8Array } | undefined
  private readonly transports: readonly Transport[]
  private readonly security: readonly SecurityProtocol[]
  private readonly muxers: readonly StreamMuxerFactory[]
  private readonly streamLimits: StreamLimits
  private readonly registry: ProtocolRegistry
  private readonly dispatcher: Dispatcher
  private readonly identifyService: IdentifyService | undefined
  private readonly agentVersion: string
  private readonly protocolVersion: string
  private readonly logLine: (line: string) => void
  private readonly observer: SwitchObserver | undefined
  private readonly keyLog: ((line: string) => void) | undefined
  private readonly earlyMuxerNegotiation: boolean
  private readonly earlyGoAway: boolean

  private readonly manager: ConnectionManager
  /** Budgets of memory, streams and connections (src/resources). */
  readonly resources: ResourceManager
  private readonly localPeer: LocalPeerInfo
  private startPromise: Promise<void> | undefined
  private stopPromise: Promise<void> | undefined
  private readonly dialAbort = new Set<AbortController>()
  private readonly connectionHost: ConnectionHost

  /** Throws SwitchError ERR_INVALID_CONFIG for a bad limit, layer list or listen address. */
  constructor (options: SwitchOptions) {
    super()
    if (typeof options !== 'object' || options === null) {
      throw new SwitchError(
        'ERR_INVALID_CONFIG',
        `"options" expected { transports, security, muxers, … }, got ${String(options)}`
      )
    }
    this.config = Object.freeze(resolveConfig(options.config))
    this.clock = options.clock ?? SYSTEM_CLOCK
    const layers = validateLayers(options)
    this.transports = layers.transports
    this.security = layers.security
    this.muxers = layers.muxers
    // The muxers' own inbound limit sits one above the switch's, so the switch sees — and reports —
    // the stream it refuses; the muxer's limit stays a backstop.
    this.streamLimits = Object.freeze({
      maxInboundStreams: this.config.maxInboundStreamsPerConnection + 1,
      maxOutboundStreams: this.config.maxOutboundStreamsPerConnection
    })
    this.registry = new ProtocolRegistry(this.config.maxNegotiationMessageBytes)
    this.resources = new ResourceManager(options.resources)
    this.manager = new ConnectionManager(this.config, this.resources.transient)
    this.dispatcher = new Dispatcher({
      config: this.config,
      registry: this.registry,
      report: (ev) => { this.emit('protocol:error', ev) }
    })
    this.identity = options.identity ?? generateEd25519()
    this.peerId = PeerId.fromPublicKey(this.identity.publicKey)
    this.listenAddrsWanted = (options.listenAddrs ?? [DEFAULT_LISTEN_ADDR]).map(a => Multiaddr.from(a))
    for (const addr of this.listenAddrsWanted) {
      if (!this.transports.some(t => t.canListen(addr))) {
        throw new SwitchError(
          'ERR_INVALID_CONFIG',
          `"listenAddrs" expected addresses a transport can listen on (${
            this.transports.map(t => t.name).join(', ')
          }), got ${addr.toString()}`
        )
      }
    }
    this.identifyService = options.identify
    this.agentVersion = options.agentVersion ?? DEFAULT_AGENT_VERSION
    this.protocolVersion = options.protocolVersion ?? DEFAULT_PROTOCOL_VERSION
    this.logLine = options.log ?? ((line: string) => { console.log(line) })
    this.observer = options.observer
    this.keyLog = options.keyLog
    this.earlyMuxerNegotiation = options.earlyMuxerNegotiation ?? true
    this.earlyGoAway = options.earlyGoAway ?? false
    this.connectionHost = {
      handlerContext: (conn) => this.handlerContext(conn),
      inboundStream: (conn, stream) => { this.dispatcher.inbound(conn, stream) },
      connectionClosed: (conn, err) => { this.connectionClosed(conn, err) },
      streamNegotiationTimeoutMs: this.config.streamNegotiationTimeoutMs,
      earlyGoAway: this.earlyGoAway,
      maxNegotiationMessageBytes: this.config.maxNegotiationMessageBytes,
      maxOutboundStreams: this.config.maxOutboundStreamsPerConnection,
      outboundStreamLimit: (protocol) => this.registry.get(protocol)?.maxOutgoingStreams
    }
    const self = this
    this.localPeer = {
      publicKey: this.identity.publicKey.bytes(),
      get listenAddrs () { return self.boundAddrs.map(a => a.bytes) },
      protocols: () => [...this.codecs()],
      agentVersion: this.agentVersion,
      protocolVersion: this.protocolVersion,
      signedPeerRecord: () => this.signedPeerRecord()
    }
    if (this.identifyService !== undefined) {
      this.mount(this.identifyService.protocol)
      if (this.identifyService.push !== undefined) this.mount(this.identifyService.push)
    }
    for (const p of options.protocols ?? []) this.mount(p)
  }

  get state (): SwitchState { return this.stateValue }

  /** Our peer id and the addresses we listen on (real ports after `start()`). */
  get peerInfo (): PeerInfo {
    return { peerId: this.peerId, addrs: this.boundAddrs }
  }

  // ───────────────────────────── protocols ─────────────────────────────

  /** Serve inbound streams for `protocol.codecs` with `protocol.handler` (nim `switch.mount`). */
  mount (protocol: ProtocolDefinition): void {
    this.registry.mount(protocol)
  }

  /** Stop serving `codec` (streams already running go on). */
  unmount (codec: string): boolean {
    return this.registry.unmount(codec)
  }

  /** The protocol ids we serve, in mount order. */
  codecs (): readonly string[] {
    return this.registry.codecs()
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Listen on the configured addresses. `peerInfo.addrs` then carries the real ports. */
  start (): Promise<void> {
    if (this.stateValue === 'started') return Promise.resolve()
    this.startPromise ??= this.doStart().finally(() => { this.startPromise = undefined })
    return this.startPromise
  }

  private async doStart (): Promise<void> {
    if (this.stateValue === 'stopping') await this.stopPromise
    this.stateValue = 'starting'
    this.stopPromise = undefined
    try {
      for (const addr of this.listenAddrsWanted) {
        const transport = this.transports.find(t => t.canListen(addr)) as Transport
        const listener = await transport.listen(addr, {
          identity: this.identity,
          onConnection: (conn) => { this.inboundConnection(conn) },
          onError: () => {},
          observerFor: this.observerFor,
          openResources: this.openResources,
          ...(this.keyLog === undefined ? {} : { keyLog: this.keyLog })
        })
        this.listeners.push(listener)
      }
    } catch (err) {
      await Promise.all(this.listeners.map(l => l.close()))
      this.listeners = []
      this.stateValue = 'stopped'
      throw err
    }
    this.boundAddrs = this.listeners.flatMap(l => [...l.multiaddrs])
    this.stateValue = 'started'
    // go connmgr trims on a ticker too, not only when a connection opens: connections that went
    // idle since, or whose grace period ended, above the high water are closed at the next tick.
    const every = this.config.connectionTrimIntervalMs
    if (every !== Infinity) this.trimTimer ??= this.clock.setInterval(() => { this.trimTick() }, every)
    this.emit('listening', { addrs: this.boundAddrs })
  }

  /**
   * Graceful stop: close the listeners, abort upgrades and dials in flight, then on every
   * connection refuse new streams, give open ones `stopTimeoutMs` to finish, reset the rest and
   * close the connection (yamux GoAway, first with `earlyGoAway`). Resolves when everything is closed.
   */
  stop (): Promise<void> {
    if (this.stateValue === 'idle' || this.stateValue === 'stopped') {
      // Dials made without start() may still have left connections.
      if (this.manager.size === 0 && !this.manager.hasPending) return Promise.resolve()
    }
    this.stopPromise ??= this.doStop()
    return this.stopPromise
  }

  private async doStop (): Promise<void> {
    // A start in progress finishes first, so no listener it opens outlives the stop.
    if (this.startPromise !== undefined) await this.startPromise.catch(() => {})
    this.stateValue = 'stopping'
    if (this.trimTimer !== undefined) {
      this.clock.clearInterval(this.trimTimer)
      this.trimTimer = undefined
    }
    const stopped = new SwitchError('ERR_SWITCH_STOPPED', `switch ${this.peerId.toString()} is stopping`)
    await Promise.all(this.listeners.map(l => l.close()))
    this.listeners = []
    this.boundAddrs = []
    for (const ac of this.dialAbort) ac.abort(stopped)
    this.manager.cancelAll(stopped)
    await Promise.all(this.manager.list().map(c => c.close(this.config.stopTimeoutMs)))
    this.stateValue = 'stopped'
  }

  // ───────────────────────────── dialing ─────────────────────────────

  /**
   * The one way to reach a peer. Connects to it — reusing an open connection, joining a dial in
   * flight, or dialing its addresses in order with the first transport that can — and, given
   * protocols, opens a stream negotiated for the first one the peer accepts. The forms:
   *
   *   dial(peerId, addrs)                         → PeerConnection
   *   dial(peerId, addrs, protocol[s], options?)  → SwitchStream
   *   dial('/ip4/…/tcp/…/p2p/<id>')               → PeerConnection   (one address naming the peer)
   *   dial('/ip4/…/tcp/…/p2p/<id>', protocol[s], options?) → SwitchStream
   *
   * `peerId` is a PeerId or its base58 text; an address in `addrs` may carry `/p2p/<id>` only for
   * that same peer. Text starting with `/` is an address, anything else a peer id (at run time);
   * for `dial(text, [protocols])` TypeScript cannot tell the two apart and picks the peer-id form,
   * so pass the address as a Multiaddr there. `options.lazy` sends the stream's proposal with its first bytes (one
   * round
   * trip saved; a refusal then surfaces on the first read). If the connection stops taking streams
   * under us (peer GoAway), the stream is opened once more on a fresh connection.
   *
   * Errors: SwitchError ERR_DIAL_SELF / ERR_NO_ADDRESSES / ERR_NO_TRANSPORT /
   * ERR_TOO_MANY_CONNECTIONS / ERR_SWITCH_STOPPED; the security protocol's ERR_PEER_ID_MISMATCH when
   * someone else answers; TransportError for the socket; ProtocolNotSupportedError when the peer
   * refuses every protocol (with `{ lazy: true }`, on the stream's first read instead).
   */
  dial (peerId: PeerId | string, addrs: ReadonlyArray<Multiaddr | string>): Promise<PeerConnection>
  dial (
    peerId: PeerId | string,
    addrs: ReadonlyArray<Multiaddr | string>,
    protocol: string | readonly string[],
    options?: NewStreamOptions
  ): Promise<SwitchStream>
  dial (addr: Multiaddr | string): Promise<PeerConnection>
  dial (
    addr: Multiaddr | string,
    protocol: string | readonly string[],
    options?: NewStreamOptions
  ): Promise<SwitchStream>
  async dial (
    a: PeerId | Multiaddr | string,
    b?: ReadonlyArray<Multiaddr | string> | string | readonly string[],
    c?: string | readonly string[] | NewStreamOptions,
    d?: NewStreamOptions
  ): Promise<PeerConnection | SwitchStream> {
    let peer: PeerId
    let addrs: ReadonlyArray<Multiaddr | string>
    let protocol: string | readonly string[] | undefined
    let options: NewStreamOptions | undefined
    if (isAddressForm(a)) {
      const ma = Multiaddr.from(a as Multiaddr | string)
      const id = ma.peerId()
      if (id === undefined) {
        throw new SwitchError(
          'ERR_NO_ADDRESSES',
          `dial(${ma.toString()}): expected a multiaddr ending in /p2p/<peer id>, got none`
        )
      }
      peer = PeerId.parse(id)
      addrs = [ma]
      protocol = b as string | readonly string[] | undefined
      options = c as NewStreamOptions | undefined
    } else {
      peer = typeof a === 'string' ? PeerId.parse(a) : a as PeerId
      addrs = b as ReadonlyArray<Multiaddr | string>
      protocol = c as string | readonly string[] | undefined
      options = d
    }
    const conn = await this.connection(peer, addrs)
    if (protocol === undefined) return conn
    try {
      return await conn.newStream(protocol, options)
    } catch (err) {
      // The connection stopped taking streams (peer GoAway, or it just closed): once, on a new one.
      if (!isMuxerGone(err) || conn.status === 'open') throw err
      const fresh = await this.connection(peer, addrs)
      if (fresh === conn) throw err
      return await fresh.newStream(protocol, options)
    }
  }

  /** @deprecated `dial(peerId, addrs, protocol, options)`, which it calls. */
  async newStream (
    peerId: PeerId | string,
    addrs: ReadonlyArray<Multiaddr | string>,
    protocol: string | readonly string[],
    options?: NewStreamOptions
  ): Promise<SwitchStream> {
    return await this.dial(peerId, addrs, protocol, options)
  }

  /** @deprecated `dial(peerId, addrs)`, which it calls. */
  async connect (peerId: PeerId | string, addrs: ReadonlyArray<Multiaddr | string>): Promise<PeerConnection> {
    return await this.dial(peerId, addrs)
  }

  /** The connection to use for `peer`: an open one, a dial in flight, or a new dial. */
  private async connection (peer: PeerId, addrs: ReadonlyArray<Multiaddr | string>): Promise<PeerConnection> {
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') {
      throw new SwitchError('ERR_SWITCH_STOPPED', `cannot dial ${peer.toString()}: the switch is ${this.stateValue}`)
    }
    if (peer.equals(this.peerId)) {
      throw new SwitchError('ERR_DIAL_SELF', `cannot dial ${peer.toString()}: it is our own peer id`)
    }
    const key = peer.toString()
    const existing = this.manager.open(key)
    if (existing !== undefined) return existing
    const inFlight = this.manager.joinDial(key)
    if (inFlight !== undefined) return await inFlight
    const targets = dialTargets(peer, addrs)
    this.manager.checkDial(key)
    return await this.manager.runDial(key, this.dialTargets(peer, targets))
  }

  /** Open connections, all or to one peer. */
  connections (peerId?: PeerId | string): PeerConnection[] {
    return this.manager.list(peerId === undefined ? undefined : peerId.toString())
  }

  /**
   * Spare `peerId`'s connections from trimming while it carries at least one tag (go-libp2p
   * connmgr `Protect`): the connection manager never closes them to get below its watermarks.
   */
  protect (peerId: PeerId | string, tag: string): void {
    this.manager.protect(peerId.toString(), tag)
  }

  /** Remove one protection tag; returns whether the peer is still protected (by another tag). */
  unprotect (peerId: PeerId | string, tag: string): boolean {
    return this.manager.unprotect(peerId.toString(), tag)
  }

  /** Close every connection to `peerId` gracefully. */
  async hangUp (peerId: PeerId | string): Promise<void> {
    await Promise.all(this.connections(peerId).map(c => c.close(this.config.stopTimeoutMs)))
  }

  /** A snapshot of connections, streams and pending upgrades. */
  inspect (): SwitchInspection {
    const now = Date.now()
    const connections = this.manager.connectionsView(now)
    const pendingUpgrades = this.manager.pendingView(now)
    let streams = 0
    for (const c of connections) streams += c.streams.length
    let pendingInbound = 0
    let pendingBytesIn = 0
    for (const p of pendingUpgrades) {
      if (p.direction === 'inbound') pendingInbound++
      if (p.stage === 'multistream' || p.stage === 'security') pendingBytesIn += p.bytesIn
    }
    return {
      state: this.stateValue,
      peerId: this.peerId.toString(),
      listenAddrs: this.boundAddrs.map(a => a.toString()),
      connections,
      pendingUpgrades,
      pendingDials: this.manager.dialsInFlight(),
      totals: {
        connections: connections.length,
        streams,
        pendingInbound,
        pendingOutbound: pendingUpgrades.length - pendingInbound,
        pendingBytesIn
      },
      resources: this.resources.inspect()
    }
  }

  // ───────────────────────────── internals: connections ─────────────────────────────

  private async dialTargets (peer: PeerId, targets: Multiaddr[]): Promise<PeerConnection> {
    const failures: Array<[Multiaddr, Error]> = []
    for (const addr of targets) {
      try {
        return await this.dialOne(peer, addr)
      } catch (err) {
        failures.push([addr, toError(err)])
        if (this.stateValue === 'stopping' || this.stateValue === 'stopped') break
      }
    }
    if (failures.length === 1) throw (failures[0] as [Multiaddr, Error])[1]
    const last = (failures[failures.length - 1] as [Multiaddr, Error])[1]
    const code = last instanceof SwitchyardError ? last.code : 'ERR_CONNECTION_REFUSED'
    throw new SwitchError(
      code,
      `dial ${peer.toString()}: every address failed: ${
        failures.map(([a, e]) => `${a.toString()}: ${e.message}`).join('; ')
      }`,
      { cause: last }
    )
  }

  private async dialOne (peer: PeerId, addr: Multiaddr): Promise<PeerConnection> {
    const transport = this.transports.find(t => t.canDial(addr))
    if (transport === undefined) {
      const err = new SwitchError(
        'ERR_NO_TRANSPORT',
        `dial ${peer.toString()} at ${addr.toString()}: no transport can dial it (${
          this.transports.map(t => t.name).join(', ')
        })`
      )
      this.emit('connection:error', { direction: 'outbound', remoteAddr: addr.toString(), stage: 'dial', error: err })
      throw err
    }
    const ac = new AbortController()
    this.dialAbort.add(ac)
    let tc: TransportConnection
    try {
      tc = await transport.dial(addr, {
        timeoutMs: this.config.dialTimeoutMs,
        signal: ac.signal,
        identity: this.identity,
        expectedPeer: peer,
        observerFor: this.observerFor,
        openResources: this.openResources,
        ...(this.keyLog === undefined ? {} : { keyLog: this.keyLog })
      })
    } catch (err) {
      this.emit('connection:error', {
        direction: 'outbound',
        remoteAddr: addr.toString(),
        stage: 'dial',
        error: toError(err)
      })
      throw err
    } finally {
      this.dialAbort.delete(ac)
    }
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') {
      const err = new SwitchError(
        'ERR_SWITCH_STOPPED',
        `dial ${peer.toString()} at ${addr.toString()}: the switch stopped`
      )
      abortConnection(tc, err)
      throw err
    }
    if (tc.kind === 'upgraded') {
      try {
        if (!tc.connection.remotePeer.equals(peer)) {
          throw new SwitchError(
            'ERR_PEER_ID_MISMATCH',
            `dial ${addr.toString()}: expected peer ${peer.toString()}, the transport authenticated ${tc.connection.remotePeer.toString()}`
          )
        }
        return this.register(tc.connection, tc.observer)
      } catch (err) {
        abortConnection(tc, toError(err))
        this.emit('connection:error', {
          direction: 'outbound',
          remoteAddr: tc.connection.remoteAddr,
          stage: 'limit',
          error: toError(err)
        })
        throw err
      }
    }
    const raw = tc.connection
    const p = this.manager.track(raw, 'outbound')
    try {
      const up = await upgradeOutbound(raw, { ...this.upgradeOptions(tc.observer, p), expectedPeer: peer })
      return this.register(up, tc.observer)
    } catch (err) {
      const error = p.cancelled ?? p.guard.failure ?? toError(err)
      this.emit('connection:error', { direction: 'outbound', remoteAddr: raw.remoteAddr, stage: p.stage, error })
      throw error
    } finally {
      this.manager.untrack(p)
    }
  }

  private inboundConnection (tc: TransportConnection): void {
    const remoteAddr = tc.connection.remoteAddr
    if (this.stateValue !== 'started' && this.stateValue !== 'starting') {
      abortConnection(
        tc,
        new SwitchError('ERR_SWITCH_STOPPED', `inbound connection from ${remoteAddr}: the switch is ${this.stateValue}`)
      )
      return
    }
    const refused = this.manager.admitInbound(remoteAddr)
    if (refused !== undefined) {
      // Full: no handshake is spent on it (the peer sees the connection close).
      abortConnection(tc, refused)
      this.emit('connection:error', { direction: 'inbound', remoteAddr, stage: 'limit', error: refused })
      return
    }
    if (tc.kind === 'upgraded') {
      // The transport authenticated and multiplexed it itself (QUIC): nothing left to upgrade.
      try {
        this.register(tc.connection, tc.observer)
      } catch (err) {
        abortConnection(tc, toError(err))
        this.emit('connection:error', { direction: 'inbound', remoteAddr, stage: 'limit', error: toError(err) })
      }
      return
    }
    const raw = tc.connection
    const p = this.manager.track(raw, 'inbound')
    upgradeInbound(raw, this.upgradeOptions(tc.observer, p)).then(up => {
      this.manager.untrack(p)
      try {
        this.register(up, tc.observer)
      } catch (err) {
        this.emit('connection:error', { direction: 'inbound', remoteAddr, stage: 'limit', error: toError(err) })
      }
    }, err => {
      this.manager.untrack(p)
      this.emit('connection:error', {
        direction: 'inbound',
        remoteAddr,
        stage: p.stage,
        error: p.cancelled ?? p.guard.failure ?? toError(err)
      })
    })
  }

  /** An upgraded connection becomes one of ours (or is aborted when the switch cannot take it). */
  private register (up: UpgradedConnection, observer: TraceObserver | undefined): PeerConnection {
    try {
      // From here the connection owns its scope and closes it when it ends.
      return this.registerIn(up, observer)
    } catch (err) {
      up.resources?.close()
      throw err
    }
  }

  private registerIn (up: UpgradedConnection, observer: TraceObserver | undefined): PeerConnection {
    const remotePeer = up.remotePeer
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') {
      const err = new SwitchError(
        'ERR_SWITCH_STOPPED',
        `connection with ${remotePeer.toString()}: the switch stopped during the upgrade`
      )
      up.muxer.abort(err)
      throw err
    }
    let victim: PeerConnection | undefined
    try {
      victim = this.manager.checkRegister(remotePeer, up.direction)
    } catch (err) {
      up.muxer.abort(toError(err))
      throw err
    }
    if (victim !== undefined) {
      this.trim(
        [victim],
        `"maxConnections" (${this.config.maxConnections}) reached: made room for the ${up.direction} connection with ${remotePeer.toString()}`
      )
    }
    const conn = new PeerConnection({
      id: this.manager.allocateId(),
      upgraded: up,
      host: this.connectionHost,
      observer
    })
    if (conn.status !== 'open') {
      throw conn.closeError ?? new SwitchError('ERR_CONNECTION_CLOSED', `${conn.toString()} closed during its upgrade`)
    }
    this.manager.add(conn)
    this.emit('connection:open', { connection: conn })
    const excess = this.manager.overHighWater()
    if (excess.length > 0) {
      this.trim(
        excess,
        `above "connectionsHighWater" (${this.config.connectionsHighWater}): trimmed to "connectionsLowWater" (${this.config.connectionsLowWater})`
      )
    }
    if (this.identifyService !== undefined) void this.identify(conn, this.identifyService)
    return conn
  }

  /** The periodic trim: above `connectionsHighWater`, candidates are closed down to `connectionsLowWater`. */
  private trimTick (): void {
    if (this.stateValue !== 'started') return
    const excess = this.manager.overHighWater(this.clock.now())
    if (excess.length > 0) {
      this.trim(
        excess,
        `above "connectionsHighWater" (${this.config.connectionsHighWater}) at the periodic check: trimmed to "connectionsLowWater" (${this.config.connectionsLowWater})`
      )
    }
  }

  /** Close connections the connection manager chose (gracefully: their muxer says GoAway). */
  private trim (conns: readonly PeerConnection[], reason: string): void {
    for (const c of conns) {
      this.emit('connection:trim', { connection: c, reason })
      void c.close(0)
    }
  }

  private connectionClosed (conn: PeerConnection, err: Error | undefined): void {
    if (!this.manager.remove(conn)) return
    this.emit('connection:close', { connection: conn, error: err })
  }

  /** What both directions of the upgrade share (the dialer adds the peer it expects). */
  private upgradeOptions (observer: TraceObserver | undefined, progress: PendingUpgrade): UpgradeOptions {
    const o: UpgradeOptions = {
      identity: this.identity,
      security: this.security,
      muxers: this.muxers,
      limits: this.streamLimits,
      resources: this.resources,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      maxNegotiationMessageBytes: this.config.maxNegotiationMessageBytes,
      earlyMuxerNegotiation: this.earlyMuxerNegotiation,
      progress
    }
    if (observer !== undefined) o.observer = observer
    if (this.keyLog !== undefined) o.keyLog = this.keyLog
    return o
  }

  /** The connection's observer, asked by the transport as soon as the connection exists. */
  /** The scope of a connection its transport upgraded (QUIC), as the upgrader opens it for the others. */
  private readonly openResources = (peer: PeerId, name: string): ResourceScope | Error =>
    this.resources.openConnection(peer.toString(), name)

  private readonly observerFor = (info: ConnectionEndpoints): TraceObserver | undefined => {
    const o = this.observer
    if (o === undefined) return undefined
    return typeof o === 'function'
      ? o({ direction: info.direction, remoteAddr: info.remoteAddr, localAddr: info.localAddr })
      : o
  }

  // ───────────────────────────── internals: streams ─────────────────────────────

  /** What the handlers of `conn`'s streams receive (the connection keeps it: PeerConnection.context). */
  private handlerContext (conn: PeerConnection): HandlerContext {
    let remoteAddr: Uint8Array | undefined
    try { remoteAddr = Multiaddr.parse(conn.remoteAddr).bytes } catch { remoteAddr = undefined }
    return {
      localPeer: this.localPeer,
      remoteAddr,
      log: this.logLine,
      onIdentifyPush: (update) => { this.applyIdentify(conn, update, true) }
    }
  }

  // ───────────────────────────── internals: identify ─────────────────────────────

  private async identify (conn: PeerConnection, service: IdentifyService): Promise<void> {
    const codec = service.protocol.codecs[0] as string
    try {
      // Full negotiation: a peer without identify answers `na` and we learn it at once.
      const stream = await conn.newStream(codec)
      const msg = await service.query(stream, { timeoutMs: this.config.identifyTimeoutMs })
      this.applyIdentify(conn, msg, false)
    } catch {
      // Identify is best effort: a peer without it, or a connection that closed, is not an error.
      conn.setIdentity(undefined)
    }
  }

  /** Our RFC 0003 signed peer record over the addresses we listen on (identify field 8), none before start. */
  private signedPeerRecord (): Uint8Array | undefined {
    if (this.boundAddrs.length === 0) return undefined
    if (this.ownRecord?.addrs !== this.boundAddrs) {
      this.ownRecord = {
        addrs: this.boundAddrs,
        envelope: signPeerRecord(this.identity, this.boundAddrs.map(a => a.bytes))
      }
    }
    return this.ownRecord.envelope
  }

  /** Record what identify (or an identify-push) said, once its key is checked against the connection's. */
  private applyIdentify (conn: PeerConnection, msg: IdentifyMessage, push: boolean): void {
    if (msg.publicKey !== undefined) {
      // identify README: the key must be the one the connection authenticated (its security handshake).
      const given = msg.publicKey
      const own = conn.remotePublicKey.bytes()
      if (given.length !== own.length || given.some((b, i) => b !== own[i])) {
        if (!push) conn.setIdentity(undefined)
        return
      }
    }
    const prev = conn.identifyMessage
    // A push may be partial: what it leaves out stays as it was (identify README §identify/push).
    const merged = push && prev !== undefined ? applyIdentifyUpdate(prev, msg) : msg
    const identity: { -readonly [K in keyof PeerIdentity]: PeerIdentity[K] } = {
      protocols: [...merged.protocols],
      agentVersion: merged.agentVersion,
      protocolVersion: merged.protocolVersion,
      listenAddrs: parseAddrs(merged.listenAddrs),
      observedAddr: merged.observedAddr === undefined ? undefined : parseAddrs([merged.observedAddr])[0]
    }
    if (merged.signedPeerRecord !== undefined) {
      // RFC 0003: signed by the peer's key, over a record naming the peer (go consumeSignedPeerRecord).
      try {
        const record = verifyPeerRecord(merged.signedPeerRecord, conn.remotePeer)
        identity.signedPeerRecord = { seq: record.seq, addresses: parseAddrs(record.addresses) }
      } catch (err) {
        identity.signedPeerRecordError = toError(err)
      }
    }
    conn.recordIdentify(merged, identity)
    this.emit('identify', { connection: conn, identity })
  }
}

/** Abort what a transport yielded, raw or upgraded. */
function abortConnection (tc: TransportConnection, err: Error): void {
  if (tc.kind === 'raw') tc.connection.abort(err)
  else tc.connection.muxer.abort(err)
}

function parseAddrs (list: readonly Uint8Array[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const b of list) {
    try { out.push(Multiaddr.fromBytes(b)) } catch { /* skip what we cannot parse (other transports) */ }
  }
  return out
}

/** `dial(addr, …)` rather than `dial(peerId, addrs, …)`: a multiaddr (peer ids never start with "/"). */
function isAddressForm (a: unknown): boolean {
  return a instanceof Multiaddr || (typeof a === 'string' && a.startsWith('/'))
}

/** The addresses to try for `peer`: `/p2p/<id>` stripped, and refused if it names another peer. */
function dialTargets (peer: PeerId, addrs: ReadonlyArray<Multiaddr | string>): Multiaddr[] {
  if (!Array.isArray(addrs) || addrs.length === 0) {
    throw new SwitchError('ERR_NO_ADDRESSES', `cannot dial ${peer.toString()}: expected at least one address, got none`)
  }
  return addrs.map(a => {
    const ma = Multiaddr.from(a)
    const id = ma.peerId()
    if (id !== undefined && id !== peer.toString() && !PeerId.parse(id).equals(peer)) {
      throw new SwitchError(
        'ERR_PEER_ID_MISMATCH',
        `address ${ma.toString()} names peer ${id}, expected ${peer.toString()}`
      )
    }
    return ma.withoutPeerId()
  })
}
