/** Run the compiled CLI and examples as child processes, every wait bounded. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

export interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Run `node <script> …args` to completion; killed (and rejected) after `timeoutMs`. */
export async function run (script: string, args: readonly string[], timeoutMs = 30_000): Promise<Finished> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  return await finish(child, timeoutMs, `${script} ${args.join(' ')}`)
}

function finish (child: ChildProcess, timeoutMs: number, what: string): Promise<Finished> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${what}: still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** The non-empty lines of `text`. */
export function lines (text: string): string[] {
  return text.split('\n').filter(l => l !== '')
}

/** A running `switchyard listen`. */
export class Listener {
  /** The multiaddrs of the LISTEN lines, `/p2p/<id>` included. */
  addrs: string[] = []
  stdout = ''
  stderr = ''
  private readonly exited: Promise<Finished>

  private constructor (readonly child: ChildProcess) {
    child.stdout?.on('data', (b: Buffer) => { this.stdout += b.toString() })
    child.stderr?.on('data', (b: Buffer) => { this.stderr += b.toString() })
    this.exited = new Promise(resolve => {
      child.on('close', (code, signal) => { resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }) })
    })
  }

  /** Spawn `listen …args` and wait (≤ timeoutMs) for `expected` LISTEN lines. */
  static async start (cli: string, args: readonly string[], expected = 1, timeoutMs = 15_000): Promise<Listener> {
    const l = new Listener(spawn(process.execPath, [cli, 'listen', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }))
    const until = Date.now() + timeoutMs
    while (lines(l.stdout).length < expected) {
      if (Date.now() > until || l.child.exitCode !== null) {
        l.child.kill('SIGKILL')
        throw new Error(
          `listen ${args.join(' ')}: expected ${expected} LISTEN lines, got stdout ${
            JSON.stringify(l.stdout)
          }, stderr ${JSON.stringify(l.stderr)}`
        )
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    l.addrs = lines(l.stdout).map(line => line.replace(/^LISTEN /, ''))
    return l
  }

  /**
   * Spawn `<cli> …argv` (a command that serves until signalled) and wait (≤ timeoutMs) until stdout matches `ready`.
   */
  static async startCommand (
    cli: string,
    argv: readonly string[],
    ready: RegExp,
    timeoutMs = 15_000
  ): Promise<Listener> {
    const l = new Listener(spawn(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }))
    const until = Date.now() + timeoutMs
    while (!ready.test(l.stdout)) {
      if (Date.now() > until || l.child.exitCode !== null) {
        l.child.kill('SIGKILL')
        throw new Error(
          `${argv.join(' ')}: stdout never matched ${String(ready)}: stdout ${JSON.stringify(l.stdout)}, stderr ${
            JSON.stringify(l.stderr)
          }`
        )
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return l
  }

  /** Send `signal` and wait (≤ timeoutMs) for the exit. */
  async stop (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<Finished> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        reject(new Error(`listen did not exit within ${timeoutMs} ms of ${signal}\nstderr: ${this.stderr}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}
