/**
 * The benchmark harness: warm up, verify before timing, time several runs, report the median with
 * its min–max. The machines are shared and noisy, so every figure is paired with an anchor measured
 * in the same process a moment later: ratios in one run hold where absolute numbers drift.
 */
import type { BenchRow, Goal } from './types.js'

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
  const median = sorted.length % 2 === 1
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
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

export function row (
  group: string,
  name: string,
  unit: string,
  ours: Sample,
  anchor?: { name: string, sample: Sample },
  limit?: { name: string, value: number },
  lowerIsBetter = false
): BenchRow {
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

/** Ratio ours/other, oriented so that > 1 always means "switchyard is better" (the SVG chart plots this). */
export function advantage (r: BenchRow, other: number | undefined): number | undefined {
  if (other === undefined || other === 0 || r.ours === 0) return undefined
  return r.lowerIsBetter === true ? other / r.ours : r.ours / other
}

/** The plain ratio ours/other, as the table's "sy/anchor" and "sy/limit" columns print it. */
export function ratio (r: BenchRow, other: number | undefined): number | undefined {
  if (other === undefined || other === 0) return undefined
  return r.ours / other
}

/**
 * The best figure among the other libp2p implementations of a row (the anchor and the peers):
 * the goal column of the end-to-end rows.
 */
export function bestForeign (r: BenchRow): { name: string, value: number } | undefined {
  const all = [
    ...(r.anchor !== undefined ? [{ name: r.anchorName ?? 'anchor', value: r.anchor }] : []),
    ...(r.peers ?? [])
  ]
    .filter(x => Number.isFinite(x.value))
  if (all.length === 0) return undefined
  return all.reduce((a, b) => (r.lowerIsBetter === true ? (b.value < a.value ? b : a) : (b.value > a.value ? b : a)))
}

/** The reference value a goal is checked against. */
export function goalReference (r: BenchRow, g: Goal): number | undefined {
  if (g.against === 'anchor') return r.anchor
  if (g.against === 'limit') return r.limit
  if (g.against === 'best foreign') return bestForeign(r)?.value
  if (g.against === r.limitName) return r.limit
  return r.peers?.find(p => p.name === g.against)?.value ?? r.limits?.find(l => l.name === g.against)?.value
}

export interface GoalResult { goal: Goal, ratio: number | undefined, met: boolean | undefined }

export function checkGoals (r: BenchRow): GoalResult[] {
  return (r.goals ?? []).map(goal => {
    const q = ratio(r, goalReference(r, goal))
    return { goal, ratio: q, met: q === undefined ? undefined : goal.op === '>=' ? q >= goal.ratio : q <= goal.ratio }
  })
}

function fmtRatio (q: number | undefined): string {
  if (q === undefined) return '—'
  return q >= 100 ? q.toFixed(0) + 'x' : q >= 0.01 ? q.toPrecision(3) + 'x' : q.toExponential(1) + 'x'
}

function limitCell (r: BenchRow): string {
  if (r.limit === undefined) return '—'
  const main = `${fmt(r.limit)} ${r.limitName ?? ''}`.trim()
  const others = (r.limits ?? []).filter(l => l.name !== r.limitName).map(l => `${l.name} ${fmt(l.value)}`)
  return others.length > 0 ? `${main} (${others.join(', ')})` : main
}

/**
 * The terminal table: figure | switchyard (min–max) | anchor (js-libp2p for end-to-end rows, the
 * package otherwise) | limit | switchyard/anchor | switchyard/limit | goals. Ratios are plain
 * quotients: for rows marked ↓ (times, memory) smaller is better, so a goal reads "≤0.1x".
 */
export function formatTable (rows: BenchRow[]): string {
  // Peer columns (go-libp2p, rust-libp2p) appear when some row has them, after the anchor.
  const peerNames = [...new Set(rows.flatMap(r => (r.peers ?? []).map(p => p.name)))]
  const header = [
    'group',
    'figure',
    'unit',
    'switchyard (min–max)',
    'anchor',
    'anchor (min–max)',
    ...peerNames,
    'limit',
    'sy/anchor',
    ...(peerNames.length > 0 ? ['sy/best foreign'] : []),
    'sy/limit',
    'goal'
  ]
  const lines: string[][] = [header]
  const notes: string[] = []
  for (const r of rows) {
    const range = r.oursRange !== undefined ? ` (${fmt(r.oursRange[0])}–${fmt(r.oursRange[1])})` : ''
    const arange = r.anchorRange !== undefined && r.anchor !== undefined
      ? ` (${fmt(r.anchorRange[0])}–${fmt(r.anchorRange[1])})`
      : ''
    const goals = checkGoals(r).map(g => `${g.met === undefined ? '?' : g.met ? '✓' : '✗'} ${g.goal.label}`).join(', ')
    let name = r.name
    if (r.note !== undefined) { notes.push(r.note); name += ` [${notes.length}]` }
    const peerCells = peerNames.map(n => {
      const p = r.peers?.find(x => x.name === n)
      return p === undefined
        ? '—'
        : fmt(p.value) + (p.range !== undefined ? ` (${fmt(p.range[0])}–${fmt(p.range[1])})` : '')
    })
    const best = bestForeign(r)
    const bestCell = peerNames.length === 0
      ? []
      : [
          best === undefined || (r.peers ?? []).length === 0
            ? '—'
            : `${fmtRatio(ratio(r, best.value))} ${best.name.replace('-libp2p', '')}`
        ]
    lines.push([
      r.group, name, r.unit + (r.lowerIsBetter === true ? ' ↓' : ''), fmt(r.ours) + range,
      r.anchorName ?? '', r.anchor !== undefined ? fmt(r.anchor) + arange : '—', ...peerCells,
      limitCell(r), fmtRatio(ratio(r, r.anchor)), ...bestCell, fmtRatio(ratio(r, r.limit)), goals
    ])
  }
  const widths = header.map((_, i) => Math.max(...lines.map(l => [...(l[i] ?? '')].length)))
  const pad = (c: string, w: number): string => c + ' '.repeat(Math.max(0, w - [...c].length))
  const table = lines.map((l, li) => {
    const s = l.map((c, i) => pad(c, widths[i] ?? 0)).join(' | ').trimEnd()
    return li === 0 ? s + '\n' + widths.map(w => '-'.repeat(w)).join('-|-') : s
  }).join('\n')
  return notes.length === 0 ? table : table + '\n\n' + notes.map((n, i) => `[${i + 1}] ${n}`).join('\n')
}

/** The p-th percentile (0–100) by nearest rank. */
export function percentile (values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i] as number
}
