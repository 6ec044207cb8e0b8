/**
 * switchyard's TLS 1.3 against node:tls (OpenSSL) as the reference peer, over real sockets: both
 * roles, libp2p certificates both ways, ALPN (early muxer and `libp2p`), every suite, HRR, KeyUpdate,
 * alerts in both directions, close_notify.
 */
import crypto from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import type { ByteConnection, SecuredConnection } from '../../../src/connection.js'
import { TlsError } from '../../../src/errors.js'
import type { TraceEvent } from '../../../src/trace/observer.js'
import { generateEd25519, generateSecp256k1 } from '../../../src/security/keys.js'
import type { PrivateKey } from '../../../src/security/keys.js'
import { PeerId } from '../../../src/security/peer-id.js'
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../../src/security/tls/certificate.js'
import { tlsSecurity, TlsConnection } from '../../../src/security/tls/connection.js'
import { AlertDescription, CipherSuite } from '../../../src/security/tls/constants.js'
import { dial, listen } from '../../../src/transport/tcp.js'
import type { TcpConnection } from '../../../src/transport/tcp.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

function nodeCredential (identity: PrivateKey): { key: string, cert: string } {
  const cred = generateLibp2pCredential(identity)
  return {
    key: cred.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: new crypto.X509Certificate(cred.chain[0] as Uint8Array).toString()
  }
}

/** The libp2p peer a node:tls socket's peer certificate authenticates. */
function nodePeer (socket: tls.TLSSocket): string {
  const raw = socket.getPeerCertificate().raw
  return verifyLibp2pCertificate([new Uint8Array(raw)]).info.peerId.toString()
}

function collect (
  conn: ByteConnection
): {
  data: () => Buffer,
  ended: Promise<void>,
  closed: Promise<Error | undefined>,
  waitFor: (n: number) => Promise<Buffer>
} {
  const chunks: Uint8Array[] = []
  let total = 0
  const waiters: Array<{ n: number, resolve: (b: Buffer) => void }> = []
  let endResolve: () => void = () => {}
  let closeResolve: (e: Error | undefined) => void = () => {}
  const ended = new Promise<void>(resolve => { endResolve = resolve })
  const closed = new Promise<Error | undefined>(resolve => { closeResolve = resolve })
  conn.attach({
    onData: c => {
      chunks.push(Uint8Array.from(c)); total += c.length
      for (const w of waiters.splice(0)) { if (total >= w.n) w.resolve(Buffer.concat(chunks)); else waiters.push(w) }
    },
    onEnd: () => endResolve(),
    onClose: err => closeResolve(err)
  })
  return {
    data: () => Buffer.concat(chunks),
    ended,
    closed,
    waitFor: async n =>
      total >= n ? Buffer.concat(chunks) : await new Promise<Buffer>(resolve => waiters.push({ n, resolve }))
  }
}

async function nodeServer (
  opts: tls.TlsOptions
): Promise<{ port: number, next: () => Promise<tls.TLSSocket>, nextError: () => Promise<Error> }> {
  const queue: tls.TLSSocket[] = []
  const waiters: Array<(s: tls.TLSSocket) => void> = []
  const errors: Error[] = []
  const server = tls.createServer(
    { minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false, ...opts },
    s => {
      const w = waiters.shift()
      if (w !== undefined) w(s)
      else queue.push(s)
    }
  )
  const errorWaiters: Array<(e: Error) => void> = []
  server.on('tlsClientError', err => {
    const w = errorWaiters.shift()
    if (w !== undefined) w(err)
    else errors.push(err)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => await new Promise(resolve => server.close(resolve)))
  return {
    port: (server.address() as net.AddressInfo).port,
    next: async () => queue.shift() ?? await new Promise<tls.TLSSocket>(resolve => waiters.push(resolve)),
    nextError: async () => errors.shift() ?? await new Promise<Error>(resolve => errorWaiters.push(resolve))
  }
}

async function ourDial (
  port: number,
  identity: PrivateKey,
  extra: Partial<Parameters<ReturnType<typeof tlsSecurity>['secureOutbound']>[1]> = {},
  security = tlsSecurity()
): Promise<SecuredConnection> {
  const conn = await dial(`/ip4/127.0.0.1/tcp/${port}`)
  cleanups.push(() => conn.abort())
  return await security.secureOutbound(conn, { identity, muxers: ['/yamux/1.0.0'], handshakeTimeoutMs: 5000, ...extra })
}

async function ourListener (): Promise<{ port: number, next: () => Promise<TcpConnection> }> {
  const queue: TcpConnection[] = []
  const waiters: Array<(c: TcpConnection) => void> = []
  const l = await listen('/ip4/127.0.0.1/tcp/0', {
    onConnection: c => {
      cleanups.push(() => c.abort())
      const w = waiters.shift()
      if (w !== undefined) w(c)
      else queue.push(c)
    }
  })
  cleanups.push(async () => await l.close())
  const port = Number(l.multiaddrs[0]!.toString().split('/')[4])
  return { port, next: async () => queue.shift() ?? await new Promise<TcpConnection>(resolve => waiters.push(resolve)) }
}

function nodeRead (s: tls.TLSSocket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer): void => {
      chunks.push(c)
      total += c.length
      if (total >= n) {
        s.off('data', onData)
        resolve(Buffer.concat(chunks))
      }
    }
    s.on('data', onData)
    s.once('error', reject)
  })
}

describe('switchyard client → node:tls server', () => {
  it('authenticates both ways, agrees on the early muxer, carries data both ways', async () => {
    const serverId = generateEd25519()
    const clientId = generateSecp256k1()
    const srv = await nodeServer({
      ...nodeCredential(serverId),
      ALPNProtocols: ['/mplex/6.7.0', '/yamux/1.0.0', 'libp2p']
    })
    const secured = await ourDial(srv.port, clientId, { expectedPeer: PeerId.fromPublicKey(serverId.publicKey) })
    expect(secured.remotePeer.toString()).toBe(PeerId.fromPublicKey(serverId.publicKey).toString())
    expect(secured.earlyMuxer).toBe('/yamux/1.0.0')
    const s = await srv.next()
    expect(nodePeer(s)).toBe(PeerId.fromPublicKey(clientId.publicKey).toString())
    expect(s.alpnProtocol).toBe('/yamux/1.0.0')
    const got = collect(secured.connection)
    const payload = crypto.randomBytes(200_000)
    const atServer = nodeRead(s, payload.length)
    secured.connection.write([payload])
    const echoed = await atServer
    expect(echoed.equals(payload)).toBe(true)
    s.write(echoed)
    expect((await got.waitFor(payload.length)).equals(payload)).toBe(true)
  })

  it('shows one certificate per identity on every connection; another identity, another certificate', async () => {
    const srv = await nodeServer(nodeCredential(generateEd25519()))
    const security = tlsSecurity()
    const [alice, bob] = [generateEd25519(), generateEd25519()]
    const shown = async (identity: PrivateKey): Promise<Buffer> => {
      await ourDial(srv.port, identity, {}, security)
      const s = await srv.next()
      expect(nodePeer(s)).toBe(PeerId.fromPublicKey(identity.publicKey).toString())
      return s.getPeerCertificate().raw
    }
    const first = await shown(alice)
    expect((await shown(alice)).equals(first)).toBe(true)
    const other = await shown(bob)
    expect(other.equals(first)).toBe(false)
    expect((await shown(bob)).equals(other)).toBe(true)
  })

  for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
    it(`negotiates ${suite}`, async () => {
      const srv = await nodeServer({ ...nodeCredential(generateEd25519()), ciphers: suite })
      const secured = await ourDial(srv.port, generateEd25519())
      const s = await srv.next()
      expect(s.getCipher().standardName).toBe(suite)
      const got = collect(secured.connection)
      s.write('hello')
      expect((await got.waitFor(5)).toString()).toBe('hello')
    })
  }

  it('answers a HelloRetryRequest when the server wants P-256', async () => {
    const srv = await nodeServer({ ...nodeCredential(generateEd25519()), ecdhCurve: 'P-256' })
    const events: TraceEvent[] = []
    const secured = await ourDial(srv.port, generateEd25519(), { observer: { event: e => events.push(e) } })
    const s = await srv.next()
    const got = collect(secured.connection)
    s.write('after hrr')
    expect((await got.waitFor(9)).toString()).toBe('after hrr')
    expect(events.find(e => e.layer === 'tls' && e.kind === 'complete')).toMatchObject({
      helloRetry: true,
      group: 'secp256r1'
    })
    expect(
      events.filter(e => e.layer === 'tls' && e.kind === 'handshake').map(e =>
        e.kind === 'handshake' ? `${e.dir} ${e.message}` : ''
      ).filter(m => m !== 'in NewSessionTicket')
    )
      .toEqual([
        'out ClientHello',
        'in HelloRetryRequest',
        'out ClientHello',
        'in ServerHello',
        'in EncryptedExtensions',
        'in CertificateRequest',
        'in Certificate',
        'in CertificateVerify',
        'in Finished',
        'out Certificate',
        'out CertificateVerify',
        'out Finished'
      ])
  })

  it('KeyUpdate both ways: we request one, OpenSSL answers, data keeps flowing', async () => {
    const srv = await nodeServer(nodeCredential(generateEd25519()))
    const secured = await ourDial(srv.port, generateEd25519())
    const s = await srv.next()
    const got = collect(secured.connection)
    const conn = secured.connection as TlsConnection
    conn.keyUpdate(true)
    conn.write([Buffer.from('ping-1')])
    expect((await nodeRead(s, 6)).toString()).toBe('ping-1')
    s.write('pong-1') // OpenSSL has sent its KeyUpdate before this
    expect((await got.waitFor(6)).toString()).toBe('pong-1')
    conn.keyUpdate(false)
    conn.write([Buffer.from('ping-2')])
    expect((await nodeRead(s, 6)).toString()).toBe('ping-2')
  })

  it('refuses the wrong peer id before any application data, and node sees our alert', async () => {
    const srv = await nodeServer(nodeCredential(generateEd25519()))
    const other = PeerId.fromPublicKey(generateEd25519().publicKey)
    const err = await ourDial(srv.port, generateEd25519(), { expectedPeer: other }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TlsError)
    expect(err).toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
    // OpenSSL reports our bad_certificate alert as a tlsClientError.
    expect((await srv.nextError()).message).toMatch(/bad certificate/i)
  })

  it('understands the alert of a server that refuses the handshake (no common cipher suite)', async () => {
    const srv = await nodeServer({ ...nodeCredential(generateEd25519()), ciphers: 'TLS_AES_128_GCM_SHA256' })
    const security = tlsSecurity({ handshake: { cipherSuites: [CipherSuite.TLS_CHACHA20_POLY1305_SHA256] } })
    const err = await ourDial(srv.port, generateEd25519(), {}, security).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TlsError)
    expect(err).toMatchObject({
      code: 'ERR_TLS_ALERT_RECEIVED',
      remote: true,
      alert: AlertDescription.handshake_failure
    })
  })

  it('sees close_notify as the end of the stream, and sends its own', async () => {
    const srv = await nodeServer(nodeCredential(generateEd25519()))
    const secured = await ourDial(srv.port, generateEd25519())
    const s = await srv.next()
    const got = collect(secured.connection)
    s.end('bye')
    await got.ended
    expect(got.data().toString()).toBe('bye')
    const nodeEnded = new Promise<void>(resolve => s.once('end', resolve))
    s.resume()
    secured.connection.closeWrite()
    await nodeEnded
  })
})

/** Our server's handshake on `raw`, expected to fail: the error. */
async function ourServerFails (raw: TcpConnection, handshakeTimeoutMs = 5000): Promise<unknown> {
  return await tlsSecurity().secureInbound(raw, { identity: generateEd25519(), muxers: [], handshakeTimeoutMs })
    .then(() => undefined, (e: unknown) => e)
}

describe('node:tls client → switchyard server', () => {
  async function nodeDial (port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    const s = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', rejectUnauthorized: false, ...opts })
    cleanups.push(() => s.destroy())
    return s
  }

  it('accepts a libp2p client offering only `libp2p` (the rust way): no early muxer', async () => {
    const serverId = generateEd25519()
    const clientId = generateEd25519()
    const l = await ourListener()
    const s = await nodeDial(l.port, { ...nodeCredential(clientId), ALPNProtocols: ['libp2p'] })
    const raw = await l.next()
    const secured = await tlsSecurity().secureInbound(raw, {
      identity: serverId,
      muxers: ['/yamux/1.0.0'],
      handshakeTimeoutMs: 5000
    })
    expect(secured.earlyMuxer).toBeUndefined()
    expect(secured.remotePeer.toString()).toBe(PeerId.fromPublicKey(clientId.publicKey).toString())
    await new Promise<void>(resolve => {
      if (s.alpnProtocol !== undefined && s.alpnProtocol !== null) resolve()
      else s.once('secureConnect', () => resolve())
    })
    expect(s.alpnProtocol).toBe('libp2p')
    expect(nodePeer(s)).toBe(PeerId.fromPublicKey(serverId.publicKey).toString())
    const got = collect(secured.connection)
    const payload = crypto.randomBytes(100_000)
    s.write(payload)
    expect((await got.waitFor(payload.length)).equals(payload)).toBe(true)
    const back = nodeRead(s, payload.length)
    secured.connection.write([payload])
    expect((await back).equals(payload)).toBe(true)
  })

  it('shows the same server certificate on every connection', async () => {
    const security = tlsSecurity()
    const serverId = generateEd25519()
    const l = await ourListener()
    const certs: Buffer[] = []
    for (let i = 0; i < 2; i++) {
      const s = await nodeDial(l.port, nodeCredential(generateEd25519()))
      const opts = { identity: serverId, muxers: [], handshakeTimeoutMs: 5000 }
      const secured = security.secureInbound(await l.next(), opts)
      await new Promise<void>(resolve => s.once('secureConnect', () => resolve()))
      await secured
      expect(nodePeer(s)).toBe(PeerId.fromPublicKey(serverId.publicKey).toString())
      certs.push(s.getPeerCertificate().raw)
    }
    expect(certs[1]!.equals(certs[0]!)).toBe(true)
  })

  it('refuses a client without a certificate with certificate_required, which OpenSSL reports', async () => {
    const l = await ourListener()
    const s = await nodeDial(l.port, {})
    const clientError = new Promise<Error>(resolve => s.once('error', resolve))
    const raw = await l.next()
    const err = await ourServerFails(raw)
    expect(err).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_REQUIRED' })
    expect((await clientError).message).toMatch(/certificate required/i)
  })

  it('times out a silent client', async () => {
    const l = await ourListener()
    const sock = net.connect(l.port, '127.0.0.1')
    cleanups.push(() => sock.destroy())
    const raw = await l.next()
    const err = await ourServerFails(raw, 100)
    expect(err).toMatchObject({ code: 'ERR_HANDSHAKE_TIMEOUT' })
  })

  it('refuses garbage with an alert and a TlsError', async () => {
    const l = await ourListener()
    const sock = net.connect(l.port, '127.0.0.1')
    sock.on('error', () => {})
    cleanups.push(() => sock.destroy())
    const reply = new Promise<Buffer>(resolve => sock.once('data', resolve))
    sock.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    const raw = await l.next()
    const err = await ourServerFails(raw)
    expect(err).toBeInstanceOf(TlsError)
    // a plaintext fatal alert record
    expect([...(await reply).subarray(0, 6)]).toEqual([21, 3, 3, 0, 2, 2])
  })
})
