/**
 * The nim-libp2p tutorial "custom streaming protocol" (tutorial_3_streamproto.md), almost line for
 * line, between two switches over loopback TCP + Noise + yamux.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { EndOfStreamError, LPProtocol, newStandardSwitch } from '../../src/index.js'
import type { Stream, Switch } from '../../src/index.js'

const TestStreamCodec = '/test/stream-proto/1.0.0'
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('tutorial: custom streaming protocol', () => {
  const switches: Switch[] = []
  afterEach(async () => { await Promise.all(switches.splice(0).map(s => s.stop())) })

  it('runs the exact 11-part exchange', async () => {
    const output: string[] = []
    const echo = (...parts: string[]): void => { output.push(parts.join('')) }

    class TestStreamProto extends LPProtocol {
      constructor () {
        // every incoming connection will be handled in this closure
        const handle = async (conn: Stream, _proto: string): Promise<void> => {
          echo('[server] received from client: ', text(await conn.readLp(1024)))
          // send stream of data
          for (let i = 0; i <= 10; i++) await conn.writeLp('Part ' + String(i))
          // We must close the connections ourselves when we're done with it
          await conn.close()
        }
        super({ codecs: [TestStreamCodec], handler: handle })
      }

      async streamData (conn: Stream): Promise<void> {
        await conn.writeLp('please send data')
        try {
          // Read loop
          for (;;) {
            const strData = await conn.readLp(1024)
            echo('[client] received from server: ', text(strData))
          }
        } catch (err) {
          if (!(err instanceof EndOfStreamError)) throw err
          // the remote closed: close from this end as well
          await conn.close()
        }
      }
    }

    const proto = new TestStreamProto()
    const switch1 = newStandardSwitch()
    const switch2 = newStandardSwitch()
    switches.push(switch1, switch2)

    switch1.mount(proto)

    await switch1.start()
    await switch2.start()
    const conn = await switch2.dial(switch1.peerInfo.peerId, switch1.peerInfo.addrs, TestStreamCodec)

    // conn is a fully set-up stream: we talk directly to switch1's handler
    await proto.streamData(conn)

    await Promise.all([switch1.stop(), switch2.stop()])

    expect(output).toEqual([
      '[server] received from client: please send data',
      ...Array.from({ length: 11 }, (_, i) => `[client] received from server: Part ${i}`)
    ])
    expect(conn.protocol).toBe(TestStreamCodec)
    expect(conn.remotePeer.equals(switch1.peerId)).toBe(true)
    expect(switch1.state).toBe('stopped')
  })

  it('reports the real port in peerInfo.addrs after start', async () => {
    const sw = newStandardSwitch()
    switches.push(sw)
    expect(sw.peerInfo.addrs).toEqual([])
    await sw.start()
    expect(sw.peerInfo.addrs).toHaveLength(1)
    const addr = sw.peerInfo.addrs[0]?.toString() ?? ''
    expect(addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    expect(addr).not.toBe('/ip4/127.0.0.1/tcp/0')
  })
})
