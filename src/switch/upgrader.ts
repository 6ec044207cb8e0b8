/**
 * Turns a raw TCP connection into an authenticated, multiplexed one (specs digest §2.2, §3.9, §8.3):
 *
 *   raw TCP ─► multistream `/noise` ─► Noise XX ─► [multistream `/yamux/1.0.0`] ─► muxer
 *
 * The muxer step is skipped when Noise's early (inlined) muxer negotiation agreed on a muxer
 * (go ≥ 0.24, js-noise ≥ 16.1, switchyard); rust and nim send no list, so it runs then.
 *
 * Dialer flights (what makes the 3-RTT budget of digest §8.3):
 *
 *   1. `/multistream/1.0.0` `/noise` ‖ Noise msg 1            lazy select: no wait for the echo
 *   2. (listener: header, echo ‖ msg 2)
 *   3. msg 3 ‖ [early muxer: yamux frames at once
 *              | one muxer: `/multistream/1.0.0` `/yamux/1.0.0` ‖ yamux frames (lazy again)
 *              | several muxers: `/multistream/1.0.0` `/yamux/1.0.0`, wait for the answer]
 *
 * With several muxers and no early negotiation the dialer cannot be lazy: after an `na` it must
 * propose the next one, and bytes it had already sent would be read as that proposal (§2.3).
 *
 * Bytes read past each negotiation are handed to the next layer (`initialBytes`, TL;DR 2).
 *
 * Limits: one deadline (`handshakeTimeoutMs`) covers the whole upgrade; `UpgradeGuard` caps what an
 * unauthenticated peer may send. Any failure aborts the connection and rejects with a typed error.
 */
import type { ByteConnection, StreamMuxer } from '../connection.js'
import { SwitchError, SwitchyardError } from '../errors.js'
import { selectOnConnectionLazy } from '../multistream/lazy-connection.js'
import { handleOnConnection, selectOnConnection } from '../multistream/negotiate.js'
import { PROTOCOL_ID as NOISE_PROTOCOL_ID } from '../security/constants.js'
import type { PrivateKey, PublicKey } from '../security/keys.js'
import type { PeerId } from '../security/peer-id.js'
import { secureInbound, secureOutbound } from '../security/secure-connection.js'
import type { SecureResult } from '../security/secure-connection.js'
import type { TraceObserver } from '../trace/observer.js'
import type { NoiseKeys } from '../trace/keylog.js'
import { MAX_MULTISTREAM_STAGE_BYTES, MAX_PREAUTH_BYTES, UpgradeGuard } from './upgrade-guard.js'

/** Creates a muxer over an upgraded connection (createYamux, createMplex). */
export type MuxerFactory = (conn: ByteConnection, opts: { initiator: boolean, initialBytes?: Uint8Array[], observer?: TraceObserver }) => StreamMuxer

export type UpgradeStage = 'multistream' | 'noise' | 'muxer' | 'done'

/** A connection in the middle of its upgrade, as the switch tracks it. */
export interface UpgradeProgress {
  stage: UpgradeStage
  /** The guard counting the connection's bytes (for introspection). */
  readonly guard: UpgradeGuard
}

export interface UpgradeOptions {
  identity: PrivateKey
  /** Dialer: the peer we expect at the other end. */
  expectedPeer?: PeerId
  /** Muxer protocol ids in preference order, each with its factory. */
  muxers: ReadonlyArray<readonly [string, MuxerFactory]>
  handshakeTimeoutMs: number
  /**
   * Largest multistream message accepted from the peer in the `/noise` and muxer negotiations
   * (the switch's `maxNegotiationMessageBytes`; default 1024).
   */
  maxNegotiationMessageBytes?: number
  /**
   * List our muxers in the Noise handshake for early negotiation (digest §3.9). Default true; false
   * behaves like rust and nim (the muxer is then always negotiated with multistream-select).
   */
  earlyMuxerNegotiation?: boolean
  observer?: TraceObserver
  /**
   * Key log (`--keylog`, src/trace/keylog.ts): receives the connection's Noise keys once the
   * handshake is done. Absent by default, and then the keys never leave the security layer.
   */
  keyLog?: (keys: NoiseKeys) => void
  /** Receives stage changes (for introspection). */
  progress?: UpgradeProgress
}

export interface Upgraded {
  remotePeer: PeerId
  remotePublicKey: PublicKey
  muxer: StreamMuxer
  muxerNegotiation: 'early' | 'multistream'
}

/** Milliseconds left until `deadline`, as the layers' timers take them: whole, 1 … 2^31-1. */
function remaining (deadline: number): number {
  return Math.max(1, Math.min(0x7fffffff, Math.ceil(deadline - performance.now())))
}

/**
 * Run `work` against the upgrade deadline: when it passes, `raw` is aborted (so whatever layer is
 * waiting fails at once) and the upgrade rejects with ERR_HANDSHAKE_TIMEOUT naming the stage.
 */
async function withDeadline<T> (raw: ByteConnection, opts: UpgradeOptions, work: (deadline: number) => Promise<T>): Promise<T> {
  const ms = opts.handshakeTimeoutMs
  const deadline = performance.now() + ms
  let timer: ReturnType<typeof setTimeout> | undefined
  let timedOut: SwitchyardError | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    if (ms === Infinity) return
    timer = setTimeout(() => {
      const stage = opts.progress?.stage ?? 'upgrade'
      timedOut = new SwitchError('ERR_HANDSHAKE_TIMEOUT', `connection upgrade with ${raw.remoteAddr} expected to finish within ${ms} ms, still in stage "${stage}"`)
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
    if (!raw.closed) raw.abort(err as Error)
    throw timedOut ?? err
  } finally {
    clearTimeout(timer)
  }
}

function stage (opts: UpgradeOptions, s: UpgradeStage): void {
  if (opts.progress !== undefined) opts.progress.stage = s
}

/** The muxers we list in the Noise handshake; `[]` announces none (Noise then sends no list). */
function announced (opts: UpgradeOptions): string[] {
  return opts.earlyMuxerNegotiation === false ? [] : opts.muxers.map(([id]) => id)
}

function factoryFor (opts: UpgradeOptions, protocol: string): MuxerFactory {
  for (const [id, f] of opts.muxers) if (id === protocol) return f
  // Only protocols we offered can come back from a negotiation.
  throw new SwitchError('ERR_PROTOCOL_VIOLATION', `muxer "${protocol}" was negotiated but is not configured`)
}

/** Upgrade a connection we dialed. `raw` is aborted on failure. */
export async function upgradeOutbound (raw: ByteConnection, opts: UpgradeOptions): Promise<Upgraded> {
  const guard = opts.progress?.guard ?? new UpgradeGuard(raw)
  return await withDeadline(raw, opts, async (deadline) => {
    const muxerIds = announced(opts)
    stage(opts, 'noise')
    // Flight 1: header + /noise + Noise msg 1 (secureOutbound writes msg 1 synchronously, and the
    // lazy selection puts the header and proposal in front of that first write).
    const lazy = selectOnConnectionLazy(guard, NOISE_PROTOCOL_ID, { timeoutMs: remaining(deadline), maxMessageBytes: opts.maxNegotiationMessageBytes, observer: opts.observer }).connection
    const secure = await secureOutbound(lazy, {
      identity: opts.identity,
      expectedPeer: opts.expectedPeer,
      muxers: muxerIds,
      handshakeTimeoutMs: remaining(deadline),
      observer: opts.observer,
      exposeKeys: opts.keyLog !== undefined
    })
    logKeys(raw, secure, 'initiator', opts)
    guard.release()
    stage(opts, 'muxer')
    return await startMuxer(secure, true, opts, deadline)
  })
}

/** Upgrade a connection we accepted. `raw` is aborted on failure. */
export async function upgradeInbound (raw: ByteConnection, opts: UpgradeOptions): Promise<Upgraded> {
  const guard = opts.progress?.guard ?? new UpgradeGuard(raw)
  return await withDeadline(raw, opts, async (deadline) => {
    const muxerIds = announced(opts)
    stage(opts, 'multistream')
    guard.limit = MAX_MULTISTREAM_STAGE_BYTES
    const { leftover } = await handleOnConnection(guard, [NOISE_PROTOCOL_ID], { timeoutMs: remaining(deadline), maxMessageBytes: opts.maxNegotiationMessageBytes, observer: opts.observer })
    guard.limit = MAX_PREAUTH_BYTES
    stage(opts, 'noise')
    const secure = await secureInbound(guard, {
      identity: opts.identity,
      muxers: muxerIds,
      handshakeTimeoutMs: remaining(deadline),
      initialBytes: leftover,
      observer: opts.observer,
      exposeKeys: opts.keyLog !== undefined
    })
    logKeys(raw, secure, 'responder', opts)
    guard.release()
    stage(opts, 'muxer')
    return await startMuxer(secure, false, opts, deadline)
  })
}

/** Hand the connection's keys to the key log, if one was asked for. */
function logKeys (raw: ByteConnection, secure: SecureResult, role: 'initiator' | 'responder', opts: UpgradeOptions): void {
  const keys = secure.keys
  if (opts.keyLog === undefined || keys === undefined) return
  opts.keyLog({
    localAddr: raw.localAddr,
    remoteAddr: raw.remoteAddr,
    role,
    initiatorToResponder: keys.k1,
    responderToInitiator: keys.k2,
    handshakeHash: secure.handshakeHash,
    handshakeKeys: keys.handshake
  })
}

async function startMuxer (secure: SecureResult, initiator: boolean, opts: UpgradeOptions, deadline: number): Promise<Upgraded> {
  const done = (muxer: StreamMuxer, how: 'early' | 'multistream'): Upgraded => {
    stage(opts, 'done')
    return { remotePeer: secure.remotePeer, remotePublicKey: secure.remotePublicKey, muxer, muxerNegotiation: how }
  }
  const observer = opts.observer
  const maxMessageBytes = opts.maxNegotiationMessageBytes
  if (secure.muxer !== undefined) {
    // digest §3.9: both sides listed muxers in the handshake; frames start right away.
    return done(factoryFor(opts, secure.muxer)(secure.conn, { initiator, observer }), 'early')
  }
  const conn = secure.conn
  if (initiator) {
    if (opts.muxers.length === 1) {
      const [id, factory] = opts.muxers[0] as readonly [string, MuxerFactory]
      const lazy = selectOnConnectionLazy(conn, id, { timeoutMs: remaining(deadline), maxMessageBytes, observer }).connection
      return done(factory(lazy, { initiator, observer }), 'multistream')
    }
    const { protocol, leftover } = await selectOnConnection(conn, opts.muxers.map(([id]) => id), { timeoutMs: remaining(deadline), maxMessageBytes, observer })
    return done(factoryFor(opts, protocol)(conn, { initiator, initialBytes: leftover, observer }), 'multistream')
  }
  const { protocol, leftover } = await handleOnConnection(conn, opts.muxers.map(([id]) => id), { timeoutMs: remaining(deadline), maxMessageBytes, observer })
  return done(factoryFor(opts, protocol)(conn, { initiator, initialBytes: leftover, observer }), 'multistream')
}
