/**
 * `npm run soak`: a long mixed workload against one listener process (bench/hostile/listener.ts,
 * default limits). Honest peers: `--connections` switches (default 1000), each running `--streams`
 * (default 10) loops of echo with a random payload (1 B … 8 KiB) whose SHA-256 is checked on the way
 * back; peer i dials from its own loopback address, 127.0.(1 + ⌊i / 254⌋).(1 + i % 254) (Linux routes
 * all of 127.0.0.0/8 to loopback), so the listener sees as many source hosts as peers. Hostile
 * peers, one wave every 30 s, each held 10 s then dropped: a never-read echo peer (100 streams ×
 * 256 KiB), a SYN flood (10,000 SYNs), a slowloris peer (250 half-negotiated streams). Every 5 s:
 * the listener's RSS, heap, ArrayBuffers, open handles, what its resource manager accounts, its
 * connections and streams, the echo throughput and the load average. At the end: the listener
 * after every peer left (connections, streams, accounted bytes, sockets and timers still open).
 * Writes docs/soak.svg (chart) and bench/results/soak.json; prints the figures. A checksum
 * mismatch, or a listener that still holds connections, streams or sockets at the end, fails (exit 1).
 *
 *   npm run soak [-- --minutes 10 --connections 1000 --streams 10]
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { standardLayers, Switch, tcp } from '../../src/index.js'
import { ECHO_CODEC } from '../../src/protocols/constants.js'
import { echo } from '../../src/protocols/echo.js'
import { Child } from '../e2e/control.js'
import { renderSeries } from '../lib/series-svg.js'
import type { Band } from '../lib/series-svg.js'
import { DATA, frame, rawYamuxPeer, SYN, WINDOW_UPDATE } from '../hostile/raw-peer.js'
import type { RawPeer } from '../hostile/raw-peer.js'
import type { ListenerMem } from '../hostile/mem.js'

const MiB = 1024 * 1024
/**
 * Echo payloads are 1 B … 8 KiB: 10,000 concurrent streams of larger ones saturate a shared 2-core host (keepalives
 * time out).
 */
const MAX_PAYLOAD = 8 * 1024
const sleep = async (ms: number): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, ms))
}
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const minutes = arg('minutes', 10)
const connections = arg('connections', 1000)
const streamsPerConnection = arg('streams', 10)
const root = join(import.meta.dirname, '..', '..', '..')
if (!(connections >= 1 && connections <= 254 * 254)) {
  throw new RangeError(`"--connections" expected 1 … ${254 * 254} (one loopback source address each), got ${connections}`)
}
/**
 * The source address of honest peer `i`: a host of its own in 127.0.0.0/8 (never the listener's 127.0.0.1), as 1000
 * peers on the internet would be. From one address they would meet the listener's per-address bound on pending
 * upgrades (`maxPendingConnectionsPerAddress`) instead of its limits for honest load.
 */
const sourceAddress = (i: number): string => `127.0.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`

interface Usage {
  rss: number
  heapUsed: number
  arrayBuffers: number
  handles: Record<string, number>
}
const mib = (m: ListenerMem): Record<string, number> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [`${k}MiB`, (v as number) / MiB]))
interface Inspect {
  connections: number
  streams: number
  peers: number
  memoryBytes: number
  refusedMemory: number
  refusedStreams: number
  refusedConnections: number
  /** Inbound connections that failed before they were usable, by `<stage> <code>`. */
  inboundErrors: Record<string, number>
  /** Distinct source hosts of the inbound connections that opened. */
  sourceHosts: number
}
interface Sample {
  t: number
  rssMiB: number
  heapMiB: number
  /**
   * The heap after full GCs, taken every sixth sample (once a minute): `heapMiB` is sampled as it is
   * and includes garbage not yet collected, which grows with the allocation rate between major GCs.
   */
  liveHeapMiB?: number
  arrayBuffersMiB: number
  handles: number
  accountedMiB: number
  connections: number
  streams: number
  echoMiBps: number
  roundTrips: number
  /** This host's 1-minute load average (the clients, the listener and whatever else shares the cores). */
  load1: number
  hostile: string
}

// the default table holds 256 connections: room for every honest peer and the attackers
const listener = new Child('soak listener', join(import.meta.dirname, '..', 'hostile', 'listener.js'), [
  '--max-connections',
  String(connections + 24)
], { nodeFlags: ['--expose-gc'] })
const addr = String((await listener.ready).addr)
const sumHandles = (h: Record<string, number>): number => Object.values(h).reduce((a, b) => a + b, 0)
const handlesBefore = await listener.call<Record<string, number>>('handles')
const memBefore = await listener.call<ListenerMem>('mem')
const loadBefore = loadavg()

let running = true
let echoedBytes = 0
let roundTrips = 0
let mismatches = 0
let failures = 0
const failureKinds = new Map<string, number>()
let hostileNow = ''

// ── honest peers ──
const clients: Switch[] = []
process.stderr.write(
  `soak: ${connections} connections × ${streamsPerConnection} streams for ${minutes} min against ${addr}\n`
)
// Ramp-up, 32 connections at a time: 1000 simultaneous dials would be a connection flood, not a soak
// (the listener bounds pending upgrades overall, `maxPendingConnections` 64; see bench:hostile idle-connections).
let rampFailures = 0
const rampStart = Date.now()
for (let i = 0; i < connections; i++) {
  const sw = new Switch({
    ...standardLayers({
      log: () => {},
      transports: [tcp({ localAddress: sourceAddress(i) })],
      config: { maxOutboundStreamsPerConnection: 64 }
    }),
    listenAddrs: []
  })
  await sw.start()
  clients.push(sw)
}
await Promise.all(Array.from({ length: 32 }, async (_, k) => {
  for (let i = k; i < clients.length; i += 32) {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await (clients[i] as Switch).dial(addr)
        break
      } catch {
        rampFailures++
        await sleep(200)
      }
    }
  }
}))
const rampUpS = (Date.now() - rampStart) / 1000
const afterRamp = await listener.call<Inspect>('inspect')
process.stderr.write(
  `ramp-up: ${connections} connections in ${rampUpS.toFixed(1)} s, ${rampFailures} failed attempts; listener: ${
    afterRamp.connections
  } connections from ${afterRamp.sourceHosts} source hosts, inbound errors ${JSON.stringify(afterRamp.inboundErrors)}\n`
)
const honestLoops = clients.flatMap(sw =>
  Array.from({ length: streamsPerConnection }, async () => {
    while (running) {
      const payload = randomBytes(randomInt(1, MAX_PAYLOAD + 1))
      const sent = createHash('sha256').update(payload).digest('hex')
      try {
        const s = await sw.dial(addr, ECHO_CODEC)
        const got = await echo(s, payload)
        if (createHash('sha256').update(got).digest('hex') !== sent) mismatches++
        echoedBytes += 2 * payload.length
        roundTrips++
      } catch (err) {
        if (!running) break
        failures++
        const kind = err instanceof Error
          ? `${(err as { code?: string }).code ?? err.name}: ${err.message.slice(0, 80)}`
          : String(err)
        failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1)
        await sleep(200)
      }
    }
  })
)

// ── hostile waves ──
/** Each wave: when it began (ms since the epoch), how long its attack took to set up, and in all. */
const waves: Array<{ kind: string, at: number, setupS: number, totalS: number }> = []
async function hostileWave (n: number): Promise<void> {
  const raws: RawPeer[] = []
  const attackers: Switch[] = []
  const at = Date.now()
  let setupS = NaN
  try {
    switch (n % 3) {
      case 0: {
        hostileNow = 'never-read echo'
        const sw = new Switch({
          ...standardLayers({ log: () => {}, muxers: ['yamux'], config: { maxOutboundStreamsPerConnection: 256 } }),
          listenAddrs: []
        })
        await sw.start()
        attackers.push(sw)
        const payload = new Uint8Array(256 * 1024).fill(7)
        await sw.dial(addr)
        // All 100 at once: opened one after another, each open waited its turn behind the honest load in the
        // listener's queue (~3 s at 10,000 echo loops on 2 shared cores), and the wave lasted ~5 minutes, not 10 s.
        await Promise.all(Array.from({ length: 100 }, async () => {
          try {
            const s = await sw.dial(addr, ECHO_CODEC)
            void s.write(payload).catch(() => {})
          } catch {
            /* a refused stream: the listener defended itself */
          }
        }))
        break
      }
      case 1: {
        hostileNow = 'SYN flood'
        const peer = await rawYamuxPeer(addr)
        raws.push(peer)
        const frames: Uint8Array[] = []
        for (let i = 0; i < 10_000; i++) frames.push(...frame(WINDOW_UPDATE, SYN, 2 * i + 1, 0))
        peer.write(frames)
        break
      }
      default: {
        hostileNow = 'slowloris'
        const peer = await rawYamuxPeer(addr)
        raws.push(peer)
        const frames: Uint8Array[] = []
        for (let i = 0; i < 250; i++) {
          frames.push(
            ...frame(WINDOW_UPDATE, SYN, 2 * i + 1, 0),
            ...frame(DATA, 0, 2 * i + 1, 5, Uint8Array.of(0x13, 0x2f, 0x6d, 0x75, 0x6c))
          )
        }
        peer.write(frames)
      }
    }
    setupS = (Date.now() - at) / 1000
    await sleep(10_000)
  } catch {
    /* a wave refused outright is fine: the listener defended itself */
  } finally {
    for (const r of raws) r.conn.abort()
    await Promise.all(attackers.map(async s => {
      await Promise.race([s.stop(), sleep(5000)])
    }))
    waves.push({ kind: hostileNow, at, setupS, totalS: (Date.now() - at) / 1000 })
    hostileNow = ''
  }
}
const hostileLoop = (async () => {
  let n = 0
  await sleep(15_000)
  while (running) {
    await hostileWave(n++)
    for (let i = 0; i < 40 && running; i++) await sleep(500)
  }
})()

// ── sampling ──
const samples: Sample[] = []
const started = Date.now()
const end = started + minutes * 60_000
let lastBytes = 0
let lastT = started
while (Date.now() < end) {
  await sleep(5000)
  try {
    const u = await listener.call<Usage>('usage', {}, 20_000)
    const v = await listener.call<Inspect>('inspect', {}, 20_000)
    const live = samples.length % 6 === 5
      ? (await listener.call<{ heapUsed: number }>('mem', {}, 20_000)).heapUsed / MiB
      : undefined
    const now = Date.now()
    samples.push({
      t: (now - started) / 60_000,
      rssMiB: u.rss / MiB,
      heapMiB: u.heapUsed / MiB,
      ...(live === undefined ? {} : { liveHeapMiB: live }),
      arrayBuffersMiB: u.arrayBuffers / MiB,
      handles: sumHandles(u.handles),
      accountedMiB: v.memoryBytes / MiB,
      connections: v.connections,
      streams: v.streams,
      echoMiBps: (echoedBytes - lastBytes) / MiB / ((now - lastT) / 1000),
      roundTrips,
      load1: loadavg()[0] ?? 0,
      hostile: hostileNow
    })
    lastBytes = echoedBytes
    lastT = now
    const s = samples[samples.length - 1] as Sample
    process.stderr.write(
      `${s.t.toFixed(1)} min  rss ${s.rssMiB.toFixed(0)} MiB  heap ${s.heapMiB.toFixed(0)} MiB${
        s.liveHeapMiB === undefined ? '' : ` (live after GC ${s.liveHeapMiB.toFixed(0)} MiB)`
      }  accounted ${
        s.accountedMiB.toFixed(1)
      } MiB  conns ${s.connections}  streams ${s.streams}  echo ${
        s.echoMiBps.toFixed(1)
      } MiB/s  failures ${failures}  load ${s.load1.toFixed(1)}  ${hostileNow}\n`
    )
  } catch (err) {
    process.stderr.write(`sample failed: ${String(err)}\n`)
  }
}

// ── wind down ──
running = false
await hostileLoop
await Promise.race([Promise.all(honestLoops), sleep(30_000)])
await Promise.all(clients.map(async s => {
  await Promise.race([s.stop(), sleep(5000)])
}))
let final = await listener.call<Inspect>('inspect')
for (let i = 0; i < 40 && (final.connections > 0 || final.streams > 0); i++) {
  await sleep(250)
  final = await listener.call<Inspect>('inspect')
}
const memAfter = await listener.call<ListenerMem>('mem')
const handlesAfter = await listener.call<Record<string, number>>('handles')
await listener.stop()

const load = loadavg()
const elapsedS = (Date.now() - started) / 1000
const peak = (f: (s: Sample) => number): number => samples.reduce((m, s) => Math.max(m, f(s)), 0)
const meanLoad = samples.reduce((a, s) => a + s.load1, 0) / Math.max(1, samples.length)
const conditions = `node ${process.version}, ${cpus().length} cores shared with other jobs, load average ${
  loadBefore[0]?.toFixed(1)
} (1 min) before, ${meanLoad.toFixed(1)} mean during, ${load[2]?.toFixed(1)} (15 min) at the end; clients and listener ` +
  'on one loopback host'
const summary = {
  conditions,
  minutes,
  connections,
  streamsPerConnection,
  roundTrips,
  echoedMiB: echoedBytes / MiB,
  meanEchoMiBps: echoedBytes / MiB / elapsedS,
  checksumMismatches: mismatches,
  honestFailures: failures,
  rampUpS,
  rampUpFailedAttempts: rampFailures,
  listenerAfterRampUp: {
    connections: afterRamp.connections,
    sourceHosts: afterRamp.sourceHosts,
    inboundErrors: afterRamp.inboundErrors
  },
  loadAverage: {
    before: loadBefore,
    during1MinMean: meanLoad,
    during1MinPeak: samples.reduce((m, s) => Math.max(m, s.load1), 0),
    atEnd: load
  },
  failureKinds: Object.fromEntries(failureKinds),
  hostileWaves: waves.map(w => ({ ...w, at: undefined, startMin: (w.at - started) / 60_000 })),
  listener: {
    before: {
      rssMiB: memBefore.rss / MiB,
      heapMiB: memBefore.heapUsed / MiB,
      handles: handlesBefore,
      mem: mib(memBefore)
    },
    peak: {
      rssMiB: peak(s => s.rssMiB),
      heapMiB: peak(s => s.heapMiB),
      liveHeapMiB: peak(s => s.liveHeapMiB ?? 0),
      accountedMiB: peak(s => s.accountedMiB),
      connections: peak(s => s.connections),
      streams: peak(s => s.streams)
    },
    after: {
      rssMiB: memAfter.rss / MiB,
      heapMiB: memAfter.heapUsed / MiB,
      mem: mib(memAfter),
      handles: handlesAfter,
      connections: final.connections,
      streams: final.streams,
      accountedBytes: final.memoryBytes
    },
    refused: { memory: final.refusedMemory, streams: final.refusedStreams, connections: final.refusedConnections },
    inboundErrors: final.inboundErrors,
    sourceHosts: final.sourceHosts
  },
  samples
}
mkdirSync(join(root, 'bench', 'results'), { recursive: true })
writeFileSync(join(root, 'bench', 'results', 'soak.json'), JSON.stringify(summary, null, 2))
const pts = (f: (s: Sample) => number): Array<[number, number]> => samples.map(s => [s.t, f(s)])
writeFileSync(
  join(root, 'docs', 'soak.svg'),
  renderSeries(
    `switchyard soak — ${connections} connections × ${streamsPerConnection} echo streams + hostile waves, ${minutes} min`,
    conditions,
    [
      {
        title: 'listener memory',
        unit: 'MiB',
        series: [{ name: 'RSS', color: '#2563eb', points: pts(s => s.rssMiB) }, {
          name: 'V8 heap used',
          color: '#16a34a',
          points: pts(s => s.heapMiB)
        }, {
          name: 'ArrayBuffers',
          color: '#9333ea',
          points: pts(s => s.arrayBuffersMiB)
        }, { name: 'accounted (scopes)', color: '#ea580c', points: pts(s => s.accountedMiB) }]
      },
      {
        title: 'listener connections and streams',
        unit: 'count',
        series: [{ name: 'connections', color: '#2563eb', points: pts(s => s.connections) }, {
          name: 'streams',
          color: '#ea580c',
          points: pts(s => s.streams)
        }, { name: 'libuv handles', color: '#6b7280', points: pts(s => s.handles) }]
      },
      {
        title: 'honest echo throughput, both directions',
        unit: 'MiB/s',
        series: [{
          name: 'honest echo',
          color: '#16a34a',
          points: pts(s => s.echoMiBps)
        }]
      }
    ],
    'minutes (shaded: a hostile wave is running)',
    hostileBands(samples)
  )
)
/** The sample intervals during which a hostile wave ran, merged. */
function hostileBands (all: readonly Sample[]): Band[] {
  const bands: Band[] = []
  let prevT = 0
  for (const s of all) {
    const last = bands[bands.length - 1]
    if (s.hostile !== '') {
      if (last !== undefined && last.label === s.hostile && last.to === prevT) last.to = s.t
      else bands.push({ from: prevT, to: s.t, label: s.hostile })
    }
    prevT = s.t
  }
  return bands
}
const leaked = final.connections > 0 || final.streams > 0 || final.memoryBytes > 0 ||
  (handlesAfter.TCPSocketWrap ?? 0) > (handlesBefore.TCPSocketWrap ?? 0) ||
  (handlesAfter.Timeout ?? 0) > (handlesBefore.Timeout ?? 0)
console.log(JSON.stringify({ ...summary, samples: samples.length }, null, 2))
process.exitCode = mismatches > 0 || leaked ? 1 : 0
