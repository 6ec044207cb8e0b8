import { afterEach, describe, expect, it } from 'vitest'
import { MultiaddrError, StreamClosedError, TransportError } from '../../src/errors.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'
import { dial, listen, listenerMultiaddrs, type TcpConnection } from '../../src/transport/tcp.js'
import type { TraceEvent, TraceObserver } from '../../src/trace/observer.js'
import { blackHole, record, startListener, tick, type Accepting } from './tcp-helpers.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)()
})

async function pair (addr?: string): Promise<{ acc: Accepting, client: TcpConnection, server: TcpConnection }> {
  const acc = await startListener(addr)
  cleanups.push(async () => { await acc.listener.close({ closeConnections: false }) })
  const client = await dial(acc.listener.multiaddrs[0] as Multiaddr)
  const server = await acc.next()
  cleanups.push(() => { client.abort(); server.abort() })
  return { acc, client, server }
}

describe('listen / dial', () => {
  it('port 0 resolves to the real port; addresses match on both ends; bytes flow both ways', async () => {
    const { acc, client, server } = await pair()
    const ma = acc.listener.multiaddrs[0] as Multiaddr
    expect(ma.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(ma.toNodeAddress().port).toBeGreaterThan(0)
    expect(client.remoteAddr).toBe(ma.toString())
    expect(server.localAddr).toBe(ma.toString())
    expect(server.remoteAddr).toBe(client.localAddr)
    expect(client.direction).toBe('outbound')
    expect(server.direction).toBe('inbound')
    const sr = record(server)
    const cr = record(client)
    client.write([utf8('hello ')])
    client.write([utf8('wor'), utf8('ld')])
    server.write([utf8('back')])
    while (sr.received < 11 || cr.received < 4) await tick()
    expect(text(sr.bytes())).toBe('hello world')
    expect(text(cr.bytes())).toBe('back')
  })

  it('IPv6 loopback', async () => {
    const { acc, client, server } = await pair('/ip6/::1/tcp/0')
    expect((acc.listener.multiaddrs[0] as Multiaddr).toString()).toMatch(/^\/ip6\/::1\/tcp\/\d+$/)
    expect(client.remoteAddr).toMatch(/^\/ip6\/::1\//)
    const sr = record(server)
    client.write([utf8('v6')])
    while (sr.received < 2) await tick()
    expect(text(sr.bytes())).toBe('v6')
  })

  it('dial accepts a trailing /p2p and refuses non-TCP addresses', async () => {
    const acc = await startListener()
    cleanups.push(async () => {
      await acc.listener.close({ closeConnections: true })
    })
    const ma = (acc.listener.multiaddrs[0] as Multiaddr).encapsulate(
      '/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq'
    )
    const c = await dial(ma)
    c.abort()
    await expect(dial('/ip4/127.0.0.1/udp/1')).rejects.toThrow(MultiaddrError)
    await expect(dial('/ip4/127.0.0.1/tcp/1/ws')).rejects.toThrow(/unexpected "\/ws" after \/tcp/)
    await expect(listen('/dns4/localhost/tcp/0', { onConnection: () => {} })).rejects.toThrow(
      /expected an \/ip4 or \/ip6 address/
    )
  })

  it('dials a /dns4 name (localhost)', async () => {
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close({ closeConnections: true }) })
    const port = (acc.listener.multiaddrs[0] as Multiaddr).toNodeAddress().port
    const c = await dial(`/dns4/localhost/tcp/${port}`)
    expect(c.remoteAddr).toBe(`/ip4/127.0.0.1/tcp/${port}`)
    c.abort()
  })

  it('localAddress: the socket binds to it and the listener sees it as the source address', async () => {
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close({ closeConnections: true }) })
    const ma = acc.listener.multiaddrs[0] as Multiaddr
    // all of 127.0.0.0/8 is loopback on Linux: two dials, two source hosts
    for (const localAddress of ['127.0.0.2', '127.0.1.7']) {
      const c = await dial(ma, { localAddress })
      const s = await acc.next()
      cleanups.push(() => { c.abort(); s.abort() })
      expect(c.localAddr).toMatch(new RegExp(`^/ip4/${localAddress.replaceAll('.', '\\.')}/tcp/\\d+$`))
      expect(s.remoteAddr).toBe(c.localAddr)
      const sr = record(s)
      c.write([utf8('from ' + localAddress)])
      while (sr.received < 5 + localAddress.length) await tick()
      expect(text(sr.bytes())).toBe('from ' + localAddress)
    }
    // a /dns name resolves in the local address's family
    const c = await dial(`/dns/localhost/tcp/${ma.toNodeAddress().port}`, { localAddress: '127.0.0.3' })
    const s = await acc.next()
    cleanups.push(() => { c.abort(); s.abort() })
    expect(s.remoteAddr).toMatch(/^\/ip4\/127\.0\.0\.3\//)
  })

  it('localAddress: not an IP address is a TypeError; the other family is refused before any socket', async () => {
    await expect(dial('/ip4/127.0.0.1/tcp/1', { localAddress: 'localhost' })).rejects.toThrow(
      /"localAddress" expected an IPv4 or IPv6 address, got "localhost"/
    )
    const err = await dial('/ip6/::1/tcp/1', { localAddress: '127.0.0.2' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransportError)
    expect(err).toMatchObject({ code: 'ERR_SOCKET' })
    expect((err as Error).message).toMatch(/expected a local address of IPv6, got 127\.0\.0\.2/)
  })

  it('a wildcard bind reports every interface address of its family, loopback first, without link-local', () => {
    const ifaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4' }, { address: '::1', family: 'IPv6' }],
      eth0: [{ address: '192.0.2.7', family: 'IPv4' }, { address: 'fd00::7', family: 'IPv6' }, {
        address: 'fe80::1',
        family: 'IPv6'
      }]
    }
    expect(listenerMultiaddrs('0.0.0.0', 4001, { eth0: ifaces.eth0, lo: ifaces.lo }).map(String))
      .toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/192.0.2.7/tcp/4001'])
    expect(listenerMultiaddrs('::', 4001, ifaces).map(String)).toEqual(['/ip6/::1/tcp/4001', '/ip6/fd00::7/tcp/4001'])
    expect(listenerMultiaddrs('127.0.0.1', 5, ifaces).map(String)).toEqual(['/ip4/127.0.0.1/tcp/5'])
    // the real interface list always has loopback
    expect(listenerMultiaddrs('0.0.0.0', 9).map(String)).toContain('/ip4/127.0.0.1/tcp/9')
  })

  it('a port in use is a TransportError', async () => {
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close() })
    const err = await listen(acc.listener.multiaddrs[0] as Multiaddr, { onConnection: () => {} }).catch(e => e)
    expect(err).toBeInstanceOf(TransportError)
    expect(err.message).toMatch(/EADDRINUSE/)
  })
})

describe('read side', () => {
  it('bytes that arrive while detached are kept, in order, with the end, for the next sink', async () => {
    const { client, server } = await pair()
    client.write([utf8('one ')])
    client.write([utf8('two')])
    client.closeWrite()
    // No sink attached on the server (its socket is paused): the bytes and the FIN have left the
    // client and wait below us; nothing is lost when a sink comes.
    while (client.writableLength > 0) await tick()
    const rec = record(server)
    await rec.ended
    expect(text(rec.bytes())).toBe('one two')
  })

  it('detach inside onData hands the rest to the next sink in order', async () => {
    const { client, server } = await pair()
    const first: string[] = []
    server.attach({
      onData: c => { first.push(text(c)); server.detach() },
      onEnd: () => {},
      onClose: () => {}
    })
    client.write([utf8('A')])
    while (first.length === 0) await tick()
    client.write([utf8('B')])
    client.write([utf8('C')])
    client.closeWrite()
    while (client.writableLength > 0) await tick()
    expect(first.join('')).toBe('A')
    const rec = record(server)
    await rec.ended
    expect(first.join('')).toBe('A')
    expect(text(rec.bytes())).toBe('BC')
  })

  it('a borrowing sink reads views of one buffer, shared by connections; later owning sinks get their own', async () => {
    const a = await pair()
    const b = await pair()
    const size = 1 << 20
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 13) & 0xff)
    const borrow = (conn: TcpConnection): { buffers: Set<ArrayBufferLike>, data: Uint8Array[], got: () => number } => {
      const buffers = new Set<ArrayBufferLike>()
      const data: Uint8Array[] = []
      let got = 0
      conn.attach({
        borrowsChunks: true,
        onData: c => { buffers.add(c.buffer); data.push(Uint8Array.from(c)); got += c.length },
        onEnd: () => {},
        onClose: () => {}
      })
      return { buffers, data, got: () => got }
    }
    const ra = borrow(a.server)
    const rb = borrow(b.client)
    a.client.write([payload])
    b.server.write([payload])
    while (ra.got() < size || rb.got() < size) await tick()
    expect(Buffer.concat(ra.data).equals(payload)).toBe(true)
    expect(Buffer.concat(rb.data).equals(payload)).toBe(true)
    // Accepted and dialed sockets alike: every read landed in the same buffer.
    expect(ra.buffers.size).toBe(1)
    expect([...rb.buffers]).toEqual([...ra.buffers])
    // A sink that does not borrow, attached after, owns what it gets (copies, never the shared buffer).
    const rec = record(a.server)
    a.client.write([payload])
    a.client.closeWrite()
    await rec.ended
    expect(Buffer.from(rec.bytes()).equals(payload)).toBe(true)
    for (const c of rec.chunks) expect(ra.buffers.has(c.buffer)).toBe(false)
  })
})

describe('backpressure', () => {
  it('a paused / slow reader keeps both sides bounded; every byte arrives in order', async () => {
    const hwm = 16 * 1024
    const acc = await startListener('/ip4/127.0.0.1/tcp/0', { highWaterMarkBytes: hwm })
    cleanups.push(async () => { await acc.listener.close() })
    const client = await dial(acc.listener.multiaddrs[0] as Multiaddr, { highWaterMarkBytes: hwm })
    const server = await acc.next()
    cleanups.push(() => { client.abort(); server.abort() })

    const chunkSize = 64 * 1024
    // Byte at absolute offset p is floor(p / chunkSize) & 0xff. The reader checks every byte's value
    // as it goes, and pauses itself after every 256 KiB, resuming a tick later.
    let offset = 0
    let mismatches = 0
    let maxServerBuffered = 0
    let sinceResume = 0
    const rec = record(server, chunk => {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== (Math.floor((offset + i) / chunkSize) & 0xff)) mismatches++
      }
      offset += chunk.length
      maxServerBuffered = Math.max(maxServerBuffered, server.readableLength)
      sinceResume += chunk.length
      if (sinceResume >= 256 * 1024) {
        sinceResume = 0
        server.pause()
        setImmediate(() => server.resume())
      }
    })
    rec.chunks.length = 0
    server.pause() // start fully stalled

    const total = 8 * 1024 * 1024
    let written = 0
    let maxClientBuffered = 0
    let sawFalse = false
    let drained: (() => void) | undefined
    client.attach({ onData: () => {}, onEnd: () => {}, onClose: () => {}, onDrain: () => drained?.() })

    const writeChunk = (): boolean => {
      const chunk = new Uint8Array(chunkSize).fill((written / chunkSize) & 0xff)
      const ok = client.write([chunk])
      written += chunkSize
      maxClientBuffered = Math.max(maxClientBuffered, client.writableLength)
      return ok
    }

    // Phase 1: the reader is stalled. The writer must be told to stop (false) once the kernel buffers
    // are full, and its own buffer never holds more than the mark plus the one chunk that crossed it.
    for (let i = 0; i < 4096 && written < total; i++) {
      if (!writeChunk()) { sawFalse = true; break }
      if (i % 8 === 7) await tick()
    }
    expect(sawFalse).toBe(true)
    expect(client.writableLength).toBeLessThan(hwm + chunkSize)
    // The stalled reader holds at most its readable mark plus one socket read in user space.
    for (let i = 0; i < 10; i++) await tick()
    expect(server.readableLength).toBeLessThanOrEqual(hwm + chunkSize)
    expect(rec.received).toBeLessThanOrEqual(hwm + chunkSize)

    // Phase 2: the reader goes on slowly; the writer honours drain.
    const waitDrain = async (): Promise<void> => {
      while (client.writableLength >= hwm) await new Promise<void>(resolve => { drained = resolve })
    }
    server.resume()
    await waitDrain()
    while (written < total) {
      if (!writeChunk()) await waitDrain()
    }
    client.closeWrite()
    await rec.ended
    expect(rec.received).toBe(total)
    expect(mismatches).toBe(0)
    expect(maxClientBuffered).toBeLessThan(hwm + chunkSize)
    expect(maxServerBuffered).toBeLessThanOrEqual(hwm + chunkSize)
  })

  it('write(chunks) is one batch (one writev); empty chunks are skipped', async () => {
    const seen: number[] = []
    const observer: TraceObserver = { event: e => { if (e.layer === 'tcp' && e.kind === 'data') seen.push(e.length) } }
    const acc = await startListener()
    cleanups.push(async () => { await acc.listener.close() })
    const client = await dial(acc.listener.multiaddrs[0] as Multiaddr, { observer })
    const server = await acc.next()
    cleanups.push(() => { client.abort(); server.abort() })
    const rec = record(server)
    expect(client.write([utf8('a'), utf8('bc'), new Uint8Array(0), utf8('def')])).toBe(true)
    expect(seen).toEqual([1, 2, 3])
    while (rec.received < 6) await tick()
    expect(text(rec.bytes())).toBe('abcdef')
  })
})

describe('close, half-close, abort', () => {
  it('half-close: our FIN arrives as onEnd while the other direction keeps working', async () => {
    const { client, server } = await pair()
    const sr = record(server)
    const cr = record(client)
    client.write([utf8('request')])
    client.closeWrite()
    expect(() => client.write([utf8('x')])).toThrow(StreamClosedError)
    await sr.ended
    expect(text(sr.bytes())).toBe('request')
    // The server still writes after the client's FIN, and the client still reads.
    server.write([utf8('response')])
    server.closeWrite()
    await cr.ended
    expect(text(cr.bytes())).toBe('response')
    expect(await cr.closed).toBeUndefined()
    expect(await sr.closed).toBeUndefined()
    expect(client.closed).toBe(true)
  })

  it('close() is graceful: flushes, both sides see end and a clean close', async () => {
    const { client, server } = await pair()
    const sr = record(server)
    const cr = record(client)
    client.write([new Uint8Array(100_000).fill(7)])
    const closing = client.close()
    await sr.ended
    expect(sr.received).toBe(100_000)
    // After close() the client reads only to see our FIN: data is discarded, not delivered.
    server.write([utf8('late')])
    server.closeWrite()
    await closing
    expect(cr.received).toBe(0)
    expect(await cr.closed).toBeUndefined()
    expect(await sr.closed).toBeUndefined()
    expect(client.close()).toBe(closing)
  })

  it('abort: RST; the peer gets ERR_CONNECTION_RESET, we get the given error', async () => {
    const { client, server } = await pair()
    const sr = record(server)
    const cr = record(client)
    const why = new Error('bye')
    client.abort(why)
    expect(await cr.closed).toBe(why)
    const err = await sr.closed
    expect(err).toBeInstanceOf(TransportError)
    expect((err as TransportError).code).toBe('ERR_CONNECTION_RESET')
  })

  it('abort without an error reports ERR_ABORTED locally; close events replay to a late sink', async () => {
    const { client } = await pair()
    client.abort()
    // The close event replays to a sink attached after the socket is gone.
    while (!client.closed) await tick()
    const cr = record(client)
    const err = await cr.closed
    expect((err as TransportError).code).toBe('ERR_ABORTED')
    expect(client.closed).toBe(true)
    expect(() => client.write([utf8('x')])).toThrow(StreamClosedError)
  })

  it('trace observer sees open, data, end and close; setObserver attaches one later', async () => {
    const events: string[] = []
    const summary = (e: TraceEvent): string => {
      if (e.layer !== 'tcp') return `${e.layer}:${e.kind}`
      switch (e.kind) {
        case 'open': return `open ${e.direction}`
        case 'data': return `${e.dir} ${e.length} ${text(e.bytes as Uint8Array)}`
        case 'end': return `end ${e.dir}`
        case 'close': return `close ${e.error ?? 'clean'}`
        default: return 'tcp:?'
      }
    }
    const observer: TraceObserver = { event: e => events.push(summary(e)) }
    const acc = await startListener('/ip4/127.0.0.1/tcp/0', { observer })
    cleanups.push(async () => { await acc.listener.close() })
    const client = await dial(acc.listener.multiaddrs[0] as Multiaddr)
    const clientEvents: string[] = []
    client.setObserver({ event: e => clientEvents.push(summary(e)) })
    const server = await acc.next()
    const sr = record(server)
    client.write([utf8('12345')])
    while (sr.received < 5) await tick()
    server.write([utf8('xy')])
    void client.close()
    await sr.ended
    server.closeWrite()
    await sr.closed
    expect(events).toEqual(['open inbound', 'in 5 12345', 'out 2 xy', 'end in', 'end out', 'close clean'])
    expect(clientEvents[0]).toBe('open outbound')
    expect(clientEvents).toContain('out 5 12345')
    expect(clientEvents).toContain('end out')
  })
})

describe('dial failures', () => {
  it('connection refused', async () => {
    const acc = await startListener()
    const addr = acc.listener.multiaddrs[0] as Multiaddr
    await acc.listener.close()
    const err = await dial(addr).catch(e => e)
    expect(err).toBeInstanceOf(TransportError)
    expect(err.code).toBe('ERR_CONNECTION_REFUSED')
    expect(err.message).toContain(addr.toString())
  })

  it('dial timeout and abort signal against a listener that never accepts', async () => {
    const hole = await blackHole()
    cleanups.push(hole.stop)
    expect(hole.fillers.length).toBeGreaterThan(0)

    const t = await dial(hole.addr, { timeoutMs: 100 }).catch(e => e)
    expect(t).toBeInstanceOf(TransportError)
    expect(t.code).toBe('ERR_DIAL_TIMEOUT')

    const ac = new AbortController()
    const pending = dial(hole.addr, { signal: ac.signal, timeoutMs: 20_000 })
    setTimeout(() => ac.abort(new Error('user gave up')), 20)
    const a = await pending.catch(e => e)
    expect(a).toBeInstanceOf(TransportError)
    expect(a.code).toBe('ERR_ABORTED')
    expect(a.cause.message).toBe('user gave up')

    const pre = await dial(hole.addr, { signal: AbortSignal.abort() }).catch(e => e)
    expect(pre.code).toBe('ERR_ABORTED')
  })
})

describe('listener close', () => {
  it('stops accepting and lets open connections finish; or closes them on request', async () => {
    const acc = await startListener()
    const addr = acc.listener.multiaddrs[0] as Multiaddr
    const c1 = await dial(addr)
    const s1 = await acc.next()
    expect(acc.listener.connections.size).toBe(1)
    await acc.listener.close()
    expect((await dial(addr).catch(e => e)).code).toBe('ERR_CONNECTION_REFUSED')
    // The open connection still works.
    const sr = record(s1)
    const cr = record(c1)
    c1.write([utf8('still here')])
    while (sr.received < 10) await tick()
    expect(text(sr.bytes())).toBe('still here')
    // Now close it through the listener: a graceful close, which waits for the client's FIN.
    const closing = acc.listener.close({ closeConnections: true })
    await cr.ended
    c1.closeWrite()
    await closing
    expect(await sr.closed).toBeUndefined()
    expect(acc.listener.connections.size).toBe(0)
    c1.abort()
  })
})
