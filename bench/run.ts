/**
 * `npm run bench [-- --quick] [-- --only <suite>[,<suite>…]] [-- --profile] [-- --impls switchyard,go-libp2p,…]
 * [-- --no-variants | --variants tcp-noise,tcp-tls,ws-noise,ws-tls,quic] [-- --no-core]`: every suite, one
 * table on the terminal, plus every figure as JSON (bench/results/latest.json) for tools and an
 * SVG bar chart of the ratios next to it (bench/results/latest.svg).
 *
 * Suites: framing (varint, length-prefixed), multistream, yamux (header codec, frame decoder,
 * in-process loopback), noise (transport seal+open, handshakes), trace, e2e (two processes over
 * loopback TCP beside js-libp2p and raw TCP; see e2e.bench.ts). `--profile` writes CPU profiles of
 * the switchyard e2e processes to bench/results/profiles/ and prints their top frames. `--variants`
 * picks the e2e transport × security variants, `--no-core` skips the e2e TCP+Noise suite (memory,
 * bulk, setup, latency, many): `--only e2e --no-core --variants tcp-noise,tcp-tls,quic` runs QUIC
 * beside TCP+Noise and TCP+TLS and nothing else.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { checkGoals, formatTable } from './lib/harness.js'
import { renderSvg } from './lib/svg.js'
import { transportTable } from './lib/transport-table.js'
import type { BenchRow } from './lib/types.js'
import { runFramingBench } from './framing.bench.js'
import { runMultistreamBench } from './multistream.bench.js'
import { runMuxerBench } from './muxer.bench.js'
import { runCryptoBench } from './crypto.bench.js'
import { runTraceBench } from './trace.bench.js'
import { runE2eBench, selectVariants } from './e2e.bench.js'

interface Options { quick: boolean, profile: boolean }
type E2eImpl = NonNullable<Parameters<typeof runE2eBench>[0]['impls']>[number]
interface Suite { name: string, run: (opts: Options) => Promise<BenchRow[]> }

const suites: Suite[] = [
  { name: 'framing', run: runFramingBench },
  { name: 'multistream', run: runMultistreamBench },
  { name: 'yamux', run: runMuxerBench },
  { name: 'noise', run: runCryptoBench },
  { name: 'trace', run: runTraceBench },
  {
    name: 'e2e',
    run: async (o) =>
      await runE2eBench({ quick: o.quick, profile: o.profile, impls, variants, core: !args.includes('--no-core') })
  }
]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const profile = args.includes('--profile')
const implsIdx = args.indexOf('--impls')
const impls = implsIdx >= 0 ? (args[implsIdx + 1] ?? '').split(',') as E2eImpl[] : undefined
const variantsIdx = args.indexOf('--variants')
const variants = args.includes('--no-variants')
  ? false
  : variantsIdx >= 0 ? (args[variantsIdx + 1] ?? '').split(',') : true
try {
  selectVariants(variants)
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(2)
}
const onlyIdx = args.indexOf('--only')
const only = onlyIdx >= 0 ? (args[onlyIdx + 1] ?? '').split(',') : undefined
if (only !== undefined) {
  const unknown = only.filter(o => !suites.some(s => s.name === o))
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown suite(s) ${unknown.join(', ')}; expected some of ${suites.map(s => s.name).join(', ')}\n`
    )
    process.exit(2)
  }
}

const t0 = performance.now()
const rows: BenchRow[] = []
const timings: Record<string, number> = {}
for (const s of suites) {
  if (only !== undefined && !only.includes(s.name)) continue
  process.stderr.write(`running ${s.name}${quick ? ' (quick)' : ''}…\n`)
  const ts = performance.now()
  rows.push(...await s.run({ quick, profile }))
  timings[s.name] = Math.round(performance.now() - ts)
}
const totalMs = Math.round(performance.now() - t0)

console.log(formatTable(rows))
const goals = rows.flatMap(r =>
  checkGoals(r).map(g => ({ figure: `${r.group}: ${r.name}`, goal: g.goal.label, ratio: g.ratio, met: g.met }))
)
if (goals.length > 0) {
  const met = goals.filter(g => g.met === true).length
  console.log(
    `\ngoals: ${met} of ${goals.length} met` + goals.filter(g =>
      g.met !== true
    ).map(g => `\n  ✗ ${g.goal}: ${g.figure} (ratio ${g.ratio?.toPrecision(3) ?? '—'})`).join('')
  )
}
console.log(
  `\n${quick ? 'quick' : 'full'} run: ${(totalMs / 1000).toFixed(0)} s (${
    Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s`).join(', ')
  }); ` +
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, load ${
      os.loadavg().map(l => l.toFixed(1)).join(' ')
    }`
)

mkdirSync('bench/results', { recursive: true })
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  quick,
  durationMs: totalMs,
  suiteMs: timings,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), totalMemBytes: os.totalmem() }
}
writeFileSync('bench/results/latest.json', JSON.stringify({ ...meta, goals, rows }, null, 2) + '\n')
writeFileSync(
  'bench/results/latest.svg',
  renderSvg(
    rows,
    `switchyard benchmark — ${meta.date.slice(0, 16)} ${quick ? '(quick)' : '(full)'}, node ${process.version}`
  )
)
const transports = transportTable(rows)
if (transports !== '') {
  console.log('\ntransport × security, one column per implementation and variant (medians):\n' + transports)
  writeFileSync('bench/results/transports.md', transports)
}
process.stderr.write(
  `wrote bench/results/latest.json${transports === '' ? '' : ', transports.md'} and bench/results/latest.svg\n`
)
