/**
 * Every limit of the switch in one object: defaults, plus validation at construction
 * (hashicorp yamux `mux.go` `DefaultConfig`/`VerifyConfig`). Units are in the names.
 *
 * Exceeding a limit is an error for that peer only: its connection (or stream) is closed and the
 * switch reports it through its events; nothing else is delayed.
 */
import type { SecurityProtocol, StreamMuxerFactory, Transport } from '../connection.js'
import { SwitchError } from '../errors.js'
import { HEADER_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from '../multistream/constants.js'

export interface SwitchConfig {
  /**
   * Upgraded connections (all peers, both directions) kept open at once. An inbound connection past
   * the limit is closed once its peer is known; a dial past it fails with ERR_TOO_MANY_CONNECTIONS.
   */
  maxConnections: number
  /**
   * Inbound connections still upgrading (multistream, Noise, muxer selection). When a new one
   * arrives at the limit, the OLDEST pending one is closed to make room: an honest handshake takes
   * milliseconds, a stalled one is old, so a flood of stalled sockets cannot lock honest peers out.
   */
  maxPendingConnections: number
  /**
   * Inbound connections still upgrading from one remote address (the IP, without port) at once. One
   * more from that address is closed at once, before any handshake: a flood from one host cannot
   * take the slots (`maxPendingConnections`) honest hosts need.
   */
  maxPendingConnectionsPerAddress: number
  /**
   * Connection manager (go-libp2p `p2p/net/connmgr` BasicConnMgr): when more than
   * `connectionsHighWater` connections are open, the least valuable are closed until
   * `connectionsLowWater` remain. Candidates are connections past `connectionGracePeriodMs` whose
   * peer is not protected (`protect()`) and that have no open stream; the longest idle go first.
   * Default: 7/8 of `maxConnections` (224).
   */
  connectionsHighWater: number
  /** Where trimming stops (see `connectionsHighWater`); 0 … high water - 1. Default: 3/4 of `maxConnections` (192). */
  connectionsLowWater: number
  /**
   * How long a new connection is spared from trimming (its peer has had no chance to open a stream
   * yet). At `maxConnections` a new connection is admitted only if an older one can be trimmed.
   */
  connectionGracePeriodMs: number
  /**
   * How often the connection manager checks the watermarks on its own (go connmgr: every minute),
   * besides each time a connection opens: connections that went idle or left their grace period
   * since are trimmed then. Default 60 s.
   */
  connectionTrimIntervalMs: number
  /** Dials still connecting/upgrading at once; a dial past the limit fails with ERR_TOO_MANY_CONNECTIONS. */
  maxPendingDials: number
  /** Inbound streams open at once on one connection; the stream past the limit is reset. */
  maxInboundStreamsPerConnection: number
  /** Outbound streams open at once on one connection; `newStream` past the limit throws ERR_TOO_MANY_STREAMS. */
  maxOutboundStreamsPerConnection: number
  /**
   * Largest multistream-select message accepted from a peer, length prefix value including the
   * newline (go-multistream, js-libp2p and nim-libp2p use 1024), for every negotiation: security and muxer on
   * the connection, and each stream's protocol. A larger declared length is refused at its prefix,
   * before the body is read (MultistreamError ERR_MESSAGE_TOO_LARGE): the upgrade fails / that stream
   * is reset, nothing else. 19 (the multistream header) … 1024 (multistream `resolveMaxMessageBytes`
   * says why not rust's 16383). A protocol mounted with an id longer than this can never be chosen.
   */
  maxNegotiationMessageBytes: number
  /**
   * Time allowed for the whole upgrade of one connection: multistream-select of the security
   * protocol, its handshake and the muxer selection. A connection still upgrading after it is closed.
   */
  handshakeTimeoutMs: number
  /** Time allowed for multistream-select on one new stream (either side); the stream is reset after it. */
  streamNegotiationTimeoutMs: number
  /** Time allowed for the TCP connect of one dial attempt. */
  dialTimeoutMs: number
  /** `stop()`: how long open streams may take to finish after GoAway before they are reset. */
  stopTimeoutMs: number
  /** Bound on one identify exchange run in the background on each new connection. */
  identifyTimeoutMs: number
}

/**
 * The defaults, chosen to match what go/js/nim peers expect (go-multistream, js-libp2p and nim-libp2p cap messages at
 * 1024 bytes, rust-libp2p at 16383; go-yamux and rust-yamux stream limits; nim-libp2p newStandardSwitch).
 */
export const DEFAULT_SWITCH_CONFIG: Readonly<SwitchConfig> = Object.freeze({
  maxConnections: 256,
  maxPendingConnections: 64,
  maxPendingConnectionsPerAddress: 8,
  connectionsHighWater: 224,
  connectionsLowWater: 192,
  connectionGracePeriodMs: 10_000,
  connectionTrimIntervalMs: 60_000,
  maxPendingDials: 64,
  // yamux spec / specs PR #547: an ACK backlog of 256; nim allows 200 channels; go-yamux 1000.
  maxInboundStreamsPerConnection: 256,
  maxOutboundStreamsPerConnection: 1024,
  maxNegotiationMessageBytes: 1024,
  handshakeTimeoutMs: 10_000,
  streamNegotiationTimeoutMs: 10_000,
  dialTimeoutMs: 10_000,
  stopTimeoutMs: 5_000,
  identifyTimeoutMs: 5_000
})

/** Fields that count things (positive integers); every other field is a duration in ms. */
const COUNTS: ReadonlyArray<keyof SwitchConfig> = [
  'maxConnections',
  'maxPendingConnections',
  'maxPendingConnectionsPerAddress',
  'connectionsHighWater',
  'maxPendingDials',
  'maxInboundStreamsPerConnection',
  'maxOutboundStreamsPerConnection',
  'maxNegotiationMessageBytes'
]
const DURATIONS: ReadonlyArray<keyof SwitchConfig> = [
  'connectionGracePeriodMs',
  'connectionTrimIntervalMs',
  'handshakeTimeoutMs',
  'streamNegotiationTimeoutMs',
  'dialTimeoutMs',
  'stopTimeoutMs',
  'identifyTimeoutMs'
]

/** Smallest usable multistream limit: the header `/multistream/1.0.0\n` is 19 bytes. */
const MIN_NEGOTIATION_MESSAGE_BYTES = HEADER_MESSAGE_LENGTH
/** Largest: what go, js and nim accept, and the ceiling of our multistream layer (MAX_MESSAGE_LENGTH). */
const MAX_NEGOTIATION_MESSAGE_BYTES = MAX_MESSAGE_LENGTH

/**
 * Merge `partial` over the defaults and validate every field. Throws SwitchError ERR_INVALID_CONFIG
 * naming the field, the expectation and the value; unknown fields are refused too (a typo such as
 * `handshakeTimeout` must not silently fall back to the default).
 */
export function resolveConfig (partial: Partial<SwitchConfig> = {}): SwitchConfig {
  if (typeof partial !== 'object' || partial === null) {
    throw new SwitchError(
      'ERR_INVALID_CONFIG',
      `"config" expected an object, got ${partial === null ? 'null' : typeof partial}`
    )
  }
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_SWITCH_CONFIG)) {
      throw new SwitchError(
        'ERR_INVALID_CONFIG',
        `"config.${key}" is not a switch setting (expected one of ${Object.keys(DEFAULT_SWITCH_CONFIG).join(', ')})`
      )
    }
  }
  const config: SwitchConfig = { ...DEFAULT_SWITCH_CONFIG }
  for (const [key, value] of Object.entries(partial) as Array<[keyof SwitchConfig, number | undefined]>) {
    if (value !== undefined) config[key] = value
  }
  // Watermarks not given follow maxConnections (7/8 and 3/4 of it), so lowering only the cap works.
  const max = config.maxConnections
  if (partial.connectionsHighWater === undefined && Number.isSafeInteger(max)) {
    config.connectionsHighWater = Math.max(1, Math.floor(max * 7 / 8))
  }
  if (partial.connectionsLowWater === undefined && Number.isSafeInteger(config.connectionsHighWater)) {
    config.connectionsLowWater = Math.min(config.connectionsHighWater - 1, Math.floor(max * 3 / 4))
  }
  validateConfig(config)
  return config
}

/** Throw SwitchError ERR_INVALID_CONFIG for the first field that is out of range. */
export function validateConfig (config: SwitchConfig): void {
  for (const key of COUNTS) {
    const v = config[key]
    if (!Number.isSafeInteger(v) || v < 1) invalid(key, 'a positive integer', v)
  }
  for (const key of DURATIONS) {
    const v = config[key]
    if (typeof v !== 'number' || !(v > 0) || (v !== Infinity && !Number.isFinite(v))) {
      invalid(key, 'a positive number of milliseconds', v)
    }
    // setTimeout clamps anything above 2^31-1 ms to 1 ms: refuse rather than time out at once.
    if (v !== Infinity && v > 0x7fffffff) invalid(key, `at most ${0x7fffffff} ms (or Infinity)`, v)
  }
  if (config.connectionsHighWater > config.maxConnections) {
    invalid('connectionsHighWater', `at most maxConnections (${config.maxConnections})`, config.connectionsHighWater)
  }
  const low = config.connectionsLowWater
  if (!Number.isSafeInteger(low) || low < 0 || low >= config.connectionsHighWater) {
    invalid('connectionsLowWater', `an integer 0 … connectionsHighWater - 1 (${config.connectionsHighWater - 1})`, low)
  }
  const m = config.maxNegotiationMessageBytes
  if (m < MIN_NEGOTIATION_MESSAGE_BYTES || m > MAX_NEGOTIATION_MESSAGE_BYTES) {
    invalid('maxNegotiationMessageBytes', `${MIN_NEGOTIATION_MESSAGE_BYTES} … ${MAX_NEGOTIATION_MESSAGE_BYTES}`, m)
  }
}

function invalid (key: string, expected: string, got: unknown): never {
  throw new SwitchError('ERR_INVALID_CONFIG', `"config.${key}" expected ${expected}, got ${String(got)}`)
}

/** The layers a switch composes, checked. */
export interface SwitchLayers {
  transports: readonly Transport[]
  security: readonly SecurityProtocol[]
  muxers: readonly StreamMuxerFactory[]
}

/**
 * Check the switch's layer lists at construction, not at the first connection: each a non-empty
 * list of objects of the seam's shape (src/connection.ts), protocol ids usable with
 * multistream-select and not listed twice. Throws SwitchError ERR_INVALID_CONFIG naming the list.
 */
export function validateLayers (options: { transports?: unknown, security?: unknown, muxers?: unknown }): SwitchLayers {
  const transports = list<Transport>(
    options.transports,
    'transports',
    'Transport { name, canDial, canListen, dial, listen }',
    t =>
      typeof t.name === 'string' && typeof t.canDial === 'function' && typeof t.canListen === 'function' &&
      typeof t.dial === 'function' && typeof t.listen === 'function',
    t => t.name
  )
  const security = list<SecurityProtocol>(
    options.security,
    'security',
    'SecurityProtocol { protocol, secureOutbound, secureInbound }',
    s => protocolId(s.protocol) && typeof s.secureOutbound === 'function' && typeof s.secureInbound === 'function' &&
      (s.maxPreAuthBytes === undefined || (Number.isSafeInteger(s.maxPreAuthBytes) && s.maxPreAuthBytes > 0)),
    s => s.protocol
  )
  const muxers = list<StreamMuxerFactory>(
    options.muxers,
    'muxers',
    'StreamMuxerFactory { protocol, create }',
    m => protocolId(m.protocol) && typeof m.create === 'function',
    m => m.protocol
  )
  return { transports, security, muxers }
}

function protocolId (id: unknown): boolean {
  // Carried in a multistream message with its newline: at most MAX_MESSAGE_LENGTH bytes.
  return typeof id === 'string' && id.startsWith('/') && !id.includes('\n') &&
    new TextEncoder().encode(id).length < MAX_MESSAGE_LENGTH
}

function list<T extends object> (
  value: unknown,
  name: string,
  shape: string,
  ok: (v: T) => boolean,
  key: (v: T) => string
): readonly T[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new SwitchError(
      'ERR_INVALID_CONFIG',
      `"${name}" expected a non-empty list of ${shape}, got ${Array.isArray(value) ? '[]' : String(value)}`
    )
  }
  const seen = new Set<string>()
  for (const [i, v] of (value as unknown[]).entries()) {
    if (typeof v !== 'object' || v === null || !ok(v as T)) {
      throw new SwitchError(
        'ERR_INVALID_CONFIG',
        `"${name}[${i}]" expected a ${shape}, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`
      )
    }
    const k = key(v as T)
    if (seen.has(k)) throw new SwitchError('ERR_INVALID_CONFIG', `"${name}" lists ${k} twice`)
    seen.add(k)
  }
  return Object.freeze([...(value as T[])])
}
