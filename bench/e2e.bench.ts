/**
 * End to end over loopback TCP, the two peers in separate processes, as users run them:
 *
 *   bench process ──stdin/stdout──► client process <impl> ══TCP══► server process <impl>
 *
 * for impl = switchyard, js-libp2p (the anchor), go-libp2p and rust-libp2p (release builds of the
 * interop peers' bench modes, see e2e/impl-foreign.ts and bench/anchors.sh) and raw node:net (the
 * limit). The pairs live through the whole run; every workload runs for each in turn, the order
 * rotating every round, so drift on a shared machine hits all alike. The bare ChaCha20-Poly1305
 * loop (the other limit) runs in this process between bulk rounds.
 *
 * Figures (medians over runs, min–max beside them):
 *   bulk     perf streams, 1 and 16 in parallel, each direction: MiB/s, and MiB per CPU-second of
 *            both processes (the steadier figure when the machine is loaded)
 *   setup    dial → negotiated echo stream → 1 byte there and back, fresh connection each time;
 *            cold: the same, as the first connection of a fresh client process
 *   echo     1-byte round trip on an open stream;  ping: a 32-byte ping on a new stream
 *   many     1000 streams at once, each echoing 100 bytes: total time
 *   memory   RSS and heap+external per idle connection (1000 open) and per open stream, measured
 *            inside the server process after a full GC
 *   variants TCP+Noise, TCP+TLS, WS+Noise, WS+TLS and QUIC v1 for every libp2p implementation that
 *            has them (js-libp2p has no QUIC): bulk (1 and 16 streams each way, MiB/s and per
 *            CPU-second), warm setup, cold setup and 1-byte echo
 *
 * Run alone: `npm run build && node dist/bench/e2e.bench.js [--quick] [--profile] [--impls a,b]
 * [--variants tcp-noise,tcp-tls,ws-noise,ws-tls,quic | --no-variants] [--no-core]` (`--no-core`: only
 * the variants, e.g. `--no-core --variants tcp-noise,tcp-tls,quic` for QUIC beside TCP).
 */
import crypto from 'node:crypto'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { Child } from './e2e/control.js'
import { DEFAULT_VARIANT, IMPLS, listenAddr, supportsVariant, VARIANTS, variantId, variantName } from './e2e/impl.js'
import type { Impl, Variant } from './e2e/impl.js'
import { foreignArgs, foreignBinary, isForeign } from './e2e/impl-foreign.js'
import { formatProfile } from './lib/cpuprofile.js'
import { formatTable, percentile, row, summarize } from './lib/harness.js'
import { TRANSPORT_GROUP, transportTable } from './lib/transport-table.js'
import type { Sample } from './lib/harness.js'
import type { BenchRow, Goal } from './lib/types.js'

const MiB = 1024 * 1024
const HERE = dirname(fileURLToPath(import.meta.url))

interface Plan {
  bulkBytes: number
  bulkRuns: number
  setupConns: number
  setupBatch: number
  echoRuns: number
  echoN: number
  pingRuns: number
  pingN: number
  manyRuns: number
  manyStreams: number
  memConns: number
  memStreams: number
  /** Fresh client processes per implementation for the cold setup figure. */
  coldRuns: number
  /** Per variant: bulk bytes, runs, setup connections, echo round trips, cold client processes. */
  variantBytes: number
  variantRuns: number
  variantSetup: number
  variantEcho: number
  variantCold: number
}

const QUICK_PLAN: Plan = {
  bulkBytes: 32 * MiB,
  bulkRuns: 3,
  setupConns: 40,
  setupBatch: 10,
  echoRuns: 3,
  echoN: 300,
  pingRuns: 3,
  pingN: 40,
  manyRuns: 3,
  manyStreams: 1000,
  memConns: 200,
  memStreams: 300,
  coldRuns: 5,
  variantBytes: 16 * MiB,
  variantRuns: 3,
  variantSetup: 20,
  variantEcho: 200,
  variantCold: 3
}
/** Every workload once at tiny sizes: checks that each implementation runs, measures nothing. */
const SMOKE_PLAN: Plan = {
  bulkBytes: 1 * MiB,
  bulkRuns: 1,
  setupConns: 2,
  setupBatch: 2,
  echoRuns: 1,
  echoN: 5,
  pingRuns: 1,
  pingN: 3,
  manyRuns: 1,
  manyStreams: 50,
  memConns: 5,
  memStreams: 5,
  coldRuns: 1,
  variantBytes: 1 * MiB,
  variantRuns: 1,
  variantSetup: 1,
  variantEcho: 3,
  variantCold: 1
}
const FULL_PLAN: Plan = {
  bulkBytes: 256 * MiB,
  bulkRuns: 5,
  setupConns: 200,
  setupBatch: 20,
  echoRuns: 7,
  echoN: 1000,
  pingRuns: 5,
  pingN: 100,
  manyRuns: 7,
  manyStreams: 1000,
  memConns: 1000,
  memStreams: 1000,
  coldRuns: 15,
  variantBytes: 64 * MiB,
  variantRuns: 5,
  variantSetup: 60,
  variantEcho: 500,
  variantCold: 7
}

export interface E2eOptions {
  quick: boolean
  /** Tiny sizes, one run each: does every implementation run every workload? */
  smoke?: boolean
  /** Write CPU profiles of the switchyard processes and print their top frames. */
  profile?: boolean
  /** Implementations to run (default all five; go/rust are left out, with a note, when not built). */
  impls?: readonly Impl[]
  /**
   * Run the transport × security variants (default true: all of VARIANTS); a list names the ones to
   * run by `variantId` (tcp-noise, tcp-tls, ws-noise, ws-tls, quic).
   */
  variants?: boolean | readonly string[]
  /** Run the TCP+Noise suite (memory, bulk, setup, cold, latency, many; default true). */
  core?: boolean
  log?: (line: string) => void
}

interface Pair { impl: Impl, variant: Variant, server: Child, client: Child, addr: string }

const JS = 'js-libp2p'
const GROUP = 'e2e (2 processes)'

/** One client process of `impl` (Node script or foreign binary). */
function startClient (impl: Impl, variant: Variant, nodeFlags: string[] = []): Child {
  const name = `${impl} client`
  if (isForeign(impl)) {
    const bin = foreignBinary(impl)
    if ('missing' in bin) throw new Error(bin.missing)
    return new Child(name, '', foreignArgs('client', variant, ''), { exec: bin.path, wire: 'words' })
  }
  return new Child(name, join(HERE, 'e2e/client.js'), [
    impl,
    '--transport',
    variant.transport,
    '--security',
    variant.security
  ], { nodeFlags })
}

/** Start one server and one client process for `impl`. */
async function startPair (
  impl: Impl,
  profileDir: string | undefined,
  variant: Variant = DEFAULT_VARIANT
): Promise<Pair> {
  const prof = (role: string): string[] =>
    profileDir === undefined || impl !== 'switchyard'
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', join(profileDir, `${impl}-${role}`)]
  let server: Child
  if (isForeign(impl)) {
    const bin = foreignBinary(impl)
    if ('missing' in bin) throw new Error(bin.missing)
    server = new Child(`${impl} server`, '', foreignArgs('server', variant, listenAddr(variant)), {
      exec: bin.path,
      wire: 'words'
    })
  } else {
    server = new Child(`${impl} server`, join(HERE, 'e2e/server.js'), [
      impl,
      '--transport',
      variant.transport,
      '--security',
      variant.security
    ], { nodeFlags: ['--expose-gc', ...prof('server')] })
  }
  const client = startClient(impl, variant, prof('client'))
  const ready = await server.ready
  await client.ready
  return { impl, variant, server, client, addr: String(ready.addr) }
}

/** CPU time (user + system, ms) a child has used so far. */
async function cpuMs (c: Child): Promise<number> {
  return await c.call<number>('cpu')
}

/** Where the e2e bench logs (runE2eBench sets it). */
let logLine: (line: string) => void = (l) => { process.stderr.write(l + '\n') }

/**
 * Run `fn` for each pair once (warm-up), then `runs` rounds with a rotating order. An
 * implementation whose run fails (js-libp2p's stream timeouts on a heavily loaded machine) is
 * logged and left out of this figure; the others go on.
 */
async function rounds<T> (
  pairs: Pair[],
  runs: number,
  fn: (p: Pair) => Promise<T>,
  between?: () => void
): Promise<Map<Impl, T[]>> {
  const failed = new Set<Impl>()
  const attempt = async (p: Pair): Promise<T | undefined> => {
    if (failed.has(p.impl)) return undefined
    try {
      return await fn(p)
    } catch (err) {
      failed.add(p.impl)
      logLine(
        `  ${p.impl}: ${
          (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
        } (left out of this figure)`
      )
      return undefined
    }
  }
  for (const p of pairs) await attempt(p)
  const out = new Map<Impl, T[]>(pairs.map(p => [p.impl, []]))
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < pairs.length; k++) {
      const p = pairs[(r + k) % pairs.length] as Pair
      const v = await attempt(p)
      if (v !== undefined) out.get(p.impl)?.push(v)
    }
    between?.()
  }
  for (const impl of failed) out.delete(impl)
  return out
}

// ───────────────────────── the bare cipher ceiling ─────────────────────────

/**
 * Bare node:crypto ChaCha20-Poly1305 over 65519-byte messages (the Noise maximum), nothing else:
 * seal alone and open alone, each on one core, MiB/s. In a two-process transfer the sender seals
 * and the receiver opens in parallel, so the slower of the two is the cipher's ceiling.
 */
function cipherRate (ms: number): number {
  const key = crypto.randomBytes(32)
  const nonce = Buffer.alloc(12)
  const pt = crypto.randomBytes(65519)
  const sealed: Array<[Buffer, Buffer]> = []
  for (let i = 0; i < 16; i++) {
    nonce.writeUInt32LE(i, 4)
    const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const ct = c.update(pt)
    c.final()
    sealed.push([ct, c.getAuthTag()])
  }
  const time = (f: (i: number) => void): number => {
    let n = 0
    const t0 = performance.now()
    while (performance.now() - t0 < ms) { f(n); n++ }
    return n * pt.length / MiB / ((performance.now() - t0) / 1000)
  }
  const seal = time((i) => {
    nonce.writeUInt32LE(i & 15, 4)
    const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    c.update(pt)
    c.final()
    c.getAuthTag()
  })
  const open = time((i) => {
    nonce.writeUInt32LE(i & 15, 4)
    const [ct, tag] = sealed[i & 15] as [Buffer, Buffer]
    const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    d.setAuthTag(tag)
    d.update(ct)
    d.final()
  })
  return Math.min(seal, open)
}

/**
 * µs for one seal plus one open of a 13-byte plaintext (a yamux header and 1 byte) with bare
 * node:crypto: a 1-byte echo over Noise pays this twice (once per direction), whatever the stack.
 */
function smallAeadUs (ms: number): number {
  const key = crypto.randomBytes(32)
  const nonce = Buffer.alloc(12)
  const pt = crypto.randomBytes(13)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    nonce.writeUInt32LE(n++, 4)
    const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const ct = c.update(pt)
    c.final()
    const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    d.setAuthTag(c.getAuthTag())
    d.update(ct)
    d.final()
  }
  return (performance.now() - t0) * 1000 / n
}

// ───────────────────────── rows ─────────────────────────

const sample = (values: number[]): Sample => summarize(values)

function e2eRow (
  name: string,
  unit: string,
  per: Map<Impl, number[]>,
  opts: {
    lowerIsBetter?: boolean,
    limits?: Array<{ name: string, value: number }>,
    goals?: Goal[],
    note?: string,
    group?: string
  } = {}
): BenchRow {
  const ours = per.get('switchyard') ?? []
  const js = per.get('js-libp2p') ?? []
  const tcp = per.get('tcp') ?? []
  const limits = [...(tcp.length > 0 ? [{ name: 'raw TCP', value: sample(tcp).median }] : []), ...(opts.limits ?? [])]
  const tightest = limits.length === 0
    ? undefined
    : limits.reduce((a, b) => (opts.lowerIsBetter === true ? (b.value > a.value ? b : a) : (b.value < a.value ? b : a)))
  const r = row(
    opts.group ?? GROUP,
    name,
    unit,
    sample(ours),
    js.length > 0 ? { name: JS, sample: sample(js) } : undefined,
    tightest,
    opts.lowerIsBetter === true
  )
  const peers = (['go-libp2p', 'rust-libp2p'] as const).flatMap(impl => {
    const v = per.get(impl) ?? []
    if (v.length === 0) return []
    const s = sample(v)
    return [{ name: impl, value: s.median, range: [s.min, s.max] as [number, number] }]
  })
  if (peers.length > 0) r.peers = peers
  if (limits.length > 1) r.limits = limits
  if (opts.goals !== undefined) r.goals = opts.goals
  if (opts.note !== undefined) r.note = opts.note
  return r
}

const GOAL_3X_JS: Goal = { against: 'anchor', op: '>=', ratio: 3, label: '≥3x js' }
const GOAL_80_CIPHER: Goal = { against: 'bare cipher', op: '>=', ratio: 0.8, label: '≥80% cipher' }
const GOAL_TENTH_JS: Goal = { against: 'anchor', op: '<=', ratio: 0.1, label: '≤0.1x js' }
const GOAL_THIRD_JS: Goal = { against: 'anchor', op: '<=', ratio: 1 / 3, label: '≤1/3 js' }
const GOAL_RTT: Goal = { against: 'raw TCP', op: '<=', ratio: 1.5, label: '≤1.5x TCP' }
// The goals of issue #15 against the foreign implementations, each measured in the same run.
const GOAL_BULK_BEST: Goal = { against: 'best foreign', op: '>=', ratio: 1.2, label: '≥1.2x best' }
const GOAL_CPU_GO: Goal = { against: 'go-libp2p', op: '>=', ratio: 1, label: 'CPU ≤ go' }
const GOAL_LE_GO: Goal = { against: 'go-libp2p', op: '<=', ratio: 1, label: '≤ go' }
const GOAL_MANY: Goal = { against: 'raw TCP', op: '<=', ratio: 3, label: '≤3x TCP' }

async function bulkRows (pairs: Pair[], plan: Plan, log: (l: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const cipher: number[] = []
  const cipherMs = plan.bulkRuns > 3 ? 200 : 100
  cipher.push(cipherRate(cipherMs))
  const cases: Array<[string, number, number, number]> = [
    ['upload', plan.bulkBytes, 0, 1],
    ['download', 0, plan.bulkBytes, 1],
    ['upload', plan.bulkBytes, 0, 16],
    ['download', 0, plan.bulkBytes, 16]
  ]
  for (const [dir, up, down, streams] of cases) {
    const label = `bulk ${dir}, ${streams === 1 ? '1 stream' : `${streams} streams`}, ${plan.bulkBytes / MiB} MiB`
    log(`  ${label}`)
    const res = await rounds(pairs, plan.bulkRuns, async (p) => {
      const [c0, s0] = await Promise.all([cpuMs(p.client), cpuMs(p.server)])
      const ms = await p.client.call<number>('bulk', { addr: p.addr, up, down, streams })
      const [c1, s1] = await Promise.all([cpuMs(p.client), cpuMs(p.server)])
      const mib = (up + down) / MiB
      return { rate: mib / (ms / 1000), perCpu: mib / ((c1 - c0 + s1 - s0) / 1000) }
    }, () => { cipher.push(cipherRate(cipherMs)) })
    const rate = new Map([...res].map(([k, v]) => [k, v.map(x => x.rate)]))
    const perCpu = new Map([...res].map(([k, v]) => [k, v.map(x => x.perCpu)]))
    const ceiling = { name: 'bare cipher', value: sample(cipher).median }
    rows.push(e2eRow(`${label} (TCP+Noise+yamux)`, 'MiB/s', rate, {
      limits: [ceiling],
      goals: streams === 1 ? [GOAL_3X_JS, GOAL_80_CIPHER, GOAL_BULK_BEST] : undefined
    }))
    rows.push(e2eRow(`${label}, per CPU-second of both processes`, 'MiB/cpu-s', perCpu, { goals: [GOAL_CPU_GO] }))
  }
  return rows
}

async function setupRows (pairs: Pair[], plan: Plan): Promise<BenchRow[]> {
  const all = new Map<Impl, number[]>(pairs.map(p => [p.impl, []]))
  const batchMedians = new Map<Impl, number[]>(pairs.map(p => [p.impl, []]))
  const batches = Math.ceil(plan.setupConns / plan.setupBatch)
  const res = await rounds(
    pairs,
    batches,
    async (p) => await p.client.call<number[]>('setup', { addr: p.addr, n: plan.setupBatch })
  )
  for (const [impl, runs] of res) {
    for (const r of runs) { all.get(impl)?.push(...r); batchMedians.get(impl)?.push(sample(r).median) }
  }
  const median = new Map([...all].map(([k, v]) => [k, [sample(v).median]]))
  const p95 = new Map([...all].map(([k, v]) => [k, [percentile(v, 95)]]))
  const n = plan.setupBatch * batches
  const medRow = e2eRow(`connection setup, median of ${n} (dial → negotiated stream → 1 B echo)`, 'ms', median, {
    lowerIsBetter: true,
    goals: [GOAL_TENTH_JS]
  })
  const ours = batchMedians.get('switchyard') ?? []
  if (ours.length > 0) medRow.oursRange = [Math.min(...ours), Math.max(...ours)]
  const js = batchMedians.get('js-libp2p') ?? []
  if (js.length > 0 && medRow.anchor !== undefined) medRow.anchorRange = [Math.min(...js), Math.max(...js)]
  const p95Row = e2eRow(`connection setup, p95 of ${n}`, 'ms', p95, { lowerIsBetter: true })
  delete p95Row.oursRange
  delete p95Row.anchorRange
  for (const peer of medRow.peers ?? []) {
    const b = batchMedians.get(peer.name as Impl) ?? []
    peer.range = b.length > 0 ? [Math.min(...b), Math.max(...b)] : undefined
  }
  for (const peer of p95Row.peers ?? []) delete peer.range
  return [medRow, p95Row]
}

/** Per run: the median of its samples; the row: median and range of those. */
function runMedians (res: Map<Impl, number[][]>, scale = 1): Map<Impl, number[]> {
  return new Map([...res].map(([k, runs]) => [k, runs.map(r => sample(r).median * scale)]))
}

async function latencyRows (pairs: Pair[], plan: Plan): Promise<BenchRow[]> {
  const echo = await rounds(
    pairs,
    plan.echoRuns,
    async (p) => await p.client.call<number[]>('echo', { addr: p.addr, n: plan.echoN, size: 1 })
  )
  const ping = await rounds(
    pairs,
    plan.pingRuns,
    async (p) => await p.client.call<number[]>('ping', { addr: p.addr, n: plan.pingN })
  )
  const aead = [smallAeadUs(100), smallAeadUs(100), smallAeadUs(100)].sort((a, b) => a - b)[1] as number
  const echoMedians = runMedians(echo, 1000)
  const tcpEcho = echoMedians.get('tcp')
  const floor = tcpEcho === undefined
    ? []
    : [{ name: 'raw TCP + 2 bare seal+open', value: summarize(tcpEcho).median + 2 * aead }]
  return [
    e2eRow(`1-byte echo round trip on an open stream (${plan.echoN} per run)`, 'µs', echoMedians, {
      lowerIsBetter: true,
      goals: [GOAL_RTT],
      limits: floor,
      note: `with Noise, a 1-byte echo also pays one seal and one open each way: ${
        aead.toFixed(1)
      } µs per seal+open of 13 B with bare node:crypto (createCipheriv/createDecipheriv), measured in this run; "raw TCP + 2 bare seal+open" is that floor.`
    }),
    e2eRow(`ping (32 B) on a new stream (${plan.pingN} per run)`, 'µs', runMedians(ping, 1000), {
      lowerIsBetter: true,
      goals: [GOAL_LE_GO],
      note: 'raw TCP has no streams: its ping figure is 32 bytes there and back on an open connection.'
    })
  ]
}

async function manyRows (pairs: Pair[], plan: Plan): Promise<BenchRow[]> {
  const res = await rounds(
    pairs,
    plan.manyRuns,
    async (p) => await p.client.call<number>('many', { addr: p.addr, n: plan.manyStreams, size: 100 })
  )
  return [e2eRow(`${plan.manyStreams} concurrent streams, each echoing 100 B: total`, 'ms', res, {
    lowerIsBetter: true,
    goals: [GOAL_TENTH_JS, GOAL_MANY],
    note: `raw TCP: the same ${plan.manyStreams} × 100 B as ${plan.manyStreams} writes on one open connection.`
  })]
}

/** One cold setup sample: a fresh client process of the pair's implementation and variant. */
async function coldSetup (p: Pair): Promise<number> {
  const c = startClient(p.impl, p.variant)
  try {
    await c.ready
    const [ms] = await c.call<number[]>('setup', { addr: p.addr, n: 1 })
    return ms as number
  } finally {
    await c.stop()
  }
}

/**
 * Cold setup: the first connection of a fresh client process (spawned, ready, then one `setup`),
 * what every interop or test-plans run meets. The server is the long-lived one of the pair. The
 * figure is the client's own clock from before the dial to the echoed byte: process start-up and
 * module loading are not in it, first-use compilation and lazy initialisation are.
 */
async function coldRows (pairs: Pair[], plan: Plan): Promise<BenchRow[]> {
  const res = await rounds(pairs, plan.coldRuns, coldSetup)
  return [
    e2eRow(
      `connection setup, cold: first connection of a fresh client process (${plan.coldRuns} processes)`,
      'ms',
      res,
      {
        lowerIsBetter: true,
        goals: [GOAL_LE_GO],
        note:
          'cold setup: a new client process per sample; its own clock from before the dial to the echoed byte (process start-up and module loading excluded, first-use compilation included). go-libp2p runs identify on every new connection and its NewStream waits for it.'
      }
    )
  ]
}

/**
 * The transport × security dimension: for each variant, fresh pairs of every libp2p
 * implementation that has it (raw TCP has no variants, js-libp2p no QUIC), interleaved as
 * everywhere else: 1 and 16 perf streams each way (MiB/s and MiB per CPU-second of both
 * processes), warm setup, cold setup (a fresh client process per sample) and 1-byte echo.
 */
async function variantRows (
  impls: readonly Impl[],
  variants: readonly Variant[],
  plan: Plan,
  log: (l: string) => void
): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  const group = TRANSPORT_GROUP
  const stopAll = async (ps: Pair[]): Promise<void> => {
    await Promise.all(ps.flatMap(p => [p.client.stop(), p.server.stop()]))
  }
  for (const v of variants) {
    const name = variantName(v)
    log(`  variant ${name}`)
    const pairs: Pair[] = []
    const missing = impls.filter(impl => impl !== 'tcp' && !supportsVariant(impl, v))
    for (const impl of missing) log(`  ${impl} over ${name}: n/a (${NOT_SUPPORTED})`)
    // The n/a note goes on the variant's first row only.
    let note = missing.length > 0 ? `${missing.join(', ')}: n/a over ${name} (${NOT_SUPPORTED}).` : undefined
    const opts = { group }
    const withNote = (r: BenchRow): BenchRow => {
      if (note !== undefined) { r.note = note; note = undefined }
      return r
    }
    try {
      for (const impl of impls) {
        if (!supportsVariant(impl, v) || impl === 'tcp') continue
        try {
          pairs.push(await startPair(impl, undefined, v))
        } catch (err) {
          log(
            `  ${impl} over ${name}: ${
              err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)
            } (left out)`
          )
        }
      }
      const cases = [
        ['upload', plan.variantBytes, 0, 1],
        ['download', 0, plan.variantBytes, 1],
        ['upload', plan.variantBytes, 0, 16],
        ['download', 0, plan.variantBytes, 16]
      ] as const
      for (const [dir, up, down, streams] of cases) {
        const res = await rounds(pairs, plan.variantRuns, async (p) => {
          const [c0, s0] = await Promise.all([cpuMs(p.client), cpuMs(p.server)])
          const ms = await p.client.call<number>('bulk', { addr: p.addr, up, down, streams })
          const [c1, s1] = await Promise.all([cpuMs(p.client), cpuMs(p.server)])
          const mib = (up + down) / MiB
          return { rate: mib / (ms / 1000), perCpu: mib / ((c1 - c0 + s1 - s0) / 1000) }
        })
        const n = streams === 1 ? '1 stream' : `${streams} streams`
        rows.push(withNote(
          e2eRow(
            `${name}: bulk ${dir}, ${n}, ${plan.variantBytes / MiB} MiB`,
            'MiB/s',
            new Map([...res].map(([k, x]) => [k, x.map(y => y.rate)])),
            opts
          )
        ))
        rows.push(
          e2eRow(
            `${name}: bulk ${dir}, ${n}, per CPU-second of both processes`,
            'MiB/cpu-s',
            new Map([...res].map(([k, x]) => [k, x.map(y => y.perCpu)])),
            opts
          )
        )
      }
      const setup = await rounds(
        pairs,
        plan.variantRuns,
        async (p) =>
          sample(
            await p.client.call<number[]>('setup', { addr: p.addr, n: Math.ceil(plan.variantSetup / plan.variantRuns) })
          ).median
      )
      rows.push(
        e2eRow(`${name}: connection setup (dial → stream → 1 B echo), median of runs`, 'ms', setup, {
          lowerIsBetter: true,
          ...opts
        })
      )
      const cold = await rounds(pairs, plan.variantCold, async (p) => await coldSetup(p))
      rows.push(
        e2eRow(`${name}: connection setup, cold (first connection of a fresh client process)`, 'ms', cold, {
          lowerIsBetter: true,
          ...opts
        })
      )
      const echo = await rounds(
        pairs,
        plan.variantRuns,
        async (p) =>
          sample(
            await p.client.call<number[]>('echo', {
              addr: p.addr,
              n: Math.ceil(plan.variantEcho / plan.variantRuns),
              size: 1
            })
          ).median * 1000
      )
      rows.push(e2eRow(`${name}: 1-byte echo round trip`, 'µs', echo, { lowerIsBetter: true, ...opts }))
    } finally {
      await stopAll(pairs)
    }
  }
  return rows
}

/** Why an implementation has no column over a variant. */
const NOT_SUPPORTED = 'js-libp2p has no QUIC transport of its own for Node.js (@chainsafe/libp2p-quic binds a ' +
  'Rust QUIC stack through napi)'

interface Mem { rss: number, heapUsed: number, external: number }

async function waitFor (what: string, f: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await f()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function memoryRows (pairs: Pair[], plan: Plan, log: (l: string) => void): Promise<BenchRow[]> {
  const conn = { rss: new Map<Impl, number[]>(), heap: new Map<Impl, number[]>() }
  const strm = { rss: new Map<Impl, number[]>(), heap: new Map<Impl, number[]>() }
  const KiB = 1024
  const measure = async (
    p: Pair,
    open: () => Promise<unknown>,
    close: () => Promise<unknown>,
    count: (s: { connections: number, streams: number }) => number,
    n: number
  ): Promise<[number, number]> => {
    const stats = async (): Promise<{ connections: number, streams: number }> => await p.server.call('stats')
    // The warm-up's connections must be gone from the server before the baseline (a close reaches
    // it a moment after the client returned, later still on a loaded machine).
    await waitFor(`${p.impl} server to drop the warm-up connections`, async () => (await stats()).connections === 0)
    const base = count(await stats())
    const m0 = await p.server.call<Mem>('mem')
    await open()
    await waitFor(`${p.impl} server to see ${n} more`, async () => count(await stats()) >= base + n)
    const m1 = await p.server.call<Mem>('mem')
    await close()
    await waitFor(`${p.impl} server to release them`, async () => count(await stats()) <= base)
    const heap = m1.heapUsed < 0 ? NaN : (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / n / KiB
    return [(m1.rss - m0.rss) / n / KiB, heap]
  }
  const failed: string[] = []
  for (const p of pairs) {
    try {
      // Warm-up: code paths compiled, pools and caches filled, before the baseline.
      await p.client.call('setup', { addr: p.addr, n: 20 })
      log(`  memory: ${p.impl}, ${plan.memConns} idle connections`)
      const [rss, heap] = await measure(p,
        async () => await p.client.call('openConns', { addr: p.addr, n: plan.memConns, concurrency: 1 }),
        async () => await p.client.call('closeConns'),
        s => s.connections, plan.memConns)
      conn.rss.set(p.impl, [rss])
      // rust has no heap figure (its bench mode reports -1): left out of the heap rows.
      if (Number.isFinite(heap) && heap > -1) conn.heap.set(p.impl, [heap])
      if (p.impl === 'tcp') continue
      log(`  memory: ${p.impl}, ${plan.memStreams} open streams`)
      const [srss, sheap] = await measure(p,
        async () => await p.client.call('openStreams', { addr: p.addr, n: plan.memStreams }),
        async () => await p.client.call('closeStreams'),
        s => s.streams, plan.memStreams)
      strm.rss.set(p.impl, [srss])
      if (Number.isFinite(sheap) && sheap > -1) strm.heap.set(p.impl, [sheap])
    } catch (err) {
      // One implementation failing here (js-libp2p's dials time out in the upgrade when 1000 are
      // opened on a loaded machine) costs its memory figures, not the run.
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
      log(`  memory: ${p.impl} failed: ${why}`)
      failed.push(`${p.impl} (${why.slice(0, 120)})`)
    }
  }
  const noRange = (r: BenchRow): BenchRow => {
    delete r.oursRange
    delete r.anchorRange
    for (const p of r.peers ?? []) delete p.range
    return r
  }
  return [
    noRange(e2eRow(`RSS per idle connection (${plan.memConns} open, server side)`, 'KiB', conn.rss, {
      lowerIsBetter: true,
      goals: [GOAL_THIRD_JS, GOAL_LE_GO],
      ...(failed.length > 0 ? { note: `memory figures missing for ${failed.join('; ')}` } : {})
    })),
    noRange(
      e2eRow(`heap+external per idle connection (${plan.memConns} open, server side)`, 'KiB', conn.heap, {
        lowerIsBetter: true,
        goals: [GOAL_THIRD_JS]
      })
    ),
    noRange(
      e2eRow(`RSS per open stream (${plan.memStreams} on one connection, server side)`, 'KiB', strm.rss, {
        lowerIsBetter: true
      })
    ),
    noRange(
      e2eRow(`heap+external per open stream (${plan.memStreams} on one connection, server side)`, 'KiB', strm.heap, {
        lowerIsBetter: true
      })
    )
  ]
}

/** The variants `opts.variants` names (all for true or absent, none for false). */
export function selectVariants (sel: boolean | readonly string[] | undefined): Variant[] {
  if (sel === false) return []
  if (sel === undefined || sel === true) return [...VARIANTS]
  const unknown = sel.filter(id => !VARIANTS.some(v => variantId(v) === id))
  if (unknown.length > 0) {
    throw new Error(`unknown variant(s) ${unknown.join(', ')}; expected some of ${VARIANTS.map(variantId).join(', ')}`)
  }
  return VARIANTS.filter(v => sel.includes(variantId(v)))
}

export async function runE2eBench (opts: E2eOptions): Promise<BenchRow[]> {
  const plan = opts.smoke === true ? SMOKE_PLAN : opts.quick ? QUICK_PLAN : FULL_PLAN
  const log = opts.log ?? ((l: string) => { process.stderr.write(l + '\n') })
  logLine = log
  const profileDir = opts.profile === true ? join(process.cwd(), 'bench/results/profiles') : undefined
  if (profileDir !== undefined) {
    rmSync(profileDir, { recursive: true, force: true })
    mkdirSync(profileDir, { recursive: true })
  }
  const impls = (opts.impls ?? IMPLS).filter(impl => {
    if (!isForeign(impl)) return true
    const bin = foreignBinary(impl)
    if ('missing' in bin) { log(`  ${bin.missing}: column left out`); return false }
    if (bin.stale !== undefined) log(`  warning: ${bin.stale}`)
    return true
  })
  const pairs: Pair[] = []
  const stopAll = async (ps: Pair[]): Promise<void> => {
    await Promise.all(ps.flatMap(p => [p.client.stop(), p.server.stop()]))
  }
  try {
    const rows: BenchRow[] = []
    const t0 = performance.now()
    const step = async (what: string, f: () => Promise<BenchRow[]>): Promise<void> => {
      const ts = performance.now()
      rows.push(...await f())
      log(`  ${what}: ${((performance.now() - ts) / 1000).toFixed(1)} s`)
    }
    // Memory on processes of its own: the servers have served nothing but a warm-up (their RSS has
    // not grown and kept pages for bulk transfers, so the per-connection deltas are real), and the
    // 1000 connections leave nothing behind in the processes the other figures are taken in (a
    // bigger heap makes every later GC dearer: that halved bulk throughput when they were shared).
    if (opts.core !== false) {
      const memPairs: Pair[] = []
      try {
        for (const impl of impls) memPairs.push(await startPair(impl, undefined))
        await step('memory', async () => await memoryRows(memPairs, plan, log))
      } finally {
        await stopAll(memPairs)
      }
      for (const impl of impls) pairs.push(await startPair(impl, profileDir))
      await step('bulk', async () => await bulkRows(pairs, plan, log))
      await step('connection setup', async () => await setupRows(pairs, plan))
      await step('cold setup', async () => await coldRows(pairs.filter(p => p.impl !== 'tcp'), plan))
      await step('latency', async () => await latencyRows(pairs, plan))
      await step('concurrent streams', async () => await manyRows(pairs, plan))
      await stopAll(pairs.splice(0))
    }
    const variants = selectVariants(opts.variants)
    if (variants.length > 0) {
      await step('transport × security', async () => await variantRows(impls, variants, plan, log))
    }
    log(`  e2e total: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    return rows
  } finally {
    await stopAll(pairs)
    if (profileDir !== undefined) {
      for (const d of readdirSync(profileDir)) {
        for (const f of readdirSync(join(profileDir, d))) log(formatProfile(`${d} (${f})`, join(profileDir, d, f), 25))
      }
    }
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const ii = process.argv.indexOf('--impls')
  const impls = ii >= 0 ? (process.argv[ii + 1] ?? '').split(',') as Impl[] : undefined
  const vi = process.argv.indexOf('--variants')
  const rows = await runE2eBench({
    quick: process.argv.includes('--quick'),
    smoke: process.argv.includes('--smoke'),
    profile: process.argv.includes('--profile'),
    impls,
    variants: process.argv.includes('--no-variants')
      ? false
      : vi >= 0 ? (process.argv[vi + 1] ?? '').split(',') : true,
    core: !process.argv.includes('--no-core')
  })
  console.log(formatTable(rows))
  const t = transportTable(rows)
  if (t !== '') console.log('\n' + t)
}
