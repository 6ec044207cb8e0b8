#!/usr/bin/env node
/**
 * The `switchyard` executable (package.json `bin`): wires the process — argv, stdout, stderr,
 * SIGINT/SIGTERM, exit status — to the commands of src/cli/. See src/cli/main.ts for the contract.
 */
import { main, report } from './cli/main.js'
import type { CliIo } from './cli/io.js'

/** After the command is done, give the event loop this long to drain, then exit regardless. */
const EXIT_GRACE_MS = 2_000

function exit (code: number): void {
  process.exitCode = code
  setTimeout(() => { process.exit(code) }, EXIT_GRACE_MS).unref()
}

// A reader that went away (`switchyard … | head`) is not an error of ours.
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})

// The contract is one line per failure, never a stack trace, even for a bug.
process.on('uncaughtException', (err) => { process.exit(report(err, io)) })
process.on('unhandledRejection', (err) => { process.exit(report(err, io)) })

const signal = new Promise<string>(resolve => {
  let received = 0
  const on = (name: string): void => {
    if (++received > 1) process.exit(report(new Error(`${name} received again: exiting without a graceful stop`), io))
    resolve(name)
  }
  process.on('SIGINT', () => { on('SIGINT') })
  process.on('SIGTERM', () => { on('SIGTERM') })
})

const io: CliIo = {
  out: line => { process.stdout.write(line + '\n') },
  err: line => { process.stderr.write(line + '\n') },
  signal
}

exit(await main(process.argv.slice(2), io))
