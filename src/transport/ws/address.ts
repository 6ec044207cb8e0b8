/**
 * `/ws` and `/wss` multiaddrs: parsing and the transport's `canDial`/`canListen` predicates, apart
 * from transport.ts so that the standard switch can answer them without loading the WebSocket
 * stack (src/standard.ts imports that on the first `/ws` dial or listen).
 */
import { MultiaddrError } from '../../errors.js'
import { CODE_DNS, CODE_DNS4, CODE_DNS6, CODE_IP4, CODE_IP6, CODE_P2P, CODE_TCP, CODE_WS, CODE_WSS, Multiaddr } from '../multiaddr.js'

/** A `/ws` or `/wss` address split into its TCP part and what the upgrade needs. */
export interface WsAddress {
  tcp: Multiaddr
  secure: boolean
  /** The Host header: `name:port`, `[v6]:port`. */
  host: string
}

/**
 * Split `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>/<ws|wss>[/p2p/<id>]`. Throws MultiaddrError for
 * any other shape.
 */
export function parseWsAddress (addr: Multiaddr | string): WsAddress {
  const ma = Multiaddr.from(addr)
  const c = ma.components
  let n = c.length
  if (n > 0 && c[n - 1]?.code === CODE_P2P) n--
  const first = c[0]
  const ok = n === 3 &&
    first !== undefined && [CODE_IP4, CODE_IP6, CODE_DNS, CODE_DNS4, CODE_DNS6].includes(first.code) &&
    c[1]?.code === CODE_TCP && (c[2]?.code === CODE_WS || c[2]?.code === CODE_WSS)
  if (!ok) throw new MultiaddrError(`multiaddr ${ma.toString()} is not a WebSocket address: expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/ws`)
  const host = first.code === CODE_IP6 ? `[${first.value as string}]` : first.value as string
  return { tcp: Multiaddr.from(`/${first.name}/${first.value as string}/tcp/${c[1]?.value as string}`), secure: c[2]?.code === CODE_WSS, host: `${host}:${c[1]?.value as string}` }
}

/** True for a `/ws` or `/wss` address this transport can parse. */
export function isWsAddress (addr: Multiaddr): boolean {
  try { parseWsAddress(addr); return true } catch { return false }
}

/** A `/ws` address on an IP (not a name) without a peer id: what a listener can bind. */
export function canListenWs (ma: Multiaddr): boolean {
  if (!isWsAddress(ma) || ma.peerId() !== undefined) return false
  const code = ma.components[0]?.code
  return code === CODE_IP4 || code === CODE_IP6
}
