/**
 * Interop with js-libp2p's Noise (`@chainsafe/libp2p-noise` 17) over real loopback TCP, driven
 * through the libp2p ConnectionEncrypter API (`noise()(components).secureInbound/secureOutbound`) on
 * MultiaddrConnections from `@libp2p/tcp` (pass-through upgrader): full handshakes in both roles,
 * then encrypted bytes both ways, with the early-muxer extension present and absent, plus the
 * wrong-peer cases.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr as jsMultiaddr } from '@multiformats/multiaddr'
import type {
  ConnectionEncrypter,
  Listener as JsListener,
  MessageStream,
  MultiaddrConnection,
  PrivateKey as JsPrivateKey,
  Upgrader
} from '@libp2p/interface'
import { dial, listen } from '../../src/transport/tcp.js'
import type { TcpConnection } from '../../src/transport/tcp.js'
import {
  generateEd25519,
  PeerId,
  secureInbound,
  secureOutbound,
  unmarshalPrivateKey
} from '../../src/security/index.js'
import type { PrivateKey } from '../../src/security/index.js'
import { Collector } from './helpers.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { while (cleanups.length > 0) await cleanups.pop()!() })

const YAMUX = '/yamux/1.0.0'

/**
 * js-libp2p's Noise with a stub upgrader that lists `muxers` (the early-muxer extension's source).
 * "js announces nothing" is `skipStreamMuxerNegotiation: true` (js then sends an empty list and
 * does not pick); an empty muxer map would make js throw on our list instead.
 */
function jsNoise (key: JsPrivateKey, muxers: string[]): ConnectionEncrypter {
  const map = new Map(muxers.map(m => [m, { protocol: m }]))
  const upgrader = { getStreamMuxers: () => map } as unknown as Upgrader
  return noise()({ peerId: peerIdFromPrivateKey(key), privateKey: key, logger: defaultLogger(), upgrader })
}

function jsTransport (): ReturnType<ReturnType<typeof tcp>> {
  return tcp()({ logger: defaultLogger() } as never)
}

async function jsListen (): Promise<{ addr: string, next: () => Promise<MultiaddrConnection> }> {
  const queue: MultiaddrConnection[] = []
  const waiters: Array<(c: MultiaddrConnection) => void> = []
  const upgrader = {
    upgradeInbound: async (maConn: MultiaddrConnection) => {
      cleanups.push(() => { maConn.abort(new Error('test done')) })
      const w = waiters.shift()
      if (w !== undefined) w(maConn); else queue.push(maConn)
    }
  } as unknown as Upgrader
  const listener: JsListener = jsTransport().createListener({ upgrader } as never)
  await listener.listen(jsMultiaddr('/ip4/127.0.0.1/tcp/0'))
  cleanups.push(async () => { await listener.close() })
  return {
    addr: listener.getAddrs()[0]!.toString(),
    next: async () => queue.shift() ?? await new Promise<MultiaddrConnection>(resolve => waiters.push(resolve))
  }
}

async function jsDial (addr: string): Promise<MultiaddrConnection> {
  const upgrader = { upgradeOutbound: async (maConn: MultiaddrConnection) => maConn } as unknown as Upgrader
  const maConn = await jsTransport().dial(
    jsMultiaddr(addr),
    { upgrader, signal: AbortSignal.timeout(5000) } as never
  ) as unknown as MultiaddrConnection
  cleanups.push(() => {
    maConn.abort(new Error('test done'))
  })
  return maConn
}

async function ourListener (): Promise<{ addr: string, next: () => Promise<TcpConnection> }> {
  const queue: TcpConnection[] = []
  const waiters: Array<(c: TcpConnection) => void> = []
  const l = await listen('/ip4/127.0.0.1/tcp/0', {
    onConnection: c => {
      cleanups.push(() => { c.abort() })
      const w = waiters.shift()
      if (w !== undefined) w(c); else queue.push(c)
    }
  })
  cleanups.push(async () => {
    await l.close()
  })
  return {
    addr: l.multiaddrs[0]!.toString(),
    next: async () => queue.shift() ?? await new Promise<TcpConnection>(resolve => waiters.push(resolve))
  }
}

/** Collect `n` bytes from a js MessageStream. */
async function jsRead (stream: MessageStream, n: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let got = 0
  return await new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`js side read ${got}/${n} bytes`)), 10_000)
    const check = (): void => { if (got >= n) { clearTimeout(timer); resolve(new Uint8Array(Buffer.concat(chunks))) } }
    stream.addEventListener('message', evt => {
      const data = evt.data as Uint8Array | { subarray: () => Uint8Array }
      const bytes = data instanceof Uint8Array ? data : data.subarray()
      chunks.push(Uint8Array.from(bytes))
      got += bytes.length
      check()
    })
  })
}

const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * seed + 3) & 0xff)

/** Each side sends a small and a large (multi-frame) message; both arrive intact. */
async function exchange (
  ours: { write: (c: Uint8Array[]) => boolean, attach: (s: Collector) => void },
  js: MessageStream
): Promise<void> {
  const sink = new Collector()
  ours.attach(sink)
  const toJs = pattern(200_000, 7)
  const toUs = pattern(150_000, 11)
  const jsGot = jsRead(js, 5 + toJs.length)
  ours.write([Buffer.from('hello'), toJs])
  js.send(Buffer.from('howdy'))
  js.send(toUs)
  const got = await jsGot
  expect(Buffer.from(got.subarray(0, 5)).toString()).toBe('hello')
  expect(Buffer.from(got.subarray(5)).equals(Buffer.from(toJs))).toBe(true)
  await sink.until(() => sink.length === 5 + toUs.length, 10_000)
  expect(Buffer.from(sink.bytes.subarray(0, 5)).toString()).toBe('howdy')
  expect(Buffer.from(sink.bytes.subarray(5)).equals(Buffer.from(toUs))).toBe(true)
}

async function jsIdentity (): Promise<{ js: JsPrivateKey, ours: PrivateKey }> {
  const js = await generateKeyPair('Ed25519')
  return { js, ours: unmarshalPrivateKey(privateKeyToProtobuf(js)) }
}

const MUXER_CASES = [
  ['extension present on both sides', [YAMUX], [YAMUX], YAMUX],
  ['we announce nothing', [], [YAMUX], undefined],
  ['js announces nothing', [YAMUX], [], undefined]
] as const

describe('switchyard dialer → js-libp2p Noise responder', () => {
  it.each(MUXER_CASES)('%s', async (_name, ourMuxers, jsMuxers, expected) => {
    const js = await jsIdentity()
    const l = await jsListen()
    const conn = await dial(l.addr)
    cleanups.push(() => { conn.abort() })
    const maConn = await l.next()
    const identity = generateEd25519()
    const [ours, theirs] = await Promise.all([
      secureOutbound(conn, {
        identity,
        muxers: ourMuxers,
        expectedPeer: PeerId.parse(peerIdFromPrivateKey(js.js).toString())
      }),
      jsNoise(js.js, [YAMUX]).secureInbound(maConn, { skipStreamMuxerNegotiation: jsMuxers.length === 0 })
    ])
    expect(ours.remotePeer.toString()).toBe(peerIdFromPrivateKey(js.js).toString())
    expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
    expect(ours.muxer).toBe(expected)
    expect(theirs.streamMuxer?.protocol).toBe(expected)
    await exchange(ours.conn, theirs.connection)
  })

  it('ERR_PEER_ID_MISMATCH against a js responder that is not who we expect', async () => {
    const js = await jsIdentity()
    const l = await jsListen()
    const conn = await dial(l.addr)
    cleanups.push(() => { conn.abort() })
    const maConn = await l.next()
    const [ours, theirs] = await Promise.allSettled([
      secureOutbound(conn, {
        identity: generateEd25519(),
        expectedPeer: PeerId.fromPublicKey(generateEd25519().publicKey)
      }),
      jsNoise(js.js, [YAMUX]).secureInbound(maConn, { signal: AbortSignal.timeout(5000) })
    ])
    expect((ours as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
    expect(theirs.status).toBe('rejected') // message 3 never came
  })
})

describe('js-libp2p Noise initiator → switchyard responder', () => {
  it.each(MUXER_CASES)('%s', async (_name, ourMuxers, jsMuxers, expected) => {
    const js = await jsIdentity()
    const identity = generateEd25519()
    const l = await ourListener()
    const maConn = await jsDial(l.addr)
    const conn = await l.next()
    const [theirs, ours] = await Promise.all([
      jsNoise(js.js, [YAMUX]).secureOutbound(maConn, {
        remotePeer: peerIdFromString(PeerId.fromPublicKey(identity.publicKey).toString()),
        skipStreamMuxerNegotiation: jsMuxers.length === 0
      }),
      secureInbound(conn, { identity, muxers: ourMuxers })
    ])
    expect(ours.remotePeer.toString()).toBe(peerIdFromPrivateKey(js.js).toString())
    expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
    expect(ours.muxer).toBe(expected)
    expect(theirs.streamMuxer?.protocol).toBe(expected)
    await exchange(ours.conn, theirs.connection)
  })

  it('a js initiator expecting another peer aborts; we fail with a NoiseError and accept no byte', async () => {
    const js = await jsIdentity()
    const l = await ourListener()
    const maConn = await jsDial(l.addr)
    const conn = await l.next()
    const wrong = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const [theirs, ours] = await Promise.allSettled([
      // js's upgrader aborts the connection when the encrypter throws; do the same here
      jsNoise(js.js, [YAMUX]).secureOutbound(maConn, { remotePeer: wrong }).catch(err => {
        maConn.abort(err as Error)
        throw err
      }),
      secureInbound(conn, { identity: generateEd25519() })
    ])
    expect(theirs.status).toBe('rejected')
    expect((ours as PromiseRejectedResult).reason).toMatchObject({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
  })

  it('js identity keys of other types: secp256k1 and RSA initiators', async () => {
    for (const type of ['secp256k1', 'RSA'] as const) {
      const key = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type)
      const l = await ourListener()
      const maConn = await jsDial(l.addr)
      const conn = await l.next()
      const [theirs, ours] = await Promise.all([
        jsNoise(key, [YAMUX]).secureOutbound(maConn),
        secureInbound(conn, { identity: generateEd25519() })
      ])
      expect(ours.remotePeer.toString()).toBe(peerIdFromPrivateKey(key).toString())
      expect(ours.muxer).toBe(YAMUX)
      await exchange(ours.conn, theirs.connection)
    }
  })
})
