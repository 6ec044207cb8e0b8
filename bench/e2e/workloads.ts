/**
 * The end-to-end workloads, written once over `BenchClient` so every implementation runs exactly
 * the same code (impl.ts). Times come from `performance.now()` in the client process.
 * For raw TCP (`oneStreamPerConnection`), a stream is a connection of its own; the few places
 * where that changes the workload say so.
 */
import { BLOCK, BLOCK_BYTES, ECHO, PERF, PING, perfHeader } from './impl.js'
import type { BenchClient, BenchConnection, BenchStream } from './impl.js'

const ONE = Uint8Array.of(0x2a)

function logTeardown (err: unknown): void {
  process.stderr.write(`teardown: ${err instanceof Error ? err.message : String(err)}\n`)
}

async function readAtLeast (s: BenchStream, n: number): Promise<number> {
  let got = 0
  while (got < n) {
    const c = await s.read()
    if (c === null) throw new Error(`stream ended after ${got} of ${n} bytes`)
    got += c.length
  }
  return got
}

async function readToEnd (s: BenchStream): Promise<number> {
  let got = 0
  for (;;) {
    const c = await s.read()
    if (c === null) return got
    got += c.length
  }
}

/** perf.md client: header, upload, FIN, then the whole download. */
async function perfStream (s: BenchStream, up: number, down: number): Promise<void> {
  await s.write(perfHeader(down))
  for (let left = up; left > 0; left -= BLOCK_BYTES) {
    await s.write(left >= BLOCK_BYTES ? BLOCK : BLOCK.subarray(0, left))
  }
  await s.closeWrite()
  const got = await readToEnd(s)
  if (got !== down) throw new Error(`perf: expected ${down} bytes back, got ${got}`)
  await s.close()
}

export class Workloads {
  private readonly mains = new Map<string, Promise<BenchConnection>>()
  private held: BenchConnection[] = []
  private heldStreams: { conn: BenchConnection, streams: BenchStream[] } | undefined

  constructor (private readonly client: BenchClient) {}

  /** The long-lived connection to `addr` that bulk, echo, ping and many-streams run on. */
  private async main (addr: string): Promise<BenchConnection> {
    let m = this.mains.get(addr)
    if (m === undefined) {
      m = this.client.connect(addr)
      this.mains.set(addr, m)
      m.catch(() => { this.mains.delete(addr) })
    }
    return await m
  }

  private async open (addr: string): Promise<BenchConnection> {
    return this.client.oneStreamPerConnection ? await this.client.connect(addr) : await this.main(addr)
  }

  /** `streams` parallel perf streams sharing `up` upload and `down` download bytes. Returns ms. */
  async bulk (addr: string, up: number, down: number, streams: number): Promise<number> {
    const conn = this.client.oneStreamPerConnection ? undefined : await this.main(addr)
    const t0 = performance.now()
    await Promise.all(Array.from({ length: streams }, async () => {
      const c = conn ?? await this.client.connect(addr)
      await perfStream(await c.stream(PERF), Math.floor(up / streams), Math.floor(down / streams))
      if (conn === undefined) await c.close()
    }))
    return performance.now() - t0
  }

  /** `n` fresh connections, one after the other: dial → echo stream → 1 byte there and back. Returns ms each. */
  async setup (addr: string, n: number): Promise<number[]> {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const c = await this.client.connect(addr)
      const s = await c.stream(ECHO)
      await s.write(ONE)
      await readAtLeast(s, 1)
      out.push(performance.now() - t0)
      await s.closeWrite()
      await readToEnd(s)
      await s.close()
      await c.close()
    }
    return out
  }

  /** `n` round trips of `size` bytes on one open echo stream. Returns ms each. */
  async echo (addr: string, n: number, size: number): Promise<number[]> {
    const conn = await this.open(addr)
    const s = await conn.stream(ECHO)
    const payload = new Uint8Array(size).fill(0x2a)
    await s.write(payload) // negotiation (lazy on switchyard) happens outside the samples
    await readAtLeast(s, size)
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await s.write(payload)
      await readAtLeast(s, size)
      out.push(performance.now() - t0)
    }
    await s.closeWrite()
    await readToEnd(s)
    await s.close()
    if (this.client.oneStreamPerConnection) await conn.close()
    return out
  }

  /**
   * `n` pings, each on a new `/ipfs/ping/1.0.0` stream: open, 32 bytes there and back (the time),
   * then close. Raw TCP has no streams: its figure is 32 bytes there and back on an open connection.
   */
  async ping (addr: string, n: number): Promise<number[]> {
    if (this.client.oneStreamPerConnection) return await this.echo(addr, n, 32)
    const conn = await this.main(addr)
    const payload = new Uint8Array(32)
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      globalThis.crypto.getRandomValues(payload)
      const t0 = performance.now()
      const s = await conn.stream(PING)
      await s.write(payload)
      await readAtLeast(s, 32)
      out.push(performance.now() - t0)
      await s.closeWrite()
      await readToEnd(s)
      await s.close()
    }
    return out
  }

  /**
   * `n` streams at once on one connection, each echoing `size` bytes (write, FIN, read to EOF).
   * Returns the total ms. Raw TCP: the same n × size bytes as n writes on one connection.
   */
  async many (addr: string, n: number, size: number): Promise<number> {
    const payload = new Uint8Array(size).fill(7)
    if (this.client.oneStreamPerConnection) {
      const c = await this.client.connect(addr)
      const t0 = performance.now()
      const s = await c.stream(ECHO)
      for (let i = 0; i < n; i++) await s.write(payload)
      await s.closeWrite()
      const got = await readToEnd(s)
      const ms = performance.now() - t0
      if (got !== n * size) throw new Error(`echo: expected ${n * size} bytes, got ${got}`)
      await c.close()
      return ms
    }
    const conn = await this.main(addr)
    const t0 = performance.now()
    await Promise.all(Array.from({ length: n }, async () => {
      const s = await conn.stream(ECHO)
      await s.write(payload)
      await s.closeWrite()
      const got = await readToEnd(s)
      if (got !== size) throw new Error(`echo: expected ${size} bytes, got ${got}`)
      await s.close()
    }))
    return performance.now() - t0
  }

  /** Open `n` more idle connections (`concurrency` dials at a time) and keep them. */
  async openConns (addr: string, n: number, concurrency: number): Promise<number> {
    let next = 0
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++
        this.held.push(await this.client.connect(addr))
      }
    }))
    return this.held.length
  }

  async closeConns (): Promise<number> {
    const held = this.held
    this.held = []
    // Teardown, outside every figure: a close that fails (the peer went first) is only logged.
    for (let i = 0; i < held.length; i += 32) {
      await Promise.all(
        held.slice(i, i + 32).map(async c => {
          await c.close().catch(logTeardown)
        })
      )
    }
    return held.length
  }

  /** A fresh connection with `n` idle echo streams, each negotiated (1 byte there and back). */
  async openStreams (addr: string, n: number): Promise<number> {
    const conn = await this.client.connect(addr)
    const streams: BenchStream[] = []
    for (let i = 0; i < n; i += 32) {
      streams.push(...await Promise.all(Array.from({ length: Math.min(32, n - i) }, async () => {
        const s = await conn.stream(ECHO)
        await s.write(ONE)
        await readAtLeast(s, 1)
        return s
      })))
    }
    this.heldStreams = { conn, streams }
    return streams.length
  }

  async closeStreams (): Promise<number> {
    const h = this.heldStreams
    if (h === undefined) return 0
    this.heldStreams = undefined
    for (let i = 0; i < h.streams.length; i += 64) {
      await Promise.all(
        h.streams.slice(i, i + 64).map(async s => {
          await s.closeWrite()
          await readToEnd(s)
          await s.close()
        })
      )
    }
    await h.conn.close().catch(logTeardown)
    return h.streams.length
  }

  async stop (): Promise<void> {
    await this.closeStreams()
    await this.closeConns()
    for (const m of this.mains.values()) await (await m).close().catch(() => {})
    await this.client.stop()
  }
}
