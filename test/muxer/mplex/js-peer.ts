/**
 * A js-libp2p mplex peer for interop tests: `@libp2p/mplex` over a real `@libp2p/tcp` socket
 * (js-raw-tcp.ts), without the rest of libp2p.
 */
import { mplex } from '@libp2p/mplex'
import type { MultiaddrConnection, Stream as JsStream, StreamMuxer as JsMuxer } from '@libp2p/interface'
import type { MplexInit } from '@libp2p/mplex'

export { jsDial, jsListen, jsReadAll, jsWrite } from '../js-raw-tcp.js'
export type { JsListener } from '../js-raw-tcp.js'

/**
 * js mplex rate-limits NEW_STREAM to 5 per second per connection by default (`disconnectThreshold`,
 * then it drops the connection): the tests open 100 streams at once, so raise it.
 */
const JS_INIT: MplexInit = { disconnectThreshold: 100_000 }

export function jsMuxer (maConn: MultiaddrConnection, init: MplexInit = {}): JsMuxer<JsStream> {
  return mplex({ ...JS_INIT, ...init })().createStreamMuxer(maConn) as JsMuxer<JsStream>
}
