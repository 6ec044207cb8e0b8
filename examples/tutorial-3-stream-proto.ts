/**
 * nim-libp2p tutorial 3, "custom streaming protocol" (examples/tutorial_3_streamproto.md), ported
 * almost line for line: the client asks for data, the server answers with a stream of eleven
 * messages and closes, the client reads until the end of the stream and closes its side too.
 * This is `npm start`.
 *
 *   npm run build && node dist/examples/tutorial-3-stream-proto.js
 *   [server] received from client: please send data
 *   [client] received from server: Part 0
 *   …
 *   [client] received from server: Part 10
 *
 * nim's `LPStreamEOFError` is switchyard's `EndOfStreamError`: `readLp` throws it at the end of
 * the stream.
 */
import { EndOfStreamError, LPProtocol, newStandardSwitch } from '../src/index.js'
import type { Stream } from '../src/index.js'

const TestStreamCodec = '/test/stream-proto/1.0.0'

// Set the chunk length >= any data being streamed. Our longest chunk of data in
// either direction is 16 bytes ("please send data").
const CHUNK_LEN_BYTES = 16

const fromBytes = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

class TestStreamProto extends LPProtocol {
  constructor () {
    // every incoming connections will in be handled in this closure
    const handle = async (stream: Stream, _proto: string): Promise<void> => {
      // readLp reads length prefixed bytes and returns a buffer without the
      // prefix
      const bytes = await stream.readLp(CHUNK_LEN_BYTES)
      console.log('[server] received from client: ' + fromBytes(bytes))

      // send stream of data
      for (let i = 0; i <= 10; i++) {
        const data = 'Part ' + String(i)
        await stream.writeLp(data)
      }

      // We must close the connections ourselves when we're done with it
      await stream.close()
    }

    super({ codecs: [TestStreamCodec], handler: handle })
  }

  async streamData (stream: Stream): Promise<void> {
    const data = 'please send data'
    await stream.writeLp(data)

    // Read loop
    try {
      for (;;) {
        // readLp reads length prefixed bytes and returns a buffer without the
        // prefix
        const bytes = await stream.readLp(CHUNK_LEN_BYTES)

        console.log('[client] received from server: ' + fromBytes(bytes))
      }
    } catch (err) {
      if (!(err instanceof EndOfStreamError)) throw err
      // close the stream from the client's side
      await stream.close()
    }
  }
}

async function main (): Promise<void> {
  const testStreamProto = new TestStreamProto()
  const switch1 = newStandardSwitch()
  const switch2 = newStandardSwitch()

  switch1.mount(testStreamProto)

  await switch1.start()
  await switch2.start()

  const stream = await switch2.dial(switch1.peerInfo.peerId, switch1.peerInfo.addrs, TestStreamCodec)

  // stream is now a fully setup connection, we talk directly to the switch1 custom protocol handler
  await testStreamProto.streamData(stream)

  await Promise.all([switch1.stop(), switch2.stop()]) // close connections and shutdown all transports
}

await main()
