/**
 * ping and identify against js-libp2p 3.x (`@libp2p/ping`, `@libp2p/identify`) over loopback TCP,
 * both directions: a switchyard `newStandardSwitch` (our handlers and clients) and a js-libp2p node
 * with TCP + Noise + yamux.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping as jsPing } from '@libp2p/ping'
import type { Ping as JsPing } from '@libp2p/ping'
import { identify as jsIdentify, identifyPush as jsIdentifyPush } from '@libp2p/identify'
import type { Identify as JsIdentify, IdentifyPush as JsIdentifyPush } from '@libp2p/identify'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { ping } from '../../src/protocols/ping.js'
import { identify } from '../../src/protocols/identify.js'
import { AGENT_VERSION, IDENTIFY_CODEC, PING_CODEC } from '../../src/protocols/constants.js'

type JsNode = Libp2p<{ ping: JsPing, identify: JsIdentify, identifyPush: JsIdentifyPush }>

let js: JsNode
let sw: Switch

beforeEach(async () => {
  js = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: jsPing(), identify: jsIdentify(), identifyPush: jsIdentifyPush() }
  })
  sw = newStandardSwitch({ log: () => {} })
  await sw.start()
})

afterEach(async () => {
  await Promise.all([js.stop(), sw.stop()])
})

const jsAddr = (): string => {
  const a = js.getMultiaddrs()[0]
  if (a === undefined) throw new Error('js-libp2p has no listen address')
  return a.toString() // includes /p2p/<id>
}
const ourAddr = (): string => `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`

/** Poll (5 ms) until `f` yields a value, for at most 5 s. */
async function eventually<T> (what: string, f: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + 5000
  for (;;) {
    const v = await f().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

describe('ping ↔ js-libp2p', () => {
  it('our client pings the js-libp2p listener, 3 round trips on one stream', async () => {
    const stream = await sw.dial(jsAddr(), PING_CODEC)
    const rtts = await ping(stream, { count: 3 })
    expect(rtts).toHaveLength(3)
  })

  it('js-libp2p pings our listener', async () => {
    const rtt = await js.services.ping.ping(multiaddr(ourAddr()))
    expect(rtt).toBeGreaterThanOrEqual(0)
  })
})

describe('identify ↔ js-libp2p', () => {
  it('our client identifies js-libp2p: its key, listen address and protocols', async () => {
    // js-libp2p accepts one inbound identify stream at a time: let the switch's own identify
    // (run on every new connection) finish before asking again with our client.
    await (await sw.dial(jsAddr())).identified()
    const stream = await sw.dial(jsAddr(), IDENTIFY_CODEC)
    const msg = await identify(stream)
    const jsKey = js.peerId.publicKey
    if (jsKey === undefined) throw new Error('js-libp2p peer id without a public key')
    expect(msg.publicKey).toEqual(publicKeyToProtobuf(jsKey))
    expect(msg.protocols).toContain('/ipfs/ping/1.0.0')
    expect(msg.protocols).toContain('/ipfs/id/1.0.0')
    expect(msg.protocolVersion).toBe('ipfs/0.1.0')
    expect(msg.agentVersion).toMatch(/js-libp2p/)
    const listen = js.getMultiaddrs()[0]?.decapsulateCode(421).bytes
    expect(msg.listenAddrs.map(a => Buffer.from(a).toString('hex'))).toContain(
      Buffer.from(listen ?? []).toString('hex')
    )
    expect(msg.observedAddr).toBeDefined()
  })

  it('js-libp2p identifies us (it runs identify on connect and accepts our key, agent and protocols)', async () => {
    await js.dial(multiaddr(ourAddr()))
    const ours = peerIdFromString(sw.peerId.toString())
    const peer = await eventually('js-libp2p to store our identify answer', async () => {
      const p = await js.peerStore.get(ours)
      return p.metadata.get('AgentVersion') !== undefined ? p : undefined
    })
    expect(new TextDecoder().decode(peer.metadata.get('AgentVersion'))).toBe(AGENT_VERSION)
    expect(new TextDecoder().decode(peer.metadata.get('ProtocolVersion'))).toBe('ipfs/0.1.0')
    expect(peer.protocols).toContain(PING_CODEC)
    expect(peer.protocols).toContain(IDENTIFY_CODEC)
    expect(peer.addresses.map(a => a.multiaddr.toString())).toContain(sw.peerInfo.addrs[0]?.toString())
  })

  it('js-libp2p pushes a protocol change to us (identify-push)', async () => {
    const conn = await sw.dial(jsAddr())
    await conn.identified()
    const pushed = new Promise<readonly string[]>((resolve) => {
      sw.on('identify', ({ identity }) => {
        if (identity.protocols.includes('/switchyard/test/1.0.0')) resolve(identity.protocols)
      })
    })
    await js.handle('/switchyard/test/1.0.0', () => {})
    const protocols = await pushed
    expect(protocols).toContain('/ipfs/ping/1.0.0')
  })
})
