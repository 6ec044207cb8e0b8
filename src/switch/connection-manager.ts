/**
 * The switch's bookkeeping of connections, without any I/O: which connections are open to which
 * peer, which dials are in flight, which connections are still upgrading, and the limits on all
 * three (config.ts). The switch asks it before it dials, accepts or registers a connection, and
 * closes what it names for trimming.
 *
 *   accepted socket ──admitInbound──► pending upgrade ──checkRegister──► open connection
 *                      (maxConnections    (per address: at most          (maxConnections: room made
 *                       with nothing to    maxPendingConnectionsPer-       by trimming one, else
 *                       trim, or the       Address; overall: at           refused; above the high
 *                       address full:      maxPendingConnections the      water: trimmed down to
 *                       refused at once)   oldest of the busiest          the low water)
 *                                          address is evicted)
 *   dial(peer) ──joinDial / checkDial──► dial in flight ──► pending upgrade ──► open connection
 *               (one dial per peer)       (maxPendingDials)
 *
 * Trimming (go-libp2p `p2p/net/connmgr` BasicConnMgr: low/high water, grace period, Protect):
 *   1. candidates: open connections with no open stream, older than `connectionGracePeriodMs`,
 *      whose peer carries no protection tag (`protect(peer, tag)`);
 *   2. least valuable first: the longest since a stream last opened
 *      (`lastActivityAt`), then the oldest;
 *   3. above `connectionsHighWater` after a connection opens: close candidates until
 *      `connectionsLowWater` remain; at `maxConnections`: close one to admit the new one, or
 *      refuse the new one when there is none.
 * An idle flood (many authenticated connections that never open a stream) is thus trimmed once
 * its grace period has passed, while a peer that uses its connection keeps it.
 */
import type { ByteConnection } from '../connection.js'
import { SwitchError } from '../errors.js'
import type { PeerId } from '../security/peer-id.js'
import type { SwitchConfig } from './config.js'
import type { PeerConnection } from './peer-connection.js'
import type { MemoryAccount } from '../resources/scope.js'
import { TransientBytes, UpgradeGuard } from './upgrade-guard.js'
import type { UpgradeProgress, UpgradeStage } from './upgrader.js'

/** A connection in the middle of its upgrade. */
export interface PendingUpgrade extends UpgradeProgress {
  readonly raw: ByteConnection
  readonly direction: 'inbound' | 'outbound'
  readonly startedAt: number
  /** Why the switch aborted this upgrade (stop, eviction): reported instead of the layer's view of it. */
  cancelled?: Error
}

/** One open connection, as `inspect()` shows it. */
export interface ConnectionView {
  id: number
  remotePeer: string
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  /** Security protocol id, e.g. `/noise`. */
  security: string
  multiplexer: string
  muxerNegotiation: 'early' | 'multistream' | 'transport'
  status: string
  ageMs: number
  agentVersion: string | undefined
  streams: Array<{ id: number, direction: 'inbound' | 'outbound', protocol: string }>
}

/** One upgrade in flight, as `inspect()` shows it. */
export interface PendingUpgradeView {
  direction: 'inbound' | 'outbound'
  remoteAddr: string
  stage: UpgradeStage
  /** The security protocol id, once chosen. */
  security: string | undefined
  ageMs: number
  /** Bytes received while the peer was unauthenticated (upgrade-guard.ts). */
  bytesIn: number
  bytesOut: number
}

/** Abort an upgrade for a reason of the switch's own. */
export function cancelUpgrade (p: PendingUpgrade, err: Error): void {
  p.cancelled ??= err
  p.raw.abort(err)
}

export class ConnectionManager {
  private readonly config: SwitchConfig
  private nextId = 1
  /** Open (and closing) connections per peer (base58 id). */
  private readonly byPeer = new Map<string, PeerConnection[]>()
  private readonly all = new Set<PeerConnection>()
  /** Upgrades in flight, oldest first (a Set iterates in insertion order). */
  private readonly pending = new Set<PendingUpgrade>()
  private pendingInbound = 0
  /** Inbound upgrades in flight per remote address (addressKey: the IP, no port). */
  private readonly pendingByAddress = new Map<string, number>()
  /** Protection tags per peer (base58 id): a protected peer's connections are never trimmed. */
  private readonly protections = new Map<string, Set<string>>()
  private readonly dials = new Map<string, Promise<PeerConnection>>()

  /** The transient scope every pending upgrade's guard charges (undefined: not accounted). */
  readonly transient: TransientBytes | undefined

  constructor (config: SwitchConfig, transient?: MemoryAccount) {
    this.config = config
    this.transient = transient === undefined ? undefined : new TransientBytes(transient)
  }

  // ───────────────────────────── connections ─────────────────────────────

  /** Open (and closing) connections. */
  get size (): number { return this.all.size }

  list (peer?: string): PeerConnection[] {
    if (peer === undefined) return [...this.all]
    return [...(this.byPeer.get(peer) ?? [])]
  }

  /** An open connection to `peer` (one that still takes new streams), if any. */
  open (peer: string): PeerConnection | undefined {
    for (const c of this.byPeer.get(peer) ?? []) if (c.status === 'open') return c
    return undefined
  }

  allocateId (): number { return this.nextId++ }

  /** Connections still taking streams (`status === 'open'`): those being trimmed or closed do not count. */
  openCount (): number {
    let n = 0
    for (const c of this.all) if (c.status === 'open') n++
    return n
  }

  /**
   * May one more authenticated connection open? At `maxConnections` the least valuable trimmable
   * connection is returned (the caller closes it to make room); with none, throws
   * ERR_TOO_MANY_CONNECTIONS.
   */
  checkRegister (remotePeer: PeerId, direction: 'inbound' | 'outbound', now = Date.now()): PeerConnection | undefined {
    if (this.openCount() < this.config.maxConnections) return undefined
    const victim = this.trimCandidates(now, 1)[0]
    if (victim !== undefined) return victim
    throw new SwitchError(
      'ERR_TOO_MANY_CONNECTIONS',
      `${direction} connection with ${remotePeer.toString()}: "maxConnections" expected <= ${this.config.maxConnections} open connections, got one more (none past its ${this.config.connectionGracePeriodMs} ms grace period to trim)`
    )
  }

  /** Above `connectionsHighWater`: the connections to close to get down to `connectionsLowWater`. */
  overHighWater (now = Date.now()): PeerConnection[] {
    const open = this.openCount()
    if (open <= this.config.connectionsHighWater) return []
    return this.trimCandidates(now, open - this.config.connectionsLowWater)
  }

  /** Up to `n` connections that may be trimmed, least valuable first (the order at the top of this file). */
  trimCandidates (now: number, n: number): PeerConnection[] {
    if (n <= 0) return []
    const grace = this.config.connectionGracePeriodMs
    const list: PeerConnection[] = []
    for (const c of this.all) {
      // Idle only: a connection with an open stream is in use, whatever the watermarks say.
      if (c.status !== 'open' || c.streamCount > 0 || !(now - c.openedAt >= grace)) continue
      if (this.protections.has(c.remotePeer.toString())) continue
      list.push(c)
    }
    list.sort((a, b) =>
      (a.streamCount - b.streamCount) || (a.lastActivityAt - b.lastActivityAt) || (a.openedAt - b.openedAt)
    )
    return list.slice(0, n)
  }

  /** Spare `peer`'s connections from trimming while it carries at least one tag (go `Protect`). */
  protect (peer: string, tag: string): void {
    let tags = this.protections.get(peer)
    if (tags === undefined) { tags = new Set(); this.protections.set(peer, tags) }
    tags.add(tag)
  }

  /** Remove one tag; returns whether the peer is still protected (go `Unprotect`). */
  unprotect (peer: string, tag: string): boolean {
    const tags = this.protections.get(peer)
    if (tags === undefined) return false
    tags.delete(tag)
    if (tags.size === 0) this.protections.delete(peer)
    return tags.size > 0
  }

  isProtected (peer: string): boolean { return this.protections.has(peer) }

  add (conn: PeerConnection): void {
    const key = conn.remotePeer.toString()
    const list = this.byPeer.get(key)
    if (list === undefined) this.byPeer.set(key, [conn])
    else list.push(conn)
    this.all.add(conn)
  }

  /** Forget `conn`; false if it was not known (already removed). */
  remove (conn: PeerConnection): boolean {
    if (!this.all.delete(conn)) return false
    const key = conn.remotePeer.toString()
    const list = this.byPeer.get(key)
    if (list !== undefined) {
      const i = list.indexOf(conn)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.byPeer.delete(key)
    }
    return true
  }

  // ───────────────────────────── dials ─────────────────────────────

  /** The dial in flight to `peer`, if any: concurrent dials share it. */
  joinDial (peer: string): Promise<PeerConnection> | undefined {
    return this.dials.get(peer)
  }

  /**
   * Throws ERR_TOO_MANY_CONNECTIONS when a new dial would pass `maxConnections` (and nothing could
   * be trimmed to make room) or `maxPendingDials`.
   */
  checkDial (peer: string, now = Date.now()): void {
    const open = this.openCount()
    if (open >= this.config.maxConnections && this.trimCandidates(now, 1).length === 0) {
      throw new SwitchError(
        'ERR_TOO_MANY_CONNECTIONS',
        `cannot dial ${peer}: "maxConnections" expected < ${this.config.maxConnections} open connections, got ${open}`
      )
    }
    if (this.dials.size >= this.config.maxPendingDials) {
      throw new SwitchError(
        'ERR_TOO_MANY_CONNECTIONS',
        `cannot dial ${peer}: "maxPendingDials" expected < ${this.config.maxPendingDials} dials in flight, got ${this.dials.size}`
      )
    }
  }

  /** Record `attempt` as the dial to `peer` until it settles. */
  async runDial (peer: string, attempt: Promise<PeerConnection>): Promise<PeerConnection> {
    this.dials.set(peer, attempt)
    try {
      return await attempt
    } finally {
      this.dials.delete(peer)
    }
  }

  /** Peers with a dial in flight. */
  dialsInFlight (): string[] { return [...this.dials.keys()] }

  // ───────────────────────────── upgrades ─────────────────────────────

  /**
   * May a newly accepted connection start its upgrade? Returns the refusal (no handshake is spent
   * on it) or undefined:
   *   - at `maxConnections` with no connection past its grace period to trim: refused;
   *   - its address already has `maxPendingConnectionsPerAddress` upgrades in flight: refused;
   *   - at `maxPendingConnections`: the OLDEST pending inbound upgrade of the address with the most
   *     of them is cancelled to make room. An honest handshake takes milliseconds, a stalled one is
   *     old, and a flood from one host evicts its own upgrades, not other hosts'.
   */
  admitInbound (remoteAddr: string, now = Date.now()): SwitchError | undefined {
    const open = this.openCount()
    if (open >= this.config.maxConnections && this.trimCandidates(now, 1).length === 0) {
      return new SwitchError(
        'ERR_TOO_MANY_CONNECTIONS',
        `inbound connection from ${remoteAddr}: "maxConnections" expected <= ${this.config.maxConnections} open connections, already at the limit with none past its grace period to trim`
      )
    }
    const key = addressKey(remoteAddr)
    const fromAddress = this.pendingByAddress.get(key) ?? 0
    if (fromAddress >= this.config.maxPendingConnectionsPerAddress) {
      return new SwitchError(
        'ERR_TOO_MANY_CONNECTIONS',
        `inbound connection from ${remoteAddr}: "maxPendingConnectionsPerAddress" expected <= ${this.config.maxPendingConnectionsPerAddress} upgrading connections from ${key}, got one more`
      )
    }
    if (this.pendingInbound >= this.config.maxPendingConnections) {
      let victim: PendingUpgrade | undefined
      let most = 0
      for (const p of this.pending) {
        if (p.direction !== 'inbound') continue
        const n = this.pendingByAddress.get(addressKey(p.raw.remoteAddr)) ?? 0
        if (n > most) { most = n; victim = p } // strictly more: the oldest of the busiest address
      }
      if (victim !== undefined) {
        this.untrack(victim)
        cancelUpgrade(
          victim,
          new SwitchError(
            'ERR_TOO_MANY_CONNECTIONS',
            `"maxPendingConnections" expected <= ${this.config.maxPendingConnections} upgrading connections: closed the oldest (${victim.raw.remoteAddr}, stage "${victim.stage}", ${
              now - victim.startedAt
            } ms old) of the address with the most (${most})`
          )
        )
      }
    }
    return undefined
  }

  track (raw: ByteConnection, direction: 'inbound' | 'outbound'): PendingUpgrade {
    const p: PendingUpgrade = {
      raw,
      direction,
      startedAt: Date.now(),
      stage: 'multistream',
      guard: new UpgradeGuard(raw, undefined, this.transient)
    }
    this.pending.add(p)
    if (direction === 'inbound') {
      this.pendingInbound++
      const key = addressKey(raw.remoteAddr)
      this.pendingByAddress.set(key, (this.pendingByAddress.get(key) ?? 0) + 1)
    }
    return p
  }

  untrack (p: PendingUpgrade): void {
    p.guard.discharge()
    if (!this.pending.delete(p) || p.direction !== 'inbound') return
    this.pendingInbound--
    const key = addressKey(p.raw.remoteAddr)
    const n = (this.pendingByAddress.get(key) ?? 1) - 1
    if (n > 0) this.pendingByAddress.set(key, n)
    else this.pendingByAddress.delete(key)
  }

  /** Cancel every upgrade in flight (stop). */
  cancelAll (err: Error): void {
    for (const p of [...this.pending]) cancelUpgrade(p, err)
  }

  get hasPending (): boolean { return this.pending.size > 0 }

  // ───────────────────────────── introspection ─────────────────────────────

  connectionsView (now: number): ConnectionView[] {
    return [...this.all].map(c => ({
      id: c.id,
      remotePeer: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr,
      direction: c.direction,
      security: c.security,
      multiplexer: c.multiplexer,
      muxerNegotiation: c.muxerNegotiation,
      status: c.status,
      ageMs: now - c.openedAt,
      agentVersion: c.identity?.agentVersion,
      streams: c.streams()
    }))
  }

  pendingView (now: number): PendingUpgradeView[] {
    return [...this.pending].map(p => ({
      direction: p.direction,
      remoteAddr: p.raw.remoteAddr,
      stage: p.stage,
      security: p.security,
      ageMs: now - p.startedAt,
      bytesIn: p.guard.bytesIn,
      bytesOut: p.guard.bytesOut
    }))
  }
}

/**
 * The part of a remote multiaddr that names the source: `/ip4/1.2.3.4` of `/ip4/1.2.3.4/tcp/5/ws`
 * (the port changes with every connection; the host does not). An IPv6 host counts by its /64
 * (`/ip6/2001:db8:0:1::/64`): one end site usually gets a whole /64 and can pick any address in it
 * (RFC 4291 §2.5.1 interface ids; go-libp2p rcmgr limits connections per IPv6 subnet the same way).
 * An IPv6 address written with an embedded IPv4 part counts one by one.
 */
export function addressKey (remoteAddr: string): string {
  const second = remoteAddr.indexOf('/', 1)
  if (second < 0) return remoteAddr
  const third = remoteAddr.indexOf('/', second + 1)
  const host = third < 0 ? remoteAddr : remoteAddr.slice(0, third)
  if (!host.startsWith('/ip6/')) return host
  const prefix = ipv6Prefix64(host.slice(5))
  return prefix === undefined ? host : `/ip6/${prefix}::/64`
}

/** The first four 16-bit groups of an IPv6 address, normalised (`2001:db8:0:1`); undefined if not plain IPv6. */
function ipv6Prefix64 (addr: string): string | undefined {
  if (addr.includes('.') || addr.includes('%')) return undefined
  const halves = addr.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] as string).split(':') : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const out: string[] = []
  for (const g of groups.slice(0, 4)) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    out.push(parseInt(g, 16).toString(16))
  }
  return out.join(':')
}
