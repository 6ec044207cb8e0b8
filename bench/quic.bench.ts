/**
 * QUIC beside TCP+Noise+yamux, both switchyard, over loopback in one process:
 *
 *  - connections per second: dial (handshake + the first stream's protocol) and hang up, one at a time;
 *  - bulk: `/perf/1.0.0` with `bytes` up and `bytes` down over one stream (MiB/s of both directions).
 *
 * One process runs both ends, so the figures include both sides' CPU on the same cores. Run alone:
 * `npm run build && node dist/bench/quic.bench.js [--quick] [--only quic|tcp] [--part conn|bulk]
 * [--conns N] [--mib N] [--datagram N]` (`--datagram 1200`: QUIC without DPLPMTUD's large loopback
 * datagrams, the per-packet costs of a real path). Not part of `npm run bench` (yet). For a profile of one part:
 * `node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/quic.bench.js --only quic --part bulk`, then
 * `node dist/bench/lib/cpuprofile.js /tmp/prof/<file>.cpuprofile`.
 */
import { loadavg } from 'node:os'
import { newStandardSwitch } from '../src/index.js'
import { PERF_CODEC } from '../src/protocols/constants.js'
import { perf, perfProtocol } from '../src/protocols/perf.js'
import type { Switch } from '../src/switch/switch.js'
import { quic } from '../src/transport/quic/transport.js'

const MiB = 1024 * 1024

interface Pair { name: string, server: Switch, client: Switch }

async function pair (name: string, kind: 'quic' | 'tcp', datagram: number | undefined): Promise<Pair> {
  const layers = kind === 'quic'
    ? {
        transports: [quic(datagram === undefined ? {} : { loopbackDatagramSize: datagram })],
        listenAddrs: ['/ip4/127.0.0.1/udp/0/quic-v1']
      }
    : {
        transports: ['tcp' as const],
        security: ['noise' as const],
        muxers: ['yamux' as const],
        listenAddrs: ['/ip4/127.0.0.1/tcp/0']
      }
  const server = newStandardSwitch({ log: () => {}, ...layers })
  const client = newStandardSwitch({ log: () => {}, ...layers })
  server.mount(perfProtocol)
  await server.start()
  await client.start()
  return { name, server, client }
}

async function connectionsPerSecond (p: Pair, count: number): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const s = await p.client.dial(p.server.peerInfo.peerId, p.server.peerInfo.addrs, PERF_CODEC)
    await perf(s, { uploadBytes: 0, downloadBytes: 0 })
    await p.client.hangUp(p.server.peerInfo.peerId)
  }
  return count / ((performance.now() - t0) / 1000)
}

/** MiB/s of both directions, and the process's CPU time (both ends) per MiB moved. */
async function bulk (p: Pair, bytes: number): Promise<{ mibs: number, cpuMsPerMib: number }> {
  const s = await p.client.dial(p.server.peerInfo.peerId, p.server.peerInfo.addrs, PERF_CODEC)
  const cpu0 = process.cpuUsage()
  const r = await perf(s, { uploadBytes: bytes, downloadBytes: bytes })
  const cpu = process.cpuUsage(cpu0)
  return { mibs: 2 * bytes / MiB / r.timeSeconds, cpuMsPerMib: (cpu.user + cpu.system) / 1000 / (2 * bytes / MiB) }
}

function flag (name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1]
}

async function main (): Promise<void> {
  const quick = process.argv.includes('--quick')
  const conns = Number(flag('--conns') ?? (quick ? 20 : 100))
  const bytes = Number(flag('--mib') ?? (quick ? 4 : 16)) * MiB
  const only = flag('--only')
  const part = flag('--part')
  // DPLPMTUD's loopback ceiling (default 65507); 1200 shows what a path without large datagrams costs
  const d = flag('--datagram')
  const datagram = d === undefined ? undefined : Number(d)
  const rows: string[] = []
  for (const [name, kind] of [['QUIC (TLS 1.3 inside)', 'quic'], ['TCP + Noise + yamux', 'tcp']] as const) {
    if (only !== undefined && only !== kind) continue
    const p = await pair(name, kind, datagram)
    try {
      const cps = part === 'bulk' ? NaN : await connectionsPerSecond(p, conns)
      const b = part === 'conn' ? { mibs: NaN, cpuMsPerMib: NaN } : await bulk(p, bytes)
      rows.push(
        `${name.padEnd(24)} ${cps.toFixed(1).padStart(8)} conn/s   ${b.mibs.toFixed(1).padStart(7)} MiB/s ${
          b.cpuMsPerMib.toFixed(1).padStart(6)
        } CPU ms/MiB (${bytes / MiB} MiB each way, one stream)`
      )
    } finally {
      await p.client.stop()
      await p.server.stop()
    }
  }
  process.stdout.write(
    `loopback, one process for both ends, ${conns} sequential connections; load ${
      loadavg().map(l => l.toFixed(1)).join(' ')
    }\n${rows.join('\n')}\n`
  )
}

await main()
