/**
 * The benchmark harness: warm up, verify before timing, time several runs, report the median with
 * its min–max. The machines are shared and noisy, so every figure is paired with an anchor measured
 * in the same process a moment later: ratios in one run hold where absolute numbers drift.
 */
import type { BenchRow } from './types.js'

export interface Sample {
  median: number
  min: number
  max: number
}

export interface MeasureOptions {
  /** Timed runs (the median is reported). */
  runs: number
  /** Minimum wall time of one run, in milliseconds. */
  minTimeMs: number
}

export const QUICK: MeasureOptions = { runs: 3, minTimeMs: 60 }
export const FULL: MeasureOptions = { runs: 7, minTimeMs: 250 }

export function summarize (values: number[]): Sample {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number }
}

/**
 * Rate of a synchronous operation. `fn(iterations)` does `iterations` units of work and returns a
 * value the harness keeps (so the JIT cannot drop the work). Result in units per second.
 */
export function measureSync (fn: (iterations: number) => unknown, opts: MeasureOptions): Sample {
  let sink: unknown
  // Calibrate: grow the batch until one batch takes ~1/10 of a run.
  let batch = 1
  for (;;) {
    const t0 = process.hrtime.bigint()
    sink = fn(batch)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (ms > opts.minTimeMs / 10 || batch > 1 << 30) break
    batch *= 2
  }
  const rates: number[] = []
  for (let r = 0; r < opts.runs; r++) {
    let done = 0
    const t0 = process.hrtime.bigint()
    let elapsed = 0
    while (elapsed < opts.minTimeMs) {
      sink = fn(batch)
      done += batch
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    }
    rates.push(done / (elapsed / 1000))
  }
  keep(sink)
  return summarize(rates)
}

/** Rate of an async operation: `fn()` does `units` of work per call; result in units per second. */
export async function measureAsync (fn: () => Promise<number>, opts: MeasureOptions): Promise<Sample> {
  await fn() // warm-up
  const rates: number[] = []
  for (let r = 0; r < opts.runs; r++) {
    let done = 0
    const t0 = process.hrtime.bigint()
    let elapsed = 0
    while (elapsed < opts.minTimeMs) {
      done += await fn()
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    }
    rates.push(done / (elapsed / 1000))
  }
  return summarize(rates)
}

/** Run `fn` `runs` times, each returning one observation (e.g. a latency in ms). */
export async function sampleAsync (fn: () => Promise<number>, runs: number): Promise<Sample> {
  const values: number[] = []
  for (let i = 0; i < runs; i++) values.push(await fn())
  return summarize(values)
}

let kept: unknown
function keep (v: unknown): void { kept = v }
export function lastKept (): unknown { return kept }

/** Throw unless `ours` and `anchor` produced the same bytes: we never time a wrong result. */
export function crossCheck (what: string, ours: ArrayLike<number>, anchor: ArrayLike<number>): void {
  if (ours.length !== anchor.length) throw new Error(`cross-check "${what}": length ${ours.length} vs ${anchor.length}`)
  for (let i = 0; i < ours.length; i++) {
    if (ours[i] !== anchor[i]) throw new Error(`cross-check "${what}": first difference at byte ${i}`)
  }
}

export function row (group: string, name: string, unit: string, ours: Sample, anchor?: { name: string, sample: Sample }, limit?: { name: string, value: number }, lowerIsBetter = false): BenchRow {
  const r: BenchRow = { group, name, unit, ours: ours.median, oursRange: [ours.min, ours.max], lowerIsBetter }
  if (anchor !== undefined) {
    r.anchor = anchor.sample.median
    r.anchorName = anchor.name
    r.anchorRange = [anchor.sample.min, anchor.sample.max]
  }
  if (limit !== undefined) { r.limit = limit.value; r.limitName = limit.name }
  return r
}

/** Human figure: 3 significant digits with k/M/G suffixes. */
export function fmt (n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—'
  const abs = Math.abs(n)
  if (abs >= 1e9) return (n / 1e9).toPrecision(3) + 'G'
  if (abs >= 1e6) return (n / 1e6).toPrecision(3) + 'M'
  if (abs >= 1e4) return (n / 1e3).toPrecision(3) + 'k'
  if (abs >= 100) return n.toFixed(0)
  return n.toPrecision(3)
}

/** Ratio ours/other, oriented so that > 1 always means "switchyard is better". */
export function advantage (r: BenchRow, other: number | undefined): number | undefined {
  if (other === undefined || other === 0 || r.ours === 0) return undefined
  return r.lowerIsBetter === true ? other / r.ours : r.ours / other
}

export function formatTable (rows: BenchRow[]): string {
  const header = ['group', 'figure', 'unit', 'switchyard (min–max)', 'anchor', 'anchor figure', 'limit', 'vs anchor', 'vs limit']
  const lines: string[][] = [header]
  for (const r of rows) {
    const range = r.oursRange !== undefined ? ` (${fmt(r.oursRange[0])}–${fmt(r.oursRange[1])})` : ''
    const a = advantage(r, r.anchor)
    const l = advantage(r, r.limit)
    lines.push([
      r.group, r.name, r.unit + (r.lowerIsBetter === true ? ' ↓' : ''), fmt(r.ours) + range,
      r.anchorName ?? '', fmt(r.anchor),
      r.limit !== undefined ? `${fmt(r.limit)} ${r.limitName ?? ''}`.trim() : '—',
      a !== undefined ? a.toFixed(2) + 'x' : '—',
      l !== undefined ? (l * 100).toFixed(0) + '%' : '—'
    ])
  }
  const widths = header.map((_, i) => Math.max(...lines.map(l => (l[i] ?? '').length)))
  return lines.map((l, li) => {
    const s = l.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')
    return li === 0 ? s + '\n' + widths.map(w => '-'.repeat(w)).join('-|-') : s
  }).join('\n')
}
