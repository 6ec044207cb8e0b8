/**
 * The fuzzer in CI: every target (fuzz/targets) replays its committed corpus (fuzz/corpus, grown by
 * the campaigns of `npm run fuzz`), then runs a fixed number of mutated inputs from a fixed seed —
 * deterministic, so a failure here replays the same way. Any finding (an error that is not a typed
 * SwitchyardError, a hang beyond 1 s, memory growth beyond 64 MiB) fails its target's test with the
 * input in hex; `npm run fuzz -- --target <name> --reproduce <file>` replays a saved one.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadCorpus } from '../../fuzz/corpus.js'
import { fuzzTarget } from '../../fuzz/engine.js'
import { loadTargets } from '../../fuzz/targets/index.js'

const ITERATIONS = 200
const SEED = 0x5eed
const CORPUS = join(import.meta.dirname, '..', '..', 'fuzz', 'corpus')
const targets = await loadTargets()

describe('fuzz targets (fixed seed, fixed iterations, committed corpus)', () => {
  it('covers every layer', () => {
    const groups = new Set(targets.map(t => t.name.split('/')[0]))
    expect([...groups].sort()).toEqual([
      'capture',
      'codec',
      'mplex',
      'multiaddr',
      'multistream',
      'noise',
      'proto',
      'quic',
      'quic-connection',
      'tls',
      'ws',
      'yamux'
    ])
  })

  it.each(targets.map(t => [t.name, t] as const))('%s', (_name, target) => {
    const report = fuzzTarget(target, { seed: SEED, iterations: ITERATIONS, corpus: loadCorpus(CORPUS, target.name) })
    expect(report.findings.map(f => `${f.signature}: ${f.message}\n  input ${Buffer.from(f.input).toString('hex')}`))
      .toEqual([])
    expect(report.executions).toBeGreaterThanOrEqual(ITERATIONS)
  })
})
