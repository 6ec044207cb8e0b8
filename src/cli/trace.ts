/**
 * The CLI's tracing options, accepted by `listen` and every client command:
 *
 *   --trace             the layered text view of every connection on stderr
 *   --trace=hex         the same with hex dumps of the bytes
 *   --trace-file <path> every trace record as JSON Lines to <path>
 *   --keylog <path>     the Noise keys of every connection, for `switchyard decode` of a capture
 *
 * This module parses them and is the one seam between the commands and src/trace: `startTracing`
 * turns them into the switch options that enable tracing, and a `close` to call once the switch
 * has stopped.
 */
import type { SwitchOptions } from '../index.js'
import { CliError } from './io.js'
import { optionValue, UsageError } from './args.js'
import type { OptionSpec, ParsedArgs } from './args.js'
import type { CliIo } from './io.js'

/** The options of this module, for each command's option list. */
export const TRACE_OPTIONS: readonly OptionSpec[] = [
  { name: 'trace', kind: 'optional' },
  { name: 'trace-file', kind: 'value' },
  { name: 'keylog', kind: 'value' }
]

export interface TraceArgs {
  /** The text view on stderr: none, plain, or with hex dumps. */
  readonly view: 'off' | 'text' | 'hex'
  /** JSON Lines output file. */
  readonly file: string | undefined
  /** Noise key log file. */
  readonly keylog: string | undefined
}

export function traceArgs (args: ParsedArgs): TraceArgs {
  const trace = optionValue(args, 'trace')
  if (trace !== undefined && trace !== '' && trace !== 'hex') {
    throw new UsageError(`option --trace expects no value or --trace=hex, got --trace=${trace}`)
  }
  return {
    view: trace === undefined ? 'off' : trace === 'hex' ? 'hex' : 'text',
    file: optionValue(args, 'trace-file'),
    keylog: optionValue(args, 'keylog')
  }
}

export interface Tracing {
  /** Spread into the switch's options. */
  readonly switchOptions: Pick<SwitchOptions, 'observer'>
  /** Flush and close the outputs; after the switch has stopped. */
  close: () => Promise<void>
}

const NO_TRACING: Tracing = { switchOptions: {}, close: async () => {} }

/**
 * Set tracing up as asked. Nothing asked: no observer at all (the layers then pay nothing).
 *
 * SEAM: the tracer (src/trace/tracer.ts, text and JSON Lines sinks) and the Noise key log hook of
 * the switch are being built beside the CLI; until they are wired here, asking for tracing is a
 * runtime error that says so, rather than a silent no-op.
 */
export async function startTracing (t: TraceArgs, _io: CliIo): Promise<Tracing> {
  if (t.view === 'off' && t.file === undefined && t.keylog === undefined) return NO_TRACING
  const asked = [t.view !== 'off' ? '--trace' : '', t.file !== undefined ? '--trace-file' : '', t.keylog !== undefined ? '--keylog' : ''].filter(s => s !== '')
  throw new CliError(`${asked.join(', ')}: tracing is not available in this build yet`)
}
