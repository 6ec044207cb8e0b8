/**
 * The thin node:dgram adapter: QUIC as a switchyard `Transport` (src/connection.ts seam). It owns
 * the UDP socket, one timer per connection and the mapping from connection ids to machines; every
 * protocol decision is in connection.ts.
 *
 *   /ip4|ip6/<host>/udp/<port>/quic-v1   (libp2p specs quic/README.md)
 *
 * One UDP socket per listener; dials go out of a listener's socket when there is one of the same
 * family (so the peer sees our listening port, as go-libp2p does for hole punching), else out of a
 * shared ephemeral socket. A connection arrives upgraded (TLS 1.3 with the libp2p certificate and
 * ALPN "libp2p" inside QUIC; no multistream for security or muxer, quic/README.md), as
 * `{ kind: 'upgraded' }` with a StreamMuxer whose streams are the shared MuxedStream; each stream
 * still negotiates its protocol with multistream-select, done by the switch as on any muxed stream.
 *
 * Limits: datagrams to unknown connection ids of less than 1200 bytes are dropped (RFC 9000 §14.1);
 * the others go to the listener's StatelessServer (stateless.ts), which answers unknown versions
 * with Version Negotiation (rate-limited), sends Retry when `retry` says so (by default once
 * `retryAfterPendingHandshakes` handshakes are in progress), and accepts the rest;
 * `maxConnections` caps accepted connections.
 * With the switch's `openResources`, each connection gets its resource scope once the peer is
 * authenticated (the per-peer and per-process connection limits; a refusal closes the connection)
 * and every stream is charged to it from its opening until the QUIC stream is gone (a refused
 * inbound stream is reset with STOP_SENDING; a refused `newStream` throws the limit error).
 * Memory, charged to the same scope: the receive side (connection.ts `attachMemory`: the bytes
 * received and not yet consumed, as they arrive and are consumed — refused: that stream is reset,
 * `stream-refused` — plus the connection window's growth beyond initial_max_data, at each grant that
 * grows it — refused: not granted; an idle connection costs nothing), and each stream's send queue —
 * the bytes written and not yet acknowledged — reserved when `write` hands them over and given back
 * as acknowledgements free them (in steps of SEND_RELEASE_STEP_BYTES). A write the budget refuses
 * waits for this stream's acknowledgements; with nothing of its own in flight to wait for, the
 * stream is reset with the ResourceLimitError.
 */
import dgram from 'node:dgram'
import crypto from 'node:crypto'
import { isIPv6 } from 'node:net'
import type {
  OpenResources,
  Stream,
  StreamMuxer,
  Transport,
  TransportConnection,
  TransportDialOptions,
  TransportListener,
  TransportListenOptions,
  UpgradedConnection
} from '../../connection.js'
import { KeyError, QuicError, StreamResetError, TransportError } from '../../errors.js'
import type { MuxedStream } from '../../muxer/stream.js'
import { StreamTable } from '../../muxer/stream-table.js'
import type { ResourceScope } from '../../resources/scope.js'
import type { Libp2pPeer } from '../../security/tls/certificate.js'
import { Libp2pCredentials, VerifiedCertificates } from '../../security/tls/credentials.js'
import { ALPN_LIBP2P, PROTOCOL_ID as TLS_PROTOCOL_ID } from '../../security/tls/constants.js'
import { Multiaddr } from '../multiaddr.js'
import { udpAddress } from './address.js'
import { MAX_DATAGRAMS_PER_POLL, QuicConnection, type QuicEvent } from './connection.js'
import { MIN_INITIAL_DATAGRAM_SIZE } from './constants.js'
import { parseHeader } from './header.js'
import { StatelessServer, type RetryPolicy } from './stateless.js'
import { quicTraceReporter } from './trace.js'
import type { TraceObserver } from '../../trace/observer.js'
import { completeEvent, traceHandshakeMessages } from '../../security/tls/trace-info.js'
import type { QuicConnectionConfig } from './connection.js'

/** Our connection ids are 8 bytes (quic-go uses 4 by default, quinn 8; any length up to 20 works). */
export const LOCAL_CID_LENGTH = 8
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 1024
/**
 * Bytes a stream may have written and not yet sent before `write` waits. What is in flight is bounded
 * by the peer's flow control and the congestion window (RFC 9000 §4, RFC 9002 §7) and charged to the
 * resource scope; a mark on unacknowledged bytes held one stream to 1 MiB per round trip (~14 MiB/s
 * at 50 ms and its queueing), whatever the windows allowed.
 */
export const STREAM_HIGH_WATER_BYTES = 1 << 20
export const MUXER_PROTOCOL = '/quic-v1'
/** Acknowledged send bytes are given back to the scope once this many have piled up (or the queue is empty). */
export const SEND_RELEASE_STEP_BYTES = 64 * 1024

export interface QuicTransportOptions {
  handshakeTimeoutMs?: number
  maxConnections?: number
  /** 1-RTT packets sent under one key before we update it (RFC 9001 §6; connection.ts default). */
  keyUpdateIntervalPackets?: number
  /** Pace sends over the round trip (RFC 9002 §7.7; default true). */
  pacing?: boolean
  /**
   * Listener address validation with Retry (RFC 9000 §8.1.2): 'under-load' (default) once
   * `retryAfterPendingHandshakes` handshakes are in progress, 'always' or 'never'. See stateless.ts.
   */
  retry?: RetryPolicy
  retryAfterPendingHandshakes?: number
  retryTokenLifetimeMs?: number
  /** Version Negotiation answers per second and listener (RFC 9000 §6.1; default 100). */
  versionNegotiationPerSecond?: number
  /**
   * DPLPMTUD ceiling (RFC 9000 §14.3) for peers on other hosts. Default 1200: no probing — Node
   * cannot set the IPv4 Don't Fragment bit, so a larger probe may arrive fragmented (§14: QUIC
   * datagrams must not be) and prove nothing. Raise it (1452 is quic-go's and quinn's) where the
   * path is known.
   */
  maxDatagramSize?: number
  /**
   * DPLPMTUD ceiling for loopback peers (127.0.0.0/8, ::1), where the IP layer never fragments
   * (the interface MTU is 64 KiB). Default: LOOPBACK_DATAGRAM_SIZE, or a sixteenth of the socket's
   * receive buffer if that is less (so a window of them does not overflow it).
   */
  loopbackDatagramSize?: number
}

/**
 * The largest UDP payload over IPv4 (65535 - 20 - 8), also within IPv6's: on loopback one datagram
 * moves what takes 45 of 1452 bytes, and every per-packet cost (a system call, an AEAD setup, an
 * ACK) shrinks with the count.
 */
export const LOOPBACK_DATAGRAM_SIZE = 65507

/**
 * Socket buffers we ask for (quic-go asks for 7 MiB): the default (208 KiB on Linux) drops datagrams
 * whenever a window's worth arrives while the event loop is busy. The kernel caps the request at
 * net.core.rmem_max / wmem_max without an error; a refusal leaves the default.
 */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024

/** Ask for SOCKET_BUFFER_BYTES each way; returns the receive buffer we got. */
function sizeBuffers (socket: dgram.Socket): number {
  try {
    if (socket.getRecvBufferSize() < SOCKET_BUFFER_BYTES) socket.setRecvBufferSize(SOCKET_BUFFER_BYTES)
    if (socket.getSendBufferSize() < SOCKET_BUFFER_BYTES) socket.setSendBufferSize(SOCKET_BUFFER_BYTES)
    return socket.getRecvBufferSize()
  } catch {
    // ERR_SOCKET_BUFFER_SIZE: the default stays
    return 0
  }
}

/**
 * The sockets' `lookup`: we only ever send to IP literals (rinfo, /ip4 and /ip6 multiaddrs), which
 * dgram's default dns.lookup answers a tick later, a deferred call per datagram; this answers at once.
 */
function literalAddress (
  family: 4 | 6
): (host: string, options: unknown, callback: (err: null, address: string, family: number) => void) => void {
  return (host, _options, callback) => { callback(null, host, family) }
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: the datagram never leaves the host. */
export function isLoopback (host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.')
}

/** One UDP socket and the connections that use it. */
class Endpoint {
  readonly socket: dgram.Socket
  readonly conns = new Map<string, ConnectionDriver>()
  acceptor: ((d: Uint8Array, rinfo: dgram.RemoteInfo) => void) | undefined
  closed = false
  /** The socket's receive buffer (bounds the datagram size on loopback); 0 when unknown. */
  readonly recvBufferBytes: number

  constructor (socket: dgram.Socket, recvBufferBytes: number) {
    this.socket = socket
    this.recvBufferBytes = recvBufferBytes
    socket.on('message', (msg, rinfo) => this.onMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), rinfo))
  }

  private onMessage (d: Uint8Array, rinfo: dgram.RemoteInfo): void {
    let dcid: Uint8Array
    try {
      const h = parseHeader(d, 0, LOCAL_CID_LENGTH)
      dcid = h.dcid
    } catch {
      return
    }
    const driver = this.conns.get(hex(dcid))
    if (driver !== undefined) {
      driver.receive(d)
      return
    }
    if (this.acceptor !== undefined && d.length >= MIN_INITIAL_DATAGRAM_SIZE) this.acceptor(d, rinfo)
  }

  localMultiaddr (): Multiaddr {
    const a = this.socket.address()
    return Multiaddr.parse(`/${a.family === 'IPv6' ? 'ip6' : 'ip4'}/${a.address}/udp/${a.port}/quic-v1`)
  }
}

/** Drives one QuicConnection: timer, sends, events → muxer. */
class ConnectionDriver {
  readonly conn: QuicConnection<Libp2pPeer>
  readonly muxer: QuicMuxer
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private readonly endpoint: Endpoint
  private readonly host: string
  private readonly port: number
  private readonly ids: string[]
  onHandshake: ((err?: Error) => void) | undefined
  private flushScheduled = false

  readonly observer: TraceObserver | undefined

  constructor (
    endpoint: Endpoint,
    conn: QuicConnection<Libp2pPeer>,
    host: string,
    port: number,
    ids: string[],
    observer?: TraceObserver
  ) {
    this.endpoint = endpoint
    this.observer = observer
    this.conn = conn
    this.host = host
    this.port = port
    this.ids = ids
    this.muxer = new QuicMuxer(this)
    for (const id of ids) endpoint.conns.set(id, this)
  }

  /**
   * RFC 9000 §13.2.2: "A receiver MAY process multiple available packets before determining whether
   * to send an ACK frame in response." The datagrams of one socket read (libuv reads up to 32 per
   * poll) all go into the machine first; one pass after them sends the ACKs and the data they freed,
   * instead of a pass — an ACK every second datagram, each one sealed and sent alone — per datagram.
   */
  receive (d: Uint8Array): void {
    this.conn.receiveDatagram(d, performance.now())
    this.scheduleFlush()
  }

  /** Send what the machine has, handle its events, re-arm the timer. */
  service (): void {
    const now = performance.now()
    const out = this.conn.pollDatagrams(now)
    for (const d of out) this.endpoint.socket.send(d, this.port, this.host)
    // a full batch: the rest after the I/O that waits (not at the next ACK or timer)
    if (out.length >= MAX_DATAGRAMS_PER_POLL) this.scheduleFlush()
    // handling an event may queue more (a read that ends a stream retires it: 'stream-closed'); they are
    // handled now, not at the next datagram or timer (a delayed ACK away: a graceful close waited for it)
    for (let events = this.conn.pollEvents(); events.length > 0; events = this.conn.pollEvents()) {
      for (const e of events) this.onEvent(e)
    }
    const t = this.conn.isClosed ? Infinity : this.conn.nextTimeout()
    // a timer armed for no later than `t` stays (re-arming on every packet cost more than the rest of
    // the pass): firing early is harmless, `onTimeout` acts only on what is due and the pass re-arms
    if (this.timer !== undefined && this.timerAt <= t && t !== Infinity) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (t === Infinity) return
    this.timerAt = t
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.conn.onTimeout(performance.now())
      this.service()
    }, Math.max(0, t - now))
  }

  /** Coalesce sends of one tick (many stream writes → one pass). */
  scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.service()
    })
  }

  private onEvent (e: QuicEvent<Libp2pPeer>): void {
    switch (e.type) {
      case 'handshake-complete': {
        this.observer?.event(completeEvent(this.conn.role, e.result))
        this.onHandshake?.()
        this.onHandshake = undefined
        break
      }
      case 'closed':
        this.observer?.event({
          layer: 'quic',
          kind: 'note',
          message: `connection closed${e.error === undefined ? '' : `: ${e.error.message}`}`
        })
        for (const id of this.ids) this.endpoint.conns.delete(id)
        if (this.timer !== undefined) clearTimeout(this.timer)
        this.onHandshake?.(
          e.error ?? new TransportError('ERR_CONNECTION_CLOSED', 'QUIC connection closed during the handshake')
        )
        this.onHandshake = undefined
        this.muxer.onConnectionClosed(e.error)
        break
      default:
        this.muxer.onStreamEvent(e)
    }
  }
}

/**
 * The StreamMuxer face of a QUIC connection: QUIC streams as MuxedStreams, kept by the StreamTable
 * every muxer shares (src/muxer/stream-table.ts: the streams by id, inbound streams that arrive
 * before `onStream` is set, a throwing handler resetting its stream only). The connection's events
 * are the table's StreamEvents, keyed by QUIC stream id; flow control and credit stay the
 * connection's (RFC 9000 §4): the table only passes `send` and `consumed` through.
 */
class QuicMuxer implements StreamMuxer {
  readonly protocol = MUXER_PROTOCOL
  onClose: ((err?: Error) => void) | undefined
  private readonly table: StreamTable
  /** The connection's resource scope (set once the peer is known) and the streams charged to it. */
  scope: ResourceScope | undefined
  private readonly charged = new Map<number, 'inbound' | 'outbound'>()
  /** Send-queue bytes charged to `scope` per stream (written, not yet acknowledged). */
  private readonly sendCharged = new Map<number, number>()
  private readonly driver: ConnectionDriver
  private goingAway = false
  private closed = false

  constructor (driver: ConnectionDriver) {
    this.driver = driver
    const conn = driver.conn
    this.table = new StreamTable({
      send: (id, data, s) => this.send(id, data, s),
      closeWrite: (id) => {
        conn.finish(id)
        driver.scheduleFlush()
      },
      reset: (id) => {
        conn.resetStream(id, 0)
        conn.stopSending(id, 0)
        driver.scheduleFlush()
        this.table.onStreamRemoved(id)
      },
      consumed: (id, n) => {
        conn.consumed(id, n)
        driver.scheduleFlush()
      },
      readClosed: (id) => {
        conn.stopSending(id, 0)
        driver.scheduleFlush()
      }
    })
  }

  get streams (): ReadonlyMap<number, Stream> { return this.table.streams }
  get onStream (): ((stream: Stream) => void) | undefined { return this.table.onStream }
  set onStream (handler: ((stream: Stream) => void) | undefined) { this.table.onStream = handler }

  /** Queue what fits of `data` on stream `id` (below its high-water mark, within the scope's memory). */
  private send (id: number, data: Uint8Array, s: MuxedStream): number {
    const conn = this.driver.conn
    const room = STREAM_HIGH_WATER_BYTES - conn.unsent(id)
    if (room <= 0) return 0
    const n = Math.min(room, data.length)
    if (this.scope !== undefined && !this.chargeSend(s, id, n)) return 0
    const piece = n === data.length ? data : data.subarray(0, n)
    this.driver.observer?.event({
      layer: 'stream',
      kind: 'data',
      dir: 'out',
      stream: id,
      opener: this.opener(id),
      length: n,
      bytes: piece
    })
    conn.write(id, piece)
    this.driver.scheduleFlush()
    return n
  }

  /**
   * Reserve `n` send-queue bytes of stream `id`. Refused: false — the write waits for this stream's
   * acknowledgements (`stream-writable`), or, with nothing of its own in flight, the stream is reset
   * with the refusal (nothing would ever wake it).
   */
  private chargeSend (s: MuxedStream, id: number, n: number): boolean {
    const scope = this.scope as ResourceScope
    const refused = scope.reserveMemory(n)
    if (refused === undefined) {
      this.sendCharged.set(id, (this.sendCharged.get(id) ?? 0) + n)
      return true
    }
    if (this.driver.conn.buffered(id) === 0) s.reset(refused)
    return false
  }

  /** Give back the send-queue charge of `id` down to what is still unacknowledged (all: `held` 0). */
  private releaseSend (id: number, held: number): void {
    const charged = this.sendCharged.get(id)
    if (charged === undefined) return
    const back = charged - held
    if (back <= 0) return
    if (held === 0) this.sendCharged.delete(id)
    else this.sendCharged.set(id, held)
    if (this.scope?.closed === false) this.scope.releaseMemory(back)
  }

  /** RFC 9000 §2.1: the low bit of a stream id says who opened it (0: the client). */
  private opener (id: number): 'local' | 'remote' {
    return ((id & 1) === 0) === (this.driver.conn.role === 'client') ? 'local' : 'remote'
  }

  newStream (): MuxedStream {
    if (this.goingAway || this.closed) throw new TransportError('ERR_CONNECTION_CLOSED', 'QUIC connection is closing')
    const refused = this.scope?.addStream('outbound')
    if (refused !== undefined) throw refused
    let id: number
    try {
      id = this.driver.conn.openStream()
    } catch (err) {
      this.scope?.removeStream('outbound')
      throw err
    }
    if (this.scope !== undefined) this.charged.set(id, 'outbound')
    return this.table.add(id, id, 'outbound')
  }

  /** The QUIC stream is gone: its charge goes back to the scope. */
  private release (id: number): void {
    const direction = this.charged.get(id)
    if (direction === undefined) return
    this.charged.delete(id)
    // the switch may close the scope (giving back everything) before the QUIC connection drains
    if (this.scope?.closed === false) this.scope.removeStream(direction)
  }

  onStreamEvent (e: QuicEvent<Libp2pPeer>): void {
    const conn = this.driver.conn
    switch (e.type) {
      case 'stream-opened': {
        const refused = this.goingAway ? undefined : this.scope?.addStream('inbound')
        if (this.goingAway || refused !== undefined) {
          conn.resetStream(e.id, 0)
          conn.stopSending(e.id, 0)
          this.driver.scheduleFlush()
          return
        }
        if (this.scope !== undefined) this.charged.set(e.id, 'inbound')
        this.table.onStreamOpen(e.id, e.id)
        return
      }
      case 'stream-readable': {
        for (let c = conn.read(e.id); c !== undefined; c = conn.read(e.id)) {
          if (c === null) {
            this.table.onStreamEnd(e.id)
            break
          }
          this.driver.observer?.event({
            layer: 'stream',
            kind: 'data',
            dir: 'in',
            stream: e.id,
            opener: this.opener(e.id),
            length: c.length,
            bytes: c
          })
          this.table.onStreamData(e.id, c)
        }
        return
      }
      case 'stream-writable': {
        const charged = this.sendCharged.get(e.id)
        if (charged !== undefined) {
          const held = conn.buffered(e.id)
          if (held === 0 || charged - held >= SEND_RELEASE_STEP_BYTES) this.releaseSend(e.id, held)
        }
        this.table.onStreamWritable(e.id)
        return
      }
      case 'stream-reset': {
        // a libp2p stream reset ends both directions (go-libp2p and rust-libp2p also send STOP_SENDING)
        conn.resetStream(e.id, 0)
        this.driver.scheduleFlush()
        this.table.onStreamReset(e.id, new StreamResetError(`stream reset by peer (code ${e.errorCode})`))
        this.table.onStreamRemoved(e.id)
        return
      }
      case 'stream-refused':
        // the connection reset it both ways (its data did not fit the scope): the application is told why
        this.driver.scheduleFlush()
        this.table.onStreamReset(
          e.id,
          new StreamResetError(`stream ${e.id} reset: ${e.error.message}`, { cause: e.error })
        )
        this.table.onStreamRemoved(e.id)
        return
      case 'stop-sending':
        this.table.onStreamWritable(e.id)
        break
      case 'stream-closed':
        this.table.onStreamRemoved(e.id)
        this.release(e.id)
        this.releaseSend(e.id, 0)
        break
    }
  }

  onConnectionClosed (err?: QuicError): void {
    if (this.closed) return
    this.closed = true
    const reason = err ?? new StreamResetError('connection closed')
    for (const id of [...this.table.streams.keys()]) {
      this.table.onStreamReset(id, reason)
      this.table.onStreamRemoved(id)
    }
    this.table.clearEarly()
    for (const id of [...this.charged.keys()]) this.release(id)
    for (const id of [...this.sendCharged.keys()]) this.releaseSend(id, 0)
    this.onClose?.(err)
  }

  goAway (): void {
    this.goingAway = true
  }

  async close (): Promise<void> {
    this.driver.conn.close(0, '', performance.now())
    this.driver.service()
  }

  abort (err?: Error): void {
    this.driver.conn.close(0, err?.message ?? 'abort', performance.now())
    this.driver.service()
  }
}

/**
 * The authenticated connection as the switch takes it; with `openResources`, its scope is opened
 * first (a refusal throws, and the caller closes the connection).
 */
function upgraded (
  driver: ConnectionDriver,
  direction: 'inbound' | 'outbound',
  local: Multiaddr,
  remote: string,
  openResources: OpenResources | undefined
): UpgradedConnection {
  const peer = driver.conn.handshakeResult?.peer
  if (peer === undefined) throw new KeyError('ERR_INVALID_PEER_ID', 'QUIC peer presented no certificate')
  if (openResources !== undefined) {
    const scope = openResources(peer.info.peerId, `${direction} ${remote}`)
    if (scope instanceof Error) throw scope
    // from here on the bytes the peer makes us hold, and any window growth, are charged to the scope
    const refused = driver.conn.attachMemory(scope)
    if (refused !== undefined) {
      scope.close()
      throw refused
    }
    driver.muxer.scope = scope
  }
  return {
    ...(driver.muxer.scope !== undefined ? { resources: driver.muxer.scope } : {}),
    remotePeer: peer.info.peerId,
    remoteKey: peer.info.hostKey,
    muxer: driver.muxer,
    security: TLS_PROTOCOL_ID,
    muxerNegotiation: 'transport',
    remoteAddr: remote,
    localAddr: local.toString(),
    direction
  }
}

/** The connection's trace and key-log hooks (none when nobody asked: no cost). */
function observe (
  observer: TraceObserver | undefined,
  keyLog: ((line: string) => void) | undefined
): Partial<QuicConnectionConfig<Libp2pPeer>> {
  const hooks: Partial<QuicConnectionConfig<Libp2pPeer>> = {}
  if (keyLog !== undefined) hooks.keyLog = keyLog
  if (observer !== undefined) {
    hooks.onTrace = quicTraceReporter(observer)
    hooks.onTlsMessage = traceHandshakeMessages(observer, Date.now)
  }
  return hooks
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')
}

function remoteMultiaddr (host: string, port: number): string {
  return `/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}/udp/${port}/quic-v1`
}

/** The QUIC v1 transport (`/quic-v1`). */
export function quic (options: QuicTransportOptions = {}): Transport {
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const tuning = {
    ...(options.keyUpdateIntervalPackets === undefined
      ? {}
      : { keyUpdateIntervalPackets: options.keyUpdateIntervalPackets }),
    ...(options.pacing === undefined ? {} : { pacing: options.pacing })
  }
  const listeners: Endpoint[] = []
  const dialers = new Map<4 | 6, Endpoint>()
  const verified = new VerifiedCertificates()
  const datagramSizeFor = (ep: Endpoint, host: string): number => {
    if (!isLoopback(host)) return options.maxDatagramSize ?? 1200
    const wanted = options.loopbackDatagramSize
    if (wanted !== undefined) return Math.min(wanted, LOOPBACK_DATAGRAM_SIZE)
    return Math.max(1200, Math.min(LOOPBACK_DATAGRAM_SIZE, Math.floor(ep.recvBufferBytes / 16)))
  }
  // one libp2p certificate per identity, kept across dials and listeners (credentials.ts)
  const credentials = new Libp2pCredentials()

  async function bind (host: string, port: number, family: 4 | 6): Promise<Endpoint> {
    const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', lookup: literalAddress(family) })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    return new Endpoint(socket, sizeBuffers(socket))
  }

  return {
    name: 'quic-v1',
    canDial: (ma) => udpAddress(ma) !== undefined,
    canListen: (ma) => udpAddress(ma) !== undefined,

    async dial (ma: Multiaddr, opts: TransportDialOptions): Promise<TransportConnection> {
      const addr = udpAddress(ma)
      if (addr === undefined) throw new TransportError('ERR_INVALID_MULTIADDR', `not a QUIC address: ${ma.toString()}`)
      let ep = listeners.find(l => !l.closed && (l.socket.address().family === 'IPv6') === (addr.family === 6))
      if (ep === undefined) {
        ep = dialers.get(addr.family)
        if (ep === undefined || ep.closed) {
          ep = await bind(addr.family === 4 ? '0.0.0.0' : '::', 0, addr.family)
          ep.socket.unref()
          dialers.set(addr.family, ep)
        }
      }
      const localCid = new Uint8Array(crypto.randomBytes(LOCAL_CID_LENGTH))
      const localAddr = ep.localMultiaddr().toString()
      const remoteAddr = remoteMultiaddr(addr.host, addr.port)
      const observer = opts.observer ?? opts.observerFor?.({ direction: 'outbound', remoteAddr, localAddr })
      observer?.event({ layer: 'tcp', kind: 'open', localAddr, remoteAddr, direction: 'outbound' })
      const conn = new QuicConnection<Libp2pPeer>({
        role: 'client',
        credential: credentials.get(opts.identity),
        verifyPeer: (chain) => verified.verify(chain),
        alpn: [ALPN_LIBP2P],
        localCid,
        remoteCid: new Uint8Array(crypto.randomBytes(LOCAL_CID_LENGTH)),
        now: performance.now(),
        ...tuning,
        maxDatagramSize: datagramSizeFor(ep, addr.host),
        ...observe(observer, opts.keyLog)
      })
      const driver = new ConnectionDriver(ep, conn, addr.host, addr.port, [hex(localCid)], observer)
      const timeoutMs = opts.timeoutMs ?? handshakeTimeoutMs
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          driver.onHandshake = undefined
          conn.close(0, 'handshake timeout', performance.now())
          driver.service()
          reject(
            new TransportError(
              'ERR_DIAL_TIMEOUT',
              `QUIC handshake with ${ma.toString()} timed out after ${timeoutMs} ms`
            )
          )
        }, timeoutMs)
        const onAbort = (): void => {
          clearTimeout(timer)
          conn.close(0, 'aborted', performance.now())
          driver.service()
          reject(new TransportError('ERR_ABORTED', 'dial aborted'))
        }
        opts.signal?.addEventListener('abort', onAbort, { once: true })
        driver.onHandshake = (err) => {
          clearTimeout(timer)
          opts.signal?.removeEventListener('abort', onAbort)
          if (err === undefined) resolve()
          else reject(err)
        }
        driver.service()
      })
      const peer = conn.handshakeResult?.peer?.info.peerId
      if (opts.expectedPeer !== undefined && peer !== undefined && !opts.expectedPeer.equals(peer)) {
        await driver.muxer.close()
        throw new KeyError(
          'ERR_PEER_ID_MISMATCH',
          `dialed ${opts.expectedPeer.toString()}, QUIC peer is ${peer.toString()}`
        )
      }
      let result: UpgradedConnection
      try {
        result = upgraded(
          driver,
          'outbound',
          ep.localMultiaddr(),
          remoteMultiaddr(addr.host, addr.port),
          opts.openResources
        )
      } catch (err) {
        driver.muxer.abort(err instanceof Error ? err : undefined)
        throw err
      }
      return observer === undefined
        ? { kind: 'upgraded', connection: result }
        : { kind: 'upgraded', connection: result, observer }
    },

    async listen (ma: Multiaddr, opts: TransportListenOptions): Promise<TransportListener> {
      const addr = udpAddress(ma)
      if (addr === undefined) throw new TransportError('ERR_INVALID_MULTIADDR', `not a QUIC address: ${ma.toString()}`)
      const ep = await bind(addr.host, addr.port, addr.family)
      listeners.push(ep)
      const credential = credentials.get(opts.identity)
      let accepted = 0
      let pending = 0
      // Version Negotiation, Retry and INVALID_TOKEN answers: decided without a connection (stateless.ts)
      const gate = new StatelessServer({
        cidLength: LOCAL_CID_LENGTH,
        ...(options.retry === undefined ? {} : { retry: options.retry }),
        ...(options.retryAfterPendingHandshakes === undefined
          ? {}
          : { retryAfterPendingHandshakes: options.retryAfterPendingHandshakes }),
        ...(options.retryTokenLifetimeMs === undefined ? {} : { retryTokenLifetimeMs: options.retryTokenLifetimeMs }),
        ...(options.versionNegotiationPerSecond === undefined
          ? {}
          : { versionNegotiationPerSecond: options.versionNegotiationPerSecond })
      }, performance.now())
      ep.acceptor = (d, rinfo) => {
        const decision = gate.onDatagram(d, { address: rinfo.address, port: rinfo.port }, pending, performance.now())
        if (decision.kind === 'send') {
          ep.socket.send(decision.datagram, rinfo.port, rinfo.address)
          return
        }
        if (decision.kind === 'drop' || accepted >= maxConnections) return
        const h = decision.header
        const localCid = new Uint8Array(crypto.randomBytes(LOCAL_CID_LENGTH))
        const localAddr = ep.localMultiaddr().toString()
        const remoteAddr = remoteMultiaddr(rinfo.address, rinfo.port)
        const observer = opts.observerFor?.({ remoteAddr, localAddr, direction: 'inbound' })
        observer?.event({ layer: 'tcp', kind: 'open', localAddr, remoteAddr, direction: 'inbound' })
        const conn = new QuicConnection<Libp2pPeer>({
          role: 'server',
          credential,
          verifyPeer: (chain) => verified.verify(chain),
          alpn: [ALPN_LIBP2P],
          localCid,
          remoteCid: h.scid.slice(),
          originalDcid: h.dcid.slice(),
          now: performance.now(),
          ...tuning,
          maxDatagramSize: datagramSizeFor(ep, rinfo.address),
          ...(decision.retry === undefined ? {} : { retry: decision.retry }),
          ...observe(observer, opts.keyLog)
        })
        accepted++
        pending++
        // a connection leaves the count once: a failed handshake reports both its error and the close
        let counted = true
        const release = (): void => {
          if (counted) { counted = false; accepted-- }
        }
        const driver = new ConnectionDriver(ep, conn, rinfo.address, rinfo.port, [hex(localCid), hex(h.dcid)], observer)
        const timer = setTimeout(() => {
          conn.close(0, 'handshake timeout', performance.now())
          driver.service()
        }, handshakeTimeoutMs)
        driver.onHandshake = (err) => {
          clearTimeout(timer)
          pending--
          if (err !== undefined) {
            release()
            opts.onError?.(err)
            return
          }
          let connection: UpgradedConnection
          try {
            connection = upgraded(driver, 'inbound', ep.localMultiaddr(), remoteAddr, opts.openResources)
          } catch (e) {
            const error = e instanceof Error ? e : new TransportError('ERR_CONNECTION_CLOSED', String(e))
            driver.muxer.abort(error)
            opts.onError?.(error)
            return
          }
          opts.onConnection(
            observer === undefined ? { kind: 'upgraded', connection } : { kind: 'upgraded', connection, observer }
          )
        }
        driver.muxer.onClose = release
        driver.receive(d)
      }
      return {
        get multiaddrs () {
          return [ep.localMultiaddr()]
        },
        close: async () => {
          ep.closed = true
          ep.acceptor = undefined
          for (const d of new Set(ep.conns.values())) await d.muxer.close()
          await new Promise<void>(resolve => ep.socket.close(() => resolve()))
          listeners.splice(listeners.indexOf(ep), 1)
        }
      }
    }
  }
}
