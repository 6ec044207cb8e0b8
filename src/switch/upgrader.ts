/**
 * Turns a raw connection (a Transport's `{ kind: 'raw' }`) into an authenticated, multiplexed one
 * (libp2p specs connections/README.md "Upgrading connections"):
 *
 *   raw ─► multistream <security id> ─► security handshake ─► [multistream <muxer id>] ─► muxer
 *
 * The security protocols and muxers are the switch's lists, in preference order (SecurityProtocol,
 * StreamMuxerFactory in src/connection.ts); nothing here knows a concrete one. The muxer step is
 * skipped when the handshake agreed on a muxer itself (`earlyMuxer`: Noise extensions, TLS ALPN;
 * specs connections/inlined-muxer-negotiation.md).
 *
 * Dialer flights with one security protocol (the 3-RTT budget of a lazy dial):
 *
 *   1. `/multistream/1.0.0` `<security>` ‖ first handshake message     lazy select: no wait for the echo
 *   2. (listener: header, echo ‖ its handshake answer)
 *   3. the handshake's last message ‖ [early muxer: muxer frames at once
 *              | one muxer: `/multistream/1.0.0` `/yamux/1.0.0` ‖ muxer frames (lazy again)
 *              | several muxers: header + first muxer id, wait for the answer]
 *
 * With several security protocols (or several muxers and no early negotiation) the dialer cannot
 * be lazy: after an `na` it must propose the next one, and bytes it had already sent would be read
 * as that proposal (multistream-select: a listener answers each proposal in turn).
 *
 * Bytes read past each negotiation are handed to the next layer (`initialBytes`).
 *
 * Limits: one deadline (`handshakeTimeoutMs`) covers the whole upgrade; `UpgradeGuard` caps what an
 * unauthenticated peer may send (MAX_MULTISTREAM_STAGE_BYTES while the security protocol is being
 * chosen, then the chosen protocol's `maxPreAuthBytes`). Any failure aborts the connection and
 * rejects with a typed error.
 */
import type { ResourceManager } from '../resources/manager.js'
import type { ResourceScope } from '../resources/scope.js'
import type {
  ByteConnection,
  SecureConnectionOptions,
  SecuredConnection,
  SecurityProtocol,
  StreamLimits,
  StreamMuxer,
  StreamMuxerFactory,
  UpgradedConnection
} from '../connection.js'
import { SwitchError, SwitchyardError, toError } from '../errors.js'
import { selectOnConnectionLazy } from '../multistream/lazy-connection.js'
import { handleOnConnection, selectOnConnection } from '../multistream/negotiate.js'
import type { PrivateKey } from '../security/keys.js'
import type { PeerId } from '../security/peer-id.js'
import type { TraceObserver } from '../trace/observer.js'
import { DEFAULT_MAX_PREAUTH_BYTES, MAX_MULTISTREAM_STAGE_BYTES, UpgradeGuard } from './upgrade-guard.js'

/** `security`: the handshake (the protocol id is on the progress once chosen). */
export type UpgradeStage = 'multistream' | 'security' | 'muxer' | 'done'

/** A connection in the middle of its upgrade, as the switch tracks it. */
export interface UpgradeProgress {
  stage: UpgradeStage
  /** The security protocol id, once multistream chose it. */
  security?: string
  /** The guard counting the connection's bytes (for introspection). */
  readonly guard: UpgradeGuard
}

export interface UpgradeOptions {
  identity: PrivateKey
  /** Dialer: the peer we expect at the other end. */
  expectedPeer?: PeerId
  /** Security protocols in preference order (the dialer proposes them in this order). */
  security: readonly SecurityProtocol[]
  /** Muxers in preference order. */
  muxers: readonly StreamMuxerFactory[]
  /** The switch's stream limits, handed to the muxer created. */
  limits?: StreamLimits
  /**
   * Resource accounting: once the peer is authenticated, a connection scope is opened for it
   * (refused → the upgrade fails with the ResourceLimitError) and handed to the muxer.
   */
  resources?: ResourceManager
  handshakeTimeoutMs: number
  /**
   * Largest multistream message accepted from the peer in the security and muxer negotiations
   * (the switch's `maxNegotiationMessageBytes`; default 1024).
   */
  maxNegotiationMessageBytes?: number
  /**
   * Offer our muxers inside the security handshake (Noise extensions, TLS ALPN). Default true;
   * false behaves like rust and nim (the muxer is then always negotiated with multistream-select).
   */
  earlyMuxerNegotiation?: boolean
  observer?: TraceObserver
  /** Key log sink (`--keylog`): receives the security protocol's key log lines. Absent by default. */
  keyLog?: (line: string) => void
  /** Receives stage changes (for introspection). */
  progress?: UpgradeProgress
}

/** Milliseconds left until `deadline`, as the layers' timers take them: whole, 1 … 2^31-1. */
function remaining (deadline: number): number {
  return Math.max(1, Math.min(0x7fffffff, Math.ceil(deadline - performance.now())))
}

/**
 * Run `work` against the upgrade deadline: when it passes, `raw` is aborted (so whatever layer is
 * waiting fails at once) and the upgrade rejects with ERR_HANDSHAKE_TIMEOUT naming the stage.
 */
async function withDeadline<T> (
  raw: ByteConnection,
  opts: UpgradeOptions,
  work: (deadline: number) => Promise<T>
): Promise<T> {
  const ms = opts.handshakeTimeoutMs
  const deadline = performance.now() + ms
  let timer: ReturnType<typeof setTimeout> | undefined
  let timedOut: SwitchyardError | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    if (ms === Infinity) return
    timer = setTimeout(() => {
      const stage = opts.progress?.stage ?? 'upgrade'
      // Name the layer that was waiting: the security protocol's id once multistream chose it.
      const layer = stage === 'security' ? opts.progress?.security ?? stage : stage
      timedOut = new SwitchError(
        'ERR_HANDSHAKE_TIMEOUT',
        `${layer}: handshake with ${raw.remoteAddr} timed out after ${ms} ms (stage "${stage}"): the peer stalled`
      )
      raw.abort(timedOut)
      reject(timedOut)
    }, ms)
  })
  expired.catch(() => {})
  const running = work(deadline)
  running.catch(() => {})
  try {
    return await Promise.race([running, expired])
  } catch (err) {
    if (!raw.closed) raw.abort(toError(err))
    throw timedOut ?? err
  } finally {
    clearTimeout(timer)
  }
}

function stage (opts: UpgradeOptions, s: UpgradeStage): void {
  if (opts.progress !== undefined) opts.progress.stage = s
}

function securityFor (opts: UpgradeOptions, protocol: string): SecurityProtocol {
  for (const s of opts.security) if (s.protocol === protocol) return s
  // Only protocols we offered can come back from a negotiation.
  throw new SwitchError(
    'ERR_PROTOCOL_VIOLATION',
    `security protocol "${protocol}" was negotiated but is not configured`
  )
}

function muxerFor (opts: UpgradeOptions, protocol: string): StreamMuxerFactory {
  for (const m of opts.muxers) if (m.protocol === protocol) return m
  throw new SwitchError('ERR_PROTOCOL_VIOLATION', `muxer "${protocol}" was negotiated but is not configured`)
}

/** Enter the handshake of `security`: the guard's budget becomes that protocol's. */
function chosen (opts: UpgradeOptions, guard: UpgradeGuard, security: SecurityProtocol): void {
  guard.limit = security.maxPreAuthBytes ?? DEFAULT_MAX_PREAUTH_BYTES
  if (opts.progress !== undefined) opts.progress.security = security.protocol
  stage(opts, 'security')
}

function secureOptions (
  opts: UpgradeOptions,
  deadline: number,
  initialBytes: readonly Uint8Array[] | undefined
): SecureConnectionOptions {
  const o: SecureConnectionOptions = {
    identity: opts.identity,
    // The muxers we list in the handshake; `[]` announces none (the muxer is then negotiated after).
    muxers: opts.earlyMuxerNegotiation === false ? [] : opts.muxers.map(m => m.protocol),
    handshakeTimeoutMs: remaining(deadline)
  }
  if (opts.expectedPeer !== undefined) o.expectedPeer = opts.expectedPeer
  if (initialBytes !== undefined && initialBytes.length > 0) o.initialBytes = initialBytes
  if (opts.observer !== undefined) o.observer = opts.observer
  if (opts.keyLog !== undefined) o.keyLog = opts.keyLog
  return o
}

/** Upgrade a connection we dialed. `raw` is aborted on failure. */
export async function upgradeOutbound (raw: ByteConnection, opts: UpgradeOptions): Promise<UpgradedConnection> {
  const guard = opts.progress?.guard ?? new UpgradeGuard(raw)
  return await withDeadline(raw, opts, async (deadline) => {
    const timing = { maxMessageBytes: opts.maxNegotiationMessageBytes, observer: opts.observer }
    let security: SecurityProtocol
    let secured: SecuredConnection
    if (opts.security.length === 1) {
      // Flight 1: header + proposal + the first handshake message (the protocol writes it
      // synchronously, and the lazy selection puts the header and proposal in front of that write).
      security = opts.security[0] as SecurityProtocol
      chosen(opts, guard, security)
      const lazy =
        selectOnConnectionLazy(guard, security.protocol, { timeoutMs: remaining(deadline), ...timing }).connection
      secured = await security.secureOutbound(lazy, secureOptions(opts, deadline, undefined))
    } else {
      // Several proposals: we must wait for the listener's answer before the handshake starts
      // (after an `na` the next proposal follows, and handshake bytes sent early would be read as
      // one). That costs one round trip more than the lazy single-protocol dial above.
      stage(opts, 'multistream')
      guard.limit = MAX_MULTISTREAM_STAGE_BYTES
      const { protocol, leftover } = await selectOnConnection(guard, opts.security.map(s => s.protocol), {
        timeoutMs: remaining(deadline),
        ...timing
      })
      security = securityFor(opts, protocol)
      chosen(opts, guard, security)
      secured = await security.secureOutbound(guard, secureOptions(opts, deadline, leftover))
    }
    guard.release()
    stage(opts, 'muxer')
    return await startMuxer(raw, security, secured, true, opts, deadline)
  })
}

/** Upgrade a connection we accepted. `raw` is aborted on failure. */
export async function upgradeInbound (raw: ByteConnection, opts: UpgradeOptions): Promise<UpgradedConnection> {
  const guard = opts.progress?.guard ?? new UpgradeGuard(raw)
  return await withDeadline(raw, opts, async (deadline) => {
    stage(opts, 'multistream')
    guard.limit = MAX_MULTISTREAM_STAGE_BYTES
    const { protocol, leftover } = await handleOnConnection(guard, opts.security.map(s => s.protocol), {
      timeoutMs: remaining(deadline),
      maxMessageBytes: opts.maxNegotiationMessageBytes,
      observer: opts.observer
    })
    const security = securityFor(opts, protocol)
    chosen(opts, guard, security)
    const secured = await security.secureInbound(guard, secureOptions(opts, deadline, leftover))
    guard.release()
    stage(opts, 'muxer')
    return await startMuxer(raw, security, secured, false, opts, deadline)
  })
}

async function startMuxer (
  raw: ByteConnection,
  security: SecurityProtocol,
  secured: SecuredConnection,
  initiator: boolean,
  opts: UpgradeOptions,
  deadline: number
): Promise<UpgradedConnection> {
  let scope: ResourceScope | undefined
  if (opts.resources !== undefined) {
    const opened = opts.resources.openConnection(secured.remotePeer.toString(), `${raw.direction} ${raw.remoteAddr}`)
    if (opened instanceof Error) throw opened
    scope = opened
  }
  try {
    return await startMuxerIn(raw, security, secured, initiator, opts, deadline, scope)
  } catch (err) {
    scope?.close()
    throw err
  }
}

async function startMuxerIn (
  raw: ByteConnection,
  security: SecurityProtocol,
  secured: SecuredConnection,
  initiator: boolean,
  opts: UpgradeOptions,
  deadline: number,
  scope: ResourceScope | undefined
): Promise<UpgradedConnection> {
  const done = (muxer: StreamMuxer, how: 'early' | 'multistream'): UpgradedConnection => {
    stage(opts, 'done')
    return {
      ...(scope !== undefined ? { resources: scope } : {}),
      remotePeer: secured.remotePeer,
      remoteKey: secured.remoteKey,
      muxer,
      security: security.protocol,
      muxerNegotiation: how,
      remoteAddr: raw.remoteAddr,
      localAddr: raw.localAddr,
      direction: raw.direction
    }
  }
  const observer = opts.observer
  const maxMessageBytes = opts.maxNegotiationMessageBytes
  const create = (
    factory: StreamMuxerFactory,
    conn: ByteConnection,
    initialBytes: readonly Uint8Array[] | undefined
  ): StreamMuxer => {
    const o: Parameters<StreamMuxerFactory['create']>[1] = { initiator }
    if (initialBytes !== undefined && initialBytes.length > 0) o.initialBytes = initialBytes
    if (observer !== undefined) o.observer = observer
    if (opts.limits !== undefined) o.limits = opts.limits
    if (scope !== undefined) o.resources = scope
    return factory.create(conn, o)
  }
  const conn = secured.connection
  if (secured.earlyMuxer !== undefined) {
    // Both sides listed muxers in the handshake; frames start right away.
    return done(create(muxerFor(opts, secured.earlyMuxer), conn, undefined), 'early')
  }
  if (initiator) {
    if (opts.muxers.length === 1) {
      const factory = opts.muxers[0] as StreamMuxerFactory
      const lazy =
        selectOnConnectionLazy(conn, factory.protocol, { timeoutMs: remaining(deadline), maxMessageBytes, observer })
          .connection
      return done(create(factory, lazy, undefined), 'multistream')
    }
    const { protocol, leftover } = await selectOnConnection(conn, opts.muxers.map(m => m.protocol), {
      timeoutMs: remaining(deadline),
      maxMessageBytes,
      observer
    })
    return done(create(muxerFor(opts, protocol), conn, leftover), 'multistream')
  }
  const { protocol, leftover } = await handleOnConnection(conn, opts.muxers.map(m => m.protocol), {
    timeoutMs: remaining(deadline),
    maxMessageBytes,
    observer
  })
  return done(create(muxerFor(opts, protocol), conn, leftover), 'multistream')
}
