/**
 * `switchyard/transport/ws`: WebSocket (RFC 6455) as a libp2p transport (`/ws` multiaddrs) — the
 * frame codec, the sans-I/O session, the HTTP upgrade, and `ws()` as the switch's Transport.
 */
export { ws, WsTransport, dialWs, listenWs, parseWsAddress, isWsAddress } from './transport.js'
export type { WsTransportInit, WsDialOptions, WsListenOptions, WsListener, WsAddress, WsUpgradeOptions } from './transport.js'
export { WsConnection } from './connection.js'
export type { WsConnectionOptions } from './connection.js'
export { WsSession } from './session.js'
export type { WsSessionInit, WsSessionHost, WsRole, WsState } from './session.js'
export { encodeFrame, decodeFrameHeader, applyMask, encodeClosePayload, decodeClosePayload, formatFrameHeader } from './frame.js'
export type { FrameHeader, EncodeFrameOptions, ClosePayload } from './frame.js'
export { Opcode, CloseCode } from './constants.js'
export { WsError } from '../../errors.js'
