/**
 * The switch's bookkeeping of connections, without any I/O: which connections are open to which
 * peer, which dials are in flight, which connections are still upgrading, and the limits on all
 * three (config.ts). The switch asks it before it dials, accepts or registers a connection.
 *
 *   accepted socket ──admitInbound──► pending upgrade ──checkRegister──► open connection
 *                      (maxConnections,  (maxPendingConnections:            (maxConnections)
 *                       refused at once)  the oldest pending is evicted)
 *   dial(peer) ──joinDial / checkDial──► dial in flight ──► pending upgrade ──► open connection
 *               (one dial per peer)       (maxPendingDials)
 */
import type { ByteConnection } from '../connection.js'
import { SwitchError } from '../errors.js'
import type { PeerId } from '../security/peer-id.js'
import type { SwitchConfig } from './config.js'
import type { PeerConnection } from './peer-connection.js'
import { UpgradeGuard } from './upgrade-guard.js'
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
  private readonly dials = new Map<string, Promise<PeerConnection>>()

  constructor (config: SwitchConfig) {
    this.config = config
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

  /** Throws ERR_TOO_MANY_CONNECTIONS when one more connection would pass `maxConnections`. */
  checkRegister (remotePeer: PeerId, direction: 'inbound' | 'outbound'): void {
    if (this.all.size >= this.config.maxConnections) {
      throw new SwitchError('ERR_TOO_MANY_CONNECTIONS', `${direction} connection with ${remotePeer.toString()}: "maxConnections" expected <= ${this.config.maxConnections} open connections, got one more`)
    }
  }

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

  /** Throws ERR_TOO_MANY_CONNECTIONS when a new dial would pass `maxConnections` or `maxPendingDials`. */
  checkDial (peer: string): void {
    if (this.all.size >= this.config.maxConnections) {
      throw new SwitchError('ERR_TOO_MANY_CONNECTIONS', `cannot dial ${peer}: "maxConnections" expected < ${this.config.maxConnections} open connections, got ${this.all.size}`)
    }
    if (this.dials.size >= this.config.maxPendingDials) {
      throw new SwitchError('ERR_TOO_MANY_CONNECTIONS', `cannot dial ${peer}: "maxPendingDials" expected < ${this.config.maxPendingDials} dials in flight, got ${this.dials.size}`)
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
   * May a newly accepted connection start its upgrade? Returns the refusal (at `maxConnections`:
   * no handshake is spent on it) or undefined. At `maxPendingConnections` the OLDEST pending
   * inbound upgrade is cancelled to make room: an honest handshake takes milliseconds, a stalled
   * one is old, so a flood of stalled sockets cannot lock honest peers out.
   */
  admitInbound (remoteAddr: string): SwitchError | undefined {
    if (this.all.size >= this.config.maxConnections) {
      return new SwitchError('ERR_TOO_MANY_CONNECTIONS', `inbound connection from ${remoteAddr}: "maxConnections" expected <= ${this.config.maxConnections} open connections, already at the limit`)
    }
    if (this.pendingInbound >= this.config.maxPendingConnections) {
      for (const p of this.pending) {
        if (p.direction !== 'inbound') continue
        this.untrack(p)
        cancelUpgrade(p, new SwitchError('ERR_TOO_MANY_CONNECTIONS', `"maxPendingConnections" expected <= ${this.config.maxPendingConnections} upgrading connections: closed the oldest (${p.raw.remoteAddr}, stage "${p.stage}", ${Date.now() - p.startedAt} ms old)`))
        break
      }
    }
    return undefined
  }

  track (raw: ByteConnection, direction: 'inbound' | 'outbound'): PendingUpgrade {
    const p: PendingUpgrade = { raw, direction, startedAt: Date.now(), stage: 'multistream', guard: new UpgradeGuard(raw) }
    this.pending.add(p)
    if (direction === 'inbound') this.pendingInbound++
    return p
  }

  untrack (p: PendingUpgrade): void {
    if (this.pending.delete(p) && p.direction === 'inbound') this.pendingInbound--
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
