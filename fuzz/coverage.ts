/**
 * Coverage feedback from V8 itself: block coverage through the inspector protocol
 * (`Profiler.startPreciseCoverage({ callCount: true, detailed: true })`, then
 * `Profiler.takePreciseCoverage` after every input, which also resets the counters).
 * A same-thread `inspector.Session` answers synchronously, so one input costs one take.
 *
 * V8 reports, per function, only the ranges whose count differs from their parent's
 * (coverage.cc FilterUncoveredRanges…): a block that starts to run as often as its parent
 * simply disappears from the report. So features are computed over every block ever seen in
 * a function: a block's count is that of the innermost range reported around it this time.
 * A feature is (script, block start, AFL-style hit-count bucket 1, 2, 3, 4–7, 8–15, 16–31,
 * 32–127, 128+): a new feature means the input did something no kept input did.
 */
import { Session } from 'node:inspector'

interface Range { startOffset: number, endOffset: number, count: number }
interface FunctionCoverage { functionName: string, ranges: Range[] }
interface ScriptCoverage { scriptId: string, url: string, functions: FunctionCoverage[] }

function bucket (count: number): number {
  return count <= 3 ? count - 1 : count < 8 ? 3 : count < 16 ? 4 : count < 32 ? 5 : count < 128 ? 6 : 7
}

export class Coverage {
  private readonly session = new Session()
  private readonly scripts = new Map<string, number>()
  /** Per function (script index · function start): every block start and end ever reported. */
  private readonly blocks = new Map<number, Map<number, number>>()
  private readonly seen = new Set<number>()
  private readonly seenBlocks = new Set<number>()
  private readonly scratch: number[] = []

  /** @param include only scripts whose URL contains one of these (the code under test). */
  constructor (private readonly include: readonly string[]) {
    this.session.connect()
    this.post('Profiler.enable')
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  }

  private post (method: string, params?: object): unknown {
    let result: unknown
    let error: Error | null = null
    this.session.post(method, params ?? {}, (err, res) => { error = err; result = res })
    if (error !== null) throw error
    return result
  }

  /** Counters since the last call, as feature keys (and resets them). */
  take (): number[] {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] }
    const out = this.scratch
    out.length = 0
    for (const script of result) {
      if (!this.include.some(p => script.url.includes(p))) continue
      let idx = this.scripts.get(script.url)
      if (idx === undefined) { idx = this.scripts.size; this.scripts.set(script.url, idx) }
      for (const fn of script.functions) {
        const ranges = fn.ranges
        const top = ranges[0]
        if (top === undefined || top.count === 0) continue
        const fnKey = idx * 2 ** 24 + top.startOffset
        let known = this.blocks.get(fnKey)
        if (known === undefined) { known = new Map(); this.blocks.set(fnKey, known) }
        for (const r of ranges) if (!known.has(r.startOffset)) known.set(r.startOffset, r.endOffset)
        for (const [start, end] of known) {
          // innermost reported range around this block: ranges come sorted by start, nested after their parent
          let count = 0
          for (const r of ranges) if (r.startOffset <= start && end <= r.endOffset) count = r.count
          if (count > 0) out.push((fnKey * 2 ** 20 + start % 2 ** 20) * 8 + bucket(count))
        }
      }
    }
    return out
  }

  /** Features in `keys` not seen before; they become seen. */
  novel (keys: readonly number[]): number {
    let n = 0
    for (const k of keys) {
      if (this.seen.has(k)) continue
      this.seen.add(k); this.seenBlocks.add(Math.floor(k / 8)); n++
    }
    return n
  }

  /** Whether `keys` (the sum of several inputs' counts) reach a block no kept input reached. */
  hasNewBlock (keys: readonly number[]): boolean {
    for (const k of keys) if (!this.seenBlocks.has(Math.floor(k / 8))) return true
    return false
  }

  get features (): number { return this.seen.size }

  stop (): void {
    try {
      this.post('Profiler.stopPreciseCoverage')
      this.post('Profiler.disable')
    } finally {
      this.session.disconnect()
    }
  }
}
