/**
 * A security protocol against its js-libp2p counterpart over real loopback TCP, driven through the
 * libp2p ConnectionEncrypter API on MultiaddrConnections from `@libp2p/tcp` (pass-through upgrader)
 * and through our SecurityProtocol seam (src/connection.ts) on our TCP connections — one suite, run
 * once per security protocol (interop-js.test.ts: Noise, tls/interop-js.test.ts: TLS):
 *
 *   - handshakes in both roles, then encrypted bytes both ways (a small and a multi-record message),
 *   - the early muxer (Noise extensions, TLS ALPN) offered by both sides, by js only, by us only,
 *   - the wrong-peer cases in both roles,
 *   - js identities with secp256k1 and RSA keys.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
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
import { generateEd25519, PeerId } from '../../src/security/index.js'
import type { PrivateKey } from '../../src/security/index.js'
import type { SecureConnectionOptions, SecuredConnection, SecurityProtocol } from '../../src/connection.js'
import { Collector } from './helpers.js'

export const YAMUX = '/yamux/1.0.0'

/** The js-libp2p encrypter's upgrader stub: it lists `muxers`, the early-muxer offer's source. */
export function muxerUpgrader (muxers: readonly string[]): Upgrader {
  const map = new Map(muxers.map(m => [m, { protocol: m }]))
  return { getStreamMuxers: () => map } as unknown as Upgrader
}

export interface JsSecurityVariant {
  /** Protocol name in test titles (`Noise`, `TLS`). */
  name: string
  /** What the protocol calls the two roles (`initiator`/`responder`, `client`/`server`). */
  roles: { outbound: string, inbound: string }
  /** Our side, through the seam the switch composes. */
  ours: SecurityProtocol
  /** The js-libp2p encrypter for `key`, whose upgrader offers `muxers`. */
  js: (key: JsPrivateKey, muxers: readonly string[]) => ConnectionEncrypter
  /** Titles of the three early-muxer cases: both sides offer, we offer nothing, js offers nothing. */
  muxerCases: readonly [both: string, weOfferNone: string, jsOffersNone: string]
  /**
   * Whether js as the inbound side honours `skipStreamMuxerNegotiation`; where it does not, "js
   * offers nothing" still agrees on the early muxer when js is inbound.
   */
  jsInboundHonoursSkip: boolean
  /**
   * What our inbound side fails with when a js initiator that expects another peer aborts;
   * undefined: our handshake completes (js checks the peer id only after sending its last
   * handshake flight) and then js closes the connection.
   */
  wrongPeerInboundError?: { name: string, code: string }
}

const cleanups: Array<() => Promise<void> | void> = []

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
  cleanups.push(() => { maConn.abort(new Error('test done')) })
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
  cleanups.push(async () => { await l.close() })
  return {
    addr: l.multiaddrs[0]!.toString(),
    next: async () => queue.shift() ?? await new Promise<TcpConnection>(resolve => waiters.push(resolve))
  }
}

/** A TCP connection we dialed to js, and the MultiaddrConnection js accepted for it. */
async function weDialJs (): Promise<{ conn: TcpConnection, maConn: MultiaddrConnection }> {
  const l = await jsListen()
  const conn = await dial(l.addr)
  cleanups.push(() => { conn.abort() })
  return { conn, maConn: await l.next() }
}

/** A MultiaddrConnection js dialed to us, and the TCP connection we accepted for it. */
async function jsDialsUs (): Promise<{ conn: TcpConnection, maConn: MultiaddrConnection }> {
  const l = await ourListener()
  const maConn = await jsDial(l.addr)
  return { conn: await l.next(), maConn }
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

const opts = (identity: PrivateKey, muxers: readonly string[], expectedPeer?: PeerId): SecureConnectionOptions => ({
  identity,
  muxers,
  handshakeTimeoutMs: 5000,
  ...(expectedPeer !== undefined ? { expectedPeer } : {})
})

/** Our PeerId for a js key, and js's for ours. */
const ourIdOf = (key: JsPrivateKey): PeerId => PeerId.parse(peerIdFromPrivateKey(key).toString())
const jsIdOf = (identity: PrivateKey): ReturnType<typeof peerIdFromString> =>
  peerIdFromString(PeerId.fromPublicKey(identity.publicKey).toString())

export function jsSecuritySuite (v: JsSecurityVariant): void {
  afterEach(async () => { while (cleanups.length > 0) await cleanups.pop()!() })

  const [both, weOfferNone, jsOffersNone] = v.muxerCases
  // [title, what we offer, what js offers, the early muxer both sides agree on]
  const muxerCases = (jsInbound: boolean): Array<[string, string[], string[], string | undefined]> => [
    [both, [YAMUX], [YAMUX], YAMUX],
    [weOfferNone, [], [YAMUX], undefined],
    [jsOffersNone, [YAMUX], [], jsInbound && !v.jsInboundHonoursSkip ? YAMUX : undefined]
  ]

  describe(`switchyard ${v.roles.outbound} → js-libp2p ${v.name} ${v.roles.inbound}`, () => {
    it.each(muxerCases(true))('%s', async (_title, ourMuxers, jsMuxers, expected) => {
      const jsKey = await generateKeyPair('Ed25519')
      const { conn, maConn } = await weDialJs()
      const identity = generateEd25519()
      const [us, theirs] = await Promise.all([
        v.ours.secureOutbound(conn, opts(identity, ourMuxers, ourIdOf(jsKey))),
        v.js(jsKey, [YAMUX]).secureInbound(maConn, { skipStreamMuxerNegotiation: jsMuxers.length === 0 })
      ])
      expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(jsKey).toString())
      expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
      expect(us.earlyMuxer).toBe(expected)
      expect(theirs.streamMuxer?.protocol).toBe(expected)
      await exchange(us.connection, theirs.connection)
    })

    it(`ERR_PEER_ID_MISMATCH against a js ${v.roles.inbound} that is not who we expect`, async () => {
      const jsKey = await generateKeyPair('Ed25519')
      const { conn, maConn } = await weDialJs()
      const someoneElse = PeerId.fromPublicKey(generateEd25519().publicKey)
      const [us, theirs] = await Promise.allSettled([
        v.ours.secureOutbound(conn, opts(generateEd25519(), [YAMUX], someoneElse)),
        v.js(jsKey, [YAMUX]).secureInbound(maConn, { signal: AbortSignal.timeout(5000) })
      ])
      expect((us as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
      expect(theirs.status).toBe('rejected') // our last handshake flight never came
    })
  })

  describe(`js-libp2p ${v.name} ${v.roles.outbound} → switchyard ${v.roles.inbound}`, () => {
    it.each(muxerCases(false))('%s', async (_title, ourMuxers, jsMuxers, expected) => {
      const jsKey = await generateKeyPair('Ed25519')
      const identity = generateEd25519()
      const { conn, maConn } = await jsDialsUs()
      const [theirs, us] = await Promise.all([
        v.js(jsKey, [YAMUX]).secureOutbound(maConn, {
          remotePeer: jsIdOf(identity),
          skipStreamMuxerNegotiation: jsMuxers.length === 0
        }),
        v.ours.secureInbound(conn, opts(identity, ourMuxers))
      ])
      expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(jsKey).toString())
      expect(theirs.remotePeer.toString()).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
      expect(us.earlyMuxer).toBe(expected)
      expect(theirs.streamMuxer?.protocol).toBe(expected)
      await exchange(us.connection, theirs.connection)
    })

    const weSee = v.wrongPeerInboundError === undefined
      ? 'our handshake completes, then the connection closes'
      : `we fail with ${v.wrongPeerInboundError.name} ${v.wrongPeerInboundError.code}`
    it(`a js ${v.roles.outbound} expecting another peer aborts; ${weSee}`, async () => {
      const jsKey = await generateKeyPair('Ed25519')
      const { conn, maConn } = await jsDialsUs()
      const wrong = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const [theirs, us] = await Promise.allSettled([
        // js's upgrader aborts the connection when the encrypter throws; do the same here
        v.js(jsKey, [YAMUX]).secureOutbound(maConn, { remotePeer: wrong }).catch(err => {
          maConn.abort(err as Error)
          throw err
        }),
        v.ours.secureInbound(conn, opts(generateEd25519(), [YAMUX]))
      ])
      expect(theirs.status).toBe('rejected')
      if (v.wrongPeerInboundError !== undefined) {
        expect((us as PromiseRejectedResult).reason).toMatchObject(v.wrongPeerInboundError)
        return
      }
      const sink = new Collector()
      ;(us as PromiseFulfilledResult<SecuredConnection>).value.connection.attach(sink)
      await sink.until(() => sink.closed || sink.ended)
      expect(sink.length).toBe(0)
    })

    it(`js identity keys of other types: secp256k1 and RSA ${v.roles.outbound}s`, async () => {
      for (const type of ['secp256k1', 'RSA'] as const) {
        const jsKey = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type)
        const identity = generateEd25519()
        const { conn, maConn } = await jsDialsUs()
        const [theirs, us] = await Promise.all([
          v.js(jsKey, [YAMUX]).secureOutbound(maConn, { remotePeer: jsIdOf(identity) }),
          v.ours.secureInbound(conn, opts(identity, [YAMUX]))
        ])
        expect(us.remotePeer.toString()).toBe(peerIdFromPrivateKey(jsKey).toString())
        expect(us.earlyMuxer).toBe(YAMUX)
        expect(theirs.streamMuxer?.protocol).toBe(YAMUX)
        await exchange(us.connection, theirs.connection)
      }
    })
  })
}
