/**
 * nim-libp2p tutorial 2, "Custom protocol in libp2p" (examples/tutorial_2_customproto.md), ported
 * almost line for line: a protocol with a server part (read one message and print it) and a client
 * part (send one message).
 *
 *   npm run build && node dist/examples/tutorial-2-customproto.js
 *   Got from remote - Hello p2p!
 */
import { LPProtocol, newStandardSwitch } from '../src/index.js'
import type { Stream } from '../src/index.js'

const TestCodec = '/test/proto/1.0.0'

class TestProto extends LPProtocol {
  constructor () {
    // every incoming connections will in be handled in this closure
    const handle = async (conn: Stream, _proto: string): Promise<void> => {
      console.log('Got from remote - ' + new TextDecoder().decode(await conn.readLp(1024)))
      // We must close the connections ourselves when we're done with it
      await conn.close()
    }

    super({ codecs: [TestCodec], handler: handle })
  }

  async hello (conn: Stream): Promise<void> {
    await conn.writeLp('Hello p2p!')
  }
}

async function main (): Promise<void> {
  const testProto = new TestProto()
  const switch1 = newStandardSwitch()
  const switch2 = newStandardSwitch()

  switch1.mount(testProto)

  await switch1.start()
  await switch2.start()

  const conn = await switch2.dial(switch1.peerInfo.peerId, switch1.peerInfo.addrs, TestCodec)

  await testProto.hello(conn)

  // We must close the connection ourselves when we're done with it
  await conn.close()

  await Promise.all([switch1.stop(), switch2.stop()]) // close connections and shutdown all transports
}

await main()
