/**
 * Client and server machines against each other through the simulated link: handshake with the
 * libp2p certificate, streams in both directions with every byte checked, under loss, reordering,
 * duplication and delay; idle timeout, CONNECTION_CLOSE, stream reset, flow-control violations.
 */
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { PeerId } from '../../../src/security/peer-id.js'
import type { QuicConnection, QuicTraceEvent } from '../../../src/transport/quic/connection.js'
import { FrameType } from '../../../src/transport/quic/constants.js'
import { Harness, prng, type LinkOptions } from './harness.js'

function handshake (opts: LinkOptions = {}): Harness {
  const h = new Harness(opts)
  h.runUntil(() => h.client.state === 'established' && h.server?.state === 'established')
  return h
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Echo server side: read everything on each stream, write it back, finish. Client sends `payloads`. */
function transfer (h: Harness, payloads: Uint8Array[]): Uint8Array[] {
  const client = h.client
  const server = h.server as QuicConnection
  const ids = payloads.map(() => client.openStream())
  const serverRx = new Map<number, number[]>()
  const clientRx = new Map<number, number[]>(ids.map(id => [id, []]))
  const clientDone = new Set<number>()
  const writeOff = ids.map(() => 0)
  const finished = new Set<number>()
  const pump = (): void => {
    // client writes in 4 KiB slices as the send buffer drains (backpressure)
    ids.forEach((id, i) => {
      const p = payloads[i] as Uint8Array
      while (writeOff[i] as number < p.length && client.buffered(id) < 64 * 1024) {
        const end = Math.min(p.length, (writeOff[i] as number) + 4096)
        client.write(id, p.subarray(writeOff[i] as number, end))
        writeOff[i] = end
      }
      if (writeOff[i] === p.length && !finished.has(id)) { client.finish(id); finished.add(id) }
    })
    for (const e of h.serverEvents.splice(0)) {
      if (e.type === 'stream-opened') serverRx.set(e.id, [])
      if (e.type === 'stream-readable') {
        for (let c = server.read(e.id); c !== null && c !== undefined; c = server.read(e.id)) {
          ;(serverRx.get(e.id) as number[]).push(...c)
          server.consumed(e.id, c.length)
        }
        if (server.read(e.id) === null && serverRx.has(e.id)) {
          server.write(e.id, Uint8Array.from(serverRx.get(e.id) as number[]))
          server.finish(e.id)
          serverRx.delete(e.id)
        }
      }
    }
    for (const e of h.clientEvents.splice(0)) {
      if (e.type !== 'stream-readable') continue
      for (let c = client.read(e.id); c !== null && c !== undefined; c = client.read(e.id)) {
        clientRx.get(e.id)?.push(...c)
        client.consumed(e.id, c.length)
      }
      if (client.read(e.id) === null) clientDone.add(e.id)
    }
  }
  h.runUntil(() => { pump(); return clientDone.size === ids.length })
  return ids.map(id => Uint8Array.from(clientRx.get(id) as number[]))
}

describe('QUIC connection: handshake (RFC 9001 §4, libp2p tls.md)', () => {
  it('completes in 1 RTT for the client, authenticates both peer ids, ALPN libp2p', () => {
    const h = new Harness({ delayMs: 50 })
    const start = h.now
    h.runUntil(() => h.client.state === 'established')
    // ClientHello out, ServerHello..Finished back: one round trip (plus processing)
    expect(h.now - start).toBe(100)
    h.runUntil(() => h.server?.state === 'established')
    const c = h.client.handshakeResult
    const s = h.server?.handshakeResult
    expect(c?.alpn).toBe('libp2p')
    expect(c?.peer?.info.peerId.equals(PeerId.fromPublicKey(h.serverIdentity.publicKey))).toBe(true)
    expect(s?.peer?.info.peerId.equals(PeerId.fromPublicKey(h.clientIdentity.publicKey))).toBe(true)
    expect(h.client.peerParams?.initialMaxStreamsBidi).toBe(256)
  })

  it('the server never sends more than 3x what it received before the client is validated (RFC 9000 §8.1)', () => {
    // the client's Handshake flight is lost, so the server keeps retransmitting its first flight
    const h = new Harness({ delayMs: 20, dropRate: 0.5, seed: 7 })
    let checked = 0
    h.runUntil(() => {
      const a =
        (h.server as unknown as { amplification?: { sent: number, received: number, validated: boolean } } | undefined)
          ?.amplification
      if (a !== undefined && !a.validated) {
        expect(a.sent).toBeLessThanOrEqual(3 * a.received)
        checked++
      }
      return h.server?.state === 'established'
    })
    expect(checked).toBeGreaterThan(0)
  })
})

describe('QUIC connection: streams through a lossy link (every byte checked, nothing hangs)', () => {
  const payload = (n: number, seed: number): Uint8Array => {
    const r = prng(seed)
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256)
    return b
  }

  it('clean link: 3 streams of 0 B, 1 B and 300 KiB echo back intact', () => {
    const h = handshake()
    const ps = [new Uint8Array(0), Uint8Array.of(42), payload(300 * 1024, 1)]
    expect(transfer(h, ps).map(sha)).toEqual(ps.map(sha))
  })

  it.each([
    ['10% drop', { dropRate: 0.1, seed: 11 }],
    ['reorder (jitter 8 ms on a 10 ms link)', { jitterMs: 8, seed: 12 }],
    ['duplicate 20%', { duplicateRate: 0.2, seed: 13 }],
    ['drop 5% + reorder + duplicate + delay 40 ms', {
      dropRate: 0.05,
      duplicateRate: 0.1,
      jitterMs: 20,
      delayMs: 40,
      seed: 14
    }]
  ])('%s: handshake and 8 streams of 64 KiB echo back intact', (_name, opts: LinkOptions) => {
    const h = handshake(opts)
    const ps = Array.from({ length: 8 }, (_, i) => payload(64 * 1024, 100 + i))
    expect(transfer(h, ps).map(sha)).toEqual(ps.map(sha))
    expect(h.client.state).toBe('established')
  })
})

describe('QUIC connection: closing', () => {
  it('keep-alive: an idle connection with keep-alive on outlives the idle timeout (PINGs, RFC 9000 §10.1.2)', () => {
    const h = handshake()
    const until = h.now + 120_000
    h.runUntil(() => h.now >= until)
    expect(h.client.state).toBe('established')
    expect(h.server?.state).toBe('established')
  })

  it('CONNECTION_CLOSE reaches the peer with its code; both end up closed', () => {
    const h = handshake()
    h.client.close(7, 'bye', h.now)
    h.runUntil(() => h.client.isClosed && h.server?.isClosed === true)
    const closed = h.serverEvents.find(e => e.type === 'closed')
    expect(closed).toMatchObject({
      type: 'closed',
      error: { code: 'ERR_QUIC_CONNECTION_CLOSED', transportErrorCode: 7 }
    })
  })

  it('idle timeout closes a silent connection (ERR_QUIC_IDLE_TIMEOUT)', () => {
    const h = handshake({ keepAliveMs: 0 })
    h.runUntil(() => h.client.isClosed)
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({ error: { code: 'ERR_QUIC_IDLE_TIMEOUT' } })
  })

  it('a peer that violates flow control is closed with FLOW_CONTROL_ERROR', () => {
    const h = handshake()
    const id = h.client.openStream()
    // pretend the server allowed far more than it did
    ;(h.client as unknown as { connSendFc: { peerMax: number } }).connSendFc.peerMax = 1e9
    ;(h.client as unknown as { streams: Map<number, { sendFc: { peerMax: number } }> }).streams.get(id)!.sendFc
      .peerMax = 1e9
    h.client.write(id, new Uint8Array(2 * 1024 * 1024))
    h.runUntil(() => h.server?.isClosed === true || h.server?.state === 'closing')
    h.runUntil(() => h.clientEvents.some(e => e.type === 'closed') || h.client.state === 'draining')
    h.runUntil(() => h.client.isClosed)
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({
      error: { code: 'ERR_QUIC_CONNECTION_CLOSED', transportErrorCode: 0x03 }
    })
  })

  it('RESET_STREAM reaches the peer as a stream-reset event', () => {
    const h = handshake()
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(1, 2, 3))
    h.runUntil(() => h.serverEvents.some(e => e.type === 'stream-opened'))
    h.client.resetStream(id, 99)
    h.runUntil(() => h.serverEvents.some(e => e.type === 'stream-reset'))
    expect(h.serverEvents.find(e => e.type === 'stream-reset')).toMatchObject({ id, errorCode: 99 })
  })
})

describe('QUIC connection: closing a stream both sides finished (RFC 9000 §3.5)', () => {
  /** Both sides write and FIN, the client reads everything incl. the FIN; the server has its data. */
  function bothFinished (readFinOnServer: boolean): { h: Harness, id: number, sent: Array<{ type: number }> } {
    const sent: Array<{ type: number }> = []
    const onTrace = (e: QuicTraceEvent): void => { if (e.type === 'packet' && e.dir === 'out') sent.push(...e.frames) }
    const h = new Harness({}, { client: { onTrace }, server: { onTrace } })
    h.runUntil(() => h.client.state === 'established' && h.server?.state === 'established')
    const server = h.server as QuicConnection
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(1, 2, 3))
    h.client.finish(id)
    h.runUntil(() => h.serverEvents.some(e => e.type === 'stream-opened'))
    server.write(id, Uint8Array.of(4, 5))
    server.finish(id)
    const read = (c: QuicConnection): boolean => {
      for (let r = c.read(id); r !== undefined; r = c.read(id)) if (r === null) return true
      return false
    }
    let clientEnd = false
    let serverEnd = !readFinOnServer
    h.runUntil(() => {
      clientEnd ||= read(h.client)
      if (!serverEnd) serverEnd = read(server)
      return clientEnd && serverEnd
    })
    return { h, id, sent }
  }
  const abortFrames = (frames: Array<{ type: number }>): number[] =>
    frames.map(f => f.type).filter(t => t === FrameType.StopSending || t === FrameType.ResetStream)

  it('the application closing it (reset + stop sending) after both FINs sends neither frame', () => {
    const { h, id, sent } = bothFinished(true)
    // what the adapter does when the libp2p stream is closed or reset at this point
    for (const c of [h.client, h.server as QuicConnection]) { c.resetStream(id, 0); c.stopSending(id, 0) }
    const until = h.now + 2_000
    h.runUntil(() => h.now > until)
    expect(abortFrames(sent)).toEqual([])
  })

  it('stop sending when every byte and the FIN arrived but were not read yet: no STOP_SENDING either', () => {
    const { h, id, sent } = bothFinished(false)
    const server = h.server as QuicConnection
    server.stopSending(id, 0)
    server.resetStream(id, 0)
    const until = h.now + 2_000
    h.runUntil(() => h.now > until)
    expect(abortFrames(sent)).toEqual([])
  })

  it('a stream still open in one direction is aborted as before', () => {
    const h = handshake()
    const sent: Array<{ type: number }> = []
    ;(h.client as unknown as { config: { onTrace: (e: QuicTraceEvent) => void } }).config.onTrace = (e) => {
      if (e.type === 'packet' && e.dir === 'out') sent.push(...e.frames)
    }
    const id = h.client.openStream()
    h.client.write(id, Uint8Array.of(1))
    h.runUntil(() => h.serverEvents.some(e => e.type === 'stream-opened'))
    h.client.resetStream(id, 0)
    h.client.stopSending(id, 0)
    h.runUntil(() => h.serverEvents.some(e => e.type === 'stream-reset'))
    expect(abortFrames(sent)).toEqual(expect.arrayContaining([FrameType.ResetStream, FrameType.StopSending]))
  })
})

describe('QUIC connection: receive backpressure (credit when the application consumes, RFC 9000 §4.1)', () => {
  const WINDOW = 256 * 1024 // defaultLocalParameters().initialMaxStreamDataBidiRemote
  const CONN_WINDOW = 1 << 20 // initialMaxData

  /** The client keeps its send buffer topped up on `ids` until the fake clock reaches `until`. */
  function flood (
    h: Harness,
    ids: number[],
    until: number,
    onServer: (e: { type: string, id?: number }) => void = () => {}
  ): void {
    const chunk = new Uint8Array(16 * 1024)
    h.runUntil(() => {
      for (const id of ids) while (h.client.buffered(id) < 512 * 1024) h.client.write(id, chunk)
      for (const e of h.serverEvents.splice(0)) onServer(e as { type: string, id?: number })
      return h.now >= until
    })
  }

  it('a stream nobody reads holds the sender at the stream window, however long it pushes', () => {
    const h = handshake()
    const server = h.server as QuicConnection
    const id = h.client.openStream()
    flood(h, [id], h.now + 5_000)
    // the server's machine holds exactly one window, the rest waits in the client's send buffer
    expect(server.unconsumed(id)).toBe(WINDOW)
    expect(h.client.buffered(id)).toBeGreaterThanOrEqual(512 * 1024)
    expect(h.client.state).toBe('established')
    expect(server.state).toBe('established')
  })

  it('data handed out by read() but not consumed is still held against the window', () => {
    const h = handshake()
    const server = h.server as QuicConnection
    const id = h.client.openStream()
    let delivered = 0
    flood(h, [id], h.now + 5_000, (e) => {
      if (e.type !== 'stream-readable') return
      for (let c = server.read(id); c !== undefined && c !== null; c = server.read(id)) delivered += c.length
    })
    expect(delivered).toBe(WINDOW)
    expect(server.unconsumed(id)).toBe(WINDOW)
    // consuming reopens the window: another window's worth arrives, and no more
    server.consumed(id, delivered)
    expect(server.unconsumed(id)).toBe(0)
    flood(h, [id], h.now + 5_000, (e) => {
      if (e.type !== 'stream-readable') return
      for (let c = server.read(id); c !== undefined && c !== null; c = server.read(id)) delivered += c.length
    })
    expect(delivered).toBeGreaterThan(WINDOW)
    // one update, auto-tuned at most once (×2)
    expect(server.unconsumed(id)).toBeLessThanOrEqual(2 * WINDOW)
    expect(delivered - WINDOW).toBe(server.unconsumed(id))
  })

  it('many unread streams stop at the connection window (MAX_DATA), not at the sum of stream windows', () => {
    const h = handshake()
    const server = h.server as QuicConnection
    const ids = Array.from({ length: 6 }, () => h.client.openStream())
    flood(h, ids, h.now + 5_000)
    const held = ids.reduce((n, id) => n + server.unconsumed(id), 0)
    expect(held).toBe(CONN_WINDOW)
    expect(6 * WINDOW).toBeGreaterThan(CONN_WINDOW)
  })

  it('STOP_SENDING on unread streams credits their bytes back to the connection; the other streams go on', () => {
    const h = handshake()
    const server = h.server as QuicConnection
    const ids = Array.from({ length: 6 }, () => h.client.openStream())
    flood(h, ids, h.now + 2_000)
    const stopped = ids.slice(0, 2)
    const rest = ids.slice(2)
    const before = rest.reduce((n, id) => n + server.unconsumed(id), 0)
    expect(before + stopped.reduce((n, id) => n + server.unconsumed(id), 0)).toBe(CONN_WINDOW)
    // half the connection window abandoned: MAX_DATA goes out (the half-window rule)
    for (const id of stopped) { server.stopSending(id, 5); server.resetStream(id, 5) }
    flood(h, rest, h.now + 2_000)
    for (const id of stopped) expect(server.unconsumed(id)).toBe(0)
    const after = rest.reduce((n, id) => n + server.unconsumed(id), 0)
    expect(after).toBeGreaterThan(before)
    expect(after).toBeLessThanOrEqual(CONN_WINDOW)
  })

  it('a peer sending beyond the connection credit is closed with FLOW_CONTROL_ERROR (0x03)', () => {
    const h = handshake()
    const ids = Array.from({ length: 6 }, () => h.client.openStream())
    // the client ignores MAX_DATA: each stream stays inside its stream window, their sum does not
    ;(h.client as unknown as { connSendFc: { peerMax: number } }).connSendFc.peerMax = 1e9
    for (const id of ids) h.client.write(id, new Uint8Array(WINDOW))
    h.runUntil(() => h.server?.state !== 'established')
    h.runUntil(() => h.client.isClosed)
    expect(h.clientEvents.find(e => e.type === 'closed')).toMatchObject({
      error: { code: 'ERR_QUIC_CONNECTION_CLOSED', transportErrorCode: 0x03 }
    })
  })
})
