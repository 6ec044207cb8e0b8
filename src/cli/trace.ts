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
import { toError } from '../errors.js'

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
  readonly switchOptions: Pick<SwitchOptions, 'observer' | 'keyLog'>
  /** Flush and close the outputs; after the switch has stopped. */
  close: () => Promise<void>
}

const NO_TRACING: Tracing = { switchOptions: {}, close: async () => {} }

/**
 * Set tracing up as asked (src/trace/session.ts): the text view on stderr, the JSON Lines file, the
 * key log (with its warning on stderr). Nothing asked: no observer at all (the layers then pay
 * nothing). A file that cannot be created is a CliError naming the option, before any connection.
 */
export async function startTracing (t: TraceArgs, io: CliIo): Promise<Tracing> {
  if (t.view === 'off' && t.file === undefined && t.keylog === undefined) return NO_TRACING
  // Imported only when asked: the trace views are modules an untraced run never needs (cold start, issue #15).
  const { createTraceSession } = await import('../trace/session.js')
  try {
    const session = createTraceSession({
      view: t.view,
      file: t.file,
      keylog: t.keylog,
      // The trace sinks write whole lines ending in "\n"; io.err adds its own.
      stderr: text => { io.err(text.endsWith('\n') ? text.slice(0, -1) : text) }
    })
    return { switchOptions: session.switchOptions, close: session.close }
  } catch (err) {
    const which = t.keylog !== undefined && toError(err).message.includes(t.keylog) ? '--keylog' : '--trace-file'
    throw new CliError(`${which}: ${toError(err).message}`, { cause: err })
  }
}
