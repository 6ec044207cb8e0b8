/**
 * Hostile input at every stage of the upgrade, from raw sockets, while honest peers run the
 * tutorial protocol against the same listener.
 *
 * What must hold:
 * - a connection that sends garbage, a malformed or oversize message, or ends mid-handshake is
 *   closed promptly (long before the handshake deadline, which is set far away here);
 * - stalled connections hold at most `maxPendingConnections` slots (the oldest is evicted), and
 *   they are closed at the handshake deadline;
 * - what pending upgrades hold stays bounded (measured with `inspect()`, never with RSS);
 * - honest peers complete the exchange meanwhile.
 *
 * The attackers come from many hosts (127.0.1.1 … 127.0.1.250, all loopback), as a botnet would:
 * the per-address bound on pending upgrades (test/integration/connection-pressure.test.ts) then
 * never applies, and the overall bounds exercised here do the work.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { SwitchEvents, Switch } from '../../src/index.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import { MAX_MULTISTREAM_STAGE_BYTES } from '../../src/switch/upgrade-guard.js'
import { NOISE_MAX_PREAUTH_BYTES as MAX_PREAUTH_BYTES } from '../../src/security/noise.js'
import { Fleet, waitFor } from './helpers.js'

const fleet = new Fleet()
afterEach(async () => { await fleet.stopAll() })

const TUTORIAL_PARTS = Array.from({ length: 11 }, (_, i) => `Part ${i}`)
const HEADER = encodeMessage('/multistream/1.0.0')
const NOISE = encodeMessage('/noise')
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)

interface Attacker {
  kind: string
  socket: Socket
  /** The server closed (or reset) the connection. */
  closed: boolean
  whenClosed: Promise<void>
}

/**
 * Open a raw connection to `port`, write `payload`, optionally half-close; write `then` once the
 * server has answered. Whatever the server sends is read and dropped (so its writes never back
 * up). We never close first.
 */
let nextHost = 0
async function attack (
  port: number,
  kind: string,
  payload: Uint8Array,
  end = false,
  then?: Uint8Array
): Promise<Attacker> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: `127.0.1.${1 + (nextHost++ % 250)}` })
  socket.on('error', () => {}) // ECONNRESET when the server aborts: expected
  socket.on('data', () => {})
  if (then !== undefined) socket.once('data', () => { socket.write(then) })
  let resolveClosed!: () => void
  const a: Attacker = { kind, socket, closed: false, whenClosed: new Promise(resolve => { resolveClosed = resolve }) }
  socket.once('close', () => { a.closed = true; resolveClosed() })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  if (payload.length > 0) socket.write(payload)
  if (end) socket.end()
  return a
}

/** Payloads that a correct listener rejects as soon as it has read them. */
function promptlyRejected (): Array<[kind: string, payload: Uint8Array, end: boolean]> {
  const out: Array<[string, Uint8Array, boolean]> = []
  for (let i = 0; i < 20; i++) {
    out.push([
      'garbage: HTTP request',
      ascii(
        `GET /${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hostile-test\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n`
      ),
      false
    ])
    out.push(['garbage: 0xff bytes (varint too long)', new Uint8Array(64).fill(0xff), false])
    out.push(['garbage: TLS ClientHello', cat(bytes(0x16, 0x03, 0x01, 0x00, 0xa5), randomBytes(200)), false])
    out.push(['garbage: proposal without newline', cat(HEADER, bytes(0x05), ascii('abcde')), false])
    out.push(['oversize: multistream length 2048', cat(bytes(0x80, 0x10), randomBytes(100)), false])
    out.push(['oversize: proposal length 2^28', cat(HEADER, bytes(0xff, 0xff, 0xff, 0x7f)), false])
    out.push(['truncated: ends inside Noise message 1', cat(HEADER, NOISE, bytes(0x00, 0x20), randomBytes(10)), true])
    out.push(['truncated: ends inside multistream', cat(HEADER, bytes(0x07), ascii('/no')), true])
  }
  // Endless valid-but-refused proposals: each is answered with "na"; only the pre-auth cap ends it.
  const flood = cat(HEADER, ...Array.from({ length: Math.ceil(MAX_PREAUTH_BYTES / 4) }, () => encodeMessage('/x')))
  for (let i = 0; i < 10; i++) out.push(['flood: endless refused proposals', flood, false])
  return out
}

/** Payloads that leave the upgrade waiting for bytes that never come (`then`: sent once answered). */
function stalling (): Array<[kind: string, payload: Uint8Array, then?: Uint8Array]> {
  const out: Array<[string, Uint8Array, Uint8Array?]> = []
  for (let i = 0; i < 30; i++) {
    out.push(['stalled: silent', new Uint8Array(0)])
    out.push(['stalled: mid-multistream', cat(HEADER, bytes(0x07), ascii('/noi'))])
    out.push(['stalled: mid-Noise message 1', cat(HEADER, NOISE, bytes(0x00, 0x20), randomBytes(10))])
    out.push(['stalled: after Noise message 1 (no message 3)', cat(HEADER, NOISE, bytes(0x00, 0x20), randomBytes(32))])
  }
  for (let i = 0; i < 10; i++) {
    // A maximum-size Noise message, most of it sent: the listener must buffer it, and only it.
    out.push([
      'stalled: inside a 65535-byte Noise message 3',
      cat(HEADER, NOISE, bytes(0x00, 0x20), randomBytes(32)),
      cat(bytes(0xff, 0xff), randomBytes(60_000))
    ])
  }
  return out
}

/** Samples the listener's view while an attack runs. */
class Sampler {
  maxPendingInbound = 0
  maxPendingBytesIn = 0
  samples = 0
  private readonly timer: ReturnType<typeof setInterval>

  constructor (private readonly sw: Switch) {
    this.timer = setInterval(() => { this.sample() }, 2)
  }

  sample (): void {
    const t = this.sw.inspect().totals
    this.samples++
    this.maxPendingInbound = Math.max(this.maxPendingInbound, t.pendingInbound)
    this.maxPendingBytesIn = Math.max(this.maxPendingBytesIn, t.pendingBytesIn)
  }

  stop (): void { clearInterval(this.timer); this.sample() }
}

async function honestExchange (server: Switch): Promise<string[]> {
  const client = await fleet.standard()
  const s = await client.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)
  return await streamProtoClient(s)
}

describe('hostile input during the upgrade', () => {
  it('hundreds of hostile connections are closed promptly or bounded, and honest peers get through', async () => {
    const maxPending = 64
    const server = await fleet.standard({
      // The deadline is far away: whatever closes before it was closed for what it sent.
      config: { handshakeTimeoutMs: 60_000, maxPendingConnections: maxPending },
      protocols: [streamProtoProtocol]
    })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    const sampler = new Sampler(server)

    // An honest peer connected before the attack keeps working through it.
    const early = await fleet.standard()
    const earlyStream = await early.dial(server.peerId, server.peerInfo.addrs, STREAM_PROTO_CODEC)

    const prompt = await Promise.all(
      promptlyRejected().map(async ([kind, payload, end]) => await attack(port, kind, payload, end))
    )
    const stalled: Attacker[] = []
    for (const [kind, payload, then] of stalling()) stalled.push(await attack(port, kind, payload, false, then))
    expect(prompt.length + stalled.length).toBeGreaterThanOrEqual(300)

    // While the stalled ones hold their slots, and new garbage keeps arriving, honest peers run
    // the tutorial on new connections.
    let trickling = true
    const trickle = (async () => {
      const extra: Attacker[] = []
      while (trickling) {
        extra.push(await attack(port, 'trickle: garbage', new Uint8Array(16).fill(0xff)))
        await new Promise(resolve => setTimeout(resolve, 25))
      }
      return extra
    })()
    for (let i = 0; i < 3; i++) expect(await honestExchange(server)).toEqual(TUTORIAL_PARTS)
    expect(await streamProtoClient(earlyStream)).toEqual(TUTORIAL_PARTS)
    trickling = false
    const trickled = await trickle

    // Everything that sent something invalid was closed by the server, long before the deadline.
    await waitFor(
      'every promptly-rejectable connection to be closed by the server',
      () => prompt.every(a => a.closed) && trickled.every(a => a.closed),
      20_000
    )
    // Stalled connections beyond the pending limit were evicted; the rest are still waiting.
    await waitFor(
      'the stalled connections beyond the limit to be evicted',
      () => stalled.filter(a => !a.closed).length <= maxPending,
      20_000
    )
    sampler.stop()

    expect(sampler.samples).toBeGreaterThan(0)
    expect(sampler.maxPendingInbound).toBeLessThanOrEqual(maxPending)
    expect(sampler.maxPendingBytesIn).toBeLessThanOrEqual(maxPending * MAX_PREAUTH_BYTES)
    const view = server.inspect()
    expect(view.totals.pendingInbound).toBeLessThanOrEqual(maxPending)
    // What the stalled connections still hold: at most one big Noise message each, nothing more.
    for (const p of view.pendingUpgrades) {
      expect(p.bytesIn).toBeLessThanOrEqual(HEADER.length + NOISE.length + 34 + 2 + 65535)
    }
    // Only honest peers got connections.
    expect(view.connections.length).toBe(4)

    // The reasons, as reported.
    const codes = new Set(errors.map(e => (e.error as { code?: string }).code))
    expect(codes).toContain('ERR_MULTISTREAM_PROTOCOL')
    expect(codes).toContain('ERR_MESSAGE_TOO_LARGE')
    expect(codes).toContain('ERR_TOO_MANY_CONNECTIONS')
    expect(errors.filter(e => e.stage === 'security').length).toBeGreaterThan(0)
    // The proposal flood was cut by the multistream-stage cap, before the layers parsed it.
    expect(
      errors.filter(e =>
        e.error.message.includes(`"bytes before authentication" expected <= ${MAX_MULTISTREAM_STAGE_BYTES}`)
      ).length
    ).toBe(10)
    expect(errors.every(e => e.direction === 'inbound')).toBe(true)

    await server.stop()
    await waitFor('stop() to close every remaining stalled connection', () => stalled.every(a => a.closed), 10_000)
    expect(server.inspect().pendingUpgrades).toEqual([])
  }, 60_000)

  it('the transient scope bounds what all pending handshakes hold together: the biggest are closed, honest peers get through', async () => {
    const budget = 300_000
    const server = await fleet.standard({
      config: { handshakeTimeoutMs: 60_000 },
      resources: { transient: { memoryBytes: budget } },
      protocols: [streamProtoProtocol]
    })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    let peak = 0
    const sample = (): void => {
      peak = Math.max(peak, server.inspect().resources.transient.usage.memoryBytes)
    }
    const timer = setInterval(sample, 2)
    // Ten peers (one host each) each hold most of a maximum-size Noise message 3: 600 KB in all
    // would be buffered without the transient scope, each one within its own pre-auth cap.
    const big: Attacker[] = []
    for (let i = 0; i < 10; i++) {
      big.push(await attack(
        port,
        'stalled: inside a 65535-byte Noise message 3',
        cat(HEADER, NOISE, bytes(0x00, 0x20), randomBytes(32)),
        false,
        cat(bytes(0xff, 0xff), randomBytes(60_000))
      ))
    }
    await waitFor('the biggest pending upgrades to be closed', () => big.filter(a => a.closed).length >= 5, 20_000)
    expect(await honestExchange(server)).toEqual(TUTORIAL_PARTS)
    clearInterval(timer)
    sample()
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(budget)
    const view = server.inspect().resources.transient
    expect(view.limits.memoryBytes).toBe(budget)
    expect(view.usage.refused.memory).toBeGreaterThan(0)
    const limited = errors.filter(e => (e.error as { code?: string }).code === 'ERR_RESOURCE_LIMIT')
    expect(limited.length).toBeGreaterThanOrEqual(5)
    expect(limited[0]?.error.message).toMatch(/"transient memory" expected <= 300000 bytes/)
    // The attackers leave: every byte goes back.
    for (const a of big) a.socket.destroy()
    await waitFor('the transient scope to be empty', () => server.inspect().resources.transient.usage.memoryBytes === 0)
    expect(server.inspect().resources.process.usage.memoryBytes).toBe(
      server.inspect().resources.connections.reduce((n, c) => n + c.usage.memoryBytes, 0)
    )
  }, 30_000)

  it('maxNegotiationMessageBytes bounds the connection\'s negotiation too: a longer proposal is refused at its prefix', async () => {
    const server = await fleet.bare({ config: { maxNegotiationMessageBytes: 32 }, protocols: [streamProtoProtocol] })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    // The header, then only the length prefix of a 33-byte proposal: the default limit would wait for its body.
    const a = await attack(port, 'oversize: proposal of 33 bytes, body never sent', cat(HEADER, bytes(33)))
    await waitFor('the connection to be closed', () => a.closed)
    await waitFor('the error to be reported', () => errors.length === 1)
    expect(errors[0]?.stage).toBe('multistream')
    expect(errors[0]?.error).toMatchObject({
      code: 'ERR_MESSAGE_TOO_LARGE',
      message: expect.stringMatching(/expected <= 32 \(including the newline\), got 33/) as unknown
    })
    expect(await honestExchange(server)).toEqual(TUTORIAL_PARTS)
  })

  it('stalled handshakes are closed at the handshake deadline, each stage reported', async () => {
    const server = await fleet.standard({ config: { handshakeTimeoutMs: 300 }, protocols: [streamProtoProtocol] })
    const port = Number(server.peerInfo.addrs[0]?.toNodeAddress().port)
    const errors: Array<SwitchEvents['connection:error']> = []
    server.on('connection:error', e => errors.push(e))
    const stalled: Attacker[] = []
    for (const [kind, payload] of stalling().slice(0, 60)) stalled.push(await attack(port, kind, payload))
    expect(await honestExchange(server)).toEqual(TUTORIAL_PARTS)
    await waitFor('every stalled connection to time out', () => stalled.every(a => a.closed), 15_000)
    await waitFor('every timeout to be reported', () => errors.length === stalled.length, 5_000)
    expect(errors.every(e => (e.error as { code?: string }).code === 'ERR_HANDSHAKE_TIMEOUT')).toBe(true)
    expect(errors.filter(e => e.stage === 'multistream').length).toBe(30) // silent + mid-multistream
    expect(errors.filter(e => e.stage === 'security').length).toBe(30) // mid-Noise + after message 1
    expect(errors[0]?.error.message).toMatch(
      /^(multistream|\/noise): handshake with \/ip4\/127\.0\.[01]\.\d+\/tcp\/\d+ timed out after 300 ms \(stage "(multistream|security)"\): the peer stalled$/
    )
    expect(server.inspect().pendingUpgrades).toEqual([])
    expect(await honestExchange(server)).toEqual(TUTORIAL_PARTS)
  }, 30_000)
})
