/**
 * Interop with js-libp2p's yamux (`@chainsafe/libp2p-yamux` 8.x) over loopback TCP, in both roles:
 * we dial js, and js dials us. Each role: 100 concurrent checksummed streams, 64 MiB in one stream
 * each way, half-close, reset, ping, GoAway on close, and what js makes of our goAway().
 */
import { waitFor, within } from '../helpers/wait.js'
import { createHash, randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import { createYamux } from '../../src/muxer/index.js'
import type { Stream, StreamMuxer } from '../../src/connection.js'
import { StreamResetError } from '../../src/errors.js'
import { readAll, sha256 } from './helpers.js'
import { jsDialsUs, jsReadAll, jsWrite, jsYamux, weDialJs } from './js-yamux-peer.js'

const MiB = 1024 * 1024

interface Setup { ours: StreamMuxer, js: JsMuxer<JsStream>, jsStreams: JsStream[] }

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => {})
})

const roles = [
  { name: 'we dial js', connect: weDialJs, initiator: true },
  { name: 'js dials us', connect: jsDialsUs, initiator: false }
] as const

describe.each(roles)('interop with @chainsafe/libp2p-yamux: $name', ({ connect, initiator }) => {
  async function setup (): Promise<Setup> {
    const c = await connect()
    const ours = createYamux(c.ours, { initiator })
    const js = jsYamux(c.theirs)
    const jsStreams: JsStream[] = []
    js.addEventListener('stream', (evt) => { jsStreams.push(evt.detail) })
    cleanups.push(async () => { ours.abort(); js.abort(new Error('test end')); await c.close() })
    return { ours, js, jsStreams }
  }

  it('100 concurrent streams opened by us, js answers each with the digest of what it read', async () => {
    const { ours, js } = await setup()
    js.addEventListener('stream', (evt) => {
      const s = evt.detail
      void (async () => {
        const body = await jsReadAll(s)
        s.send(new TextEncoder().encode(sha256(body)))
        await s.close()
      })()
    })
    await within(20_000, '100 streams', Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const body = randomBytes(1000 + i * 3001)
      const s = ours.newStream()
      await s.write(body)
      await s.closeWrite()
      expect(new TextDecoder().decode(await readAll(s))).toBe(sha256(body))
    })))
  })

  it('100 concurrent streams opened by js, we answer each with the digest', async () => {
    const { ours, js } = await setup()
    ours.onStream = (s) => {
      void (async () => {
        const body = await readAll(s)
        await s.write(new TextEncoder().encode(sha256(body)))
        await s.closeWrite()
      })()
    }
    await within(20_000, '100 js streams', Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const body = randomBytes(1000 + i * 3001)
      const s = await js.createStream()
      await jsWrite(s, body)
      const answer = jsReadAll(s)
      await s.close()
      expect(new TextDecoder().decode(await answer)).toBe(sha256(body))
    })))
  })

  it('64 MiB from us to js in one stream', async () => {
    const { ours, js } = await setup()
    const got = new Promise<string>(resolve => {
      js.addEventListener('stream', (evt) => {
        const s = evt.detail
        const h = createHash('sha256')
        let n = 0
        void (async () => {
          for await (const c of s) { const b = c instanceof Uint8Array ? c : c.subarray(); h.update(b); n += b.length }
          resolve(`${n}:${h.digest('hex')}`)
          await s.close()
        })()
      })
    })
    const data = randomBytes(64 * MiB)
    const s = ours.newStream()
    for (let o = 0; o < data.length; o += MiB) await s.write(data.subarray(o, o + MiB))
    await s.closeWrite()
    expect(await within(25_000, '64 MiB to js', got)).toBe(`${64 * MiB}:${sha256(data)}`)
  })

  it('64 MiB from js to us in one stream', async () => {
    const { ours, js } = await setup()
    const got = new Promise<string>(resolve => {
      ours.onStream = (s) => {
        const h = createHash('sha256')
        let n = 0
        void (async () => {
          for await (const c of s) { h.update(c); n += c.length }
          resolve(`${n}:${h.digest('hex')}`)
          await s.closeWrite()
        })()
      }
    })
    const data = randomBytes(64 * MiB)
    const s = await js.createStream()
    await jsWrite(s, data, MiB)
    await s.close()
    expect(await within(25_000, '64 MiB from js', got)).toBe(`${64 * MiB}:${sha256(data)}`)
  })

  it('half-close both ways: EOF on each side, the other direction keeps working', async () => {
    const { ours, js } = await setup()
    const jsSide = new Promise<{ j: JsStream, body: Promise<Uint8Array> }>(resolve => {
      js.addEventListener('stream', (evt) => { resolve({ j: evt.detail, body: jsReadAll(evt.detail) }) })
    })
    const s = ours.newStream()
    await s.write(Uint8Array.of(1, 2, 3))
    await s.closeWrite()
    const { j, body } = await within(5000, 'js stream', jsSide)
    expect(await within(5000, 'js EOF', body)).toEqual(Uint8Array.of(1, 2, 3))
    expect(j.writeStatus).toBe('writable')
    j.send(Uint8Array.of(4, 5))
    await j.close()
    expect(await within(5000, 'our EOF', readAll(s))).toEqual(Uint8Array.of(4, 5))
    await waitFor('our stream forgotten', () => ours.streams.size === 0)
    expect(js.streams.length).toBe(0)
  })

  it('reset in each direction surfaces as a reset error', async () => {
    const { ours, js, jsStreams } = await setup()
    const a = ours.newStream()
    await a.write(Uint8Array.of(1))
    await waitFor('js stream', () => jsStreams.length > 0)
    const ja = jsStreams[0] as JsStream
    const jsClosed = new Promise<unknown>(resolve => {
      ja.addEventListener('close', (evt) => {
        resolve((evt as unknown as { error?: Error }).error)
      })
    })
    a.reset()
    expect(await within(5000, 'js sees reset', jsClosed)).toBeInstanceOf(Error)

    const inbound = new Promise<Stream>(resolve => { ours.onStream = resolve })
    const jb = await js.createStream()
    jb.send(Uint8Array.of(9))
    const b = await within(5000, 'inbound', inbound)
    expect(await b.read()).toEqual(Uint8Array.of(9))
    jb.abort(new Error('bye'))
    await expect(within(5000, 'our reset', b.read())).rejects.toBeInstanceOf(StreamResetError)
  })

  it('pings: js measures an RTT against us, and we learn ours from js once a window moves', async () => {
    const { ours, js } = await setup()
    const rtt = await within(5000, 'js ping', (js as unknown as { ping: () => Promise<number> }).ping())
    expect(rtt).toBeGreaterThanOrEqual(0)
    const session = (ours as unknown as { yamux: { rtt: number } }).yamux
    expect(session.rtt).toBe(0) // no ping at session start (session.ts §RTT)
    // Half a window from js, read by us: our WindowUpdate goes out with the RTT ping.
    const inbound = new Promise<Stream>(resolve => { ours.onStream = resolve })
    const jb = await js.createStream()
    jb.send(new Uint8Array(200 * 1024))
    const b = await within(5000, 'inbound', inbound)
    let got = 0
    while (got < 200 * 1024) got += (await b.read())?.length ?? 0
    await waitFor('our rtt', () => session.rtt !== 0)
    expect(session.rtt).toBeGreaterThan(0)
  })

  it('our goAway(): js 8.x ends its whole session on GoAway(normal), open streams included (why the switch sends it early only when asked)', async () => {
    const { ours, js } = await setup()
    const inbound: Stream[] = []
    ours.onStream = (s) => { inbound.push(s) }
    const jsStream = await js.createStream()
    jsStream.send(Uint8Array.of(1))
    await waitFor('inbound stream', () => inbound.length > 0)
    ours.goAway()
    await waitFor('js closed', () => js.status === 'closed')
    expect(jsStream.status).toBe('closed')
    expect(() => jsStream.send(Uint8Array.of(2))).toThrow()
  })

  it('our close() sends GoAway(normal): js closes without error', async () => {
    const { ours, js } = await setup()
    const s = ours.newStream()
    await s.write(Uint8Array.of(1))
    const jsDone = new Promise<void>(resolve => {
      const t = setInterval(() => { if (js.status === 'closed') { clearInterval(t); resolve() } }, 5)
    })
    await within(5000, 'our close', ours.close())
    await within(5000, 'js closed', jsDone)
  })
})
