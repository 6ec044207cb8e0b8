/**
 * The switch's typed events. A tiny synchronous emitter rather than `EventTarget`/`CustomEvent`:
 * listeners get the payload object itself, fully typed, and a listener that throws is isolated
 * (reported on stderr) so an observer can never break the switch.
 */
import type { Multiaddr } from '../transport/multiaddr.js'
import type { PeerConnection, PeerIdentity } from './peer-connection.js'
import type { UpgradeStage } from './upgrader.js'
import { toError } from '../errors.js'

/** Where a connection attempt failed. */
export type ConnectionErrorStage = UpgradeStage | 'dial' | 'limit' | 'stop'

/** The switch's events (`sw.on(name, fn)`). */
export interface SwitchEvents {
  /** Listening started; `addrs` carry the real ports. */
  listening: { addrs: readonly Multiaddr[] }
  /** A connection finished its upgrade and is usable. */
  'connection:open': { connection: PeerConnection }
  /** A connection is gone; `error` is set when it ended abnormally. */
  'connection:close': { connection: PeerConnection, error: Error | undefined }
  /**
   * The connection manager is closing this connection (watermarks, or room at `maxConnections`); `connection:close`
   * follows.
   */
  'connection:trim': { connection: PeerConnection, reason: string }
  /**
   * A connection failed before it was usable: refused by a limit, a bad or stalled handshake, a
   * peer id mismatch. The connection is closed; nothing else is affected.
   */
  'connection:error': {
    direction: 'inbound' | 'outbound',
    remoteAddr: string,
    stage: ConnectionErrorStage,
    error: Error
  }
  /**
   * A stream failed: negotiation (unknown protocol, garbage, timeout), a limit, or a handler that
   * threw. That stream was reset; the connection goes on.
   */
  'protocol:error': {
    connection: PeerConnection,
    streamId: number,
    protocol: string | undefined,
    stage: 'limit' | 'negotiation' | 'handler',
    error: Error
  }
  /** identify answered on a connection. */
  identify: { connection: PeerConnection, identity: PeerIdentity }
}

export class TypedEmitter<Events extends object> {
  private readonly eventListeners = new Map<keyof Events, Set<(ev: never) => void>>()

  /** Call `fn` for every `name` event. Returns a function that removes the listener. */
  on<K extends keyof Events> (name: K, fn: (ev: Events[K]) => void): () => void {
    let set = this.eventListeners.get(name)
    if (set === undefined) { set = new Set(); this.eventListeners.set(name, set) }
    set.add(fn as (ev: never) => void)
    return () => this.off(name, fn)
  }

  /** Call `fn` for the next `name` event only. */
  once<K extends keyof Events> (name: K, fn: (ev: Events[K]) => void): () => void {
    const off = this.on(name, (ev) => { off(); fn(ev) })
    return off
  }

  off<K extends keyof Events> (name: K, fn: (ev: Events[K]) => void): void {
    this.eventListeners.get(name)?.delete(fn as (ev: never) => void)
  }

  /** Resolve with the next `name` event for which `filter` holds (tests and tools). */
  next<K extends keyof Events> (name: K, filter: (ev: Events[K]) => boolean = () => true): Promise<Events[K]> {
    return new Promise(resolve => {
      const off = this.on(name, (ev) => { if (filter(ev)) { off(); resolve(ev) } })
    })
  }

  listenerCount (name: keyof Events): number {
    return this.eventListeners.get(name)?.size ?? 0
  }

  protected emit<K extends keyof Events> (name: K, ev: Events[K]): void {
    const set = this.eventListeners.get(name)
    if (set === undefined || set.size === 0) return
    for (const fn of [...set]) {
      try {
        (fn as (ev: Events[K]) => void)(ev)
      } catch (err) {
        // An observer bug must not break the switch; say so once, where a developer looks.
        process.emitWarning(`switchyard: a "${String(name)}" listener threw: ${toError(err).stack ?? String(err)}`)
      }
    }
  }
}
