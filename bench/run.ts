/**
 * `npm run bench [-- --quick] [-- --only <group>]`: every suite, one table, plus a JSON file of
 * every figure (bench/results/latest.json) for tools.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { formatTable } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'
import { runFramingBench } from './framing.bench.js'

interface Suite { name: string, run: (opts: { quick: boolean }) => Promise<BenchRow[]> }

const suites: Suite[] = [
  { name: 'framing', run: runFramingBench }
]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyIdx = args.indexOf('--only')
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined

const rows: BenchRow[] = []
for (const s of suites) {
  if (only !== undefined && s.name !== only) continue
  process.stderr.write(`running ${s.name}${quick ? ' (quick)' : ''}…\n`)
  rows.push(...await s.run({ quick }))
}
console.log(formatTable(rows))
mkdirSync('bench/results', { recursive: true })
writeFileSync('bench/results/latest.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, rows }, null, 2))
process.stderr.write('wrote bench/results/latest.json\n')
