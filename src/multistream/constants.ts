/**
 * multistream-select 1.0 constants (multiformats/multistream-select README).
 * Pinned by test/multistream/constants.test.ts.
 */

/** The header both sides send first (README "Protocol"; multistream-select README, the negotiation). */
export const PROTOCOL_ID = '/multistream/1.0.0'

/** The listener's refusal of a proposal (README "Protocol"). */
export const NA = 'na'

/**
 * The dialer's request for the listener's protocol list (README "Listing"; optional, multistream-select README, `ls`).
 */
export const LS = 'ls'

/** Every message ends with this byte, counted in its length prefix (multistream-select README, message format). */
export const NEWLINE = 0x0a

/**
 * Largest message accepted, length prefix value including the trailing newline: go `ErrTooLarge`,
 * js `MAX_PROTOCOL_LENGTH`, nim `MsgSize`. rust allows 16383; we follow the stricter three.
 * The default of the machines' `maxMessageBytes` and also its ceiling: a lower limit may be
 * configured, a higher one may not (see negotiation.ts `resolveMaxMessageBytes` for why).
 */
export const MAX_MESSAGE_LENGTH = 1024

/**
 * Length of the header message `/multistream/1.0.0\n` (19): the smallest `maxMessageBytes` with
 * which a negotiation can start at all, since both sides must read this message first (multistream-select README, the
 * negotiation).
 */
export const HEADER_MESSAGE_LENGTH = PROTOCOL_ID.length + 1

/** Bytes of the varint that prefixes a message of at most MAX_MESSAGE_LENGTH (js listener caps it at 2). */
export const MAX_PREFIX_BYTES = 2

/**
 * Largest `ls` response body we read. The response is one outer message holding every protocol, so
 * it may exceed MAX_MESSAGE_LENGTH; rust caps frames at 16383 (rust multistream-select length_delimited.rs).
 */
export const MAX_LS_RESPONSE_LENGTH = 16383

/** Most entries accepted in an `ls` response (rust multistream-select `MAX_PROTOCOLS`). */
export const MAX_LS_ENTRIES = 1000

/** Default bound on one whole negotiation, so a silent peer cannot hang it. */
export const DEFAULT_NEGOTIATION_TIMEOUT_MS = 10_000
