/**
 * Interop with js-libp2p's `@libp2p/multistream-select` (7.x) over real loopback TCP sockets.
 * The js side gets its connections from `@libp2p/tcp` with a pass-through upgrader, so both the
 * socket adapter and the negotiation are js-libp2p's own code.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { tcp } from '@libp2p/tcp'
import { defaultLogger } from '@libp2p/logger'
import * as mss from '@libp2p/multistream-select'
import { multiaddr as jsMultiaddr } from '@multiformats/multiaddr'
import type { Listener as JsListener, MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { ProtocolNotSupportedError } from '../../src/errors.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { handleOnConnection, listProtocols, selectOnConnection } from '../../src/multistream/negotiate.js'
import { selectOnConnectionLazy } from '../../src/multistream/lazy-connection.js'
import { dial, type TcpConnection } from '../../src/transport/tcp.js'
import type { Multiaddr } from '../../src/transport/multiaddr.js'
import { record, startListener, tick } from '../transport/tcp-helpers.js'
import { text, utf8 } from './helpers.js'
import { concat } from '../helpers/bytes.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)()
})

function jsTransport (): Transport {
  return tcp()({ logger: defaultLogger() })
}

/** A js-libp2p TCP listener; resolves each inbound MultiaddrConnection without upgrading it. */
async function jsListen (): Promise<{ addr: string, next: () => Promise<MultiaddrConnection> }> {
  const queue: MultiaddrConnection[] = []
  const waiters: Array<(c: MultiaddrConnection) => void> = []
  const upgrader = {
    upgradeInbound: async (maConn: MultiaddrConnection) => {
      const w = waiters.shift()
      if (w !== undefined) w(maConn)
      else queue.push(maConn)
    }
  } as unknown as Upgrader
  const listener: JsListener = jsTransport().createListener({ upgrader })
  await listener.listen(jsMultiaddr('/ip4/127.0.0.1/tcp/0'))
  cleanups.push(async () => { await listener.close() })
  return {
    addr: (listener.getAddrs()[0] as { toString: () => string }).toString(),
    next: async () => queue.shift() ?? await new Promise<MultiaddrConnection>(resolve => waiters.push(resolve))
  }
}

/** A js-libp2p TCP dial that returns the raw MultiaddrConnection. */
async function jsDial (addr: Multiaddr): Promise<MultiaddrConnection> {
  const upgrader = { upgradeOutbound: async (maConn: MultiaddrConnection) => maConn } as unknown as Upgrader
  const conn = await jsTransport().dial(
    jsMultiaddr(addr.toString()),
    { upgrader, signal: AbortSignal.timeout(5000) } as never
  )
  const maConn = conn as unknown as MultiaddrConnection
  cleanups.push(() => { maConn.abort(new Error('test done')) })
  return maConn
}

/** Read `n` bytes from a js MultiaddrConnection's 'message' events. */
async function jsRead (maConn: MultiaddrConnection, n: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let got = 0
  return await new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`js side read ${got}/${n} bytes`)), 5000)
    maConn.addEventListener('message', evt => {
      const data = evt.data as Uint8Array | { subarray: () => Uint8Array }
      const bytes = data instanceof Uint8Array ? data : data.subarray()
      chunks.push(bytes)
      got += bytes.length
      if (got >= n) { clearTimeout(timer); resolve(concat(chunks)) }
    })
  })
}

async function ourDial (addr: string): Promise<TcpConnection> {
  const conn = await dial(addr)
  cleanups.push(() => { conn.abort() })
  return conn
}

describe('our dialer → js-libp2p listener', () => {
  it('selects; na then second proposal; data flows after negotiation both ways', async () => {
    const js = await jsListen()
    const conn = await ourDial(js.addr)
    const [ours, theirs] = await Promise.all([
      selectOnConnection(conn, ['/yamux/1.0.0', '/noise'], { timeoutMs: 5000 }),
      js.next().then(async maConn => ({ maConn, protocol: await mss.handle(maConn, ['/noise']) }))
    ])
    expect(ours).toEqual({ protocol: '/noise', leftover: [] })
    expect(theirs.protocol).toBe('/noise')
    // The channel now belongs to /noise: raw bytes both ways.
    const rec = record(conn)
    const reading = jsRead(theirs.maConn, 5)
    conn.write([utf8('hello')])
    expect(text(await reading)).toBe('hello')
    theirs.maConn.send(utf8('world'))
    while (rec.received < 5) await tick()
    expect(text(rec.bytes())).toBe('world')
  })

  it('pipelined header + proposal + application data in one write (rust V1Lazy) reach the js handler', async () => {
    const js = await jsListen()
    const conn = await ourDial(js.addr)
    const msg1 = new Uint8Array(34); msg1[1] = 32; msg1.fill(9, 2)
    conn.write([encodeMessage('/multistream/1.0.0'), encodeMessage('/noise'), msg1])
    const maConn = await js.next()
    expect(await mss.handle(maConn, ['/noise'])).toBe('/noise')
    expect(Buffer.from(await jsRead(maConn, 34)).equals(Buffer.from(msg1))).toBe(true)
    // and our side reads the js answer: header + echo
    const rec = record(conn)
    const answer = concat([encodeMessage('/multistream/1.0.0'), encodeMessage('/noise')])
    while (rec.received < answer.length) await tick()
    expect(Buffer.from(rec.bytes()).equals(Buffer.from(answer))).toBe(true)
  })

  it('lazy select: header + proposal + first payload in one write; the reply comes back without the echo', async () => {
    const js = await jsListen()
    const writes: number[] = []
    const conn = await dial(js.addr)
    // Count socket writes: every batch the lazy connection hands down is one TcpConnection.write.
    const write = conn.write.bind(conn)
    conn.write = chunks => { writes.push(chunks.reduce((n, c) => n + c.length, 0)); return write(chunks) }
    cleanups.push(() => { conn.abort() })
    const { connection } = selectOnConnectionLazy(conn, '/noise')
    const rec = record(connection)
    connection.write([utf8('msg1')])
    expect(writes).toEqual([encodeMessage('/multistream/1.0.0').length + encodeMessage('/noise').length + 4])
    const maConn = await js.next()
    expect(await mss.handle(maConn, ['/noise'])).toBe('/noise')
    expect(text(await jsRead(maConn, 4))).toBe('msg1')
    maConn.send(utf8('msg2'))
    while (rec.received < 4) await tick()
    expect(text(rec.bytes())).toBe('msg2')
  })

  it('ProtocolNotSupportedError listing every refused protocol', async () => {
    const js = await jsListen()
    const conn = await ourDial(js.addr)
    void js.next().then(async maConn => await mss.handle(maConn, ['/c/1']).catch(() => {}))
    const err = await selectOnConnection(conn, ['/a/1', '/b/1'], { timeoutMs: 5000 }).catch(e => e)
    expect(err).toBeInstanceOf(ProtocolNotSupportedError)
    expect(err.tried).toEqual(['/a/1', '/b/1'])
  })

  it('ls against the js listener (spec format)', async () => {
    const js = await jsListen()
    const conn = await ourDial(js.addr)
    void js.next().then(async maConn =>
      await mss.handle(maConn, ['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0']).catch(() => {})
    )
    expect(await listProtocols(conn, { timeoutMs: 5000 })).toEqual(['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0'])
  })
})

describe('js-libp2p dialer → our listener', () => {
  it('selects; na then second proposal; data flows after negotiation', async () => {
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close({ closeConnections: false }) })
    const maConn = await jsDial(acc.listener.multiaddrs[0] as Multiaddr)
    const server = await acc.next()
    cleanups.push(() => { server.abort() })
    const [protocol, ours] = await Promise.all([
      mss.select(maConn, ['/mplex/6.7.0', '/yamux/1.0.0']),
      handleOnConnection(server, ['/yamux/1.0.0'], { timeoutMs: 5000 })
    ])
    expect(protocol).toBe('/yamux/1.0.0')
    expect(ours.protocol).toBe('/yamux/1.0.0')
    const rec = record(server)
    const reading = jsRead(maConn, 3)
    maConn.send(utf8('abc'))
    server.write([utf8('xyz')])
    expect(text(await reading)).toBe('xyz')
    while (rec.received < 3) await tick()
    // leftover (if the js bytes arrived with the proposal) + what came after
    expect(text(concat([...ours.leftover, rec.bytes()]))).toBe('abc')
  })

  it('the js dialer sees UnsupportedProtocolError when we have none of its protocols', async () => {
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close({ closeConnections: false }) })
    const maConn = await jsDial(acc.listener.multiaddrs[0] as Multiaddr)
    const server = await acc.next()
    cleanups.push(() => { server.abort() })
    const listening = handleOnConnection(server, ['/other/1'], { timeoutMs: 5000 }).catch(e => e)
    const err = await mss.select(maConn, ['/a/1', '/b/1']).catch(e => e)
    expect((err as Error).name).toBe('UnsupportedProtocolError')
    maConn.abort(new Error('done'))
    const ours = await listening
    expect(ours.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
    expect(ours.message).toMatch(
      /^peer proposed \/a\/1, \/b\/1, which we do not support \(multistream: na\), then (ended|reset) the connection$/
    )
  })
})
