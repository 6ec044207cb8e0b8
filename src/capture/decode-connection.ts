/**
 * One recorded TCP connection → the layered trace events `--trace` shows, from the dialer's point
 * of view ('out' = client → server). Every layer is read by the project's own codecs:
 *
 *   TCP bytes ─► MultistreamDissector (/noise) ─► NoiseDissector ─► MultistreamDissector (muxer)
 *                                                    │ transport plaintext      or early muxer ─┐
 *                                                    └──────────────────────────────────────────┴► YamuxDissector /
 * MplexDissector
 *                                                                                  per stream ─► streamDissector
 * (multistream, messages)
 *
 * NoiseDissector, numbered:
 *  1. Split each direction into Noise messages (2-byte big-endian length, noise/README.md §"Wire Format").
 *  2. Messages 1 and 3 come from the initiator (the TCP client), message 2 from the responder.
 *  3. Recompute the handshake hash `h` from the transcript: it depends only on public bytes
 *     (e, and the ciphertexts of s and the payloads; Noise §5.2 MixHash), never on a key — the
 *     real HandshakeState as a spectator without keys (handshake-state.ts `SpectatorInit`).
 *  4. Find the connection's keys in the key log by `h` (src/trace/keylog.ts). With the handshake
 *     keys, replay the transcript through the same HandshakeState, setting the logged `k` at each
 *     DH token: this decrypts both static keys and both payloads (identity, peer id,
 *     signature check, extensions). With the transport keys, decrypt every transport message
 *     (k1 initiator→responder, k2 responder→initiator, nonces from 0).
 *  5. Without keys, report the handshake (tokens and sizes) and stop at its end.
 */
import { decodeNoiseHandshakePayload } from '../proto/noise-payload.js'
import type { NoiseHandshakePayload } from '../proto/noise-payload.js'
import { CipherState } from '../security/cipher-state.js'
import { HandshakeState, XX_PATTERN } from '../security/handshake-state.js'
import {
  DH_LENGTH,
  LENGTH_PREFIX_BYTES,
  PROTOCOL_ID as NOISE_PROTOCOL_ID,
  PROTOCOL_NAME,
  TAG_LENGTH
} from '../security/constants.js'
import type { Token } from '../security/handshake-state.js'
import { selectMuxer } from '../security/handshake-xx.js'
import { payloadIdentityKey, verifyStaticKeySignature } from '../security/identity.js'
import { keyTypeName } from '../security/keys.js'
import { PeerId } from '../security/peer-id.js'
import { nodeSuite } from '../security/suite.js'
import type { CryptoSuite } from '../security/suite.js'
import { FrameDecoder as YamuxFrameDecoder } from '../muxer/frame-decoder.js'
import { encodeHeader } from '../muxer/frame.js'
import type { Header } from '../muxer/frame.js'
import { FrameType, YAMUX_PROTOCOL_ID } from '../muxer/constants.js'
import { FrameDecoder as MplexFrameDecoder } from '../muxer/mplex/frame-decoder.js'
import { frameEvent } from '../muxer/mplex/frame.js'
import { MessageFlag, MPLEX_PROTOCOL_ID } from '../muxer/mplex/constants.js'
import { NoiseError } from '../errors.js'
import { errorEvent, MultistreamDissector, streamDissector, TimedBuffer } from '../trace/dissect.js'
import type { Dissector, Emit } from '../trace/dissect.js'
import type { KeyLog, NoiseKeys } from '../trace/keylog.js'
import type { NoisePayloadInfo, TraceDirection, TraceEvent, TraceRecord } from '../trace/observer.js'
import { endpointMultiaddr } from './packet.js'
import { TlsDissector } from './tls-dissector.js'
import { WsSniffingDissector } from './ws-dissector.js'
import { PROTOCOL_ID as TLS_PROTOCOL_ID } from '../security/tls/constants.js'
import type { TcpConnectionCapture } from './reassembly.js'

export interface DecodeOptions {
  keyLog?: KeyLog
  /** Crypto backend for the replay; default the node:crypto suite. */
  suite?: CryptoSuite
}

export interface DecodedConnection {
  id: number
  client: string
  server: string
  /** Every event, in time order. */
  records: TraceRecord[]
  /** The Noise transport was decrypted with keys from the key log. */
  decrypted: boolean
}

const EMPTY = new Uint8Array(0)

/** Decode one reassembled connection. Never throws: problems become error events. */
export function decodeConnection (c: TcpConnectionCapture, opts: DecodeOptions = {}): DecodedConnection {
  const records: TraceRecord[] = []
  const emit: Emit = (e, time) => {
    // Events may hold views into buffers the decoder reuses: keep a copy of the bytes.
    const r = e as TraceRecord
    if (r.bytes !== undefined) r.bytes = r.bytes.slice()
    r.conn = c.id
    r.time = time
    records.push(r)
  }
  const client = endpointMultiaddr(c.client)
  const server = endpointMultiaddr(c.server)
  emit({ layer: 'tcp', kind: 'open', localAddr: client, remoteAddr: server, direction: 'outbound' }, c.openTime)
  if (!c.toServer.synSeen) {
    emit({
      layer: 'capture',
      kind: 'note',
      message: 'the capture began after this connection opened (no SYN): its first bytes are missing'
    }, c.openTime)
  }

  const noise = new NoiseDissector(emit, opts)
  let tls: TlsDissector | undefined
  const root = new MultistreamDissector({
    dialer: 'out',
    emit,
    onAgreed: (protocol, time) => {
      if (protocol === NOISE_PROTOCOL_ID) return noise
      if (protocol === TLS_PROTOCOL_ID) {
        tls = new TlsDissector(emit, opts.keyLog, (early, at) => muxerDissector(emit, early, at))
        return tls
      }
      emit({
        layer: 'capture',
        kind: 'note',
        message: `security protocol ${protocol} is not decoded (only ${NOISE_PROTOCOL_ID} and ${TLS_PROTOCOL_ID})`
      }, time)
      return undefined
    }
  })

  // Feed both directions in capture order; the dissectors wait where one side depends on the other.
  const chunks = [
    ...c.toServer.data.chunks.map(ch => ({ dir: 'out' as const, ...ch })),
    ...c.toClient.data.chunks.map(ch => ({ dir: 'in' as const, ...ch }))
  ].sort((a, b) => a.time - b.time)
  // `/ws` connections: the upgrade and the frames, then the same layers over the binary payloads.
  const entry = new WsSniffingDissector(emit, root)
  for (const ch of chunks) entry.push(ch.dir, ch.bytes, ch.time)
  if (tls !== undefined) tls.finish(c.lastTime)
  else noise.finish(c.lastTime)

  for (const [dir, d] of [['out', c.toServer], ['in', c.toClient]] as const) {
    if (d.gap !== undefined) {
      const who = dir === 'out' ? 'client → server' : 'server → client'
      emit({
        layer: 'capture',
        kind: 'error',
        code: 'ERR_CAPTURE',
        message:
          `${d.gap.length} bytes of the ${who} stream are missing at offset ${d.gap.at} (lost or not captured): the rest of that direction cannot be decoded`
      }, d.data.timeAt(d.gap.at - 1, c.lastTime))
    }
    if (d.finTime !== undefined) emit({ layer: 'tcp', kind: 'end', dir }, d.finTime)
  }
  if (c.resetTime !== undefined) emit({ layer: 'tcp', kind: 'close', error: 'reset (RST)' }, c.resetTime)
  else if (c.toServer.finTime !== undefined && c.toClient.finTime !== undefined) {
    emit({ layer: 'tcp', kind: 'close' }, Math.max(c.toServer.finTime, c.toClient.finTime))
  }

  // Stable sort by time: events of one moment keep their causal (emission) order.
  records.sort((a, b) => a.time - b.time)
  return { id: c.id, client, server, records, decrypted: noise.decrypted || (tls?.decrypted ?? false) }
}

interface HandshakeMessage { bytes: Uint8Array, time: number }

/** Result of replaying the handshake with logged keys. */
interface Replay {
  payloads: [NoiseHandshakePayload | undefined, NoiseHandshakePayload | undefined]
  info: [NoisePayloadInfo | undefined, NoisePayloadInfo | undefined]
  remotePeer: string | undefined
  muxer: string | undefined
}

/** Noise XX, read from both sides (see the module comment). */
class NoiseDissector implements Dissector {
  private readonly buffers = { in: new TimedBuffer(), out: new TimedBuffer() }
  /** Handshake messages by number (index 0 = message 1). */
  private readonly messages: Array<HandshakeMessage | undefined> = [undefined, undefined, undefined]
  private counts = { out: 0, in: 0 }
  private handshakeDone = false
  private reported = [false, false, false]
  private ciphers: { out: CipherState, in: CipherState } | undefined
  private next: Dissector | undefined
  private undecrypted = { frames: 0, bytes: 0 }
  private failed = { out: false, in: false }
  decrypted = false
  private readonly suite: CryptoSuite

  constructor (private readonly emit: Emit, private readonly opts: DecodeOptions) {
    this.suite = opts.suite ?? nodeSuite
  }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.failed[dir]) return
    this.buffers[dir].push(bytes, time)
    this.pump(dir)
  }

  /** The capture ended: report what the handshake got to, and what stayed encrypted. */
  finish (time: number): void {
    if (!this.handshakeDone) {
      this.reportHandshake(undefined)
      for (const dir of ['out', 'in'] as const) {
        const left = this.buffers[dir].length
        if (left > 0) {
          this.emit({
            layer: 'noise',
            kind: 'error',
            code: 'ERR_UNEXPECTED_EOF',
            message: `the capture ends in the middle of the handshake (${left} bytes of a ${
              dir === 'out' ? 'client' : 'server'
            } message)`
          }, time)
        }
      }
    }
    if (this.handshakeDone) {
      for (const dir of ['out', 'in'] as const) {
        const left = this.buffers[dir].length
        if (left > 0 && !this.failed[dir]) {
          this.emit({
            layer: 'noise',
            kind: 'error',
            code: 'ERR_UNEXPECTED_EOF',
            message: `the ${
              dir === 'out' ? 'client' : 'server'
            }'s bytes end in the middle of a Noise transport message (${left} bytes of it)`
          }, time)
        }
      }
    }
    if (this.undecrypted.frames > 0) {
      this.emit({
        layer: 'noise',
        kind: 'note',
        message:
          `${this.undecrypted.frames} transport messages (${this.undecrypted.bytes} B) not decrypted: no keys for this connection in the key log`
      }, time)
    }
  }

  /** 1. Whole Noise messages of `dir`. */
  private pump (dir: TraceDirection): void {
    const buf = this.buffers[dir]
    for (;;) {
      if (this.failed[dir]) return
      // Transport messages wait until the handshake (and so the keys) is settled.
      if (!this.handshakeDone && this.counts[dir] >= (dir === 'out' ? 2 : 1)) return
      const view = buf.view()
      if (view.length < LENGTH_PREFIX_BYTES) return
      const length = ((view[0] as number) << 8) | (view[1] as number)
      if (view.length < LENGTH_PREFIX_BYTES + length) return
      const message = view.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length)
      const time = buf.consume(LENGTH_PREFIX_BYTES + length)
      if (this.handshakeDone) this.transport(dir, message, time)
      else this.handshake(dir, message, time)
    }
  }

  /** 2. Message 1 and 3 from the client, 2 from the server. */
  private handshake (dir: TraceDirection, message: Uint8Array, time: number): void {
    const number = dir === 'out' ? (this.counts.out === 0 ? 1 : 3) : 2
    this.counts[dir]++
    this.messages[number - 1] = { bytes: message.slice(), time }
    if (number === 1) this.reportMessage(1, undefined)
    if (this.messages[0] !== undefined && this.messages[1] !== undefined && this.messages[2] !== undefined) {
      this.complete()
    }
  }

  private reportMessage (number: 1 | 2 | 3, info: NoisePayloadInfo | undefined): void {
    const m = this.messages[number - 1]
    if (m === undefined || this.reported[number - 1] === true) return
    this.reported[number - 1] = true
    const tokens = XX_PATTERN[number - 1] as readonly Token[]
    // payload length = message − public-key bytes (− tags once a key exists, i.e. after message 1)
    let keyBytes = 0
    for (const t of tokens) if (t === 'e') keyBytes += DH_LENGTH; else if (t === 's') keyBytes += DH_LENGTH + TAG_LENGTH
    const payloadLength = Math.max(0, m.bytes.length - keyBytes - (number === 1 ? 0 : TAG_LENGTH))
    const e: TraceEvent = {
      layer: 'noise',
      kind: 'handshake',
      dir: number === 2 ? 'in' : 'out',
      message: number,
      tokens,
      length: m.bytes.length,
      payloadLength,
      bytes: m.bytes
    }
    if (info !== undefined) e.payload = info
    this.emit(e, m.time)
  }

  private reportHandshake (replay: Replay | undefined): void {
    this.reportMessage(1, undefined)
    this.reportMessage(2, replay?.info[0])
    this.reportMessage(3, replay?.info[1])
  }

  /** 3.–5. All three messages are there: find the keys and go on to the transport. */
  private complete (): void {
    this.handshakeDone = true
    const m3 = this.messages[2] as HandshakeMessage
    let keys: NoiseKeys | undefined
    let replay: Replay | undefined
    try {
      const h = this.transcriptHash()
      keys = this.opts.keyLog?.find(h)
      if (keys?.handshakeKeys !== undefined) replay = this.replay(keys)
    } catch (err) {
      this.reportHandshake(undefined)
      this.emit(errorEvent('noise', err), m3.time)
      this.failed.in = this.failed.out = true
      return
    }
    this.reportHandshake(replay)
    if (keys === undefined) {
      this.emit({
        layer: 'noise',
        kind: 'note',
        message: 'no keys for this connection in the key log: showing the handshake only'
      }, m3.time)
    } else {
      const complete: TraceEvent = {
        layer: 'noise',
        kind: 'complete',
        role: 'initiator',
        remotePeer: replay?.remotePeer ?? '(unknown: no handshake keys in the key log)'
      }
      if (replay?.muxer !== undefined) complete.muxer = replay.muxer
      this.emit(complete, m3.time)
      this.ciphers = {
        out: new CipherState(this.suite, keys.initiatorToResponder),
        in: new CipherState(this.suite, keys.responderToInitiator)
      }
      this.decrypted = true
      this.next = muxerDissector(this.emit, replay?.muxer, m3.time)
    }
    this.pump('out')
    this.pump('in')
  }

  /** Noise §5.2–5.3: `h` over the transcript, without any key (the ciphertexts are hashed as they are). */
  private transcriptHash (): Uint8Array {
    const hs = HandshakeState.spectator({
      suite: this.suite,
      protocolName: PROTOCOL_NAME,
      prologue: EMPTY,
      tokenKey: () => undefined
    })
    for (const m of this.messages) hs.readMessage((m as HandshakeMessage).bytes)
    return hs.handshakeHash
  }

  /** 4. Decrypt both static keys and payloads with the logged handshake keys; check `h`. */
  private replay (keys: NoiseKeys): Replay {
    const hk = keys.handshakeKeys as NonNullable<NoiseKeys['handshakeKeys']>
    const recorded: Partial<Record<Token, Uint8Array>> = { ee: hk.ee, es: hk.es, se: hk.se }
    // The real machine, replayed: each DH token takes the key the log recorded for it.
    const hs = HandshakeState.spectator({
      suite: this.suite,
      protocolName: PROTOCOL_NAME,
      prologue: EMPTY,
      tokenKey: t => recorded[t]
    })
    const [m1, m2, m3] = this.messages as [HandshakeMessage, HandshakeMessage, HandshakeMessage]
    hs.readMessage(m1.bytes)
    const responderPayload = decodeNoiseHandshakePayload(hs.readMessage(m2.bytes))
    const responderStatic = hs.rs
    const initiatorPayload = decodeNoiseHandshakePayload(hs.readMessage(m3.bytes))
    const statics: Array<Uint8Array | undefined> = [responderStatic, hs.rs] // [responder, initiator]
    const payloads: Replay['payloads'] = [responderPayload, initiatorPayload]
    if (!bytesEqual(hs.handshakeHash, keys.handshakeHash)) {
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        'the handshake keys of the key log do not reproduce this handshake\'s hash'
      )
    }
    const info: Replay['info'] = [undefined, undefined]
    let remotePeer: string | undefined
    for (const j of [0, 1] as const) {
      const p = payloads[j]
      if (p === undefined) continue
      const key = payloadIdentityKey(p)
      const peer = PeerId.fromPublicKey(key).toString()
      if (j === 0) remotePeer = peer
      let signature: NoisePayloadInfo['signature'] = 'unchecked'
      const rs = statics[j]
      if (rs !== undefined) {
        try { verifyStaticKeySignature(key, p.identitySig, rs); signature = 'verified' } catch { signature = 'invalid' }
      }
      const pi: NoisePayloadInfo = { keyType: keyTypeName(key.type), peerId: peer, signature }
      if (p.extensions !== undefined) {
        pi.streamMuxers = p.extensions.streamMuxers
        pi.webtransportCerthashes = p.extensions.webtransportCerthashes.length
      }
      info[j] = pi
    }
    // payloads[0] is the responder's (message 2), payloads[1] the initiator's (message 3).
    const muxer = selectMuxer(payloads[1]?.extensions?.streamMuxers, payloads[0]?.extensions?.streamMuxers)
    return { payloads, info, remotePeer, muxer }
  }

  private transport (dir: TraceDirection, message: Uint8Array, time: number): void {
    const ciphers = this.ciphers
    if (ciphers === undefined) {
      this.undecrypted.frames++
      this.undecrypted.bytes += message.length
      return
    }
    let plaintext: Uint8Array
    try {
      plaintext = ciphers[dir].decrypt(message)
    } catch (err) {
      this.failed[dir] = true
      this.emit(errorEvent('noise', err), time)
      return
    }
    this.emit({ layer: 'noise', kind: 'frame', dir, length: message.length, bytes: message }, time)
    if (plaintext.length > 0) this.next?.push(dir, plaintext, time)
  }
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The muxer: chosen in the handshake (early negotiation), or negotiated with multistream-select. */
function muxerDissector (emit: Emit, early: string | undefined, time: number): Dissector | undefined {
  const start = (protocol: string, at: number): Dissector | undefined => {
    if (protocol === YAMUX_PROTOCOL_ID) return new YamuxDissector(emit)
    if (protocol === MPLEX_PROTOCOL_ID) return new MplexDissector(emit)
    emit({ layer: 'capture', kind: 'note', message: `muxer ${protocol} is not decoded` }, at)
    return undefined
  }
  if (early !== undefined) return start(early, time)
  return new MultistreamDissector({ dialer: 'out', emit, onAgreed: start })
}

/** Per-stream dissectors of a muxer, keyed by opener and id. */
class Streams {
  private readonly map = new Map<string, Dissector>()
  constructor (private readonly emit: Emit) {}

  push (stream: number, opener: 'local' | 'remote', dir: TraceDirection, bytes: Uint8Array, time: number): void {
    const key = `${opener}:${stream}`
    let d = this.map.get(key)
    if (d === undefined) {
      d = streamDissector({ stream, opener }, this.emit)
      this.map.set(key, d)
    }
    d.push(dir, bytes, time)
  }
}

/** yamux frames of both directions through the muxer's own FrameDecoder. */
class YamuxDissector implements Dissector {
  private readonly decoders: Record<TraceDirection, YamuxFrameDecoder>
  private readonly streams: Streams
  private time = 0
  private readonly failed = { in: false, out: false }

  constructor (private readonly emit: Emit) {
    this.streams = new Streams(emit)
    this.decoders = { out: this.decoder('out'), in: this.decoder('in') }
  }

  private decoder (dir: TraceDirection): YamuxFrameDecoder {
    return new YamuxFrameDecoder({
      onHeader: (h: Header) => {
        this.emit({
          layer: 'yamux',
          kind: 'frame',
          dir,
          frameType: h.type,
          flags: h.flags,
          streamId: h.streamId,
          length: h.length,
          bytes: encodeHeader(h)
        }, this.time)
        return h.type === FrameType.Data
      },
      onPayload: (h: Header, piece: Uint8Array) => {
        // yamux spec §Stream ID: the client (the TCP dialer, 'out') opens odd ids.
        const opener = (h.streamId & 1) === 1 ? 'local' : 'remote'
        this.emit({
          layer: 'stream',
          kind: 'data',
          dir,
          stream: h.streamId,
          opener,
          length: piece.length,
          bytes: piece
        }, this.time)
        this.streams.push(h.streamId, opener, dir, piece, this.time)
      },
      onDataEnd: () => {}
    })
  }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.failed[dir]) return
    this.time = time
    try {
      this.decoders[dir].push(bytes)
    } catch (err) {
      this.failed[dir] = true
      this.emit(errorEvent('yamux', err), time)
    }
  }
}

/** mplex frames of both directions through the muxer's own FrameDecoder. */
class MplexDissector implements Dissector {
  private readonly decoders = { out: new MplexFrameDecoder(), in: new MplexFrameDecoder() }
  private readonly streams: Streams
  private readonly failed = { in: false, out: false }
  /** The frame whose body pieces are arriving, per direction. */
  private readonly current: Record<TraceDirection, { streamId: number, opener: 'local' | 'remote', data: boolean }> = {
    in: { streamId: 0, opener: 'local', data: false },
    out: { streamId: 0, opener: 'local', data: false }
  }

  constructor (private readonly emit: Emit) {
    this.streams = new Streams(emit)
  }

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.failed[dir]) return
    const cur = this.current[dir]
    try {
      this.decoders[dir].push(bytes, {
        onFrame: (streamId, flag, length) => {
          const event = frameEvent(dir, streamId, flag, length)
          cur.streamId = streamId
          cur.opener = event.opener
          cur.data = flag === MessageFlag.MessageInitiator || flag === MessageFlag.MessageReceiver
          this.emit(event, time)
        },
        onData: (data) => {
          if (!cur.data) return // a NewStream name
          this.emit({
            layer: 'stream',
            kind: 'data',
            dir,
            stream: cur.streamId,
            opener: cur.opener,
            length: data.length,
            bytes: data
          }, time)
          this.streams.push(cur.streamId, cur.opener, dir, data, time)
        }
      })
    } catch (err) {
      this.failed[dir] = true
      this.emit(errorEvent('mplex', err), time)
    }
  }
}
