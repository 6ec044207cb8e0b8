/**
 * Everything `--trace`, `--trace=hex`, `--trace-file <path>` and `--keylog <path>` turn on, in one
 * call, for the CLI (src/cli) and for programs embedding a switch:
 *
 *   const t = createTraceSession({ view: 'text', file: 'trace.jsonl', keylog: undefined, stderr })
 *   const sw = newStandardSwitch({ ...t.switchOptions })
 *   …
 *   await sw.stop(); await t.close()
 *
 * Nothing asked → no observer and no key log: the layers then pay nothing.
 */
import type { ConnectionInfo, TraceSink } from './tracer.js'
import { Tracer } from './tracer.js'
import { TextTraceSink } from './format-text.js'
import { JsonlTraceSink } from './format-jsonl.js'
import { KeyLogWriter, keyLogWarning } from './keylog.js'
import type { TraceObserver } from './observer.js'
import { toError } from '../errors.js'

export interface TraceSessionOptions {
  /** The text view on `stderr`: off, plain (`--trace`), or with hex dumps (`--trace=hex`). */
  view: 'off' | 'text' | 'hex'
  /** `--trace-file`: JSON Lines output path. */
  file?: string
  /** `--keylog`: Noise key log path (appended to). */
  keylog?: string
  /** Where the text view and the key log warning go. */
  stderr: (text: string) => void
  /** Time of day in UTC in the text view. */
  utc?: boolean
}

export interface TraceSession {
  /** Spread into the switch's options: `observer` and/or `keyLog`, only what was asked for. */
  readonly switchOptions: {
    observer?: (conn: ConnectionInfo) => TraceObserver
    keyLog?: (line: string) => void
  }
  /** The tracer, when a view or a file was asked for. */
  readonly tracer: Tracer | undefined
  /** Flush and close the outputs (after the switch has stopped). */
  close: () => Promise<void>
}

/**
 * Open the outputs asked for. Throws (a Node fs error naming the path) when a file cannot be
 * created, before any connection exists. The key log warning is printed here, once.
 */
export function createTraceSession (opts: TraceSessionOptions): TraceSession {
  const sinks: TraceSink[] = []
  if (opts.view !== 'off') {
    sinks.push(new TextTraceSink(opts.stderr, { hex: opts.view === 'hex', utc: opts.utc === true }))
  }
  if (opts.file !== undefined) sinks.push(new JsonlTraceSink(opts.file))
  const tracer = sinks.length > 0 ? new Tracer({ sinks }) : undefined
  const switchOptions: TraceSession['switchOptions'] = {}
  if (tracer !== undefined) switchOptions.observer = tracer.switchObserver
  if (opts.keylog !== undefined) {
    const writer = new KeyLogWriter(opts.keylog)
    opts.stderr(keyLogWarning(opts.keylog))
    let failed = false
    switchOptions.keyLog = line => {
      try {
        writer.write(line)
      } catch (err) {
        // A full disk must not take connections down with it; say so once.
        if (!failed) opts.stderr(`WARNING: --keylog ${opts.keylog ?? ''}: cannot write: ${toError(err).message}\n`)
        failed = true
      }
    }
  }
  return { switchOptions, tracer, close: async () => { await tracer?.close() } }
}
