/**
 * `npm run bench:wan [-- --quick] [-- --delay-ms 25] [-- --rate-mbit 1000] [-- --link auto|netem|userspace] [--
 * --loss-pct 1] [-- --variants tcp-noise,tcp-tls,quic] [-- --mtu 9000] [-- --loss-only]
 * [-- --impls switchyard,go-libp2p]` (`--impls`: only the pairs both of whose ends are named; raw TCP always runs)
 *
 * WAN emulation, root only: two network namespaces joined by one link with a one-way delay on each
 * side (default 25 ms, so RTT 50 ms) and a rate limit (default 1 Gbit/s), a server in one namespace
 * and a client in the other (the same processes as the e2e bench: bench/e2e/server.ts, client.ts).
 *
 *   namespace A (10.231.0.1)  ══ link: delay + rate + drop-tail queue of one BDP ══  namespace B (10.231.0.2)
 *        client <impl>                                                                   server <impl>
 *
 * The link is a veth pair with `tc netem` on both ends when the kernel has sch_netem, otherwise a
 * userspace emulator (bench/wan/linkemu.py: two TUN devices, the same queue → rate → delay model,
 * MTU 9000 unless `--mtu` says otherwise: a Python loop forwards every packet, so big TCP segments
 * keep its packet rate within reach; QUIC's packets stay at 1200–1452 bytes whatever the MTU).
 * Only addresses inside the two namespaces are used; nothing leaves them. Both namespaces (and
 * everything in them) are deleted on exit, also on failure or Ctrl-C.
 *
 * The link carries IP packets, so TCP and UDP take the same path through it: QUIC v1 runs over
 * exactly the link TCP does (same delay, rate, queue and random loss).
 *
 * Figures, per variant (`--variants`, default tcp-noise and quic; also tcp-tls, ws-noise, ws-tls):
 * TCP+Noise+yamux for switchyard ↔ switchyard, switchyard ↔ js-libp2p in both roles, js ↔ js,
 * go ↔ go and rust ↔ rust (release builds, e2e/impl-foreign.ts; left out when not built) and raw
 * TCP; every other variant for each implementation that has it against itself, and switchyard
 * dialing each foreign one (js-libp2p has no QUIC):
 *  - connection + first round trip (dial → negotiated stream → 1 byte there and back), in RTTs:
 *    the lower bound with TCP + Noise XX + yamux is 3 RTT, raw TCP's is 2, QUIC v1's is 2 (the
 *    1-RTT handshake, then the stream's first round trip);
 *  - one stream's throughput each way as a fraction of the link rate: yamux window auto-tuning (or
 *    QUIC's flow-control windows and congestion control) must reach the bandwidth-delay product
 *    for this to approach 1.
 * Then the same link with random loss (`--loss-pct`, default 1 %, each direction; 0 skips it) for
 * the same-implementation pairs of every variant: throughput relative to raw TCP over the same
 * lossy link (QUIC's own loss recovery, RFC 9002, against the kernel's TCP). Under random loss a
 * loss-based congestion controller's rate scales with its packet size (Mathis et al. 1997:
 * MSS / RTT × 1.22 / √p), so at MTU 9000 raw TCP's 8960-byte segments outrun QUIC's ~1.3 KB
 * packets for that reason alone: `--mtu 1500 --loss-only` compares them at equal packet sizes.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Child } from './e2e/control.js'
import { DEFAULT_VARIANT, listenAddr, supportsVariant, VARIANTS, variantId, variantName } from './e2e/impl.js'
import type { Impl, Variant } from './e2e/impl.js'
import { foreignArgs, foreignBinary, isForeign } from './e2e/impl-foreign.js'
import { percentile, summarize } from './lib/harness.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const SOURCE_DIR = join(HERE, '..', '..', 'bench')
const MiB = 1024 * 1024

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] ?? dflt : dflt
}
const quick = argv.includes('--quick')
const delayMs = Number(opt('delay-ms', '25'))
const rateMbit = Number(opt('rate-mbit', '1000'))
const linkMode = opt('link', 'auto')
const bulkBytes = Number(opt('bytes-mib', quick ? '64' : '256')) * MiB
const setupN = quick ? 5 : 15
const bulkRuns = quick ? 1 : 3
const lossPct = Number(opt('loss-pct', '1'))
/** Lossy transfers are slow (TCP halves its window on every loss): a quarter of the bytes. */
const lossBytes = Math.max(MiB, Math.floor(bulkBytes / 4))
const variantIds = opt('variants', 'tcp-noise,quic').split(',')
const variants = VARIANTS.filter(v => variantIds.includes(variantId(v)))
const mtu = Number(opt('mtu', '9000'))
const lossOnly = argv.includes('--loss-only')
/** `--impls switchyard,go-libp2p`: only the pairs both of whose ends are named (raw TCP always runs). */
const implsFilter = argv.includes('--impls') ? opt('impls', '').split(',') : undefined
const IMPLS = ['switchyard', 'js-libp2p', 'go-libp2p', 'rust-libp2p']

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  process.stderr.write(
    'bench:wan needs root: it creates two network namespaces (ip netns) joined by an emulated link (tc netem or a TUN pair).\n' +
      'Run it as root, e.g. `sudo npm run bench:wan`. Nothing leaves the namespaces it creates, and they are deleted on exit.\n'
  )
  process.exit(1)
}
if (
  !(delayMs >= 0) || !(rateMbit > 0) || !(lossPct >= 0 && lossPct < 100) ||
  !['auto', 'netem', 'userspace'].includes(linkMode) || variants.length !== variantIds.length ||
  !(Number.isInteger(mtu) && mtu >= 1280 && mtu <= 65535) || (lossOnly && !(lossPct > 0)) ||
  (implsFilter !== undefined && !implsFilter.every(i => IMPLS.includes(i)))
) {
  process.stderr.write(
    'usage: wan.js [--quick] [--delay-ms 25] [--rate-mbit 1000] [--bytes-mib 256] [--link auto|netem|userspace] ' +
      `[--loss-pct 1] [--variants ${VARIANTS.map(variantId).join(',')}] [--mtu 9000] [--loss-only] ` +
      `[--impls ${IMPLS.join(',')}]\n`
  )
  process.exit(2)
}

// ───────────────────────── namespaces and the link ─────────────────────────

const tag = String(process.pid % 100000)
const NS_A = `sywan-a-${tag}`
const NS_B = `sywan-b-${tag}`
const ADDR_A = '10.231.0.1'
const ADDR_B = '10.231.0.2'
const RTT_MS = 2 * delayMs
/** Bottleneck queue: one bandwidth-delay product (at least 256 KiB). */
const QUEUE_BYTES = Math.max(256 * 1024, Math.round(rateMbit * 1e6 / 8 * RTT_MS / 1000))

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}
function tryRun (cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    return undefined
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()
  }
}

let emulator: ChildProcess | undefined
let cleaned = false
function cleanup (): void {
  if (cleaned) return
  cleaned = true
  if (emulator !== undefined && emulator.exitCode === null) emulator.kill('SIGTERM')
  // Deleting a namespace takes its veth / TUN device and any process-less sockets with it.
  for (const ns of [NS_A, NS_B]) tryRun('ip', ['netns', 'del', ns])
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => { cleanup(); process.exit(130) })
}

function createNamespaces (): void {
  ip('netns', 'add', NS_A)
  ip('netns', 'add', NS_B)
  for (const ns of [NS_A, NS_B]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    // Per-namespace TCP buffer ceilings (Linux ≥ 4.15), so one socket can hold a whole BDP
    // (6.25 MB at 1 Gbit/s × 50 ms). Only these namespaces are affected.
    tryRun('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.tcp_rmem=4096 131072 67108864'])
    tryRun('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.tcp_wmem=4096 16384 67108864'])
  }
}

/** veth pair + netem on both ends; returns an error message when netem is not available. */
function linkNetem (): string | undefined {
  const va = `sywa${tag}`
  const vb = `sywb${tag}`
  ip('link', 'add', va, 'type', 'veth', 'peer', 'name', vb)
  // veth keeps its own MTU (1500, with segmentation offload) unless --mtu names one.
  if (argv.includes('--mtu')) for (const d of [va, vb]) ip('link', 'set', d, 'mtu', String(mtu))
  ip('link', 'set', va, 'netns', NS_A)
  ip('link', 'set', vb, 'netns', NS_B)
  ip('-n', NS_A, 'addr', 'add', `${ADDR_A}/30`, 'dev', va)
  ip('-n', NS_B, 'addr', 'add', `${ADDR_B}/30`, 'dev', vb)
  ip('-n', NS_A, 'link', 'set', va, 'up')
  ip('-n', NS_B, 'link', 'set', vb, 'up')
  const limitPackets = String(Math.max(1000, Math.ceil(QUEUE_BYTES / 1500) * 2))
  for (const [ns, dev] of [[NS_A, va], [NS_B, vb]] as const) {
    const err = tryRun('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem',
      'delay', `${delayMs}ms`, 'rate', `${rateMbit}mbit`, 'limit', limitPackets])
    if (err !== undefined) {
      tryRun('ip', ['-n', NS_A, 'link', 'del', va])
      return err
    }
  }
  setLoss = async (pct) => {
    for (const [ns, dev] of [[NS_A, va], [NS_B, vb]] as const) {
      const err = tryRun('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'change', 'dev', dev, 'root', 'netem',
        'delay', `${delayMs}ms`, 'rate', `${rateMbit}mbit`, 'limit', limitPackets, 'loss', `${pct}%`])
      if (err !== undefined) throw new Error(`tc netem loss: ${err}`)
    }
  }
  return undefined
}

/** Random loss on both directions of the link, in percent (netem's `loss`, or the emulator's). */
let setLoss: (pct: number) => Promise<void> = async () => { throw new Error('no link') }

/** Two TUN devices bridged by bench/wan/linkemu.py. */
async function linkUserspace (): Promise<void> {
  const ta = `sywta${tag}`
  const tb = `sywtb${tag}`
  const script = join(SOURCE_DIR, 'wan', 'linkemu.py')
  emulator = spawn('python3', [
    script,
    '--tun-a',
    ta,
    '--tun-b',
    tb,
    '--delay-ms',
    String(delayMs),
    '--rate-mbit',
    String(rateMbit),
    '--limit-bytes',
    String(QUEUE_BYTES)
  ], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: emulator.stdout as NodeJS.ReadableStream })
  await new Promise<void>((resolve, reject) => {
    lines.once('line', (l) => {
      l === 'ready' ? resolve() : reject(new Error(`link emulator: ${l}`))
    })
    emulator?.once('exit', (code) => {
      reject(new Error(`link emulator exited (code ${String(code)}); is python3 there, and /dev/net/tun?`))
    })
  })
  let answered: (() => void) | undefined
  lines.on('line', (l) => { if (l === 'ok') answered?.(); else emulatorSummary = l })
  setLoss = async (pct) => {
    const ok = new Promise<void>(resolve => { answered = resolve })
    emulator?.stdin?.write(`loss ${pct}\n`)
    await ok
  }
  ip('link', 'set', ta, 'netns', NS_A)
  ip('link', 'set', tb, 'netns', NS_B)
  ip('-n', NS_A, 'addr', 'add', ADDR_A, 'peer', ADDR_B, 'dev', ta)
  ip('-n', NS_B, 'addr', 'add', ADDR_B, 'peer', ADDR_A, 'dev', tb)
  ip('-n', NS_A, 'link', 'set', ta, 'mtu', String(mtu), 'up')
  ip('-n', NS_B, 'link', 'set', tb, 'mtu', String(mtu), 'up')
}
let emulatorSummary = ''

// ───────────────────────── measurements ─────────────────────────

interface PairResult {
  client: Impl
  server: Impl
  variant: string
  setupMs: number[]
  uploadMiBs: number[]
  downloadMiBs: number[]
}

const linkMiBs = rateMbit * 1e6 / 8 / MiB

/** A server or client process of `impl` inside namespace `ns` (a Node script or a foreign binary). */
function child (impl: Impl, role: 'server' | 'client', ns: string, variant: Variant): Child {
  const name = `${impl} ${role} (${ns === NS_A ? 'A' : 'B'})`
  const prefix = ['ip', 'netns', 'exec', ns]
  const listen = listenAddr(variant, ADDR_B)
  if (isForeign(impl)) {
    const bin = foreignBinary(impl)
    if ('missing' in bin) throw new Error(bin.missing)
    return new Child(name, '', foreignArgs(role, variant, listen), { prefix, exec: bin.path, wire: 'words' })
  }
  const v = ['--transport', variant.transport, '--security', variant.security]
  return new Child(
    name,
    join(HERE, `e2e/${role}.js`),
    role === 'server' ? [impl, '--listen', listen, ...v] : [impl, ...v],
    { prefix }
  )
}

async function measurePair (
  client: Impl,
  server: Impl,
  variant: Variant = DEFAULT_VARIANT,
  bytes = bulkBytes
): Promise<PairResult> {
  const srv = child(server, 'server', NS_B, variant)
  const cli = child(client, 'client', NS_A, variant)
  try {
    const addr = String((await srv.ready).addr)
    await cli.ready
    // Connection + first round trip: fresh connections, one after the other (the first warms up the JIT).
    await cli.call('setup', { addr, n: 1 })
    const setupMs = await cli.call<number[]>('setup', { addr, n: setupN })
    const uploadMiBs: number[] = []
    const downloadMiBs: number[] = []
    for (let r = 0; r < bulkRuns; r++) {
      uploadMiBs.push(bytes / MiB / (await cli.call<number>('bulk', { addr, up: bytes, down: 0, streams: 1 }) / 1000))
      downloadMiBs.push(bytes / MiB / (await cli.call<number>('bulk', { addr, up: 0, down: bytes, streams: 1 }) / 1000))
    }
    return { client, server, variant: variantName(variant), setupMs, uploadMiBs, downloadMiBs }
  } finally {
    await cli.stop()
    await srv.stop()
  }
}

function pad (cells: string[][]): string {
  const w = cells[0]?.map((_, i) => Math.max(...cells.map(r => [...(r[i] ?? '')].length))) ?? []
  return cells.map((r, li) => {
    const line = r.map((c, i) => c + ' '.repeat(Math.max(0, (w[i] ?? 0) - [...c].length))).join(' | ').trimEnd()
    return li === 0 ? line + '\n' + w.map(x => '-'.repeat(x)).join('-|-') : line
  }).join('\n')
}

async function main (): Promise<void> {
  createNamespaces()
  let link: string
  if (linkMode === 'userspace') {
    await linkUserspace()
    link = `userspace TUN emulator (bench/wan/linkemu.py, MTU ${mtu})`
  } else {
    const err = linkNetem()
    if (err === undefined) {
      link = 'veth pair with tc netem on both ends'
    } else if (linkMode === 'netem') {
      throw new Error(`tc netem failed: ${err}`)
    } else {
      process.stderr.write(`tc netem is not available here (${err}); using the userspace link emulator instead\n`)
      await linkUserspace()
      link = `userspace TUN emulator (bench/wan/linkemu.py, MTU ${mtu}; this kernel has no sch_netem)`
    }
  }
  const header =
    `WAN: ${delayMs} ms each way (RTT ${RTT_MS} ms), ${rateMbit} Mbit/s (${linkMiBs.toFixed(1)} MiB/s), queue ${
      (QUEUE_BYTES / MiB).toFixed(2)
    } MiB; ` +
    `${link}; ${bulkBytes / MiB} MiB per transfer, ${bulkRuns} run(s) each way, ${setupN} connections`
  process.stderr.write(header + '\n')
  process.stderr.write(`load average at start: ${loadavg().map(l => l.toFixed(1)).join(' ')}\n`)

  const foreign = (['go-libp2p', 'rust-libp2p'] as const).filter(impl => {
    const bin = foreignBinary(impl)
    if ('missing' in bin) process.stderr.write(`  ${bin.missing}: left out\n`)
    return !('missing' in bin)
  })
  const libp2p: Impl[] = ['switchyard', 'js-libp2p', ...foreign]
  // TCP+Noise+yamux: every pair as before; other variants: each implementation that has the
  // variant against itself, then switchyard dialing each foreign one.
  const wanted = ([c, s]: [Impl, Impl]): boolean =>
    implsFilter === undefined || (implsFilter.includes(c) && implsFilter.includes(s))
  const pairsOf = (v: Variant): Array<[Impl, Impl]> => allPairsOf(v).filter(wanted)
  const allPairsOf = (v: Variant): Array<[Impl, Impl]> => {
    if (variantId(v) === 'tcp-noise') {
      return [
        ['switchyard', 'switchyard'],
        ['switchyard', 'js-libp2p'],
        ['js-libp2p', 'switchyard'],
        ...libp2p.filter(i => i !== 'switchyard').map(i => [i, i] as [Impl, Impl])
      ]
    }
    const has = libp2p.filter(i => supportsVariant(i, v))
    const foreignOnes = has.filter(i => i !== 'switchyard')
    return [
      ...has.map(i => [i, i] as [Impl, Impl]),
      ...foreignOnes.flatMap(i => [['switchyard', i], [i, 'switchyard']] as Array<[Impl, Impl]>)
    ]
  }
  const label = (v: Variant): string => v.transport === 'quic' ? ' over QUIC v1' : ` over ${variantName(v)}`
  const json: unknown[] = []
  console.log(header)
  if (!lossOnly) {
    // Raw TCP first: the reference every variant's throughput is read against.
    process.stderr.write('  tcp → tcp\n')
    const results: PairResult[] = [await measurePair('tcp', 'tcp')]
    for (const v of variants) {
      for (const [c, s] of pairsOf(v)) {
        process.stderr.write(`  ${c} → ${s}${label(v)}\n`)
        results.push(await measurePair(c, s, v))
      }
    }
    const table = formatResults(results)
    json.push(...table.json)
    console.log(table.text)
  }
  if (lossPct > 0) {
    await setLoss(lossPct)
    const lossHeader = `WAN with ${lossPct}% random loss each way (same link otherwise), ${
      lossBytes / MiB
    } MiB per transfer`
    process.stderr.write(lossHeader + '\n')
    process.stderr.write(`  tcp → tcp (${lossPct}% loss)\n`)
    const lossy: PairResult[] = [await measurePair('tcp', 'tcp', DEFAULT_VARIANT, lossBytes)]
    for (const v of variants) {
      for (const [c, s] of pairsOf(v).filter(([c, s]) => c === s)) {
        process.stderr.write(`  ${c} → ${s}${label(v)} (${lossPct}% loss)\n`)
        lossy.push(await measurePair(c, s, v, lossBytes))
      }
    }
    await setLoss(0)
    const t = formatResults(lossy)
    json.push(...t.json.map(j => ({ ...(j as Record<string, unknown>), lossPct })))
    console.log('\n' + lossHeader)
    console.log(t.text)
  }
  console.log(
    '\nlower bounds: raw TCP connect + 1 byte echo = 2 RTT; TCP + Noise XX + yamux + a negotiated stream = 3 RTT (libp2p specs noise: XX is 1.5 RTT, then the stream\'s first round trip); ' +
      'QUIC v1 = 2 RTT (RFC 9000 §7: the client sends 1-RTT data with its Finished, one round trip after its Initial; then the stream\'s first round trip, multistream-select in the same flight).'
  )
  console.log(
    'throughput is the average over the whole transfer, TCP slow start included (raw TCP shows what the link and the kernel allow);'
  )
  console.log(
    'without yamux window auto-tuning one stream would be held to 256 KiB per RTT (' +
      (256 / 1024 / (RTT_MS / 1000)).toFixed(1) + ' MiB/s here).'
  )
  mkdirSync('bench/results', { recursive: true })
  writeFileSync(
    'bench/results/wan.json',
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        quick,
        delayMs,
        rateMbit,
        queueBytes: QUEUE_BYTES,
        link,
        bulkBytes,
        lossPct,
        lossBytes,
        mtu,
        loadavg: loadavg(),
        results: json
      },
      null,
      2
    ) + '\n'
  )
  process.stderr.write('wrote bench/results/wan.json\n')
}

function formatResults (results: PairResult[]): { text: string, json: unknown[] } {
  const rows: string[][] = [[
    'client → server',
    'connection + 1st round trip: median ms (RTTs) [min–p95]',
    'upload MiB/s (of link)',
    'download MiB/s (of link)',
    'of raw TCP (up / down)'
  ]]
  const json: unknown[] = []
  const tcp = results.find(r => r.client === 'tcp')
  const tcpUp = tcp === undefined ? NaN : summarize(tcp.uploadMiBs).median
  const tcpDown = tcp === undefined ? NaN : summarize(tcp.downloadMiBs).median
  for (const r of results) {
    const s = summarize(r.setupMs)
    const up = summarize(r.uploadMiBs)
    const down = summarize(r.downloadMiBs)
    const name = r.client === 'tcp' ? 'raw TCP (floor: 2 RTT)' : `${r.variant}: ${r.client} → ${r.server}`
    rows.push([
      name,
      `${s.median.toFixed(1)} (${(s.median / RTT_MS).toFixed(2)}) [${s.min.toFixed(1)}–${
        percentile(r.setupMs, 95).toFixed(1)
      }]`,
      `${up.median.toFixed(1)} (${(up.median / linkMiBs * 100).toFixed(0)}%)`,
      `${down.median.toFixed(1)} (${(down.median / linkMiBs * 100).toFixed(0)}%)`,
      r.client === 'tcp'
        ? '—'
        : `${(up.median / tcpUp * 100).toFixed(0)}% / ${(down.median / tcpDown * 100).toFixed(0)}%`
    ])
    json.push({
      ...r,
      setupRtts: s.median / RTT_MS,
      uploadFraction: up.median / linkMiBs,
      downloadFraction: down.median / linkMiBs
    })
  }
  return { text: pad(rows), json }
}

try {
  await main()
} finally {
  if (emulator !== undefined && emulator.exitCode === null) {
    // Let the emulator print its summary (stdin EOF), then clean up.
    emulator.stdin?.end()
    await new Promise(resolve => setTimeout(resolve, 300))
    if (emulatorSummary.startsWith('{')) console.log(`link emulator packets: ${emulatorSummary}`)
  }
  cleanup()
}
