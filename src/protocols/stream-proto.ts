/**
 * `/test/stream-proto/1.0.0`, the custom protocol of the nim-libp2p tutorial
 * (examples/tutorial_3_streamproto.md), byte for byte:
 *
 *   client → 10 ‖ "please send data"                       (writeLp)
 *   server prints "[server] received from client: please send data"   (readLp(1024))
 *   server → 06 ‖ "Part 0" … 06 ‖ "Part 9", 07 ‖ "Part 10", then FIN   (11 × writeLp, close)
 *   client prints "[client] received from server: Part N" for each, until end of stream
 *
 * The tutorial's client loops until `LPStreamEOFError`; ours until `EndOfStreamError`, its
 * counterpart (src/errors.ts).
 */
import type { Stream } from '../connection.js'
import { EndOfStreamError } from '../errors.js'
import {
  STREAM_PROTO_CODEC,
  STREAM_PROTO_MAX_MESSAGE_BYTES,
  STREAM_PROTO_PART_COUNT,
  STREAM_PROTO_REQUEST
} from './constants.js'
import type { ProtocolDefinition, ProtocolHandler } from './types.js'
import { abortWith, displayText } from './util.js'

/** The tutorial's server `handle(conn, proto)`. Prints through `ctx.log`. */
export const streamProtoHandler: ProtocolHandler = async (stream, _protocol, ctx) => {
  try {
    const msg = await stream.readLp(STREAM_PROTO_MAX_MESSAGE_BYTES)
    ctx.log(`[server] received from client: ${displayText(msg)}`)
    for (let i = 0; i < STREAM_PROTO_PART_COUNT; i++) await stream.writeLp(`Part ${i}`)
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/** `/test/stream-proto/1.0.0`, ready to mount. */
export const streamProtoProtocol: ProtocolDefinition = { codecs: [STREAM_PROTO_CODEC], handler: streamProtoHandler }

export interface StreamProtoClientOptions {
  /** Receives the tutorial's output lines. Default: none. */
  log?: (line: string) => void
}

/**
 * The tutorial's client over an already negotiated stream: request the data, print and collect
 * every part until end of stream, close. Resolves with the parts' text.
 */
export async function streamProtoClient (stream: Stream, options: StreamProtoClientOptions = {}): Promise<string[]> {
  const log = options.log ?? (() => {})
  const parts: string[] = []
  try {
    await stream.writeLp(STREAM_PROTO_REQUEST)
    for (;;) {
      let msg: Uint8Array
      try {
        msg = await stream.readLp(STREAM_PROTO_MAX_MESSAGE_BYTES)
      } catch (err) {
        if (err instanceof EndOfStreamError) break
        throw err
      }
      const text = displayText(msg)
      log(`[client] received from server: ${text}`)
      parts.push(text)
    }
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
  return parts
}
