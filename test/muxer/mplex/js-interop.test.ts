// switchyard mplex ↔ js-libp2p `@libp2p/mplex` over loopback TCP, in both roles.
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createMplex } from '../../../src/muxer/mplex/index.js'
import type { MplexConfig, MplexMuxer } from '../../../src/muxer/mplex/index.js'
import { MplexError, StreamResetError } from '../../../src/errors.js'
import type { Stream } from '../../../src/connection.js'
import type { Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import { waitFor, within } from '../../helpers/wait.js'
import { payload, sha256 } from './helpers.js'
import { readAll } from '../helpers.js'
import { socketConnection } from '../../helpers/socket-connection.js'
import { jsDial, jsListen, jsMuxer, jsReadAll, jsWrite } from './js-peer.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

/** We dial a js-libp2p mplex listener. */
async function weDial (config: Partial<MplexConfig> = {}): Promise<{ ours: MplexMuxer, js: JsMuxer<JsStream> }> {
  const listener = await jsListen()
  cleanups.push(listener.close)
  const accepted = listener.accept()
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true }, () => { resolve(s) })
    s.once('error', reject)
  })
  cleanups.push(() => socket.destroy())
  const ours = createMplex(socketConnection(socket, 'outbound'), { initiator: true, config })
  const js = jsMuxer(await within(10_000, 'js accepts', accepted))
  cleanups.push(() => { ours.abort(); js.abort(new Error('test over')) })
  return { ours, js }
}

/** A js-libp2p mplex dials our listener. */
async function jsDials (config: Partial<MplexConfig> = {}): Promise<{ ours: MplexMuxer, js: JsMuxer<JsStream> }> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => { server.close() })
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const maConn = await jsDial((server.address() as net.AddressInfo).port)
  const socket = await within(10_000, 'we accept', accepted)
  cleanups.push(() => socket.destroy())
  const ours = createMplex(socketConnection(socket, 'inbound'), { initiator: false, config })
  const js = jsMuxer(maConn)
  cleanups.push(() => { ours.abort(); js.abort(new Error('test over')) })
  return { ours, js }
}

/** js side: echo every inbound stream (read all, write back, close). */
function jsEcho (js: JsMuxer<JsStream>): void {
  js.addEventListener('stream', (evt) => {
    const s = evt.detail
    void (async () => {
      const data = await jsReadAll(s)
      await jsWrite(s, data)
      await s.close()
    })().catch(() => {})
  })
}

/** Our side: echo every inbound stream chunk by chunk, then half-close. */
function ourEcho (ours: MplexMuxer): void {
  ours.onStream = (s) => {
    void (async () => {
      for await (const c of s) await s.write(c)
      await s.closeWrite()
    })().catch(() => {})
  }
}

describe('interop with js-libp2p @libp2p/mplex', () => {
  it('we dial, js listens: 100 concurrent streams echo checksummed payloads', async () => {
    const { ours, js } = await weDial()
    jsEcho(js)
    const checks = await within(10_000, '100 echoes through js', Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const data = payload(1000 + i, 500 + i * 1531) // 0.5 KB … 152 KB
      const s = ours.newStream()
      const answer = readAll(s)
      for (let off = 0; off < data.length; off += 10_000) await s.write(data.subarray(off, off + 10_000))
      await s.closeWrite()
      return [sha256(await answer), sha256(data)]
    })))
    for (const [got, want] of checks) expect(got).toBe(want)
    await waitFor('all our streams fully closed', () => ours.streams.size === 0, 10_000)
  })

  it('js dials, we listen: 100 concurrent js streams echo checksummed payloads', async () => {
    const { ours, js } = await jsDials()
    ourEcho(ours)
    const checks = await within(10_000, '100 js streams echoed by us', Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const data = payload(2000 + i, 700 + i * 1409)
      const s = await js.createStream()
      const answer = jsReadAll(s)
      await jsWrite(s, data, 8192)
      await s.close()
      return [sha256(await answer), sha256(data)]
    })))
    for (const [got, want] of checks) expect(got).toBe(want)
  })

  it('messages larger than one frame cross in both directions (js splits at 1 MiB, we at 64 KiB)', async () => {
    const { ours, js } = await weDial()
    jsEcho(js)
    const data = payload(3, 3 * 1024 * 1024 + 17)
    const s = ours.newStream()
    const answer = readAll(s)
    await s.write(data)
    await s.closeWrite()
    expect(sha256(await within(10_000, '3 MiB echo', answer))).toBe(sha256(data))
  })

  it('slow reader on our side: our buffer limit resets that stream, not the connection', async () => {
    const { ours, js } = await jsDials({ maxStreamBufferBytes: 2 * 1024 * 1024 })
    const inbound: Stream[] = []
    ours.onStream = (s) => { inbound.push(s) }
    // js writes 5 MiB into a stream we never read.
    const flood = await js.createStream()
    const sent = jsWrite(flood, payload(4, 5 * 1024 * 1024), 256 * 1024).catch((e: unknown) => e)
    await waitFor('js sees our reset', () => flood.status === 'reset', 10_000)
    await sent
    const err = await (inbound[0] as Stream).read().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StreamResetError)
    expect((err as Error).cause).toBeInstanceOf(MplexError)
    expect((err as Error).cause).toMatchObject({ code: 'ERR_BUFFER_FULL' })
    // The connection is fine: a new stream round-trips.
    ourEcho(ours)
    const s = await js.createStream()
    const answer = jsReadAll(s)
    await jsWrite(s, payload(5, 100_000))
    await s.close()
    expect(sha256(await within(10_000, 'echo after the reset', answer))).toBe(sha256(payload(5, 100_000)))
    expect(js.status).toBe('open')
  })

  it('slow reader on the js side: js resets at its 4 MiB read buffer; our writer sees StreamResetError', async () => {
    const { ours, js } = await weDial()
    const jsInbound: JsStream[] = []
    js.addEventListener('stream', (evt) => {
      if (jsInbound.push(evt.detail) === 1) evt.detail.pause()
    }) // the first one is never read
    const s = ours.newStream()
    const writing = (async () => {
      const chunk = payload(6, 256 * 1024)
      for (let i = 0; i < 40; i++) await s.write(chunk) // up to 10 MiB
    })().then(() => 'all written', (e: unknown) => e)
    const readErr = await within(10_000, 'the reset reaches us', s.read().then(() => undefined, (e: unknown) => e))
    expect(readErr).toBeInstanceOf(StreamResetError)
    const w = await writing
    expect(w === 'all written' || w instanceof StreamResetError).toBe(true)
    // and the connection still carries new streams
    jsEcho(js)
    const t = ours.newStream()
    const answer = readAll(t)
    await t.writeLp('still here')
    await t.closeWrite()
    expect(Buffer.from(await within(10_000, 'echo after js reset', answer)).subarray(1).toString()).toBe('still here')
  })

  it('resets cross in both directions', async () => {
    const { ours, js } = await weDial()
    const jsInbound: JsStream[] = []
    js.addEventListener('stream', (evt) => { jsInbound.push(evt.detail) })
    const a = ours.newStream()
    await a.write(Uint8Array.of(1))
    await waitFor('js gets the stream', () => jsInbound.length === 1, 10_000)
    ;(jsInbound[0] as JsStream).abort(new Error('js resets'))
    await expect(within(10_000, 'reset from js', a.read())).rejects.toBeInstanceOf(StreamResetError)
    const b = ours.newStream()
    await b.write(Uint8Array.of(2))
    await waitFor('js gets the second stream', () => jsInbound.length === 2, 10_000)
    b.reset()
    await waitFor('js sees our reset', () => (jsInbound[1] as JsStream).status === 'reset', 10_000)
  })

  it('half-close: we close our side, js still answers, then closes; both ends see EOF', async () => {
    const { ours, js } = await jsDials()
    ours.onStream = (s) => {
      void (async () => {
        const req = await s.readLp(100)
        expect(await s.read()).toBeNull() // js closed its side after the request
        await s.writeLp(`re: ${Buffer.from(req).toString()}`)
        await s.closeWrite()
      })()
    }
    const s = await js.createStream()
    s.send(Uint8Array.from([5, ...Buffer.from('hello')]))
    await s.close()
    const answer = await within(10_000, 'answer after half-close', jsReadAll(s))
    expect(Buffer.from(answer.subarray(1)).toString()).toBe('re: hello')
    await waitFor('stream released on our side', () => ours.streams.size === 0, 10_000)
  })

  it('closing our muxer ends js streams cleanly', async () => {
    const { ours, js } = await weDial()
    const jsInbound: JsStream[] = []
    js.addEventListener('stream', (evt) => { jsInbound.push(evt.detail) })
    const s = ours.newStream()
    await s.writeLp('bye')
    await waitFor('js gets the stream', () => jsInbound.length === 1, 10_000)
    const got = jsReadAll(jsInbound[0] as JsStream)
    await within(10_000, 'our close', ours.close())
    expect(Buffer.from(await within(10_000, 'js reads to EOF', got)).subarray(1).toString()).toBe('bye')
  })
})
