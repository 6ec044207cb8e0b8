/**
 * Recorded UDP → QUIC v1 connections → the layered trace events `--trace` shows for `/quic-v1`,
 * from the client's point of view ('out' = client → server). Every layer is read by the project's
 * own code: the QUIC header and frame codecs, packet protection and key phases of
 * src/transport/quic, the TLS message decoders of src/security/tls, the stream dissectors of
 * src/trace.
 *
 *   UDP datagrams ─► QuicFlows (by address pair, then by connection id) ─► decodeQuicConnection:
 *     coalesced packets (RFC 9000 §12.2) ─► header protection off, AEAD open (RFC 9001 §5)
 *       ─► frames (RFC 9000 §19) ─► CRYPTO per level ─► TLS handshake messages
 *                                 ─► STREAM per stream ─► multistream-select, then messages
 *
 * Keys, numbered:
 *  1. Initial: from the Destination Connection ID of the client's first Initial (RFC 9001 §5.2),
 *     so every capture shows its Initials (ClientHello, ServerHello); after a Retry, from the
 *     Retry's Source Connection ID (RFC 9001 §5.2, RFC 9000 §17.2.5.2).
 *  2. Handshake and 1-RTT: the ClientHello random finds the connection's NSS key log lines
 *     (CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0 — RFC 9001 reuses the
 *     TLS labels); the ServerHello names the suite; packet keys are `quic key/iv/hp` (RFC 9001 §5.1).
 *  3. Key phases: each direction follows its peer's Key Phase bit with the machine's own OneRttKeys
 *     (`quic ku`, RFC 9001 §6).
 *  4. Without the secrets: the long headers (version, connection ids), the Initial packets, and one
 *     `undecrypted` line per packet that could not be opened, with the reason.
 *
 * Short headers do not carry their connection id's length: it is the length of the Source
 * Connection ID the receiving side chose in its long headers (RFC 9000 §17.3.1); a connection
 * whose handshake the capture missed is reported, not guessed at. Connection migration (a new
 * address pair) is not followed.
 */
import { concatBytes } from '../codec/bytes.js'
import { QuicError } from '../errors.js'
import { HANDSHAKE_HEADER_LENGTH, HandshakeType } from '../security/tls/constants.js'
import { decodeHandshakeBody } from '../security/tls/messages.js'
import { describeMessage } from '../security/tls/trace-info.js'
import { QuicReader } from '../transport/quic/buffer.js'
import { FrameType, KEY_PHASE_BIT, LongPacketType, PacketNumberSpace } from '../transport/quic/constants.js'
import { decodeFrame } from '../transport/quic/frame.js'
import type { Frame } from '../transport/quic/frame.js'
import { parseHeader } from '../transport/quic/header.js'
import type { LongHeader, PacketHeader } from '../transport/quic/header.js'
import { OneRttKeys } from '../transport/quic/key-update.js'
import { derivePacketKeys, initialKeys, openPayload, removeHeaderProtection } from '../transport/quic/protection.js'
import type { PacketKeys, UnmaskedHeader } from '../transport/quic/protection.js'
import { RecvBuffer } from '../transport/quic/recv-buffer.js'
import { describeFrames, packetTypeName } from '../transport/quic/trace.js'
import { errorEvent, streamDissector } from '../trace/dissect.js'
import type { Dissector, Emit } from '../trace/dissect.js'
import type { KeyLog, TlsSecrets } from '../trace/keylog.js'
import type { QuicLongHeaderInfo, TraceDirection, TraceEvent, TraceRecord } from '../trace/observer.js'
import { quicEndpointMultiaddr } from './packet.js'
import { HandshakeFacts } from './tls-dissector.js'
import type { TcpEndpoint, UdpDatagram } from './packet.js'

/** One datagram of a QUIC connection, with its direction ('out' = client → server). */
export interface QuicDatagram {
  dir: TraceDirection
  time: number
  payload: Uint8Array
  /** Bytes the snap length cut off the end of the datagram. */
  missing: number
}

/** The datagrams of one QUIC connection, as QuicFlows grouped them. */
export interface QuicConnectionCapture {
  client: TcpEndpoint
  server: TcpEndpoint
  datagrams: QuicDatagram[]
  /** The first datagram was the client's Initial (false: the capture began later). */
  sawStart: boolean
}

export interface DecodedQuicConnection {
  client: string
  server: string
  records: TraceRecord[]
  /** Handshake or 1-RTT packets were opened with secrets from the key log. */
  decrypted: boolean
  /** Packets that could not be opened. */
  undecrypted: number
}

// ───────────────────────────── grouping ─────────────────────────────

function hex (b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

function endpointKey (e: TcpEndpoint): string {
  return `${hex(e.ip)}:${e.port}`
}

/** The first packet of a datagram, when it is a v1 (or Version Negotiation) long header. */
function firstLongHeader (payload: Uint8Array): PacketHeader | undefined {
  if (payload.length === 0 || ((payload[0] as number) & 0x80) === 0) return undefined
  try {
    const h = parseHeader(payload, 0, 0)
    return h.form === 'short' || h.form === 'unsupported-version' ? undefined : h
  } catch {
    return undefined
  }
}

interface Flow {
  a: TcpEndpoint
  b: TcpEndpoint
  quic: boolean
  connections: Array<QuicConnectionCapture & { cids: Set<string> }>
}

/**
 * UDP datagrams grouped into QUIC connections: by address pair, and within a pair a new
 * connection at each client Initial whose connection ids are all new (a second dial between the
 * same two sockets). Address pairs that never show a QUIC v1 long header are not QUIC (DNS, mDNS,
 * …): they are counted, not decoded.
 */
export class QuicFlows {
  private readonly flows = new Map<string, Flow>()
  private readonly order: Flow[] = []

  push (d: UdpDatagram): void {
    const ka = endpointKey(d.src)
    const kb = endpointKey(d.dst)
    const key = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`
    let flow = this.flows.get(key)
    if (flow === undefined) {
      flow = { a: d.src, b: d.dst, quic: false, connections: [] }
      this.flows.set(key, flow)
      this.order.push(flow)
    }
    const h = firstLongHeader(d.payload)
    if (h !== undefined) flow.quic = true
    let conn = flow.connections[flow.connections.length - 1]
    const isNewInitial = h !== undefined && h.form === 'long' && h.type === LongPacketType.Initial &&
      (conn === undefined || (!conn.cids.has(hex(h.dcid)) && !conn.cids.has(hex(h.scid))))
    if (conn === undefined || isNewInitial) {
      const client = isNewInitial || conn === undefined ? d.src : conn.client
      conn = {
        client,
        server: client === d.src ? d.dst : d.src,
        datagrams: [],
        sawStart: isNewInitial,
        cids: new Set()
      }
      flow.connections.push(conn)
    }
    if (h !== undefined && (h.form === 'long' || h.form === 'retry')) {
      conn.cids.add(hex(h.dcid))
      conn.cids.add(hex(h.scid))
    }
    const fromClient = endpointKey(conn.client) === ka
    conn.datagrams.push({
      dir: fromClient ? 'out' : 'in',
      time: d.time,
      payload: d.payload,
      missing: d.missing
    })
  }

  /** The QUIC connections in order of appearance, and how many address pairs were not QUIC. */
  finish (): { connections: QuicConnectionCapture[], otherFlows: number } {
    const connections: QuicConnectionCapture[] = []
    let otherFlows = 0
    for (const f of this.order) {
      if (!f.quic) { otherFlows++; continue }
      for (const c of f.connections) {
        connections.push({ client: c.client, server: c.server, datagrams: c.datagrams, sawStart: c.sawStart })
      }
    }
    return { connections, otherFlows }
  }
}

// ───────────────────────────── decoding ─────────────────────────────

const LEVEL_NAMES = ['initial', 'handshake', 'application'] as const
const ZERO_RTT = 'the client\'s 0-RTT keys (CLIENT_EARLY_TRAFFIC_SECRET) are not read: libp2p does not use 0-RTT'

function longHeaderInfo (h: LongHeader | { version: number, dcid: Uint8Array, scid: Uint8Array }): QuicLongHeaderInfo {
  const info: QuicLongHeaderInfo = { version: h.version, dcid: hex(h.dcid), scid: hex(h.scid) }
  if ('type' in h && h.type === LongPacketType.Initial) info.token = h.token.length
  return info
}

function other (dir: TraceDirection): TraceDirection {
  return dir === 'out' ? 'in' : 'out'
}

/** One QUIC connection, decoded; see the module comment. Never throws: problems become events. */
class QuicConnectionDecoder {
  private readonly records: TraceRecord[] = []
  /** Packet keys per space and direction. */
  private readonly keys: Array<Partial<Record<TraceDirection, PacketKeys>>> = [{}, {}, {}]
  private oneRtt: Partial<Record<TraceDirection, OneRttKeys>> = {}
  /** Largest packet number opened per space and direction (for packet number recovery, RFC 9000 §17.1). */
  private readonly largest: Array<Record<TraceDirection, number>> = [
    { in: -1, out: -1 }, { in: -1, out: -1 }, { in: -1, out: -1 }
  ]

  private largestPn (space: PacketNumberSpace, dir: TraceDirection): number {
    return (this.largest[space] as Record<TraceDirection, number>)[dir]
  }

  private setLargest (space: PacketNumberSpace, dir: TraceDirection, pn: number): void {
    (this.largest[space] as Record<TraceDirection, number>)[dir] = pn
  }

  /** Length of the connection ids each side chose (the DCID length of short headers sent to it). */
  private readonly cidLength: Partial<Record<TraceDirection, number>> = {}
  private readonly crypto: Array<Record<TraceDirection, RecvBuffer>> = [0, 1, 2].map(() => ({
    in: new RecvBuffer(),
    out: new RecvBuffer()
  }))

  private readonly tlsBuffers: Array<Record<TraceDirection, Uint8Array>> = [0, 1, 2].map(() => ({
    in: new Uint8Array(0),
    out: new Uint8Array(0)
  }))

  private readonly tlsFailed = { in: false, out: false }
  private readonly streams = new Map<string, { recv: RecvBuffer, failed: boolean }>()
  private readonly dissectors = new Map<number, Dissector>()
  private secrets: TlsSecrets | undefined
  private readonly hs = new HandshakeFacts()
  private time = 0
  decrypted = false
  undecrypted = { packets: 0, bytes: 0 }
  private noSecretsNoted = false

  constructor (private readonly c: QuicConnectionCapture, private readonly keyLog: KeyLog | undefined) {}

  private readonly emit: Emit = (e, time) => {
    const r = e as TraceRecord
    // Events may hold views into buffers reused later: keep a copy of the bytes.
    if (r.bytes !== undefined) r.bytes = r.bytes.slice()
    r.conn = 0
    r.time = time
    this.records.push(r)
  }

  decode (): DecodedQuicConnection {
    const client = quicEndpointMultiaddr(this.c.client)
    const server = quicEndpointMultiaddr(this.c.server)
    const first = this.c.datagrams[0]
    const start = first?.time ?? 0
    this.emit({ layer: 'tcp', kind: 'open', localAddr: client, remoteAddr: server, direction: 'outbound' }, start)
    if (!this.c.sawStart) {
      this.note(
        'the capture began after this connection\'s first Initial: which side is the client is a guess, ' +
          'and packets before the connection ids were seen cannot be read',
        start
      )
    }
    for (const d of this.c.datagrams) this.datagram(d)
    const end = this.c.datagrams[this.c.datagrams.length - 1]?.time ?? start
    if (this.undecrypted.packets > 0) {
      this.note(
        `${this.undecrypted.packets} packets (${this.undecrypted.bytes} B) not decrypted` +
          (this.keyLog === undefined ? ': no key log (--keylog)' : ''),
        end
      )
    }
    return { client, server, records: this.records, decrypted: this.decrypted, undecrypted: this.undecrypted.packets }
  }

  private note (message: string, time: number): void {
    this.emit({ layer: 'quic', kind: 'note', message }, time)
  }

  /** Every coalesced packet of one datagram (RFC 9000 §12.2). */
  private datagram (d: QuicDatagram): void {
    this.time = d.time
    const buf = d.payload
    if (d.missing > 0) {
      this.emit({
        layer: 'capture',
        kind: 'error',
        code: 'ERR_CAPTURE',
        message: `a datagram of ${buf.length + d.missing} B was cut by the snap length to ${buf.length} B: its last packet cannot be opened`
      }, d.time)
    }
    let offset = 0
    while (offset < buf.length) {
      let h: PacketHeader
      try {
        h = parseHeader(buf, offset, this.cidLength[other(d.dir)] ?? 0)
      } catch (err) {
        this.emit(errorEvent('quic', err), d.time)
        return
      }
      if (h.form === 'short' && this.cidLength[other(d.dir)] === undefined) {
        this.undecryptable(d.dir, '1-RTT', buf.subarray(offset), undefined,
          'the connection id length is unknown: the capture missed the long headers')
        return
      }
      try {
        this.packet(d.dir, buf, h)
      } catch (err) {
        this.emit(errorEvent('quic', err), d.time)
      }
      offset = h.packetEnd
    }
  }

  private undecryptable (
    dir: TraceDirection,
    packetType: string,
    bytes: Uint8Array,
    longHeader: QuicLongHeaderInfo | undefined,
    reason: string
  ): void {
    this.undecrypted.packets++
    this.undecrypted.bytes += bytes.length
    this.emit({
      layer: 'quic',
      kind: 'undecrypted',
      dir,
      packetType,
      length: bytes.length,
      reason,
      bytes,
      ...(longHeader === undefined ? {} : { longHeader })
    }, this.time)
  }

  private packet (dir: TraceDirection, buf: Uint8Array, h: PacketHeader): void {
    const bytes = buf.subarray(h.packetStart, h.packetEnd)
    switch (h.form) {
      case 'version-negotiation':
        this.note(`Version Negotiation: ${dir === 'in' ? 'server' : 'client'} offers ${
          h.versions.map(v => `0x${v.toString(16).padStart(8, '0')}`).join(', ')
        } [dcid ${hex(h.dcid)}, scid ${hex(h.scid)}]`, this.time)
        return
      case 'unsupported-version':
        this.undecryptable(dir, 'long header', bytes, longHeaderInfo(h), 'not QUIC v1: only the RFC 8999 invariants are known')
        return
      case 'retry': {
        this.note(`Retry [${longHeaderInfo(h).dcid === '' ? '' : `dcid ${hex(h.dcid)}, `}scid ${hex(h.scid)}]: token ${
          h.token.length
        } B; the client's next Initials go to the new connection id`, this.time)
        // RFC 9001 §5.2: Initial keys from the Retry's Source Connection ID
        const k = initialKeys(h.scid, 'client')
        this.keys[PacketNumberSpace.Initial] = { out: k.write, in: k.read }
        this.largest[PacketNumberSpace.Initial] = { in: -1, out: -1 }
        return
      }
      case 'long':
        this.longPacket(dir, buf, h)
        return
      case 'short':
        this.shortPacket(dir, buf, h)
    }
  }

  private longPacket (dir: TraceDirection, buf: Uint8Array, h: LongHeader): void {
    const info = longHeaderInfo(h)
    const bytes = buf.subarray(h.packetStart, h.packetEnd)
    // the side's chosen connection id: what short headers sent to it carry (RFC 9000 §7.2)
    this.cidLength[dir] ??= h.scid.length
    if (h.type === LongPacketType.ZeroRtt) {
      this.undecryptable(dir, '0-RTT', bytes, info, ZERO_RTT)
      return
    }
    const space = h.type === LongPacketType.Initial ? PacketNumberSpace.Initial : PacketNumberSpace.Handshake
    if (space === PacketNumberSpace.Initial && dir === 'out' && this.keys[space]?.out === undefined) {
      // RFC 9001 §5.2: the client's first Destination Connection ID keys both directions' Initials
      const k = initialKeys(h.dcid, 'client')
      this.keys[space] = { out: k.write, in: k.read }
    }
    const keys = this.keys[space]?.[dir]
    const name = packetTypeName(space)
    if (keys === undefined) {
      this.undecryptable(dir, name, bytes, info, space === PacketNumberSpace.Initial
        ? 'no Initial keys: the capture missed the client\'s first Initial'
        : this.noKeysReason('Handshake'))
      return
    }
    const opened = this.open(keys, buf, h.packetStart, h.pnOffset, h.packetEnd, space, dir)
    if (typeof opened === 'string') {
      this.undecryptable(dir, name, bytes, info, opened)
      return
    }
    if (space === PacketNumberSpace.Handshake) this.decrypted = true
    this.frames(dir, space, name, opened.unmasked, opened.payload, bytes.length, info)
  }

  private shortPacket (
    dir: TraceDirection,
    buf: Uint8Array,
    h: { packetStart: number, pnOffset: number, packetEnd: number }
  ): void {
    const bytes = buf.subarray(h.packetStart, h.packetEnd)
    const k = this.oneRtt[dir]
    if (k === undefined) {
      this.undecryptable(dir, '1-RTT', bytes, undefined, this.noKeysReason('1-RTT'))
      return
    }
    const space = PacketNumberSpace.ApplicationData
    let unmasked: UnmaskedHeader
    try {
      unmasked = removeHeaderProtection(k.read, buf, h.packetStart, h.pnOffset, h.packetEnd, this.largestPn(space, dir))
    } catch (err) {
      this.undecryptable(dir, '1-RTT', bytes, undefined, err instanceof Error ? err.message : String(err))
      return
    }
    const bit = (unmasked.firstByte & KEY_PHASE_BIT) !== 0 ? 1 : 0
    const r = k.readKeysFor(bit, unmasked.pn)
    const payload = r === undefined ? undefined : openPayload(r.keys, unmasked, buf, h.packetStart, h.packetEnd)
    if (payload === undefined || r === undefined) {
      this.undecryptable(dir, '1-RTT', bytes, undefined,
        `authentication failed (key phase ${bit}, packet number ${unmasked.pn}; a stateless reset looks like this)`)
      return
    }
    k.onPacketOpened(r.phase, unmasked.pn)
    if (r.phase === 'next') {
      this.note(`key update: the ${dir === 'out' ? 'client' : 'server'} moved to key phase ${bit} (RFC 9001 §6)`, this.time)
    }
    this.decrypted = true
    if (unmasked.pn > this.largestPn(space, dir)) this.setLargest(space, dir, unmasked.pn)
    this.frames(dir, space, '1-RTT', unmasked, payload, bytes.length, undefined)
  }

  private noKeysReason (level: string): string {
    if (this.keyLog === undefined) return `no ${level} keys: no key log (--keylog)`
    if (this.hs.params === undefined) return `no ${level} keys yet: the ServerHello was not seen`
    return `no ${level} keys: no TLS secrets for this connection in the key log`
  }

  /** Header protection off, then the AEAD; a string says why it failed. */
  private open (
    keys: PacketKeys,
    buf: Uint8Array,
    start: number,
    pnOffset: number,
    end: number,
    space: PacketNumberSpace,
    dir: TraceDirection
  ): { unmasked: UnmaskedHeader, payload: Uint8Array } | string {
    let unmasked: UnmaskedHeader
    try {
      unmasked = removeHeaderProtection(keys, buf, start, pnOffset, end, this.largestPn(space, dir))
    } catch (err) {
      return err instanceof Error ? err.message : String(err)
    }
    const payload = openPayload(keys, unmasked, buf, start, end)
    if (payload === undefined) return `authentication failed (packet number ${unmasked.pn})`
    if (unmasked.pn > this.largestPn(space, dir)) this.setLargest(space, dir, unmasked.pn)
    return { unmasked, payload }
  }

  /** The frames of an opened packet: its line, then what the frames carry. */
  private frames (
    dir: TraceDirection,
    space: PacketNumberSpace,
    packetType: string,
    unmasked: UnmaskedHeader,
    payload: Uint8Array,
    length: number,
    longHeader: QuicLongHeaderInfo | undefined
  ): void {
    const frames: Frame[] = []
    let error: unknown
    const r = new QuicReader(payload, what => new QuicError('ERR_QUIC_FRAME_ENCODING', `truncated ${what}`))
    if (r.remaining === 0) error = new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'packet with no frames')
    while (error === undefined && r.remaining > 0) {
      try { frames.push(decodeFrame(r)) } catch (err) { error = err }
    }
    this.emit({
      layer: 'quic',
      kind: 'packet',
      dir,
      packetType,
      pn: unmasked.pn,
      length,
      frames: describeFrames(frames),
      // --trace=hex: the packet as its frames were read (header unmasked, payload decrypted, no tag)
      bytes: concatBytes([unmasked.header, payload]),
      ...(longHeader === undefined ? {} : { longHeader })
    }, this.time)
    if (error !== undefined) this.emit(errorEvent('quic', error), this.time)
    for (const f of frames) {
      // the reader of the other direction learns what this side acknowledged (its key phases depend on it)
      if (f.type === FrameType.Ack && space === PacketNumberSpace.ApplicationData) {
        this.oneRtt[other(dir)]?.onAckSent(f.ranges[0]?.largest ?? -1)
      }
      if (f.type === FrameType.Crypto) this.cryptoData(dir, space, f.offset, f.data)
      else if (f.type === FrameType.Stream) this.streamData(dir, f.streamId, f.offset, f.data, f.fin)
    }
  }

  // ── TLS in CRYPTO frames (RFC 9001 §4) ──

  private cryptoData (dir: TraceDirection, space: PacketNumberSpace, offset: number, data: Uint8Array): void {
    if (this.tlsFailed[dir]) return
    const rb = (this.crypto[space] as Record<TraceDirection, RecvBuffer>)[dir]
    rb.insert(offset, data, false)
    const pieces: Uint8Array[] = []
    for (let p = rb.read(); p !== undefined; p = rb.read()) pieces.push(p)
    if (pieces.length === 0) return
    const bufs = this.tlsBuffers[space] as Record<TraceDirection, Uint8Array>
    let buf = concatBytes([bufs[dir], ...pieces])
    try {
      while (buf.length >= HANDSHAKE_HEADER_LENGTH) {
        const length = ((buf[1] as number) << 16) | ((buf[2] as number) << 8) | (buf[3] as number)
        if (buf.length < HANDSHAKE_HEADER_LENGTH + length) break
        const raw = buf.subarray(0, HANDSHAKE_HEADER_LENGTH + length)
        buf = buf.subarray(HANDSHAKE_HEADER_LENGTH + length)
        this.tlsMessage(dir, space, raw)
      }
    } catch (err) {
      this.tlsFailed[dir] = true
      this.emit(errorEvent('tls', err), this.time)
    }
    bufs[dir] = buf.slice()
  }

  private tlsMessage (dir: TraceDirection, space: PacketNumberSpace, raw: Uint8Array): void {
    const body = raw.subarray(HANDSHAKE_HEADER_LENGTH)
    const msg = decodeHandshakeBody(raw[0] as number, body, this.hs.params?.hashLength ?? 32)
    const d = describeMessage(msg, this.time)
    this.emit({
      layer: 'tls',
      kind: 'handshake',
      dir,
      level: LEVEL_NAMES[space] ?? 'application',
      length: raw.length,
      bytes: raw,
      ...d
    }, this.time)
    this.hs.learn(dir, msg, d.info.libp2p?.peerId)
    switch (msg.type) {
      case HandshakeType.ClientHello:
        this.secrets = this.keyLog?.findTls(msg.random)
        return
      case HandshakeType.ServerHello: {
        const params = this.hs.params
        if (params === undefined) return // a HelloRetryRequest
        const s = this.secrets
        if (s?.clientHandshake !== undefined && s.serverHandshake !== undefined) {
          this.keys[PacketNumberSpace.Handshake] = {
            out: derivePacketKeys(params, s.clientHandshake),
            in: derivePacketKeys(params, s.serverHandshake)
          }
        }
        if (s?.client0 !== undefined && s.server0 !== undefined) {
          // each direction's reader: OneRttKeys reads with its second secret and follows its key phases
          this.oneRtt = {
            out: new OneRttKeys(params, s.server0, s.client0),
            in: new OneRttKeys(params, s.client0, s.server0)
          }
        }
        if ((s === undefined || s.clientHandshake === undefined) && !this.noSecretsNoted) {
          this.noSecretsNoted = true
          this.emit({
            layer: 'tls',
            kind: 'note',
            message: this.keyLog === undefined
              ? 'no key log: the Initial packets only (ClientHello, ServerHello)'
              : 'no TLS secrets for this connection in the key log: the Initial packets only (ClientHello, ServerHello)'
          }, this.time)
        }
        return
      }
      case HandshakeType.Finished:
        if (dir === 'out') this.emit(this.hs.completeEvent(), this.time)
        break
      default:
    }
  }

  // ── streams (RFC 9000 §2–3): each one a libp2p stream with its own multistream-select ──

  private streamData (dir: TraceDirection, id: number, offset: number, data: Uint8Array, fin: boolean): void {
    const key = `${dir}:${id}`
    let s = this.streams.get(key)
    if (s === undefined) {
      s = { recv: new RecvBuffer(), failed: false }
      this.streams.set(key, s)
    }
    if (s.failed) return
    // RFC 9000 §2.1: the low bit says who opened it; the client is 'local' from its point of view
    const opener = (id & 1) === 0 ? 'local' : 'remote'
    try {
      s.recv.insert(offset, data, fin)
    } catch (err) {
      s.failed = true
      this.emit(errorEvent('quic', err, { stream: id, opener }), this.time)
      return
    }
    let dissector = this.dissectors.get(id)
    if (dissector === undefined) {
      dissector = streamDissector({ stream: id, opener }, this.emit)
      this.dissectors.set(id, dissector)
    }
    for (let p = s.recv.read(); p !== undefined; p = s.recv.read()) {
      const e: TraceEvent = { layer: 'stream', kind: 'data', dir, stream: id, opener, length: p.length, bytes: p }
      this.emit(e, this.time)
      dissector.push(dir, p, this.time)
    }
  }
}

/** Decode one QUIC connection's datagrams. Never throws: problems become error and note events. */
export function decodeQuicConnection (c: QuicConnectionCapture, keyLog?: KeyLog): DecodedQuicConnection {
  return new QuicConnectionDecoder(c, keyLog).decode()
}
