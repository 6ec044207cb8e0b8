/**
 * `/ws` end to end against js-libp2p 3.x with `@libp2p/websockets` (+ Noise + yamux + ping), in
 * both directions, through the switch: multistream → Noise → yamux over WebSocket binary messages.
 *
 * Node 20 has no global `WebSocket`, which `@libp2p/websockets` dials through: the `ws` package
 * stands in for it here (test only). Known js-side quirk (not exercised here, since js speaks
 * first on its dials): with `ws` under it, a first message that arrives together with the 101
 * response can be dropped before the js transport listens, so a listener that speaks first would
 * fail the js side's negotiation.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping as jsPing } from '@libp2p/ping'
import type { Ping as JsPing } from '@libp2p/ping'
import type { Stream as JsStream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { ECHO_CODEC, PING_CODEC } from '../../src/protocols/constants.js'
import { echoProtocol } from '../../src/protocols/echo.js'
import { ping } from '../../src/protocols/ping.js'
import { within } from '../helpers/wait.js'

if (globalThis.WebSocket === undefined) {
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket
}

type JsNode = Libp2p<{ ping: JsPing }>
const MiB = 1024 * 1024

async function jsEchoServer (stream: JsStream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk instanceof Uint8Array ? chunk : chunk.subarray())) await stream.onDrain()
  }
  await stream.close()
}

let js: JsNode
let sw: Switch

beforeAll(async () => {
  js = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: jsPing() }
  })
  await js.handle(ECHO_CODEC, jsEchoServer)
  // One switch, TCP and WebSocket listeners on different ports at once.
  sw = newStandardSwitch({
    listenAddrs: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    protocols: [echoProtocol]
  })
  await sw.start()
})

afterAll(async () => {
  await Promise.all([js?.stop(), sw?.stop()])
})

const jsAddr = (): string => js.getMultiaddrs().map(a => a.toString()).find(a => a.includes('/ws/')) as string
const ourWsAddr = (): string =>
  `${sw.peerInfo.addrs.map(a => a.toString()).find(a => a.endsWith('/ws')) as string}/p2p/${sw.peerId.toString()}`

/** Send `total` bytes on `stream` while reading the echo back; SHA-256 of both directions. */
async function echoBytes (
  stream: {
    write: (b: Uint8Array) => Promise<void>,
    closeWrite: () => Promise<void>,
    read: () => Promise<Uint8Array | null>
  },
  total: number
): Promise<[string, string, number]> {
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let received = 0
  const reading = (async () => {
    for (;;) {
      const c = await stream.read()
      if (c === null) return
      got.update(c)
      received += c.length
    }
  })()
  for (let i = 0; i < total / (64 * 1024); i++) {
    const chunk = createHash('sha512').update(String(i)).digest()
    const block = new Uint8Array(64 * 1024)
    for (let j = 0; j < block.length; j += chunk.length) {
      block.set(chunk.subarray(0, Math.min(chunk.length, block.length - j)), j)
    }
    sent.update(block)
    await stream.write(block)
  }
  await stream.closeWrite()
  await reading
  return [sent.digest('hex'), got.digest('hex'), received]
}

describe('js-libp2p over /ws', () => {
  it('our switch listens on TCP and WS at once, on different ports', () => {
    const addrs = sw.peerInfo.addrs.map(a => a.toString())
    const tcpAddr = addrs.find(a => /\/tcp\/\d+$/.test(a))
    const wsAddr = addrs.find(a => a.endsWith('/ws'))
    expect(tcpAddr).toBeDefined()
    expect(wsAddr).toBeDefined()
    expect(tcpAddr?.split('/')[4]).not.toBe(wsAddr?.split('/')[4])
  })

  it('we dial js-libp2p (/ws, Noise, yamux): ping and 4 MiB echoed', async () => {
    const rtts = await within(10_000, 'ping', ping(await sw.dial(jsAddr(), PING_CODEC)))
    expect(rtts[0]).toBeGreaterThanOrEqual(0)
    const conn = sw.connections().find(c => c.remotePeer.toString() === js.peerId.toString())
    expect(conn?.remoteAddr).toMatch(/\/ws$/)
    const stream = await sw.dial(jsAddr(), ECHO_CODEC)
    const [sent, got, n] = await within(30_000, 'echo', echoBytes(stream, 4 * MiB))
    expect(n).toBe(4 * MiB)
    expect(got).toBe(sent)
  })

  it('js-libp2p dials us (/ws, Noise, yamux): its ping and 4 MiB echoed by our handler', async () => {
    await sw.hangUp(js.peerId.toString())
    // Wait until js-libp2p has seen the connection go (its ping would otherwise try the old one).
    const until = Date.now() + 5000
    while (js.getConnections().length > 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
    expect(js.getConnections()).toHaveLength(0)
    const rtt = await within(10_000, 'js ping', js.services.ping.ping(multiaddr(ourWsAddr())))
    expect(rtt).toBeGreaterThanOrEqual(0)
    const stream = await js.dialProtocol(multiaddr(ourWsAddr()), ECHO_CODEC)
    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for await (const c of stream) chunks.push(c instanceof Uint8Array ? c.slice() : c.subarray())
    })()
    const sent = createHash('sha256')
    for (let i = 0; i < 64; i++) {
      const block = new Uint8Array(64 * 1024).fill(i)
      sent.update(block)
      if (!stream.send(block)) await stream.onDrain()
    }
    await stream.close()
    await within(30_000, 'js echo', reading)
    const got = createHash('sha256')
    let n = 0
    for (const c of chunks) { got.update(c); n += c.length }
    expect(n).toBe(4 * MiB)
    expect(got.digest('hex')).toBe(sent.digest('hex'))
    const inbound = sw.connections().find(c =>
      c.remotePeer.toString() === js.peerId.toString() && c.direction === 'inbound'
    )
    expect(inbound?.remoteAddr).toMatch(/\/ws$/)
  })
})
