/**
 * The error class of the application protocols. It lives here rather than in src/errors.ts only
 * because helpers may not add classes there; the lead may move it (its codes are in the
 * `ErrorCode` union already, section "application protocols").
 */
import { SwitchyardError } from '../errors.js'

/**
 * A peer broke an application protocol (ping echo mismatch, perf byte count, too many identify
 * messages) or did not answer in time. The stream has been reset when this is thrown.
 */
export class ProtocolError extends SwitchyardError {}
