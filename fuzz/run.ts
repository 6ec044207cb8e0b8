/**
 * `npm run fuzz`: every target (or `--target a,b`), each in a worker thread watched for hangs and
 * heap exhaustion, the total time split evenly. New coverage is appended to `fuzz/corpus/`,
 * findings saved to `fuzz/findings/` with their input. Exit code 1 when anything was found.
 *
 *   npm run fuzz -- --time 1800 --target muxer        # 30 min over the muxer targets
 *   npm run fuzz -- --target codec/lp --reproduce fuzz/findings/codec_lp/crash-….bin
 *   npm run fuzz -- --list
 *   npm run fuzz -- --minimize                        # shrink fuzz/corpus to the inputs that add coverage
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { loadCorpus, saveFinding, writeCorpus } from './corpus.js'
import type { Finding, FuzzReport } from './engine.js'
import { minimizeCorpus, reproduce, signatureOf } from './engine.js'
import { loadTargets } from './targets/index.js'
import type { WorkerJob } from './worker.js'

interface Args {
  time: number
  targets: string[]
  seed: number
  corpusDir: string
  findingsDir: string
  save: boolean
  hangMs: number
  heapMb: number
  reproduce?: string
  list: boolean
  minimize: boolean
}

function parseArgs (argv: readonly string[]): Args {
  const root = join(import.meta.dirname, '..', '..', 'fuzz')
  const a: Args = {
    time: 60,
    targets: [],
    seed: Date.now() % 2 ** 31,
    corpusDir: join(root, 'corpus'),
    findingsDir: join(root, 'findings'),
    save: true,
    hangMs: 1000,
    heapMb: 512,
    list: false,
    minimize: false
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = (): string => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${k} needs a value`)
      return x
    }
    switch (k) {
      case '--time':
        a.time = Number(v())
        break
      case '--target':
        a.targets.push(...v().split(','))
        break
      case '--seed':
        a.seed = Number(v())
        break
      case '--corpus':
        a.corpusDir = v()
        break
      case '--findings':
        a.findingsDir = v()
        break
      case '--no-save':
        a.save = false
        break
      case '--hang-ms':
        a.hangMs = Number(v())
        break
      case '--heap-mb':
        a.heapMb = Number(v())
        break
      case '--reproduce':
        a.reproduce = v()
        break
      case '--list':
        a.list = true
        break
      case '--minimize':
        a.minimize = true
        break
      default:
        throw new Error(
          `unknown option ${k} (--time s, --target a,b, --seed n, --corpus dir, --findings dir, --no-save, --hang-ms n, --heap-mb n, --reproduce file, --list, --minimize)`
        )
    }
  }
  return a
}

/** Fuzz one target in a worker for `timeMs`, restarting it after a hang or an out-of-memory. */
async function supervise (
  name: string,
  timeMs: number,
  args: Args,
  onFinding: (f: Finding) => void
): Promise<FuzzReport | undefined> {
  const end = Date.now() + timeMs
  let seed = args.seed
  let last: FuzzReport | undefined
  let executions = 0
  while (Date.now() < end - 200) {
    const shared = new SharedArrayBuffer(8 + (1 << 20))
    const header = new Int32Array(shared, 0, 2)
    const job: WorkerJob = {
      target: name,
      seed,
      timeMs: end - Date.now(),
      corpusDir: args.corpusDir,
      save: args.save,
      hangMs: args.hangMs,
      shared
    }
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: args.heapMb }
    })
    const currentInput = (): Uint8Array => new Uint8Array(shared, 8, Atomics.load(header, 1)).slice()
    const outcome = await new Promise<{ report?: FuzzReport, killed?: Finding }>(resolve => {
      let lastCount = -1
      let lastChange = Date.now()
      const timer = setInterval(() => {
        const c = Atomics.load(header, 0)
        if (c !== lastCount) {
          lastCount = c
          lastChange = Date.now()
          return
        }
        // one input running for far longer than the budget (coverage bookkeeping included): a hang
        if (c > 0 && Date.now() - lastChange > Math.max(5000, args.hangMs * 5)) {
          clearInterval(timer)
          const input = currentInput()
          void worker.terminate().then(() => {
            resolve({
              killed: {
                target: name,
                kind: 'hang',
                ...signatureOf(
                  'hang',
                  new Error(`input ${c} still running after ${Date.now() - lastChange} ms; worker stopped`)
                ),
                signature: `hang (worker stopped) @ input ${input.length} bytes`,
                input,
                iteration: c
              }
            })
          })
        }
      }, 250)
      worker.on('message', (m: { type: string, finding?: Finding, report?: FuzzReport }) => {
        if (m.type === 'finding' && m.finding !== undefined) onFinding(m.finding)
        if (m.type === 'done') {
          clearInterval(timer)
          resolve({ report: m.report })
        }
      })
      worker.on('error', err => {
        clearInterval(timer)
        const kind = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash'
        resolve({
          killed: {
            target: name,
            kind,
            ...signatureOf(kind, err),
            input: currentInput(),
            iteration: Atomics.load(header, 0)
          }
        })
      })
      worker.on('exit', () => {
        clearInterval(timer)
        resolve({})
      })
    })
    executions += Atomics.load(header, 0)
    if (outcome.report !== undefined) {
      last = { ...outcome.report, executions }
      break
    }
    if (outcome.killed !== undefined) onFinding(outcome.killed)
    else break
    seed++
  }
  return last
}

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.list) {
    for (const t of await loadTargets()) console.log(t.name)
    return 0
  }
  const chosen = await loadTargets(args.targets)
  if (chosen.length === 0) {
    console.error(`no target matches ${args.targets.join(', ')} (--list)`)
    return 2
  }
  if (args.reproduce !== undefined) {
    const input = Uint8Array.from(readFileSync(args.reproduce))
    let bad = 0
    for (const t of chosen) {
      const r = reproduce(t, input)
      console.log(`${t.name}: ${r.ms.toFixed(1)} ms, ${r.errors.length} error(s), ${r.unexpected.length} unexpected`)
      for (const e of r.unexpected) console.log(e instanceof Error ? e.stack : e)
      bad += r.unexpected.length
    }
    return bad > 0 ? 1 : 0
  }
  if (args.minimize) {
    for (const t of chosen) {
      const before = loadCorpus(args.corpusDir, t.name)
      const after = minimizeCorpus(t, before)
      writeCorpus(args.corpusDir, t.name, after)
      const bytes = (xs: Uint8Array[]): number => xs.reduce((n, x) => n + x.length, 0)
      console.log(
        `${t.name.padEnd(28)} ${before.length} → ${after.length} inputs, ${bytes(before)} → ${bytes(after)} bytes`
      )
    }
    return 0
  }
  const perTarget = (args.time * 1000) / chosen.length
  console.log(
    `fuzzing ${chosen.length} target(s) for ${args.time} s (seed ${args.seed}, ${(perTarget / 1000).toFixed(1)} s each)`
  )
  const findings: Finding[] = []
  const rows: string[] = []
  for (const t of chosen) {
    const seen = new Set<string>()
    const report = await supervise(t.name, perTarget, args, f => {
      if (seen.has(f.signature)) return
      seen.add(f.signature)
      findings.push(f)
      const file = saveFinding(args.findingsDir, f)
      console.log(
        `  FOUND ${f.kind} in ${f.target}: ${f.signature}\n    ${f.message.split('\n')[0]}\n    saved ${file}`
      )
    })
    const line = report === undefined
      ? `${t.name.padEnd(28)} (no report)`
      : `${t.name.padEnd(28)} ${String(report.executions).padStart(9)} execs ${
        String(Math.round(report.executions / (report.elapsedMs / 1000))).padStart(6)
      }/s  corpus ${String(report.corpusSize).padStart(5)}  features ${String(report.features).padStart(6)}  slowest ${
        report.slowestMs.toFixed(1)
      } ms  findings ${seen.size}`
    rows.push(line)
    console.log(line)
  }
  console.log(`\n${findings.length} finding(s) in ${chosen.length} target(s)`)
  return findings.length > 0 ? 1 : 0
}

process.exitCode = await main()
