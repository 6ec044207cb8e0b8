/** yamux (`/yamux/1.0.0`): the public surface of the muxer layer. */
export { createYamux, yamux, YAMUX_PROTOCOL_ID } from './yamux.js'
export type { YamuxOptions } from './yamux.js'
export { yamuxConfig, DEFAULT_YAMUX_CONFIG } from './config.js'
export type { YamuxConfig } from './config.js'
export type { Header } from './frame.js'
export { FrameType, Flag, GoAwayCode } from './constants.js'
export { MuxedStream } from './stream.js'
export type { StreamTransport } from './stream.js'
