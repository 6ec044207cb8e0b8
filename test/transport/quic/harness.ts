/**
 * A sans-I/O harness: a client and a server QuicConnection joined by a simulated link with a fake
 * clock. The link can drop, duplicate, reorder and delay datagrams (seeded), and the run loop
 * advances the clock to the next delivery or timer, so nothing sleeps and a hang is a test failure.
 */
import { generateEd25519 } from '../../../src/security/keys.js'
import {
  generateLibp2pCredential,
  verifyLibp2pCertificate,
  type Libp2pPeer
} from '../../../src/security/tls/certificate.js'
import { QuicConnection, type QuicConnectionConfig, type QuicEvent } from '../../../src/transport/quic/connection.js'
import { parseHeader } from '../../../src/transport/quic/header.js'
import type { StatelessDecision, StatelessServer } from '../../../src/transport/quic/stateless.js'

export interface LinkOptions {
  dropRate?: number
  duplicateRate?: number
  /** One-way delay in ms, plus up to `jitterMs` (which reorders). */
  delayMs?: number
  jitterMs?: number
  seed?: number
  /** Both machines' keep-alive period (QuicConnectionConfig.keepAliveMs). */
  keepAliveMs?: number
  /** The path MTU as a UDP payload: larger datagrams are dropped (never fragmented). */
  mtu?: number
}

/** Extra connection settings for either side (key update interval, trace hooks …). */
export interface SideOptions {
  client?: Partial<QuicConnectionConfig<Libp2pPeer>>
  server?: Partial<QuicConnectionConfig<Libp2pPeer>>
  /**
   * The server endpoint's stateless answers (Version Negotiation, Retry) before a connection
   * exists; `pendingHandshakes` is the load it sees. Without a gate every first datagram makes the server.
   */
  gate?: StatelessServer
  pendingHandshakes?: () => number
}

/** The client's address as the gate sees it. */
export const CLIENT_ADDRESS = { address: '192.0.2.1', port: 4433 }

interface InFlight { at: number, to: 'client' | 'server', data: Uint8Array, seq: number }

/** Mulberry32: a small seeded PRNG, so a failing run can be replayed. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Harness {
  now = 1_000_000
  readonly client: QuicConnection<Libp2pPeer>
  server: QuicConnection<Libp2pPeer> | undefined
  readonly clientEvents: Array<QuicEvent<Libp2pPeer>> = []
  readonly serverEvents: Array<QuicEvent<Libp2pPeer>> = []
  private readonly inFlight: InFlight[] = []
  private seq = 0
  private readonly rnd: () => number
  private readonly opts: Required<Omit<LinkOptions, 'keepAliveMs' | 'mtu'>> & Pick<LinkOptions, 'keepAliveMs' | 'mtu'>
  readonly clientIdentity = generateEd25519()
  readonly serverIdentity = generateEd25519()
  datagrams = { toServer: 0, toClient: 0, bytesToServer: 0, bytesToClient: 0, dropped: 0, tooLarge: 0, largest: 0 }

  private readonly sides: SideOptions

  constructor (opts: LinkOptions = {}, sides: SideOptions = {}) {
    this.sides = sides
    this.opts = { dropRate: 0, duplicateRate: 0, delayMs: 10, jitterMs: 0, seed: 1, ...opts }
    this.rnd = prng(this.opts.seed)
    const bytes = (n: number): Uint8Array => {
      const b = new Uint8Array(n)
      for (let i = 0; i < n; i++) b[i] = Math.floor(this.rnd() * 256)
      return b
    }
    this.client = new QuicConnection<Libp2pPeer>({
      role: 'client',
      credential: generateLibp2pCredential(this.clientIdentity),
      verifyPeer: (chain) => verifyLibp2pCertificate(chain),
      alpn: ['libp2p'],
      localCid: bytes(8),
      remoteCid: bytes(8),
      now: this.now,
      ...(opts.keepAliveMs === undefined ? {} : { keepAliveMs: opts.keepAliveMs }),
      ...sides.client
    })
  }

  /** Every decision of the gate, in order. */
  readonly gateDecisions: StatelessDecision[] = []

  /** Hand a datagram for no connection to the gate; true when a server machine now exists. */
  private throughGate (data: Uint8Array): boolean {
    const gate = this.sides.gate
    if (gate === undefined) { this.makeServer(data); return true }
    const d = gate.onDatagram(data, CLIENT_ADDRESS, this.sides.pendingHandshakes?.() ?? 0, this.now)
    this.gateDecisions.push(d)
    if (d.kind === 'send') this.send('client', d.datagram)
    if (d.kind !== 'accept') return false
    this.makeServer(data, d.retry)
    return true
  }

  private makeServer (first: Uint8Array, retry?: { originalDcid: Uint8Array, retrySourceCid: Uint8Array }): void {
    const h = parseHeader(first, 0, 8)
    if (h.form !== 'long') throw new Error('first datagram is not a long header')
    this.server = new QuicConnection<Libp2pPeer>({
      role: 'server',
      credential: generateLibp2pCredential(this.serverIdentity),
      verifyPeer: (chain) => verifyLibp2pCertificate(chain),
      alpn: ['libp2p'],
      localCid: Uint8Array.of(0x53, 1, 2, 3, 4, 5, 6, 7),
      remoteCid: h.scid.slice(),
      originalDcid: h.dcid.slice(),
      ...(retry === undefined ? {} : { retry }),
      now: this.now,
      ...(this.opts.keepAliveMs === undefined ? {} : { keepAliveMs: this.opts.keepAliveMs }),
      ...this.sides.server
    })
  }

  private send (to: 'client' | 'server', data: Uint8Array): void {
    if (to === 'server') {
      this.datagrams.toServer++
      this.datagrams.bytesToServer += data.length
    } else {
      this.datagrams.toClient++
      this.datagrams.bytesToClient += data.length
    }
    this.datagrams.largest = Math.max(this.datagrams.largest, data.length)
    if (this.opts.mtu !== undefined && data.length > this.opts.mtu) {
      this.datagrams.tooLarge++
      return
    }
    if (this.rnd() < this.opts.dropRate) {
      this.datagrams.dropped++
      return
    }
    const copies = this.rnd() < this.opts.duplicateRate ? 2 : 1
    for (let i = 0; i < copies; i++) {
      this.inFlight.push({
        at: this.now + this.opts.delayMs + this.rnd() * this.opts.jitterMs,
        to,
        data: data.slice(),
        seq: this.seq++
      })
    }
  }

  /** Let both sides send what they have. */
  flush (): void {
    for (const d of this.client.pollDatagrams(this.now)) this.send('server', d)
    if (this.server !== undefined) for (const d of this.server.pollDatagrams(this.now)) this.send('client', d)
    this.clientEvents.push(...this.client.pollEvents())
    if (this.server !== undefined) this.serverEvents.push(...this.server.pollEvents())
  }

  /**
   * One step: deliver the next datagram or fire the next timer, whichever is first. Returns false if nothing is left.
   */
  step (): boolean {
    this.flush()
    this.inFlight.sort((a, b) => a.at - b.at || a.seq - b.seq)
    const next = this.inFlight[0]
    const timers = [this.client.nextTimeout(), this.server?.nextTimeout() ?? Infinity]
    const timer = Math.min(...timers)
    if (next === undefined && timer === Infinity) return false
    if (next !== undefined && next.at <= timer) {
      this.inFlight.shift()
      this.now = Math.max(this.now, next.at)
      if (next.to === 'server') {
        if (this.server !== undefined || this.throughGate(next.data)) this.server?.receiveDatagram(next.data, this.now)
      } else {
        this.client.receiveDatagram(next.data, this.now)
      }
    } else {
      this.now = Math.max(this.now, timer)
      if (this.client.nextTimeout() <= this.now) this.client.onTimeout(this.now)
      if (this.server !== undefined && this.server.nextTimeout() <= this.now) this.server.onTimeout(this.now)
    }
    this.flush()
    return true
  }

  /**
   * Step until both ends are established and the client's handshake is confirmed by HANDSHAKE_DONE
   * (RFC 9001 §4.1.2); the server's connection.
   */
  established (): QuicConnection<Libp2pPeer> {
    this.runUntil(() => this.client.state === 'established' && this.server?.state === 'established')
    this.runUntil(() => (this.client as unknown as { handshakeConfirmed: boolean }).handshakeConfirmed)
    return this.server as QuicConnection<Libp2pPeer>
  }

  /** Step until `done()` or the step budget runs out (a hang). */
  runUntil (done: () => boolean, maxSteps = 200_000): void {
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return
      if (!this.step()) break
    }
    if (!done()) {
      throw new Error(
        `harness: condition not reached (t=${this.now}, client ${this.client.state}, server ${this.server?.state})`
      )
    }
  }
}
