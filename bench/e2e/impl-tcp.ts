/**
 * The physical limit of the end-to-end benchmark: bare node:net between two processes, no
 * security, no multiplexing. One connection carries one "stream"; its first byte says which
 * protocol (`P` perf, `E` echo — ping is an echo of 32 bytes), sent together with the first data
 * (cork/uncork), so setup costs exactly the TCP handshake. Nagle is off on both ends, as in the
 * libp2p implementations.
 */
import net from 'node:net'
import { once } from 'node:events'
import { BLOCK, BLOCK_BYTES, PERF } from './impl.js'
import type { BenchClient, BenchConnection, BenchServer, BenchStream, Protocol } from './impl.js'

const OP_PERF = 0x50 // 'P'
const OP_ECHO = 0x45 // 'E'
/** Reading pauses the socket above this many unread bytes. */
const READ_HIGH_WATER = 1024 * 1024

function serve (sock: net.Socket): void {
  sock.setNoDelay(true)
  let op = -1
  const header = new Uint8Array(8)
  let have = 0
  sock.on('error', () => {})
  sock.on('data', (chunk: Buffer) => {
    let c: Uint8Array = chunk
    if (op < 0) { op = c[0] as number; c = c.subarray(1) }
    if (op === OP_ECHO) {
      if (c.length > 0 && !sock.write(c)) {
        sock.pause()
        sock.once('drain', () => { sock.resume() })
      }
    } else if (have < 8) {
      const take = Math.min(8 - have, c.length)
      header.set(c.subarray(0, take), have)
      have += take
    }
  })
  sock.on('end', () => {
    if (op !== OP_PERF) { sock.end(); return }
    void (async () => {
      let remaining = Number(new DataView(header.buffer).getBigUint64(0, false))
      while (remaining > 0) {
        const size = Math.min(remaining, BLOCK_BYTES)
        if (!sock.write(size === BLOCK_BYTES ? BLOCK : BLOCK.subarray(0, size))) await once(sock, 'drain')
        remaining -= size
      }
      sock.end()
    })().catch(() => { sock.destroy() })
  })
}

function hostPort (addr: string): { host: string, port: number } {
  const m = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  if (m === null) throw new Error(`raw TCP: expected /ip4/<host>/tcp/<port>, got ${addr}`)
  return { host: m[1] as string, port: Number(m[2]) }
}

export async function startServer (listen: string): Promise<BenchServer> {
  const { host, port } = hostPort(listen)
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, serve)
  let connections = 0
  server.on('connection', (s) => { connections++; s.on('close', () => { connections-- }) })
  server.listen(port, host)
  await once(server, 'listening')
  const a = server.address() as net.AddressInfo
  return {
    addr: `/ip4/${a.address}/tcp/${a.port}`,
    stats: () => ({ connections, streams: connections }),
    stop: async () => { server.close(); await once(server, 'close') }
  }
}

function wrap (sock: net.Socket, op: number): BenchStream {
  let opSent = false
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let failed: Error | undefined
  let waiter: (() => void) | undefined
  const wake = (): void => { const w = waiter; waiter = undefined; w?.() }
  sock.on('data', (c: Buffer) => {
    queue.push(c)
    queued += c.length
    if (queued > READ_HIGH_WATER) sock.pause()
    wake()
  })
  sock.on('end', () => { ended = true; wake() })
  sock.on('error', (e) => { failed = e; wake() })
  sock.on('close', () => { ended = true; wake() })
  const send = (data: Uint8Array): boolean => {
    if (opSent) return sock.write(data)
    opSent = true
    sock.cork()
    sock.write(Uint8Array.of(op))
    const ok = sock.write(data)
    sock.uncork()
    return ok
  }
  return {
    write: async (data) => { if (!send(data)) await once(sock, 'drain') },
    read: async () => {
      for (;;) {
        const c = queue.shift()
        if (c !== undefined) {
          queued -= c.length
          if (queued <= READ_HIGH_WATER && sock.isPaused()) sock.resume()
          return c
        }
        if (failed !== undefined) throw failed
        if (ended) return null
        await new Promise<void>(resolve => { waiter = resolve })
      }
    },
    closeWrite: async () => {
      if (!opSent) { opSent = true; sock.write(Uint8Array.of(op)) }
      sock.end()
    },
    close: async () => { if (!sock.destroyed) sock.destroySoon() }
  }
}

export async function startClient (): Promise<BenchClient> {
  return {
    oneStreamPerConnection: true,
    connect: async (addr: string): Promise<BenchConnection> => {
      const { host, port } = hostPort(addr)
      const sock = net.connect({ host, port, noDelay: true, allowHalfOpen: true })
      await once(sock, 'connect')
      let used = false
      return {
        stream: async (protocol: Protocol) => {
          if (used) throw new Error('raw TCP: one stream per connection')
          used = true
          return wrap(sock, protocol === PERF ? OP_PERF : OP_ECHO)
        },
        close: async () => {
          if (sock.destroyed) return
          const closed = once(sock, 'close')
          sock.end()
          sock.destroySoon()
          await closed
        }
      }
    },
    stop: async () => {}
  }
}
