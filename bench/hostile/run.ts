/**
 * `npm run bench:hostile`: the hostile-peer scenarios of issue #14 against a real listener process
 * (bench/hostile/listener.ts, default limits), one fresh listener per scenario. For each: the
 * listener's RSS before (after full GCs), its peak while attacked (sampled every 250 ms, as it is),
 * after the attackers left (after full GCs); the peak of what its resource manager accounted; how
 * often it refused; the CPU it spent; and whether an honest client (a fresh switch echoing 100 KiB)
 * was served during and after the attack. Writes bench/results/hostile.json and prints a markdown
 * table (docs/limits.md holds the last one). Every attack is bounded in time.
 *
 *   npm run bench:hostile [-- --only syn-flood,slowloris] [--hold 10]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { standardLayers, Switch } from '../../src/index.js'
import type { SwitchStream } from '../../src/index.js'
import { ECHO_CODEC, IDENTIFY_PUSH_CODEC } from '../../src/protocols/constants.js'
import { echo } from '../../src/protocols/echo.js'
import { Child } from '../e2e/control.js'
import { ACK, DATA, encodeLp, frame, openWithProposal, rawYamuxPeer, SYN, WINDOW_UPDATE } from './raw-peer.js'
import type { RawPeer } from './raw-peer.js'
import type { ListenerMem } from './mem.js'

const KiB = 1024
const MiB = 1024 * KiB
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Inspect {
  connections: number
  streams: number
  pendingInbound: number
  peers: number
  memoryBytes: number
  refusedMemory: number
  refusedStreams: number
  refusedConnections: number
}
interface Honest {
  ok: boolean
  ms: number
  error?: string
}

interface ScenarioResult {
  name: string
  attack: string
  rssBeforeMiB: number
  rssPeakMiB: number
  rssAfterMiB: number
  heapBeforeMiB: number
  heapAfterMiB: number
  /** After the attack, after full GCs: V8's committed heap, its new space, and ArrayBuffers outside it. */
  heapCommittedAfterMiB: number
  newSpaceAfterMiB: number
  arrayBuffersAfterMiB: number
  /** RSS before → after split: anonymous memory, pages of mapped files (Linux /proc/self/status). */
  rssAnonMiB: [number, number]
  rssFileMiB: [number, number]
  accountedPeakMiB: number
  peakConnections: number
  peakStreams: number
  refused: { memory: number, streams: number, connections: number }
  cpuSeconds: number
  honestDuring: Honest
  honestAfter: Honest
  note: string
}

interface Ctx {
  addr: string
  listener: Child
  hold: number
  /** Switches the attack created (stopped when it ends). */
  switches: Switch[]
  raw: RawPeer[]
}

interface Scenario {
  name: string
  attack: string
  /** Start the attack; resolves once it is in full swing (the honest client then runs). */
  start: (ctx: Ctx) => Promise<string>
}

const clientOptions = standardLayers({ log: () => {} })

async function newClient (ctx: Ctx, options = clientOptions): Promise<Switch> {
  const sw = new Switch({ ...options, listenAddrs: [] })
  await sw.start()
  ctx.switches.push(sw)
  return sw
}

async function honest (addr: string, timeoutMs = 15_000): Promise<Honest> {
  const t0 = performance.now()
  const sw = new Switch({ ...clientOptions, listenAddrs: [] })
  await sw.start()
  try {
    const run = async (): Promise<void> => {
      const s = await sw.dial(addr, ECHO_CODEC)
      const got = await echo(s, new Uint8Array(100 * KiB).fill(5))
      if (got.length !== 100 * KiB) throw new Error(`echo returned ${got.length} bytes`)
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      run(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${timeoutMs} ms`))
        }, timeoutMs)
      })
    ])
    clearTimeout(timer)
    return { ok: true, ms: Math.round(performance.now() - t0) }
  } catch (err) {
    return {
      ok: false,
      ms: Math.round(performance.now() - t0),
      error: err instanceof Error ? err.message : String(err)
    }
  } finally {
    await Promise.race([sw.stop(), sleep(3000)])
  }
}

/** Run `n` async jobs, `width` at a time. */
async function pool<T> (n: number, width: number, job: (i: number) => Promise<T>): Promise<Array<T | Error>> {
  const out: Array<T | Error> = new Array(n)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++
      try { out[i] = await job(i) } catch (err) { out[i] = err instanceof Error ? err : new Error(String(err)) }
    }
  }))
  return out
}

const SCENARIOS: Scenario[] = [
  {
    name: 'never-read-echo',
    attack: '4 peers × 250 echo streams × 256 KiB written, echoes never read',
    start: async (ctx) => {
      const payload = new Uint8Array(256 * KiB).fill(9)
      let opened = 0
      let failed = 0
      for (let p = 0; p < 4; p++) {
        const sw = await newClient(
          ctx,
          standardLayers({
            log: () => {},
            muxers: ['yamux'],
            config: { maxOutboundStreamsPerConnection: 1024 },
            yamux: { maxOutboundStreams: 1024 }
          })
        )
        await pool(250, 25, async () => {
          try {
            const s: SwitchStream = await sw.dial(ctx.addr, ECHO_CODEC)
            opened++
            void s.write(payload).catch(() => {})
          } catch { failed++ }
        })
      }
      await sleep(ctx.hold * 1000)
      return `${opened} streams opened, ${failed} refused`
    }
  },
  {
    name: 'idle-connections',
    attack: '1000 authenticated connections (1000 peers), left idle',
    start: async (ctx) => {
      const results = await pool(1000, 50, async () => {
        const sw = await newClient(ctx)
        await sw.dial(ctx.addr)
      })
      const failed = results.filter(r => r instanceof Error)
      await sleep(ctx.hold * 1000)
      return `${1000 - failed.length} connected, ${failed.length} failed${
        failed[0] !== undefined ? ` (${(failed[0] as Error).message.slice(0, 60)})` : ''
      }`
    }
  },
  {
    name: 'syn-flood',
    attack: '4 raw peers × 10,000 WindowUpdate|SYN in one write each',
    start: async (ctx) => {
      for (let p = 0; p < 4; p++) {
        const peer = await rawYamuxPeer(ctx.addr)
        ctx.raw.push(peer)
        const frames: Uint8Array[] = []
        for (let i = 0; i < 10_000; i++) frames.push(...frame(WINDOW_UPDATE, SYN, 2 * i + 1, 0))
        peer.write(frames)
      }
      await sleep(ctx.hold * 1000)
      return `${ctx.raw.filter(r => r.closed()).length}/4 connections closed by the listener`
    }
  },
  {
    name: 'identify-push-flood',
    attack: '4 peers × 16 loops: open /ipfs/id/push/1.0.0, write 1 MiB of LP identify, reset',
    start: async (ctx) => {
      let bytes = 0
      let streams = 0
      const until = Date.now() + ctx.hold * 1000
      const big = encodeLp(new Uint8Array(64 * KiB).fill(0x0a))
      const chunk = Uint8Array.from(Array.from({ length: 16 }, () => [...big]).flat())
      await Promise.all(Array.from({ length: 4 }, async () => {
        const sw = await newClient(ctx)
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (Date.now() < until) {
            try {
              const s = await sw.dial(ctx.addr, IDENTIFY_PUSH_CODEC)
              streams++
              bytes += chunk.length
              await s.write(chunk).catch(() => {})
              s.reset()
            } catch { await sleep(5) }
          }
        }))
      }))
      return `${streams} push streams opened in ${ctx.hold} s (1 MiB offered on each, ${
        (bytes / MiB).toFixed(0)
      } MiB in all)`
    }
  },
  {
    name: 'slowloris',
    attack: '4 raw peers × 250 streams that never finish multistream (half a header each)',
    start: async (ctx) => {
      for (let p = 0; p < 4; p++) {
        const peer = await rawYamuxPeer(ctx.addr)
        ctx.raw.push(peer)
        const frames: Uint8Array[] = []
        for (let i = 0; i < 250; i++) {
          const id = 2 * i + 1
          frames.push(
            ...frame(WINDOW_UPDATE, SYN, id, 0),
            ...frame(DATA, 0, id, 10, Uint8Array.from([0x13, ...new TextEncoder().encode('/multistr')]))
          )
        }
        peer.write(frames)
      }
      await sleep(ctx.hold * 1000)
      return `${ctx.raw.filter(r => r.closed()).length}/4 connections closed by the listener`
    }
  },
  {
    name: 'window-overflow',
    attack: 'raw peer: echo stream, then WindowUpdate +0xFFFF0000 twice (credit overflow)',
    start: async (ctx) => {
      const peer = await rawYamuxPeer(ctx.addr)
      ctx.raw.push(peer)
      peer.write([
        ...openWithProposal(1, ECHO_CODEC, new Uint8Array(1000)),
        ...frame(WINDOW_UPDATE, 0, 1, 0xffff0000),
        ...frame(WINDOW_UPDATE, ACK, 1, 0xffff0000)
      ])
      await sleep(ctx.hold * 1000)
      return `connection ${peer.closed() ? 'closed' : 'kept'} by the listener`
    }
  }
]

async function runScenario (sc: Scenario, hold: number): Promise<ScenarioResult> {
  const script = join(import.meta.dirname, 'listener.js')
  const listener = new Child(`listener(${sc.name})`, script, [], { nodeFlags: ['--expose-gc'] })
  const ready = await listener.ready
  const addr = String(ready.addr)
  const ctx: Ctx = { addr, listener, hold, switches: [], raw: [] }
  const before = await listener.call<ListenerMem>('mem')
  const cpu0 = await listener.call<number>('cpu')
  let peakRss = before.rss
  let peak: Inspect = {
    connections: 0,
    streams: 0,
    pendingInbound: 0,
    peers: 0,
    memoryBytes: 0,
    refusedMemory: 0,
    refusedStreams: 0,
    refusedConnections: 0
  }
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      try {
        peakRss = Math.max(peakRss, await listener.call<number>('rss', {}, 10_000))
        const v = await listener.call<Inspect>('inspect', {}, 10_000)
        peak = {
          ...v,
          connections: Math.max(peak.connections, v.connections),
          streams: Math.max(peak.streams, v.streams),
          memoryBytes: Math.max(peak.memoryBytes, v.memoryBytes)
        }
      } catch { /* a busy listener answers late: the next sample counts */ }
      await sleep(250)
    }
  })()
  const attack = sc.start(ctx)
  // the honest client arrives once the attack has had 2 s to build up
  await sleep(2000)
  const honestDuring = await honest(addr)
  const note = await attack
  const cpu1 = await listener.call<number>('cpu')
  sampling = false
  await sampler
  for (const r of ctx.raw) r.conn.abort()
  await Promise.all(ctx.switches.map(async s => { await Promise.race([s.stop(), sleep(5000)]) }))
  await sleep(1000)
  const honestAfter = await honest(addr)
  const after = await listener.call<ListenerMem>('mem')
  const final = await listener.call<Inspect>('inspect')
  await listener.stop()
  return {
    name: sc.name,
    attack: sc.attack,
    rssBeforeMiB: before.rss / MiB,
    rssPeakMiB: peakRss / MiB,
    rssAfterMiB: after.rss / MiB,
    heapBeforeMiB: before.heapUsed / MiB,
    heapAfterMiB: after.heapUsed / MiB,
    heapCommittedAfterMiB: after.heapTotal / MiB,
    newSpaceAfterMiB: after.newSpace / MiB,
    arrayBuffersAfterMiB: after.arrayBuffers / MiB,
    rssAnonMiB: [before.rssAnon / MiB, after.rssAnon / MiB],
    rssFileMiB: [before.rssFile / MiB, after.rssFile / MiB],
    accountedPeakMiB: peak.memoryBytes / MiB,
    peakConnections: peak.connections,
    peakStreams: peak.streams,
    refused: { memory: final.refusedMemory, streams: final.refusedStreams, connections: final.refusedConnections },
    cpuSeconds: (cpu1 - cpu0) / 1000,
    honestDuring,
    honestAfter,
    note
  }
}

const fmtHonest = (h: Honest): string => h.ok ? `yes (${h.ms} ms)` : `**no** (${h.error ?? ''})`

function markdownTable (results: readonly ScenarioResult[]): string {
  const rows = [
    '| scenario | attack | RSS before → peak → after (MiB) | V8 heap before → after (MiB) | after: V8 committed / new space / ArrayBuffers (MiB) | accounted peak (MiB) | peak conns / streams | refused mem / streams / conns | listener CPU (s) | honest served during | after | outcome |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const r of results) {
    rows.push(
      `| ${r.name} | ${r.attack.replaceAll('|', '\\|')} | ${r.rssBeforeMiB.toFixed(0)} → ${r.rssPeakMiB.toFixed(0)} → ${
        r.rssAfterMiB.toFixed(0)
      } | ${r.heapBeforeMiB.toFixed(0)} → ${r.heapAfterMiB.toFixed(0)} | ${r.heapCommittedAfterMiB.toFixed(0)} / ${
        r.newSpaceAfterMiB.toFixed(0)
      } / ${r.arrayBuffersAfterMiB.toFixed(1)} | ${
        r.accountedPeakMiB.toFixed(1)
      } | ${r.peakConnections} / ${r.peakStreams} | ${r.refused.memory} / ${r.refused.streams} / ${r.refused.connections} | ${
        r.cpuSeconds.toFixed(1)
      } | ${fmtHonest(r.honestDuring)} | ${fmtHonest(r.honestAfter)} | ${r.note} |`
    )
  }
  return rows.join('\n')
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const only = argv.includes('--only') ? (argv[argv.indexOf('--only') + 1] ?? '').split(',') : []
  const hold = argv.includes('--hold') ? Number(argv[argv.indexOf('--hold') + 1]) : 10
  const chosen = SCENARIOS.filter(s => only.length === 0 || only.includes(s.name))
  const load0 = loadavg()[0] ?? 0
  const results: ScenarioResult[] = []
  for (const sc of chosen) {
    process.stderr.write(`${sc.name}: ${sc.attack}…\n`)
    const r = await runScenario(sc, hold)
    process.stderr.write(
      `  RSS ${r.rssBeforeMiB.toFixed(0)} → ${r.rssPeakMiB.toFixed(0)} → ${
        r.rssAfterMiB.toFixed(0)
      } MiB, honest during ${fmtHonest(r.honestDuring)}, after ${fmtHonest(r.honestAfter)}; ${r.note}\n`
    )
    results.push(r)
  }
  const conditions = `node ${process.version}, ${cpus().length} cores, load average ${load0.toFixed(1)} → ${
    (loadavg()[0] ?? 0).toFixed(1)
  }, hold ${hold} s per attack`
  const dir = join(import.meta.dirname, '..', '..', '..', 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'hostile.json'), JSON.stringify({ conditions, results }, null, 2))
  console.log(`${conditions}\n\n${markdownTable(results)}`)
}

await main()
