/**
 * Protocol ids and limits of the application protocols, named and valued as their specs and
 * reference implementations have them. test/protocols/constants.test.ts pins every value.
 */

// ── /test/stream-proto/1.0.0 (nim-libp2p tutorial_3_streamproto) ──

/** Tutorial: `const TestStreamCodec = "/test/stream-proto/1.0.0"`. */
export const STREAM_PROTO_CODEC = '/test/stream-proto/1.0.0'
/** Tutorial: the server's `conn.readLp(1024)`; the client reads the parts with the same limit. */
export const STREAM_PROTO_MAX_MESSAGE_BYTES = 1024
/** Tutorial: the one message the client sends. */
export const STREAM_PROTO_REQUEST = 'please send data'
/** Tutorial: the server answers `Part 0` … `Part 10` (`for i in 0..10`). */
export const STREAM_PROTO_PART_COUNT = 11

// ── /ipfs/ping/1.0.0 (libp2p/specs ping/ping.md) ──

/** ping.md: protocol id. */
export const PING_CODEC = '/ipfs/ping/1.0.0'
/** ping.md: "a 32-byte payload of random binary data". go `PingSize`. */
export const PING_PAYLOAD_BYTES = 32
/** Server: reset a ping stream idle this long. go ping.go `pingTimeout` (60 s). */
export const PING_SERVER_IDLE_TIMEOUT_MS = 60_000
/** ping.md: "The listening peer SHOULD accept at most two streams per peer" (the dialer keeps at most one). */
export const PING_MAX_INBOUND_STREAMS = 2
/** Client: default time allowed for one round trip (js-libp2p ping's default `timeout`). */
export const PING_CLIENT_TIMEOUT_MS = 10_000

// ── /ipfs/id/1.0.0 and /ipfs/id/push/1.0.0 (libp2p/specs identify/README.md) ──

/** identify README: protocol id of identify. */
export const IDENTIFY_CODEC = '/ipfs/id/1.0.0'
/** identify README §"identify/push": protocol id of identify-push. */
export const IDENTIFY_PUSH_CODEC = '/ipfs/id/push/1.0.0'
/** identify README: `protocolVersion` value libp2p peers send ("ipfs/0.1.0"). */
export const IDENTIFY_PROTOCOL_VERSION = 'ipfs/0.1.0'
/** Largest identify message we accept. go id.go `signedIDSize` (8 KiB); js `MAX_IDENTIFY_MESSAGE_SIZE`. */
export const IDENTIFY_MAX_MESSAGE_BYTES = 8 * 1024
/** Most length-prefixed messages one identify stream may carry. go id.go `maxMessages`; js `MAX_IDENTIFY_MESSAGES`. */
export const IDENTIFY_MAX_MESSAGES = 10
/** Time allowed to receive a whole identify response. go id.go `DefaultTimeout`; js `defaultValues.timeout`. */
export const IDENTIFY_TIMEOUT_MS = 5_000
/**
 * identify-push streams one connection may run at once (js-libp2p identify `maxPushIncomingStreams`
 * is 1; 4 leaves room for a peer that pushes again before our handler of the last push ended): with each push at most
 * IDENTIFY_MAX_MESSAGES × IDENTIFY_MAX_MESSAGE_BYTES, a push flood
 * holds at most one push per connection and is paced by its own round trips (issue #14).
 */
export const IDENTIFY_PUSH_MAX_INBOUND_STREAMS = 4

// ── /perf/1.0.0 (libp2p/specs perf/perf.md) ──

/** perf.md: protocol id. */
export const PERF_CODEC = '/perf/1.0.0'
/** perf.md: the request header is one big-endian u64, the number of bytes the client wants back. */
export const PERF_HEADER_BYTES = 8
/** Size of the preallocated block uploads and downloads are written from (go and js perf: 64 KiB). */
export const PERF_BLOCK_BYTES = 64 * 1024
/** test-plans perf: intermediary results are reported once per second. */
export const PERF_PROGRESS_INTERVAL_MS = 1_000

// ── /switchyard/echo/1.0.0 ──

/** switchyard's echo protocol (interop and benchmarks): every byte back until EOF. */
export const ECHO_CODEC = '/switchyard/echo/1.0.0'
/**
 * Echo streams a peer may run at once on one connection (`maxIncomingStreams`). Every echo stream holds what the peer
 * sends until the peer reads it back,
 * so unbounded echo is a memory lever (issue #14: 4 × 1000 never-read echo streams took a listener
 * to 1.2 GiB). 128 leaves room for the interop matrix's `streams` cell (50 at once) and the
 * js-libp2p interop tests (100); the benchmarks mount echo with a higher limit.
 */
export const ECHO_MAX_STREAMS = 128

// ── identity of this implementation ──

/** The package version (pinned to package.json by a test). */
export const SWITCHYARD_VERSION = '0.1.0'
/** identify `agentVersion`: "name/version" (identify README). */
export const AGENT_VERSION = `switchyard/${SWITCHYARD_VERSION}`
