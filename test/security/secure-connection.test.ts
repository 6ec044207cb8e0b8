/**
 * The Noise adapter over in-memory connections: handshake results, early muxer negotiation, peer-id
 * and signature checks with a tampered peer, limits (timeout, garbage, peer closing midway), the
 * encrypted ByteConnection (batching, splitting, tampering, truncation, nonce exhaustion,
 * pause/resume, half-close), the trace observer and `exposeKeys`.
 */
import { describe, expect, it } from 'vitest'
import { NoiseError } from '../../src/errors.js'
import type { SwitchyardError } from '../../src/errors.js'
import { CipherState } from '../../src/security/cipher-state.js'
import { MAX_NONCE, MAX_PLAINTEXT_LENGTH } from '../../src/security/constants.js'
import { XXHandshake } from '../../src/security/handshake-xx.js'
import {
  generateEd25519,
  generateSecp256k1,
  PeerId,
  secureInbound,
  secureOutbound,
  nobleSuite,
  nodeSuite,
  NoiseConnection
} from '../../src/security/index.js'
import type { PrivateKey, SecureOptions, SecureResult } from '../../src/security/index.js'
import { encryptFrames, NoiseFrameDecoder } from '../../src/security/transport-codec.js'
import type { NoiseHandshakeEvent, TraceEvent } from '../../src/trace/observer.js'
import { Collector, memoryPair } from './helpers.js'
import type { MemoryConnection } from './helpers.js'

const alice = generateEd25519()
const bob = generateEd25519()

async function handshakePair (
  clientOpts: Partial<SecureOptions> = {},
  serverOpts: Partial<SecureOptions> = {}
): Promise<{ c: SecureResult, s: SecureResult, client: MemoryConnection, server: MemoryConnection }> {
  const { client, server } = memoryPair()
  const [c, s] = await Promise.all([
    secureOutbound(client, { identity: alice, ...clientOpts }),
    secureInbound(server, { identity: bob, ...serverOpts })
  ])
  return { c, s, client, server }
}

function codeOf (err: unknown): string | undefined {
  return (err as SwitchyardError | undefined)?.code
}

/** Wire frames (2-byte length prefixes) in a byte string. */
function frameLengths (bytes: Uint8Array): number[] {
  const out: number[] = []
  let pos = 0
  while (pos + 2 <= bytes.length) {
    const len = ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number)
    out.push(len)
    pos += 2 + len
  }
  return out
}

/** A private key whose signatures are corrupted: a peer that cannot prove its static key. */
function badSigner (key: PrivateKey): PrivateKey {
  return {
    type: key.type,
    publicKey: key.publicKey,
    bytes: () => key.bytes(),
    sign: msg => { const s = key.sign(msg); s[5] = (s[5] as number) ^ 0x40; return s }
  }
}

describe('handshake', () => {
  it('authenticates both sides and reports the remote peer, key and agreed muxer', async () => {
    const { c, s } = await handshakePair()
    expect(c.remotePeer.equals(PeerId.fromPublicKey(bob.publicKey))).toBe(true)
    expect(s.remotePeer.equals(PeerId.fromPublicKey(alice.publicKey))).toBe(true)
    expect(c.remotePublicKey.equals(bob.publicKey)).toBe(true)
    expect(c.muxer).toBe('/yamux/1.0.0')
    expect(s.muxer).toBe('/yamux/1.0.0')
    expect(Buffer.from(c.handshakeHash).equals(Buffer.from(s.handshakeHash))).toBe(true)
    expect(c.keys).toBeUndefined()
  })

  it('puts exactly 2+32 bytes on the wire for message 1 (empty payload)', async () => {
    const { client } = await handshakePair()
    const first = client.writes[0]!
    expect(first).toHaveLength(1)
    expect(first[0]!.length).toBe(34)
    expect([first[0]![0], first[0]![1]]).toEqual([0, 32])
  })

  it.each([
    ['default lists', undefined, undefined, '/yamux/1.0.0'],
    ['initiator announces nothing', [], undefined, undefined],
    ['responder announces nothing', undefined, [], undefined],
    ['both announce, no overlap → multistream fallback (go behaviour)', ['/mplex/6.7.0'], ['/yamux/1.0.0'], undefined],
    [
      'initiator\'s preference wins',
      ['/mplex/6.7.0', '/yamux/1.0.0'],
      ['/yamux/1.0.0', '/mplex/6.7.0'],
      '/mplex/6.7.0'
    ],
    ['first common entry of the initiator list', ['/a', '/yamux/1.0.0', '/mplex/6.7.0'], [
      '/mplex/6.7.0',
      '/yamux/1.0.0'
    ], '/yamux/1.0.0']
  ])('early muxer negotiation: %s', async (_name, clientMuxers, serverMuxers, expected) => {
    const { c, s } = await handshakePair(
      clientMuxers !== undefined ? { muxers: clientMuxers } : {},
      serverMuxers !== undefined ? { muxers: serverMuxers } : {}
    )
    expect(c.muxer).toBe(expected)
    expect(s.muxer).toBe(expected)
  })

  it('reports the remote extensions as absent when the peer sent none', async () => {
    const { c, s } = await handshakePair({ muxers: [] })
    expect(s.remoteExtensions).toBeUndefined()
    expect(c.remoteExtensions?.streamMuxers).toEqual(['/yamux/1.0.0'])
  })

  it('works across suites and key types (noble initiator with secp256k1, node responder)', async () => {
    const k = generateSecp256k1()
    const { c, s } = await handshakePair({ suite: nobleSuite, identity: k }, { suite: nodeSuite })
    expect(s.remotePeer.toString()).toMatch(/^16Uiu2HA/)
    expect(s.remotePeer.equals(PeerId.fromPublicKey(k.publicKey))).toBe(true)
    expect(c.remotePeer.equals(PeerId.fromPublicKey(bob.publicKey))).toBe(true)
  })

  it('accepts the expected peer', async () => {
    const { c } = await handshakePair({ expectedPeer: PeerId.fromPublicKey(bob.publicKey) })
    expect(c.remotePeer.equals(PeerId.fromPublicKey(bob.publicKey))).toBe(true)
  })

  it('feeds initialBytes (read past multistream) before the socket', async () => {
    const { client, server } = memoryPair()
    // Intercept message 1 on its way: the responder gets it as initialBytes instead of from the wire.
    let captured: Uint8Array | undefined
    client.tamper = bytes => { if (captured === undefined) { captured = bytes; return new Uint8Array(0) } return bytes }
    const out = secureOutbound(client, { identity: alice })
    await new Promise(resolve => setImmediate(resolve))
    expect(captured?.length).toBe(34)
    const [c, s] = await Promise.all([
      out,
      secureInbound(server, { identity: bob, initialBytes: [captured!.subarray(0, 10), captured!.subarray(10)] })
    ])
    expect(c.remotePeer.equals(PeerId.fromPublicKey(bob.publicKey))).toBe(true)
    expect(s.remotePeer.equals(PeerId.fromPublicKey(alice.publicKey))).toBe(true)
  })
})

describe('handshake failures', () => {
  it('ERR_PEER_ID_MISMATCH: the dialer closes before sending message 3', async () => {
    const { client, server } = memoryPair()
    const other = PeerId.fromPublicKey(generateEd25519().publicKey)
    const [c, s] = await Promise.allSettled([
      secureOutbound(client, { identity: alice, expectedPeer: other }),
      secureInbound(server, { identity: bob })
    ])
    expect(c.status).toBe('rejected')
    const err = (c as PromiseRejectedResult).reason as NoiseError
    expect(err).toBeInstanceOf(NoiseError)
    expect(err.code).toBe('ERR_PEER_ID_MISMATCH')
    expect(err.message).toContain(other.toString())
    expect(err.message).toContain(PeerId.fromPublicKey(bob.publicKey).toString())
    expect(client.writes).toHaveLength(1) // message 1 only: our identity never left
    expect(client.closed).toBe(true)
    expect(s.status).toBe('rejected')
    expect(codeOf((s as PromiseRejectedResult).reason)).toBe('ERR_NOISE_HANDSHAKE')
  })

  it('a remembered signature (VerifiedSignatures) does not stand in for the static private key', async () => {
    const staticKey = nodeSuite.generateKeyPair()
    await handshakePair({ staticKey }) // the listener now remembers alice's signature over staticKey
    // Same identity, same static public key and so the very same signature, but not its private key.
    const impostor = { publicKey: staticKey.publicKey, privateKey: nodeSuite.generateKeyPair().privateKey }
    const { client, server } = memoryPair()
    const [, s] = await Promise.allSettled([
      secureOutbound(client, { identity: alice, staticKey: impostor }),
      secureInbound(server, { identity: bob })
    ])
    expect(s.status).toBe('rejected')
    // message 3's payload is encrypted under se: it does not decrypt, so no signature is looked at
    const err = (s as PromiseRejectedResult).reason as NoiseError
    expect(err.code).toBe('ERR_NOISE_HANDSHAKE')
    expect(err.message).toContain('handshake message 3: ChaCha20-Poly1305 authentication failed')
  })

  it('ERR_PEER_ID_MISMATCH on the listener when it expects someone else', async () => {
    const { client, server } = memoryPair()
    const [, s] = await Promise.allSettled([
      secureOutbound(client, { identity: alice }),
      secureInbound(server, { identity: bob, expectedPeer: PeerId.fromPublicKey(generateEd25519().publicKey) })
    ])
    expect(codeOf((s as PromiseRejectedResult).reason)).toBe('ERR_PEER_ID_MISMATCH')
    expect(server.closed).toBe(true)
  })

  it('ERR_INVALID_SIGNATURE: a responder that cannot prove its static key', async () => {
    const { client, server } = memoryPair()
    const [c] = await Promise.allSettled([
      secureOutbound(client, { identity: alice }),
      secureInbound(server, { identity: badSigner(bob) })
    ])
    expect(codeOf((c as PromiseRejectedResult).reason)).toBe('ERR_INVALID_SIGNATURE')
    expect(client.writes).toHaveLength(1) // message 3 never sent
  })

  it('ERR_INVALID_SIGNATURE: an initiator that cannot prove its static key; no application byte accepted', async () => {
    const { client, server } = memoryPair()
    const [c, s] = await Promise.allSettled([
      secureOutbound(client, { identity: badSigner(alice) }),
      secureInbound(server, { identity: bob })
    ])
    expect(codeOf((s as PromiseRejectedResult).reason)).toBe('ERR_INVALID_SIGNATURE')
    // the initiator believes it succeeded (it sent message 3 and is done); the responder aborted
    expect(c.status).toBe('fulfilled')
    const sink = new Collector()
    ;(c as PromiseFulfilledResult<SecureResult>).value.conn.attach(sink)
    await sink.until(() => sink.closed)
    expect(sink.length).toBe(0)
    expect(server.closed).toBe(true)
  })

  it('ERR_INVALID_SIGNATURE when the signature is valid but over another static key', async () => {
    const { client, server } = memoryPair()
    // The responder signs its payload for static key A but uses static key B in the handshake.
    const a = nodeSuite.generateKeyPair()
    const b = nodeSuite.generateKeyPair()
    const forged = new XXHandshake({ initiator: false, identity: bob, suite: nodeSuite, muxers: [], staticKey: a })
    const payload = (forged as unknown as { localPayload: Uint8Array }).localPayload
    const liar = new XXHandshake({ initiator: false, identity: bob, suite: nodeSuite, muxers: [], staticKey: b })
    ;(liar as unknown as { localPayload: Uint8Array }).localPayload = payload
    const decoder = new NoiseFrameDecoder()
    server.attach({
      onData: chunk => {
        decoder.push(chunk)
        const msg = decoder.next()
        if (msg !== undefined) {
          const step = liar.receive(msg)
          if (step.send !== undefined) server.write([step.send])
        }
      },
      onEnd: () => {},
      onClose: () => {}
    })
    await expect(secureOutbound(client, { identity: alice })).rejects.toMatchObject({ code: 'ERR_INVALID_SIGNATURE' })
  })

  it('ERR_HANDSHAKE_TIMEOUT: a peer that never answers', async () => {
    const { client, server } = memoryPair()
    server.attach(new Collector()) // swallows message 1
    await expect(secureOutbound(client, { identity: alice, handshakeTimeoutMs: 100 })).rejects.toMatchObject({
      name: 'NoiseError',
      code: 'ERR_HANDSHAKE_TIMEOUT'
    })
    expect(client.closed).toBe(true)
  })

  it('ERR_HANDSHAKE_TIMEOUT: a peer that stalls inside a message (declares 65535, sends 10)', async () => {
    const { client, server } = memoryPair()
    server.attach(new Collector())
    const p = secureOutbound(client, { identity: alice, handshakeTimeoutMs: 100 })
    server.write([Uint8Array.of(0xff, 0xff, ...new Uint8Array(10))])
    await expect(p).rejects.toMatchObject({ code: 'ERR_HANDSHAKE_TIMEOUT' })
  })

  it.each([
    ['random message 2', Uint8Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff)],
    ['short message 2', new Uint8Array(40)],
    ['empty message 2', new Uint8Array(0)]
  ])('ERR_NOISE_HANDSHAKE: garbage from the responder (%s)', async (_name, garbage) => {
    const { client, server } = memoryPair()
    server.attach(new Collector())
    const p = secureOutbound(client, { identity: alice })
    server.write([Uint8Array.of(garbage.length >> 8, garbage.length & 0xff), garbage])
    await expect(p).rejects.toMatchObject({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
    expect(client.closed).toBe(true)
  })

  it('ERR_NOISE_HANDSHAKE: garbage as message 3', async () => {
    const { client, server } = memoryPair()
    client.tamper = bytes => bytes.length > 100 ? bytes.map((b, i) => i > 60 ? b ^ 1 : b) : bytes
    const [c, s] = await Promise.allSettled([
      secureOutbound(client, { identity: alice }),
      secureInbound(server, { identity: bob })
    ])
    expect(c.status).toBe('fulfilled')
    expect(codeOf((s as PromiseRejectedResult).reason)).toBe('ERR_NOISE_HANDSHAKE')
  })

  it('ERR_NOISE_HANDSHAKE: the peer closes midway (after message 1)', async () => {
    const { client, server } = memoryPair()
    server.attach({ onData: () => { void server.close() }, onEnd: () => {}, onClose: () => {} })
    const err = await secureOutbound(client, { identity: alice }).catch(e => e as NoiseError)
    expect(err).toBeInstanceOf(NoiseError)
    expect((err as NoiseError).code).toBe('ERR_NOISE_HANDSHAKE')
    expect((err as NoiseError).message).toContain('closed the connection during the Noise handshake')
  })

  it('ERR_NOISE_HANDSHAKE: the peer resets midway (inside message 2)', async () => {
    const { client, server } = memoryPair()
    server.attach({
      onData: () => {
        server.write([Uint8Array.of(0, 200, 1, 2, 3)])
        setImmediate(() => server.abort())
      },
      onEnd: () => {},
      onClose: () => {}
    })
    await expect(secureOutbound(client, { identity: alice })).rejects.toMatchObject({
      code: 'ERR_NOISE_HANDSHAKE',
      message: expect.stringContaining('"message" expected 200 bytes, got 3')
    })
  })

  it('rejects bad options with TypeError/RangeError', async () => {
    const { client } = memoryPair()
    await expect(secureOutbound(client, { identity: alice, handshakeTimeoutMs: 0 })).rejects.toBeInstanceOf(RangeError)
    await expect(secureOutbound(client, { identity: alice, muxers: [''] })).rejects.toBeInstanceOf(TypeError)
  })
})

describe('encrypted connection', () => {
  it('carries bytes both ways, one underlying write per batch', async () => {
    const { c, s, client, server } = await handshakePair()
    const cs = new Collector()
    const ss = new Collector()
    c.conn.attach(cs)
    s.conn.attach(ss)
    const before = client.writes.length
    expect(c.conn.write([Buffer.from('hello '), Buffer.from('world')])).toBe(true)
    expect(client.writes.length).toBe(before + 1)
    s.conn.write([Buffer.from('hi back')])
    await ss.until(() => ss.length === 11)
    await cs.until(() => cs.length === 7)
    expect(Buffer.from(ss.bytes).toString()).toBe('hello world')
    expect(Buffer.from(cs.bytes).toString()).toBe('hi back')
    expect(server.writes.at(-1)).toHaveLength(1) // a small batch is one buffer
  })

  it('splits a large batch at 65519 plaintext bytes, all frames in one write', async () => {
    const { c, s, client } = await handshakePair()
    const ss = new Collector()
    s.conn.attach(ss)
    const data = Uint8Array.from({ length: 3 * MAX_PLAINTEXT_LENGTH + 100 }, (_, i) => i & 0xff)
    const before = client.writes.length
    c.conn.write([data.subarray(0, 1000), data.subarray(1000)])
    expect(client.writes.length).toBe(before + 1)
    expect(frameLengths(new Uint8Array(Buffer.concat(client.writes.at(-1)!)))).toEqual([65535, 65535, 65535, 116])
    await ss.until(() => ss.length === data.length)
    expect(Buffer.from(ss.bytes).equals(Buffer.from(data))).toBe(true)
  })

  it('delivers bytes the initiator pipelined right after message 3 once the consumer attaches', async () => {
    const { client, server } = memoryPair()
    const out = secureOutbound(client, { identity: alice }).then(r => {
      r.conn.write([Buffer.from('early')])
      return r
    })
    const [, s] = await Promise.all([out, secureInbound(server, { identity: bob })])
    // The early frame reached the server's connection while nobody was attached to the Noise channel.
    while (server.inbox.arrived < 3) await new Promise(resolve => setImmediate(resolve)) // msg 1, msg 3, 'early'
    const ss = new Collector()
    s.conn.attach(ss)
    await ss.until(() => ss.length === 5)
    expect(Buffer.from(ss.bytes).toString()).toBe('early')
  })

  it('a tampered transport frame closes the connection with ERR_NOISE_DECRYPT and delivers nothing of it', async () => {
    const { c, s, client } = await handshakePair()
    const ss = new Collector()
    s.conn.attach(ss)
    c.conn.write([Buffer.from('first')])
    await ss.until(() => ss.length === 5)
    client.tamper = bytes => { const t = Uint8Array.from(bytes); t[5] = (t[5] as number) ^ 1; return t }
    c.conn.write([Buffer.from('second')])
    await ss.until(() => ss.closed)
    expect(Buffer.from(ss.bytes).toString()).toBe('first')
    expect(ss.closeError).toBeInstanceOf(NoiseError)
    expect(codeOf(ss.closeError)).toBe('ERR_NOISE_DECRYPT')
    expect(s.conn.closed).toBe(true)
    expect(() => s.conn.write([Buffer.from('x')])).toThrowError(expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }))
  })

  it('a peer that half-closes inside a frame gets ERR_UNEXPECTED_EOF', async () => {
    const { c, s, client } = await handshakePair()
    const ss = new Collector()
    s.conn.attach(ss)
    client.tamper = bytes => bytes.subarray(0, bytes.length - 3)
    c.conn.write([Buffer.from('truncated frame')])
    c.conn.closeWrite()
    await ss.until(() => ss.closed)
    expect(ss.length).toBe(0)
    expect(ss.ended).toBe(false)
    expect(codeOf(ss.closeError)).toBe('ERR_UNEXPECTED_EOF')
  })

  it('half-close and close pass through', async () => {
    const { c, s } = await handshakePair()
    const cs = new Collector()
    const ss = new Collector()
    c.conn.attach(cs)
    s.conn.attach(ss)
    c.conn.write([Buffer.from('bye')])
    c.conn.closeWrite()
    await ss.until(() => ss.ended)
    expect(Buffer.from(ss.bytes).toString()).toBe('bye')
    expect(() => c.conn.write([Buffer.from('x')])).toThrowError(expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }))
    s.conn.write([Buffer.from('still open')]) // the other direction still works
    await cs.until(() => cs.length === 10)
    await s.conn.close()
    await cs.until(() => cs.closed)
    expect(cs.closeError).toBeUndefined()
  })

  it('pause inside onData holds the remaining frames until resume', async () => {
    const { c, s, server } = await handshakePair()
    const got: string[] = []
    const sink = new Collector()
    sink.onData = chunk => { got.push(Buffer.from(chunk).toString()); s.conn.pause() }
    s.conn.attach(sink)
    // three frames in one chunk: force three batches into one underlying delivery
    const before = server.inbox.arrived
    c.conn.write([Buffer.from('a')]); c.conn.write([Buffer.from('b')]); c.conn.write([Buffer.from('c')])
    // all three frames are here
    while (server.inbox.arrived < before + 3) await new Promise(resolve => setImmediate(resolve))
    expect(got).toEqual(['a'])
    s.conn.resume()
    expect(got).toEqual(['a', 'b'])
    s.conn.resume()
    s.conn.resume()
    expect(got).toEqual(['a', 'b', 'c'])
  })

  it('exhausting the sending nonce closes the connection with ERR_NOISE_NONCE_EXHAUSTED', async () => {
    const { client, server } = memoryPair()
    const key = new Uint8Array(32).fill(7)
    const sendA = new CipherState(nodeSuite, key)
    const recvB = new CipherState(nodeSuite, key)
    sendA.setNonce(MAX_NONCE - 1)
    recvB.setNonce(MAX_NONCE - 1)
    const a = new NoiseConnection(client, new NoiseFrameDecoder(), sendA, new CipherState(nodeSuite, key))
    const b = new NoiseConnection(server, new NoiseFrameDecoder(), new CipherState(nodeSuite, key), recvB)
    const as = new Collector()
    const bs = new Collector()
    a.attach(as)
    b.attach(bs)
    a.write([Buffer.from('last one')]) // nonce 2^53 - 2: fine
    await bs.until(() => bs.length === 8)
    expect(() => a.write([Buffer.from('one too many')])).toThrowError(
      expect.objectContaining({ code: 'ERR_NOISE_NONCE_EXHAUSTED' })
    )
    expect(a.closed).toBe(true)
    await as.until(() => as.closed)
    expect(codeOf(as.closeError)).toBe('ERR_NOISE_NONCE_EXHAUSTED')
  })

  it('a zero-byte write sends nothing', async () => {
    const { c, client } = await handshakePair()
    const before = client.writes.length
    expect(c.conn.write([new Uint8Array(0)])).toBe(true)
    expect(client.writes.length).toBe(before)
  })

  /** A receiving NoiseConnection on `server` fed raw wire bytes written by `client`, one socket chunk per write. */
  function straddleRig (suite: typeof nodeSuite): { key: Uint8Array, client: MemoryConnection, conn: NoiseConnection } {
    const { client, server } = memoryPair()
    const key = new Uint8Array(32).fill(9)
    const conn = new NoiseConnection(
      server,
      new NoiseFrameDecoder(),
      new CipherState(suite, key),
      new CipherState(suite, key)
    )
    return { key, client, conn }
  }

  for (const suite of [nodeSuite, nobleSuite]) {
    it(`a frame spanning three socket chunks arrives whole, tag split across chunks (${suite.name} suite)`, async () => {
      const { key, client, conn } = straddleRig(suite)
      const data = Uint8Array.from({ length: 50000 }, (_, i) => (i * 11) & 0xff)
      const wire = new Uint8Array(Buffer.concat(encryptFrames(new CipherState(suite, key), [data])))
      const sink = new Collector()
      conn.attach(sink)
      for (
        const c of [wire.subarray(0, 20000), wire.subarray(20000, wire.length - 5), wire.subarray(wire.length - 5)]
      ) client.write([c])
      await sink.until(() => sink.length === data.length)
      expect(Buffer.from(sink.bytes).equals(Buffer.from(data))).toBe(true)
      expect(sink.chunks.length).toBe(suite.name === 'node' ? 2 : 1) // node: one piece per ciphertext part
    })

    it(`a tampered frame spanning chunks → ERR_NOISE_DECRYPT and none of its plaintext (${suite.name} suite)`, async () => {
      const { key, client, conn } = straddleRig(suite)
      const data = Uint8Array.from({ length: 50000 }, (_, i) => (i * 3) & 0xff)
      const wire = Uint8Array.from(Buffer.concat(encryptFrames(new CipherState(suite, key), [data])))
      wire[wire.length - 3] = (wire[wire.length - 3] as number) ^ 0x80 // inside the tag, in the last chunk
      const sink = new Collector()
      conn.attach(sink)
      for (const c of [wire.subarray(0, 20000), wire.subarray(20000, 40000), wire.subarray(40000)]) client.write([c])
      await sink.until(() => sink.closed)
      expect(sink.length).toBe(0)
      expect(codeOf(sink.closeError)).toBe('ERR_NOISE_DECRYPT')
    })
  }

  it('pause between the pieces of a spanning frame holds the rest until resume', async () => {
    const { key, client, conn } = straddleRig(nodeSuite)
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff)
    const wire = new Uint8Array(Buffer.concat(encryptFrames(new CipherState(nodeSuite, key), [data])))
    const sink = new Collector()
    sink.onData = chunk => { sink.chunks.push(chunk); conn.pause() }
    conn.attach(sink)
    client.write([wire.subarray(0, 1000)])
    client.write([wire.subarray(1000, 2000)])
    client.write([wire.subarray(2000)])
    for (let i = 0; i < 10 && sink.chunks.length === 0; i++) await new Promise(resolve => setImmediate(resolve))
    expect(sink.chunks.map(c => c.length)).toEqual([998])
    conn.resume()
    expect(sink.chunks.map(c => c.length)).toEqual([998, 1000])
    conn.resume()
    expect(sink.chunks.map(c => c.length)).toEqual([998, 1000, 1002])
    expect(Buffer.from(sink.bytes).equals(Buffer.from(data))).toBe(true)
  })
})

describe('hooks', () => {
  it('observer: every handshake message with its tokens and payload, completion, frames', async () => {
    const ce: TraceEvent[] = []
    const se: TraceEvent[] = []
    const { c, s } = await handshakePair({ observer: { event: e => ce.push(e) } }, {
      observer: { event: e => se.push(e) }
    })
    const hs = ce.filter((e): e is NoiseHandshakeEvent => e.layer === 'noise' && e.kind === 'handshake')
    expect(hs.map(e => e.kind === 'handshake' ? [e.dir, e.message, e.tokens.join(',')] : [])).toEqual([
      ['out', 1, 'e'], ['in', 2, 'e,ee,s,es'], ['out', 3, 's,se']
    ])
    const m2 = hs[1]
    expect(m2?.kind === 'handshake' ? m2.payload : undefined).toMatchObject({
      keyType: 'Ed25519',
      peerId: PeerId.fromPublicKey(bob.publicKey).toString(),
      signature: 'verified',
      streamMuxers: ['/yamux/1.0.0']
    })
    expect(m2?.kind === 'handshake' ? m2.length : 0).toBe(
      32 + 48 + (m2?.kind === 'handshake' ? m2.payloadLength : 0) + 16
    )
    expect(se.filter(e => e.kind === 'handshake').map(e => e.kind === 'handshake' ? `${e.dir}${e.message}` : ''))
      .toEqual(['in1', 'out2', 'in3'])
    expect(ce.find(e => e.kind === 'complete')).toMatchObject({
      role: 'initiator',
      muxer: '/yamux/1.0.0',
      remotePeer: PeerId.fromPublicKey(bob.publicKey).toString()
    })
    s.conn.attach(new Collector())
    c.conn.write([new Uint8Array(70000)])
    const inFrames = (): number => se.filter(e => e.kind === 'frame' && e.dir === 'in').length
    while (inFrames() < 2) await new Promise(resolve => setImmediate(resolve))
    expect(ce.filter(e => e.kind === 'frame').map(e => e.kind === 'frame' ? e.length : 0)).toEqual([
      65535,
      70000 - 65519 + 16
    ])
    expect(se.filter(e => e.kind === 'frame' && e.dir === 'in')).toHaveLength(2)
  })

  it('exposeKeys: k1/k2 and the handshake keys, only on request, identical on both sides', async () => {
    const { c, s } = await handshakePair({ exposeKeys: true }, { exposeKeys: true })
    expect(c.keys).toBeDefined()
    expect(Buffer.from(c.keys!.k1).equals(Buffer.from(s.keys!.k1))).toBe(true)
    expect(Buffer.from(c.keys!.k2).equals(Buffer.from(s.keys!.k2))).toBe(true)
    expect(Buffer.from(c.keys!.k1).equals(Buffer.from(c.keys!.k2))).toBe(false)
    for (const t of ['ee', 'es', 'se'] as const) {
      expect(Buffer.from(c.keys!.handshake[t]).equals(Buffer.from(s.keys!.handshake[t]))).toBe(true)
    }
    // k1 really is initiator→responder: decrypt what the initiator sends with it
    const { client, server } = memoryPair()
    const [c2] = await Promise.all([
      secureOutbound(client, { identity: alice, exposeKeys: true }),
      secureInbound(server, { identity: bob })
    ])
    const before = client.writes.length
    c2.conn.write([Buffer.from('secret')])
    const frame = new Uint8Array(Buffer.concat(client.writes[before]!))
    const pt = new CipherState(nodeSuite, c2.keys!.k1).decrypt(frame.subarray(2))
    expect(Buffer.from(pt).toString()).toBe('secret')
  })
})
