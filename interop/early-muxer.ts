/**
 * Early (inlined) muxer negotiation, checked on the wire — for the interop matrix's "muxer" column.
 *
 * connections/inlined-muxer-negotiation.md: when both Noise handshake payloads carry
 * `extensions.stream_muxers`, the muxer is agreed inside the handshake and yamux frames start right
 * after Noise message 3, with no multistream round for `/yamux/1.0.0`. When either side sends no
 * list (rust-libp2p, nim) the muxer is negotiated with multistream inside the encrypted channel.
 *
 * The check does not trust the stack under test: a recording TCP proxy sits between the two peers,
 * and this module reads its transcript on its own —
 *
 *   1. split each direction into the plaintext multistream messages (`/multistream/1.0.0`, `/noise`)
 *      and the 2-byte-length-prefixed Noise messages that follow (noise/README.md §"Wire Format");
 *   2. recompute the handshake hash h of the XX handshake from the public transcript (Noise §5.2,
 *      §7.5: h only ever absorbs the prologue, public keys and ciphertexts);
 *   3. find the transport keys with that h in switchyard's `--keylog` file (src/trace/keylog.ts);
 *   4. decrypt the first transport messages of each direction (ChaChaPoly, nonce = 4 zero bytes ‖
 *      64-bit little-endian counter, empty associated data — Noise §5.1, §12.3);
 *   5. classify what each side sent first: a multistream header + `/yamux/1.0.0` (muxer negotiated
 *      with multistream) or a yamux frame header (early negotiation).
 *
 * `traceFacts` reads switchyard's own `--trace-file` for the same connection, as a second opinion.
 */
import { createDecipheriv, createHash } from 'node:crypto'
import net from 'node:net'

/** Noise §8: the protocol name is exactly 32 bytes, so h starts as the name itself (§5.2 InitializeSymmetric). */
const NOISE_PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'
/** X25519 public key, and a 32-byte key encrypted with its 16-byte tag. */
const DH_LEN = 32
const TAG_LEN = 16
const MULTISTREAM_HEADER = '/multistream/1.0.0'
const YAMUX = '/yamux/1.0.0'
/** Multistream messages are at most 1024 bytes in go, js and nim (digest §2.5). */
const MAX_MULTISTREAM_MESSAGE = 1024
/** yamux spec §Framing: version 0, types 0 (Data) … 3 (GoAway). */
const YAMUX_VERSION = 0
const YAMUX_MAX_TYPE = 3
const YAMUX_HEADER_LENGTH = 12

// ───────────────────────────── recording proxy ─────────────────────────────

/** The bytes of one proxied TCP connection, per direction. */
export interface Recording {
  dialerToListener: Buffer[]
  listenerToDialer: Buffer[]
}

/**
 * A loopback TCP proxy that forwards every accepted connection to `targetPort` and records both
 * directions, half-closes included.
 */
export class RecordingProxy {
  readonly recordings: Recording[] = []
  private readonly sockets = new Set<net.Socket>()

  private constructor (private readonly server: net.Server, readonly port: number) {}

  static async start (targetPort: number): Promise<RecordingProxy> {
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => { resolve() })
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address')
    const proxy = new RecordingProxy(server, address.port)
    server.on('connection', (dialer) => { proxy.forward(dialer, targetPort) })
    return proxy
  }

  private forward (dialer: net.Socket, targetPort: number): void {
    const recording: Recording = { dialerToListener: [], listenerToDialer: [] }
    this.recordings.push(recording)
    const listener = net.connect(targetPort, '127.0.0.1')
    for (const s of [dialer, listener]) {
      this.sockets.add(s)
      s.on('close', () => { this.sockets.delete(s) })
      s.on('error', () => { dialer.destroy(); listener.destroy() })
    }
    const pipe = (from: net.Socket, to: net.Socket, record: Buffer[]): void => {
      from.on('data', (chunk: Buffer) => { record.push(chunk); to.write(chunk) })
      from.on('end', () => { to.end() })
    }
    pipe(dialer, listener, recording.dialerToListener)
    pipe(listener, dialer, recording.listenerToDialer)
  }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}

// ───────────────────────────── transcript ─────────────────────────────

/** One direction of a connection, split into its layers. */
export interface SideTranscript {
  /** Plaintext multistream messages before Noise, without the newline. */
  multistream: string[]
  /** Every Noise message in order (handshake, then transport), without the 2-byte length prefix. */
  noise: Uint8Array[]
}

function readUvarint (buf: Uint8Array, offset: number): [number, number] | undefined {
  let value = 0
  for (let i = 0; i < 9 && offset + i < buf.length; i++) {
    const b = buf[offset + i] as number
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return [value, i + 1]
  }
  return undefined
}

/**
 * Multistream messages from `offset` while they parse (a valid length, text ending in "\n"),
 * stopping after `stopAfter` (inclusive) or at `max` messages.
 */
function readMultistream (
  buf: Uint8Array,
  offset: number,
  stopAfter: string | undefined,
  max = 16
): { messages: string[], offset: number } {
  const messages: string[] = []
  while (messages.length < max) {
    const v = readUvarint(buf, offset)
    if (v === undefined) break
    const [len, used] = v
    if (len < 1 || len > MAX_MULTISTREAM_MESSAGE || offset + used + len > buf.length) break
    const body = buf.subarray(offset + used, offset + used + len)
    if (body[len - 1] !== 0x0a) break
    messages.push(Buffer.from(body.subarray(0, len - 1)).toString('utf8'))
    offset += used + len
    if (messages.at(-1) === stopAfter) break
  }
  return { messages, offset }
}

/** Split one direction: multistream up to and including `/noise`, then Noise messages. */
export function splitSide (bytes: Uint8Array): SideTranscript {
  const { messages, offset } = readMultistream(bytes, 0, '/noise')
  if (messages.at(-1) !== '/noise') {
    throw new Error(
      `expected multistream messages ending in /noise before the Noise handshake, got ${JSON.stringify(messages)}`
    )
  }
  const noise: Uint8Array[] = []
  let at = offset
  while (at + 2 <= bytes.length) {
    const len = ((bytes[at] as number) << 8) | (bytes[at + 1] as number)
    if (at + 2 + len > bytes.length) break // cut off by the end of the capture
    noise.push(bytes.subarray(at + 2, at + 2 + len))
    at += 2 + len
  }
  return { multistream: messages, noise }
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * The handshake hash after XX message 3, from the wire (Noise §5.2 MixHash; §7.5 XX):
 *   h = name; MixHash(prologue = "")
 *   -> e                  MixHash(e), MixHash(payload1)           (no key yet: payload in clear)
 *   <- e, ee, s, es       MixHash(e), MixHash(enc s), MixHash(enc payload2)
 *   -> s, se              MixHash(enc s), MixHash(enc payload3)
 * DH tokens only touch ck, never h.
 */
export function handshakeHash (msg1: Uint8Array, msg2: Uint8Array, msg3: Uint8Array): Uint8Array {
  if (
    msg1.length < DH_LEN || msg2.length < 2 * DH_LEN + TAG_LEN + TAG_LEN || msg3.length < DH_LEN + TAG_LEN + TAG_LEN
  ) {
    throw new Error(`Noise XX message lengths ${msg1.length}/${msg2.length}/${msg3.length} are too short`)
  }
  let h: Uint8Array = Buffer.from(NOISE_PROTOCOL_NAME, 'ascii')
  h = sha256(h, new Uint8Array(0))
  h = sha256(h, msg1.subarray(0, DH_LEN))
  h = sha256(h, msg1.subarray(DH_LEN))
  h = sha256(h, msg2.subarray(0, DH_LEN))
  h = sha256(h, msg2.subarray(DH_LEN, 2 * DH_LEN + TAG_LEN))
  h = sha256(h, msg2.subarray(2 * DH_LEN + TAG_LEN))
  h = sha256(h, msg3.subarray(0, DH_LEN + TAG_LEN))
  h = sha256(h, msg3.subarray(DH_LEN + TAG_LEN))
  return h
}

/** The transport keys of one connection from a switchyard key log (src/trace/keylog.ts). */
export interface TransportKeys {
  initiatorToResponder: Buffer
  responderToInitiator: Buffer
}

export function findKeys (keylog: string, h: Uint8Array): TransportKeys | undefined {
  const want = Buffer.from(h).toString('hex')
  for (const line of keylog.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f[0] !== 'SWITCHYARD_NOISE' || f.length !== 7 || f[6] !== want) continue
    return {
      initiatorToResponder: Buffer.from(f[4] as string, 'hex'),
      responderToInitiator: Buffer.from(f[5] as string, 'hex')
    }
  }
  return undefined
}

/** Decrypt Noise transport messages 0, 1, … of one direction (Noise §5.1 DecryptWithAd, ad = empty). */
export function decryptTransport (key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] {
  return messages.map((m, n) => {
    if (m.length < TAG_LEN) throw new Error(`transport message ${n} is ${m.length} bytes, shorter than its tag`)
    const nonce = Buffer.alloc(12)
    nonce.writeBigUInt64LE(BigInt(n), 4)
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LEN })
    d.setAuthTag(m.subarray(m.length - TAG_LEN))
    try {
      return Buffer.concat([d.update(m.subarray(0, m.length - TAG_LEN)), d.final()])
    } catch {
      throw new Error(`transport message ${n} does not decrypt with the logged key`)
    }
  })
}

// ───────────────────────────── classification ─────────────────────────────

/** What one side sent first on the encrypted channel. */
export type MuxerStart =
  | { kind: 'multistream', messages: string[] }
  | { kind: 'yamux', frameType: number, flags: number, streamId: number }
  | { kind: 'nothing' }
  | { kind: 'other', hex: string }

export function classifyStart (plaintext: Uint8Array): MuxerStart {
  if (plaintext.length === 0) return { kind: 'nothing' }
  const { messages } = readMultistream(plaintext, 0, undefined, 2)
  if (messages[0] === MULTISTREAM_HEADER) return { kind: 'multistream', messages }
  if (
    plaintext.length >= YAMUX_HEADER_LENGTH && plaintext[0] === YAMUX_VERSION &&
    (plaintext[1] as number) <= YAMUX_MAX_TYPE
  ) {
    const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength)
    return { kind: 'yamux', frameType: view.getUint8(1), flags: view.getUint16(2), streamId: view.getUint32(4) }
  }
  return { kind: 'other', hex: Buffer.from(plaintext.subarray(0, 16)).toString('hex') }
}

export function describeStart (s: MuxerStart): string {
  switch (s.kind) {
    case 'multistream': return `multistream ${s.messages.join(' + ')}`
    case 'yamux': return `yamux frame (type ${s.frameType}, flags ${s.flags}, stream ${s.streamId})`
    case 'nothing': return 'nothing'
    case 'other': return `unknown bytes ${s.hex}`
  }
}

/** How the muxer was agreed on one connection, as seen on the wire. */
export interface WireMuxerObservation {
  /** 'early': both sides started with yamux frames; 'multistream': both ran `/yamux/1.0.0` over multistream. */
  mode: 'early' | 'multistream' | 'inconsistent'
  dialer: MuxerStart
  listener: MuxerStart
  /** Noise message 2 and 3 lengths (the extensions make them 16+ bytes longer). */
  msg2Length: number
  msg3Length: number
}

const isMultistreamYamux = (s: MuxerStart): boolean =>
  s.kind === 'multistream' && s.messages[0] === MULTISTREAM_HEADER && s.messages[1] === YAMUX

/**
 * Read one recorded connection with the key log of either side. Enough transport messages are
 * decrypted to see each side's first bytes (the first message of a side may be short).
 */
export function observeWire (recording: Recording, keylog: string): WireMuxerObservation {
  const d2l = splitSide(Buffer.concat(recording.dialerToListener))
  const l2d = splitSide(Buffer.concat(recording.listenerToDialer))
  const [msg1, msg3, ...dialerTransport] = d2l.noise
  const [msg2, ...listenerTransport] = l2d.noise
  if (msg1 === undefined || msg2 === undefined || msg3 === undefined) {
    throw new Error(
      `incomplete Noise handshake on the wire (${d2l.noise.length} dialer and ${l2d.noise.length} listener messages)`
    )
  }
  const keys = findKeys(keylog, handshakeHash(msg1, msg2, msg3))
  if (keys === undefined) throw new Error('no key log line has the handshake hash of the recorded connection')
  const first = (key: Uint8Array, messages: Uint8Array[]): Uint8Array =>
    Buffer.concat(decryptTransport(key, messages.slice(0, 4)))
  const dialer = classifyStart(first(keys.initiatorToResponder, dialerTransport))
  const listener = classifyStart(first(keys.responderToInitiator, listenerTransport))
  let mode: WireMuxerObservation['mode'] = 'inconsistent'
  if (dialer.kind === 'yamux' && listener.kind === 'yamux') mode = 'early'
  else if (isMultistreamYamux(dialer) && isMultistreamYamux(listener)) mode = 'multistream'
  return { mode, dialer, listener, msg2Length: msg2.length, msg3Length: msg3.length }
}

// ───────────────────────────── switchyard's own trace ─────────────────────────────

/** What switchyard's `--trace-file` says about the muxer of its connections. */
export interface TraceMuxerFacts {
  connections: number
  /** `extensions.stream_muxers` of the remote's handshake payload (undefined: none sent). */
  remoteStreamMuxers: Array<string[] | undefined>
  /** `noise complete` `muxer`: the early negotiation result, per connection. */
  earlyMuxers: Array<string | undefined>
  /** Connection-level (not on a stream) multistream messages naming `/yamux/1.0.0`. */
  multistreamYamuxMessages: number
}

export function traceFacts (jsonl: string): TraceMuxerFacts {
  const facts: TraceMuxerFacts = {
    connections: 0,
    remoteStreamMuxers: [],
    earlyMuxers: [],
    multistreamYamuxMessages: 0
  }
  for (const line of jsonl.split('\n')) {
    if (line.trim() === '') continue
    const e = JSON.parse(line) as Record<string, unknown>
    if (e.layer === 'noise' && e.kind === 'handshake' && e.dir === 'in' && (e.message === 2 || e.message === 3)) {
      const payload = e.payload as { streamMuxers?: string[] } | undefined
      facts.remoteStreamMuxers.push(payload?.streamMuxers)
    } else if (e.layer === 'noise' && e.kind === 'complete') {
      facts.connections++
      facts.earlyMuxers.push(typeof e.muxer === 'string' ? e.muxer : undefined)
    } else if (e.layer === 'multistream' && e.kind === 'message' && e.stream === undefined && e.message === YAMUX) {
      facts.multistreamYamuxMessages++
    }
  }
  return facts
}
