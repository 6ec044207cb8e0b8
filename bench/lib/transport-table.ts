/**
 * The e2e transport × security rows pivoted into one Markdown table: a line per figure (bulk,
 * setup, echo…), a column per implementation and variant, so QUIC stands beside TCP+Noise and
 * TCP+TLS for each implementation. bench/README.md's transport table is this output.
 */
import { fmt } from './harness.js'
import type { BenchRow } from './types.js'

export const TRANSPORT_GROUP = 'e2e transport × security'

const short = (impl: string): string => impl.replace('-libp2p', '')

/** Markdown, or '' when `rows` has no transport × security rows. */
export function transportTable (rows: readonly BenchRow[]): string {
  const vrows = rows.filter(r => r.group === TRANSPORT_GROUP && r.name.includes(': '))
  if (vrows.length === 0) return ''
  const variants: string[] = []
  const figures: string[] = []
  const units = new Map<string, string>()
  // cell key: figure ‖ impl ‖ variant
  const cells = new Map<string, string>()
  const impls = new Set<string>(['switchyard'])
  const notes: string[] = []
  for (const r of vrows) {
    const at = r.name.indexOf(': ')
    const variant = r.name.slice(0, at)
    const figure = r.name.slice(at + 2)
    if (!variants.includes(variant)) variants.push(variant)
    if (!figures.includes(figure)) figures.push(figure)
    units.set(figure, r.unit + (r.lowerIsBetter === true ? ' ↓' : ''))
    const put = (impl: string, v: number): void => {
      impls.add(impl)
      cells.set(`${figure}\u0000${impl}\u0000${variant}`, fmt(v))
    }
    put('switchyard', r.ours)
    if (r.anchor !== undefined) put(r.anchorName ?? 'anchor', r.anchor)
    for (const p of r.peers ?? []) put(p.name, p.value)
    if (r.note !== undefined && !notes.includes(r.note)) notes.push(r.note)
  }
  const order = ['switchyard', 'go-libp2p', 'rust-libp2p', 'js-libp2p']
  const rank = (impl: string): number => order.includes(impl) ? order.indexOf(impl) : order.length
  const implList = [...impls].sort((a, b) => rank(a) - rank(b))
  const cols = implList.flatMap(impl => variants.map(v => [impl, v] as const))
  const header = ['figure', 'unit', ...cols.map(([impl, v]) => `${short(impl)} ${v}`)]
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`,
    ...figures.map(f =>
      `| ${[f, units.get(f) ?? '', ...cols.map(([impl, v]) => cells.get(`${f}\u0000${impl}\u0000${v}`) ?? 'n/a')]
        .join(' | ')} |`
    )
  ]
  return lines.join('\n') + (notes.length > 0 ? '\n\n' + notes.map(n => `- ${n}`).join('\n') : '') + '\n'
}
