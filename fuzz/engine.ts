/**
 * A small coverage-guided fuzzer (the libFuzzer/AFL loop) for switchyard's decoders and sans-I/O
 * machines, on V8's own block coverage (fuzz/coverage.ts) — `@jazzer.js/core` cannot be used on
 * this platform (4.x needs glibc 2.38; 2.x fetches prebuilt binaries from GitHub at install).
 *
 * Loop, per target:
 *  1. Run every seed (the target's encoders' output, the corpus directory): keep those that add
 *     coverage features.
 *  2. Pick a kept input (recent ones more often), mutate it (fuzz/mutate.ts), run it.
 *  3. The input is a finding when the target throws anything but a `SwitchyardError` (the
 *     target may refine this with `expected`), or reports such an error through a callback, or
 *     takes more than `hangMs` of CPU time, or leaves more than `memoryBoundBytes` of new heap/ArrayBuffer
 *     memory behind right after it ran. Findings are deduplicated by kind and stack top.
 *  4. New features → the input joins the corpus.
 * Everything random comes from the seed: a run with a fixed seed and a fixed number of
 * iterations is deterministic (the CI run in test/fuzz/fuzz.test.ts).
 */
import { createHash } from 'node:crypto'
import { SwitchyardError } from '../src/errors.js'
import { Coverage } from './coverage.js'
import { mutate, Rng } from './mutate.js'

export interface FuzzTarget {
  /** `layer/thing`, e.g. `codec/varint`. */
  name: string
  /** Valid (and interesting invalid) inputs built from the project's encoders and test vectors. */
  seeds: () => Uint8Array[]
  /** Protocol tokens the mutators insert. */
  dictionary?: ReadonlyArray<string | Uint8Array>
  /** Inputs are cut to this length (default 4096). */
  maxLength?: number
  /**
   * Feed one input. Throw (or rethrow) what the layer raised; call `report` for errors the layer
   * delivered through a callback (a session's close reason) so they are checked the same way.
   */
  run: (data: Uint8Array, report: (err: unknown) => void) => void
  /** Whether an error is an expected, typed refusal (default: a SwitchyardError not caused by a JS bug). */
  expected?: (err: unknown) => boolean
}

export type FindingKind = 'crash' | 'hang' | 'memory'

export interface Finding {
  target: string
  kind: FindingKind
  /** Dedup key: kind + error class + the first stack frame inside the repository. */
  signature: string
  message: string
  stack: string
  input: Uint8Array
  iteration: number
}

export interface FuzzOptions {
  seed?: number
  /** Stop after this many mutated inputs… */
  iterations?: number
  /** …or after this long (whichever comes first). */
  timeMs?: number
  hangMs?: number
  memoryBoundBytes?: number
  /** Extra starting inputs (a saved corpus). */
  corpus?: readonly Uint8Array[]
  /** Coverage guidance (default true); without it the loop is a plain mutational fuzzer. */
  coverage?: boolean
  onNewInput?: (input: Uint8Array) => void
  onFinding?: (f: Finding) => void
  /** Called before each input runs (the supervisor's hang watchdog). */
  beforeRun?: (input: Uint8Array, iteration: number) => void
}

export interface FuzzReport {
  target: string
  executions: number
  corpusSize: number
  features: number
  findings: Finding[]
  elapsedMs: number
  slowestMs: number
}

/** JS programming errors: a SwitchyardError wrapping one of these still hides a bug. */
const BUG_CLASSES = [TypeError, RangeError, ReferenceError, SyntaxError]

/** Inputs per coverage take. */
const BATCH = 16

export function isTypedRefusal (err: unknown): boolean {
  if (!(err instanceof SwitchyardError)) return false
  let cause: unknown = err.cause
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    // A JS error raised by our own code (its top frame in src/) is a bug even when wrapped; one raised
    // by Node or a library for bad input (TextDecoder's invalid UTF-8, multiformats' CID.parse) is the
    // layer's business, and wrapping it in a typed error is the right thing to do.
    if (
      BUG_CLASSES.some(C => cause instanceof C) && !(cause instanceof SwitchyardError) && thrownByUs(cause as Error)
    ) return false
    cause = (cause as { cause?: unknown }).cause
  }
  return true
}

function encodeTokens (tokens: ReadonlyArray<string | Uint8Array>): Uint8Array[] {
  return tokens.map(t => typeof t === 'string' ? new TextEncoder().encode(t) : t)
}

function thrownByUs (err: Error): boolean {
  const top = (err.stack ?? '').split('\n').find(l => /^\s+at /.test(l)) ?? ''
  return /\/src\//.test(top) && !/node_modules|node:/.test(top)
}

export function signatureOf (kind: FindingKind, err: unknown): { signature: string, message: string, stack: string } {
  const e = err instanceof Error ? err : new Error(String(err))
  const stack = e.stack ?? String(e)
  const frame = stack.split('\n').slice(1).find(l => /\/src\//.test(l)) ?? stack.split('\n')[1] ?? ''
  const where = frame.replace(/^\s*at\s+/, '').replace(/\(?(file:\/\/)?[^()]*\/(src\/[^:)]+):(\d+):\d+\)?/, '$2:$3')
    .trim()
  return {
    signature: `${kind} ${e.name}${e instanceof SwitchyardError ? `(${e.code})` : ''} @ ${where}`,
    message: e.message,
    stack
  }
}

export function inputId (input: Uint8Array): string {
  return createHash('sha1').update(input).digest('hex').slice(0, 16)
}

/** Fuzz one target in this thread. */
export function fuzzTarget (target: FuzzTarget, options: FuzzOptions = {}): FuzzReport {
  const rng = new Rng(options.seed ?? 1)
  const maxLength = target.maxLength ?? 4096
  const hangMs = options.hangMs ?? 1000
  const memoryBound = options.memoryBoundBytes ?? 64 * 1024 * 1024
  const expected = target.expected ?? isTypedRefusal
  const deadline = options.timeMs === undefined ? Infinity : performance.now() + options.timeMs
  const iterations = options.iterations ?? Infinity
  const cov = options.coverage === false ? undefined : new Coverage(['/src/'])
  const dictionary = encodeTokens(target.dictionary ?? [])
  const corpus: Uint8Array[] = []
  const findings = new Map<string, Finding>()
  const started = performance.now()
  let executions = 0
  let slowestMs = 0

  const runOne = (input: Uint8Array, iteration: number): void => {
    options.beforeRun?.(input, iteration)
    const reported: unknown[] = []
    const before = memoryInUse()
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    try {
      target.run(input, err => { reported.push(err) })
    } catch (err) {
      reported.push(err)
    }
    const wall = performance.now() - t0
    // CPU time, not wall time: on a loaded machine an input may wait for a core far longer than it runs
    const cpu = process.cpuUsage(cpu0)
    const dt = (cpu.user + cpu.system) / 1000
    const grown = memoryInUse() - before
    executions++
    if (dt > slowestMs) slowestMs = dt
    const note = (kind: FindingKind, err: unknown): void => {
      const s = signatureOf(kind, err)
      if (findings.has(s.signature)) return
      const f: Finding = { target: target.name, kind, ...s, input: input.slice(), iteration }
      findings.set(s.signature, f)
      options.onFinding?.(f)
    }
    for (const err of reported) if (!expected(err)) note('crash', err)
    if (dt > hangMs) {
      note(
        'hang',
        new Error(`one input took ${dt.toFixed(0)} ms of CPU, ${wall.toFixed(0)} ms wall (budget ${hangMs} ms)`)
      )
    }
    if (grown > memoryBound) {
      note(
        'memory',
        new Error(
          `one input left ${(grown / 2 ** 20).toFixed(1)} MiB behind (bound ${(memoryBound / 2 ** 20).toFixed(0)} MiB)`
        )
      )
    }
  }
  /** Run alone, then keep it if it showed new features. */
  const runAndJudge = (input: Uint8Array, iteration: number): boolean => {
    runOne(input, iteration)
    return cov !== undefined && cov.novel(cov.take()) > 0
  }

  try {
    cov?.take() // drop what loading the target counted
    const starts = [...target.seeds(), ...(options.corpus ?? [])]
    for (const s of starts) {
      const input = s.length > maxLength ? s.subarray(0, maxLength) : s
      if (runAndJudge(input, 0) || cov === undefined) corpus.push(input)
    }
    if (corpus.length === 0) corpus.push(new Uint8Array(0))
    const ctx = { dictionary, corpus, maxLength }
    // Inputs run in batches with one coverage take per batch (a take costs far more than most
    // inputs); a batch that reached a new block is replayed input by input to find which.
    const batch: Uint8Array[] = []
    let i = 1
    while (i <= iterations && performance.now() < deadline) {
      batch.length = 0
      const first = i
      for (; batch.length < BATCH && i <= iterations; i++) {
        // favour recent finds: half the time one of the last 16 kept inputs
        const parent = rng.bool()
          ? corpus[corpus.length - 1 - rng.int(Math.min(16, corpus.length))] as Uint8Array
          : rng.pick(corpus)
        const child = mutate(parent, rng, ctx)
        batch.push(child)
        runOne(child, i)
      }
      if (cov === undefined || !cov.hasNewBlock(cov.take())) continue
      batch.forEach((child, k) => {
        if (runAndJudge(child, first + k)) {
          corpus.push(child)
          options.onNewInput?.(child)
        }
      })
    }
  } finally {
    cov?.stop()
  }
  return {
    target: target.name,
    executions,
    corpusSize: corpus.length,
    features: cov?.features ?? 0,
    findings: [...findings.values()],
    elapsedMs: performance.now() - started,
    slowestMs
  }
}

/**
 * Corpus minimisation (afl-cmin's greedy pass): the inputs, shortest first, that each add coverage
 * features to those before them. Seeds are not part of the result (they are rebuilt every run).
 */
export function minimizeCorpus (target: FuzzTarget, inputs: readonly Uint8Array[]): Uint8Array[] {
  const cov = new Coverage(['/src/'])
  const kept: Uint8Array[] = []
  try {
    const run = (input: Uint8Array): boolean => {
      try { target.run(input, () => {}) } catch { /* findings are not this pass's business */ }
      return cov.novel(cov.take()) > 0
    }
    cov.take()
    for (const s of target.seeds()) run(s)
    const max = target.maxLength ?? 4096
    const unique = new Map(inputs.map(i => i.subarray(0, max)).map(i => [Buffer.from(i).toString('hex'), i]))
    for (const input of [...unique.values()].sort((a, b) => a.length - b.length)) if (run(input)) kept.push(input)
  } finally {
    cov.stop()
  }
  return kept
}

/** Heap plus ArrayBuffer memory in use (what one input can make us hold). */
function memoryInUse (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** Run one input the way the fuzzer does; the finding it makes, if any. */
export function reproduce (
  target: FuzzTarget,
  input: Uint8Array
): { errors: unknown[], unexpected: unknown[], ms: number } {
  const errors: unknown[] = []
  const t0 = performance.now()
  try { target.run(input, e => { errors.push(e) }) } catch (err) { errors.push(err) }
  const ms = performance.now() - t0
  const expected = target.expected ?? isTypedRefusal
  return { errors, unexpected: errors.filter(e => !expected(e)), ms }
}
