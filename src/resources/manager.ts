/**
 * The resource manager: one process scope, one scope per peer (created with its first connection,
 * forgotten with its last), one scope per connection. The switch opens a connection scope when a
 * connection is authenticated and hands it to the muxer; the muxer charges receive windows, unread
 * data and streams to it; closing the connection closes the scope and gives everything back.
 *
 * Defaults (go-libp2p's resource manager scales its own from the machine's memory; we pick fixed,
 * documented numbers, docs/limits.md):
 *   process     256 MiB memory, 16384 streams (8192 inbound), 1024 connections
 *   peer         32 MiB memory,  1000 streams (1000 inbound),   16 connections
 *   connection   32 MiB memory,  1024 streams  (256 inbound)
 *   transient     8 MiB memory of pending handshakes (its stream/connection limits are unused:
 *                 pending upgrades are counted by maxPendingConnections and maxPendingDials)
 * A peer at its memory limit has its new streams refused and its streams that receive more data
 * reset (yamux/mplex RST): it is told, its other streams go on, other peers are not touched.
 */
import { SwitchyardError } from '../errors.js'
import { ResourceScope } from './scope.js'
import type { ScopeLimits, ScopeUsage } from './scope.js'

export interface ResourceConfig {
  process: ScopeLimits
  /**
   * Bytes received by upgrades still in their handshake, before the peer is known (upgrade-guard.ts).
   * Only `memoryBytes` applies.
   */
  transient: ScopeLimits
  peer: ScopeLimits
  connection: ScopeLimits
}

const MiB = 1024 * 1024

export const DEFAULT_RESOURCE_CONFIG: Readonly<ResourceConfig> = Object.freeze({
  process: Object.freeze({ memoryBytes: 256 * MiB, streams: 16384, inboundStreams: 8192, connections: 1024 }),
  // An honest handshake brings a few KiB (Noise XX about 1 KiB with identity payloads, TLS a few
  // certificates); 8 MiB holds thousands of those but only 32 upgrades at Noise's full pre-auth
  // cap (4 × 65537 bytes), well below what 64 pending inbound + 64 pending dials could otherwise hold.
  transient: Object.freeze({ memoryBytes: 8 * MiB, streams: 0, inboundStreams: 0, connections: 0 }),
  peer: Object.freeze({ memoryBytes: 32 * MiB, streams: 1000, inboundStreams: 1000, connections: 16 }),
  connection: Object.freeze({ memoryBytes: 32 * MiB, streams: 1024, inboundStreams: 256, connections: 1 })
})

export interface PartialResourceConfig {
  process?: Partial<ScopeLimits>
  transient?: Partial<ScopeLimits>
  peer?: Partial<ScopeLimits>
  connection?: Partial<ScopeLimits>
}

/** Defaults overlaid with `partial`, validated. Throws SwitchyardError(ERR_INVALID_CONFIG) naming the field. */
export function resourceConfig (partial: PartialResourceConfig = {}): ResourceConfig {
  const out = {} as ResourceConfig
  for (const kind of ['process', 'transient', 'peer', 'connection'] as const) {
    const p = partial[kind] ?? {}
    for (const key of Object.keys(p)) {
      if (!(key in DEFAULT_RESOURCE_CONFIG[kind])) {
        throw new SwitchyardError(
          'ERR_INVALID_CONFIG',
          `"resources.${kind}.${key}" is not a resource limit (expected one of memoryBytes, streams, inboundStreams, connections)`
        )
      }
    }
    const limits: ScopeLimits = { ...DEFAULT_RESOURCE_CONFIG[kind] }
    for (const [k, v] of Object.entries(p) as Array<[keyof ScopeLimits, number | undefined]>) {
      if (v !== undefined) limits[k] = v
    }
    for (const [k, v] of Object.entries(limits)) {
      if (typeof v !== 'number' || !(v >= 0) || (v !== Infinity && !Number.isSafeInteger(v))) {
        throw new SwitchyardError(
          'ERR_INVALID_CONFIG',
          `"resources.${kind}.${k}" expected a non-negative integer or Infinity, got ${String(v)}`
        )
      }
    }
    out[kind] = limits
  }
  return out
}

/** `inspect()` of the manager: limits and usage of every live scope. */
export interface ResourcesView {
  process: { limits: ScopeLimits, usage: ScopeUsage }
  /** Pending upgrades' handshake bytes (upgrade-guard.ts `TransientBytes`). */
  transient: { limits: ScopeLimits, usage: ScopeUsage }
  peers: Array<{ peer: string, limits: ScopeLimits, usage: ScopeUsage }>
  connections: Array<{ name: string, peer: string, limits: ScopeLimits, usage: ScopeUsage }>
}

export class ResourceManager {
  readonly config: ResourceConfig
  readonly process: ResourceScope
  /** Charged by the switch's upgrade guards for the bytes of upgrades in flight. */
  readonly transient: ResourceScope
  private readonly peers = new Map<string, ResourceScope>()
  private readonly conns = new Set<ResourceScope>()

  constructor (config: PartialResourceConfig = {}) {
    this.config = resourceConfig(config)
    this.process = new ResourceScope('process', 'process', this.config.process)
    this.transient = new ResourceScope('transient', 'pending upgrades', this.config.transient, this.process)
  }

  /** The scope of `peer` (created on first use). */
  peer (peer: string): ResourceScope {
    let s = this.peers.get(peer)
    if (s === undefined) {
      s = new ResourceScope('peer', `peer ${peer}`, this.config.peer, this.process)
      this.peers.set(peer, s)
    }
    return s
  }

  /**
   * A scope for one new connection to `peer`, counted against the peer's and the process's
   * connection limits; the refusal when either is full. Close the scope when the connection ends.
   */
  openConnection (peer: string, name: string): ResourceScope | SwitchyardError {
    const peerScope = this.peer(peer)
    const scope = new ResourceScope('connection', `${name} (peer ${peer})`, this.config.connection, peerScope)
    const refused = peerScope.addConnection()
    if (refused !== undefined) {
      this.forgetIfIdle(peer, peerScope)
      return refused
    }
    this.conns.add(scope)
    scope.onClose = () => {
      this.conns.delete(scope)
      peerScope.removeConnection()
      this.forgetIfIdle(peer, peerScope)
    }
    return scope
  }

  private forgetIfIdle (peer: string, scope: ResourceScope): void {
    if (scope.empty && this.peers.get(peer) === scope) this.peers.delete(peer)
  }

  inspect (): ResourcesView {
    return {
      process: { limits: { ...this.process.limits }, usage: this.process.usage() },
      transient: { limits: { ...this.transient.limits }, usage: this.transient.usage() },
      peers: [...this.peers].map(([peer, s]) => ({ peer, limits: { ...s.limits }, usage: s.usage() })),
      connections: [...this.conns].map(s => ({
        name: s.name,
        peer: s.parent?.name.replace(/^peer /, '') ?? '',
        limits: { ...s.limits },
        usage: s.usage()
      }))
    }
  }
}
