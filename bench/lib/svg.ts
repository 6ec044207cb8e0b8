/**
 * The SVG bar chart of the ratios, written by hand (no dependency) next to the JSON results.
 * One line per figure that has an anchor, a limit or another implementation (go/rust: the QUIC rows,
 * which have no js-libp2p anchor); bars show the advantage (how many times
 * better switchyard is, > 1 = better, whatever the unit's direction) on a log2 axis: blue against
 * the anchor, orange against the limit. Goals are ticks on the bar they constrain.
 */
import { advantage, bestForeign, checkGoals, goalReference } from './harness.js'
import type { BenchRow } from './types.js'

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function renderSvg (rows: BenchRow[], title: string): string {
  const items = rows.filter(r => r.anchor !== undefined || r.limit !== undefined || (r.peers ?? []).length > 0)
  const labelW = 470
  const plotW = 520
  const rowH = 36
  const top = 64
  const height = top + items.length * rowH + 40
  const width = labelW + plotW + 120
  // Axis: powers of two around the data, at least 1/4 … 4.
  let lo = -2
  let hi = 2
  for (const r of items) {
    for (const v of [advantage(r, r.anchor), advantage(r, r.limit), advantage(r, bestForeign(r)?.value)]) {
      if (v === undefined || !(v > 0)) continue
      lo = Math.min(lo, Math.floor(Math.log2(v)))
      hi = Math.max(hi, Math.ceil(Math.log2(v)))
    }
  }
  lo = Math.max(lo, -10)
  hi = Math.min(hi, 10)
  const x = (v: number): number => labelW + (Math.min(hi, Math.max(lo, Math.log2(v))) - lo) / (hi - lo) * plotW
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`
  )
  out.push('<rect width="100%" height="100%" fill="#fff"/>')
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`)
  out.push('<text x="10" y="38" fill="#444">advantage = how many times better switchyard is (log scale; right of 1 = ' +
    'better). <tspan fill="#2563eb">■ vs anchor (js-libp2p / package)</tspan>  <tspan fill="#ea580c">■ vs limit ' +
    '(raw TCP / bare cipher)</tspan>  <tspan fill="#16a34a">■ vs best of js/go/rust</tspan>  ┃ goal</text>')
  for (let e = lo; e <= hi; e++) {
    const gx = x(2 ** e)
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 8}" x2="${gx.toFixed(1)}" y2="${height - 30}" stroke="${
        e === 0 ? '#111' : '#ddd'
      }" stroke-width="${e === 0 ? 1.5 : 1}"/>`
    )
    const lab = e >= 0 ? `${2 ** e}x` : `1/${2 ** -e}`
    out.push(`<text x="${gx.toFixed(1)}" y="${height - 16}" text-anchor="middle" fill="#444">${lab}</text>`)
  }
  items.forEach((r, i) => {
    const y = top + i * rowH
    const label = `${r.group}: ${r.name}`
    out.push(
      `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${
        esc(label.length > 72 ? label.slice(0, 71) + '…' : label)
      }</text>`
    )
    const one = x(1)
    const bar = (v: number | undefined, dy: number, color: string): void => {
      if (v === undefined || !(v > 0)) return
      const bx = x(v)
      out.push(
        `<rect x="${Math.min(one, bx).toFixed(1)}" y="${y + dy}" width="${
          Math.max(1, Math.abs(bx - one)).toFixed(1)
        }" height="9" fill="${color}"><title>${esc(`${label}: ${v.toPrecision(3)}x`)}</title></rect>`
      )
      out.push(
        `<text x="${(Math.max(one, bx) + 4).toFixed(1)}" y="${y + dy + 8}" fill="${color}" font-size="9">${
          v.toPrecision(3)
        }x</text>`
      )
    }
    bar(advantage(r, r.anchor), 3, '#2563eb')
    bar(advantage(r, r.limit), 13, '#ea580c')
    if ((r.peers ?? []).length > 0) bar(advantage(r, bestForeign(r)?.value), 23, '#16a34a')
    for (const g of checkGoals(r)) {
      // A goal on ours/ref is a goal on the advantage: ≥k → k, ≤k (lower is better) → 1/k.
      const ref = goalReference(r, g.goal)
      if (ref === undefined) continue
      const adv = r.lowerIsBetter === true ? 1 / g.goal.ratio : g.goal.ratio
      const gx = x(adv)
      const dy = g.goal.against === 'anchor'
        ? 3
        : g.goal.against === 'limit' || (r.limits ?? []).some(l => l.name === g.goal.against) ||
            g.goal.against === r.limitName
          ? 13
          : 23
      out.push(
        `<line x1="${gx.toFixed(1)}" y1="${y + dy - 2}" x2="${gx.toFixed(1)}" y2="${y + dy + 11}" stroke="${
          g.met === true ? '#16a34a' : '#dc2626'
        }" stroke-width="2"><title>${esc(g.goal.label)}</title></line>`
      )
    }
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
