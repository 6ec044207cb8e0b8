/**
 * A js-libp2p yamux peer for interop tests: `@chainsafe/libp2p-yamux` running directly on a real
 * `@libp2p/tcp` MultiaddrConnection (js-raw-tcp.ts: no Noise, no multistream), so it sees exactly
 * the bytes our yamux puts on its ByteConnection.
 */
import net from 'node:net'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { MultiaddrConnection, Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import type { YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { ByteConnection } from '../../src/connection.js'
import { socketConnection } from '../helpers/socket-connection.js'
import { jsDial, jsListen } from './js-raw-tcp.js'

export { jsReadAll, jsWrite } from './js-raw-tcp.js'

export function jsYamux (maConn: MultiaddrConnection, init: YamuxMuxerInit = {}): JsMuxer<JsStream> {
  return yamux({ enableKeepAlive: false, ...init })().createStreamMuxer(maConn) as unknown as JsMuxer<JsStream>
}

/** js listens, we dial: returns our ByteConnection and the js side's raw connection. */
export async function weDialJs (): Promise<
  { ours: ByteConnection, theirs: MultiaddrConnection, close: () => Promise<void> }
> {
  const listener = await jsListen()
  const accepted = listener.accept()
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(listener.port, '127.0.0.1', () => { resolve(s) })
    s.once('error', reject)
  })
  const theirs = await accepted
  return {
    ours: socketConnection(socket, 'outbound'),
    theirs,
    close: async () => {
      socket.destroy()
      await listener.close()
    }
  }
}

/** We listen, js dials. */
export async function jsDialsUs (): Promise<
  { ours: ByteConnection, theirs: MultiaddrConnection, close: () => Promise<void> }
> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve))
  const theirs = await jsDial(port)
  const socket = await accepted
  return {
    ours: socketConnection(socket, 'inbound'),
    theirs,
    close: async () => {
      socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
