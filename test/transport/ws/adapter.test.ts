/** The /ws adapter over real sockets, against the `ws` npm package as the reference peer, in both roles. */
import { connect, type Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import type { ByteSink, TransportConnection } from '../../../src/connection.js'
import type { TraceObserver } from '../../../src/trace/observer.js'
import { dialWs, listenWs, parseWsAddress, WsTransport, type WsListener } from '../../../src/transport/ws/transport.js'
import type { WsConnection } from '../../../src/transport/ws/connection.js'
import { WsError } from '../../../src/errors.js'
import { Multiaddr } from '../../../src/transport/multiaddr.js'
import { waitFor } from '../../helpers/wait.js'

interface Rec extends ByteSink { bytes: () => Buffer, ended: boolean, closed: boolean, error: Error | undefined }
function record (): Rec {
  const chunks: Uint8Array[] = []
  const r: Rec = {
    bytes: () => Buffer.concat(chunks),
    ended: false,
    closed: false,
    error: undefined,
    onData: c => { chunks.push(c.slice()) },
    onEnd: () => { r.ended = true },
    onClose: err => { r.closed = true; r.error = err }
  }
  return r
}

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f() })

async function ourListener (
  opts: Partial<Parameters<typeof listenWs>[1]> = {}
): Promise<{ listener: WsListener, next: () => Promise<WsConnection>, port: number }> {
  const ready: WsConnection[] = []
  const listener = await listenWs('/ip4/127.0.0.1/tcp/0/ws', { ...opts, onConnection: c => ready.push(c) })
  cleanup.push(async () => await listener.close({ closeConnections: true }))
  const port = Number(listener.multiaddrs[0]?.components[1]?.value)
  return {
    listener,
    port,
    next: async () => {
      await waitFor('an upgraded connection', () => ready.length > 0)
      return ready.shift() as WsConnection
    }
  }
}

async function wsServer (onConn: (ws: WebSocket) => void): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  wss.on('connection', onConn)
  await new Promise<void>(resolve => wss.once('listening', () => resolve()))
  cleanup.push(async () => {
    for (const c of wss.clients) c.terminate()
    await new Promise<void>(resolve => wss.close(() => resolve()))
  })
  return (wss.address() as { port: number }).port
}

/** Raw TCP: send `request`, collect everything until the server closes. */
async function rawExchange (port: number, request: string | undefined): Promise<string> {
  const sock: Socket = connect(port, '127.0.0.1')
  const got: Buffer[] = []
  sock.on('data', d => got.push(d))
  sock.on('error', () => {})
  await new Promise<void>(resolve => sock.once('connect', () => resolve()))
  if (request !== undefined) sock.write(request)
  await new Promise<void>(resolve => sock.once('close', () => resolve()))
  return Buffer.concat(got).toString('latin1')
}

const validRequest = (extra = '', version = '13', method = 'GET'): string =>
  `${method} / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`

/** A ws package client connected to our listener, our side attached to a recorder. */
async function wsClientConnected (): Promise<{
  client: WebSocket
  conn: WsConnection
  rec: ReturnType<typeof record>
  /** The close code the client sees. */
  closed: Promise<number>
}> {
  const { next, port } = await ourListener()
  const client = new WebSocket(`ws://127.0.0.1:${port}/`)
  const opened = new Promise<void>(resolve => client.once('open', () => resolve()))
  const closed = new Promise<number>(resolve => client.once('close', code => resolve(code)))
  const conn = await next()
  const rec = record()
  conn.attach(rec)
  await opened
  return { client, conn, rec, closed }
}

/** WsTransport's listen and dial (the dial traced by `observer`); the accepted side attached to a recorder. */
async function transportDialsListener (observer?: TraceObserver): Promise<{
  d: TransportConnection
  accepted: WsConnection[]
  rec: ReturnType<typeof record>
}> {
  const t = new WsTransport()
  const accepted: WsConnection[] = []
  const l = await t.listen(Multiaddr.parse('/ip4/127.0.0.1/tcp/0/ws'), {
    identity: undefined as never,
    onConnection: c => {
      if (c.kind === 'raw') accepted.push(c.connection as WsConnection)
    }
  })
  cleanup.push(async () => await l.close())
  const d = await t.dial(l.multiaddrs[0] as Multiaddr, {
    identity: undefined as never,
    ...(observer !== undefined ? { observer } : {})
  })
  await waitFor('accept', () => accepted.length === 1)
  const rec = record()
  accepted[0]?.attach(rec)
  return { d, accepted, rec }
}

describe('ws: our listener, ws package client', () => {
  it('listen on port 0 reports the real port; binary echo; permessage-deflate offer refused; clean close', async () => {
    const { listener, next, port } = await ourListener()
    expect(port).toBeGreaterThan(0)
    expect(listener.multiaddrs[0]?.toString()).toBe(`/ip4/127.0.0.1/tcp/${port}/ws`)
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true })
    const opened = new Promise<void>(resolve => client.once('open', () => resolve()))
    const conn = await next()
    const rec = record()
    conn.attach({ ...rec, onData: c => { rec.onData(c); conn.write([c]) } })
    await opened
    expect(client.extensions).toBe('')
    const replies: Buffer[] = []
    client.on('message', (d: Buffer) => replies.push(d))
    const big = Buffer.alloc(300_000, 7)
    client.send(Buffer.from('hello'))
    client.send(big)
    await waitFor('the echo', () => Buffer.concat(replies).length === 5 + big.length)
    const closed = new Promise<number>(resolve => client.once('close', code => resolve(code)))
    await conn.close()
    expect(await closed).toBe(1000)
    expect(rec.error).toBeUndefined()
  })

  it('a text message → close 1003 and ERR_WS_UNSUPPORTED_DATA', async () => {
    const { client, rec, closed } = await wsClientConnected()
    client.send('text')
    expect(await closed).toBe(1003)
    await waitFor('onClose', () => rec.closed)
    expect((rec.error as WsError).code).toBe('ERR_WS_UNSUPPORTED_DATA')
  })

  it('half-close: the client\'s close is our onEnd, we may still send until our closeWrite', async () => {
    const { client, conn, rec, closed } = await wsClientConnected()
    client.close(1000)
    await waitFor('onEnd', () => rec.ended)
    conn.closeWrite()
    expect(await closed).toBe(1000)
    await waitFor('onClose', () => rec.closed)
    expect(rec.error).toBeUndefined()
  })

  it('a masked frame is required of clients: an unmasked one → 1002', async () => {
    const { next, port } = await ourListener()
    const sock = connect(port, '127.0.0.1')
    sock.on('error', () => {})
    const got: Buffer[] = []
    sock.on('data', d => got.push(d))
    await new Promise<void>(resolve => sock.once('connect', () => resolve()))
    sock.write(validRequest())
    const conn = await next()
    const rec = record()
    conn.attach(rec)
    await waitFor('101', () => Buffer.concat(got).includes('\r\n\r\n'))
    sock.write(Buffer.from([0x82, 0x01, 0x00]))
    await waitFor('onClose', () => rec.closed)
    expect((rec.error as WsError).closeCode).toBe(1002)
    const all = Buffer.concat(got)
    const frame = all.subarray(all.indexOf('\r\n\r\n') + 4)
    expect(frame[0]).toBe(0x88) // Close, FIN, unmasked (a server does not mask)
    expect(frame.readUInt16BE(2)).toBe(1002)
    sock.destroy()
  })
})

describe('ws: upgrade limits and HTTP errors', () => {
  it('answers 101 with the RFC 6455 §1.3 example accept key', async () => {
    const { port } = await ourListener()
    const sock = connect(port, '127.0.0.1')
    const got: Buffer[] = []
    sock.on('data', d => got.push(d))
    await new Promise<void>(resolve => sock.once('connect', () => resolve()))
    sock.write(validRequest())
    await waitFor('101', () => Buffer.concat(got).includes('\r\n\r\n'))
    expect(Buffer.concat(got).toString()).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    expect(Buffer.concat(got).toString()).not.toContain('Sec-WebSocket-Extensions')
    sock.destroy()
  })

  it.each([
    ['POST', validRequest('', '13', 'POST'), '405'],
    ['version 8', validRequest('', '8'), '426'],
    [
      'no key',
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
      '400'
    ],
    [
      'no Upgrade header',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      '400'
    ],
    ['HTTP/1.0', validRequest().replace('HTTP/1.1', 'HTTP/1.0'), '400'],
    ['garbage', 'hello\r\n\r\n', '400'],
    ['oversize head', validRequest('X-Pad: ' + 'a'.repeat(9000) + '\r\n'), '431']
  ])('%s → HTTP %s and close', async (_name, request, status) => {
    const errors: WsError[] = []
    const { port } = await ourListener({ onUpgradeError: e => errors.push(e) })
    const answer = await rawExchange(port, request)
    expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true)
    if (status === '426') expect(answer).toContain('Sec-WebSocket-Version: 13')
    await waitFor('the upgrade error', () => errors.length === 1)
    expect(errors[0]?.code).toBe('ERR_WS_HANDSHAKE')
  })

  it('a peer that never completes the upgrade is closed by the handshake timeout', async () => {
    const errors: WsError[] = []
    const { port } = await ourListener({ upgradeTimeoutMs: 200, onUpgradeError: e => errors.push(e) })
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n')
    expect(answer).toBe('')
    expect(errors[0]?.code).toBe('ERR_WS_HANDSHAKE_TIMEOUT')
  })
})

describe('ws: our dialer, ws package server', () => {
  it('a first message sent with the 101 response is not lost; echo; server close → onEnd', async () => {
    let serverSide: WebSocket | undefined
    const port = await wsServer(ws => {
      serverSide = ws
      ws.send(Buffer.from('first'))
      ws.on('message', (d: Buffer) => ws.send(d))
    })
    const conn = await dialWs(`/ip4/127.0.0.1/tcp/${port}/ws`)
    expect(conn.remoteAddr).toBe(`/ip4/127.0.0.1/tcp/${port}/ws`)
    const rec = record()
    conn.attach(rec)
    await waitFor('the first message', () => rec.bytes().toString() === 'first')
    const payload = Buffer.alloc(2_000_000, 3)
    conn.write([payload.subarray(0, 1000), payload.subarray(1000)])
    await waitFor('the echo', () => rec.bytes().length === 5 + payload.length)
    expect(rec.bytes().subarray(5).equals(payload)).toBe(true)
    serverSide?.close(1000)
    await waitFor('onEnd', () => rec.ended)
    conn.closeWrite()
    await waitFor('onClose', () => rec.closed)
    expect(rec.error).toBeUndefined()
  })

  it('the server must not mask: a masked frame from it → 1002', async () => {
    const port = await wsServer(() => {})
    // A hand-rolled server that answers 101 and then sends a masked frame.
    const { createServer } = await import('node:net')
    const srv = createServer(sock => {
      sock.once('data', d => {
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(d.toString())?.[1] as string
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
        sock.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`
        )
        sock.write(Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0]))
      })
      sock.on('error', () => {})
    })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
    cleanup.push(() => { srv.close() })
    void port
    const conn = await dialWs(`/ip4/127.0.0.1/tcp/${(srv.address() as { port: number }).port}/ws`, {
      closeTimeoutMs: 200
    })
    const rec = record()
    conn.attach(rec)
    await waitFor('onClose', () => rec.closed)
    expect((rec.error as WsError).closeCode).toBe(1002)
  })

  it('a server refusing the upgrade → ERR_WS_HANDSHAKE with its status', async () => {
    const { createServer } = await import('node:net')
    const srv = createServer(sock => {
      sock.once('data', () => sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'))
      sock.on('error', () => {})
    })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
    cleanup.push(() => {
      srv.close()
    })
    const err = await dialWs(`/ip4/127.0.0.1/tcp/${(srv.address() as { port: number }).port}/ws`).catch((e: unknown) =>
      e
    )
    expect(err).toBeInstanceOf(WsError)
    expect((err as WsError).httpStatus).toBe(403)
  })
})

describe('ws: addresses and the Transport seam', () => {
  it('parses /ws addresses; /wss is refused with a typed error', async () => {
    expect(parseWsAddress('/ip6/::1/tcp/80/ws').host).toBe('[::1]:80')
    expect(parseWsAddress('/dns4/example.com/tcp/443/ws/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA').host)
      .toBe('example.com:443')
    expect(() => parseWsAddress('/ip4/1.2.3.4/tcp/80')).toThrow(/not a WebSocket address/)
    const t = new WsTransport()
    expect(t.canDial(Multiaddr.parse('/ip4/1.2.3.4/tcp/80/ws'))).toBe(true)
    expect(t.canDial(Multiaddr.parse('/ip4/1.2.3.4/tcp/80'))).toBe(false)
    expect(t.canListen(Multiaddr.parse('/dns4/x/tcp/80/ws'))).toBe(false)
    const err = await dialWs('/ip4/127.0.0.1/tcp/1/wss').catch((e: unknown) => e)
    expect((err as WsError).code).toBe('ERR_WS_WSS_NOT_SUPPORTED')
    expect((err as Error).message).toMatch(/not supported yet/)
  })

  it('Transport.listen / dial give raw connections', async () => {
    const { d, accepted, rec } = await transportDialsListener()
    expect(d.kind).toBe('raw')
    if (d.kind === 'raw') d.connection.write([new Uint8Array([1, 2, 3])])
    await waitFor('data', () => rec.bytes().length === 3)
    if (d.kind === 'raw') await Promise.all([d.connection.close(), accepted[0]?.close()])
  })
})

describe('ws: trace events', () => {
  it('the upgrade request/response and each frame (opcode, length, FIN) reach the observer and the text format', async () => {
    const { TextFormatter } = await import('../../../src/trace/format-text.js')
    const events: Array<Record<string, unknown>> = []
    const observer = { event: (e: object) => { events.push({ ...e, bytes: undefined }) } }
    const { d, accepted, rec } = await transportDialsListener(observer)
    if (d.kind === 'raw') { d.connection.write([new Uint8Array(300)]); d.connection.closeWrite() }
    await waitFor('data', () => rec.ended)
    const ws = events.filter(e => e.layer === 'ws')
    expect(ws[0]).toMatchObject({ kind: 'upgrade', dir: 'out', startLine: 'GET / HTTP/1.1' })
    expect(ws[1]).toMatchObject({ kind: 'upgrade', dir: 'in', startLine: 'HTTP/1.1 101 Switching Protocols' })
    expect(ws[2]).toMatchObject({ kind: 'frame', dir: 'out', opcode: 'Binary', length: 300, fin: true, masked: true })
    expect(ws[3]).toMatchObject({ kind: 'frame', dir: 'out', opcode: 'Close', length: 2, fin: true })
    const f = new TextFormatter()
    const lines = ws.flatMap(e => f.format({ ...e, conn: 1, time: 0 } as never))
    expect(lines.join('\n')).toMatch(/ws -> GET \/ HTTP\/1\.1 \(Host: 127\.0\.0\.1:\d+; Upgrade: websocket;/)
    expect(lines.join('\n')).toContain('ws -> Binary FIN 300 B masked')
    accepted[0]?.closeWrite()
    if (d.kind === 'raw') await d.connection.close()
  })
})
