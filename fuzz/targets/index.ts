/**
 * Every fuzz target, by group. A worker loads only its target's group: V8's coverage take costs
 * in proportion to every function compiled in the isolate, so less loaded code is more inputs/s.
 */
import type { FuzzTarget } from '../engine.js'

const GROUPS: Record<string, () => Promise<{ targets: FuzzTarget[] }>> = {
  codec: async () => await import('./codec.js'),
  proto: async () => await import('./proto.js'),
  multiaddr: async () => await import('./multiaddr.js'),
  multistream: async () => await import('./multistream.js'),
  noise: async () => await import('./noise.js'),
  tls: async () => await import('./tls.js'),
  yamux: async () => await import('./yamux.js'),
  mplex: async () => await import('./mplex.js'),
  ws: async () => await import('./ws.js'),
  quic: async () => await import('./quic.js'),
  'quic-connection': async () => await import('./quic-connection.js'),
  capture: async () => await import('./capture.js')
}

const matches = (name: string, p: string): boolean => name === p || name.startsWith(p.endsWith('/') ? p : `${p}/`)

/** The targets whose name is, or starts with the group of, one of `patterns` (all when empty). */
export async function loadTargets (patterns: readonly string[] = []): Promise<FuzzTarget[]> {
  const groups = Object.keys(GROUPS).filter(g =>
    patterns.length === 0 || patterns.some(p => p === g || p.startsWith(`${g}/`) || g.startsWith(p))
  )
  const out: FuzzTarget[] = []
  for (const g of groups) {
    const { targets } = await (GROUPS[g] as () => Promise<{ targets: FuzzTarget[] }>)()
    out.push(...targets.filter(t => patterns.length === 0 || patterns.some(p => matches(t.name, p) || g.startsWith(p))))
  }
  return out
}
