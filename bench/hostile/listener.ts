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
import { serveCommands } from '../e2e/control.js'

// `--max-connections N` raises the switch's connection table (default 256) for the soak's 1000 honest peers
const mi = process.argv.indexOf('--max-connections')
const maxConnections = mi >= 0 ? Number(process.argv[mi + 1]) : undefined
const sw = newStandardSwitch({
  listenAddrs: ['/ip4/127.0.0.1/tcp/0'],
  protocols: [echoProtocol],
  log: () => {},
  ...(maxConnections !== undefined ? { config: { maxConnections } } : {})
})
await sw.start()
const addr = `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`
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
    return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers }
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
        r.peers.reduce((s, p) => s + p.usage.refused.connections, 0)
    }
  },
  cpu: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
  handles: () => {
    const counts: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
    return counts
  }
}, async () => { await Promise.race([sw.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
