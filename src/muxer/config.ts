/**
 * Every yamux limit in one object, with its unit in its name, documented defaults and validation
 * at construction (hashicorp `VerifyConfig`, js-libp2p-yamux `verifyConfig`).
 */
import { SwitchyardError } from '../errors.js'
import { DEFAULT_MAX_STREAM_WINDOW, INITIAL_STREAM_WINDOW, MAX_UINT32 } from './constants.js'

export interface YamuxConfig {
  /**
   * Inbound streams open at once. A SYN beyond this is answered with RST for that stream and the
   * connection stays up (spec §Stream Establishment "RST to refuse"). Default 1024
   * (js 1000, rust 512, nim 200; go-libp2p leaves it to its resource manager).
   */
  maxInboundStreams: number
  /** Outbound streams open at once; `newStream` throws ERR_TOO_MANY_STREAMS beyond it. Default 1024. */
  maxOutboundStreams: number
  /**
   * Receive window a new stream starts with. At least the spec's 256 KiB; anything above is
   * granted on the SYN/ACK frame as a window update. Default 256 KiB.
   */
  initialStreamWindowBytes: number
  /** Ceiling for window auto-tuning, per stream. Default 16 MiB (go-yamux, go-libp2p). */
  maxStreamWindowBytes: number
  /**
   * Sum of the receive windows of all streams of one connection, i.e. the most the peer can make
   * us buffer. Auto-tuning stops growing windows at this budget; each stream's initial 256 KiB is
   * always granted (the spec lets the peer send it unasked). Default 64 MiB.
   */
  maxBufferedBytesPerConnection: number
  /**
   * Largest Data payload we put in one frame. Smaller frames let window updates and other
   * streams' frames interleave sooner (rust: 16 KiB, go: 64 KiB - 12). Default 64 KiB − 12
   * (go-yamux: one whole frame = 64 KiB; measured in bench/muxer.bench.ts).
   */
  maxFramePayloadBytes: number
  /**
   * Bytes we queue for the connection in one batch before stream writes wait. Together with the
   * connection's own high-water mark this bounds what a peer that stops reading can make us hold.
   * Default 1 MiB.
   */
  maxWriteBatchBytes: number
  /**
   * Send a keepalive ping after this long without a frame from the peer; 0 disables keepalive.
   * Default 30 000 (go, js).
   */
  keepAliveIntervalMs: number
  /** A ping unanswered this long ends the session (go `ErrKeepAliveTimeout`). Default 15 000. */
  keepAliveTimeoutMs: number
  /**
   * Measure the RTT with a ping (it feeds window auto-tuning only) when a stream's receive window
   * is first credited back, then at most this often while windows keep moving; 0 disables RTT
   * pings (and auto-tuning). Never at session start: see session.ts §RTT. Default 10 000.
   */
  rttIntervalMs: number
}

export const DEFAULT_YAMUX_CONFIG: Readonly<YamuxConfig> = Object.freeze({
  maxInboundStreams: 1024,
  maxOutboundStreams: 1024,
  initialStreamWindowBytes: INITIAL_STREAM_WINDOW,
  maxStreamWindowBytes: DEFAULT_MAX_STREAM_WINDOW,
  maxBufferedBytesPerConnection: 64 * 1024 * 1024,
  maxFramePayloadBytes: 64 * 1024 - 12,
  maxWriteBatchBytes: 1024 * 1024,
  keepAliveIntervalMs: 30_000,
  keepAliveTimeoutMs: 15_000,
  rttIntervalMs: 10_000
})

function invalid (what: string, expected: string, got: unknown): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_CONFIG', `"yamux ${what}" expected ${expected}, got ${String(got)}`)
}

function int (cfg: YamuxConfig, key: keyof YamuxConfig, min: number, max: number): void {
  const v = cfg[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(key, `an integer in [${min}, ${max}]`, v)
  }
}

/** Defaults overlaid with `partial`, validated. Throws SwitchyardError(ERR_INVALID_CONFIG) naming the field. */
export function yamuxConfig (partial: Partial<YamuxConfig> = {}): YamuxConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_YAMUX_CONFIG)) {
      throw invalid('config key', `one of ${Object.keys(DEFAULT_YAMUX_CONFIG).join(', ')}`, key)
    }
  }
  const cfg: YamuxConfig = { ...DEFAULT_YAMUX_CONFIG }
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v
  }
  int(cfg, 'maxInboundStreams', 0, MAX_UINT32)
  int(cfg, 'maxOutboundStreams', 0, MAX_UINT32)
  int(cfg, 'initialStreamWindowBytes', INITIAL_STREAM_WINDOW, MAX_UINT32)
  int(cfg, 'maxStreamWindowBytes', cfg.initialStreamWindowBytes, MAX_UINT32)
  int(cfg, 'maxBufferedBytesPerConnection', INITIAL_STREAM_WINDOW, Number.MAX_SAFE_INTEGER)
  int(cfg, 'maxFramePayloadBytes', 1, MAX_UINT32)
  int(cfg, 'maxWriteBatchBytes', 1, Number.MAX_SAFE_INTEGER)
  int(cfg, 'keepAliveIntervalMs', 0, 2 ** 31 - 1)
  int(cfg, 'keepAliveTimeoutMs', 1, 2 ** 31 - 1)
  int(cfg, 'rttIntervalMs', 0, 2 ** 31 - 1)
  return cfg
}
