/**
 * The `/ws` transport: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/ws[/p2p/<id>]` over tcp.ts, the
 * HTTP/1.1 upgrade (upgrade.ts), then `WsConnection`. Dialing and listening give raw
 * `ByteConnection`s; the switch runs multistream → Noise → muxer over them exactly as over TCP.
 *
 * `/wss` (WebSocket over TLS) is parsed and refused with WsError ERR_WS_WSS_NOT_SUPPORTED. The
 * request path is `/` (what go, rust and js-libp2p use); a listener accepts any path.
 *
 * Limits (all options, defaults in constants.ts): HTTP head ≤ `maxUpgradeBytes` (8 KiB; 431 above),
 * upgrade complete within `upgradeTimeoutMs` (10 s; then the socket is closed), messages ≤
 * `maxMessageBytes` (16 MiB; close 1009), sent frames ≤ `maxSendFrameBytes` (1 MiB), close
 * handshake ≤ `closeTimeoutMs` (5 s).
 */
import { randomFillSync } from 'node:crypto'
import type {
  ConnectionEndpoints, Transport, TransportConnection, TransportDialOptions, TransportListener, TransportListenOptions
} from '../../connection.js'
import type { TraceObserver } from '../../trace/observer.js'
import { WsError, toError } from '../../errors.js'
import { Multiaddr } from '../multiaddr.js'
import { dial as dialTcp, listen as listenTcp } from '../tcp.js'
import type { TcpConnection, TcpConnectionOptions, TcpDialOptions } from '../tcp.js'
import { DEFAULT_MAX_UPGRADE_BYTES, DEFAULT_UPGRADE_TIMEOUT_MS, Opcode } from './constants.js'
import { WsConnection } from './connection.js'
import type { WsConnectionOptions } from './connection.js'
import { upgradeInbound, upgradeOutbound } from './upgrade.js'
import { canListenWs, isWsAddress, parseWsAddress } from './address.js'
import type { WsAddress } from './address.js'
import type { UpgradeLimits } from './upgrade.js'

export interface WsUpgradeOptions {
  /** Largest HTTP upgrade head (request or response), in bytes (default 8 KiB). */
  maxUpgradeBytes?: number
  /** Bound on the upgrade, from TCP connect/accept to the 101 response (default 10 000 ms). */
  upgradeTimeoutMs?: number
  /** Trace hook: each raw HTTP head, as sent ('out') or received ('in'). */
  onHead?: (dir: 'in' | 'out', head: Uint8Array) => void
}

export interface WsDialOptions extends TcpDialOptions, WsConnectionOptions, WsUpgradeOptions {
  /** Asked once TCP is connected (before the upgrade) when `observer` is not given. */
  observerFor?: (conn: ConnectionEndpoints) => TraceObserver | undefined
}

export interface WsListenOptions extends TcpConnectionOptions, WsConnectionOptions, WsUpgradeOptions {
  /** Each connection whose upgrade succeeded. */
  onConnection: (conn: WsConnection) => void
  /** Listen backlog (kernel accept queue). */
  backlog?: number
  /** Errors of the listener itself (the server socket, a throwing onConnection). */
  onError?: (err: Error) => void
  /** A connection whose upgrade failed (bad request, timeout): already answered and closed. */
  onUpgradeError?: (err: WsError, tcp: TcpConnection) => void
  /** Asked once per accepted TCP connection (before the upgrade): its trace observer. */
  observerFor?: (conn: ConnectionEndpoints) => TraceObserver | undefined
  /** Like `onConnection`, with the observer `observerFor` gave (for the Transport seam). */
  onTracedConnection?: (conn: WsConnection, observer: TraceObserver | undefined) => void
}

export interface WsListener {
  /** `/…/tcp/<real port>/ws` for every address the TCP listener reports. */
  readonly multiaddrs: readonly Multiaddr[]
  /** Upgraded connections not yet closed. */
  readonly connections: ReadonlySet<WsConnection>
  close: (options?: { closeConnections?: boolean }) => Promise<void>
}

function refuseWss (ma: Multiaddr | string): never {
  throw new WsError('ERR_WS_WSS_NOT_SUPPORTED', `${Multiaddr.from(ma).toString()}: /wss (WebSocket over TLS) is not supported yet; use /ws`)
}

// §5.3: masking keys must be unpredictable. One randomFillSync per 4 KiB instead of one per frame.
const POOL_SIZE = 4096
let pool = new Uint8Array(0)
let poolAt = 0
function randomFill (target: Uint8Array): void {
  if (target.length > POOL_SIZE) { randomFillSync(target); return }
  if (poolAt + target.length > pool.length) { pool = randomFillSync(new Uint8Array(POOL_SIZE)); poolAt = 0 }
  target.set(pool.subarray(poolAt, poolAt + target.length))
  poolAt += target.length
}

function limits (o: WsUpgradeOptions, signal?: AbortSignal): UpgradeLimits {
  const maxUpgradeBytes = o.maxUpgradeBytes ?? DEFAULT_MAX_UPGRADE_BYTES
  const upgradeTimeoutMs = o.upgradeTimeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS
  if (!(Number.isSafeInteger(maxUpgradeBytes) && maxUpgradeBytes > 0)) throw new RangeError(`"maxUpgradeBytes" expected a positive integer, got ${maxUpgradeBytes}`)
  if (!(upgradeTimeoutMs > 0)) throw new RangeError(`"upgradeTimeoutMs" expected a positive number, got ${upgradeTimeoutMs}`)
  return { maxUpgradeBytes, upgradeTimeoutMs, signal, onHead: o.onHead }
}

/**
 * Dial a `/ws` address: TCP connect, upgrade, WebSocket. Rejects with TransportError (TCP) or
 * WsError (ERR_WS_HANDSHAKE, ERR_WS_HANDSHAKE_TIMEOUT, ERR_WS_WSS_NOT_SUPPORTED).
 */
export async function dialWs (addr: Multiaddr | string, options: WsDialOptions = {}): Promise<WsConnection> {
  return (await dialTraced(addr, options)).conn
}

async function dialTraced (
  addr: Multiaddr | string,
  options: WsDialOptions
): Promise<{ conn: WsConnection, observer: TraceObserver | undefined }> {
  const wa = parseWsAddress(addr)
  if (wa.secure) refuseWss(addr)
  const lim = limits(options, options.signal)
  const tcp = await dialTcp(wa.tcp, { ...options, observer: undefined })
  const observer = options.observer ?? options.observerFor?.({ direction: 'outbound', remoteAddr: `${tcp.remoteAddr}/ws`, localAddr: `${tcp.localAddr}/ws` })
  const hooks = traceHooks(observer, tcp, options)
  const { leftover } = await upgradeOutbound(tcp, wa.host, '/', randomFill, { ...lim, onHead: hooks.onHead })
  return { conn: new WsConnection(tcp, { ...options, role: 'client', leftover, randomFill, onFrame: hooks.onFrame }), observer }
}

/** Trace hooks for one connection: TCP events, the upgrade heads and each frame header (observer.ts `ws`). */
function traceHooks (observer: TraceObserver | undefined, tcp: TcpConnection, o: WsConnectionOptions & WsUpgradeOptions): Pick<WsConnectionOptions, 'onFrame'> & Pick<WsUpgradeOptions, 'onHead'> {
  if (observer === undefined) return { onFrame: o.onFrame, onHead: o.onHead }
  tcp.setObserver(observer)
  return {
    onHead: (dir, head) => {
      o.onHead?.(dir, head)
      let text = ''
      for (let i = 0; i < head.length; i++) text += String.fromCharCode(head[i] as number)
      const lines = text.split('\r\n\r\n')[0]?.split('\r\n') ?? []
      observer.event({ layer: 'ws', kind: 'upgrade', dir, startLine: lines[0] ?? '', headers: lines.slice(1), length: head.length, bytes: head })
    },
    onFrame: (dir, opcode, length, fin, masked) => {
      o.onFrame?.(dir, opcode, length, fin, masked)
      observer.event({ layer: 'ws', kind: 'frame', dir, opcode: Opcode[opcode] ?? `0x${opcode.toString(16)}`, length, fin, masked })
    }
  }
}

/** Listen on a `/ws` address (`/ip4|ip6/<host>/tcp/<port>/ws`; port 0 picks a free port). */
export async function listenWs (addr: Multiaddr | string, options: WsListenOptions): Promise<WsListener> {
  const wa = parseWsAddress(addr)
  if (wa.secure) refuseWss(addr)
  const lim = limits(options)
  const connections = new Set<WsConnection>()
  const tcpListener = await listenTcp(wa.tcp, {
    ...options,
    onError: options.onError,
    observer: undefined,
    onConnection: tcp => {
      const observer = options.observer ?? options.observerFor?.({ direction: 'inbound', remoteAddr: `${tcp.remoteAddr}/ws`, localAddr: `${tcp.localAddr}/ws` })
      const hooks = traceHooks(observer, tcp, options)
      upgradeInbound(tcp, { ...lim, onHead: hooks.onHead }).then(({ leftover }) => {
        const conn = new WsConnection(tcp, { ...options, role: 'server', leftover, randomFill, onFrame: hooks.onFrame })
        if (tcp.closed) return
        connections.add(conn)
        void conn.whenClosed().then(() => connections.delete(conn))
        try {
          options.onConnection(conn)
          options.onTracedConnection?.(conn, observer)
        } catch (err) {
          conn.abort(toError(err))
          options.onError?.(toError(err))
        }
      }, (err: unknown) => {
        options.onUpgradeError?.(err as WsError, tcp)
      })
    }
  })
  return {
    multiaddrs: Object.freeze(tcpListener.multiaddrs.map(m => m.encapsulate('/ws'))),
    connections,
    close: async ({ closeConnections = false } = {}) => {
      await tcpListener.close()
      if (closeConnections) await Promise.all([...connections].map(c => c.close()))
    }
  }
}

export { canListenWs, isWsAddress, parseWsAddress }
export type { WsAddress }

/** Options of the `/ws` Transport: WebSocket limits, upgrade caps, TCP socket settings. */
export type WsTransportInit = WsConnectionOptions & Omit<WsUpgradeOptions, 'onHead'> & Omit<TcpConnectionOptions, 'observer'> & { backlog?: number }

/** The `/ws` Transport (the seam of connection.ts): raw connections, upgraded by the switch. */
export class WsTransport implements Transport {
  readonly name = 'ws'
  private readonly options: WsTransportInit

  constructor (options: WsTransportInit = {}) {
    this.options = options
  }

  /** `/ws` addresses, and `/wss` ones so that dialing them says why it cannot. */
  canDial (ma: Multiaddr): boolean { return isWsAddress(ma) }

  canListen (ma: Multiaddr): boolean { return canListenWs(ma) }

  async dial (ma: Multiaddr, opts: TransportDialOptions): Promise<TransportConnection> {
    const { conn, observer } = await dialTraced(ma, {
      ...this.options,
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.observer !== undefined ? { observer: opts.observer } : {}),
      ...(opts.observerFor !== undefined ? { observerFor: opts.observerFor } : {})
    })
    return observer === undefined ? { kind: 'raw', connection: conn } : { kind: 'raw', connection: conn, observer }
  }

  async listen (ma: Multiaddr, opts: TransportListenOptions): Promise<TransportListener> {
    const listener = await listenWs(ma, {
      ...this.options,
      ...(opts.onError !== undefined ? { onError: opts.onError } : {}),
      ...(opts.observerFor !== undefined ? { observerFor: c => opts.observerFor?.({ ...c, direction: 'inbound' }) } : {}),
      onConnection: () => {},
      onTracedConnection: (conn, observer) => opts.onConnection(observer === undefined ? { kind: 'raw', connection: conn } : { kind: 'raw', connection: conn, observer })
    })
    return { multiaddrs: listener.multiaddrs, close: async () => await listener.close() }
  }
}

/** The `/ws` transport (the registry's factory, as `tcp()`). */
export function ws (init: WsTransportInit = {}): Transport {
  return new WsTransport(init)
}
