/**
 * Interop with js-libp2p's TLS (`@libp2p/tls`, which wraps node:tls) over real loopback TCP,
 * driven through the libp2p ConnectionEncrypter API on MultiaddrConnections from `@libp2p/tcp`
 * (pass-through upgrader): handshakes in both roles, encrypted bytes both ways, early muxer
 * negotiation via ALPN present and absent (`libp2p`), and the wrong-peer cases.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { tls } from '@libp2p/tls'
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
import { dial, listen } from '../../../src/transport/tcp.js'
import type { TcpConnection } from '../../../src/transport/tcp.js'
import { generateEd25519, PeerId, unmarshalPrivateKey } from '../../../src/security/index.js'
import type { PrivateKey } from '../../../src/security/index.js'
import { tlsSecurity } from '../../../src/security/tls/connection.js'
import { Collector } from '../helpers.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { while (cleanups.length > 0) await cleanups.pop()!() })

const YAMUX = '/yamux/1.0.0'

/**
 * js-libp2p's TLS with a stub upgrader that lists `muxers` (its ALPN source; it always adds
 * `libp2p` last). "js offers no muxer" is `skipStreamMuxerNegotiation: true`.
 */
function jsTls (key: JsPrivateKey, muxers: string[]): ConnectionEncrypter {
  const map = new Map(muxers.map(m => [m, { protocol: m }]))
  const upgrader = { getStreamMuxers: () => map } as unknown as Upgrader
  return tls()({ privateKey: key, logger: defaultLogger(), upgrader } as never)
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
  ['ALPN on both sides: early muxer', [YAMUX], [YAMUX], YAMUX],
  ['we offer only libp2p', [], [YAMUX], undefined],
  ['js offers only libp2p', [YAMUX], [], undefined]
] as const

/**
 * As a server, @libp2p/tls 3.1 answers ALPN from its upgrader's muxers even with
 * skipStreamMuxerNegotiation (its ALPNCallback ignores the option), and picks in the *client's*
 * order; so against a js server "js offers only libp2p" still yields the early muxer.
 */
const JS_SERVER_CASES = MUXER_CASES.map(([name, o, j, e]) =>
  [name, o, j, name === 'js offers only libp2p' ? YAMUX : e] as const
)

const ours = tlsSecurity()
const opts = (
  identity: PrivateKey,
  muxers: readonly string[],
  expectedPeer?: PeerId
): Parameters<typeof ours.secureOutbound>[1] => ({
  identity,
  muxers,
  handshakeTimeoutMs: 5000,
  ...(expectedPeer !== undefined ? { expectedPeer } : {})
})

describe('switchyard client → js-libp2p TLS server', () => {
  it.each(JS_SERVER_CASES)('%s', async (_name, ourMuxers, jsMuxers, expected) => {
    const js = await jsIdentity()
    const l = await jsListen()
    const conn = await dial(l.addr)
    cleanups.push(() => { conn.abort() })
    const maConn = await l.next()
    const identity = generateEd25519()
    const [us, theirs] = await Promise.all([
      ours.secureOutbound(conn, opts(identity, ourMuxers, PeerId.parse(peerIdFromPrivateKey(js.js).toString()))),
      jsTls(js.js, [YAMUX]).secureInbound(maConn, { skipStreamMuxerNegotiation: jsMuxers.length === 0 })
    ])
    expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(js.js).toString())
    expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
    expect(us.earlyMuxer).toBe(expected)
    await exchange(us.connection, theirs.connection)
  })

  it('ERR_PEER_ID_MISMATCH against a js server that is not who we expect', async () => {
    const js = await jsIdentity()
    const l = await jsListen()
    const conn = await dial(l.addr)
    cleanups.push(() => { conn.abort() })
    const maConn = await l.next()
    const [us, theirs] = await Promise.allSettled([
      ours.secureOutbound(conn, opts(generateEd25519(), [YAMUX], PeerId.fromPublicKey(generateEd25519().publicKey))),
      jsTls(js.js, [YAMUX]).secureInbound(maConn, { signal: AbortSignal.timeout(5000) })
    ])
    expect((us as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
    expect(theirs.status).toBe('rejected')
  })
})

describe('js-libp2p TLS client → switchyard server', () => {
  it.each(MUXER_CASES)('%s', async (_name, ourMuxers, jsMuxers, expected) => {
    const js = await jsIdentity()
    const identity = generateEd25519()
    const l = await ourListener()
    const maConn = await jsDial(l.addr)
    const conn = await l.next()
    const [theirs, us] = await Promise.all([
      jsTls(js.js, [YAMUX]).secureOutbound(maConn, {
        remotePeer: peerIdFromString(PeerId.fromPublicKey(identity.publicKey).toString()),
        skipStreamMuxerNegotiation: jsMuxers.length === 0
      }),
      ours.secureInbound(conn, opts(identity, ourMuxers))
    ])
    expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(js.js).toString())
    expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
    expect(us.earlyMuxer).toBe(expected)
    expect(theirs.streamMuxer?.protocol).toBe(expected)
    await exchange(us.connection, theirs.connection)
  })

  it('js identity keys of other types: secp256k1 and RSA clients', async () => {
    for (const type of ['secp256k1', 'RSA'] as const) {
      const key = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type as 'secp256k1')
      const identity = generateEd25519()
      const l = await ourListener()
      const maConn = await jsDial(l.addr)
      const conn = await l.next()
      const [theirs, us] = await Promise.all([
        jsTls(key, [YAMUX]).secureOutbound(maConn, {
          remotePeer: peerIdFromString(PeerId.fromPublicKey(identity.publicKey).toString())
        }),
        ours.secureInbound(conn, opts(identity, [YAMUX]))
      ])
      expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(key).toString())
      expect(theirs.streamMuxer?.protocol).toBe(YAMUX)
    }
  })
})
