/**
 * The error class of the capture decoder (pcap/pcapng readers, reassembly, the dissectors); its
 * code, ERR_CAPTURE, is in the `ErrorCode` union of src/errors.ts.
 */
import { SwitchyardError } from '../errors.js'

/**
 * A capture file that cannot be read on: not a pcap/pcapng file, a malformed block or header, or a
 * file cut short. The message names the record and its byte offset. Connections decoded before the
 * error are still reported by `decodeCapture`.
 */
export class CaptureError extends SwitchyardError {
  /** Byte offset in the capture file where the problem was found. */
  readonly offset: number

  constructor (message: string, offset: number, options?: { cause?: unknown }) {
    super('ERR_CAPTURE', message, options)
    this.offset = offset
  }
}
