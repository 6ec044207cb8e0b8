/**
 * The application protocols, each written against the `Stream` contract only (no muxer, no
 * security, no switch): a codec constant, a server handler the switch mounts, and a client
 * function that takes an already negotiated stream.
 */
export * from './constants.js'
export { ProtocolError } from './errors.js'
export type { LocalPeerInfo, ProtocolContext, ProtocolDefinition, ProtocolHandler } from './types.js'
export { ping, pingHandler, pingProtocol, createPingHandler } from './ping.js'
export type { PingOptions, PingHandlerOptions } from './ping.js'
export {
  identify, identifyHandler, identifyProtocol, identifyPush, identifyPushHandler, identifyPushProtocol, buildIdentify
} from './identify.js'
export type { IdentifyReadOptions } from './identify.js'
export { perf, perfHandler, perfProtocol, encodePerfHeader, decodePerfHeader, formatPerfOutput, PERF_MAX_REQUEST } from './perf.js'
export type { PerfOptions, PerfOutput, PerfResult } from './perf.js'
export { streamProtoClient, streamProtoHandler, streamProtoProtocol } from './stream-proto.js'
export type { StreamProtoClientOptions } from './stream-proto.js'
export { echo, echoHandler, echoProtocol } from './echo.js'
export {
  applyIdentifyUpdate, decodeIdentify, emptyIdentify, encodeIdentify, encodeIdentifyMessages, mergeIdentify,
  IdentifyField
} from '../proto/identify.js'
export type { IdentifyMessage } from '../proto/identify.js'
