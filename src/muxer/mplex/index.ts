/**
 * mplex (`/mplex/6.7.0`): the stream muxer nim-libp2p's `newStandardSwitch` speaks. Offered after
 * yamux in muxer negotiation. Public surface: `createMplex` and the protocol id; the codec is
 * exported for benchmarks and tests.
 */
export { MPLEX_PROTOCOL_ID, MAX_MESSAGE_BYTES, MessageFlag } from './constants.js'
export { createMplex, mplex, MplexMuxer } from './mplex.js'
export type { MplexOptions } from './mplex.js'
export { DEFAULT_MPLEX_CONFIG, mplexConfig } from './session.js'
export type { MplexConfig } from './session.js'
export { decodeFrame, decodeFrameHeader, encodeFrame, encodeFrameHeader } from './frame.js'
export type { Frame, FrameHeader } from './frame.js'
export { FrameDecoder } from './frame-decoder.js'
