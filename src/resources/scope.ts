/**
 * Resource accounting in three nested scopes, after go-libp2p's resource manager (`core/network`
 * `ResourceScope`, `p2p/host/resource-manager`), kept small: memory, streams and connections, no
 * priorities, no per-service scopes.
 *
 *     process ── peer ── connection          (a reservation counts in its scope and every ancestor)
 *        └──── transient                      (pending upgrades' handshake bytes, upgrade-guard.ts)
 *
 * A reservation is all or nothing: it succeeds only if the scope and every ancestor stay within
 * their limits, and then it is added to all of them. A refusal returns a `ResourceLimitError`
 * naming the scope that was full (built only on the failure path) and changes nothing. Nothing here
 * allocates on the success path or keeps a timer: the muxers call it per Data frame.
 *
 * `close()` on a scope gives back whatever it still holds, so a connection that ends in the middle
 * of anything (reset streams, buffered data) cannot leak budget into its peer or the process.
 */
import { ResourceLimitError } from '../errors.js'

/**
 * `transient` holds what is not yet tied to a peer: the bytes of upgrades still in their handshake
 * (go-libp2p rcmgr's transient scope, a child of the system scope as ours is of the process).
 */
export type ScopeKind = 'process' | 'transient' | 'peer' | 'connection'
export type StreamDirection = 'inbound' | 'outbound'

/** The limits of one scope. `Infinity` = unlimited. */
export interface ScopeLimits {
  /** Bytes held for the peer: receive windows promised beyond the spec's 256 KiB and unread stream data. */
  memoryBytes: number
  /** Streams open at once, both directions. */
  streams: number
  /** Inbound streams open at once (those the remote opened). */
  inboundStreams: number
  /** Connections open at once (not counted by connection scopes). */
  connections: number
}

/** What a scope holds now, and how often it refused. */
export interface ScopeUsage {
  memoryBytes: number
  inboundStreams: number
  outboundStreams: number
  connections: number
  /** Reservations this scope refused (it was the full one), by resource. */
  refused: { memory: number, streams: number, connections: number }
}

/** The memory side of a scope, which is all the muxers' flow control needs. */
export interface MemoryAccount {
  /** Reserve `n` bytes; undefined on success, the refusal otherwise (nothing reserved then). */
  reserveMemory: (n: number) => ResourceLimitError | undefined
  releaseMemory: (n: number) => void
  /** Bytes that could be reserved now (the smallest headroom up the chain). */
  availableMemory: () => number
}

export class ResourceScope implements MemoryAccount {
  readonly kind: ScopeKind
  /** e.g. the peer id, or `conn 7 (12D3Koo…)`; used in refusal messages. */
  readonly name: string
  readonly limits: Readonly<ScopeLimits>
  readonly parent: ResourceScope | undefined

  memory = 0
  inbound = 0
  outbound = 0
  connections = 0
  readonly refused = { memory: 0, streams: 0, connections: 0 }
  private closedFlag = false
  /** Called once when `close()` runs (the manager forgets the scope). */
  onClose: ((scope: ResourceScope) => void) | undefined

  constructor (kind: ScopeKind, name: string, limits: Readonly<ScopeLimits>, parent?: ResourceScope) {
    this.kind = kind
    this.name = name
    this.limits = limits
    this.parent = parent
  }

  get closed (): boolean { return this.closedFlag }

  // ───────────────────────── memory ─────────────────────────

  reserveMemory (n: number): ResourceLimitError | undefined {
    if (n <= 0) return undefined
    if (this.closedFlag) return this.refuse('memory', `"${this.kind} memory" of ${this.name}: the scope is closed`)
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      if (s.memory + n > s.limits.memoryBytes) {
        s.refused.memory++
        return s.refuse(
          'memory',
          `"${s.kind} memory" expected <= ${s.limits.memoryBytes} bytes, got ${s.memory + n} (${s.name}${
            s === this ? '' : `, for ${this.name}`
          })`
        )
      }
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) s.memory += n
    return undefined
  }

  releaseMemory (n: number): void {
    if (n <= 0) return
    if (n > this.memory) {
      throw new Error(`ResourceScope invariant: ${this.name} released ${n} bytes of memory, holds ${this.memory}`)
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) s.memory -= n
  }

  availableMemory (): number {
    let avail = Infinity
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      avail = Math.min(avail, s.limits.memoryBytes - s.memory)
    }
    return Math.max(0, avail)
  }

  // ───────────────────────── streams ─────────────────────────

  /** Count one more stream in `direction`; undefined on success, the refusal otherwise. */
  addStream (direction: StreamDirection): ResourceLimitError | undefined {
    if (this.closedFlag) return this.refuse('streams', `"${this.kind} streams" of ${this.name}: the scope is closed`)
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      if (s.inbound + s.outbound + 1 > s.limits.streams) {
        s.refused.streams++
        return s.refuse(
          'streams',
          `"${s.kind} streams" expected <= ${s.limits.streams} open streams, got one more (${s.name}${
            s === this ? '' : `, for ${this.name}`
          })`
        )
      }
      if (direction === 'inbound' && s.inbound + 1 > s.limits.inboundStreams) {
        s.refused.streams++
        return s.refuse(
          'streams',
          `"${s.kind} inbound streams" expected <= ${s.limits.inboundStreams} open inbound streams, got one more (${s.name}${
            s === this ? '' : `, for ${this.name}`
          })`
        )
      }
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      if (direction === 'inbound') s.inbound++
      else s.outbound++
    }
    return undefined
  }

  removeStream (direction: StreamDirection): void {
    const held = direction === 'inbound' ? this.inbound : this.outbound
    if (held <= 0) {
      throw new Error(`ResourceScope invariant: ${this.name} removed an ${direction} stream it does not hold`)
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      if (direction === 'inbound') s.inbound--
      else s.outbound--
    }
  }

  // ───────────────────────── connections ─────────────────────────

  /** Count one more connection in this scope's ancestors (called on a new connection scope). */
  addConnection (): ResourceLimitError | undefined {
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) {
      if (s.connections + 1 > s.limits.connections) {
        s.refused.connections++
        return s.refuse(
          'connections',
          `"${s.kind} connections" expected <= ${s.limits.connections} open connections, got one more (${s.name}${
            s === this ? '' : `, for ${this.name}`
          })`
        )
      }
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) s.connections++
    return undefined
  }

  removeConnection (): void {
    if (this.connections <= 0) {
      throw new Error(`ResourceScope invariant: ${this.name} removed a connection it does not hold`)
    }
    for (let s: ResourceScope | undefined = this; s !== undefined; s = s.parent) s.connections--
  }

  // ───────────────────────── lifecycle ─────────────────────────

  /** Give back everything this scope still holds (idempotent); later reservations are refused. */
  close (): void {
    if (this.closedFlag) return
    this.closedFlag = true
    if (this.memory > 0) this.releaseMemory(this.memory)
    while (this.inbound > 0) this.removeStream('inbound')
    while (this.outbound > 0) this.removeStream('outbound')
    while (this.connections > 0) this.removeConnection()
    this.onClose?.(this)
  }

  /** Nothing held (a peer scope with no connection left can be forgotten). */
  get empty (): boolean {
    return this.memory === 0 && this.inbound === 0 && this.outbound === 0 && this.connections === 0
  }

  usage (): ScopeUsage {
    return {
      memoryBytes: this.memory,
      inboundStreams: this.inbound,
      outboundStreams: this.outbound,
      connections: this.connections,
      refused: { ...this.refused }
    }
  }

  private refuse (resource: 'memory' | 'streams' | 'connections', message: string): ResourceLimitError {
    return new ResourceLimitError(this.kind, resource, message)
  }
}

/**
 * A stand-alone memory account with one limit and no parent: what a muxer uses when nobody hands
 * it a scope (tests, the muxers used on their own).
 */
export function standaloneConnectionScope (memoryBytes: number, name = 'connection'): ResourceScope {
  return new ResourceScope('connection', name, {
    memoryBytes,
    streams: Infinity,
    inboundStreams: Infinity,
    connections: Infinity
  })
}
