/**
 * Every failure a foreign peer can cause, reproduced over real sockets with scripted peers that
 * behave as go-libp2p, rust-libp2p and js-libp2p do, or with switchyard peers made to misbehave
 * (test/helpers/misbehaving-peer.ts), and the one line switchyard reports for it: what happened, at
 * which layer. Each peer script names the implementation whose behaviour it copies.
 */
import crypto from 'node:crypto'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { LPProtocol, newStandardSwitch, PeerId } from '../../src/index.js'
import type { Switch, SwitchEvents, SwitchStream } from '../../src/index.js'
import { handleOnConnection } from '../../src/multistream/index.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { Flag, FrameType } from '../../src/muxer/constants.js'
import { MessageFlag } from '../../src/muxer/mplex/constants.js'
import { decodeFrame, encodeFrame } from '../../src/muxer/mplex/frame.js'
import { PROTOCOL_NAME } from '../../src/security/constants.js'
import { HandshakeState } from '../../src/security/handshake-state.js'
import { frameMessage } from '../../src/security/handshake-xx.js'
import { createHandshakePayload } from '../../src/security/identity.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { PrivateKey } from '../../src/security/keys.js'
import { nodeSuite } from '../../src/security/suite.js'
import { tlsSecurity } from '../../src/security/tls/connection.js'
import { LIBP2P_EXTENSION_OID, LIBP2P_SIGNATURE_PREFIX } from '../../src/security/tls/constants.js'
import { der } from '../../src/security/tls/der.js'
import type { TlsCredential } from '../../src/security/tls/handshake.js'
import { buildSelfSignedCertificate } from '../../src/security/tls/x509.js'
import { dial as tcpDial, listen as tcpListen } from '../../src/transport/tcp.js'
import { Fleet } from './helpers.js'
import { misbehavingListener, yamuxFrame, yamuxFrames } from '../helpers/misbehaving-peer.js'
import type { RawUpgraded } from '../helpers/misbehaving-peer.js'

const HEADER = encodeMessage('/multistream/1.0.0')
const NA = encodeMessage('na')
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const PEER = PeerId.fromPublicKey(generateEd25519().publicKey).toString()

const cleanups: Array<() => Promise<void> | void> = []
const fleet = new Fleet()
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  await fleet.stopAll()
})

async function started (sw: Switch): Promise<Switch> {
  await sw.start()
  cleanups.push(async () => { await sw.stop() })
  return sw
}

/** A raw TCP listener running `script` on each connection; resolves with its port. */
async function scriptedListener (script: (socket: Socket) => void): Promise<number> {
  const server: Server = createServer(socket => { socket.on('error', () => {}); script(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => { await new Promise<void>(resolve => server.close(() => { resolve() })) })
  return (server.address() as AddressInfo).port
}

/** The next `connection:error` the switch reports. */
async function nextConnectionError (sw: Switch): Promise<SwitchEvents['connection:error']> {
  return await new Promise(resolve => { sw.on('connection:error', e => { resolve(e) }) })
}

/** Connect to our switch as a foreign dialer; `script` drives the socket. */
async function foreignDial (sw: Switch, script: (socket: Socket) => void): Promise<void> {
  const addr = sw.peerInfo.addrs[0]?.toString() ?? ''
  const port = Number(addr.split('/tcp/')[1])
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  cleanups.push(() => { socket.destroy() })
  await new Promise<void>(resolve => socket.once('connect', () => { resolve() }))
  script(socket)
}

describe('multistream: refusals win over the reset that follows them', () => {
  it('dialing a peer that offers only /tls/1.0.0 (go-libp2p: na, then a RST-close): "peer refused /noise (multistream: na)"', async () => {
    // go-multistream answers na to /noise, then reads our Noise bytes as its next proposal, fails
    // on them and closes the connection with them unread: the kernel sends RST.
    const port = await scriptedListener(socket => {
      let answered = false
      socket.on('data', () => {
        if (!answered) { answered = true; socket.write(cat(HEADER, NA)) }
      })
      socket.once('data', () => { setImmediate(() => { socket.resetAndDestroy() }) })
    })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & {
      code: string
    }
    expect(err.message).toMatch(/peer refused \/noise \(multistream: na\)/)
    expect(err.code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
  })

  it('a go-libp2p dialer offering only /tls/1.0.0 that resets after our na: "peer proposed /tls/1.0.0, which we do not support"', async () => {
    const sw = await started(newStandardSwitch({ log: () => {} }))
    const failed = nextConnectionError(sw)
    await foreignDial(sw, socket => {
      socket.write(cat(HEADER, encodeMessage('/tls/1.0.0')))
      socket.on('data', (b: Buffer) => { if (b.includes(Buffer.from('na\n'))) socket.resetAndDestroy() })
    })
    const { error, stage } = await failed
    expect(stage).toBe('multistream')
    expect(error.message).toMatch(
      /^peer proposed \/tls\/1\.0\.0, which we do not support \(multistream: na\), then reset the connection/
    )
    expect((error as Error & { code: string }).code).toBe('ERR_PROTOCOL_NOT_SUPPORTED')
  })

  it('a rust-libp2p dialer proposing /tls/1.0.0 lazily, ClientHello in the same flight: the refusal is the cause', async () => {
    const sw = await started(newStandardSwitch({ log: () => {} }))
    const failed = nextConnectionError(sw)
    // A ClientHello record: 0x16 (handshake) reads as a 22-byte multistream message without its newline.
    const clientHello = new Uint8Array(205)
    clientHello.set([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])
    await foreignDial(sw, socket => { socket.write(cat(HEADER, encodeMessage('/tls/1.0.0'), clientHello)) })
    const { error } = await failed
    expect(error.message).toMatch(
      /^peer proposed \/tls\/1\.0\.0, which we do not support \(multistream: na\); what followed was not multistream/
    )
  })

  it('a listener that RST-closes before answering: "peer reset the connection before sending the multistream header"', async () => {
    const port = await scriptedListener(socket => { socket.once('data', () => { socket.resetAndDestroy() }) })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & {
      code: string
    }
    expect(err.message).toMatch(
      /peer reset the connection before sending the multistream header \(we proposed \/noise\)/
    )
    expect(err.code).toBe('ERR_CONNECTION_RESET')
  })

  it('a listener that answers the header, then RST-closes: "peer reset the connection before answering our proposal of /noise"', async () => {
    const port = await scriptedListener(socket => {
      socket.once('data', () => {
        socket.write(HEADER, () => {
          setTimeout(() => {
            socket.resetAndDestroy()
          }, 20)
        })
      })
    })
    const sw = await started(newStandardSwitch({ listenAddrs: [], log: () => {} }))
    const err = await sw.dial(PeerId.parse(PEER), [`/ip4/127.0.0.1/tcp/${port}`]).catch((e: unknown) => e) as Error & {
      code: string
    }
    expect(err.message).toMatch(/peer reset the connection before answering our proposal of \/noise \(multistream\)/)
  })
})

type Coded = Error & { code: string }
const failure = async (p: Promise<unknown>): Promise<Coded> =>
  await p.then(() => {
    throw new Error('expected a failure')
  }, (e: unknown) => e as Coded)
const someone = (): PeerId => PeerId.fromPublicKey(generateEd25519().publicKey)

describe('security: the peer is not who it claims, or cannot prove it', () => {
  for (const security of ['noise', 'tls'] as const) {
    it(`wrong peer id over ${security}: "${security}: dialed A, but … B (wrong peer id)"`, async () => {
      const b = await fleet.bare({ security: [security] })
      const a = await fleet.bare({ security: [security], listenAddrs: [] })
      const expected = someone()
      const err = await failure(a.dial(expected, b.peerInfo.addrs))
      const what = security === 'noise' ? 'the peer authenticated as' : 'the certificate authenticates'
      expect(err.message).toBe(
        `${security}: dialed ${expected.toString()}, but ${what} ${b.peerId.toString()} (wrong peer id)`
      )
      expect(err.code).toBe('ERR_PEER_ID_MISMATCH')
      expect(a.connections()).toEqual([])
    })
  }

  it('a bad signature in the Noise handshake payload (a peer signing another static key than the one it uses)', async () => {
    // A switchyard responder made to misbehave: its payload signs a static key it does not hold.
    const identity = generateEd25519()
    const listener = await tcpListen('/ip4/127.0.0.1/tcp/0', {
      onConnection: tcp => {
        void (async () => {
          const ms = await handleOnConnection(tcp, ['/noise'])
          let buf = Buffer.concat(ms.leftover)
          const message1 = await new Promise<Uint8Array>(resolve => {
            const check = (): void => {
              if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
                resolve(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0))))
              }
            }
            tcp.attach({
              onData: c => {
                buf = Buffer.concat([buf, c])
                check()
              },
              onEnd: () => {},
              onClose: () => {}
            })
            check()
          })
          const hs = new HandshakeState({
            suite: nodeSuite,
            protocolName: PROTOCOL_NAME,
            initiator: false,
            prologue: new Uint8Array(0),
            s: nodeSuite.generateKeyPair()
          })
          hs.readMessage(message1)
          const otherStatic = nodeSuite.generateKeyPair().publicKey
          tcp.write([frameMessage(hs.writeMessage(createHandshakePayload(identity, otherStatic)))])
        })().catch(() => { tcp.abort() })
      }
    })
    cleanups.push(async () => { await listener.close({ closeConnections: true }) })
    const a = await fleet.bare({ listenAddrs: [] })
    const err = await failure(a.dial(PeerId.fromPublicKey(identity.publicKey), listener.multiaddrs))
    expect(err.message).toMatch(
      /^noise: bad signature in the peer's handshake payload: "identity_sig" is not a valid signature by the Ed25519 public key/
    )
    expect(err.code).toBe('ERR_INVALID_SIGNATURE')
  })

  /** A libp2p certificate whose extension signs another SubjectPublicKeyInfo than the certificate's. */
  function badSignatureCredential (identity: PrivateKey, now: number): TlsCredential {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const spki = new Uint8Array(crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'der' }))
    const otherSpki = spki.map((b, i) => i === spki.length - 1 ? b ^ 1 : b)
    const signature = identity.sign(new Uint8Array(Buffer.concat([Buffer.from(LIBP2P_SIGNATURE_PREFIX), otherSpki])))
    const value = der.sequence(der.octetString(identity.publicKey.bytes()), der.octetString(signature))
    const cert = buildSelfSignedCertificate({
      privateKey,
      serialNumber: new Uint8Array([1]),
      notBefore: now - 3_600_000,
      notAfter: now + 3_600_000,
      extensions: [{ oid: LIBP2P_EXTENSION_OID, critical: true, value }]
    })
    return { chain: [cert], privateKey }
  }

  it('a bad signature in the TLS certificate extension, from a listener: the dial fails naming it', async () => {
    const bad = await fleet.bare({ security: [tlsSecurity({ credential: badSignatureCredential })] })
    const a = await fleet.bare({ security: ['tls'], listenAddrs: [] })
    const err = await failure(a.dial(bad.peerId, bad.peerInfo.addrs))
    expect(err.message).toBe(
      'tls: bad signature in the libp2p certificate extension: the Ed25519 host key signature over "libp2p-tls-handshake:" ‖ SubjectPublicKeyInfo does not verify'
    )
    expect(err.code).toBe('ERR_TLS_BAD_CERTIFICATE')
  })

  it('a bad signature in the TLS certificate extension, from a dialer: the listener refuses it, the dialer hears bad_certificate', async () => {
    // TLS 1.3 (RFC 8446 §4.4.2): the server checks the client's certificate after the client has
    // finished, so the dialer's connection exists until our alert arrives.
    const b = await fleet.bare({ security: ['tls'] })
    const bad = await fleet.bare({ security: [tlsSecurity({ credential: badSignatureCredential })], listenAddrs: [] })
    const refused = b.next('connection:error')
    const closed = bad.next('connection:close')
    await bad.dial(b.peerId, b.peerInfo.addrs).catch(() => {})
    const { error, stage } = await refused
    expect(stage).toBe('security')
    expect(error.message).toMatch(/^tls: bad signature in the libp2p certificate extension/)
    const ended = await closed
    expect(ended.error?.message).toMatch(/tls: the peer sent the fatal alert bad_certificate \(42\)/)
  })
})

describe('handshake timeout: the peer stalls', () => {
  for (const [name, protocol] of [['noise', '/noise'], ['tls', '/tls/1.0.0']] as const) {
    it(`${name}: a listener that agrees to ${protocol}, then sends nothing`, async () => {
      const listener = await tcpListen('/ip4/127.0.0.1/tcp/0', {
        onConnection: tcp => {
          void handleOnConnection(tcp, [protocol]).catch(() => {})
        }
      })
      cleanups.push(async () => {
        await listener.close({ closeConnections: true })
      })
      const a = await fleet.bare({ security: [name], listenAddrs: [], config: { handshakeTimeoutMs: 300 } })
      const err = await failure(a.dial(someone(), listener.multiaddrs))
      expect(err.code).toBe('ERR_HANDSHAKE_TIMEOUT')
      expect(err.message).toMatch(
        new RegExp(
          `^${protocol}: handshake with /ip4/127\\.0\\.0\\.1/tcp/\\d+ timed out after 300 ms \\(stage "security"\\): the peer stalled$`
        )
      )
    })

    it(`${name}: a dialer that proposes ${protocol}, then sends nothing`, async () => {
      const b = await fleet.bare({ security: [name], config: { handshakeTimeoutMs: 300 } })
      const failed = b.next('connection:error')
      const tcp = await tcpDial(b.peerInfo.addrs[0] ?? '')
      cleanups.push(() => { tcp.abort() })
      tcp.attach({ onData: () => {}, onEnd: () => {}, onClose: () => {} })
      tcp.write([encodeMessage('/multistream/1.0.0'), encodeMessage(protocol)])
      const { error, stage } = await failed
      expect(stage).toBe('security')
      expect((error as Coded).code).toBe('ERR_HANDSHAKE_TIMEOUT')
      expect(error.message).toMatch(
        new RegExp(
          `^${protocol}: handshake with /ip4/127\\.0\\.0\\.1/tcp/\\d+ timed out after 300 ms \\(stage "security"\\): the peer stalled$`
        )
      )
    })
  }
})

describe('muxers: what the peer does to streams and sessions', () => {
  const echoEnd = new LPProtocol({
    codecs: ['/drop/1.0.0'],
    handler: async (stream) => {
      await stream.read()
      stream.reset()
    }
  })

  for (const muxer of ['yamux', 'mplex'] as const) {
    it(`${muxer}: the peer resets a stream in the middle of a transfer`, async () => {
      const b = await fleet.bare({ muxers: [muxer], protocols: [echoEnd] })
      const a = await fleet.bare({ muxers: [muxer], listenAddrs: [] })
      const stream = await a.dial(b.peerId, b.peerInfo.addrs, '/drop/1.0.0')
      await stream.write(new Uint8Array(1000))
      const err = await failure(stream.read())
      expect(err.code).toBe('ERR_STREAM_RESET')
      expect(err.message).toBe(
        muxer === 'yamux' ? 'yamux: the peer reset stream 1 (RST)' : 'mplex: the peer reset stream 0'
      )
      await expect(stream.write(new Uint8Array(10))).rejects.toThrow(err.message)
      expect(a.connections()[0]?.status).toBe('open') // only that stream
    })
  }

  /** A yamux stream opened by `a` toward the misbehaving peer, answered and ready. */
  async function yamuxStream (): Promise<{ a: Switch, raw: RawUpgraded, stream: SwitchStream }> {
    const peer = await misbehavingListener('/yamux/1.0.0')
    cleanups.push(peer.close)
    const a = await fleet.bare({ muxers: ['yamux'], listenAddrs: [] })
    const opening = a.dial(peer.peerId, [peer.addr], '/x/1.0.0')
    const raw = await peer.next()
    await raw.until(b => yamuxFrames(b).some(f => (f.header.flags & Flag.SYN) !== 0))
    const answer = new Uint8Array(
      Buffer.concat([encodeMessage('/multistream/1.0.0'), encodeMessage('/x/1.0.0'), Buffer.from('first')])
    )
    raw.conn.write([yamuxFrame(FrameType.WindowUpdate, Flag.ACK, 1, 0), yamuxFrame(FrameType.Data, 0, 1, answer)])
    const stream = await opening
    expect(new TextDecoder().decode(await stream.read())).toBe('first')
    return { a, raw, stream }
  }

  it('yamux GoAway(normal): open streams go on, a new one is refused naming it', async () => {
    const { a, raw, stream } = await yamuxStream()
    raw.conn.write([
      yamuxFrame(FrameType.GoAway, 0, 0, 0),
      yamuxFrame(FrameType.Data, 0, 1, new TextEncoder().encode('second'))
    ])
    expect(new TextDecoder().decode(await stream.read())).toBe('second')
    const conn = a.connections()[0]
    if (conn === undefined) throw new Error('connection gone')
    const err = await failure(conn.newStream('/x/1.0.0'))
    expect(err.message).toBe('yamux: the peer sent GoAway(normal): no new streams on this connection')
    expect(err.code).toBe('ERR_YAMUX_GOAWAY')
  })

  for (const [code, name] of [[1, 'protocol error'], [2, 'internal error'], [7, 'unknown code 7']] as const) {
    it(`yamux GoAway(${name}): the session ends, each stream and the connection say why`, async () => {
      const { a, raw, stream } = await yamuxStream()
      const closed = a.next('connection:close')
      raw.conn.write([yamuxFrame(FrameType.GoAway, 0, 0, code)])
      const err = await failure(stream.read())
      expect(err.code).toBe('ERR_STREAM_RESET')
      expect(err.message).toBe(`stream 1 reset: yamux: the peer sent GoAway(${name}) and ended the session`)
      const { error } = await closed
      expect(error?.message).toBe(`yamux: the peer sent GoAway(${name}) and ended the session`)
      expect((error as Coded).code).toBe('ERR_YAMUX_GOAWAY')
    })
  }

  it('mplex has no GoAway: the peer ends the connection instead (go-mplex, js-mplex Close), each stream says so', async () => {
    const peer = await misbehavingListener('/mplex/6.7.0')
    cleanups.push(peer.close)
    const a = await fleet.bare({ muxers: ['mplex'], listenAddrs: [] })
    const opening = a.dial(peer.peerId, [peer.addr], '/x/1.0.0')
    const raw = await peer.next()
    await raw.until(b => decodeFrame(b, 0)?.[0].flag === MessageFlag.NewStream)
    raw.conn.write(
      encodeFrame(
        0,
        MessageFlag.MessageReceiver,
        new Uint8Array(Buffer.concat([encodeMessage('/multistream/1.0.0'), encodeMessage('/x/1.0.0')]))
      )
    )
    const stream = await opening
    await stream.write(new Uint8Array(10))
    raw.conn.closeWrite()
    const err = await failure(stream.read())
    expect(err.message).toBe('stream 0 reset: mplex: the peer ended the connection')
  })

  it('a TCP RST in the middle of a connection (go-libp2p closes with unread bytes): "peer reset the TCP connection"', async () => {
    const { a, raw, stream } = await yamuxStream()
    const closed = a.next('connection:close')
    raw.tcp.abort()
    const err = await failure(stream.read())
    expect(err.code).toBe('ERR_STREAM_RESET')
    expect(err.message).toMatch(
      /^stream 1 reset: tcp connection \/ip4\/127\.0\.0\.1\/tcp\/\d+: peer reset the TCP connection \(RST, ECONNRESET\)$/
    )
    const { error } = await closed
    expect(error?.message).toMatch(/peer reset the TCP connection \(RST, ECONNRESET\)/)
    expect((error as Coded).code).toBe('ERR_CONNECTION_RESET')
  })
})
