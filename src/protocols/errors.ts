/**
 * The error class of the application protocols (ping, identify, perf, echo, stream-proto); its
 * codes are in the `ErrorCode` union of src/errors.ts, section "application protocols".
 */
import { SwitchyardError } from '../errors.js'

/**
 * A peer broke an application protocol (ping echo mismatch, perf byte count, too many identify
 * messages) or did not answer in time. The stream has been reset when this is thrown.
 */
export class ProtocolError extends SwitchyardError {}
