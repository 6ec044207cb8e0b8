/**
 * One benchmark server process: `node [--expose-gc] dist/bench/e2e/server.js <impl> [--listen <multiaddr>]
 * [--transport tcp|ws] [--security noise|tls]`.
 * Prints `{"ready":{"addr":…,"pid":…}}` on stdout, then answers the bench's commands (control.ts):
 *   stats → { connections, streams } as the implementation counts them
 *   mem   → process.memoryUsage() after a full GC (needs --expose-gc), measured inside this process
 * Exits when stdin closes.
 */
import { serveCommands } from './control.js'
import { isNodeImpl, listenAddr, loadImpl, parseVariant } from './impl.js'

const impl = process.argv[2]
if (!isNodeImpl(impl)) {
  process.stderr.write(
    'usage: server.js <switchyard|js-libp2p|tcp> [--listen /ip4/127.0.0.1/tcp/0] [--transport tcp|ws] [--security noise|tls]\n'
  )
  process.exit(2)
}
const variant = parseVariant(process.argv)
const li = process.argv.indexOf('--listen')
const listen = li >= 0 ? process.argv[li + 1] ?? '' : listenAddr(variant)

const server = await (await loadImpl(impl)).startServer(listen, variant)

const gc = (globalThis as { gc?: () => void }).gc

serveCommands({ addr: server.addr, pid: process.pid, impl }, {
  /** Live libuv resources by type (timers, sockets…): a leak shows up here first. */
  resources: () => {
    const counts: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
    return counts
  },
  cpu: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
  stats: () => server.stats(),
  mem: async () => {
    if (gc === undefined) throw new Error('mem needs node --expose-gc')
    for (let i = 0; i < 4; i++) {
      gc()
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    const m = process.memoryUsage()
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
  }
}, async () => { await Promise.race([server.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
