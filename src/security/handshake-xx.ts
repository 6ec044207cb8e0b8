/**
 * The libp2p XX handshake as a sans-I/O state machine (noise/README.md §"Handshake"):
 *
 *   -> e                      message 1, payload EMPTY (rust rejects anything else)
 *   <- e, ee, s, es           message 2, payload = responder's NoiseHandshakePayload
 *   -> s, se                  message 3, payload = initiator's NoiseHandshakePayload
 *
 * The machine takes whole Noise messages (the 2-byte length already removed) and returns the framed
 * bytes to send plus, at the end, the result: the remote identity and the two transport
 * CipherStates. It never touches a socket or a timer; secure-connection.ts drives it.
 *
 * Checks on a received payload (messages 2 and 3), in go's order:
 *  1. `identity_key` parses as a PublicKey            → else ERR_NOISE_HANDSHAKE
 *  2. its peer id equals the expected one, if any     → else ERR_PEER_ID_MISMATCH
 *  3. `identity_sig` verifies over prefix ‖ `rs`      → else ERR_INVALID_SIGNATURE
 * The initiator runs them on message 2 *before* writing message 3, so a wrong peer never sees our
 * identity and no application byte is ever exchanged with it.
 *
 * Early muxer negotiation (connections/inlined-muxer-negotiation.md): each side lists
 * its muxers in `extensions.stream_muxers`; the result is the first entry of the *initiator's* list
 * that the responder also lists. When either side sent no list, or an empty one, the result is
 * undefined and the muxer is negotiated with multistream-select afterwards. When both sent lists
 * without a common entry the spec says the handshake MUST fail; we follow go instead (go-libp2p#1889)
 * and also return undefined, so the connection falls back to multistream negotiation, which then
 * succeeds or fails on its own terms. js-libp2p throws in that case; go and rust/nim peers do not.
 */
import { CodecError, NoiseError } from '../errors.js'
import type { NoiseHandshakeEvent, NoisePayloadInfo, TraceObserver } from '../trace/observer.js'
import { decodeNoiseHandshakePayload } from '../proto/noise-payload.js'
import type { NoiseExtensions, NoiseHandshakePayload } from '../proto/noise-payload.js'
import type { CipherState } from './cipher-state.js'
import { LENGTH_PREFIX_BYTES, MAX_NOISE_MESSAGE_LENGTH, MAX_STREAM_MUXERS, PROTOCOL_NAME } from './constants.js'
import { HandshakeState } from './handshake-state.js'
import { createHandshakePayload, payloadIdentityKey, verifyStaticKeySignature } from './identity.js'
import { keyTypeName } from './keys.js'
import type { PrivateKey, PublicKey } from './keys.js'
import { PeerId } from './peer-id.js'
import type { CryptoSuite, X25519KeyPair } from './suite.js'

export interface XXHandshakeOptions {
  initiator: boolean
  /** Our libp2p identity; signs the static key. */
  identity: PrivateKey
  suite: CryptoSuite
  /**
   * Our Noise static key. Default: one per identity and process, generated on first use and never
   * persisted (js does the same; go makes one per connection; the spec allows both).
   */
  staticKey?: X25519KeyPair
  /** Injected ephemeral key (test vectors). Default: a fresh one from `randomBytes` or the suite. */
  ephemeralKey?: X25519KeyPair
  randomBytes?: (length: number) => Uint8Array
  /** Default empty, as every libp2p implementation uses over TCP. */
  prologue?: Uint8Array
  /** The peer we expect (dialer: from `/p2p/<id>`); a different identity fails with ERR_PEER_ID_MISMATCH. */
  expectedPeer?: PeerId
  /** Muxers we announce in `stream_muxers`, in preference order. Empty: no extensions are sent. */
  muxers: readonly string[]
  /** Record the handshake cipher keys for `tokenKeys` (explicit key log only). */
  recordKeys?: boolean
  /** Trace hook: one event per handshake message and one at completion; nothing is built when absent. */
  observer?: TraceObserver
}

export interface XXHandshakeResult {
  remotePeer: PeerId
  remotePublicKey: PublicKey
  /** The remote's extensions, when it sent any. */
  remoteExtensions: NoiseExtensions | undefined
  /** Early muxer negotiation result; undefined → negotiate with multistream-select. */
  muxer: string | undefined
  /** Our sending direction (c1 for the initiator, c2 for the responder) and the receiving one. */
  encrypter: CipherState
  decrypter: CipherState
  /** Noise `h` after the handshake (channel binding). */
  handshakeHash: Uint8Array
  /** With `recordKeys`: the cipher key after the ee, es and se tokens. */
  tokenKeys?: { ee: Uint8Array, es: Uint8Array, se: Uint8Array }
}

export interface XXStep {
  /** Bytes to write to the peer: 2-byte big-endian length ‖ Noise message. */
  send?: Uint8Array
  /** Present once the handshake is complete. */
  result?: XXHandshakeResult
}

const EMPTY = new Uint8Array(0)

interface LocalStatic {
  key: X25519KeyPair
  /** Signed payloads by announced-muxer list (signing once per process, not per connection). */
  payloads: Map<string, Uint8Array>
}
/** Per-process static keys, per identity (weakly held: dropping the identity drops its key). */
const localStatics = new WeakMap<PrivateKey, LocalStatic>()

function localStaticFor (identity: PrivateKey, suite: CryptoSuite): LocalStatic {
  let entry = localStatics.get(identity)
  if (entry === undefined) {
    entry = { key: suite.generateKeyPair(), payloads: new Map() }
    localStatics.set(identity, entry)
  }
  return entry
}

/** First entry of the initiator's list that the responder also lists (see the module comment). */
export function selectMuxer (
  initiatorMuxers: readonly string[] | undefined,
  responderMuxers: readonly string[] | undefined
): string | undefined {
  if (initiatorMuxers === undefined || responderMuxers === undefined) return undefined
  if (initiatorMuxers.length === 0 || responderMuxers.length === 0) return undefined
  return initiatorMuxers.find(m => responderMuxers.includes(m))
}

/** Prepend the 2-byte big-endian length (noise/README.md §"Wire Format"). */
export function frameMessage (message: Uint8Array): Uint8Array {
  if (message.length > MAX_NOISE_MESSAGE_LENGTH) {
    throw new NoiseError(
      'ERR_NOISE_MESSAGE_TOO_LARGE',
      `"noise message length" expected <= ${MAX_NOISE_MESSAGE_LENGTH}, got ${message.length}`
    )
  }
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + message.length)
  out[0] = message.length >>> 8
  out[1] = message.length & 0xff
  out.set(message, LENGTH_PREFIX_BYTES)
  return out
}

export class XXHandshake {
  readonly initiator: boolean
  private readonly hs: HandshakeState
  private readonly opts: XXHandshakeOptions
  private readonly localPayload: Uint8Array
  private readonly localStaticPublic: Uint8Array
  private remote: { payload: NoiseHandshakePayload, key: PublicKey, peer: PeerId } | undefined
  private failed = false

  constructor (opts: XXHandshakeOptions) {
    this.opts = opts
    this.initiator = opts.initiator
    const extensions: NoiseExtensions | undefined = opts.muxers.length > 0
      ? { webtransportCerthashes: [], streamMuxers: [...opts.muxers] }
      : undefined
    let s: X25519KeyPair
    if (opts.staticKey !== undefined) {
      s = opts.staticKey
      this.localPayload = createHandshakePayload(opts.identity, s.publicKey, extensions)
    } else {
      const local = localStaticFor(opts.identity, opts.suite)
      s = local.key
      const cacheKey = opts.muxers.join('\n')
      let payload = local.payloads.get(cacheKey)
      if (payload === undefined) {
        payload = createHandshakePayload(opts.identity, s.publicKey, extensions)
        local.payloads.set(cacheKey, payload)
      }
      this.localPayload = payload
    }
    this.localStaticPublic = s.publicKey
    const init: ConstructorParameters<typeof HandshakeState>[0] = {
      suite: opts.suite,
      protocolName: PROTOCOL_NAME,
      initiator: opts.initiator,
      prologue: opts.prologue ?? EMPTY,
      s
    }
    if (opts.ephemeralKey !== undefined) init.e = opts.ephemeralKey
    if (opts.randomBytes !== undefined) init.randomBytes = opts.randomBytes
    if (opts.recordKeys === true) init.recordTokenKeys = true
    this.hs = new HandshakeState(init)
  }

  /** True once the result was returned. */
  get isComplete (): boolean {
    return this.hs.isComplete
  }

  /** The initiator's message 1 (`-> e`, empty payload). The responder has nothing to send first. */
  start (): XXStep {
    if (!this.initiator) return {}
    return { send: this.write(EMPTY) }
  }

  /** Feed one whole Noise message from the peer (length prefix removed). */
  receive (message: Uint8Array): XXStep {
    if (this.failed) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'handshake already failed')
    if (this.hs.isComplete) {
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        'handshake already complete: transport messages go to the transport decoder'
      )
    }
    try {
      return this.initiator ? this.receiveAsInitiator(message) : this.receiveAsResponder(message)
    } catch (err) {
      this.failed = true
      throw err
    }
  }

  private receiveAsInitiator (message: Uint8Array): XXStep {
    // <- e, ee, s, es   (message 2)
    const payload = this.hs.readMessage(message)
    this.acceptRemotePayload(message, payload)
    // -> s, se          (message 3), only once the responder is authenticated
    const send = this.write(this.localPayload)
    return { send, result: this.finish() }
  }

  private receiveAsResponder (message: Uint8Array): XXStep {
    if (this.hs.messageIndex === 0) {
      // -> e   (message 1). A non-empty payload breaks the libp2p spec; it is unauthenticated, so we
      // neither use nor reject it (go ignores it too).
      const payload = this.hs.readMessage(message)
      this.report('in', message, payload.length, undefined)
      // <- e, ee, s, es   (message 2)
      return { send: this.write(this.localPayload) }
    }
    // -> s, se   (message 3)
    const payload = this.hs.readMessage(message)
    this.acceptRemotePayload(message, payload)
    return { result: this.finish() }
  }

  private acceptRemotePayload (message: Uint8Array, bytes: Uint8Array): void {
    let payload: NoiseHandshakePayload
    try {
      payload = decodeNoiseHandshakePayload(bytes)
    } catch (err) {
      const detail = err instanceof CodecError ? err.message : String(err)
      throw new NoiseError(
        'ERR_NOISE_HANDSHAKE',
        `handshake message ${this.hs.messageIndex}: payload is not a NoiseHandshakePayload (${detail})`,
        { cause: err }
      )
    }
    const key = payloadIdentityKey(payload)
    const peer = PeerId.fromPublicKey(key)
    const expected = this.opts.expectedPeer
    if (expected !== undefined && !expected.equals(peer)) {
      throw new NoiseError(
        'ERR_PEER_ID_MISMATCH',
        `noise: dialed ${expected.toString()}, but the peer authenticated as ${peer.toString()} (wrong peer id)`
      )
    }
    const rs = this.hs.rs
    if (rs === undefined) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'no remote static key after its message')
    try {
      verifyStaticKeySignature(key, payload.identitySig, rs)
    } catch (err) {
      this.report('in', message, bytes.length, () => payloadInfo(payload, key, peer, 'invalid'))
      throw err
    }
    this.remote = { payload, key, peer }
    this.report('in', message, bytes.length, () => payloadInfo(payload, key, peer, 'verified'))
  }

  private write (payload: Uint8Array): Uint8Array {
    const message = this.hs.writeMessage(payload)
    const framed = frameMessage(message)
    if (this.opts.observer !== undefined) {
      const info = payload.length === 0
        ? undefined
        : () =>
            payloadInfo(
              decodeNoiseHandshakePayload(payload),
              this.opts.identity.publicKey,
              PeerId.fromPublicKey(this.opts.identity.publicKey),
              'sent'
            )
      this.report('out', message, payload.length, info)
    }
    return framed
  }

  private finish (): XXHandshakeResult {
    const remote = this.remote
    if (remote === undefined) throw new NoiseError('ERR_NOISE_HANDSHAKE', 'handshake finished without a remote payload')
    const [c1, c2] = this.hs.split()
    const remoteMuxers = remote.payload.extensions?.streamMuxers
    const remoteList = remoteMuxers !== undefined && remoteMuxers.length <= MAX_STREAM_MUXERS ? remoteMuxers : undefined
    const ours = this.opts.muxers
    const muxer = this.initiator ? selectMuxer(ours, remoteList) : selectMuxer(remoteList, ours)
    const obs = this.opts.observer
    if (obs !== undefined) {
      obs.event({
        layer: 'noise',
        kind: 'complete',
        role: this.initiator ? 'initiator' : 'responder',
        remotePeer: remote.peer.toString(),
        ...(muxer !== undefined ? { muxer } : {})
      })
    }
    const result: XXHandshakeResult = {
      remotePeer: remote.peer,
      remotePublicKey: remote.key,
      remoteExtensions: remote.payload.extensions,
      muxer,
      encrypter: this.initiator ? c1 : c2,
      decrypter: this.initiator ? c2 : c1,
      handshakeHash: this.hs.handshakeHash
    }
    const tk = this.hs.tokenKeys
    if (tk?.ee !== undefined && tk.es !== undefined && tk.se !== undefined) {
      result.tokenKeys = { ee: tk.ee, es: tk.es, se: tk.se }
    }
    return result
  }

  /** Our static public key (X25519), e.g. for tests that check what the peer signed. */
  get staticPublicKey (): Uint8Array {
    return this.localStaticPublic
  }

  private report (
    dir: 'in' | 'out',
    message: Uint8Array,
    payloadLength: number,
    info: (() => NoisePayloadInfo) | undefined
  ): void {
    const obs = this.opts.observer
    if (obs === undefined) return
    // messageIndex already advanced past this message
    const number = this.hs.messageIndex as 1 | 2 | 3
    const e: NoiseHandshakeEvent = {
      layer: 'noise',
      kind: 'handshake',
      dir,
      message: number,
      tokens: this.hs.pattern[number - 1] ?? [],
      length: message.length,
      payloadLength,
      bytes: message
    }
    if (info !== undefined) e.payload = info()
    obs.event(e)
  }
}

function payloadInfo (
  payload: NoiseHandshakePayload,
  key: PublicKey,
  peer: PeerId,
  signature: NoisePayloadInfo['signature']
): NoisePayloadInfo {
  const info: NoisePayloadInfo = { keyType: keyTypeName(key.type), peerId: peer.toString(), signature }
  if (payload.extensions !== undefined) {
    info.streamMuxers = payload.extensions.streamMuxers
    info.webtransportCerthashes = payload.extensions.webtransportCerthashes.length
  }
  return info
}
