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
import { listenerMem } from './mem.js'

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
serveCommands({ addr, pid: process.pid }, {
  rss: () => process.memoryUsage.rss(),
  usage: () => {
    const m = process.memoryUsage()
    const handles: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1
    return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, handles }
  },
  mem: listenerMem,
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
