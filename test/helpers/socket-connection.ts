/**
 * node:net sockets over loopback as ByteConnections: a small test adapter beside the real one
 * (src/transport/tcp.ts), so the muxer tests run over a connection that is not itself under test.
 * Half-open like the transport: a FIN from the peer ends our reading side only.
 */
import net from 'node:net'
import type { ByteConnection, ByteSink } from '../../src/connection.js'
import { StreamClosedError } from '../../src/errors.js'

const multiaddrOf = (host: string | undefined, port: number | undefined): string =>
  host?.includes(':') === true ? `/ip6/${host}/tcp/${port ?? 0}` : `/ip4/${host ?? '0.0.0.0'}/tcp/${port ?? 0}`

/** A ByteConnection over a connected node:net socket; bytes that arrive before `attach` wait for it. */
export function socketConnection (socket: net.Socket, direction: 'inbound' | 'outbound'): ByteConnection {
  let sink: ByteSink | undefined
  const early: Uint8Array[] = []
  let ended = false
  let endDelivered = false
  let closed = false
  let closeDelivered = false
  let error: Error | undefined
  let writeEnded = false
  socket.setNoDelay(true)
  socket.pause()
  // onEnd and onClose come after every byte, once a sink is attached
  const deliver = (): void => {
    if (sink === undefined || early.length > 0) return
    if (ended && !endDelivered) { endDelivered = true; sink.onEnd() }
    if (closed && !closeDelivered) { closeDelivered = true; sink.onClose(error) }
  }
  socket.on('data', (buf: Buffer) => {
    const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    if (sink === undefined) { early.push(chunk); socket.pause() } else sink.onData(chunk)
  })
  socket.on('end', () => { ended = true; deliver() })
  socket.on('error', (err) => { error ??= err })
  socket.on('close', () => { closed = true; deliver() })
  socket.on('drain', () => { sink?.onDrain?.() })
  return {
    remoteAddr: multiaddrOf(socket.remoteAddress, socket.remotePort),
    localAddr: multiaddrOf(socket.localAddress, socket.localPort),
    direction,
    attach (s) {
      sink = s
      while (early.length > 0 && sink === s) s.onData(early.shift() as Uint8Array)
      deliver()
      if (!closed) socket.resume()
    },
    detach () { sink = undefined; socket.pause() },
    write (chunks) {
      if (writeEnded || closed) throw new StreamClosedError('socket: write after close')
      socket.cork()
      for (const c of chunks) socket.write(c)
      socket.uncork()
      return socket.writableLength < socket.writableHighWaterMark
    },
    get writableLength () { return socket.writableLength },
    pause () { socket.pause() },
    resume () { socket.resume() },
    closeWrite () { if (!writeEnded) { writeEnded = true; socket.end() } },
    async close () {
      writeEnded = true
      if (closed) return
      await new Promise<void>(resolve => {
        socket.once('close', () => { resolve() })
        socket.end()
        socket.resume()
        // Bounded: a peer that never ends its side is destroyed after a while.
        setTimeout(() => { socket.destroy() }, 2000).unref()
      })
    },
    abort (err) {
      writeEnded = true
      error ??= err
      if (!socket.destroyed) socket.resetAndDestroy()
    },
    get closed () { return closed || socket.destroyed }
  }
}

export interface TcpPair {
  client: ByteConnection
  server: ByteConnection
  /** The sockets underneath, for byte counts (`bytesWritten`/`bytesRead`). */
  sockets: { client: net.Socket, server: net.Socket }
  close: () => void
}

/** One loopback TCP connection as two ByteConnections. */
export async function tcpPair (): Promise<TcpPair> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const dialed = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => { resolve(s) })
    s.once('error', reject)
  })
  const inbound = await accepted
  server.close()
  return {
    client: socketConnection(dialed, 'outbound'),
    server: socketConnection(inbound, 'inbound'),
    sockets: { client: dialed, server: inbound },
    close: () => { dialed.destroy(); inbound.destroy() }
  }
}
