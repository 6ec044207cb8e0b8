/**
 * mplex wire constants (libp2p/specs mplex/README.md; deprecated upstream, kept for nim-libp2p's
 * `newStandardSwitch`, which mounts only `/mplex/6.7.0` — nim-libp2p `newStandardSwitch`).
 * Every number here is pinned by test/muxer/mplex/constants.test.ts.
 */

/** The multistream-select protocol id (js-libp2p `src/index.ts`, nim `mplex.nim` `MplexCodec`). */
export const MPLEX_PROTOCOL_ID = '/mplex/6.7.0'

/**
 * The three low bits of the header varint (mplex README §Flag Values).
 * "Receiver"/"Initiator" name the role of the *sender* of the frame for that stream: the peer that
 * opened the stream sends the even flags 2/4/6, the peer that accepted it the odd flags 1/3/5.
 */
export enum MessageFlag {
  /** Open a stream; the data is the stream name (ignored by every implementation). */
  NewStream = 0,
  /** Data from the stream's receiver (the peer that did not open it). */
  MessageReceiver = 1,
  /** Data from the stream's initiator. */
  MessageInitiator = 2,
  /** Half-close by the receiver ("closes it for writing and closes the remote end for reading"). */
  CloseReceiver = 3,
  /** Half-close by the initiator. */
  CloseInitiator = 4,
  /** Reset by the receiver: both directions, reads and writes fail (not EOF). */
  ResetReceiver = 5,
  /** Reset by the initiator. */
  ResetInitiator = 6
}

/** Highest legal flag; 7 is malformed (nim `InvalidMplexMsgType`, js `Invalid type received`). */
export const MAX_FLAG = MessageFlag.ResetInitiator

/** `header = uvarint(streamId << 3 | flag)`: the flag occupies the low 3 bits (README §Message format). */
export const FLAG_BITS = 3
/** `2 ** FLAG_BITS`: header = streamId * FLAG_SPACE + flag (arithmetic, not `<<`, which is 32-bit in JS). */
export const FLAG_SPACE = 1 << FLAG_BITS

/**
 * Largest stream id we can carry: the header varint must stay a safe integer (2^53 - 1, the codec's
 * limit), so ids are below 2^50. Ids are allocated from 0 upwards one at a time; reaching this is not
 * a practical concern, but the codec checks it rather than silently losing precision.
 */
export const MAX_STREAM_ID = Math.floor(Number.MAX_SAFE_INTEGER / FLAG_SPACE)

/**
 * "limited to a maximum size agreed upon out of band (… go-multiplex … 1MB)" (README §Writing to a
 * stream). go-mplex `MaxMessageSize = 1 << 20`, js `MAX_MSG_SIZE = 1 << 20`, nim `MaxMsgSize = 1 shl 20`:
 * every peer rejects a larger frame, so we never send one and reject one on receive.
 */
export const MAX_MESSAGE_BYTES = 1 << 20

/**
 * Longest header we send: a header varint below 2^53 takes at most 8 bytes, a length
 * ≤ MAX_MESSAGE_BYTES (< 2^21) at most 3.
 */
export const MAX_HEADER_BYTES = 8 + 3
