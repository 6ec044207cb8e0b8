/**
 * The interop matrix's early-muxer check (interop/early-muxer.ts) on real switchyard connections
 * through its recording proxy: it must see "early" when both sides offer muxers in the Noise
 * payload, "multistream" when one side does not (as rust-libp2p), and refuse a key log that does
 * not belong to the recorded connection. The foreign peers themselves are covered by
 * `npm run test:interop`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { PING_CODEC } from '../../src/protocols/constants.js'
import { ping } from '../../src/protocols/ping.js'
import { classifyStart, observeWire, RecordingProxy, splitSide } from '../../interop/early-muxer.js'

const started: Switch[] = []
const proxies: RecordingProxy[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async s => { await s.stop() }))
  await Promise.all(proxies.splice(0).map(async p => { await p.close() }))
})

/** One ping from a dialer to a listener through the proxy; returns the recording and both key logs. */
async function pingThroughProxy (
  dialerEarly: boolean,
  listenerEarly: boolean
): Promise<{ proxy: RecordingProxy, keylog: string }> {
  let keylog = ''
  const keyLog = (line: string): void => { keylog += line + '\n' }
  const listener = newStandardSwitch({ earlyMuxerNegotiation: listenerEarly, keyLog })
  const dialer = newStandardSwitch({ earlyMuxerNegotiation: dialerEarly, listenAddrs: [] })
  started.push(listener, dialer)
  await listener.start()
  await dialer.start()
  const port = Number(/\/tcp\/(\d+)/.exec(listener.peerInfo.addrs[0]?.toString() ?? '')?.[1])
  const proxy = await RecordingProxy.start(port)
  proxies.push(proxy)
  const stream = await dialer.dial(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${listener.peerId.toString()}`, PING_CODEC)
  expect(await ping(stream, { count: 1 })).toHaveLength(1)
  await dialer.stop()
  return { proxy, keylog }
}

describe('early-muxer check on the decrypted wire', () => {
  it('sees yamux frames right after Noise message 3 when both sides offer muxers', async () => {
    const { proxy, keylog } = await pingThroughProxy(true, true)
    expect(proxy.recordings).toHaveLength(1)
    const wire = observeWire(proxy.recordings[0] as Parameters<typeof observeWire>[0], keylog)
    expect(wire.mode).toBe('early')
    expect(wire.dialer.kind).toBe('yamux')
    expect(wire.listener.kind).toBe('yamux')
  })

  it('sees the multistream round for /yamux/1.0.0 when the listener offers none (rust-libp2p\'s case)', async () => {
    const { proxy, keylog } = await pingThroughProxy(true, false)
    const wire = observeWire(proxy.recordings[0] as Parameters<typeof observeWire>[0], keylog)
    expect(wire.mode).toBe('multistream')
    expect(wire.dialer).toEqual({ kind: 'multistream', messages: ['/multistream/1.0.0', '/yamux/1.0.0'] })
    expect(wire.listener).toEqual({ kind: 'multistream', messages: ['/multistream/1.0.0', '/yamux/1.0.0'] })
  })

  it('refuses a key log of another connection', async () => {
    const first = await pingThroughProxy(true, true)
    const second = await pingThroughProxy(true, true)
    expect(() => observeWire(first.proxy.recordings[0] as Parameters<typeof observeWire>[0], second.keylog))
      .toThrow(/no key log line has the handshake hash/)
  })
})

describe('transcript parsing', () => {
  it('splits multistream messages from the Noise messages that follow', () => {
    const mss = Buffer.from('132f6d756c746973747265616d2f312e302e300a' + '072f6e6f6973650a', 'hex')
    const side = splitSide(Buffer.concat([mss, Buffer.from([0, 3, 1, 2, 3, 0, 1, 9])]))
    expect(side.multistream).toEqual(['/multistream/1.0.0', '/noise'])
    expect(side.noise.map(m => [...m])).toEqual([[1, 2, 3], [9]])
  })

  it('classifies the first decrypted bytes', () => {
    expect(classifyStart(new Uint8Array([0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]))).toEqual({
      kind: 'yamux',
      frameType: 1,
      flags: 1,
      streamId: 1
    })
    expect(classifyStart(new Uint8Array(0))).toEqual({ kind: 'nothing' })
    expect(classifyStart(new Uint8Array([7, 7, 7])).kind).toBe('other')
  })
})
