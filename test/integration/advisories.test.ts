/**
 * Handshake- and protocol-level DoS classes over real sockets, each named by its advisory or by
 * the issue (#14) item it covers; an honest client is served in each. The machine-level checks of
 * the same rules: test/security/advisories.test.ts.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { UpgradedConnection } from '../../src/connection.js'
import { StreamResetError } from '../../src/errors.js'
import { noise, Switch, yamux } from '../../src/index.js'
import type { SwitchEvents } from '../../src/index.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { encodeIdentify } from '../../src/proto/identify.js'
import { ECHO_CODEC, IDENTIFY_MAX_MESSAGE_BYTES, IDENTIFY_PUSH_CODEC } from '../../src/protocols/constants.js'
import { echo, echoProtocol } from '../../src/protocols/echo.js'
import { ws } from '../../src/transport/ws/transport.js'
import { authenticatedConnection } from '../helpers/authenticated-peer.js'
import { fakeIdentity, rsaPublicKeyOfBits } from '../helpers/hostile-keys.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
const held: UpgradedConnection[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const up of held.splice(0)) up.muxer.abort()
  for (const s of sockets.splice(0)) s.destroy()
  await fleet.stopAll()
})

async function honestEcho (server: Switch): Promise<void> {
  const client = await fleet.bare({ config: { stopTimeoutMs: 50 } })
  const got = await echo(
    await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC),
    new Uint8Array(4096).fill(5)
  )
  expect(got.length).toBe(4096)
}

/** A raw socket that writes `bytes` one byte per `everyMs` until the server closes it. */
let nextHost = 0
function dribble (port: number, bytes: Uint8Array, everyMs: number): { sent: () => number, closed: Promise<void> } {
  // From 127.0.2.x, one host each: the per-address pending bound stays out of the way (the honest client is 127.0.0.1).
  const sock = connect({ host: '127.0.0.1', port, localAddress: `127.0.2.${1 + (nextHost++ % 250)}` })
  sockets.push(sock)
  sock.on('error', () => {})
  sock.on('data', () => {})
  let i = 0
  const timer = setInterval(() => {
    if (sock.destroyed || sock.writableEnded) return
    sock.write(bytes.subarray(i % bytes.length, (i % bytes.length) + 1))
    i++
  }, everyMs)
  const closed = new Promise<void>(resolve => { sock.once('close', () => { clearInterval(timer); resolve() }) })
  return { sent: () => i, closed }
}

describe('CVE-2023-39533 over a real connection: an RSA-16384 identity is refused during the handshake', () => {
  it('the listener reports the oversize key, never verifies its signature, and serves an honest client', async () => {
    const server = await fleet.bare({ protocols: [echoProtocol] })
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    await authenticatedConnection(port, {
      identity: fakeIdentity(rsaPublicKeyOfBits(16384)),
      expectedPeer: server.peerId
    })
      .then(up => {
        held.push(up)
      }, () => {})
    await waitFor('the refusal to be reported', () => errors.length === 1)
    expect(errors[0]).toMatchObject({ stage: 'security', error: { code: 'ERR_NOISE_HANDSHAKE' } })
    expect(errors[0]?.error.message).toMatch(/"modulus" expected 2048\.\.8192 bits, got 16384/)
    expect(server.inspect().connections).toEqual([])
    await honestEcho(server)
  })
})

describe('slowloris: a peer that keeps the handshake alive one byte at a time is closed at the handshake deadline', () => {
  it('TCP: dribbled multistream/Noise bytes do not extend handshakeTimeoutMs', async () => {
    const server = await fleet.bare({ protocols: [echoProtocol], config: { handshakeTimeoutMs: 300 } })
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    // A valid start (header, /noise, the Noise length prefix), then the first message's bytes: each is progress.
    const bytes = new Uint8Array(
      Buffer.concat([
        encodeMessage('/multistream/1.0.0'),
        encodeMessage('/noise'),
        Uint8Array.of(0, 32),
        new Uint8Array(32)
      ])
    )
    const peers = Array.from({ length: 10 }, () => dribble(port, bytes, 10))
    await honestEcho(server)
    await Promise.all(peers.map(async p => { await p.closed }))
    await waitFor('every timeout to be reported', () => errors.length === 10)
    expect(errors.every(e => (e.error as { code?: string }).code === 'ERR_HANDSHAKE_TIMEOUT')).toBe(true)
    // They were still sending when closed: only the deadline stopped them.
    expect(peers.every(p => p.sent() > 1)).toBe(true)
    expect(server.inspect().pendingUpgrades).toEqual([])
  })

  it('WebSocket: an HTTP upgrade dribbled byte by byte is closed at upgradeTimeoutMs', async () => {
    const server = new Switch({
      transports: [ws({ upgradeTimeoutMs: 300 })],
      security: [noise()],
      muxers: [yamux()],
      listenAddrs: ['/ip4/127.0.0.1/tcp/0/ws'],
      protocols: [echoProtocol],
      log: () => {}
    })
    await server.start()
    try {
      const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
      const head = new TextEncoder().encode(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Padding: ' +
          'a'.repeat(4000)
      )
      const peers = Array.from({ length: 10 }, () => dribble(port, head, 10))
      await Promise.all(peers.map(async p => { await p.closed }))
      expect(peers.every(p => p.sent() > 1 && p.sent() < head.length)).toBe(true)
      const client = new Switch({
        transports: [ws()],
        security: [noise()],
        muxers: [yamux()],
        listenAddrs: [],
        log: () => {}
      })
      await client.start()
      try {
        const got = await echo(
          await client.dial(server.peerId, server.peerInfo.addrs, ECHO_CODEC),
          new Uint8Array(1000).fill(1)
        )
        expect(got.length).toBe(1000)
      } finally { await client.stop() }
    } finally { await server.stop() }
  })
})

describe('identify-push floods (issue #14): bounded in size and in concurrency, the honest client served', () => {
  it('concurrent pushes past the push protocol\'s limit are reset, an oversize push is refused at its prefix, sequential pushes are applied', async () => {
    const server = await fleet.standard({ protocols: [echoProtocol], config: { stopTimeoutMs: 50 } })
    const errors: Array<SwitchEvents['protocol:error']> = []
    server.on('protocol:error', e => errors.push(e))
    const attacker = await fleet.bare({ config: { stopTimeoutMs: 50 } })
    const conn = await attacker.connect(server.peerId, server.peerInfo.addrs)
    // 50 pushes at once, each stalled after its length prefix: the server runs four, resets the rest.
    const stalled = await Promise.all(Array.from({ length: 50 }, async () => {
      // Lazy: the proposal goes out with the prefix, and a refusal shows up on the next read.
      const s = await conn.newStream(IDENTIFY_PUSH_CODEC, { lazy: true })
      await s.write(Uint8Array.of(0x80, 0x01)).catch(() => {})
      return s
    }))
    await waitFor(
      'the pushes past the limit to be refused',
      () => errors.filter(e => e.stage === 'limit').length >= 46,
      10_000
    )
    expect(
      errors.filter(e => e.stage === 'limit').every(e =>
        e.protocol === IDENTIFY_PUSH_CODEC &&
        /"maxIncomingStreams" of \/ipfs\/id\/push\/1\.0\.0 expected <= 4/.test(e.error.message)
      )
    ).toBe(true)
    await honestEcho(server)
    for (const s of stalled) s.reset()
    await waitFor(
      'the stalled pushes to be gone',
      () => server.connections(attacker.peerId)[0]?.streams().every(s => s.protocol !== IDENTIFY_PUSH_CODEC) === true
    )
    // Oversize: a length prefix past 8 KiB is refused before the body is read.
    const big = await conn.newStream(IDENTIFY_PUSH_CODEC)
    await big.write(Uint8Array.of(0x81, 0x80, 0x01)) // 16385
    await expect(big.read()).rejects.toBeInstanceOf(StreamResetError)
    await waitFor(
      'the oversize push to be reported',
      () => errors.some(e => e.streamId === big.id && e.stage === 'handler')
    )
    expect(errors.find(e => e.streamId === big.id)?.error).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    expect(IDENTIFY_MAX_MESSAGE_BYTES).toBe(8192)
    // Sequential pushes: each waits for the previous to end, applied in order.
    let applied = 0
    server.on('identify', () => { applied++ })
    for (let i = 0; i < 100; i++) {
      const s = await conn.newStream(IDENTIFY_PUSH_CODEC)
      const msg = encodeIdentify({ protocols: [], listenAddrs: [], agentVersion: `flood ${i}` })
      await s.writeLp(msg)
      await s.closeWrite()
      expect(await s.read()).toBeNull()
    }
    await waitFor('every push to be applied', () => applied === 100)
    expect(server.connections(attacker.peerId)[0]?.identity?.agentVersion).toBe('flood 99')
    await honestEcho(server)
  })
})
