/**
 * The standard switch: the concrete layers put together, above src/switch (which names none).
 *
 * - The registries: a name → factory table per kind of layer (transports, security protocols,
 *   muxers). A new protocol is one line here; the CLI's `--security` and the options below take
 *   these names.
 * - `newStandardSwitch`: the switch as nim-libp2p's `newStandardSwitch` builds it — TCP, Noise,
 *   yamux with mplex as the second choice — with the application protocols every libp2p node runs
 *   (identify, ping).
 */
import type { SecurityProtocol, StreamMuxerFactory, Transport } from './connection.js'
import type { Multiaddr } from './transport/multiaddr.js'
import { SwitchError, SwitchyardError } from './errors.js'
import type { YamuxConfig } from './muxer/config.js'
import { mplex } from './muxer/mplex/mplex.js'
import type { MplexConfig } from './muxer/mplex/session.js'
import { yamux } from './muxer/yamux.js'
import { AGENT_VERSION, IDENTIFY_PROTOCOL_VERSION } from './protocols/constants.js'
import { identify, identifyProtocol, identifyPushProtocol } from './protocols/identify.js'
import { pingProtocol } from './protocols/ping.js'
import { noise } from './security/noise.js'
import { PROTOCOL_ID as TLS_PROTOCOL_ID } from './security/tls/constants.js'
import { Switch } from './switch/switch.js'
import type { IdentifyService, SwitchOptions } from './switch/switch.js'
import { udpAddress } from './transport/quic/address.js'
import { tcp } from './transport/tcp-transport.js'
import { canListenWs, isWsAddress } from './transport/ws/address.js'

/** Settings a registry factory may read (only the muxers have any today). */
export interface LayerSettings {
  /** yamux settings (src/muxer/config.ts); unset stream limits come from the switch's config. */
  yamux?: Partial<YamuxConfig>
  /** mplex settings (src/muxer/mplex/session.ts); the inbound stream limit comes from the switch's config. */
  mplex?: Partial<MplexConfig>
}

/**
 * A registered layer whose module is imported when it is first used, not when the switch is built:
 * WebSocket, QUIC and TLS are ~60 modules a TCP + Noise process never runs. Loading them up front
 * cost a fresh `switchyard ping` a third of its start-up allocation, and the garbage collections
 * that followed landed in its first connection (measured: ~9 ms of CPU, issue #15 cold start).
 */
function lazyTransport (
  name: string,
  canDial: (ma: Multiaddr) => boolean,
  canListen: (ma: Multiaddr) => boolean,
  load: () => Promise<Transport>
): Transport {
  let loaded: Promise<Transport> | undefined
  return {
    name,
    canDial,
    canListen,
    dial: async (ma, opts) => await (await (loaded ??= load())).dial(ma, opts),
    listen: async (ma, opts) => await (await (loaded ??= load())).listen(ma, opts)
  }
}

function lazySecurity (protocol: string, load: () => Promise<SecurityProtocol>): SecurityProtocol {
  let loaded: Promise<SecurityProtocol> | undefined
  return {
    protocol,
    secureOutbound: async (conn, opts) => await (await (loaded ??= load())).secureOutbound(conn, opts),
    secureInbound: async (conn, opts) => await (await (loaded ??= load())).secureInbound(conn, opts)
  }
}

/**
 * Transports by name. QUIC (`/udp/N/quic-v1`) brings its own TLS 1.3 and streams: `security` and `muxers` do not apply
 * to it. WebSocket and QUIC are loaded on their first dial or listen.
 */
export const TRANSPORTS = Object.freeze({
  tcp: (_s: LayerSettings): Transport => tcp(),
  ws: (_s: LayerSettings): Transport => lazyTransport('ws', isWsAddress, canListenWs, async () => {
    return (await import('./transport/ws/transport.js')).ws()
  }),
  quic: (_s: LayerSettings): Transport => {
    const usable = (ma: Multiaddr): boolean => udpAddress(ma) !== undefined
    return lazyTransport('quic-v1', usable, usable, async () => (await import('./transport/quic/transport.js')).quic())
  }
})

/** Security protocols by name (the CLI's `--security`). TLS is loaded on its first handshake. */
export const SECURITY = Object.freeze({
  noise: (_s: LayerSettings): SecurityProtocol => noise(),
  tls: (_s: LayerSettings): SecurityProtocol => lazySecurity(TLS_PROTOCOL_ID, async () => {
    return (await import('./security/tls/connection.js')).tlsSecurity()
  })
})

/** Muxers by name. */
export const MUXERS = Object.freeze({
  yamux: (s: LayerSettings): StreamMuxerFactory => yamux(s.yamux),
  mplex: (s: LayerSettings): StreamMuxerFactory => mplex(s.mplex)
})

export type TransportName = keyof typeof TRANSPORTS
export type SecurityName = keyof typeof SECURITY
export type MuxerName = keyof typeof MUXERS

/** The defaults of `newStandardSwitch`, in preference order. */
export const DEFAULT_TRANSPORTS: readonly TransportName[] = ['tcp', 'ws', 'quic']
export const DEFAULT_SECURITY: readonly SecurityName[] = ['noise']
export const DEFAULT_MUXERS: readonly MuxerName[] = ['yamux', 'mplex']

/** `new Switch` options where each layer list may also name registered layers. */
export interface StandardSwitchOptions
  extends Omit<SwitchOptions, 'transports' | 'security' | 'muxers'>, LayerSettings
{
  /** Default `['tcp', 'ws', 'quic']` (each address goes to the transport that can take it). */
  transports?: ReadonlyArray<TransportName | Transport>
  /** In order of preference. Default `['noise']`. */
  security?: ReadonlyArray<SecurityName | SecurityProtocol>
  /** In order of preference. Default `['yamux', 'mplex']` (mplex for nim `newStandardSwitch`). */
  muxers?: ReadonlyArray<MuxerName | StreamMuxerFactory>
}

/** identify as nim's builder mounts it: responder, push receiver, and a query on every connection. */
export const standardIdentify: IdentifyService = {
  protocol: identifyProtocol,
  push: identifyPushProtocol,
  query: async (stream, options) => await identify(stream, { timeoutMs: options.timeoutMs })
}

/**
 * Resolve `list` against `registry`: names become layers (built with `settings`), layers stay as
 * they are. Any failure — an unknown name, a bad setting — is SwitchError ERR_INVALID_CONFIG naming
 * the option, at construction.
 */
function resolve<T> (
  option: string,
  list: ReadonlyArray<string | T>,
  registry: Readonly<Record<string, (s: LayerSettings) => T>>,
  settings: LayerSettings
): T[] {
  if (!Array.isArray(list)) {
    throw new SwitchError(
      'ERR_INVALID_CONFIG',
      `"${option}" expected a list of names (${Object.keys(registry).join(', ')}) or objects, got ${String(list)}`
    )
  }
  return list.map((item: string | T) => {
    if (typeof item !== 'string') return item
    const make = Object.hasOwn(registry, item) ? registry[item] : undefined
    if (make === undefined) {
      throw new SwitchError(
        'ERR_INVALID_CONFIG',
        `"${option}" expected one of ${Object.keys(registry).join(', ')}, got ${JSON.stringify(item)}`
      )
    }
    try {
      return make(settings)
    } catch (err) {
      if (err instanceof SwitchError) throw err
      const why = err instanceof SwitchyardError || err instanceof RangeError || err instanceof TypeError
        ? err.message
        : String(err)
      throw new SwitchError('ERR_INVALID_CONFIG', `"${option}" ${item}: ${why}`, { cause: err })
    }
  })
}

/**
 * The options of a bare `new Switch(…)` with the standard layers: `transports`, `security` and
 * `muxers` resolved by name (defaults TCP, Noise, yamux + mplex). Mounts nothing.
 */
export function standardLayers (options: StandardSwitchOptions = {}): SwitchOptions {
  const { transports, security, muxers, yamux: y, mplex: m, ...rest } = options
  const settings: LayerSettings = {}
  if (y !== undefined) settings.yamux = y
  if (m !== undefined) settings.mplex = m
  return {
    ...rest,
    transports: resolve('transports', transports ?? DEFAULT_TRANSPORTS, TRANSPORTS, settings),
    security: resolve('security', security ?? DEFAULT_SECURITY, SECURITY, settings),
    muxers: resolve('muxers', muxers ?? DEFAULT_MUXERS, MUXERS, settings)
  }
}

/**
 * A switch in the spirit of nim-libp2p's `newStandardSwitch`: an Ed25519 identity (generated
 * unless given), TCP listening on `/ip4/127.0.0.1/tcp/0`, Noise, yamux with mplex as the second
 * choice, identify (responder, push, and a query toward every new connection) and ping. Every
 * option of `new Switch(opts)` may be given, the layer lists also by name; `protocols` are mounted
 * after ping.
 */
export function newStandardSwitch (options: StandardSwitchOptions = {}): Switch {
  return new Switch(standardLayers({
    agentVersion: AGENT_VERSION,
    protocolVersion: IDENTIFY_PROTOCOL_VERSION,
    identify: standardIdentify,
    ...options,
    protocols: [pingProtocol, ...(options.protocols ?? [])]
  }))
}
