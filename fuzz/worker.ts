/**
 * One target fuzzed in a worker thread, so the supervisor (fuzz/run.ts) can stop an input that
 * hangs (`worker.terminate()` interrupts even a busy loop) or exhausts the worker's heap. Before
 * each input the worker publishes it in shared memory: whatever kills the worker, the supervisor
 * knows which input did it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { appendCorpus, loadCorpus } from './corpus.js'
import { fuzzTarget } from './engine.js'
import { loadTargets } from './targets/index.js'

export interface WorkerJob {
  target: string
  seed: number
  timeMs: number
  corpusDir: string
  save: boolean
  hangMs: number
  /** Int32Array view: [0] iteration counter, [1] input length; then the input bytes from byte 8. */
  shared: SharedArrayBuffer
}

const job = workerData as WorkerJob
const target = (await loadTargets([job.target])).find(t => t.name === job.target)
if (target === undefined || parentPort === null) throw new Error(`no fuzz target ${job.target}`)
const header = new Int32Array(job.shared, 0, 2)
const bytes = new Uint8Array(job.shared, 8)
const port = parentPort

const report = fuzzTarget(target, {
  seed: job.seed,
  timeMs: job.timeMs,
  hangMs: job.hangMs,
  corpus: loadCorpus(job.corpusDir, target.name),
  beforeRun: (input) => {
    const n = Math.min(input.length, bytes.length)
    bytes.set(input.subarray(0, n))
    Atomics.store(header, 1, n)
    Atomics.add(header, 0, 1)
  },
  onNewInput: job.save ? input => { appendCorpus(job.corpusDir, target.name, input) } : undefined,
  onFinding: f => { port.postMessage({ type: 'finding', finding: f }) }
})
port.postMessage({ type: 'done', report: { ...report, findings: [] } })
