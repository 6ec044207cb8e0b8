/**
 * yamux benchmarks:
 *  - header codec (encode/decode ops/s) beside @chainsafe/libp2p-yamux's, cross-checked first;
 *  - frame decoder throughput (MiB/s) over socket-sized chunks, Data bodies of 0 B, 1 KiB, 64 KiB
 *    and 256 KiB (STYLE 15), beside @chainsafe/libp2p-yamux's `Decoder`;
 *  - loopback TCP (plain, src/transport/tcp.ts, client and server in this process): one stream and
 *    16 streams over yamux beside raw TCP moving the same bytes the same way, and the frame size
 *    sweep (16 KiB vs 64 KiB payloads) that picked the `maxFramePayloadBytes` default.
 *
 * Runnable alone: `node dist/bench/muxer.bench.js [--quick]` after `npm run build`.
 */
import { FrameDecoder } from '../src/muxer/frame-decoder.js'
import { decodeHeader, encodeHeader, writeHeader } from '../src/muxer/frame.js'
import type { Header } from '../src/muxer/frame.js'
import { FrameType, HEADER_LENGTH } from '../src/muxer/constants.js'
import { createYamux } from '../src/muxer/index.js'
import type { YamuxConfig } from '../src/muxer/config.js'
import { dial, listen } from '../src/transport/tcp.js'
import type { TcpConnection } from '../src/transport/tcp.js'
import type { Stream } from '../src/connection.js'
import { crossCheck, FULL, measureSync, QUICK, row, formatTable, summarize } from './lib/harness.js'
import type { Sample } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'

const KiB = 1024
const MiB = 1024 * KiB

// ───────────────────────── the anchor: @chainsafe/libp2p-yamux's codec ─────────────────────────

interface JsHeader { type: number, flag: number, streamID: number, length: number }
interface JsCodec {
  encodeHeader: (h: JsHeader) => Uint8Array
  decodeHeader: (b: Uint8Array) => JsHeader
  Decoder: new() => {
    emitFrames: (
      buf: Uint8Array
    ) => Iterable<{ header: JsHeader, data?: { byteLength: number, subarray: () => Uint8Array } }>
  }
}

/** The package exports only its muxer; its codec modules sit next to the entry point. */
async function loadJsCodec (): Promise<JsCodec> {
  const entry = import.meta.resolve('@chainsafe/libp2p-yamux')
  const enc = await import(new URL('./encode.js', entry).href) as Pick<JsCodec, 'encodeHeader'>
  const dec = await import(new URL('./decode.js', entry).href) as Pick<JsCodec, 'decodeHeader' | 'Decoder'>
  return { encodeHeader: enc.encodeHeader, decodeHeader: dec.decodeHeader, Decoder: dec.Decoder }
}

// ───────────────────────── header codec ─────────────────────────

function headerRows (js: JsCodec, quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const N = 1024
  const headers: Header[] = Array.from(
    { length: N },
    (_, i) => ({
      type: (i % 4) as FrameType,
      flags: i % 16,
      streamId: (i * 2654435761) >>> 0,
      length: (i * 40503) >>> 0
    })
  )
  // verify before timing: same bytes, same fields
  for (const h of headers) {
    const ours = encodeHeader(h)
    crossCheck(
      'yamux header',
      ours,
      js.encodeHeader({ type: h.type, flag: h.flags, streamID: h.streamId, length: h.length })
    )
    const d = js.decodeHeader(ours)
    const o = decodeHeader(ours) as Header
    if (d.type !== o.type || d.flag !== o.flags || d.streamID !== o.streamId || d.length !== o.length) {
      throw new Error('yamux header decode cross-check')
    }
  }
  const buf = new Uint8Array(N * HEADER_LENGTH)
  for (let i = 0; i < N; i++) encodeHeader(headers[i] as Header, buf, i * HEADER_LENGTH)
  const jsHeaders = headers.map(h => ({ type: h.type, flag: h.flags, streamID: h.streamId, length: h.length }))
  const views = Array.from({ length: N }, (_, i) => buf.subarray(i * HEADER_LENGTH, (i + 1) * HEADER_LENGTH))
  const scale = (s: Sample): Sample => ({ median: s.median * N, min: s.min * N, max: s.max * N })

  const target = new Uint8Array(N * HEADER_LENGTH)
  const encOurs = measureSync((it) => {
    for (let k = 0; k < it; k++) {
      for (let i = 0; i < N; i++) {
        const h = headers[i] as Header
        writeHeader(target, i * HEADER_LENGTH, h.type, h.flags, h.streamId, h.length)
      }
    }
    return target[5]
  }, opts)
  const encJs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (let i = 0; i < N; i++) n += js.encodeHeader(jsHeaders[i] as JsHeader)[5] as number
    return n
  }, opts)
  const decOurs = measureSync((it) => {
    let n = 0
    // same input shape as the anchor: one 12-byte view per header
    for (let k = 0; k < it; k++) {
      for (let i = 0; i < N; i++) n += (decodeHeader(views[i] as Uint8Array, 0) as Header).length
    }
    return n
  }, opts)
  const decJs = measureSync((it) => {
    let n = 0
    for (let k = 0; k < it; k++) for (let i = 0; i < N; i++) n += js.decodeHeader(views[i] as Uint8Array).length
    return n
  }, opts)
  return [
    row('yamux codec', 'header encode', 'ops/s', scale(encOurs), {
      name: '@chainsafe/libp2p-yamux',
      sample: scale(encJs)
    }),
    row('yamux codec', 'header decode', 'ops/s', scale(decOurs), {
      name: '@chainsafe/libp2p-yamux',
      sample: scale(decJs)
    })
  ]
}

// ───────────────────────── frame decoder ─────────────────────────

/** `count` Data frames of `body` bytes, cut into 64 KiB chunks as socket reads deliver them. */
function frameStream (body: number, totalBytes: number): { chunks: Uint8Array[], frames: number, bytes: number } {
  const frames = Math.max(1, Math.floor(totalBytes / (body + HEADER_LENGTH)))
  const wire = new Uint8Array(frames * (body + HEADER_LENGTH))
  for (let i = 0; i < frames; i++) {
    const off = i * (body + HEADER_LENGTH)
    writeHeader(wire, off, FrameType.Data, 0, 1 + 2 * (i % 8), body)
    wire.fill(i & 0xff, off + HEADER_LENGTH, off + HEADER_LENGTH + body)
  }
  const chunks: Uint8Array[] = []
  for (let o = 0; o < wire.length; o += 64 * KiB) chunks.push(wire.subarray(o, Math.min(o + 64 * KiB, wire.length)))
  return { chunks, frames, bytes: wire.length }
}

function decoderRows (js: JsCodec, quick: boolean): BenchRow[] {
  const opts = quick ? QUICK : FULL
  const rows: BenchRow[] = []
  for (const [label, body] of [['0 B', 0], ['1 KiB', KiB], ['64 KiB', 64 * KiB], ['256 KiB', 256 * KiB]] as const) {
    const { chunks, frames, bytes } = frameStream(body, 4 * MiB)
    // verify: both decoders see every frame and every payload byte
    let ourFrames = 0; let ourBytes = 0
    const ours = (): FrameDecoder => new FrameDecoder({
      onHeader: () => true,
      onPayload: (_h, p) => { ourBytes += p.length },
      onDataEnd: () => { ourFrames++ }
    })
    const d0 = ours()
    for (const c of chunks) d0.push(c)
    let jsFrames = 0; let jsBytes = 0
    const jd = new js.Decoder()
    for (const c of chunks) for (const f of jd.emitFrames(c)) { jsFrames++; jsBytes += f.data?.byteLength ?? 0 }
    if (ourFrames !== frames || jsFrames !== frames || ourBytes !== frames * body || jsBytes !== ourBytes) {
      throw new Error(
        `frame decoder cross-check ${label}: ours ${ourFrames}/${ourBytes}, js ${jsFrames}/${jsBytes}, expected ${frames}/${
          frames * body
        }`
      )
    }
    const toMiB = (s: Sample): Sample => ({
      median: s.median * bytes / MiB,
      min: s.min * bytes / MiB,
      max: s.max * bytes / MiB
    })
    const oursS = measureSync((it) => {
      for (let k = 0; k < it; k++) { const d = ours(); for (const c of chunks) d.push(c) }
      return ourBytes
    }, opts)
    const jsS = measureSync((it) => {
      let n = 0
      // js hands payloads out as Uint8ArrayList views; subarray() is what its muxer reads them with
      for (let k = 0; k < it; k++) {
        const d = new js.Decoder()
        for (const c of chunks) for (const f of d.emitFrames(c)) n += f.data?.subarray().length ?? 0
      }
      return n
    }, opts)
    rows.push(
      row('yamux codec', `frame decoder, ${label} bodies`, 'MiB/s', toMiB(oursS), {
        name: '@chainsafe/libp2p-yamux',
        sample: toMiB(jsS)
      })
    )
  }
  return rows
}

// ───────────────────────── loopback TCP ─────────────────────────

interface Link { client: TcpConnection, server: TcpConnection, close: () => Promise<void> }

async function link (): Promise<Link> {
  let accept!: (c: TcpConnection) => void
  const accepted = new Promise<TcpConnection>(resolve => { accept = resolve })
  const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: accept })
  const addr = listener.multiaddrs[0]
  if (addr === undefined) throw new Error('listener has no address')
  const client = await dial(addr)
  const server = await accepted
  return {
    client,
    server,
    close: async () => { client.abort(); server.abort(); await listener.close() }
  }
}

const WRITE_SIZE = 256 * KiB

/**
 * One transfer's figures: wall-clock MiB/s, and MiB per CPU-second (user + system time of this
 * process, which hosts both ends). On a shared, loaded machine the second is the steadier measure
 * of what the protocol costs; the first is what a user sees.
 */
interface Rate { wall: number, cpu: number }

function rate (bytes: number, t0: number, c0: NodeJS.CpuUsage): Rate {
  const cu = process.cpuUsage(c0)
  return { wall: bytes / MiB / ((performance.now() - t0) / 1000), cpu: bytes / MiB / ((cu.user + cu.system) / 1e6) }
}

/** Raw TCP: `total` bytes in `WRITE_SIZE` writes with the connection's backpressure. */
async function rawTcp (total: number, payload: Uint8Array): Promise<Rate> {
  const l = await link()
  try {
    let got = 0
    const done = new Promise<void>(resolve => {
      l.server.attach({
        onData: c => {
          got += c.length
          if (got >= total) resolve()
        },
        onEnd: () => {},
        onClose: () => {}
      })
    })
    let drained: (() => void) | undefined
    l.client.attach({ onData: () => {}, onEnd: () => {}, onClose: () => {}, onDrain: () => { drained?.() } })
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    for (let sent = 0; sent < total; sent += payload.length) {
      if (!l.client.write([payload])) await new Promise<void>(resolve => { drained = resolve })
    }
    await done
    return rate(total, t0, c0)
  } finally {
    await l.close()
  }
}

/** yamux over plain TCP: `streams` streams share `total` bytes. */
async function yamuxTcp (
  total: number,
  payload: Uint8Array,
  streams: number,
  config: Partial<YamuxConfig> = {}
): Promise<Rate> {
  const l = await link()
  const cfg: Partial<YamuxConfig> = { keepAliveIntervalMs: 0, ...config }
  const client = createYamux(l.client, { initiator: true, config: cfg })
  const server = createYamux(l.server, { initiator: false, config: cfg })
  try {
    let got = 0
    let resolveDone!: () => void
    const done = new Promise<void>(resolve => { resolveDone = resolve })
    server.onStream = (s: Stream) => {
      void (async () => {
        for (;;) {
          const c = await s.read()
          if (c === null) break
          got += c.length
        }
        if (got >= total) resolveDone()
      })()
    }
    const per = total / streams
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    await Promise.all(Array.from({ length: streams }, async () => {
      const s = client.newStream()
      for (let sent = 0; sent < per; sent += payload.length) await s.write(payload)
      await s.closeWrite()
    }))
    await done
    return rate(total, t0, c0)
  } finally {
    client.abort()
    server.abort()
    await l.close()
  }
}

interface PairedSamples { a: Sample, b: Sample, aCpu: Sample, bCpu: Sample }

/** Alternate the measured and the reference run so drift on a shared machine hits both alike. */
async function paired (runs: number, a: () => Promise<Rate>, b: () => Promise<Rate>): Promise<PairedSamples> {
  await a(); await b() // warm-up
  const as: Rate[] = []; const bs: Rate[] = []
  for (let i = 0; i < runs; i++) { as.push(await a()); bs.push(await b()) }
  return {
    a: summarize(as.map(r => r.wall)),
    b: summarize(bs.map(r => r.wall)),
    aCpu: summarize(as.map(r => r.cpu)),
    bCpu: summarize(bs.map(r => r.cpu))
  }
}

async function loopbackRows (quick: boolean): Promise<BenchRow[]> {
  const total = quick ? 64 * MiB : 256 * MiB
  const runs = quick ? 3 : 7
  const payload = new Uint8Array(WRITE_SIZE).fill(0x5a)
  const rows: BenchRow[] = []
  const raw = (s: Sample): { name: string, value: number } => ({ name: 'raw TCP', value: s.median })

  const one = await paired(
    runs,
    async () => await yamuxTcp(total, payload, 1),
    async () => await rawTcp(total, payload)
  )
  rows.push(row('yamux loopback', '1 stream, 256 KiB writes (plain TCP)', 'MiB/s', one.a, undefined, raw(one.b)))
  rows.push(
    row('yamux loopback', '1 stream, 256 KiB writes (plain TCP)', 'MiB/cpu-s', one.aCpu, undefined, raw(one.bCpu))
  )
  const sixteen = await paired(
    runs,
    async () => await yamuxTcp(total, payload, 16),
    async () => await rawTcp(total, payload)
  )
  rows.push(
    row('yamux loopback', '16 streams, 256 KiB writes (plain TCP)', 'MiB/s', sixteen.a, undefined, raw(sixteen.b))
  )
  rows.push(
    row(
      'yamux loopback',
      '16 streams, 256 KiB writes (plain TCP)',
      'MiB/cpu-s',
      sixteen.aCpu,
      undefined,
      raw(sixteen.bCpu)
    )
  )
  const frames = await paired(
    runs,
    async () => await yamuxTcp(total, payload, 1, { maxFramePayloadBytes: 16 * KiB }),
    async () => await yamuxTcp(total, payload, 1, { maxFramePayloadBytes: 64 * KiB - 12 })
  )
  rows.push(
    row('yamux loopback', '1 stream, 16 KiB frames (anchor: 64 KiB frames)', 'MiB/s', frames.a, {
      name: '64 KiB frames',
      sample: frames.b
    })
  )
  rows.push(
    row('yamux loopback', '1 stream, 16 KiB frames (anchor: 64 KiB frames)', 'MiB/cpu-s', frames.aCpu, {
      name: '64 KiB frames',
      sample: frames.bCpu
    })
  )
  return rows
}

export async function runMuxerBench (opts: { quick: boolean }): Promise<BenchRow[]> {
  const js = await loadJsCodec()
  return [...headerRows(js, opts.quick), ...decoderRows(js, opts.quick), ...await loopbackRows(opts.quick)]
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rows = await runMuxerBench({ quick: process.argv.includes('--quick') })
  console.log(formatTable(rows))
}
