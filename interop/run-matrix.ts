/**
 * The interop matrix (`npm run test:interop`): switchyard's CLI against go-libp2p, rust-libp2p and
 * js-libp2p peers, in both directions, plus the foreign peers against each other as a baseline, so
 * a failure can be blamed on the right side.
 *
 * Every row is one (dialer, listener) pair: a fresh `<listener> listen`, then the dialer runs each
 * client command of the shared contract (interop/go/README.md "Command contract") against it:
 *
 *   stream    /test/stream-proto/1.0.0: the 11 tutorial lines, and the listener logged the request
 *   ping      3 pings on one /ipfs/ping/1.0.0 stream
 *   identify  /ipfs/id/1.0.0: the listener's peer id, agent, listen address, protocols, observed address
 *   perf      /perf/1.0.0: 16 MiB up + 16 MiB down with the byte counts checked; then 64 MiB one way
 *             each (upload only, download only) for the MiB/s of each direction
 *   streams   50 concurrent /switchyard/echo/1.0.0 streams of 64 KiB, every byte checked
 *   listen    the listener survived, printed one LISTEN line, and exits 0 on SIGTERM
 *   muxer     (rows with switchyard) early muxer negotiation, read off the wire through a recording
 *             proxy with switchyard's key log (interop/early-muxer.ts) and cross-checked with its
 *             trace: no `/yamux/1.0.0` multistream round when both sides announce yamux in the
 *             Noise payload (go, js, switchyard), a multistream round when one does not (rust)
 *
 * Cells run one at a time (perf figures need a quiet machine), each with a timeout; a failing cell
 * gives its reason (exit status and the last stderr line, or the failed check). The exit status
 * is 1 if any cell failed (or the peers could not be built), else 0.
 *
 * Usage: node dist/interop/run-matrix.js [--pairs a-b,c-d] [--skip-build] [--keep-logs] [--all-cells] [--perf-mib N]
 *   peers: sw (switchyard), go, rust, js; pair = <dialer>-<listener>
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeStart, observeWire, RecordingProxy, traceFacts } from './early-muxer.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const MiB = 1024 * 1024
const PERF_CHECK_BYTES = 16 * MiB
const PING_COUNT = 3
const STREAM_COUNT = 50
const CELL_TIMEOUT_MS = 120_000
const LISTEN_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000
const KILL_GRACE_MS = 5_000
const STREAM_PROTO_REQUEST_LOG = '[server] received from client: please send data'
const REQUIRED_PROTOCOLS = ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/perf/1.0.0', '/switchyard/echo/1.0.0', '/test/stream-proto/1.0.0']

// ───────────────────────────── peers ─────────────────────────────

type PeerName = 'sw' | 'go' | 'rust' | 'js'

interface Peer {
  name: PeerName
  label: string
  argv: string[]
  /** identify agentVersion prefix. */
  agent: string
  /** Sends `extensions.stream_muxers` in its Noise payload (digest §3.9). */
  announcesMuxers: boolean
}

const PEERS: Record<PeerName, Peer> = {
  sw: { name: 'sw', label: 'switchyard', argv: [process.execPath, join(ROOT, 'dist/src/cli.js')], agent: 'switchyard/', announcesMuxers: true },
  go: { name: 'go', label: 'go', argv: [join(ROOT, 'interop/go/bin/peer')], agent: 'switchyard-interop-go/', announcesMuxers: true },
  rust: { name: 'rust', label: 'rust', argv: [join(ROOT, 'interop/rust/target/interop/peer')], agent: 'switchyard-interop-rust/', announcesMuxers: false },
  js: { name: 'js', label: 'js', argv: [process.execPath, join(ROOT, 'dist/interop/js/peer.js')], agent: 'switchyard-interop-js/', announcesMuxers: true }
}

/** switchyard against every peer (both directions), then the foreign baseline. */
const DEFAULT_PAIRS = [
  'sw-go', 'go-sw', 'sw-rust', 'rust-sw', 'sw-js', 'js-sw', 'sw-sw',
  'go-go', 'rust-rust', 'js-js', 'go-rust', 'rust-go', 'go-js', 'js-go', 'rust-js', 'js-rust'
]

/**
 * Cells of foreign-only rows that fail for a reason outside switchyard (interop/js/README.md
 * "Known incompatibilities"); they are not run (shown as n/a with the reason) unless
 * `--all-cells`. Never used for a row with switchyard in it.
 */
const FOREIGN_INCOMPATIBILITIES: ReadonlyArray<{ peers: [PeerName, PeerName], cell: CellName, note: string }> = [{
  peers: ['js', 'rust'],
  cell: 'perf',
  note: 'not run: js-yamux 8.0.1 sends Data frames as large as the send window, which rust-yamux grows to 16 MiB, ' +
    'and rust-yamux 0.14.1 closes the connection on a frame over 1 MiB (frame/io.rs MAX_FRAME_BODY_LEN); --all-cells runs it'
}]

// ───────────────────────────── processes ─────────────────────────────

interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

/** SIGTERM after `timeoutMs`, SIGKILL 5 s later. */
async function run (argv: readonly string[], timeoutMs: number, logBase: string): Promise<RunResult> {
  const [cmd, ...args] = argv as [string, ...string[]]
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  let timedOut = false
  const term = setTimeout(() => { timedOut = true; child.kill('SIGTERM') }, timeoutMs)
  const kill = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs + KILL_GRACE_MS)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => {
    child.on('error', (err) => { stderr += `spawn failed: ${err.message}\n`; resolve([null, null]) })
    child.on('close', (c, s) => { resolve([c, s]) })
  })
  clearTimeout(term)
  clearTimeout(kill)
  writeFileSync(`${logBase}.out`, stdout)
  writeFileSync(`${logBase}.err`, stderr)
  return { code, signal, stdout, stderr, timedOut }
}

function lastLine (text: string): string {
  const lines = text.split('\n').map(l => l.trim()).filter(l => l !== '')
  return (lines.at(-1) ?? '(no stderr)').slice(0, 300)
}

function exitReason (r: RunResult, timeoutMs: number): string {
  if (r.timedOut) return `timed out after ${timeoutMs / 1000} s: ${lastLine(r.stderr)}`
  return `exit ${r.code ?? r.signal ?? '?'}: ${lastLine(r.stderr)}`
}

/** A running `listen`: its address, its stderr so far, and a SIGTERM stop. */
class Listener {
  private stdout = ''
  private stderrText = ''
  private exited: Promise<[number | null, NodeJS.Signals | null]>
  private exitStatus: [number | null, NodeJS.Signals | null] | undefined
  addr = ''

  private constructor (private readonly child: ReturnType<typeof spawn>, private readonly logBase: string) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => { this.stdout += s })
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderrText += s })
    this.exited = new Promise(resolve => {
      child.on('error', (err) => { this.stderrText += `spawn failed: ${err.message}\n`; this.exitStatus = [null, null]; resolve([null, null]) })
      child.on('close', (c, s) => { this.exitStatus = [c, s]; resolve([c, s]) })
    })
  }

  /** Start `peer listen [...extra]` and wait for its first LISTEN line. Throws with the reason. */
  static async start (peer: Peer, extra: readonly string[], logBase: string): Promise<Listener> {
    const [cmd, ...args] = peer.argv as [string, ...string[]]
    const l = new Listener(spawn(cmd, [...args, 'listen', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] }), logBase)
    const until = Date.now() + LISTEN_TIMEOUT_MS
    while (Date.now() < until && l.exitStatus === undefined) {
      const m = /^LISTEN (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/[1-9A-HJ-NP-Za-km-z]+)$/m.exec(l.stdout)
      if (m !== null) {
        l.addr = m[1] as string
        return l
      }
      await sleep(50)
    }
    const why = l.exitStatus !== undefined ? `exited (${l.exitStatus[0] ?? l.exitStatus[1]})` : `no LISTEN line within ${LISTEN_TIMEOUT_MS / 1000} s`
    await l.kill()
    throw new Error(`listener ${why}: ${lastLine(l.stderrText)}`)
  }

  get stderr (): string { return this.stderrText }
  get alive (): boolean { return this.exitStatus === undefined }
  get port (): number { return Number(/\/tcp\/(\d+)\//.exec(this.addr)?.[1]) }

  /** SIGTERM, wait up to 10 s; a listener still running is killed and reported as such. */
  async stop (): Promise<{ code: number | null, signal: NodeJS.Signals | null, stillRunning: boolean, listenLines: number }> {
    let stillRunning = false
    if (this.exitStatus === undefined) {
      this.child.kill('SIGTERM')
      const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)])
      if (!stopped) { stillRunning = true; await this.kill() }
    }
    const [code, signal] = await this.exited
    this.saveLogs()
    return { code, signal, stillRunning, listenLines: this.stdout.split('\n').filter(l => l.startsWith('LISTEN ')).length }
  }

  async kill (): Promise<void> {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL')
    await this.exited
    this.saveLogs()
  }

  private saveLogs (): void {
    writeFileSync(`${this.logBase}.listen.out`, this.stdout)
    writeFileSync(`${this.logBase}.listen.err`, this.stderrText)
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

// ───────────────────────────── cells ─────────────────────────────

type CellName = 'stream' | 'ping' | 'identify' | 'perf' | 'streams' | 'listen' | 'muxer'
const CELLS: readonly CellName[] = ['stream', 'ping', 'identify', 'perf', 'streams', 'listen', 'muxer']

type Status = 'PASS' | 'FAIL' | 'n/a'
interface Cell { status: Status, detail: string }

interface PerfFigures { checkedSeconds: number, uploadMiBs: number, downloadMiBs: number }

interface Row {
  dialer: Peer
  listener: Peer
  cells: Partial<Record<CellName, Cell>>
  perf?: PerfFigures
  seconds: number
}

const pass = (detail: string): Cell => ({ status: 'PASS', detail })
const fail = (detail: string): Cell => ({ status: 'FAIL', detail })

/** Raised by a check: the cell fails with this message. */
class CheckFailed extends Error {}

function check (ok: boolean, message: string): asserts ok {
  if (!ok) throw new CheckFailed(message)
}

function checkStream (r: RunResult, before: number, listener: Listener): string {
  const expected = Array.from({ length: 11 }, (_, i) => `[client] received from server: Part ${i}`).join('\n')
  check(r.stdout.trim() === expected, `client output is not the 11 tutorial lines: ${JSON.stringify(r.stdout.slice(0, 200))}`)
  check(countLines(listener.stderr, STREAM_PROTO_REQUEST_LOG) > before, `listener did not log '${STREAM_PROTO_REQUEST_LOG}'`)
  return 'Part 0 … Part 10, then EOF'
}

const countLines = (text: string, line: string): number => text.split('\n').filter(l => l === line).length

function checkPing (r: RunResult): string {
  const lines = r.stdout.split('\n').filter(l => l !== '')
  check(lines.length === PING_COUNT && lines.every(l => /^RTT \d+\.\d{3} ms$/.test(l)), `expected ${PING_COUNT} lines 'RTT <ms> ms', got ${JSON.stringify(lines)}`)
  return lines.map(l => l.split(' ')[1]).join(' ') + ' ms'
}

function checkIdentify (r: RunResult, listener: Peer, addr: string): string {
  const lines = r.stdout.split('\n').filter(l => l !== '')
  check(lines.length === 1, `expected one JSON line, got ${lines.length}`)
  const info = JSON.parse(lines[0] as string) as Record<string, unknown>
  for (const k of ['peerId', 'protocolVersion', 'agentVersion', 'listenAddrs', 'protocols', 'observedAddr']) check(k in info, `missing key ${k}`)
  const at = addr.lastIndexOf('/p2p/')
  check(info.peerId === addr.slice(at + 5), `peerId ${String(info.peerId)}, expected ${addr.slice(at + 5)}`)
  check(String(info.agentVersion).startsWith(listener.agent), `agentVersion ${String(info.agentVersion)}, expected ${listener.agent}…`)
  const listenAddrs = info.listenAddrs as string[]
  check(Array.isArray(listenAddrs) && listenAddrs.includes(addr.slice(0, at)), `listenAddrs ${JSON.stringify(listenAddrs)} lack ${addr.slice(0, at)}`)
  const protocols = info.protocols as string[]
  for (const p of REQUIRED_PROTOCOLS) check(Array.isArray(protocols) && protocols.includes(p), `protocols lack ${p}`)
  // js-libp2p sends its observed address with the observer's /p2p/<id> appended (its remoteAddr).
  const observed = String(info.observedAddr)
  check(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.test(observed), `observedAddr ${observed}`)
  return `agent ${String(info.agentVersion)}, ${protocols.length} protocols, observed ${observed.includes('/p2p/') ? 'with /p2p' : 'ip/tcp'}`
}

/** The final perf line; checks the byte counts. */
function perfFinal (r: RunResult, up: number, down: number): { timeSeconds: number } {
  const lines = r.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
  const final = lines.at(-1)
  check(final?.type === 'final', 'last perf line is not type final')
  check(final.uploadBytes === up && final.downloadBytes === down, `byte counts up ${String(final.uploadBytes)} down ${String(final.downloadBytes)}, expected ${up} and ${down}`)
  check(typeof final.timeSeconds === 'number' && final.timeSeconds > 0, `timeSeconds ${String(final.timeSeconds)}`)
  return { timeSeconds: final.timeSeconds }
}

// ───────────────────────────── rows ─────────────────────────────

interface Options { pairs: string[], skipBuild: boolean, keepLogs: boolean, allCells: boolean, perfDirectionBytes: number }

async function runRow (dialer: Peer, listener: Peer, opts: Options, logs: string): Promise<Row> {
  const started = Date.now()
  const tag = `${dialer.name}-${listener.name}`
  const row: Row = { dialer, listener, cells: {}, seconds: 0 }
  let l: Listener
  try {
    l = await Listener.start(listener, [], join(logs, tag))
  } catch (err) {
    for (const c of CELLS) row.cells[c] = fail((err as Error).message)
    row.cells.muxer = await muxerCell(dialer, listener, logs)
    row.seconds = (Date.now() - started) / 1000
    return row
  }
  const client = async (name: string, args: string[]): Promise<RunResult> =>
    await run([...dialer.argv, ...args], CELL_TIMEOUT_MS, join(logs, `${tag}.${name}`))
  /** A cell = one or more client runs; a non-zero exit or a failed check fails it. */
  const cell = async (name: CellName, body: () => Promise<string>): Promise<void> => {
    const incompatible = FOREIGN_INCOMPATIBILITIES.find(k => k.cell === name && dialer.name !== listener.name &&
      k.peers.includes(dialer.name) && k.peers.includes(listener.name))
    if (incompatible !== undefined && !opts.allCells) {
      row.cells[name] = { status: 'n/a', detail: incompatible.note }
      return
    }
    try {
      row.cells[name] = pass(await body())
    } catch (err) {
      row.cells[name] = fail((err as Error).message)
    }
  }
  const ok = (r: RunResult): RunResult => {
    if (r.code !== 0) throw new Error(exitReason(r, CELL_TIMEOUT_MS))
    return r
  }

  await cell('stream', async () => {
    const before = countLines(l.stderr, STREAM_PROTO_REQUEST_LOG)
    const r = ok(await client('stream', ['stream', l.addr]))
    await sleep(100) // the listener logs the request on its own schedule
    return checkStream(r, before, l)
  })
  await cell('ping', async () => checkPing(ok(await client('ping', ['ping', l.addr, '--count', String(PING_COUNT)]))))
  await cell('identify', async () => checkIdentify(ok(await client('identify', ['identify', l.addr])), listener, l.addr))
  await cell('perf', async () => {
    const perfArgs = (up: number, down: number): string[] => ['perf', l.addr, '--upload-bytes', String(up), '--download-bytes', String(down)]
    const checked = perfFinal(ok(await client('perf', perfArgs(PERF_CHECK_BYTES, PERF_CHECK_BYTES))), PERF_CHECK_BYTES, PERF_CHECK_BYTES)
    const n = opts.perfDirectionBytes
    const up = perfFinal(ok(await client('perf-up', perfArgs(n, 0))), n, 0)
    const down = perfFinal(ok(await client('perf-down', perfArgs(0, n))), 0, n)
    row.perf = { checkedSeconds: checked.timeSeconds, uploadMiBs: n / MiB / up.timeSeconds, downloadMiBs: n / MiB / down.timeSeconds }
    return `16+16 MiB in ${checked.timeSeconds.toFixed(3)} s; ${n / MiB} MiB up ${row.perf.uploadMiBs.toFixed(1)} MiB/s, down ${row.perf.downloadMiBs.toFixed(1)} MiB/s`
  })
  await cell('streams', async () => {
    const r = ok(await client('streams', ['streams', l.addr, '--count', String(STREAM_COUNT)]))
    check(r.stdout.trim() === `OK ${STREAM_COUNT}`, `expected 'OK ${STREAM_COUNT}', got ${JSON.stringify(r.stdout.slice(0, 200))}`)
    return `OK ${STREAM_COUNT}`
  })
  await cell('listen', async () => {
    check(l.alive, `listener died during the run: ${lastLine(l.stderr)}`)
    const s = await l.stop()
    check(!s.stillRunning, `listener still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM`)
    check(s.code === 0, `exit ${s.code ?? s.signal} on SIGTERM: ${lastLine(l.stderr)}`)
    check(s.listenLines === 1, `${s.listenLines} LISTEN lines on stdout`)
    return 'one LISTEN line, exit 0 on SIGTERM'
  })
  await l.kill()
  row.cells.muxer = await muxerCell(dialer, listener, logs)
  row.seconds = (Date.now() - started) / 1000
  return row
}

/**
 * The early-muxer check of one pair (needs switchyard on one side for its key log): a `stream`
 * run through a recording proxy, switchyard with `--keylog` and `--trace-file`.
 */
async function muxerCell (dialer: Peer, listener: Peer, logs: string): Promise<Cell> {
  if (dialer.name !== 'sw' && listener.name !== 'sw') return { status: 'n/a', detail: 'no switchyard side (needs its key log)' }
  const tag = `${dialer.name}-${listener.name}.muxer`
  const swArgs = (side: string): string[] => ['--keylog', join(logs, `${tag}.${side}.keylog`), '--trace-file', join(logs, `${tag}.${side}.trace.jsonl`)]
  const expectEarly = dialer.announcesMuxers && listener.announcesMuxers
  let l: Listener | undefined
  let proxy: RecordingProxy | undefined
  try {
    l = await Listener.start(listener, listener.name === 'sw' ? swArgs('listener') : [], join(logs, tag))
    proxy = await RecordingProxy.start(l.port)
    const viaProxy = l.addr.replace(/\/tcp\/\d+\//, `/tcp/${proxy.port}/`)
    const r = await run([...dialer.argv, 'stream', viaProxy, ...(dialer.name === 'sw' ? swArgs('dialer') : [])], CELL_TIMEOUT_MS, join(logs, `${tag}.stream`))
    if (r.code !== 0) return fail(`stream through the proxy: ${exitReason(r, CELL_TIMEOUT_MS)}`)
    const stopped = await l.stop() // flushes the listener's trace file
    check(stopped.code === 0, `listener exit ${stopped.code ?? stopped.signal} on SIGTERM`)
    check(proxy.recordings.length === 1, `${proxy.recordings.length} connections through the proxy, expected 1`)

    const sides = [...(dialer.name === 'sw' ? ['dialer'] : []), ...(listener.name === 'sw' ? ['listener'] : [])]
    const keylog = sides.map(s => readFileSync(join(logs, `${tag}.${s}.keylog`), 'utf8')).join('\n')
    const wire = observeWire(proxy.recordings[0] as Parameters<typeof observeWire>[0], keylog)
    const want = expectEarly ? 'early' : 'multistream'
    check(wire.mode === want, `wire: expected ${want}, saw dialer ${describeStart(wire.dialer)}, listener ${describeStart(wire.listener)}`)

    for (const side of sides) {
      const facts = traceFacts(readFileSync(join(logs, `${tag}.${side}.trace.jsonl`), 'utf8'))
      const remote = side === 'dialer' ? listener : dialer
      check(facts.connections === 1, `${side} trace: ${facts.connections} completed handshakes, expected 1`)
      const announced = facts.remoteStreamMuxers[0]
      check(remote.announcesMuxers === (announced?.includes('/yamux/1.0.0') ?? false),
        `${side} trace: remote ${remote.label} stream_muxers ${JSON.stringify(announced ?? null)}, expected ${remote.announcesMuxers ? 'a list with /yamux/1.0.0' : 'none'}`)
      if (expectEarly) {
        check(facts.earlyMuxers[0] === '/yamux/1.0.0' && facts.multistreamYamuxMessages === 0,
          `${side} trace: early muxer ${facts.earlyMuxers[0] ?? 'none'}, ${facts.multistreamYamuxMessages} multistream /yamux/1.0.0 messages`)
      } else {
        check(facts.earlyMuxers[0] === undefined && facts.multistreamYamuxMessages === 2,
          `${side} trace: early muxer ${facts.earlyMuxers[0] ?? 'none'}, ${facts.multistreamYamuxMessages} multistream /yamux/1.0.0 messages (expected 2: proposal and echo)`)
      }
    }
    return pass(expectEarly
      ? `early: yamux frames right after Noise msg 3 both ways (msg2 ${wire.msg2Length} B, msg3 ${wire.msg3Length} B)`
      : `multistream: ${describeStart(wire.dialer)} / echo (${[dialer, listener].filter(p => !p.announcesMuxers).map(p => p.label).join(', ')} announces no muxers)`)
  } catch (err) {
    return fail((err as Error).message)
  } finally {
    await proxy?.close()
    await l?.kill()
  }
}

// ───────────────────────────── report ─────────────────────────────

const rowLabel = (r: Row): string => `${r.dialer.label} -> ${r.listener.label}`

function pad (s: string, n: number): string { return s + ' '.repeat(Math.max(0, n - s.length)) }

function cellText (c: Cell | undefined, name: CellName): string {
  if (c === undefined) return '-'
  if (name === 'muxer' && c.status === 'PASS') return `PASS ${c.detail.split(':')[0] as string}`
  return c.status
}

function printReport (rows: Row[], versions: string[], seconds: number): { failed: number, passed: number } {
  const out: string[] = []
  out.push('', `interop matrix (${rows.length} rows, ${seconds.toFixed(0)} s)`, ...versions.map(v => `  ${v}`), '')
  const header = ['dialer -> listener', ...CELLS]
  const table = rows.map(r => [rowLabel(r), ...CELLS.map(c => cellText(r.cells[c], c))])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map(t => (t[i] as string).length)))
  const line = (cols: string[]): string => cols.map((c, i) => pad(c, widths[i] as number)).join(' | ').trimEnd()
  out.push(line(header), widths.map(w => '-'.repeat(w)).join('-+-'))
  for (const t of table) out.push(line(t))

  let failed = 0
  let passed = 0
  const failures: string[] = []
  const notRun: string[] = []
  for (const r of rows) {
    for (const c of CELLS) {
      const cell = r.cells[c]
      if (cell?.status === 'PASS') passed++
      if (cell?.status === 'FAIL') {
        failed++
        failures.push(`  ${rowLabel(r)} ${c}: ${cell.detail}`)
      }
      if (cell?.status === 'n/a' && c !== 'muxer') notRun.push(`  ${rowLabel(r)} ${c}: ${cell.detail}`)
    }
  }
  if (failures.length > 0) out.push('', 'FAIL (exit status and last stderr line, or the failed check):', ...failures)
  if (notRun.length > 0) out.push('', 'n/a:', ...notRun)

  out.push('', 'perf in MiB/s, one direction at a time, connection setup included (as libp2p/test-plans); "16+16 s" = the checked 16 MiB up + 16 MiB down run')
  const perfRows = rows.map(r => [rowLabel(r),
    r.perf !== undefined ? r.perf.uploadMiBs.toFixed(1) : '-',
    r.perf !== undefined ? r.perf.downloadMiBs.toFixed(1) : '-',
    r.perf !== undefined ? r.perf.checkedSeconds.toFixed(3) : '-'])
  const ph = ['dialer -> listener', 'upload', 'download', '16+16 s']
  const pw = ph.map((h, i) => Math.max(h.length, ...perfRows.map(p => (p[i] as string).length)))
  out.push(ph.map((h, i) => pad(h, pw[i] as number)).join(' | '))
  for (const p of perfRows) out.push(p.map((c, i) => i === 0 ? pad(c, pw[i] as number) : c.padStart(pw[i] as number)).join(' | '))

  const muxerRows = rows.filter(r => r.cells.muxer !== undefined && r.cells.muxer.status !== 'n/a')
  if (muxerRows.length > 0) {
    out.push('', 'early muxer negotiation (wire: decrypted through a recording proxy with switchyard\'s key log; cross-checked with its trace):')
    for (const r of muxerRows) out.push(`  ${rowLabel(r)}: ${r.cells.muxer?.status ?? ''} ${r.cells.muxer?.detail ?? ''}`)
  }
  out.push('', `${passed} PASS, ${failed} FAIL`)
  console.log(out.join('\n'))
  return { failed, passed }
}

// ───────────────────────────── main ─────────────────────────────

function parseOptions (argv: readonly string[]): Options {
  const opts: Options = { pairs: DEFAULT_PAIRS, skipBuild: false, keepLogs: false, allCells: false, perfDirectionBytes: 64 * MiB }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--pairs') opts.pairs = value().split(',').filter(p => p !== '')
    else if (a === '--skip-build') opts.skipBuild = true
    else if (a === '--keep-logs') opts.keepLogs = true
    else if (a === '--all-cells') opts.allCells = true
    else if (a === '--perf-mib') opts.perfDirectionBytes = Number(value()) * MiB
    else throw new Error(`unknown argument ${a}`)
  }
  for (const p of opts.pairs) {
    const [d, l] = p.split('-')
    if (!(d !== undefined && d in PEERS && l !== undefined && l in PEERS)) throw new Error(`pair ${p}: expected <dialer>-<listener> with peers ${Object.keys(PEERS).join(', ')}`)
  }
  if (!(opts.perfDirectionBytes > 0 && Number.isSafeInteger(opts.perfDirectionBytes))) throw new Error('--perf-mib expects a positive number')
  return opts
}

function versions (): string[] {
  const read = (p: string): string => existsSync(join(ROOT, p)) ? readFileSync(join(ROOT, p), 'utf8') : ''
  const goLibp2p = /github\.com\/libp2p\/go-libp2p (v[\w.-]+)/.exec(read('interop/go/go.mod'))?.[1] ?? '?'
  const rustLibp2p = /name = "libp2p"\nversion = "([^"]+)"/.exec(read('interop/rust/Cargo.lock'))?.[1] ?? '?'
  const rustYamux = /name = "yamux"\nversion = "([^"]+)"/g
  const yamuxVersions = [...read('interop/rust/Cargo.lock').matchAll(rustYamux)].map(m => m[1]).join('/')
  const pkg = (name: string): string => (JSON.parse(read(`node_modules/${name}/package.json`) || '{}') as { version?: string }).version ?? '?'
  const sw = (JSON.parse(read('package.json')) as { version: string }).version
  return [
    `switchyard ${sw} (node ${process.version})`,
    `go-libp2p ${goLibp2p} (interop/go)`,
    `rust-libp2p ${rustLibp2p}, yamux ${yamuxVersions} (interop/rust)`,
    `js-libp2p ${pkg('libp2p')}, @chainsafe/libp2p-noise ${pkg('@chainsafe/libp2p-noise')}, @chainsafe/libp2p-yamux ${pkg('@chainsafe/libp2p-yamux')} (interop/js)`
  ]
}

async function main (): Promise<number> {
  const opts = parseOptions(process.argv.slice(2))
  if (!opts.skipBuild) {
    const build = spawn('bash', [join(ROOT, 'interop/build.sh')], { stdio: ['ignore', 'inherit', 'inherit'] })
    const code = await new Promise<number | null>(resolve => { build.on('close', resolve) })
    if (code !== 0) {
      console.log('FAIL build: interop/build.sh could not build the go and rust peers (see above)')
      return 1
    }
  }
  for (const p of Object.values(PEERS)) {
    const bin = p.argv.at(-1) as string
    if (!existsSync(bin)) {
      console.log(`FAIL build: ${p.label} peer ${bin} is missing${p.argv.length > 1 ? ' (npm run build)' : ' (bash interop/build.sh)'}`)
      return 1
    }
  }
  const logs = mkdtempSync(join(tmpdir(), 'switchyard-matrix-'))
  const started = Date.now()
  const rows: Row[] = []
  for (const p of opts.pairs) {
    const [d, l] = p.split('-') as [PeerName, PeerName]
    const row = await runRow(PEERS[d], PEERS[l], opts, logs)
    rows.push(row)
    const bad = CELLS.filter(c => row.cells[c]?.status === 'FAIL')
    console.error(`[matrix] ${rowLabel(row)}: ${bad.length === 0 ? 'ok' : `FAIL ${bad.join(' ')}`} (${row.seconds.toFixed(1)} s)`)
  }
  const { failed } = printReport(rows, versions(), (Date.now() - started) / 1000)
  if (failed > 0 || opts.keepLogs) console.log(`logs kept in ${logs}`)
  else rmSync(logs, { recursive: true, force: true })
  return failed > 0 ? 1 : 0
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(`run-matrix: ${(err as Error).message}`)
  process.exitCode = 2
})
