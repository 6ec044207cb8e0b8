/**
 * yamux wire constants, named and valued as in the spec (libp2p/specs yamux/README.md, a copy of
 * hashicorp/yamux spec.md) and go-yamux `const.go`. test/muxer/constants.test.ts pins every number.
 */

/** multistream-select protocol id of yamux (specs yamux/README.md "Protocol"). */
export const YAMUX_PROTOCOL_ID = '/yamux/1.0.0'

/** spec §Framing: "Version (8 bits)"; the only version defined is 0. */
export const YAMUX_VERSION = 0

/** spec §Message Type. */
export enum FrameType {
  /** Data: `length` payload bytes follow the header. */
  Data = 0,
  /** Window Update: `length` is a window delta (also used to open, accept, close and reset). */
  WindowUpdate = 1,
  /** Ping: `length` is an opaque value the peer echoes; stream id 0. */
  Ping = 2,
  /** Go Away: `length` is an error code; stream id 0. */
  GoAway = 3,
}

/** spec §Flags (a bitmask in the 16-bit flags field). */
export enum Flag {
  /** Start of a new stream; on Ping: a request. */
  SYN = 0x1,
  /** Acknowledge a new stream; on Ping: the response. */
  ACK = 0x2,
  /** Half-close of the sender's direction. */
  FIN = 0x4,
  /** Reset: immediate close of both directions. */
  RST = 0x8,
}

/** spec §Go Away: the error code carried in the length field. */
export enum GoAwayCode {
  Normal = 0,
  ProtocolError = 1,
  InternalError = 2,
}

/** go-yamux const.go `sizeOfVersion … headerSize`: version 1 + type 1 + flags 2 + stream id 4 + length 4. */
export const HEADER_LENGTH = 1 + 1 + 2 + 4 + 4

/** spec §Flow Control: "each new stream has an initial window size of 256KB" (specs PR #621: 262144). */
export const INITIAL_STREAM_WINDOW = 256 * 1024

/**
 * The send credit we assume for a new stream: nim-libp2p <= v2.1.0 uses a 256000-byte window and
 * tears the connection down past it (nim-libp2p#2787). Peers' window updates are deltas added on
 * top of this, so we stay 6144 bytes below every peer's real window, which is always safe.
 */
export const INITIAL_SEND_WINDOW = 256_000

/** go-yamux `MaxStreamWindowSize` default (go-libp2p sets the same): auto-tuning grows to this. */
export const DEFAULT_MAX_STREAM_WINDOW = 16 * 1024 * 1024

/**
 * Auto-tuning grows a window this many times over at an update that finds it the bottleneck (see
 * flow-control.ts). go-yamux and rust-yamux double; a sender limited by the window speeds up with its
 * TCP congestion window, doubling every round trip in slow start, while updates come every half window
 * (~1.25 RTT apart when the window limits): doubling per update lagged TCP by two round trips at
 * 50 ms, most of a 32 MiB transfer's shortfall against raw TCP (bench/README.md, WAN).
 */
export const WINDOW_GROWTH_FACTOR = 4
/** An update within this many RTTs of the previous one finds the window the bottleneck (rust: 2). */
export const WINDOW_GROWTH_RTTS = 4

/** Stream ids, window deltas, ping values and codes are 32-bit unsigned on the wire. */
export const MAX_UINT32 = 0xffff_ffff

/** Stream id 0 is the session itself (Ping, GoAway); spec §Stream ID. */
export const SESSION_STREAM_ID = 0
