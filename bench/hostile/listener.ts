/**
 * The listener under attack, in its own process so its RSS is its own:
 * `node --expose-gc dist/bench/hostile/listener.js [--max-connections N]`. A standard switch (TCP, Noise, yamux +
 * mplex,
 * identify, ping) serving echo, with the default limits users get. Prints `{"ready":{addr}}`, then
 * answers (bench/e2e/control.ts): `rss` (as it is), `mem` (after full GCs), `inspect` (the switch's
 * own accounting), `cpu` (ms of CPU used so far).
 */
import { newStandardSwitch } from '../../src/index.js'
import { echoProtocol } from '../../src/protocols/echo.js'
import { readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import { serveCommands } from '../e2e/control.js'

// `--max-connections N` raises the switch's connection table (default 256) for the soak's 1000 honest peers
const mi = process.argv.indexOf('--max-connections')
const maxConnections = mi >= 0 ? Number(process.argv[mi + 1]) : undefined
const sw = newStandardSwitch({
  listenAddrs: ['/ip4/127.0.0.1/tcp/0'],
  protocols: [echoProtocol],
  log: () => {},
  // the soak's honest peers all stay: the watermarks follow the raised table instead of trimming
  // 1000 honest connections down to 3/4 of it whenever one is between two echo streams
  ...(maxConnections !== undefined
    ? { config: { maxConnections, connectionsHighWater: maxConnections, connectionsLowWater: maxConnections - 1 } }
    : {})
})
// Inbound connections that failed before they were usable, by stage and code (a limit, a bad or
// stalled handshake), and the source hosts of the ones that opened: the soak's peers should arrive
// from as many hosts as there are peers, none refused by the per-address bound.
const inboundErrors: Record<string, number> = {}
sw.on('connection:error', ev => {
  if (ev.direction !== 'inbound') return
  const key = `${ev.stage} ${(ev.error as { code?: string }).code ?? ev.error.name}`
  inboundErrors[key] = (inboundErrors[key] ?? 0) + 1
})
const sourceHosts = new Set<string>()
sw.on('connection:open', ev => {
  if (ev.connection.direction === 'inbound') sourceHosts.add(ev.connection.remoteAddr.split('/')[2] ?? '')
})
await sw.start()
const addr = `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`
/** RssAnon / RssFile of /proc/self/status in bytes (0 where there is no procfs). */
function statusRss (): { rssAnon: number, rssFile: number } {
  try {
    const st = readFileSync('/proc/self/status', 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? 0) * 1024
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') }
  } catch {
    return { rssAnon: 0, rssFile: 0 }
  }
}
/**
 * Linux: the resident bytes of the `[heap]` mapping (glibc's main malloc arena, grown with brk; what it keeps
 * after free() stays resident) and of the other anonymous mappings (V8's heap pages, mmapped malloc chunks,
 * other arenas), from /proc/self/smaps; 0 where there is none.
 */
function smapsRss (): { brkHeap: number, otherAnon: number } {
  let brkHeap = 0
  let otherAnon = 0
  try {
    let current = ''
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
      if (head !== null) { current = head[1] ?? ''; continue }
      const rss = /^Rss:\s+(\d+) kB/.exec(line)
      if (rss === null) continue
      if (current === '[heap]') brkHeap += Number(rss[1]) * 1024
      else if (current === '' || current.startsWith('[anon')) otherAnon += Number(rss[1]) * 1024
    }
  } catch {
    /* no procfs */
  }
  return { brkHeap, otherAnon }
}
const gc = (globalThis as { gc?: () => void }).gc

serveCommands({ addr, pid: process.pid }, {
  rss: () => process.memoryUsage.rss(),
  usage: () => {
    const m = process.memoryUsage()
    const handles: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1
    return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, handles }
  },
  mem: async () => {
    if (gc === undefined) throw new Error('mem needs node --expose-gc')
    for (let i = 0; i < 4; i++) { gc(); await new Promise(resolve => setTimeout(resolve, 20)) }
    const m = process.memoryUsage()
    // Where RSS sits beyond the live heap: V8's committed heap (new space grows to its maximum
    // under a high allocation rate and is not shrunk by a full GC), buffers outside the heap.
    const spaces: Record<string, number> = {}
    for (const sp of getHeapSpaceStatistics()) spaces[sp.space_name] = sp.space_size
    return {
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      newSpace: spaces.new_space ?? 0,
      // Linux: RSS split into anonymous memory and pages of mapped files (node, libcrypto…) first
      // touched by the attack's code paths, which stay resident: not ours to give back
      ...statusRss(),
      ...smapsRss()
    }
  },
  inspect: () => {
    const v = sw.inspect()
    const r = v.resources
    return {
      connections: v.totals.connections,
      streams: v.totals.streams,
      pendingInbound: v.totals.pendingInbound,
      peers: r.peers.length,
      memoryBytes: r.process.usage.memoryBytes,
      refusedMemory: r.process.usage.refused.memory + r.peers.reduce((s, p) => s + p.usage.refused.memory, 0) +
        r.connections.reduce((s, c) => s + c.usage.refused.memory, 0),
      refusedStreams: r.process.usage.refused.streams + r.peers.reduce((s, p) => s + p.usage.refused.streams, 0) +
        r.connections.reduce((s, c) => s + c.usage.refused.streams, 0),
      refusedConnections: r.process.usage.refused.connections +
        r.peers.reduce((s, p) => s + p.usage.refused.connections, 0),
      inboundErrors,
      sourceHosts: sourceHosts.size
    }
  },
  cpu: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
  handles: () => {
    const counts: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
    return counts
  }
}, async () => { await Promise.race([sw.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
