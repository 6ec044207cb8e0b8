/**
 * Traffic for the simulated link: the client opens `streams` streams and sends `bytes` on each while
 * the server, as soon as it sees a stream, sends its own `bytes` back on it — both directions busy at
 * once. Returns what each side received (checked by the caller against what was sent).
 */
import type { QuicConnection } from '../../../src/transport/quic/connection.js'
import { type Harness, prng } from './harness.js'

export function pattern (n: number, seed: number): Uint8Array {
  const r = prng(seed)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256)
  return b
}

export interface Traffic {
  sentByClient: Uint8Array[]
  sentByServer: Uint8Array[]
  receivedByServer: Uint8Array[]
  receivedByClient: Uint8Array[]
}

export function bothWays (h: Harness, streams: number, bytes: number, onStep: () => void = () => {}): Traffic {
  const client = h.client
  const server = h.server as QuicConnection
  const ids = Array.from({ length: streams }, () => client.openStream())
  const sentByClient = ids.map((_, i) => pattern(bytes, 1000 + i))
  const sentByServer = ids.map((_, i) => pattern(bytes, 2000 + i))
  const rxServer = new Map<number, Uint8Array[]>()
  const rxClient = new Map<number, Uint8Array[]>(ids.map(id => [id, []]))
  const done = { client: new Set<number>(), server: new Set<number>() }
  const off = { client: new Map<number, number>(ids.map(id => [id, 0])), server: new Map<number, number>() }
  const pushOut = (conn: QuicConnection, id: number, data: Uint8Array, offsets: Map<number, number>): void => {
    let o = offsets.get(id) as number
    if (o === data.length) return
    while (o < data.length && conn.buffered(id) < 64 * 1024) {
      const end = Math.min(data.length, o + 4096)
      conn.write(id, data.subarray(o, end))
      o = end
    }
    offsets.set(id, o)
    if (o === data.length) conn.finish(id)
  }
  const drain = (conn: QuicConnection, id: number, into: Map<number, Uint8Array[]>, fin: Set<number>): void => {
    for (let c = conn.read(id); c !== undefined; c = conn.read(id)) {
      if (c === null) { fin.add(id); break }
      into.get(id)?.push(c.slice())
      conn.consumed(id, c.length)
    }
  }
  const pump = (): void => {
    ids.forEach((id, i) => pushOut(client, id, sentByClient[i] as Uint8Array, off.client))
    for (const e of h.serverEvents.splice(0)) {
      if (e.type === 'stream-opened') { rxServer.set(e.id, []); off.server.set(e.id, 0) }
      if (e.type === 'stream-readable') drain(server, e.id, rxServer, done.server)
    }
    for (const [id] of off.server) pushOut(server, id, sentByServer[ids.indexOf(id)] as Uint8Array, off.server)
    for (const e of h.clientEvents.splice(0)) {
      if (e.type === 'stream-readable') drain(client, e.id, rxClient, done.client)
    }
    onStep()
  }
  h.runUntil(() => { pump(); return done.client.size === ids.length && done.server.size === ids.length })
  const join = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts)
  return {
    sentByClient,
    sentByServer,
    receivedByServer: ids.map(id => join(rxServer.get(id) ?? [])),
    receivedByClient: ids.map(id => join(rxClient.get(id) ?? []))
  }
}
