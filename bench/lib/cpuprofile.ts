/**
 * Summarise a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function, top first,
 * and per file. Used by `npm run bench -- --profile` and runnable alone:
 * `node dist/bench/lib/cpuprofile.js <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface FrameTime { name: string, where: string, ms: number, share: number }

/** Self time per function (summed over the nodes of the same function). */
export function summarizeProfile (
  path: string
): { totalMs: number, idleMs: number, frames: FrameTime[], files: FrameTime[] } {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map<number, ProfileNode>()
  for (const n of p.nodes) byId.set(n.id, n)
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0))
  }
  let total = 0
  const fn = new Map<string, FrameTime>()
  const files = new Map<string, FrameTime>()
  for (const [id, us] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    total += us
    const cf = n.callFrame
    const file = shortUrl(cf.url)
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName
    const key = `${name}@${file}:${cf.lineNumber + 1}`
    const f = fn.get(key) ?? { name, where: file === '' ? '' : `${file}:${cf.lineNumber + 1}`, ms: 0, share: 0 }
    f.ms += us / 1000
    fn.set(key, f)
    const fk = file === '' ? name : file
    const g = files.get(fk) ?? { name: fk, where: '', ms: 0, share: 0 }
    g.ms += us / 1000
    files.set(fk, g)
  }
  const totalMs = total / 1000
  // Shares are of the busy time: a bench process waits for its peer (or for the other pairs) a lot.
  const idleMs = files.get('(idle)')?.ms ?? 0
  const busyMs = totalMs - idleMs
  const sorted = (m: Map<string, FrameTime>): FrameTime[] =>
    [...m.values()].filter(f => f.name !== '(idle)').map(f => ({ ...f, share: busyMs > 0 ? f.ms / busyMs : 0 })).sort((
      a,
      b
    ) => b.ms - a.ms)
  return { totalMs, idleMs, frames: sorted(fn), files: sorted(files) }
}

function shortUrl (url: string): string {
  if (url === '') return ''
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length)
  const d = u.indexOf('/dist/')
  if (d >= 0) return u.slice(d + '/dist/'.length)
  return u
}

export function formatProfile (title: string, path: string, top = 20): string {
  const s = summarizeProfile(path)
  const lines = [
    `${title}: ${s.totalMs.toFixed(0)} ms sampled, ${
      (s.totalMs - s.idleMs).toFixed(0)
    } ms busy (shares below are of the busy time)`,
    '  self time by function:'
  ]
  for (const f of s.frames.slice(0, top)) {
    lines.push(
      `    ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`
    )
  }
  lines.push('  self time by file:')
  for (const f of s.files.slice(0, 12)) {
    lines.push(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`)
  }
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const file = process.argv[2]
  if (file === undefined) { process.stderr.write('usage: cpuprofile.js <file.cpuprofile> [top]\n'); process.exit(2) }
  console.log(formatProfile(file, file, Number(process.argv[3] ?? 25)))
}
