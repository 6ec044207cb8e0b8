import type { CliIo } from '../../src/cli/io.js'

/** A CliIo for running the CLI's `main` in-process: keeps every line it prints; no signal ever arrives. */
export function recordingIo (): CliIo & { stdout: string[], stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return {
    stdout,
    stderr,
    out: l => { stdout.push(l) },
    err: l => { stderr.push(l) },
    signal: new Promise<string>(() => {})
  }
}
