/**
 * `/switchyard/echo/1.0.0`: the server writes back every byte it reads until EOF, then closes.
 * Used by the interop matrix and the loopback benchmarks.
 */
import type { Stream } from '../connection.js'
import { ECHO_CODEC, ECHO_MAX_STREAMS } from './constants.js'
import type { ProtocolDefinition, ProtocolHandler } from './types.js'
import { abortWith } from './util.js'

/** The echo server: each chunk goes straight back (no copy: the read chunk is ours to hand on). */
export const echoHandler: ProtocolHandler = async (stream) => {
  try {
    let chunk: Uint8Array | null
    while ((chunk = await stream.read()) !== null) {
      await stream.write(chunk)
      // The suspended frame keeps its registers while it awaits the next read: without this an idle
      // stream pins its last chunk and the whole decrypted message behind that view (issue #15).
      chunk = null
    }
    await stream.close()
  } catch (err) {
    throw abortWith(stream, err)
  }
}

/** `/switchyard/echo/1.0.0`, ready to mount: at most ECHO_MAX_STREAMS inbound streams per connection. */
export const echoProtocol: ProtocolDefinition = {
  codecs: [ECHO_CODEC],
  handler: echoHandler,
  maxIncomingStreams: ECHO_MAX_STREAMS
}

/**
 * Send `data`, half-close, and collect the echo until EOF. Reads run concurrently with the write:
 * with a data size above the muxer windows, a writer that waited before reading would deadlock
 * against a server blocked on writing its echo back.
 */
export async function echo (stream: Stream, data: Uint8Array): Promise<Uint8Array> {
  const reading = readAll(stream)
  try {
    await stream.write(data)
    await stream.closeWrite()
    const out = await reading
    await stream.close()
    return out
  } catch (err) {
    reading.catch(() => {}) // rejects once the stream is reset; the first error is the one reported
    throw abortWith(stream, err)
  }
}

async function readAll (stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for (;;) {
    const chunk = await stream.read()
    if (chunk === null) break
    chunks.push(chunk)
  }
  return chunks.length === 1 ? chunks[0] as Uint8Array : new Uint8Array(Buffer.concat(chunks))
}
