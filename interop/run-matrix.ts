/**
 * The interop matrix (`npm run test:interop`): switchyard's CLI against go-libp2p, rust-libp2p and
 * js-libp2p peers, in both directions, plus the foreign peers against each other as a baseline, so
 * a failure can be blamed on the right side.
 *
 * Every row is one (dialer, listener) pair over one security/transport variant (noise/tcp,
 * tls/tcp, noise/ws, tls/ws; both sides offer only that security protocol; and quic-v1, whose TLS
 * 1.3 and streams are QUIC's own — js-libp2p has no QUIC for Node.js, its quic-v1 rows are n/a): a fresh
 * `<listener> listen`, then the dialer runs each client command of the shared contract
 * (interop/go/README.md "Command contract") against it:
 *
 *   stream    /test/stream-proto/1.0.0: the 11 tutorial lines, and the listener logged the request
 *   ping      3 pings on one /ipfs/ping/1.0.0 stream
 *   identify  /ipfs/id/1.0.0: the listener's peer id, agent, listen address, protocols, observed address
 *   perf      /perf/1.0.0: 16 MiB up + 16 MiB down with the byte counts checked; then 64 MiB one way
 *             each (upload only, download only) for the MiB/s of each direction
 *   streams   50 concurrent /switchyard/echo/1.0.0 streams of 64 KiB, every byte checked
 *   listen    the listener survived, printed one LISTEN line, and exits 0 on SIGTERM
 *   muxer     (noise/tcp rows with switchyard) early muxer negotiation, read off the wire through a
 *             recording proxy with switchyard's key log (interop/early-muxer.ts) and cross-checked
 *             with its trace: no `/yamux/1.0.0` multistream round when both sides announce yamux in
 *             the Noise payload (go, js, switchyard), a multistream round when one does not (rust)
 *
 * Then the security negotiation rows: a go listener offering `tls,noise` must end up with TLS
 * for a dialer preferring TLS (`--security tls,noise`) and with Noise for one offering only Noise
 * (read off the go listener's per-connection log line), for every dialer.
 *
 * switchyard's rows for a variant run when its CLI supports it, asked once at start (`listen
 * --security tls`, `listen --listen …/ws`, `ping --security tls,noise` must not be usage errors);
 * otherwise they are n/a with that reason, unless `--require-switchyard tls,ws,preference` makes
 * a missing capability a failure. The foreign rows always run.
 *
 * Phase 1 runs the rows `--jobs` at a time (default 3; ports are the OS's, logs are per row);
 * phase 2 then measures the perf figures (64 MiB one way each, connection setup included) one row
 * at a time for the tcp variants, on a machine left quiet by phase 1. Every client run has a
 * timeout; a failing cell gives its reason (exit status and the last stderr line, or the failed
 * check). The exit status is 1 if any cell failed (or the peers could not be built), else 0.
 *
 * Usage: node dist/interop/run-matrix.js [--pairs a-b,c-d] [--variants noise/tcp,tls/ws] [--jobs N]
 *          [--figures tcp|all|none] [--require-switchyard tls,ws,preference] [--skip-build]
 *          [--keep-logs] [--all-cells] [--perf-mib N]
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
const REQUIRED_PROTOCOLS = [
  '/ipfs/id/1.0.0',
  '/ipfs/ping/1.0.0',
  '/perf/1.0.0',
  '/switchyard/echo/1.0.0',
  '/test/stream-proto/1.0.0'
]

// ───────────────────────────── peers ─────────────────────────────

type PeerName = 'sw' | 'go' | 'rust' | 'js'
type SecurityName = 'noise' | 'tls'
type TransportName = 'tcp' | 'ws' | 'quic'

/** One security protocol over one transport; both sides of a row offer only that. */
interface Variant { security: SecurityName, transport: TransportName }
/** QUIC brings its own TLS 1.3 and streams: its one variant is labelled `quic-v1` (parsed from `tls/quic` too). */
const variantLabel = (v: Variant): string => v.transport === 'quic' ? 'quic-v1' : `${v.security}/${v.transport}`
const VARIANTS: readonly Variant[] = [
  { security: 'noise', transport: 'tcp' },
  { security: 'tls', transport: 'tcp' },
  { security: 'noise', transport: 'ws' },
  { security: 'tls', transport: 'ws' },
  { security: 'tls', transport: 'quic' }
]
/** Peers without a QUIC transport: js-libp2p has none for Node.js (only browsers' WebTransport/WebRTC). */
const NO_QUIC: ReadonlySet<PeerName> = new Set(['js'])
/** libp2p multistream ids of the security protocols (noise-libp2p, libp2p specs tls/tls.md). */
const SECURITY_IDS: Record<SecurityName, string> = { noise: '/noise', tls: '/tls/1.0.0' }

interface Peer {
  name: PeerName
  label: string
  argv: string[]
  /** identify agentVersion prefix. */
  agent: string
  /** Sends `extensions.stream_muxers` in its Noise payload (digest §3.9). */
  announcesMuxers: boolean
  /** Extra `listen` arguments for a variant. */
  listenArgs: (v: Variant) => string[]
  /** Extra client arguments for a variant (`security` may be a preference list, e.g. `tls,noise`). */
  clientArgs: (security: string) => string[]
}

/** The go, rust and js peers share the options `--security <list>` and `--transport tcp|ws`. */
const foreignListenArgs = (v: Variant): string[] =>
  v.transport === 'quic'
    ? ['--transport', 'quic']
    : v.security === 'noise' && v.transport === 'tcp'
      ? []
      : ['--security', v.security, '--transport', v.transport]
const foreignClientArgs = (security: string): string[] => security === 'noise' ? [] : ['--security', security]
/**
 * switchyard's CLI: `--security <name>` (its listener offers every registered protocol by default), and a /ws listen
 * address.
 */
const swListenArgs = (v: Variant): string[] => [
  '--security', v.security,
  ...(v.transport === 'ws' ? ['--listen', '/ip4/127.0.0.1/tcp/0/ws'] : []),
  ...(v.transport === 'quic' ? ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1'] : [])
]

const PEERS: Record<PeerName, Peer> = {
  sw: {
    name: 'sw',
    label: 'switchyard',
    argv: [process.execPath, join(ROOT, 'dist/src/cli.js')],
    agent: 'switchyard/',
    announcesMuxers: true,
    listenArgs: swListenArgs,
    clientArgs: foreignClientArgs
  },
  go: {
    name: 'go',
    label: 'go',
    argv: [join(ROOT, 'interop/go/bin/peer')],
    agent: 'switchyard-interop-go/',
    announcesMuxers: true,
    listenArgs: foreignListenArgs,
    clientArgs: foreignClientArgs
  },
  rust: {
    name: 'rust',
    label: 'rust',
    argv: [join(ROOT, 'interop/rust/target/interop/peer')],
    agent: 'switchyard-interop-rust/',
    announcesMuxers: false,
    listenArgs: foreignListenArgs,
    clientArgs: foreignClientArgs
  },
  js: {
    name: 'js',
    label: 'js',
    argv: [process.execPath, join(ROOT, 'dist/interop/js/peer.js')],
    agent: 'switchyard-interop-js/',
    announcesMuxers: true,
    listenArgs: foreignListenArgs,
    clientArgs: foreignClientArgs
  }
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
      child.on('error', (err) => {
        this.stderrText += `spawn failed: ${err.message}\n`
        this.exitStatus = [null, null]
        resolve([null, null])
      })
      child.on('close', (c, s) => {
        this.exitStatus = [c, s]
        resolve([c, s])
      })
    })
  }

  /** Start `peer listen [...extra]` and wait for its first LISTEN line. Throws with the reason. */
  static async start (peer: Peer, extra: readonly string[], logBase: string): Promise<Listener> {
    const [cmd, ...args] = peer.argv as [string, ...string[]]
    const l = new Listener(spawn(cmd, [...args, 'listen', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] }), logBase)
    const until = Date.now() + LISTEN_TIMEOUT_MS
    while (Date.now() < until && l.exitStatus === undefined) {
      const m = /^LISTEN (\/ip4\/127\.0\.0\.1\/(?:tcp\/\d+(?:\/ws)?|udp\/\d+\/quic-v1)\/p2p\/[1-9A-HJ-NP-Za-km-z]+)$/m
        .exec(l.stdout)
      if (m !== null) {
        l.addr = m[1] as string
        return l
      }
      await sleep(50)
    }
    const why = l.exitStatus !== undefined
      ? `exited (${l.exitStatus[0] ?? l.exitStatus[1]})`
      : `no LISTEN line within ${LISTEN_TIMEOUT_MS / 1000} s`
    await l.kill()
    throw new Error(`listener ${why}: ${lastLine(l.stderrText)}`)
  }

  get stderr (): string { return this.stderrText }
  get alive (): boolean { return this.exitStatus === undefined }
  get port (): number { return Number(/\/tcp\/(\d+)\//.exec(this.addr)?.[1]) }

  /** SIGTERM, wait up to 10 s; a listener still running is killed and reported as such. */
  async stop (): Promise<
    { code: number | null, signal: NodeJS.Signals | null, stillRunning: boolean, listenLines: number }
  > {
    let stillRunning = false
    if (this.exitStatus === undefined) {
      this.child.kill('SIGTERM')
      const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)])
      if (!stopped) { stillRunning = true; await this.kill() }
    }
    const [code, signal] = await this.exited
    this.saveLogs()
    return {
      code,
      signal,
      stillRunning,
      listenLines: this.stdout.split('\n').filter(l => l.startsWith('LISTEN ')).length
    }
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

interface PerfFigures { checkedSeconds: number, uploadMiBs?: number, downloadMiBs?: number }

interface Row {
  dialer: Peer
  listener: Peer
  variant: Variant
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
  check(
    r.stdout.trim() === expected,
    `client output is not the 11 tutorial lines: ${JSON.stringify(r.stdout.slice(0, 200))}`
  )
  check(
    countLines(listener.stderr, STREAM_PROTO_REQUEST_LOG) > before,
    `listener did not log '${STREAM_PROTO_REQUEST_LOG}'`
  )
  return 'Part 0 … Part 10, then EOF'
}

const countLines = (text: string, line: string): number => text.split('\n').filter(l => l === line).length

function checkPing (r: RunResult): string {
  const lines = r.stdout.split('\n').filter(l => l !== '')
  check(
    lines.length === PING_COUNT && lines.every(l => /^RTT \d+\.\d{3} ms$/.test(l)),
    `expected ${PING_COUNT} lines 'RTT <ms> ms', got ${JSON.stringify(lines)}`
  )
  return lines.map(l => l.split(' ')[1]).join(' ') + ' ms'
}

function checkIdentify (r: RunResult, listener: Peer, addr: string): string {
  const lines = r.stdout.split('\n').filter(l => l !== '')
  check(lines.length === 1, `expected one JSON line, got ${lines.length}`)
  const info = JSON.parse(lines[0] as string) as Record<string, unknown>
  for (const k of ['peerId', 'protocolVersion', 'agentVersion', 'listenAddrs', 'protocols', 'observedAddr']) {
    check(k in info, `missing key ${k}`)
  }
  const at = addr.lastIndexOf('/p2p/')
  check(info.peerId === addr.slice(at + 5), `peerId ${String(info.peerId)}, expected ${addr.slice(at + 5)}`)
  check(
    String(info.agentVersion).startsWith(listener.agent),
    `agentVersion ${String(info.agentVersion)}, expected ${listener.agent}…`
  )
  const listenAddrs = info.listenAddrs as string[]
  check(
    Array.isArray(listenAddrs) && listenAddrs.includes(addr.slice(0, at)),
    `listenAddrs ${JSON.stringify(listenAddrs)} lack ${addr.slice(0, at)}`
  )
  const protocols = info.protocols as string[]
  for (const p of REQUIRED_PROTOCOLS) check(Array.isArray(protocols) && protocols.includes(p), `protocols lack ${p}`)
  // js-libp2p sends its observed address with the observer's /p2p/<id> appended (its remoteAddr).
  const observed = String(info.observedAddr)
  check(
    /^\/ip4\/127\.0\.0\.1\/(tcp\/\d+(\/ws)?|udp\/\d+\/quic-v1)(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.test(observed),
    `observedAddr ${observed}`
  )
  return `agent ${String(info.agentVersion)}, ${protocols.length} protocols, observed ${
    observed.includes('/p2p/') ? 'with /p2p' : 'ip/tcp'
  }`
}

/** The final perf line; checks the byte counts. */
function perfFinal (r: RunResult, up: number, down: number): { timeSeconds: number } {
  const lines = r.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
  const final = lines.at(-1)
  check(final?.type === 'final', 'last perf line is not type final')
  check(
    final.uploadBytes === up && final.downloadBytes === down,
    `byte counts up ${String(final.uploadBytes)} down ${String(final.downloadBytes)}, expected ${up} and ${down}`
  )
  check(typeof final.timeSeconds === 'number' && final.timeSeconds > 0, `timeSeconds ${String(final.timeSeconds)}`)
  return { timeSeconds: final.timeSeconds }
}

// ───────────────────────────── rows ─────────────────────────────

interface Options {
  pairs: string[]
  variants: Variant[]
  jobs: number
  figures: 'tcp' | 'all' | 'none'
  requireSwitchyard: Set<Capability>
  skipBuild: boolean
  keepLogs: boolean
  allCells: boolean
  perfDirectionBytes: number
}

/** What switchyard's CLI supports beyond noise/tcp, asked at start (`probeSwitchyard`). */
type Capability = 'tls' | 'ws' | 'preference' | 'quic'
type Capabilities = Record<Capability, { ok: boolean, detail: string }>

const rowTag = (d: Peer, l: Peer, v: Variant): string => `${v.security}-${v.transport}.${d.name}-${l.name}`

/** Why switchyard cannot take part in a variant (undefined: it can). */
function swMissing (v: Variant, caps: Capabilities): Capability | undefined {
  if (v.security === 'tls' && !caps.tls.ok) return 'tls'
  if (v.transport === 'ws' && !caps.ws.ok) return 'ws'
  if (v.transport === 'quic' && !caps.quic.ok) return 'quic'
  return undefined
}

/** Phase 1 of a row: every cell but the perf figures. */
async function runRow (
  dialer: Peer,
  listener: Peer,
  variant: Variant,
  opts: Options,
  caps: Capabilities,
  logs: string
): Promise<Row> {
  const started = Date.now()
  const tag = rowTag(dialer, listener, variant)
  const row: Row = { dialer, listener, variant, cells: {}, seconds: 0 }
  if (variant.transport === 'quic' && (NO_QUIC.has(dialer.name) || NO_QUIC.has(listener.name))) {
    for (const c of CELLS) row.cells[c] = { status: 'n/a', detail: 'js-libp2p has no QUIC transport for Node.js' }
    return row
  }
  const missing = dialer.name === 'sw' || listener.name === 'sw' ? swMissing(variant, caps) : undefined
  if (missing !== undefined) {
    const why = `switchyard's CLI has no ${missing} yet (${caps[missing].detail})`
    for (const c of CELLS) {
      row.cells[c] = opts.requireSwitchyard.has(missing)
        ? fail(`${why}; --require-switchyard ${missing}`)
        : { status: 'n/a', detail: why }
    }
    return row
  }
  const muxerApplies = variant.security === 'noise' && variant.transport === 'tcp'
  let l: Listener
  try {
    l = await Listener.start(listener, listener.listenArgs(variant), join(logs, tag))
  } catch (err) {
    for (const c of CELLS) row.cells[c] = fail((err as Error).message)
    row.cells.muxer = muxerApplies ? await muxerCell(dialer, listener, logs) : muxerNotApplicable
    row.seconds = (Date.now() - started) / 1000
    return row
  }
  const extra = dialer.clientArgs(variant.security)
  const client = async (name: string, args: string[]): Promise<RunResult> =>
    await run([...dialer.argv, ...args, ...extra], CELL_TIMEOUT_MS, join(logs, `${tag}.${name}`))
  /** A cell = one or more client runs; a non-zero exit or a failed check fails it. */
  const cell = async (name: CellName, body: () => Promise<string>): Promise<void> => {
    const incompatible = foreignIncompatibility(dialer, listener, name)
    if (incompatible !== undefined && !opts.allCells) {
      row.cells[name] = { status: 'n/a', detail: incompatible }
      return
    }
    try {
      row.cells[name] = pass(await body())
    } catch (err) {
      row.cells[name] = fail((err as Error).message)
    }
  }

  await cell('stream', async () => {
    const before = countLines(l.stderr, STREAM_PROTO_REQUEST_LOG)
    const r = ok(await client('stream', ['stream', l.addr]))
    await sleep(100) // the listener logs the request on its own schedule
    return checkStream(r, before, l)
  })
  await cell('ping', async () => checkPing(ok(await client('ping', ['ping', l.addr, '--count', String(PING_COUNT)]))))
  await cell(
    'identify',
    async () => checkIdentify(ok(await client('identify', ['identify', l.addr])), listener, l.addr)
  )
  await cell('perf', async () => {
    const args = [
      'perf',
      l.addr,
      '--upload-bytes',
      String(PERF_CHECK_BYTES),
      '--download-bytes',
      String(PERF_CHECK_BYTES)
    ]
    const checked = perfFinal(ok(await client('perf', args)), PERF_CHECK_BYTES, PERF_CHECK_BYTES)
    row.perf = { checkedSeconds: checked.timeSeconds }
    return `16+16 MiB in ${checked.timeSeconds.toFixed(3)} s`
  })
  await cell('streams', async () => {
    const r = ok(await client('streams', ['streams', l.addr, '--count', String(STREAM_COUNT)]))
    check(
      r.stdout.trim() === `OK ${STREAM_COUNT}`,
      `expected 'OK ${STREAM_COUNT}', got ${JSON.stringify(r.stdout.slice(0, 200))}`
    )
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
  row.cells.muxer = muxerApplies ? await muxerCell(dialer, listener, logs) : muxerNotApplicable
  row.seconds = (Date.now() - started) / 1000
  return row
}

const muxerNotApplicable: Cell = {
  status: 'n/a',
  detail: 'the early-muxer check reads Noise over plain TCP (noise/tcp rows)'
}

function foreignIncompatibility (dialer: Peer, listener: Peer, cell: CellName): string | undefined {
  return FOREIGN_INCOMPATIBILITIES.find(k => k.cell === cell && dialer.name !== listener.name &&
    k.peers.includes(dialer.name) && k.peers.includes(listener.name))?.note
}

const ok = (r: RunResult): RunResult => {
  if (r.code !== 0) throw new Error(exitReason(r, CELL_TIMEOUT_MS))
  return r
}

/**
 * Phase 2 of a row whose perf cell passed: the MiB/s of each direction, 64 MiB upload only and
 * 64 MiB download only against a fresh listener, one row at a time (connection setup included, as
 * libp2p/test-plans perf). A failure fails the perf cell.
 */
async function runFigures (row: Row, opts: Options, logs: string): Promise<void> {
  const { dialer, listener, variant } = row
  const tag = `${rowTag(dialer, listener, variant)}.figures`
  const n = opts.perfDirectionBytes
  let l: Listener | undefined
  try {
    l = await Listener.start(listener, listener.listenArgs(variant), join(logs, tag))
    const addr = l.addr
    const once = async (name: string, up: number, down: number): Promise<number> => {
      const args = [
        'perf',
        addr,
        '--upload-bytes',
        String(up),
        '--download-bytes',
        String(down),
        ...dialer.clientArgs(variant.security)
      ]
      return perfFinal(
        ok(await run([...dialer.argv, ...args], CELL_TIMEOUT_MS, join(logs, `${tag}.${name}`))),
        up,
        down
      ).timeSeconds
    }
    const upSeconds = await once('up', n, 0)
    const downSeconds = await once('down', 0, n)
    row.perf = {
      checkedSeconds: row.perf?.checkedSeconds ?? 0,
      uploadMiBs: n / MiB / upSeconds,
      downloadMiBs: n / MiB / downSeconds
    }
    const c = row.cells.perf as Cell
    c.detail += `; ${n / MiB} MiB up ${row.perf.uploadMiBs?.toFixed(1) ?? '?'} MiB/s, down ${
      row.perf.downloadMiBs?.toFixed(1) ?? '?'
    } MiB/s`
  } catch (err) {
    row.cells.perf = fail(`figures: ${(err as Error).message}`)
  } finally {
    await l?.kill()
  }
}

// ───────────────────────────── security negotiation ─────────────────────────────

interface NegotiationRow { dialer: Peer, offer: string, expected: string, cell: Cell }

/**
 * A go listener offering `tls,noise`; each dialer pings it once preferring TLS (`tls,noise`) and
 * once offering only Noise. The go listener logs the security of every connection; the last such
 * line after each run must name the expected protocol. One listener, runs one after another.
 */
async function runNegotiation (
  dialers: Peer[],
  caps: Capabilities,
  opts: Options,
  logs: string
): Promise<NegotiationRow[]> {
  const out: NegotiationRow[] = []
  const listener = PEERS.go
  const attempts = dialers.flatMap(
    d => [{ d, offer: 'tls,noise', expected: SECURITY_IDS.tls }, { d, offer: 'noise', expected: SECURITY_IDS.noise }]
  )
  let l: Listener | undefined
  try {
    l = await Listener.start(listener, ['--security', 'tls,noise'], join(logs, 'negotiation.go'))
  } catch (err) {
    return attempts.map(a => ({
      dialer: a.d,
      offer: a.offer,
      expected: a.expected,
      cell: fail((err as Error).message)
    }))
  }
  try {
    for (const { d, offer, expected } of attempts) {
      const row: NegotiationRow = { dialer: d, offer, expected, cell: fail('not run') }
      out.push(row)
      const needs: Capability[] = d.name !== 'sw' ? [] : offer.includes('tls') ? ['tls', 'preference'] : []
      const missing = needs.find(c => !caps[c].ok)
      if (missing !== undefined) {
        const why = `switchyard's CLI has no ${missing} yet (${caps[missing].detail})`
        row.cell = opts.requireSwitchyard.has(missing)
          ? fail(`${why}; --require-switchyard ${missing}`)
          : { status: 'n/a', detail: why }
        continue
      }
      try {
        const before = securityLines(l.stderr).length
        ok(
          await run(
            [...d.argv, 'ping', l.addr, ...d.clientArgs(offer)],
            CELL_TIMEOUT_MS,
            join(logs, `negotiation.${d.name}-go.${offer}`)
          )
        )
        let lines = securityLines(l.stderr)
        for (let i = 0; i < 40 && lines.length <= before; i++) { await sleep(50); lines = securityLines(l.stderr) }
        const got = lines.at(-1)
        check(lines.length > before && got !== undefined, 'the go listener logged no new connection')
        check(got === expected, `go listener negotiated ${got}, expected ${expected}`)
        row.cell = pass(`go listener: security ${got}`)
      } catch (err) {
        row.cell = fail((err as Error).message)
      }
    }
  } finally {
    await l.kill()
  }
  return out
}

/** The security protocol of every `[listen] connection from … : security <id>, …` line (go peer). */
const securityLines = (stderr: string): string[] =>
  [...stderr.matchAll(/^\[listen\] connection from .*: security (\S+),/gm)].map(m => m[1] as string)

// ───────────────────────────── switchyard's capabilities ─────────────────────────────

/**
 * Ask switchyard's CLI what it supports: a variant is supported when the command that needs it is
 * not refused as a usage error (exit status 2) — `listen --security tls` and `listen --listen
 * /ip4/127.0.0.1/tcp/0/ws` print a LISTEN line, and `ping … --security tls,noise` (a preference
 * list) gets past argument parsing. The answer comes from the CLI itself, so the matrix needs no
 * change when TLS or WebSocket land.
 */
async function probeSwitchyard (logs: string): Promise<Capabilities> {
  const sw = PEERS.sw
  const listenProbe = async (
    name: string,
    args: string[],
    expect: RegExp
  ): Promise<{ ok: boolean, detail: string }> => {
    try {
      const l = await Listener.start(sw, args, join(logs, `probe.${name}`))
      const okLine = expect.test(l.addr)
      await l.stop()
      return {
        ok: okLine,
        detail: okLine ? `listen ${args.join(' ')}: ${l.addr}` : `listen ${args.join(' ')} printed ${l.addr}`
      }
    } catch (err) {
      return { ok: false, detail: `listen ${args.join(' ')}: ${(err as Error).message}` }
    }
  }
  const tls = await listenProbe('tls', ['--security', 'tls'], /\/tcp\/\d+\/p2p\//)
  const ws = await listenProbe('ws', ['--listen', '/ip4/127.0.0.1/tcp/0/ws'], /\/ws\/p2p\//)
  const quic = await listenProbe('quic', ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], /\/quic-v1\/p2p\//)
  // A preference list: parsed before any dial (an unreachable target then fails at runtime, exit 1).
  const target = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
  const r = await run([...sw.argv, 'ping', target, '--security', 'tls,noise'], 30_000, join(logs, 'probe.preference'))
  const preference = {
    ok: tls.ok && r.code !== 2,
    detail: r.code === 2
      ? `ping --security tls,noise: ${lastLine(r.stderr)}`
      : tls.ok
        ? 'ping --security tls,noise accepted'
        : 'needs tls'
  }
  return { tls, ws, preference, quic }
}

/**
 * The early-muxer check of one pair (needs switchyard on one side for its key log): a `stream`
 * run through a recording proxy, switchyard with `--keylog` and `--trace-file`.
 */
async function muxerCell (dialer: Peer, listener: Peer, logs: string): Promise<Cell> {
  if (dialer.name !== 'sw' && listener.name !== 'sw') {
    return { status: 'n/a', detail: 'no switchyard side (needs its key log)' }
  }
  const tag = `${dialer.name}-${listener.name}.muxer`
  const swArgs = (
    side: string
  ): string[] => [
    '--keylog',
    join(logs, `${tag}.${side}.keylog`),
    '--trace-file',
    join(logs, `${tag}.${side}.trace.jsonl`)
  ]
  const expectEarly = dialer.announcesMuxers && listener.announcesMuxers
  let l: Listener | undefined
  let proxy: RecordingProxy | undefined
  try {
    l = await Listener.start(listener, listener.name === 'sw' ? swArgs('listener') : [], join(logs, tag))
    proxy = await RecordingProxy.start(l.port)
    const viaProxy = l.addr.replace(/\/tcp\/\d+\//, `/tcp/${proxy.port}/`)
    const r = await run(
      [...dialer.argv, 'stream', viaProxy, ...(dialer.name === 'sw' ? swArgs('dialer') : [])],
      CELL_TIMEOUT_MS,
      join(logs, `${tag}.stream`)
    )
    if (r.code !== 0) return fail(`stream through the proxy: ${exitReason(r, CELL_TIMEOUT_MS)}`)
    const stopped = await l.stop() // flushes the listener's trace file
    check(stopped.code === 0, `listener exit ${stopped.code ?? stopped.signal} on SIGTERM`)
    check(proxy.recordings.length === 1, `${proxy.recordings.length} connections through the proxy, expected 1`)

    const sides = [...(dialer.name === 'sw' ? ['dialer'] : []), ...(listener.name === 'sw' ? ['listener'] : [])]
    const keylog = sides.map(s => readFileSync(join(logs, `${tag}.${s}.keylog`), 'utf8')).join('\n')
    const wire = observeWire(proxy.recordings[0] as Parameters<typeof observeWire>[0], keylog)
    const want = expectEarly ? 'early' : 'multistream'
    check(
      wire.mode === want,
      `wire: expected ${want}, saw dialer ${describeStart(wire.dialer)}, listener ${describeStart(wire.listener)}`
    )

    for (const side of sides) {
      const facts = traceFacts(readFileSync(join(logs, `${tag}.${side}.trace.jsonl`), 'utf8'))
      const remote = side === 'dialer' ? listener : dialer
      check(facts.connections === 1, `${side} trace: ${facts.connections} completed handshakes, expected 1`)
      const announced = facts.remoteStreamMuxers[0]
      check(
        remote.announcesMuxers === (announced?.includes('/yamux/1.0.0') ?? false),
        `${side} trace: remote ${remote.label} stream_muxers ${JSON.stringify(announced ?? null)}, expected ${
          remote.announcesMuxers ? 'a list with /yamux/1.0.0' : 'none'
        }`
      )
      if (expectEarly) {
        check(
          facts.earlyMuxers[0] === '/yamux/1.0.0' && facts.multistreamYamuxMessages === 0,
          `${side} trace: early muxer ${
            facts.earlyMuxers[0] ?? 'none'
          }, ${facts.multistreamYamuxMessages} multistream /yamux/1.0.0 messages`
        )
      } else {
        check(
          facts.earlyMuxers[0] === undefined && facts.multistreamYamuxMessages === 2,
          `${side} trace: early muxer ${
            facts.earlyMuxers[0] ?? 'none'
          }, ${facts.multistreamYamuxMessages} multistream /yamux/1.0.0 messages (expected 2: proposal and echo)`
        )
      }
    }
    return pass(
      expectEarly
        ? `early: yamux frames right after Noise msg 3 both ways (msg2 ${wire.msg2Length} B, msg3 ${wire.msg3Length} B)`
        : `multistream: ${describeStart(wire.dialer)} / echo (${
          [dialer, listener].filter(p => !p.announcesMuxers).map(p => p.label).join(', ')
        } announces no muxers)`
    )
  } catch (err) {
    return fail((err as Error).message)
  } finally {
    await proxy?.close()
    await l?.kill()
  }
}

// ───────────────────────────── report ─────────────────────────────

const rowLabel = (r: Row): string => `${r.dialer.label} -> ${r.listener.label} ${variantLabel(r.variant)}`

function pad (s: string, n: number): string { return s + ' '.repeat(Math.max(0, n - s.length)) }

function cellText (c: Cell | undefined, name: CellName): string {
  if (c === undefined) return '-'
  if (name === 'muxer' && c.status === 'PASS') return `PASS ${c.detail.split(':')[0] as string}`
  return c.status
}

function table (header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(t => (t[i] as string).length)))
  const line = (cols: string[]): string => cols.map((c, i) => pad(c, widths[i] as number)).join(' | ').trimEnd()
  return [line(header), widths.map(w => '-'.repeat(w)).join('-+-'), ...rows.map(line)]
}

interface Timings { probe: number, phase1: number, figures: number, negotiation: number, total: number, jobs: number }

function printReport (
  rows: Row[],
  negotiation: NegotiationRow[],
  caps: Capabilities,
  versions: string[],
  t: Timings
): { failed: number, passed: number } {
  const out: string[] = []
  out.push(
    '',
    `interop matrix (${rows.length} rows + ${negotiation.length} negotiation runs, ${t.total.toFixed(0)} s)`,
    ...versions.map(v => `  ${v}`)
  )
  out.push(
    `  switchyard CLI: ${(Object.keys(caps) as Capability[]).map(c => `${c} ${caps[c].ok ? 'yes' : 'no'}`).join(', ')}`,
    ''
  )
  out.push(
    ...table(
      ['dialer -> listener', 'variant', ...CELLS],
      rows.map(r => [
        `${r.dialer.label} -> ${r.listener.label}`,
        variantLabel(r.variant),
        ...CELLS.map(c => cellText(r.cells[c], c))
      ])
    )
  )

  let failed = 0
  let passed = 0
  const failures: string[] = []
  const notRun = new Map<string, string[]>()
  for (const r of rows) {
    for (const c of CELLS) {
      const cell = r.cells[c]
      if (cell?.status === 'PASS') passed++
      if (cell?.status === 'FAIL') {
        failed++
        failures.push(`  ${rowLabel(r)} ${c}: ${cell.detail}`)
      }
      if (cell?.status === 'n/a' && c !== 'muxer') {
        notRun.set(cell.detail, [...(notRun.get(cell.detail) ?? []), `${rowLabel(r)} ${c}`])
      }
    }
  }
  out.push('', 'security negotiation: a go listener offering tls,noise (its log names what each connection got)')
  out.push(
    ...table(
      ['dialer', 'offers', 'expected', 'result'],
      negotiation.map(n => [n.dialer.label, n.offer, n.expected, `${n.cell.status} ${n.cell.detail}`])
    )
  )
  for (const n of negotiation) {
    if (n.cell.status === 'PASS') passed++
    if (n.cell.status === 'FAIL') {
      failed++
      failures.push(`  negotiation ${n.dialer.label} offering ${n.offer}: ${n.cell.detail}`)
    }
  }
  if (failures.length > 0) out.push('', 'FAIL (exit status and last stderr line, or the failed check):', ...failures)
  if (notRun.size > 0) {
    out.push('', 'n/a:')
    for (const [why, cells] of notRun) {
      out.push(`  ${why}: ${cells.length} cells (${
        [...new Set(cells.map(c => c.replace(/ \S+$/, '')))].slice(0, 4).join('; ')
      }${cells.length > 4 ? '; …' : ''})`)
    }
  }

  out.push(
    '',
    'perf in MiB/s, one direction at a time, connection setup included (as libp2p/test-plans), measured one row at a time after the other cells; "16+16 s" = the checked 16 MiB up + 16 MiB down run (rows run concurrently)'
  )
  const mibs = (x: number | undefined): string => x !== undefined ? x.toFixed(1) : '-'
  const perfRows = rows.filter(r => r.perf !== undefined).map(
    r => [
      `${r.dialer.label} -> ${r.listener.label}`,
      variantLabel(r.variant),
      mibs(r.perf?.uploadMiBs),
      mibs(r.perf?.downloadMiBs),
      r.perf?.checkedSeconds.toFixed(3) ?? '-'
    ]
  )
  out.push(...table(['dialer -> listener', 'variant', 'upload', 'download', '16+16 s'], perfRows))

  const muxerRows = rows.filter(r => r.cells.muxer !== undefined && r.cells.muxer.status !== 'n/a')
  if (muxerRows.length > 0) {
    out.push(
      '',
      'early muxer negotiation (wire: decrypted through a recording proxy with switchyard\'s key log; cross-checked with its trace):'
    )
    for (const r of muxerRows) {
      out.push(`  ${rowLabel(r)}: ${r.cells.muxer?.status ?? ''} ${r.cells.muxer?.detail ?? ''}`)
    }
  }
  out.push(
    '',
    `timings: probe ${t.probe.toFixed(1)} s, rows ${t.phase1.toFixed(1)} s (${t.jobs} at a time), perf figures ${
      t.figures.toFixed(1)
    } s, negotiation ${t.negotiation.toFixed(1)} s, total ${t.total.toFixed(1)} s`
  )
  out.push('', `${passed} PASS, ${failed} FAIL`)
  console.log(out.join('\n'))
  return { failed, passed }
}

// ───────────────────────────── main ─────────────────────────────

function parseOptions (argv: readonly string[]): Options {
  const opts: Options = {
    pairs: DEFAULT_PAIRS,
    variants: [...VARIANTS],
    jobs: 3,
    figures: 'tcp',
    requireSwitchyard: new Set(),
    skipBuild: false,
    keepLogs: false,
    allCells: false,
    perfDirectionBytes: 64 * MiB
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--pairs') opts.pairs = value().split(',').filter(p => p !== '')
    else if (a === '--variants') {
      opts.variants = value().split(',').filter(v => v !== '').map(text => {
        const v = VARIANTS.find(x => variantLabel(x) === text)
        if (v === undefined) {
          throw new Error(`variant ${text}: expected one of ${VARIANTS.map(variantLabel).join(', ')}`)
        }
        return v
      })
    } else if (a === '--jobs') opts.jobs = Number(value())
    else if (a === '--figures') {
      const f = value()
      if (f !== 'tcp' && f !== 'all' && f !== 'none') throw new Error('--figures expects tcp, all or none')
      opts.figures = f
    } else if (a === '--require-switchyard') {
      for (const c of value().split(',').filter(x => x !== '')) {
        if (c !== 'tls' && c !== 'ws' && c !== 'preference' && c !== 'quic') {
          throw new Error(`--require-switchyard: unknown capability ${c} (tls, ws, preference, quic)`)
        }
        opts.requireSwitchyard.add(c)
      }
    } else if (a === '--skip-build') opts.skipBuild = true
    else if (a === '--keep-logs') opts.keepLogs = true
    else if (a === '--all-cells') opts.allCells = true
    else if (a === '--perf-mib') opts.perfDirectionBytes = Number(value()) * MiB
    else throw new Error(`unknown argument ${a}`)
  }
  for (const p of opts.pairs) {
    const [d, l] = p.split('-')
    if (!(d !== undefined && d in PEERS && l !== undefined && l in PEERS)) {
      throw new Error(`pair ${p}: expected <dialer>-<listener> with peers ${Object.keys(PEERS).join(', ')}`)
    }
  }
  if (!(opts.perfDirectionBytes > 0 && Number.isSafeInteger(opts.perfDirectionBytes))) {
    throw new Error('--perf-mib expects a positive number')
  }
  if (!(Number.isSafeInteger(opts.jobs) && opts.jobs >= 1 && opts.jobs <= 16)) throw new Error('--jobs expects 1 … 16')
  return opts
}

/** Run `work` over `items`, at most `n` at a time, keeping the order of the results. */
async function pool<T, R> (items: readonly T[], n: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return results
}

function versions (): string[] {
  const read = (p: string): string => existsSync(join(ROOT, p)) ? readFileSync(join(ROOT, p), 'utf8') : ''
  const goLibp2p = /github\.com\/libp2p\/go-libp2p (v[\w.-]+)/.exec(read('interop/go/go.mod'))?.[1] ?? '?'
  const rustLibp2p = /name = "libp2p"\nversion = "([^"]+)"/.exec(read('interop/rust/Cargo.lock'))?.[1] ?? '?'
  const rustYamux = /name = "yamux"\nversion = "([^"]+)"/g
  const yamuxVersions = [...read('interop/rust/Cargo.lock').matchAll(rustYamux)].map(m => m[1]).join('/')
  const pkg = (name: string): string =>
    (JSON.parse(read(`node_modules/${name}/package.json`) || '{}') as { version?: string }).version ?? '?'
  const sw = (JSON.parse(read('package.json')) as { version: string }).version
  return [
    `switchyard ${sw} (node ${process.version})`,
    `go-libp2p ${goLibp2p} (interop/go)`,
    `rust-libp2p ${rustLibp2p}, yamux ${yamuxVersions} (interop/rust)`,
    `js-libp2p ${pkg('libp2p')}, @chainsafe/libp2p-noise ${pkg('@chainsafe/libp2p-noise')}, @libp2p/tls ${
      pkg('@libp2p/tls')
    }, @chainsafe/libp2p-yamux ${pkg('@chainsafe/libp2p-yamux')}, @libp2p/websockets ${
      pkg('@libp2p/websockets')
    } (interop/js)`
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
      console.log(
        `FAIL build: ${p.label} peer ${bin} is missing${
          p.argv.length > 1 ? ' (npm run build)' : ' (bash interop/build.sh)'
        }`
      )
      return 1
    }
  }
  const logs = mkdtempSync(join(tmpdir(), 'switchyard-matrix-'))
  const started = Date.now()
  const since = (t: number): number => (Date.now() - t) / 1000

  const caps = await probeSwitchyard(logs)
  const probe = since(started)
  console.error(
    `[matrix] switchyard CLI: ${
      (Object.keys(caps) as Capability[]).map(c => `${c} ${caps[c].ok ? 'yes' : 'no'} (${caps[c].detail})`).join('; ')
    }`
  )

  const todo = opts.variants.flatMap(v => opts.pairs.map(p => {
    const [d, l] = p.split('-') as [PeerName, PeerName]
    return { dialer: PEERS[d], listener: PEERS[l], variant: v }
  }))
  const phase1Start = Date.now()
  const rows = await pool(todo, opts.jobs, async ({ dialer, listener, variant }) => {
    const row = await runRow(dialer, listener, variant, opts, caps, logs)
    const bad = CELLS.filter(c => row.cells[c]?.status === 'FAIL')
    const skipped = CELLS.every(c => row.cells[c]?.status === 'n/a')
    console.error(
      `[matrix] ${rowLabel(row)}: ${bad.length > 0 ? `FAIL ${bad.join(' ')}` : skipped ? 'n/a' : 'ok'} (${
        row.seconds.toFixed(1)
      } s)`
    )
    return row
  })
  const phase1 = since(phase1Start)

  const figuresStart = Date.now()
  for (const row of rows) {
    if (opts.figures === 'none' || (opts.figures === 'tcp' && row.variant.transport !== 'tcp')) continue
    if (row.cells.perf?.status !== 'PASS') continue
    await runFigures(row, opts, logs)
  }
  const figures = since(figuresStart)

  const negotiationStart = Date.now()
  const dialers = [...new Set(opts.pairs.map(p => p.split('-')[0] as PeerName))].map(n => PEERS[n])
  const negotiation = opts.variants.some(v => v.security === 'tls')
    ? await runNegotiation(dialers, caps, opts, logs)
    : []
  const negotiationSeconds = since(negotiationStart)

  const { failed } = printReport(rows, negotiation, caps, versions(), {
    probe,
    phase1,
    figures,
    negotiation: negotiationSeconds,
    total: since(started),
    jobs: opts.jobs
  })
  if (failed > 0 || opts.keepLogs) console.log(`logs kept in ${logs}`)
  else rmSync(logs, { recursive: true, force: true })
  return failed > 0 ? 1 : 0
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(`run-matrix: ${(err as Error).message}`)
  process.exitCode = 2
})
