/**
 * The muxers a switch can offer, in its order of preference (yamux first; mplex for nim-libp2p's
 * `newStandardSwitch`, digest TL;DR 15), each as a protocol id and a factory for the upgrader.
 */
import { SwitchError } from '../errors.js'
import type { MplexConfig } from '../muxer/mplex/session.js'
import { createMplex } from '../muxer/mplex/mplex.js'
import { MPLEX_PROTOCOL_ID } from '../muxer/mplex/constants.js'
import type { YamuxConfig } from '../muxer/config.js'
import { YAMUX_PROTOCOL_ID } from '../muxer/constants.js'
import { createYamux } from '../muxer/yamux.js'
import type { SwitchConfig } from './config.js'
import type { MuxerFactory } from './upgrader.js'

export type MuxerName = 'yamux' | 'mplex'

/**
 * `[protocol id, factory]` per muxer name. The switch's stream limits go into each muxer's config
 * (what the caller set in `yamux`/`mplex` wins).
 */
export function buildMuxers (names: readonly MuxerName[], config: SwitchConfig, yamux: Partial<YamuxConfig> | undefined, mplex: Partial<MplexConfig> | undefined): Array<readonly [string, MuxerFactory]> {
  if (!Array.isArray(names) || names.length === 0) throw new SwitchError('ERR_INVALID_CONFIG', `"muxers" expected a non-empty list of 'yamux' | 'mplex', got ${JSON.stringify(names)}`)
  // The muxers' own inbound limit sits one above the switch's, so the switch sees — and reports —
  // the stream it refuses; the muxer's limit stays a backstop.
  const inbound = config.maxInboundStreamsPerConnection + 1
  const seen = new Set<string>()
  return names.map(name => {
    if (seen.has(name)) throw new SwitchError('ERR_INVALID_CONFIG', `"muxers" lists ${name} twice`)
    seen.add(name)
    if (name === 'yamux') {
      const cfg: Partial<YamuxConfig> = { maxInboundStreams: inbound, maxOutboundStreams: config.maxOutboundStreamsPerConnection, ...yamux }
      return [YAMUX_PROTOCOL_ID, (conn, o) => createYamux(conn, { initiator: o.initiator, initialBytes: o.initialBytes, config: cfg, observer: o.observer })] as const
    }
    if (name === 'mplex') {
      const cfg: Partial<MplexConfig> = { maxInboundStreams: inbound, ...mplex }
      return [MPLEX_PROTOCOL_ID, (conn, o) => createMplex(conn, { initiator: o.initiator, initialBytes: o.initialBytes, config: cfg, observer: o.observer })] as const
    }
    throw new SwitchError('ERR_INVALID_CONFIG', `"muxers" expected 'yamux' or 'mplex', got ${JSON.stringify(name)}`)
  })
}
