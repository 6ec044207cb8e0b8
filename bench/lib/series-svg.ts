/**
 * A time-series chart as SVG, written by hand like svg.ts (no dependency): stacked panels sharing
 * one time axis, each with its own linear y axis and a few named lines. Used by the soak run.
 */

export interface Series { name: string, color: string, points: ReadonlyArray<readonly [t: number, v: number]> }
export interface Panel { title: string, unit: string, series: Series[] }
/** A shaded time interval drawn behind every panel (e.g. while an attack runs). */
export interface Band { from: number, to: number, label: string }

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A "nice" step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`. */
function niceStep (span: number, n: number): number {
  const raw = span / Math.max(1, n)
  const p = 10 ** Math.floor(Math.log10(raw))
  const m = raw / p
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k` : `${Number(v.toPrecision(3))}`

export function renderSeries (
  title: string,
  subtitle: string,
  panels: readonly Panel[],
  xLabel = 'minutes',
  bands: readonly Band[] = []
): string {
  const left = 70
  const plotW = 760
  const panelH = 150
  const gap = 46
  const top = 58
  const width = left + plotW + 190
  const height = top + panels.length * (panelH + gap) + 20
  let tMax = 0
  for (const p of panels) for (const s of p.series) for (const [t] of s.points) tMax = Math.max(tMax, t)
  tMax = tMax > 0 ? tMax : 1
  const xStep = niceStep(tMax, 10)
  const x = (t: number): number => left + (t / tMax) * plotW
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`
  )
  out.push('<rect width="100%" height="100%" fill="#fff"/>')
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`)
  out.push(`<text x="10" y="38" fill="#444">${esc(subtitle)}</text>`)
  panels.forEach((p, i) => {
    const y0 = top + i * (panelH + gap) + 16
    let vMax = 0
    for (const s of p.series) for (const [, v] of s.points) vMax = Math.max(vMax, v)
    const yStep = niceStep(vMax > 0 ? vMax : 1, 4)
    const yTop = Math.max(yStep, Math.ceil((vMax > 0 ? vMax : 1) / yStep) * yStep)
    const y = (v: number): number => y0 + panelH - (v / yTop) * panelH
    out.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold">${esc(`${p.title} (${p.unit})`)}</text>`)
    for (const b of bands) {
      out.push(
        `<rect x="${x(b.from).toFixed(1)}" y="${y0}" width="${
          Math.max(1, x(b.to) - x(b.from)).toFixed(1)
        }" height="${panelH}" fill="#fee2e2"><title>${esc(b.label)}</title></rect>`
      )
      if (i === 0) {
        out.push(`<text x="${x(b.from).toFixed(1)}" y="${y0 + 10}" fill="#b91c1c" font-size="8">${esc(b.label)}</text>`)
      }
    }
    for (let v = 0; v <= yTop + 1e-9; v += yStep) {
      out.push(
        `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="${
          v === 0 ? '#111' : '#e5e5e5'
        }"/>`
      )
      out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#444">${fmt(v)}</text>`)
    }
    for (let t = 0; t <= tMax + 1e-9; t += xStep) {
      out.push(
        `<line x1="${x(t).toFixed(1)}" y1="${y0}" x2="${x(t).toFixed(1)}" y2="${y0 + panelH}" stroke="#f0f0f0"/>`
      )
      out.push(`<text x="${x(t).toFixed(1)}" y="${y0 + panelH + 14}" text-anchor="middle" fill="#444">${fmt(t)}</text>`)
    }
    p.series.forEach((s, k) => {
      if (s.points.length === 0) return
      const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"><title>${esc(s.name)}</title></path>`)
      const last = s.points[s.points.length - 1] as readonly [number, number]
      out.push(
        `<text x="${left + plotW + 10}" y="${y0 + 12 + k * 15}" fill="${s.color}">■ ${esc(s.name)} (last ${
          fmt(last[1])
        })</text>`
      )
    })
  })
  out.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle" fill="#444">${esc(xLabel)}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
