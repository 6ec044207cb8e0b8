/**
 * The control channel between the bench process and its children (servers and clients): one JSON
 * object per line. The bench writes `{ id, cmd, args }` on the child's stdin; the child answers
 * `{ id, result }` or `{ id, error }` on its stdout. A child's first stdout line is
 * `{ ready: { ... } }` (a server puts its multiaddr there). Children log to stderr only.
 *
 * The go and rust bench peers (interop/go/bench.go, interop/rust/src/bench.rs) have no JSON
 * parser at hand, so they read commands as words instead (`wire: 'words'`):
 * `<id> <cmd> <name>=<value>...` — every value the bench sends is a number or a multiaddr, neither
 * of which contains spaces. Their answers are the same JSON lines.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json | undefined }

export type CommandHandler = (args: Record<string, Json>) => Promise<Json> | Json

/** Child side: answer commands from stdin until it closes, then exit. */
export function serveCommands (
  ready: Json,
  handlers: Record<string, CommandHandler>,
  onExit?: () => Promise<void>
): void {
  process.stdout.write(JSON.stringify({ ready }) + '\n')
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    let msg: { id: number, cmd: string, args?: Record<string, Json> }
    try { msg = JSON.parse(line) } catch { return }
    const h = handlers[msg.cmd]
    const reply = (body: Record<string, Json>): void => {
      process.stdout.write(JSON.stringify({ id: msg.id, ...body }) + '\n')
    }
    if (h === undefined) {
      reply({ error: `unknown command ${msg.cmd}` })
      return
    }
    Promise.resolve().then(async () => await h(msg.args ?? {})).then(
      (result) => { reply({ result }) },
      (err: unknown) => { reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }) }
    )
  })
  rl.on('close', () => {
    void (async () => {
      try { await onExit?.() } finally { process.exit(0) }
    })()
  })
}

/** Bench side: one child process and its command channel. */
export class Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly ready: Promise<Record<string, Json>>
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: Json) => void, reject: (e: Error) => void }>()
  private exited: Error | undefined

  private readonly wire: 'json' | 'words'

  /**
   * A Node child runs `script` (with `nodeFlags`); with `exec` the child is that program instead
   * (`script` is then unused) and speaks the `wire` given.
   */
  constructor (
    name: string,
    script: string,
    args: string[],
    options: { nodeFlags?: string[], prefix?: string[], exec?: string, wire?: 'json' | 'words' } = {}
  ) {
    this.name = name
    this.wire = options.wire ?? 'json'
    const program = options.exec === undefined
      ? [process.execPath, ...(options.nodeFlags ?? []), script]
      : [options.exec]
    const argv = [...(options.prefix ?? []), ...program, ...args]
    this.proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    let readyResolve!: (v: Record<string, Json>) => void
    let readyReject!: (e: Error) => void
    this.ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject })
    this.ready.catch(() => {})
    const stderr: string[] = []
    this.proc.stderr?.on('data', (d: Buffer) => {
      stderr.push(d.toString())
      if (stderr.length > 50) stderr.shift()
      if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(`[${name}] ${d.toString()}`)
    })
    const rl = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream })
    rl.on('line', (line) => {
      let msg: { id?: number, ready?: Record<string, Json>, result?: Json, error?: string }
      try { msg = JSON.parse(line) } catch { process.stderr.write(`[${name}] ${line}\n`); return }
      if (msg.ready !== undefined) { readyResolve(msg.ready); return }
      const w = this.waiting.get(msg.id ?? -1)
      if (w === undefined) return
      this.waiting.delete(msg.id as number)
      if (msg.error !== undefined) w.reject(new Error(`${name}: ${msg.error}`))
      else w.resolve(msg.result ?? null)
    })
    this.proc.on('exit', (code, signal) => {
      this.exited = new Error(
        `${name} exited (code ${String(code)}, signal ${String(signal)}); stderr:\n${stderr.join('').slice(-2000)}`
      )
      readyReject(this.exited)
      for (const w of this.waiting.values()) w.reject(this.exited)
      this.waiting.clear()
    })
  }

  /**
   * Send one command and wait for its answer; a child that does not answer within `timeoutMs` fails the bench (no
   * silent hang).
   */
  async call<T = Json> (cmd: string, args: Record<string, Json> = {}, timeoutMs = 300_000): Promise<T> {
    if (this.exited !== undefined) throw this.exited
    const id = this.nextId++
    let timer: ReturnType<typeof setTimeout> | undefined
    const p = new Promise<Json>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`${this.name}: "${cmd}" ${JSON.stringify(args)} did not answer within ${timeoutMs / 1000} s`))
      }, timeoutMs)
    })
    this.proc.stdin?.write(this.wire === 'json'
      ? JSON.stringify({ id, cmd, args }) + '\n'
      : [String(id), cmd, ...Object.entries(args).map(([k, v]) => `${k}=${String(v)}`)].join(' ') + '\n')
    try {
      return await p as T
    } finally {
      clearTimeout(timer)
    }
  }

  /** Close stdin (the child exits on its own), then kill it if it lingers. */
  async stop (timeoutMs = 5000): Promise<void> {
    if (this.exited !== undefined) return
    const gone = new Promise<void>(resolve => { this.proc.once('exit', () => { resolve() }) })
    this.proc.stdin?.end()
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, timeoutMs)
    await gone
    clearTimeout(timer)
  }
}
