/** multistream-select 1.0: constants, message codec, sans-I/O machines and their async drivers. */
export {
  PROTOCOL_ID, NA, LS, MAX_MESSAGE_LENGTH, HEADER_MESSAGE_LENGTH, MAX_LS_RESPONSE_LENGTH, MAX_LS_ENTRIES,
  DEFAULT_NEGOTIATION_TIMEOUT_MS
} from './constants.js'
export { encodeMessage, decodeMessageBody, encodeLsResponse, decodeLsResponse, MessageReader } from './messages.js'
export { Dialer, Listener, LsRequest, resolveMaxMessageBytes } from './negotiation.js'
export type { DialerOptions, MachineOptions, NegotiationStep } from './negotiation.js'
export { selectOnConnection, handleOnConnection, selectOnStream, handleOnStream, listProtocols } from './negotiate.js'
export type { NegotiateOptions, SelectOnStreamOptions, NegotiationResult, StreamNegotiationResult } from './negotiate.js'
export { selectOnConnectionLazy } from './lazy-connection.js'
export type { LazySelectOptions, LazySelection } from './lazy-connection.js'
