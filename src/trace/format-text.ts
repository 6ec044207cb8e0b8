/**
 * The human view of a trace (`--trace`, `switchyard decode`): one line per event, time-stamped,
 * indented by layer, so one connection reads top to bottom as the stack saw it:
 *
 *   10:31:07.402113 #1 tcp open /ip4/127.0.0.1/tcp/50312 -> /ip4/127.0.0.1/tcp/4001 (outbound)
 *   10:31:07.402390 #1   multistream -> /multistream/1.0.0
 *   10:31:07.402391 #1   multistream -> /noise
 *   10:31:07.402512 #1     noise -> e (32 B)
 *   10:31:07.404925 #1     noise <- e, ee, s, es (200 B, payload 120 B) Ed25519 12D3KooW…, signature verified,
 * stream_muxers [/yamux/1.0.0]
 *   10:31:07.406001 #1       yamux -> WindowUpdate [SYN] stream 1 delta 0
 *   10:31:07.406050 #1         [1] multistream -> /test/stream-proto/1.0.0
 *   10:31:07.407830 #1         [1] <- "Hello!" (6 B)
 *
 * Depth: 0 tcp · 1 multistream for the secure channel · 2 noise · 3 the muxer's multistream and
 * frames · 4 inside a stream. `--trace=hex` adds a hex dump of each event's raw bytes under its line.
 * Stream messages show as text when printable, else hex, truncated (TEXT_LIMIT / HEX_LIMIT).
 */
import { FrameType, GoAwayCode } from '../muxer/constants.js'
import { flagName as mplexFlagName } from '../muxer/mplex/frame.js'
import { RAW_PROTOCOLS } from './dissect.js'
import type { TraceSink } from './tracer.js'
import type { IdentifyInfo, NoisePayloadInfo, QuicLongHeaderInfo, TlsHandshakeInfo, TraceRecord } from './observer.js'

/** The interesting fields of a TLS handshake message, ` key value` pairs. */
function formatTlsInfo (i: TlsHandshakeInfo): string {
  const parts: string[] = []
  if (i.versions !== undefined) parts.push(`versions [${i.versions.join(', ')}]`)
  if (i.cipherSuites !== undefined) parts.push(`suites [${i.cipherSuites.join(', ')}]`)
  if (i.cipherSuite !== undefined) parts.push(`suite ${i.cipherSuite}`)
  if (i.groups !== undefined) parts.push(`groups [${i.groups.join(', ')}]`)
  if (i.keyShares !== undefined) parts.push(`key_share [${i.keyShares.join(', ')}]`)
  if (i.group !== undefined) parts.push(`group ${i.group}`)
  if (i.signatureSchemes !== undefined) parts.push(`signature_algorithms [${i.signatureSchemes.join(', ')}]`)
  if (i.signatureScheme !== undefined) parts.push(`signature ${i.signatureScheme}`)
  if (i.alpn !== undefined) parts.push(`ALPN [${i.alpn.join(', ')}]`)
  if (i.certificates !== undefined) parts.push(`${i.certificates} certificate${i.certificates === 1 ? '' : 's'}`)
  if (i.libp2p !== undefined) {
    parts.push(i.libp2p.signature === 'verified'
      ? `libp2p extension: ${i.libp2p.keyType ?? '?'} ${i.libp2p.peerId ?? '?'}, signature verified`
      : `libp2p extension: INVALID (${i.libp2p.error ?? 'unknown'})`)
  }
  if (i.requestUpdate !== undefined) parts.push(i.requestUpdate ? 'update_requested' : 'update_not_requested')
  return parts.length === 0 ? '' : ` ${parts.join('; ')}`
}

/** ` [v1, dcid 83…, scid 1f…, token 0 B]` for a long header, nothing for a short one. */
function formatLongHeader (h: QuicLongHeaderInfo | undefined): string {
  if (h === undefined) return ''
  const v = h.version === 1 ? 'v1' : `version 0x${h.version.toString(16).padStart(8, '0')}`
  return ` [${v}, dcid ${h.dcid || '(empty)'}, scid ${h.scid || '(empty)'}${
    h.token !== undefined && h.token > 0 ? `, token ${h.token} B` : ''
  }]`
}

export interface TextFormatOptions {
  /** Hex dumps of every event's raw bytes (`--trace=hex`); also shows TCP chunk sizes and stream data pieces. */
  hex?: boolean
  /** Time of day in UTC instead of local time (tests, logs from several machines). */
  utc?: boolean
}

/** Longest stream message text shown, in characters; longer ones end in `…`. */
export const TEXT_LIMIT = 200
/** Bytes of a binary stream message shown as hex on its line. */
export const HEX_LIMIT = 48
/** Bytes of one hex dump (`--trace=hex`); the rest is counted. */
export const DUMP_LIMIT = 1024

interface ConnState {
  /** The Noise handshake finished: connection-level multistream now negotiates the muxer. */
  secured: boolean
  muxer: 'yamux' | 'mplex' | undefined
  /** Streams shown as raw data (raw protocols, failed negotiation or framing). */
  rawStreams: Set<string>
}

const ARROW = { in: '<-', out: '->' } as const

function pad (n: number, w: number): string {
  return String(n).padStart(w, '0')
}

/** `HH:MM:SS.uuuuuu`. */
export function formatTime (ms: number, utc = false): string {
  const d = new Date(Math.floor(ms))
  const micro = Math.floor((ms - Math.floor(ms)) * 1000) + d.getMilliseconds() * 1000
  const [h, m, s] = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds()]
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(micro, 6)}`
}

function hex (b: Uint8Array, limit = b.length): string {
  let s = ''
  const n = Math.min(limit, b.length)
  for (let i = 0; i < n; i++) s += (b[i] as number).toString(16).padStart(2, '0')
  return s
}

/** Printable ASCII plus tab/newline/CR, and valid UTF-8 for the rest. */
const utf8 = new TextDecoder('utf-8', { fatal: true })
function asText (b: Uint8Array): string | undefined {
  let ascii = true
  for (const c of b) {
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return undefined
    if (c === 0x7f) return undefined
    if (c >= 0x80) ascii = false
  }
  if (ascii) return String.fromCharCode(...b.subarray(0, TEXT_LIMIT + 1))
  try { return utf8.decode(b) } catch { return undefined }
}

/** A stream message or similar payload: `"text"` or hex, truncated, with its size. */
export function formatPayload (b: Uint8Array): string {
  const text = b.length === 0 ? '' : asText(b)
  if (text !== undefined) {
    const shown = text.length > TEXT_LIMIT ? JSON.stringify(text.slice(0, TEXT_LIMIT)) + '…' : JSON.stringify(text)
    return `${shown} (${b.length} B)`
  }
  return `${hex(b, HEX_LIMIT)}${b.length > HEX_LIMIT ? '…' : ''} (${b.length} B, binary)`
}

/** Lines of `offset  hex bytes  |ascii|`, 16 bytes each, at most DUMP_LIMIT bytes. */
export function hexDump (b: Uint8Array, indent: string): string[] {
  const out: string[] = []
  const n = Math.min(b.length, DUMP_LIMIT)
  for (let o = 0; o < n; o += 16) {
    const row = b.subarray(o, Math.min(o + 16, n))
    let h = ''
    let a = ''
    for (let i = 0; i < 16; i++) {
      const c = row[i]
      h += c === undefined ? '   ' : c.toString(16).padStart(2, '0') + ' '
      if (i === 7) h += ' '
      if (c !== undefined) a += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.'
    }
    out.push(`${indent}${o.toString(16).padStart(4, '0')}  ${h} |${a}|`)
  }
  if (b.length > n) out.push(`${indent}… ${b.length - n} more bytes`)
  return out
}

export function yamuxFlagNames (flags: number): string {
  const names: string[] = []
  if ((flags & 1) !== 0) names.push('SYN')
  if ((flags & 2) !== 0) names.push('ACK')
  if ((flags & 4) !== 0) names.push('FIN')
  if ((flags & 8) !== 0) names.push('RST')
  const rest = flags & ~0xf
  if (rest !== 0) names.push(`0x${rest.toString(16)}`)
  return names.join('|')
}

/**
 * `Data [SYN] stream 1 length 5`, `WindowUpdate stream 1 delta 262144`, `Ping [ACK] opaque 7`, `GoAway code 1 (protocol
 * error)`.
 */
export function formatYamuxFrame (type: number, flags: number, streamId: number, length: number): string {
  const f = flags === 0 ? '' : ` [${yamuxFlagNames(flags)}]`
  switch (type) {
    case FrameType.Data: return `Data${f} stream ${streamId} length ${length}`
    case FrameType.WindowUpdate: return `WindowUpdate${f} stream ${streamId} delta ${length}`
    case FrameType.Ping: return `Ping${f} opaque ${length} (0x${length.toString(16).padStart(8, '0')})`
    case FrameType.GoAway: {
      const name = length === GoAwayCode.Normal
        ? 'normal'
        : length === GoAwayCode.ProtocolError
          ? 'protocol error'
          : length === GoAwayCode.InternalError
            ? 'internal error'
            : 'unknown'
      return `GoAway${f} code ${length} (${name})`
    }
    default: return `type ${type}${f} stream ${streamId} length ${length}`
  }
}

function formatNoisePayload (p: NoisePayloadInfo): string {
  const sig = p.signature === 'verified'
    ? 'signature verified'
    : p.signature === 'invalid'
      ? 'SIGNATURE INVALID'
      : p.signature === 'sent'
        ? 'signed'
        : 'signature not checked'
  let s = `${p.keyType} ${p.peerId}, ${sig}`
  if (p.streamMuxers !== undefined) s += `, stream_muxers [${p.streamMuxers.join(', ')}]`
  else s += ', no extensions'
  if (p.webtransportCerthashes !== undefined && p.webtransportCerthashes > 0) {
    s += `, ${p.webtransportCerthashes} webtransport certhashes`
  }
  return s
}

/**
 * An identify message, one field a line under the message's own line, in the spec's words:
 *
 *   protocolVersion "ipfs/0.1.0", agentVersion "switchyard/0.1.0"
 *   publicKey Ed25519 12D3KooW…
 *   listenAddrs /ip4/127.0.0.1/tcp/4001
 *   observedAddr /ip4/127.0.0.1/tcp/50312
 *   protocols /ipfs/id/1.0.0, /ipfs/ping/1.0.0
 *   signedPeerRecord signature verified, peer 12D3KooW…, seq 1733390000000000000, addresses /ip4/127.0.0.1/tcp/4001
 */
export function formatIdentify (i: IdentifyInfo): string[] {
  if (i.error !== undefined) return [`! not an Identify message: ${i.error}`]
  const out: string[] = []
  const versions: string[] = []
  if (i.protocolVersion !== undefined) versions.push(`protocolVersion ${JSON.stringify(i.protocolVersion)}`)
  if (i.agentVersion !== undefined) versions.push(`agentVersion ${JSON.stringify(i.agentVersion)}`)
  if (versions.length > 0) out.push(versions.join(', '))
  if (i.publicKey !== undefined) {
    out.push(
      'error' in i.publicKey
        ? `publicKey ! ${i.publicKey.error}`
        : `publicKey ${i.publicKey.keyType} ${i.publicKey.peerId}`
    )
  }
  // A push carries only what changed; a full answer always lists both (possibly empty) lists.
  if (!i.push || i.listenAddrs.length > 0) {
    out.push(`listenAddrs ${i.listenAddrs.length === 0 ? '(none)' : i.listenAddrs.join(', ')}`)
  }
  if (i.observedAddr !== undefined) out.push(`observedAddr ${i.observedAddr}`)
  if (!i.push || i.protocols.length > 0) {
    out.push(`protocols ${i.protocols.length === 0 ? '(none)' : i.protocols.join(', ')}`)
  }
  const r = i.signedPeerRecord
  if (r !== undefined) {
    out.push(
      r.signature === 'verified'
        ? `signedPeerRecord signature verified, peer ${r.peerId ?? '?'}, seq ${r.seq ?? '?'}, addresses ${
          (r.addresses ?? []).join(', ') || '(none)'
        }`
        : `signedPeerRecord SIGNATURE INVALID: ${r.error ?? 'unknown'}`
    )
  }
  return out
}

/** Formats records into lines; keeps a little state per connection (depth, raw streams). */
export class TextFormatter {
  private readonly conns = new Map<number, ConnState>()
  private readonly hex: boolean
  private readonly utc: boolean

  constructor (opts: TextFormatOptions = {}) {
    this.hex = opts.hex === true
    this.utc = opts.utc === true
  }

  private state (conn: number): ConnState {
    let s = this.conns.get(conn)
    if (s === undefined) {
      s = { secured: false, muxer: undefined, rawStreams: new Set() }
      this.conns.set(conn, s)
    }
    return s
  }

  private streamLabel (st: ConnState, stream: number, opener: 'local' | 'remote' | undefined): string {
    if (st.muxer === 'mplex' && opener !== undefined) return `[${opener === 'local' ? 'L' : 'R'}${stream}]`
    return `[${stream}]`
  }

  /**
   * Remember that a stream shows raw data. yamux data events carry no opener (the id says it) while
   * the dissector's events do, so for yamux the stream is also keyed by its id alone.
   */
  private markRaw (st: ConnState, stream: number, opener: 'local' | 'remote' | undefined): void {
    st.rawStreams.add(`${opener ?? ''}${stream}`)
    if (st.muxer !== 'mplex') st.rawStreams.add(String(stream))
  }

  private isRaw (st: ConnState, stream: number, opener: 'local' | 'remote' | undefined): boolean {
    return st.rawStreams.has(`${opener ?? ''}${stream}`)
  }

  /** The lines for one record (none for events the view hides, e.g. stream data of a message stream). */
  format (r: TraceRecord): string[] {
    const st = this.state(r.conn)
    let depth = 0
    let text: string | undefined
    /** Lines under `text`, one level deeper (a decoded identify message). */
    let details: string[] = []
    switch (r.layer) {
      case 'tcp':
        switch (r.kind) {
          // a QUIC connection opens over UDP (its observer reports the same open record)
          case 'open':
            text = `${r.localAddr.includes('/udp/') ? 'udp' : 'tcp'} open ${r.localAddr} ${
              r.direction === 'outbound' ? '->' : '<-'
            } ${r.remoteAddr} (${r.direction})`
            break
          case 'data':
            if (this.hex) text = `tcp ${ARROW[r.dir]} ${r.length} B`
            break
          case 'end':
            text = `tcp ${ARROW[r.dir]} FIN (${r.dir === 'out' ? 'we' : 'the peer'} closed for writing)`
            break
          case 'close':
            text = `tcp close${r.error !== undefined ? `: ${r.error}` : ''}`
            this.conns.delete(r.conn)
            break
          default:
            text = this.generic(r)
        }
        break
      case 'ws':
        depth = 1
        switch (r.kind) {
          case 'upgrade':
            text = `ws ${ARROW[r.dir]} ${r.startLine}${r.headers.length > 0 ? ` (${r.headers.join('; ')})` : ''}`
            break
          case 'frame':
            text = `ws ${ARROW[r.dir]} ${r.opcode}${r.fin ? ' FIN' : ''} ${r.length} B${r.masked ? ' masked' : ''}`
            break
          default:
            text = this.generic(r)
        }
        break
      case 'quic':
        depth = 1
        if (r.kind === 'packet') {
          text = `quic ${ARROW[r.dir]} ${r.packetType} #${r.pn} (${r.length} B)${formatLongHeader(r.longHeader)}${
            r.frames.length > 0 ? ': ' + r.frames.join(', ') : ''
          }`
        } else if (r.kind === 'undecrypted') {
          text = `quic ${ARROW[r.dir]} ${r.packetType} (${r.length} B)${
            formatLongHeader(r.longHeader)
          }: not decrypted (${r.reason})`
        } else text = r.kind === 'note' ? `quic ${r.message}` : this.generic(r)
        break
      case 'multistream':
        depth = r.stream !== undefined ? 4 : st.secured ? 3 : 1
        if (r.kind === 'message') text = `multistream ${ARROW[r.dir]} ${r.message}`
        else if (r.kind === 'ls') {
          text = `multistream ${ARROW[r.dir]} ls response: ${
            r.protocols.length === 0 ? '(none)' : r.protocols.join(', ')
          }`
        } else {
          if (r.kind === 'error' && r.stream !== undefined) this.markRaw(st, r.stream, r.opener)
          text = this.generic(r)
        }
        if (r.stream !== undefined) text = `${this.streamLabel(st, r.stream, r.opener)} ${text}`
        break
      case 'noise':
        depth = 2
        switch (r.kind) {
          case 'handshake': {
            const size = r.payloadLength > 0 ? `${r.length} B, payload ${r.payloadLength} B` : `${r.length} B`
            text = `noise ${ARROW[r.dir]} ${r.tokens.join(', ')} (${size})`
            if (r.payload !== undefined) text += ` ${formatNoisePayload(r.payload)}`
            break
          }
          case 'complete':
            st.secured = true
            text = `noise handshake complete: ${r.role}, remote ${r.remotePeer}${
              r.muxer !== undefined ? `, muxer ${r.muxer} (early negotiation)` : ''
            }`
            break
          case 'frame':
            text = `noise ${ARROW[r.dir]} transport ${r.length} B (${Math.max(0, r.length - 16)} B plaintext)`
            break
          default:
            text = this.generic(r)
        }
        break
      case 'tls':
        depth = 2
        switch (r.kind) {
          case 'handshake':
            text = `tls ${ARROW[r.dir]} ${r.message} (${r.length} B, ${r.level})${formatTlsInfo(r.info)}`
            break
          case 'record':
            // Records are the container; show them with --trace=hex (the messages carry the story).
            if (this.hex) {
              text = `tls ${ARROW[r.dir]} record ${r.contentType}${
                r.innerType !== undefined ? `(${r.innerType})` : ''
              } ${r.length} B`
            } else if (r.innerType === 'ApplicationData' || r.contentType === 'ChangeCipherSpec') text = undefined
            break
          case 'alert': text = `tls ${ARROW[r.dir]} alert ${r.level} ${r.description}`; break
          case 'complete':
            st.secured = true
            text =
              `tls handshake complete: ${r.role}, remote ${r.remotePeer}, ${r.cipherSuite}, ${r.group}${
                r.helloRetry ? ' (after HelloRetryRequest)' : ''
              }` +
              (r.alpn !== undefined
                ? r.alpn === 'libp2p'
                  ? ', ALPN libp2p (muxer by multistream-select)'
                  : `, muxer ${r.alpn} (early negotiation via ALPN)`
                : '')
            break
          default: text = this.generic(r)
        }
        break
      case 'yamux':
        depth = 3
        st.muxer = 'yamux'
        text = r.kind === 'frame'
          ? `yamux ${ARROW[r.dir]} ${formatYamuxFrame(r.frameType, r.flags, r.streamId, r.length)}`
          : this.generic(r)
        break
      case 'mplex':
        depth = 3
        st.muxer = 'mplex'
        text = r.kind === 'frame'
          ? `mplex ${ARROW[r.dir]} ${mplexFlagName(r.flag)} ${
            this.streamLabel(st, r.streamId, r.opener)
          } length ${r.length}`
          : this.generic(r)
        break
      case 'stream': {
        depth = 4
        const label = r.stream !== undefined ? this.streamLabel(st, r.stream, r.opener) : '[?]'
        switch (r.kind) {
          case 'protocol':
            if (RAW_PROTOCOLS.has(r.protocol)) this.markRaw(st, r.stream, r.opener)
            text = `${label} protocol ${r.protocol}`
            break
          case 'message':
            if (r.identify !== undefined) {
              text = `${label} ${ARROW[r.dir]} identify${r.identify.push ? ' push' : ''} (${r.length} B)`
              details = formatIdentify(r.identify)
            } else {
              text = `${label} ${ARROW[r.dir]} ${formatPayload(r.bytes ?? new Uint8Array(0))}`
            }
            break
          case 'data': {
            // Messages already show the bytes of a message stream; raw streams show their data.
            if (this.hex || this.isRaw(st, r.stream, r.opener)) text = `${label} ${ARROW[r.dir]} data ${r.length} B`
            break
          }
          default:
            if (r.kind === 'error' && r.stream !== undefined) this.markRaw(st, r.stream, r.opener)
            text = `${label} ${this.generic(r)}`
        }
        break
      }
      case 'capture':
        depth = 0
        text = this.generic(r)
        break
    }
    if (text === undefined) return []
    const indent = '  '.repeat(depth)
    const lines = [`${formatTime(r.time, this.utc)} #${r.conn} ${indent}${text}`]
    const pad = ' '.repeat(16 + String(r.conn).length + 2) + indent + '  '
    for (const d of details) lines.push(pad + d)
    if (this.hex && r.bytes !== undefined && r.bytes.length > 0 && !(r.layer === 'stream' && r.kind === 'message')) {
      lines.push(...hexDump(r.bytes, ' '.repeat(16 + String(r.conn).length + 2) + indent + '  '))
    }
    return lines
  }

  private generic (r: TraceRecord): string {
    if (r.kind === 'error') return `! ${r.layer} error${r.code !== undefined ? ` ${r.code}` : ''}: ${r.message}`
    if (r.kind === 'note') return `(${r.message})`
    return `${r.layer} ${r.kind}`
  }
}

/** A sink that writes the text view, one line at a time, to `out` (e.g. stderr). */
export class TextTraceSink implements TraceSink {
  private readonly formatter: TextFormatter

  constructor (private readonly out: (line: string) => void, opts: TextFormatOptions = {}) {
    this.formatter = new TextFormatter(opts)
  }

  write (r: TraceRecord): void {
    for (const line of this.formatter.format(r)) this.out(line + '\n')
  }
}
