/**
 * libp2p/test-plans transport-interop, locally: the runner's contract (its
 * transport-interop/README.md "Test spec") without Docker. For every (dialer, listener,
 * transport, security, muxer) case it starts a listener and a dialer process of the same entry
 * point each implementation gives test-plans — `switchyard transport-interop`, `peer
 * transport-interop` of interop/go, interop/rust and interop/js — configured by the environment
 * only (transport, muxer, security, is_dialer, ip, redis_addr, test_timeout_seconds), against a
 * real redis-server from Debian's packages (`apt-get install redis-server`), as test-plans' compose
 * file pairs each test with a Redis container.
 *
 * A case passes when the dialer exits 0 and its stdout is exactly one JSON object with the numbers
 * handshakePlusOneRTTMillis and pingRTTMilllis (the spec's spelling), and the listener was still
 * running (test-plans kills it once the dialer is done). The Redis list `listenerAddr` is emptied
 * before each case. Cases run `--jobs` at a time (default 3), each worker with a redis-server of
 * its own (the list name is fixed by the contract).
 *
 * switchyard's cases for a transport or security its CLI refuses as unsupported (a usage error,
 * exit 2, naming it) are n/a with that reason, unless `--require-switchyard` makes them failures;
 * the foreign cases always run. Exit status 1 if any case failed.
 *
 * Usage: node dist/interop/transport-interop.js [--impls sw,go,rust,js] [--transports tcp,ws,quic-v1]
 *          [--security noise,tls] [--jobs N] [--require-switchyard] [--keep-logs] [--redis-server <path>]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RedisClient } from '../src/cli/redis.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const CASE_TIMEOUT_SECONDS = 60
const REDIS_START_TIMEOUT_MS = 10_000

export type Impl = 'sw' | 'go' | 'rust' | 'js'
/** Each implementation's transport-interop entry point (built: npm run build, interop/build.sh). */
export const IMPLS: Record<Impl, { label: string, argv: string[] }> = {
  sw: { label: 'switchyard', argv: [process.execPath, join(ROOT, 'dist/src/cli.js'), 'transport-interop'] },
  go: { label: 'go', argv: [join(ROOT, 'interop/go/bin/peer'), 'transport-interop'] },
  rust: { label: 'rust', argv: [join(ROOT, 'interop/rust/target/interop/peer'), 'transport-interop'] },
  js: { label: 'js', argv: [process.execPath, join(ROOT, 'dist/interop/js/peer.js'), 'transport-interop'] }
}

export interface Case { dialer: Impl, listener: Impl, transport: string, security: string, muxer: string }
export interface CaseResult extends Case {
  status: 'PASS' | 'FAIL' | 'n/a'
  detail: string
  handshakePlusOneRTTMillis?: number
  pingRTTMilllis?: number
  seconds: number
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A free TCP port on loopback (bound and released; redis-server then binds it). */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** A redis-server on a free loopback port, no persistence; `stop()` ends it. */
export class RedisServer {
  private constructor (readonly child: ChildProcess, readonly addr: string, private readonly exited: Promise<void>) {}

  static async start (binary = 'redis-server'): Promise<RedisServer> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort()
      const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stdout?.on('data', (b: Buffer) => { output += b.toString() })
      child.stderr?.on('data', (b: Buffer) => { output += b.toString() })
      let gone = false
      const exited = new Promise<void>(resolve => { child.on('close', () => { gone = true; resolve() }) })
      const spawnError = new Promise<Error>(resolve => { child.on('error', resolve) })
      const addr = `127.0.0.1:${port}`
      const until = Date.now() + REDIS_START_TIMEOUT_MS
      while (Date.now() < until && !gone) {
        const ready = await Promise.race([
          RedisClient.connect(addr).then(async c => {
            const pong = await c.command('PING')
            c.close()
            return pong === 'PONG'
          }, () => false),
          spawnError.then(err => {
            throw new Error(`cannot run ${binary}: ${err.message} (Debian: apt-get install -y redis-server)`)
          })
        ])
        if (ready) return new RedisServer(child, addr, exited)
        await sleep(50)
      }
      child.kill('SIGKILL')
      await exited
      // Another process may have taken the port between freePort() and the bind: try another one.
      if (attempt >= 2) {
        throw new Error(`redis-server did not answer PING on ${addr}: ${output.trim().split('\n').at(-1) ?? ''}`)
      }
    }
  }

  async stop (): Promise<void> {
    this.child.kill('SIGTERM')
    await Promise.race([this.exited, sleep(5000).then(() => { this.child.kill('SIGKILL') })])
    await this.exited
  }
}

interface Proc { child: ChildProcess, stdout: string, stderr: string, exit: Promise<number | null> }

function start (argv: readonly string[], env: Record<string, string>): Proc {
  const [cmd, ...args] = argv as [string, ...string[]]
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const p: Proc = { child, stdout: '', stderr: '', exit: Promise.resolve(null) }
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { p.stdout += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { p.stderr += s })
  p.exit = new Promise(resolve => {
    child.on('error', (err) => { p.stderr += `spawn failed: ${err.message}\n`; resolve(null) })
    child.on('close', (code) => { resolve(code) })
  })
  return p
}

const lastLine = (text: string): string =>
  text.split('\n').map(l => l.trim()).filter(l => l !== '').at(-1)?.slice(0, 300) ?? '(no stderr)'

/** switchyard refused the configuration as unsupported (usage error naming it). */
const unsupported = (p: Proc, code: number | null): boolean =>
  code === 2 && /not supported by switchyard/.test(p.stderr)

export interface CaseOptions {
  /** The entry points (default IMPLS' argv). */
  argv?: Partial<Record<Impl, readonly string[]>>
  /** A configuration switchyard refuses as unsupported fails the case instead of n/a. */
  requireSwitchyard?: boolean
}

/** Run one case against the Redis server at `redisAddr`; logs go to `logBase.*`. */
export async function runCase (
  c: Case,
  redisAddr: string,
  logBase: string,
  options: CaseOptions = {}
): Promise<CaseResult> {
  const requireSwitchyard = options.requireSwitchyard ?? false
  const argvOf = (impl: Impl): readonly string[] => options.argv?.[impl] ?? IMPLS[impl].argv
  const started = Date.now()
  const result = (status: CaseResult['status'], detail: string, extra: Partial<CaseResult> = {}): CaseResult =>
    ({ ...c, status, detail, seconds: (Date.now() - started) / 1000, ...extra })
  const redis = await RedisClient.connect(redisAddr)
  try {
    await redis.command('DEL', 'listenerAddr')
  } finally {
    redis.close()
  }
  // a standalone transport (quic-v1) gets no muxer/security, as test-plans sets none for it
  const env = (dialer: boolean): Record<string, string> => ({
    transport: c.transport,
    ...(c.muxer === '' ? {} : { muxer: c.muxer }),
    ...(c.security === '' ? {} : { security: c.security }),
    is_dialer: String(dialer),
    ip: '127.0.0.1',
    redis_addr: redisAddr,
    test_timeout_seconds: String(CASE_TIMEOUT_SECONDS)
  })
  const listener = start(argvOf(c.listener), env(false))
  const dialer = start(argvOf(c.dialer), env(true))
  const kill = setTimeout(() => { dialer.child.kill('SIGKILL') }, (CASE_TIMEOUT_SECONDS + 10) * 1000)
  try {
    // A listener that exits early (refused its configuration) ends the case at once.
    const first = await Promise.race([
      dialer.exit.then(code => ({ who: 'dialer', code })),
      listener.exit.then(code => ({ who: 'listener', code }))
    ])
    if (first.who === 'listener') {
      dialer.child.kill('SIGTERM')
      await dialer.exit
      if (c.listener === 'sw' && unsupported(listener, first.code) && !requireSwitchyard) {
        return result('n/a', `switchyard: ${lastLine(listener.stderr)}`)
      }
      return result(
        'FAIL',
        `listener exited (${first.code ?? 'signal'}) before the dialer was done: ${lastLine(listener.stderr)}`
      )
    }
    const code = first.code
    if (code !== 0) {
      if (c.dialer === 'sw' && unsupported(dialer, code) && !requireSwitchyard) {
        return result('n/a', `switchyard: ${lastLine(dialer.stderr)}`)
      }
      return result(
        'FAIL',
        `dialer exit ${code ?? 'signal'}: ${lastLine(dialer.stderr)} (listener: ${lastLine(listener.stderr)})`
      )
    }
    const lines = dialer.stdout.split('\n').filter(l => l.trim() !== '')
    if (lines.length !== 1) {
      return result(
        'FAIL',
        `dialer stdout must be one JSON line, got ${lines.length}: ${JSON.stringify(dialer.stdout.slice(0, 200))}`
      )
    }
    let out: Record<string, unknown>
    try {
      out = JSON.parse(lines[0] as string) as Record<string, unknown>
    } catch {
      return result('FAIL', `dialer stdout is not JSON: ${JSON.stringify(lines[0])}`)
    }
    const keys = Object.keys(out).sort().join(',')
    if (keys !== 'handshakePlusOneRTTMillis,pingRTTMilllis') {
      return result('FAIL', `dialer JSON keys ${keys}, expected handshakePlusOneRTTMillis, pingRTTMilllis`)
    }
    const h = out.handshakePlusOneRTTMillis
    const p = out.pingRTTMilllis
    // p may be 0: js-libp2p's ping service measures whole milliseconds (Date.now()), < 1 ms on loopback reads 0.
    if (typeof h !== 'number' || typeof p !== 'number' || !(h > 0) || !(p >= 0) || p > h) {
      return result('FAIL', `implausible times: handshakePlusOneRTTMillis ${String(h)}, pingRTTMilllis ${String(p)}`)
    }
    if (listener.child.exitCode !== null) {
      return result(
        'FAIL',
        `listener exited (${listener.child.exitCode}) before it was killed: ${lastLine(listener.stderr)}`
      )
    }
    return result('PASS', `handshake+1RTT ${h.toFixed(1)} ms, ping ${p.toFixed(2)} ms`, {
      handshakePlusOneRTTMillis: h,
      pingRTTMilllis: p
    })
  } finally {
    clearTimeout(kill)
    // test-plans stops the listener when the dialer is done.
    listener.child.kill('SIGTERM')
    const stopped = await Promise.race([listener.exit.then(() => true), sleep(5000).then(() => false)])
    if (!stopped) { listener.child.kill('SIGKILL'); await listener.exit }
    writeFileSync(`${logBase}.dialer.out`, dialer.stdout)
    writeFileSync(`${logBase}.dialer.err`, dialer.stderr)
    writeFileSync(`${logBase}.listener.err`, listener.stderr)
  }
}

/** test-plans transports with their own security and streams (no `security`/`muxer` in the environment). */
const STANDALONE_TRANSPORTS = ['quic-v1']
/** Implementations without a Node/native QUIC: js-libp2p has none for Node.js. */
const NO_QUIC: readonly Impl[] = ['js']

/**
 * Every case of `impls` × `impls` × transports × securities with yamux, plus switchyard ↔ switchyard
 * over mplex; for quic-v1 one case per pair of implementations that have QUIC.
 */
export function cases (impls: readonly Impl[], transports: readonly string[], securities: readonly string[]): Case[] {
  const out: Case[] = []
  for (const transport of transports) {
    if (STANDALONE_TRANSPORTS.includes(transport)) {
      const quic = impls.filter(i => !NO_QUIC.includes(i))
      for (const dialer of quic) {
        for (const listener of quic) out.push({ dialer, listener, transport, security: '', muxer: '' })
      }
      continue
    }
    for (const security of securities) {
      for (const dialer of impls) {
        for (const listener of impls) out.push({ dialer, listener, transport, security, muxer: 'yamux' })
      }
      if (impls.includes('sw')) out.push({ dialer: 'sw', listener: 'sw', transport, security, muxer: 'mplex' })
    }
  }
  return out
}

async function main (): Promise<number> {
  const argv = process.argv.slice(2)
  let impls: Impl[] = ['sw', 'go', 'rust', 'js']
  let transports = ['tcp', 'ws', 'quic-v1']
  let securities = ['noise', 'tls']
  let jobs = 3
  let requireSwitchyard = false
  let keepLogs = false
  let redisBinary = 'redis-server'
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--impls') {
      impls = value().split(',') as Impl[]
      for (const x of impls) {
        if (!(x in IMPLS)) throw new Error(`--impls: unknown implementation ${x} (${Object.keys(IMPLS).join(', ')})`)
      }
    } else if (a === '--transports') transports = value().split(',')
    else if (a === '--security') securities = value().split(',')
    else if (a === '--jobs') jobs = Number(value())
    else if (a === '--require-switchyard') requireSwitchyard = true
    else if (a === '--keep-logs') keepLogs = true
    else if (a === '--redis-server') redisBinary = value()
    else throw new Error(`unknown argument ${a}`)
  }
  if (!(Number.isSafeInteger(jobs) && jobs >= 1 && jobs <= 16)) throw new Error('--jobs expects 1 … 16')
  for (const x of impls) {
    const bin = IMPLS[x].argv.length > 2 ? IMPLS[x].argv[1] as string : IMPLS[x].argv[0] as string
    if (!existsSync(bin)) {
      console.log(`FAIL build: ${IMPLS[x].label} entry point ${bin} is missing (npm run build; bash interop/build.sh)`)
      return 1
    }
  }
  const logs = mkdtempSync(join(tmpdir(), 'switchyard-transport-interop-'))
  const started = Date.now()
  const all = cases(impls, transports, securities)
  const servers = await Promise.all(
    Array.from({ length: Math.min(jobs, all.length) }, async () => await RedisServer.start(redisBinary))
  )
  const results: CaseResult[] = new Array(all.length)
  let next = 0
  try {
    await Promise.all(servers.map(async (server) => {
      while (next < all.length) {
        const i = next++
        const c = all[i] as Case
        const r = await runCase(
          c,
          server.addr,
          join(logs, `${c.transport}-${c.security}-${c.muxer}.${c.dialer}-${c.listener}`),
          { requireSwitchyard }
        )
        results[i] = r
        console.error(
          `[transport-interop] ${IMPLS[c.dialer].label} -> ${
            IMPLS[c.listener].label
          } ${c.transport}/${c.security}/${c.muxer}: ${r.status} ${r.detail}`
        )
      }
    }))
  } finally {
    await Promise.all(servers.map(async s => { await s.stop() }))
  }
  const failed = results.filter(r => r.status === 'FAIL')
  const na = results.filter(r => r.status === 'n/a')
  const out = [
    '',
    `transport-interop (libp2p/test-plans contract, local redis-server; ${results.length} cases, ${jobs} at a time, ${
      ((Date.now() - started) / 1000).toFixed(0)
    } s)`
  ]
  const widths = [30, 16]
  for (const r of results) {
    out.push(
      `${`${IMPLS[r.dialer].label} -> ${IMPLS[r.listener].label}`.padEnd(widths[0] as number)} ${
        `${r.transport}/${r.security}/${r.muxer}`.padEnd(widths[1] as number)
      } ${r.status} ${r.detail}`
    )
  }
  out.push('', `${results.length - failed.length - na.length} PASS, ${failed.length} FAIL, ${na.length} n/a`)
  console.log(out.join('\n'))
  if (failed.length > 0 || keepLogs) console.log(`logs kept in ${logs}`)
  else rmSync(logs, { recursive: true, force: true })
  return failed.length > 0 ? 1 : 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(code => { process.exitCode = code }, (err: unknown) => {
    console.error(`transport-interop: ${(err as Error).message}`)
    process.exitCode = 2
  })
}
