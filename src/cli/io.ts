/**
 * What every CLI command gets from the process, and the error a command fails with at runtime.
 * Tests inject a `CliIo`; src/cli.ts builds the real one from stdout, stderr and the signals.
 */
import { SwitchyardError } from '../errors.js'

/** Where a command writes, and how it learns about SIGINT/SIGTERM. */
export interface CliIo {
  /** One line of result output (stdout); no trailing newline. */
  out: (line: string) => void
  /** One line of log output (stderr); no trailing newline. */
  err: (line: string) => void
  /** Resolves with the name of the first SIGINT/SIGTERM received. */
  signal: Promise<string>
}

/** A command failed at runtime: printed as one line, exit status 1. */
export class CliError extends SwitchyardError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_COMMAND_FAILED', message, options)
  }
}
