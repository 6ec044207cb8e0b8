/** Loopback helpers for the TCP tests: accepted-connection queue, event recorder, a black-hole listener. */
import { Worker } from 'node:worker_threads'
import type { ByteConnection } from '../../src/connection.js'
import { dial, listen, type TcpConnection, type TcpListener, type TcpListenOptions } from '../../src/transport/tcp.js'

export interface Accepting {
  listener: TcpListener
  /** The next accepted connection (in accept order). */
  next: () => Promise<TcpConnection>
}

export async function startListener (
  addr = '/ip4/127.0.0.1/tcp/0',
  options: Partial<TcpListenOptions> = {}
): Promise<Accepting> {
  const ready: TcpConnection[] = []
  const waiting: Array<(c: TcpConnection) => void> = []
  const listener = await listen(addr, {
    ...options,
    onConnection: conn => {
      options.onConnection?.(conn)
      const w = waiting.shift()
      if (w !== undefined) w(conn)
      else ready.push(conn)
    }
  })
  return {
    listener,
    next: async () => {
      const c = ready.shift()
      if (c !== undefined) return c
      return await new Promise<TcpConnection>(resolve => waiting.push(resolve))
    }
  }
}

export interface Recording {
  chunks: Uint8Array[]
  bytes: () => Uint8Array
  received: number
  ended: Promise<void>
  closed: Promise<Error | undefined>
  drains: number
}

/** Attach a sink that records everything; `onChunk` runs after each chunk is recorded. */
export function record (conn: ByteConnection, onChunk?: (chunk: Uint8Array, rec: Recording) => void): Recording {
  let endResolve!: () => void
  let closeResolve!: (err: Error | undefined) => void
  const rec: Recording = {
    chunks: [],
    received: 0,
    bytes: () => Buffer.concat(rec.chunks),
    ended: new Promise<void>(resolve => { endResolve = resolve }),
    closed: new Promise<Error | undefined>(resolve => { closeResolve = resolve }),
    drains: 0
  }
  conn.attach({
    onData: chunk => { rec.chunks.push(chunk); rec.received += chunk.length; onChunk?.(chunk, rec) },
    onEnd: () => endResolve(),
    onClose: err => closeResolve(err),
    onDrain: () => { rec.drains++ }
  })
  return rec
}

export const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/**
 * A loopback listener whose kernel accept queue is full and never drained: its owner (a worker
 * thread) blocks its event loop with Atomics.wait right after listening, so it never accepts. Once
 * the queue (backlog + 1 entries on Linux) is full, further SYNs are dropped and a dial hangs until
 * its own timeout. Nothing leaves the machine.
 */
export async function blackHole (): Promise<{ addr: string, fillers: TcpConnection[], stop: () => Promise<void> }> {
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const net = require('node:net')
    const server = net.createServer()
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      parentPort.postMessage(server.address().port)
      Atomics.wait(workerData, 0, 0)
      server.close()
      process.exit(0)
    })
  `, { eval: true, workerData: flag })
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  const addr = `/ip4/127.0.0.1/tcp/${port}`
  const fillers: TcpConnection[] = []
  // Fill the accept queue: these complete the handshake in the kernel without being accepted.
  for (let i = 0; i < 16; i++) {
    try {
      fillers.push(await dial(addr, { timeoutMs: 250 }))
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_DIAL_TIMEOUT') break
      throw err
    }
  }
  return {
    addr,
    fillers,
    stop: async () => {
      for (const f of fillers) f.abort()
      Atomics.store(flag, 0, 1)
      Atomics.notify(flag, 0)
      await worker.terminate()
    }
  }
}
