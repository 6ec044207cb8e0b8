/** Transport layer: multiaddrs and the TCP transport (raw `ByteConnection`s). */
export { Multiaddr, multiaddr } from './multiaddr.js'
export type { MultiaddrComponent, NodeAddress } from './multiaddr.js'
export {
  CODE_IP4, CODE_IP6, CODE_IP6ZONE, CODE_TCP, CODE_UDP, CODE_DNS, CODE_DNS4, CODE_DNS6, CODE_DNSADDR,
  CODE_P2P, CODE_P2P_CIRCUIT, CODE_WS, CODE_WSS, CODE_QUIC_V1
} from './multiaddr.js'
export {
  dial, listen, listenerMultiaddrs, TcpConnection,
  DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_HIGH_WATER_MARK_BYTES
} from './tcp.js'
export type { TcpConnectionOptions, TcpDialOptions, TcpListenOptions, TcpListener, InterfaceAddress } from './tcp.js'
export { tcp } from './tcp-transport.js'
export type { TcpTransportInit } from './tcp-transport.js'
