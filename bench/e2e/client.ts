/**
 * One benchmark client process: `node dist/bench/e2e/client.js <impl>`. Runs the workloads of
 * workloads.ts on the bench's commands (control.ts) and answers with the measured times.
 * Exits when stdin closes.
 */
import { serveCommands } from './control.js'
import type { Json } from './control.js'
import { isNodeImpl, loadImpl, parseVariant } from './impl.js'
import { Workloads } from './workloads.js'

const impl = process.argv[2]
if (!isNodeImpl(impl)) {
  process.stderr.write('usage: client.js <switchyard|js-libp2p|tcp> [--transport tcp|ws] [--security noise|tls]\n')
  process.exit(2)
}
const w = new Workloads(await (await loadImpl(impl)).startClient(parseVariant(process.argv)))

const num = (a: Record<string, Json>, k: string): number => {
  const v = a[k]
  if (typeof v !== 'number') throw new TypeError(`"${k}" expected a number, got ${JSON.stringify(v)}`)
  return v
}
const str = (a: Record<string, Json>, k: string): string => {
  const v = a[k]
  if (typeof v !== 'string') throw new TypeError(`"${k}" expected a string, got ${JSON.stringify(v)}`)
  return v
}

serveCommands({ pid: process.pid, impl }, {
  mem: () => {
    const m = process.memoryUsage()
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
  },
  /** Live libuv resources by type (timers, sockets…): a leak shows up here first. */
  resources: () => {
    const counts: Record<string, number> = {}
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1
    return counts
  },
  cpu: () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
  bulk: async (a) => await w.bulk(str(a, 'addr'), num(a, 'up'), num(a, 'down'), num(a, 'streams')),
  setup: async (a) => await w.setup(str(a, 'addr'), num(a, 'n')),
  echo: async (a) => await w.echo(str(a, 'addr'), num(a, 'n'), num(a, 'size')),
  ping: async (a) => await w.ping(str(a, 'addr'), num(a, 'n')),
  many: async (a) => await w.many(str(a, 'addr'), num(a, 'n'), num(a, 'size')),
  openConns: async (a) => await w.openConns(str(a, 'addr'), num(a, 'n'), num(a, 'concurrency')),
  closeConns: async () => await w.closeConns(),
  openStreams: async (a) => await w.openStreams(str(a, 'addr'), num(a, 'n')),
  closeStreams: async () => await w.closeStreams()
}, async () => { await Promise.race([w.stop(), new Promise(resolve => setTimeout(resolve, 3000))]) })
