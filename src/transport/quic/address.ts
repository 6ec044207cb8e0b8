/**
 * `/quic-v1` multiaddrs: the transport's address check, apart from transport.ts so that the
 * standard switch can answer `canDial`/`canListen` without loading the QUIC stack (src/standard.ts
 * imports that on the first `/quic-v1` dial or listen).
 */
import { CODE_IP4, CODE_IP6, CODE_QUIC_V1, CODE_UDP } from '../multiaddr.js'
import type { Multiaddr } from '../multiaddr.js'

/** `/ip4|ip6/<ip>/udp/<port>/quic-v1[/p2p/<id>]` split, or undefined for any other shape. */
export function udpAddress (ma: Multiaddr): { host: string, port: number, family: 4 | 6 } | undefined {
  const [ip, udp, quic] = ma.components
  if (ip === undefined || udp === undefined || quic === undefined) return undefined
  if ((ip.code !== CODE_IP4 && ip.code !== CODE_IP6) || udp.code !== CODE_UDP || quic.code !== CODE_QUIC_V1) {
    return undefined
  }
  for (const c of ma.components.slice(3)) if (c.name !== 'p2p') return undefined
  return { host: ip.value as string, port: Number(udp.value), family: ip.code === CODE_IP4 ? 4 : 6 }
}
