/**
 * TCP as a Transport (src/connection.ts), the shape the switch composes: the adapter of tcp.ts
 * behind `canDial`/`canListen`/`dial`/`listen`. Every connection it yields is raw (the switch
 * upgrades it: multistream, a security protocol, a muxer).
 */
import type { Transport, TransportConnection, TransportListener } from '../connection.js'
import { CODE_IP4, CODE_IP6, CODE_P2P } from './multiaddr.js'
import type { Multiaddr } from './multiaddr.js'
import { dial, listen, localAddressFamily } from './tcp.js'
import type { TcpConnection } from './tcp.js'

export interface TcpTransportInit {
  /** Socket write buffer above which `write` returns false (tcp.ts DEFAULT_HIGH_WATER_MARK_BYTES). */
  highWaterMarkBytes?: number
  /** Pending-connection queue of a listener (node:net `backlog`). */
  backlog?: number
  /**
   * The local IP address every dial binds to (node:net `localAddress`; tcp.ts `TcpDialOptions`);
   * the kernel picks one when absent. Only addresses of its family are dialable. Listening is not
   * affected.
   */
  localAddress?: string
}

/** `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, optionally `/p2p/<id>`, and nothing else. */
function isPlainTcp (ma: Multiaddr): boolean {
  try {
    ma.toNodeAddress()
  } catch {
    return false
  }
  const rest = ma.components.slice(ma.components[0]?.name === 'ip6zone' ? 3 : 2)
  return rest.length === 0 || (rest.length === 1 && rest[0]?.code === CODE_P2P)
}

/** The TCP transport. */
export function tcp (init: TcpTransportInit = {}): Transport {
  const socketOptions = init.highWaterMarkBytes === undefined ? {} : { highWaterMarkBytes: init.highWaterMarkBytes }
  const localAddress = init.localAddress
  const localFamily = localAddress === undefined ? undefined : localAddressFamily(localAddress)
  /** A socket bound to an IPv4 address cannot reach an IPv6 one (nor the reverse); `/dns` may resolve to either. */
  const familyFits = (ma: Multiaddr): boolean => {
    if (localFamily === undefined) return true
    const family = ma.toNodeAddress().family
    return family === 0 || family === localFamily
  }
  return {
    name: 'tcp',
    canDial: (ma) => isPlainTcp(ma) && familyFits(ma),
    canListen: (ma) => {
      const first = ma.components[0]?.code
      return (first === CODE_IP4 || first === CODE_IP6) && isPlainTcp(ma) && ma.peerId() === undefined
    },
    dial: async (ma, opts): Promise<TransportConnection> => {
      const conn = await dial(ma, {
        ...socketOptions,
        ...(localAddress !== undefined ? { localAddress } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.signal !== undefined ? { signal: opts.signal } : {})
      })
      const observer = opts.observer ??
        opts.observerFor?.({ direction: 'outbound', remoteAddr: conn.remoteAddr, localAddr: conn.localAddr })
      if (observer !== undefined) conn.setObserver(observer)
      return observer === undefined ? { kind: 'raw', connection: conn } : { kind: 'raw', connection: conn, observer }
    },
    listen: async (ma, opts): Promise<TransportListener> => {
      const listener = await listen(ma, {
        ...socketOptions,
        ...(init.backlog !== undefined ? { backlog: init.backlog } : {}),
        onConnection: (conn: TcpConnection) => {
          // Installed at once: the socket's `open` event is the first the observer reports.
          const observer = opts.observerFor?.({
            direction: 'inbound',
            remoteAddr: conn.remoteAddr,
            localAddr: conn.localAddr
          })
          if (observer !== undefined) conn.setObserver(observer)
          opts.onConnection(
            observer === undefined ? { kind: 'raw', connection: conn } : { kind: 'raw', connection: conn, observer }
          )
        },
        onError: (err) => { opts.onError?.(err) }
      })
      return { multiaddrs: listener.multiaddrs, close: async () => { await listener.close() } }
    }
  }
}
