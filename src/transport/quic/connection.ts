/**
 * One QUIC connection as a sans-I/O state machine (RFC 9000 §5-13, RFC 9001 §4-6, RFC 9002).
 * It never touches a socket, timer or promise: the adapter feeds it
 *
 *   receiveDatagram(bytes, now)   a UDP datagram for this connection
 *   pollDatagrams(now)            datagrams to send now (coalesced, padded, limited by congestion
 *                                 control and, on a server, by the 3x amplification limit)
 *   nextTimeout() / onTimeout(now) the one timer (loss detection, PTO, ACK delay, idle)
 *   pollEvents()                  handshake done, streams opened/readable/reset, closed
 *
 * Receiving a packet (RFC 9000 §12, RFC 9001 §5):
 *   1. split the datagram into coalesced packets; a malformed one drops the rest (§12.2)
 *   2. no keys for its level, undecryptable, or a duplicate → drop with no state change (RFC 9001 §5.5)
 *   3. reserved bits set after unmasking → PROTOCOL_VIOLATION (§17.2)
 *   4. frames decoded and checked against the packet type (§12.4); any QuicError closes the
 *      connection with that transport error code (CONNECTION_CLOSE)
 *   5. the packet number is recorded for acknowledgement
 *
 * Receive flow control (RFC 9000 §4): `read(id)` hands bytes to the application, `consumed(id, n)`
 * grants the credit (MAX_STREAM_DATA / MAX_DATA), so a stream's memory is bounded by its window
 * whatever the application does; a stream it abandons (STOP_SENDING, RESET_STREAM) gives its
 * bytes back to the connection window at once. Everything the peer can make us hold on the receive
 * side is thus below the connection window (MAX_DATA − consumed). With `attachMemory`, a memory
 * budget (the connection's resource scope) is charged what is really held and what was promised
 * beyond the transport parameters:
 *
 *   charged = (received − consumed)              bytes that arrived and the application has not consumed
 *           + (window − initial_max_data)        connection window growth granted by auto-tuning
 *
 * so an idle connection costs nothing: its initial windows are bounded by initial_max_data, and the
 * peer/process arithmetic in docs/limits.md bounds them. Arriving bytes the budget refuses reset their
 * stream (RESET_STREAM and STOP_SENDING: credit already granted is never revoked, RFC 9000 §4.1; the
 * bytes are dropped and credited back); a growth the budget refuses is not granted.
 *
 * The TLS 1.3 handshake is the shared machine of security/tls (RFC 9001 §4): its messages travel in
 * CRYPTO frames per encryption level, its secrets install packet keys, the transport parameters
 * ride in the quic_transport_parameters extension (RFC 9001 §8.2).
 *
 * Retry and Version Negotiation: a client takes one Retry (integrity-checked, token echoed, Initial
 * keys re-derived) and checks retry_source_connection_id (RFC 9000 §7.3); a VN that lists no
 * version of ours closes it with ERR_QUIC_VERSION (we speak only v1). The server side of both is
 * stateless and lives in stateless.ts; a server connection made after a Retry gets `retry`.
 *
 * Not implemented (recorded, not hidden): 0-RTT,
 * connection migration and NEW_CONNECTION_ID issuance (peer ids are stored, ours stay the
 * handshake ones).
 *
 * Sending is limited by congestion control and paced (RFC 9002 §7.7): ack-eliciting datagrams leave
 * at most PACING_BURST_DATAGRAMS at once, then as the pacer allows; its next time is part of
 * `nextTimeout`. ACK-only datagrams are not paced. Key updates (RFC 9001 §6) start after
 * `keyUpdateIntervalPackets` or near the AEAD confidentiality limit, or by `updateKeys()`.
 */
import { concatBytes } from '../../codec/bytes.js'
import { QuicError, toError } from '../../errors.js'
import { ExtensionType } from '../../security/tls/constants.js'
import {
  TlsHandshake,
  type EncryptionLevel,
  type PeerCertificate,
  type TlsAction,
  type TlsCredential,
  type TlsHandshakeResult,
  type TlsMessageTrace
} from '../../security/tls/handshake.js'
import { suiteParams } from '../../security/tls/key-schedule.js'
import { AckTracker } from './ack-tracker.js'
import { QuicReader, QuicWriter } from './buffer.js'
import { AmplificationLimit, NewReno, Pacer } from './congestion.js'
import {
  FrameType,
  KEY_PHASE_BIT,
  LongPacketType,
  MIN_INITIAL_DATAGRAM_SIZE,
  PacketNumberSpace,
  QUIC_V1,
  STATELESS_RESET_TOKEN_LENGTH
} from './constants.js'
import { ReceiveFlowControl, SendFlowControl, StreamLimits } from './flow-control.js'
import { assertFrameAllowed, decodeFrames, encodeFrame, frameLength, isAckEliciting, type Frame } from './frame.js'
import { encodeLongHeader, encodeShortHeader, splitDatagram, type PacketHeader } from './header.js'
import { aeadLimits, DEFAULT_KEY_UPDATE_INTERVAL_PACKETS, OneRttKeys } from './key-update.js'
import { LossDetection, type SentPacket } from './loss-detection.js'
import { packetNumberLength, truncatePacketNumber } from './packet-number.js'
import { BASE_DATAGRAM_SIZE, PathMtuSearch } from './pmtu.js'
import {
  AEAD_TAG_LENGTH,
  derivePacketKeys,
  initialKeys,
  openPayload,
  removeHeaderProtection,
  sealPacket,
  verifyRetryIntegrity,
  type PacketKeys
} from './protection.js'
import { varintLength } from './varint.js'
import { RecvBuffer } from './recv-buffer.js'
import { RttEstimator } from './rtt.js'
import { SendBuffer } from './send-buffer.js'
import { canReceive, canSend, initiatorOf, isBidirectional, streamIdFor, streamIndex } from './stream-id.js'
import {
  decodeTransportParameters, defaultTransportParameters, encodeTransportParameters, type TransportParameters
} from './transport-parameters.js'

/** Bytes of CRYPTO data buffered out of order per level before CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5). */
export const MAX_CRYPTO_BUFFER_BYTES = 64 * 1024
/**
 * The datagram size we start with (RFC 9000 §14: every path carries 1200); DPLPMTUD (pmtu.ts) grows
 * it up to `maxDatagramSize` once the handshake is confirmed.
 */
export const MAX_DATAGRAM_SIZE = BASE_DATAGRAM_SIZE
/**
 * Datagrams one `pollDatagrams` returns at most (the event loop is not held longer); an adapter that
 * got this many polls again soon, as there may be more the window and the pacer allow.
 */
export const MAX_DATAGRAMS_PER_POLL = 64
/** The max_udp_payload_size we announce at least (quic-go's and quinn's probing ceiling). */
export const ANNOUNCED_UDP_PAYLOAD_SIZE = 1452

export interface QuicConnectionConfig<T> {
  role: 'client' | 'server'
  credential: TlsCredential
  verifyPeer: (chain: readonly Uint8Array[]) => PeerCertificate<T>
  alpn: readonly string[]
  /** Our connection id (what the peer puts in Destination Connection ID). */
  localCid: Uint8Array
  /** Client: the random Destination Connection ID of its first Initial. Server: the client's Source Connection ID. */
  remoteCid: Uint8Array
  /** Server: the Destination Connection ID of the client's first Initial (keys the Initial secrets). */
  originalDcid?: Uint8Array
  /**
   * Server, after a Retry (RFC 9000 §8.1.2, §7.3): the client's very first DCID and the Source
   * Connection ID of our Retry, announced in the transport parameters; the token proved the
   * client's address, so the 3x limit does not apply.
   */
  retry?: { originalDcid: Uint8Array, retrySourceCid: Uint8Array }
  /** Our limits; unset fields take the defaults below. */
  transportParameters?: Partial<TransportParameters>
  /**
   * Send a PING when nothing arrived for this long, so an open connection (say, a sender held by
   * our flow control) outlives the idle timeout; capped at half the idle timeout. 0 disables.
   * Default 15 s, go-libp2p's QUIC keep-alive period.
   */
  keepAliveMs?: number
  /** Maximum receive window a stream may grow to (auto-tuning). */
  maxStreamWindowBytes?: number
  maxConnectionWindowBytes?: number
  now: number
  randomBytes?: (n: number) => Uint8Array
  /** Observer hooks (trace): every packet and frame in and out; loss and PTO events. */
  onTrace?: (e: QuicTraceEvent) => void
  /** Every TLS handshake message carried in CRYPTO frames, in and out (trace hook). */
  onTlsMessage?: (t: TlsMessageTrace) => void
  /** NSS key log lines (RFC 9001 uses the TLS labels: CLIENT_HANDSHAKE_TRAFFIC_SECRET …). */
  keyLog?: (line: string) => void
  /**
   * 1-RTT packets we protect with one key before we update it ourselves (RFC 9001 §6.1; default
   * DEFAULT_KEY_UPDATE_INTERVAL_PACKETS). The AEAD confidentiality limit (§6.6) starts one earlier
   * when it is lower.
   */
  keyUpdateIntervalPackets?: number
  /** Pace ack-eliciting datagrams over the round trip (RFC 9002 §7.7; default true). */
  pacing?: boolean
  /**
   * The largest UDP payload DPLPMTUD (RFC 9000 §14.3, pmtu.ts) may probe for on this path, capped by
   * the peer's max_udp_payload_size. Default 1200: no probing. The adapter knows the path: Node
   * cannot set the IPv4 Don't Fragment bit, so a probe could pass fragmented and prove nothing;
   * where the IP layer never fragments (loopback) it allows more.
   */
  maxDatagramSize?: number
}

export type QuicTraceEvent =
  | {
    type: 'packet'
    dir: 'in' | 'out'
    space: PacketNumberSpace
    pn: number
    size: number
    frames: readonly Frame[]
    /** The packet without protection: header (packet number unmasked) ‖ plaintext frames, no AEAD tag. */
    bytes?: Uint8Array
  }
  | { type: 'dropped', reason: string }
  | { type: 'loss', space: PacketNumberSpace, pns: number[] }
  | { type: 'pto', space: PacketNumberSpace, count: number }
  | { type: 'key-update', initiator: 'local' | 'remote', keyPhase: 0 | 1 }
  | { type: 'retry', scid: Uint8Array, tokenLength: number }
  | { type: 'version-negotiation', versions: readonly number[] }

export type QuicEvent<T> =
  | { type: 'handshake-complete', result: TlsHandshakeResult<T> }
  | { type: 'stream-opened', id: number }
  | { type: 'stream-readable', id: number }
  | { type: 'stream-writable', id: number }
  | { type: 'stream-reset', id: number, errorCode: number }
  | { type: 'stop-sending', id: number, errorCode: number }
  /**
   * Bytes that arrived on the stream did not fit the memory budget (`attachMemory`): they were dropped
   * and the stream reset both ways (RESET_STREAM and STOP_SENDING, code 0); `error` is the refusal.
   */
  | { type: 'stream-refused', id: number, error: Error }
  /** Both directions of the stream are done and every received byte consumed: it is forgotten. */
  | { type: 'stream-closed', id: number }
  | { type: 'closed', error?: QuicError }

/**
 * The memory side of a resource scope, as far as a QUIC connection needs it (structurally
 * src/resources `MemoryAccount`): reserve returns the refusal, or undefined when reserved.
 */
export interface QuicMemoryAccount {
  reserveMemory: (n: number) => Error | undefined
  releaseMemory: (n: number) => void
  /** A closed account gave everything back already: nothing more is released to it. */
  readonly closed?: boolean
}

/** Our defaults (libp2p-sized: go-libp2p allows 256 bidi streams, windows of a few MiB). */
export function defaultLocalParameters (): TransportParameters {
  return {
    ...defaultTransportParameters(),
    maxIdleTimeout: 30_000,
    maxUdpPayloadSize: ANNOUNCED_UDP_PAYLOAD_SIZE,
    initialMaxData: 1 << 20,
    initialMaxStreamDataBidiLocal: 256 * 1024,
    initialMaxStreamDataBidiRemote: 256 * 1024,
    initialMaxStreamDataUni: 256 * 1024,
    initialMaxStreamsBidi: 256,
    initialMaxStreamsUni: 0,
    activeConnectionIdLimit: 2
  }
}

/** What a sent packet carried that matters once it is acknowledged or lost. */
type SentFrame =
  | { kind: 'crypto', offset: number, length: number }
  | { kind: 'stream', id: number, offset: number, length: number, fin: boolean }
  | { kind: 'control', frame: Frame }
  /** A DPLPMTUD probe of `size` bytes (PING and PADDING: nothing to send again). */
  | { kind: 'pmtu-probe', size: number }

interface Space {
  write: PacketKeys | undefined
  read: PacketKeys | undefined
  ack: AckTracker
  nextPn: number
  cryptoSend: SendBuffer
  cryptoRecv: RecvBuffer
  discarded: boolean
  probes: number
}

interface QuicStream {
  id: number
  send: SendBuffer | undefined
  recv: RecvBuffer | undefined
  sendFc: SendFlowControl
  recvFc: ReceiveFlowControl
  /** RESET_STREAM to send (error code), STOP_SENDING to send. */
  pendingReset: number | undefined
  pendingStopSending: number | undefined
  /** `read` returned the end of the stream (FIN or reset). */
  readEnded: boolean
  /**
   * The application will consume no more (STOP_SENDING sent or RESET_STREAM received): what it
   * left unconsumed, and whatever still arrives, is credited to the connection at once so the
   * connection window does not shrink for good (quic-go does the same when a stream is cancelled).
   */
  recvAbandoned: boolean
}

const LEVEL_SPACE: Record<EncryptionLevel, PacketNumberSpace> = {
  initial: PacketNumberSpace.Initial,
  handshake: PacketNumberSpace.Handshake,
  application: PacketNumberSpace.ApplicationData
}
const SPACE_LEVEL: EncryptionLevel[] = ['initial', 'handshake', 'application']

export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed'

export class QuicConnection<T = unknown> {
  readonly role: 'client' | 'server'
  state: ConnectionState = 'handshake'
  readonly localCid: Uint8Array
  remoteCid: Uint8Array
  private readonly originalDcid: Uint8Array
  private remoteCidFromServer = false
  /** Client: the token of the Retry we accepted, repeated in every Initial (RFC 9000 §17.2.5.2). */
  private retryToken: Uint8Array = new Uint8Array(0)
  /** Client: the Source Connection ID of that Retry (checked against retry_source_connection_id). */
  retrySourceCid: Uint8Array | undefined
  /** A packet from the peer was opened: later Retry and Version Negotiation packets are discarded. */
  private heardFromPeer = false
  readonly localParams: TransportParameters
  peerParams: TransportParameters | undefined
  private readonly tls: TlsHandshake<T>
  private readonly spaces: Space[]
  private oneRtt: OneRttKeys | undefined
  private readonly loss: LossDetection<SentFrame[]>
  private readonly amplification = new AmplificationLimit()
  private readonly events: Array<QuicEvent<T>> = []
  private readonly controlQueue: Frame[] = []
  private readonly streams = new Map<number, QuicStream>()
  private readonly connRecvFc: ReceiveFlowControl
  /**
   * The budget the receive side is charged to (`attachMemory`): the bytes held (received, not
   * consumed) and the connection window's growth beyond initial_max_data, each as charged so far.
   */
  private memory: QuicMemoryAccount | undefined
  private heldCharged = 0
  private growthCharged = 0
  private connSendFc = new SendFlowControl(0)
  private bidiLimits: StreamLimits
  private uniLimits: StreamLimits
  private handshakeConfirmed = false
  private handshakeDoneToSend = false
  private idleDeadline: number
  private closeDeadline = Infinity
  private closeFrame: Frame | undefined
  private closeError: QuicError | undefined
  private lastActivity: number
  /** When a packet from the peer was last processed, or our last keep-alive PING was queued. */
  private lastHeard: number
  private keepAlivePending = false
  private readonly config: QuicConnectionConfig<T>
  private readonly streamWindowMax: number
  private peerStatelessResetToken: Uint8Array | undefined
  private lastPtoProbeSpace: PacketNumberSpace | undefined
  handshakeResult: TlsHandshakeResult<T> | undefined
  /** Key updates so far (RFC 9001 §6): started by us, started by the peer. */
  readonly keyUpdates = { local: 0, remote: 0 }
  private readonly keyUpdateInterval: number
  /** RFC 9001 §6.6 limits of the negotiated AEAD (set with the 1-RTT keys). */
  private confidentialityLimit = Infinity
  private integrityLimit = Infinity
  private failedDecryptions = 0
  private previousKeysDeadline = Infinity
  private readonly pacer: Pacer | undefined
  /** When the pacer lets the next datagram with data out (Infinity: nothing waits for it). */
  private pacingDeadline = Infinity
  /** True while one datagram is being built and the pacer says not yet: only ACKs and probes go. */
  private paced = false
  /** The datagram size in use (RFC 9000 §14; DPLPMTUD grows it). */
  private datagramSize = BASE_DATAGRAM_SIZE
  /** DPLPMTUD, from the handshake's end (its limit needs the peer's max_udp_payload_size). */
  private pmtu: PathMtuSearch | undefined
  /** `loss.persistentCongestions` when last looked at (a new one is a black-hole signal for DPLPMTUD). */
  private persistentCongestionsSeen = 0
  /** Congestion control or the pacer held data back at least once (DPLPMTUD starts then). */
  private windowLimited = false
  /** A DPLPMTUD probe is due and waits for room in the window: new data waits too. */
  private pmtuWaiting = false

  constructor (config: QuicConnectionConfig<T>) {
    this.config = config
    this.role = config.role
    this.localCid = config.localCid
    this.remoteCid = config.remoteCid
    this.originalDcid = config.role === 'client' ? config.remoteCid : (config.originalDcid ?? config.remoteCid)
    this.localParams = {
      ...defaultLocalParameters(),
      ...config.transportParameters,
      initialSourceConnectionId: config.localCid
    }
    // the peer may send us as large as we may probe for (RFC 9000 §18.2: max_udp_payload_size)
    if (config.transportParameters?.maxUdpPayloadSize === undefined) {
      this.localParams.maxUdpPayloadSize = Math.max(ANNOUNCED_UDP_PAYLOAD_SIZE, config.maxDatagramSize ?? 0)
    }
    if (config.role === 'server') {
      this.localParams.originalDestinationConnectionId = config.retry?.originalDcid ?? this.originalDcid
      if (config.retry !== undefined) this.localParams.retrySourceConnectionId = config.retry.retrySourceCid
      this.localParams.statelessResetToken ??= (config.randomBytes ?? randomBytes)(STATELESS_RESET_TOKEN_LENGTH)
    }
    const init = initialKeys(this.originalDcid, config.role)
    const space = (ackDelay: number, keys?: { write: PacketKeys, read: PacketKeys }): Space => ({
      write: keys?.write,
      read: keys?.read,
      ack: new AckTracker(ackDelay),
      nextPn: 0,
      cryptoSend: new SendBuffer(),
      cryptoRecv: new RecvBuffer(),
      discarded: false,
      probes: 0
    })
    this.spaces = [space(0, init), space(0), space(this.localParams.maxAckDelay)]
    this.loss = new LossDetection(new RttEstimator(), new NewReno(MAX_DATAGRAM_SIZE), 0)
    this.loss.peerCompletedAddressValidation = config.role === 'server'
    this.amplification.validated = config.role === 'client' || config.retry !== undefined
    this.streamWindowMax = config.maxStreamWindowBytes ?? 16 * 1024 * 1024
    this.keyUpdateInterval = config.keyUpdateIntervalPackets ?? DEFAULT_KEY_UPDATE_INTERVAL_PACKETS
    this.pacer = config.pacing === false ? undefined : new Pacer(MAX_DATAGRAM_SIZE)
    this.connRecvFc = new ReceiveFlowControl(
      this.localParams.initialMaxData,
      config.maxConnectionWindowBytes ?? 24 * 1024 * 1024
    )
    this.bidiLimits = new StreamLimits(this.localParams.initialMaxStreamsBidi, 0)
    this.uniLimits = new StreamLimits(this.localParams.initialMaxStreamsUni, 0)
    this.lastActivity = config.now
    this.lastHeard = config.now
    this.idleDeadline = config.now + this.localParams.maxIdleTimeout
    this.tls = new TlsHandshake<T>({
      role: config.role,
      credential: config.credential,
      verifyPeer: config.verifyPeer,
      requireClientCertificate: config.role === 'server',
      alpn: config.alpn,
      extensions: [{ type: ExtensionType.QuicTransportParameters, data: encodeTransportParameters(this.localParams) }],
      quic: true,
      ...(config.onTlsMessage === undefined ? {} : { onMessage: config.onTlsMessage }),
      ...(config.randomBytes === undefined ? {} : { randomBytes: config.randomBytes })
    })
    this.guard(() => this.applyTls(this.tls.start()))
  }

  // ── public API ────────────────────────────────────────────────────────────────────────────────

  pollEvents (): Array<QuicEvent<T>> {
    return this.events.splice(0)
  }

  get isClosed (): boolean { return this.state === 'closed' }

  /** Open a bidirectional stream; STREAM_LIMIT_ERROR-coded QuicError if the peer's MAX_STREAMS is reached. */
  openStream (): number {
    if (this.state !== 'established') {
      throw new QuicError('ERR_QUIC_STREAM_STATE', `cannot open a stream in state ${this.state}`)
    }
    if (!this.bidiLimits.canOpen) {
      throw new QuicError('ERR_QUIC_STREAM_LIMIT', `peer allows ${this.bidiLimits.peerMax} bidirectional streams`)
    }
    const id = streamIdFor(this.role, true, this.bidiLimits.open())
    this.createStream(id)
    return id
  }

  write (id: number, data: Uint8Array): void {
    const s = this.streams.get(id)
    if (s?.send === undefined || s.send.finalSize !== undefined || s.send.state === 'ResetSent') {
      throw new QuicError('ERR_QUIC_STREAM_STATE', `stream ${id} is not writable`)
    }
    s.send.write(data)
  }

  /** Bytes written on `id` and not yet acknowledged (what its send queue holds). */
  buffered (id: number): number {
    return this.streams.get(id)?.send?.buffered ?? 0
  }

  /**
   * Bytes written on `id` and not yet sent (the adapter's backpressure signal): what is in flight is
   * bounded by the peer's flow control and the congestion window, not by the queue in front of them.
   */
  unsent (id: number): number {
    return this.streams.get(id)?.send?.unsent ?? 0
  }

  finish (id: number): void {
    this.streams.get(id)?.send?.finish()
  }

  /**
   * Next readable chunk; `null` at the end of the stream; undefined when nothing is ready.
   * Reading hands the bytes over but grants no credit: the peer's window reopens only through
   * `consumed`, when the application has taken them, so a stream nobody reads holds at most its
   * window (RFC 9000 §4.1 leaves the moment of credit to the receiver).
   */
  read (id: number): Uint8Array | null | undefined {
    const s = this.streams.get(id)
    if (s?.recv === undefined) return null
    const chunk = s.recv.read()
    if (chunk !== undefined) return chunk
    if (s.recv.finished || s.recv.state === 'ResetRecvd') {
      if (!s.readEnded) { s.readEnded = true; this.maybeRetire(s) }
      return null
    }
    return undefined
  }

  /** The application consumed `n` bytes of stream `id` that `read` handed out: MAX_(STREAM_)DATA credit. */
  consumed (id: number, n: number): void {
    const s = this.streams.get(id)
    if (s?.recv === undefined || s.recvAbandoned || n <= 0) return
    const take = Math.min(n, s.recv.readOffset - s.recvFc.consumed)
    if (take <= 0) return
    s.recvFc.onConsumed(take)
    this.connRecvFc.onConsumed(take)
    this.releaseHeld()
    this.queueFlowUpdates(s)
    this.maybeRetire(s)
  }

  /**
   * Charge the receive side to `account` from now on (the switch's connection scope): what is held
   * and the window growth so far at once — the refusal is returned and nothing attached when it does
   * not fit — then each arrival (refused: its stream is reset, `stream-refused`), each consumption
   * (given back) and each growth before it is advertised (refused: the window keeps its size, the
   * peer is slowed, nothing is reset). The owner of the account gives the growth back when it closes it.
   */
  attachMemory (account: QuicMemoryAccount): Error | undefined {
    if (this.memory !== undefined) return undefined
    const held = this.held
    const growth = this.connRecvFc.window - this.localParams.initialMaxData
    const refused = account.reserveMemory(held + growth)
    if (refused !== undefined) return refused
    this.memory = account
    this.heldCharged = held
    this.growthCharged = growth
    return undefined
  }

  /** Bytes charged to the attached memory account: held bytes plus window growth. */
  get memoryChargedBytes (): number { return this.heldCharged + this.growthCharged }

  /** Bytes the receive side holds, all streams together: received (highest offsets) and not consumed. */
  get held (): number { return this.connRecvFc.received - this.connRecvFc.consumed }

  /** `ReceiveFlowControl.nextUpdate`'s growth check for the connection window. */
  private readonly mayGrowWindow = (bytes: number): boolean => {
    const m = this.memory
    if (m === undefined) return true
    if (m.reserveMemory(bytes) !== undefined) return false
    this.growthCharged += bytes
    return true
  }

  /** Charge what arrived since the last charge; the refusal when it does not fit (nothing charged then). */
  private chargeHeld (): Error | undefined {
    const m = this.memory
    const more = this.held - this.heldCharged
    if (m === undefined || more <= 0) return undefined
    const refused = m.reserveMemory(more)
    if (refused === undefined) this.heldCharged += more
    return refused
  }

  /** Give back what was consumed (or dropped) since the last charge. */
  private releaseHeld (): void {
    const back = this.heldCharged - this.held
    if (this.memory === undefined || back <= 0) return
    this.heldCharged -= back
    if (this.memory.closed !== true) this.memory.releaseMemory(back)
  }

  /** Bytes of stream `id` received and not yet consumed (buffered here or handed out by `read`). */
  unconsumed (id: number): number {
    const s = this.streams.get(id)
    return s?.recv === undefined ? 0 : s.recv.highestOffset - s.recvFc.consumed
  }

  resetStream (id: number, errorCode: number): void {
    const s = this.streams.get(id)
    if (s?.send === undefined || s.send.state === 'ResetSent' || s.send.state === 'DataRecvd') return
    // both sides finished cleanly (our FIN is out, the peer's arrived): nothing is left to abort
    if (s.send.state === 'DataSent' && (s.recv === undefined || !recvOpen(s))) return
    s.pendingReset = errorCode
  }

  /**
   * The application reads no more: STOP_SENDING (unless the stream already ended) and the unread bytes credited back.
   */
  stopSending (id: number, errorCode: number): void {
    const s = this.streams.get(id)
    if (s?.recv === undefined) return
    // RFC 9000 §3.5: only a stream still receiving (Recv, Size Known) has anything left to stop
    if (recvOpen(s) && !s.recvAbandoned) s.pendingStopSending = errorCode
    this.abandonRecv(s)
  }

  /** Close with CONNECTION_CLOSE (application close 0x1d once 1-RTT is up, RFC 9000 §10.2.3). */
  close (errorCode = 0, reason = '', now = this.lastActivity): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return
    const app = this.spaces[PacketNumberSpace.ApplicationData]?.write !== undefined
    this.enterClosing(
      {
        type: app ? FrameType.ConnectionCloseApp : FrameType.ConnectionClose,
        errorCode: app ? errorCode : 0,
        frameType: 0,
        reason: new TextEncoder().encode(reason)
      },
      now,
      undefined
    )
  }

  /**
   * Start a key update now (RFC 9001 §6.1): new write keys and the other Key Phase from the next
   * packet on. False when not allowed yet: before the handshake is confirmed, or while no packet of
   * the current phase has been acknowledged (the previous update is still in progress).
   */
  updateKeys (): boolean {
    const k = this.oneRtt
    if (k === undefined || !this.handshakeConfirmed || !k.canInitiate || this.state !== 'established') return false
    k.initiateUpdate()
    this.keyUpdates.local++
    this.config.onTrace?.({ type: 'key-update', initiator: 'local', keyPhase: k.keyPhaseWrite })
    return true
  }

  /**
   * Before sealing a 1-RTT packet: update after `keyUpdateInterval` packets, or at 3/4 of the AEAD
   * confidentiality limit (RFC 9001 §6.6: update before the limit; an update may have to wait a
   * round trip for the acknowledgement of the previous one, hence the headroom). At the limit itself
   * the current keys are not used again: 1-RTT sending holds until the update can start (false).
   */
  /** At the confidentiality limit and waiting for the acknowledgement that allows the update. */
  private get oneRttHeld (): boolean {
    const k = this.oneRtt
    return k !== undefined && k.sentInPhase >= this.confidentialityLimit && !k.canInitiate
  }

  private keyUpdateAllowsSending (): boolean {
    const k = this.oneRtt as OneRttKeys
    if (k.sentInPhase >= Math.min(this.keyUpdateInterval, this.confidentialityLimit * 3 / 4)) this.updateKeys()
    return k.sentInPhase < this.confidentialityLimit
  }

  /** The earliest time `onTimeout` must run (Infinity: none). */
  nextTimeout (): number {
    if (this.state === 'closed') return Infinity
    if (this.state === 'closing' || this.state === 'draining') return this.closeDeadline
    let t = Math.min(
      this.idleDeadline,
      this.loss.timerDeadline(this.lastActivity),
      this.keepAliveDeadline(),
      this.pacingDeadline
    )
    const held = this.oneRttHeld
    for (const [i, s] of this.spaces.entries()) {
      if (!s.discarded && s.write !== undefined && !(held && i === PacketNumberSpace.ApplicationData)) {
        t = Math.min(t, s.ack.ackDeadline)
      }
    }
    return t
  }

  onTimeout (now: number): void {
    if (this.state === 'closed') return
    if (this.state === 'closing' || this.state === 'draining') {
      if (now >= this.closeDeadline) this.finishClose()
      return
    }
    if (now >= this.idleDeadline) {
      this.closeError = new QuicError('ERR_QUIC_IDLE_TIMEOUT', `idle for ${now - this.lastActivity} ms`)
      this.finishClose()
      return
    }
    if (now >= this.keepAliveDeadline()) {
      this.controlQueue.push({ type: FrameType.Ping })
      this.keepAlivePending = true
      this.lastHeard = now
    }
    const r = this.loss.onTimeout(now)
    if (r.kind === 'loss') this.onLost(r.lost, now)
    else if (r.kind === 'pto') {
      this.config.onTrace?.({ type: 'pto', space: r.space, count: this.loss.ptoCount })
      const sp = this.spaces[r.space] as Space
      // RFC 9002 §6.2.4: probes carry data (retransmitted in-flight crypto/stream data) or PING
      sp.probes = r.probes
      this.requeueInFlight(r.space)
      this.lastPtoProbeSpace = r.space
    }
  }

  // ── receiving ─────────────────────────────────────────────────────────────────────────────────

  receiveDatagram (datagram: Uint8Array, now: number): void {
    if (this.state === 'closed') return
    if (this.role === 'server') this.amplification.onReceived(datagram.length)
    const { packets } = splitDatagram(datagram, this.localCid.length)
    for (const h of packets) {
      if (this.isClosed) return
      this.guard(() => this.receivePacket(datagram, h, now), now)
    }
  }

  private receivePacket (datagram: Uint8Array, h: PacketHeader, now: number): void {
    if (h.form === 'version-negotiation') { this.onVersionNegotiation(h.dcid, h.scid, h.versions); return }
    if (h.form === 'retry') { this.onRetry(datagram, h); return }
    if (h.form === 'unsupported-version') { this.drop(`version 0x${h.version.toString(16)}`); return }
    // a server also accepts the client's original Destination Connection ID until the client switches (RFC 9000 §7.2)
    if (
      h.form === 'long' && !equal(h.dcid, this.localCid) &&
      !(this.role === 'server' && equal(h.dcid, this.originalDcid))
    ) {
      this.drop('unknown destination connection id')
      return
    }
    let spaceId: PacketNumberSpace
    let packetType: LongPacketType | 'short'
    if (h.form === 'short') {
      spaceId = PacketNumberSpace.ApplicationData
      packetType = 'short'
    } else {
      if (h.type === LongPacketType.ZeroRtt) { this.drop('0-RTT not supported'); return }
      spaceId = h.type === LongPacketType.Initial ? PacketNumberSpace.Initial : PacketNumberSpace.Handshake
      packetType = h.type
    }
    const space = this.spaces[spaceId] as Space
    if (space.discarded) { this.drop('keys discarded'); return }
    let payload: Uint8Array | undefined
    let pn: number
    let firstByte: number
    /** The unprotected header (for the trace's hex view). */
    let header: Uint8Array
    if (h.form === 'short') {
      if (this.oneRtt === undefined) { this.drop('no 1-RTT keys yet'); return }
      let unmasked
      try {
        unmasked = removeHeaderProtection(
          this.oneRtt.read,
          datagram,
          h.packetStart,
          h.pnOffset,
          h.packetEnd,
          space.ack.largest
        )
      } catch {
        this.checkStatelessReset(datagram, h.packetEnd); return
      }
      const bit = (unmasked.firstByte & KEY_PHASE_BIT) !== 0 ? 1 : 0
      const k = this.oneRtt.readKeysFor(bit, unmasked.pn)
      payload = k === undefined ? undefined : openPayload(k.keys, unmasked, datagram, h.packetStart, h.packetEnd)
      if (payload === undefined || k === undefined) {
        // RFC 9001 §6.6: count forgeries against the integrity limit, across all keys
        if (++this.failedDecryptions > this.integrityLimit) {
          throw new QuicError(
            'ERR_QUIC_AEAD_LIMIT',
            `${this.failedDecryptions} packets failed authentication: AEAD integrity limit`
          )
        }
        this.checkStatelessReset(datagram, h.packetEnd)
        return
      }
      if (space.ack.has(unmasked.pn)) { this.drop('duplicate packet'); return }
      this.onOneRttOpened(this.oneRtt, k.phase, unmasked.pn, now)
      pn = unmasked.pn
      firstByte = unmasked.firstByte
      header = unmasked.header
      if ((firstByte & 0x18) !== 0) {
        throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'reserved bits set in a short header')
      }
    } else {
      if (space.read === undefined) { this.drop('no keys for this level yet'); return }
      let unmasked
      try {
        unmasked = removeHeaderProtection(
          space.read,
          datagram,
          h.packetStart,
          h.pnOffset,
          h.packetEnd,
          space.ack.largest
        )
      } catch {
        this.drop('undecryptable')
        return
      }
      payload = openPayload(space.read, unmasked, datagram, h.packetStart, h.packetEnd)
      if (payload === undefined) { this.drop('undecryptable'); return }
      if (space.ack.has(unmasked.pn)) { this.drop('duplicate packet'); return }
      pn = unmasked.pn
      firstByte = unmasked.firstByte
      header = unmasked.header
      if ((firstByte & 0x0c) !== 0) {
        throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'reserved bits set in a long header')
      }
      if (this.role === 'client' && !this.remoteCidFromServer) {
        // RFC 9000 §7.2: the client switches to the server's chosen connection id
        this.remoteCid = h.scid.slice()
        this.remoteCidFromServer = true
      }
    }
    this.heardFromPeer = true
    this.lastActivity = now
    this.lastHeard = now
    this.idleDeadline = now + this.idleTimeout()
    const frames = decodeFrames(
      new QuicReader(payload, what => new QuicError('ERR_QUIC_FRAME_ENCODING', `truncated ${what}`))
    )
    this.config.onTrace?.({
      type: 'packet',
      dir: 'in',
      space: spaceId,
      pn,
      size: h.packetEnd - h.packetStart,
      frames,
      bytes: concatBytes([header, payload])
    })
    let eliciting = false
    let probeOnly = true
    for (const f of frames) {
      assertFrameAllowed(f, packetType)
      if (isAckEliciting(f)) eliciting = true
      if (f.type !== FrameType.Ping && f.type !== FrameType.Padding) probeOnly = false
      this.onFrame(spaceId, f, now)
      if (this.state === 'closed' || this.state === 'draining') return
    }
    // a PING-only packet (probe, keep-alive) is acknowledged at once: its sender waits for that answer
    space.ack.onPacket(pn, eliciting, now, probeOnly)
    if (this.role === 'server' && spaceId === PacketNumberSpace.Handshake) {
      // RFC 9000 §8.1: a Handshake packet proves the client's address; RFC 9001 §4.9.1: Initial keys go
      this.amplification.validated = true
      this.discardSpace(PacketNumberSpace.Initial)
    }
  }

  /**
   * RFC 9000 §6.2: a client gives up when the server lists no version it offered (we offer only v1).
   * Discarded: on a server, after any packet from the server was processed, when it lists v1 (§6.2),
   * or when its connection ids do not echo ours (§17.2.1: it answers our first Initial).
   */
  private onVersionNegotiation (dcid: Uint8Array, scid: Uint8Array, versions: readonly number[]): void {
    if (
      this.role !== 'client' || this.heardFromPeer || this.retrySourceCid !== undefined || this.state !== 'handshake'
    ) {
      this.drop('Version Negotiation after the server answered')
      return
    }
    if (!equal(dcid, this.localCid) || !equal(scid, this.originalDcid)) {
      this.drop('Version Negotiation for other connection ids')
      return
    }
    if (versions.includes(QUIC_V1)) {
      this.drop('Version Negotiation listing our version')
      return
    }
    this.config.onTrace?.({ type: 'version-negotiation', versions })
    const list = versions.map(v => `0x${v.toString(16).padStart(8, '0')}`).join(', ')
    this.closeError = new QuicError(
      'ERR_QUIC_VERSION',
      `server offers QUIC versions ${list}; we speak only 0x00000001 (QUIC v1)`
    )
    this.finishClose()
  }

  /**
   * RFC 9000 §17.2.5.2: a client accepts one Retry, before anything else from the server, with a
   * non-empty token and a valid integrity tag (RFC 9001 §5.8). It then sends its Initial again to
   * the Retry's Source Connection ID with the token, under Initial keys from that new DCID (RFC 9001
   * §5.2), packet numbers continuing; loss recovery forgets the first flight (RFC 9002 §6.3).
   */
  private onRetry (
    datagram: Uint8Array,
    h: { dcid: Uint8Array, scid: Uint8Array, token: Uint8Array, packetStart: number, packetEnd: number }
  ): void {
    if (
      this.role !== 'client' || this.heardFromPeer || this.retrySourceCid !== undefined || this.state !== 'handshake'
    ) {
      this.drop('Retry after the server answered or a first Retry')
      return
    }
    if (!equal(h.dcid, this.localCid)) {
      this.drop('Retry for another connection id')
      return
    }
    if (h.token.length === 0) {
      this.drop('Retry with an empty token')
      return
    }
    if (!verifyRetryIntegrity(this.originalDcid, datagram.subarray(h.packetStart, h.packetEnd))) {
      this.drop('Retry integrity tag does not verify')
      return
    }
    this.config.onTrace?.({ type: 'retry', scid: h.scid.slice(), tokenLength: h.token.length })
    this.retrySourceCid = h.scid.slice()
    this.retryToken = h.token.slice()
    this.remoteCid = h.scid.slice()
    const sp = this.spaces[PacketNumberSpace.Initial] as Space
    const keys = initialKeys(h.scid, 'client')
    sp.write = keys.write
    sp.read = keys.read
    for (const p of this.loss.abandonInFlight(PacketNumberSpace.Initial)) {
      this.requeue(PacketNumberSpace.Initial, p.frames)
    }
  }

  /** A 1-RTT packet opened with `phase` keys: follow the peer's update (RFC 9001 §6.2, §6.3). */
  private onOneRttOpened (k: OneRttKeys, phase: 'current' | 'next' | 'previous', pn: number, now: number): void {
    const ours = k.keyPhaseWrite !== k.keyPhase
    k.onPacketOpened(phase, pn)
    if (phase === 'next') {
      if (!ours) {
        this.keyUpdates.remote++
        this.config.onTrace?.({ type: 'key-update', initiator: 'remote', keyPhase: k.keyPhase })
      }
      // §6.5: the old read keys stay for reordered packets, about three PTO
      this.previousKeysDeadline = now + 3 * this.loss.rtt.pto(this.loss.maxAckDelay)
    } else if (now >= this.previousKeysDeadline) {
      k.dropPrevious()
      this.previousKeysDeadline = Infinity
    }
  }

  private checkStatelessReset (datagram: Uint8Array, end: number): void {
    // RFC 9000 §10.3.1: the last 16 bytes of an undecryptable datagram compared with the peer's token
    const token = this.peerStatelessResetToken
    if (token !== undefined && end >= 21 && equal(datagram.subarray(end - 16, end), token)) {
      this.closeError = new QuicError('ERR_QUIC_STATELESS_RESET', 'stateless reset from the peer')
      this.finishClose()
      return
    }
    this.drop('undecryptable')
  }

  private onFrame (spaceId: PacketNumberSpace, f: Frame, now: number): void {
    switch (f.type) {
      case FrameType.Padding:
      case FrameType.Ping:
        return
      case FrameType.Ack: {
        const exponent = this.peerParams?.ackDelayExponent ?? 3
        const delayMs = spaceId === PacketNumberSpace.ApplicationData ? f.ackDelay * 2 ** exponent / 1000 : 0
        const sp = this.spaces[spaceId] as Space
        if ((f.ranges[0]?.largest ?? 0) >= sp.nextPn) {
          throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', `ACK of packet ${f.ranges[0]?.largest} never sent`, {
            frameType: FrameType.Ack
          })
        }
        const r = this.loss.onAckReceived(spaceId, f, delayMs, now)
        for (const p of r.acked) {
          this.onAcked(spaceId, p.frames)
          if (spaceId === PacketNumberSpace.ApplicationData) this.oneRtt?.onAcked(p.pn)
        }
        if (spaceId === PacketNumberSpace.Handshake && this.role === 'client') {
          this.loss.peerCompletedAddressValidation = true
        }
        if (r.lost.length > 0) this.onLost(r.lost, now)
        return
      }
      case FrameType.Crypto: {
        const sp = this.spaces[spaceId] as Space
        sp.cryptoRecv.insert(f.offset, f.data, false)
        if (sp.cryptoRecv.buffered > MAX_CRYPTO_BUFFER_BYTES) {
          throw new QuicError(
            'ERR_QUIC_CRYPTO_BUFFER_EXCEEDED',
            `${sp.cryptoRecv.buffered} bytes of CRYPTO data buffered`
          )
        }
        for (let c = sp.cryptoRecv.read(); c !== undefined; c = sp.cryptoRecv.read()) {
          this.applyTls(this.tls.receive(SPACE_LEVEL[spaceId] as EncryptionLevel, c))
        }
        return
      }
      case FrameType.HandshakeDone:
        if (this.role === 'server') {
          throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'HANDSHAKE_DONE from a client', { frameType: f.type })
        }
        this.confirmHandshake()
        return
      case FrameType.ConnectionClose:
      case FrameType.ConnectionCloseApp: {
        const reason = new TextDecoder().decode(f.reason)
        this.closeError = new QuicError(
          'ERR_QUIC_CONNECTION_CLOSED',
          `peer closed: code 0x${f.errorCode.toString(16)}${reason === '' ? '' : ` "${reason}"`}`,
          { transportErrorCode: f.errorCode, frameType: f.frameType }
        )
        // RFC 9000 §10.2.2: draining, nothing more is sent
        this.state = 'draining'
        this.closeDeadline = now + 3 * this.loss.rtt.pto(0)
        return
      }
      case FrameType.Stream: return this.onStreamFrame(f.streamId, f.offset, f.data, f.fin)
      case FrameType.ResetStream: {
        const s = this.streamFor(f.streamId, 'recv', f.type)
        if (s?.recv === undefined) return
        const grew = s.recv.reset(f.finalSize)
        s.recvFc.onReceived(s.recv.highestOffset, `stream ${f.streamId}`)
        this.connRecvFc.onReceived(this.connRecvFc.received + grew, 'connection')
        // before abandonRecv: it may retire the stream ('stream-closed'), after which no event names it
        this.events.push({ type: 'stream-reset', id: f.streamId, errorCode: f.errorCode })
        this.abandonRecv(s)
        return
      }
      case FrameType.StopSending: {
        const s = this.streamFor(f.streamId, 'send', f.type)
        if (s === undefined) return
        // RFC 9000 §3.5: answer with RESET_STREAM
        if (s.send !== undefined && s.send.state !== 'DataRecvd' && s.send.state !== 'ResetSent') {
          s.pendingReset = f.errorCode
        }
        this.events.push({ type: 'stop-sending', id: f.streamId, errorCode: f.errorCode })
        return
      }
      case FrameType.MaxData:
        this.connSendFc.onMaxData(f.maximum)
        return
      case FrameType.MaxStreamData: {
        const s = this.streamFor(f.streamId, 'send', f.type)
        s?.sendFc.onMaxData(f.maximum)
        return
      }
      case FrameType.MaxStreamsBidi: this.bidiLimits.onMaxStreams(f.maximum); return
      case FrameType.MaxStreamsUni: this.uniLimits.onMaxStreams(f.maximum); return
      case FrameType.PathChallenge:
        this.controlQueue.push({ type: FrameType.PathResponse, data: f.data.slice() })
        return
      case FrameType.NewToken:
        if (this.role === 'server') {
          throw new QuicError('ERR_QUIC_PROTOCOL_VIOLATION', 'NEW_TOKEN from a client', { frameType: f.type })
        }
        return
      case FrameType.NewConnectionId:
        if (this.remoteCid.length === 0) {
          throw new QuicError(
            'ERR_QUIC_PROTOCOL_VIOLATION',
            'NEW_CONNECTION_ID with a zero-length connection id in use',
            { frameType: f.type }
          )
        }
        break
      default:
        // DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED, RETIRE_CONNECTION_ID, PATH_RESPONSE: informational here
    }
  }

  /** The stream a frame refers to, creating a peer-initiated one; STREAM_STATE_ERROR for a wrong direction. */
  private streamFor (id: number, need: 'send' | 'recv', frameType: number): QuicStream | undefined {
    const peerCanSend = canReceive(this.role, id)
    const peerCanReceive = canSend(this.role, id)
    if ((need === 'recv' && !peerCanSend) || (need === 'send' && !peerCanReceive)) {
      throw new QuicError(
        'ERR_QUIC_STREAM_STATE',
        `frame 0x${frameType.toString(16)} on stream ${id}, which the peer cannot ${
          need === 'recv' ? 'send on' : 'receive on'
        }`,
        { frameType }
      )
    }
    const existing = this.streams.get(id)
    if (existing !== undefined) return existing
    if (initiatorOf(id) === this.role) {
      // one of ours: either not opened yet (error) or already retired (ignore, RFC 9000 §3)
      const limits = isBidirectional(id) ? this.bidiLimits : this.uniLimits
      if (streamIndex(id) >= limits.opened) {
        throw new QuicError('ERR_QUIC_STREAM_STATE', `frame on our stream ${id}, never opened`, { frameType })
      }
      return undefined
    }
    const limits = isBidirectional(id) ? this.bidiLimits : this.uniLimits
    if (streamIndex(id) < limits.peerOpened) return undefined // retired
    limits.onPeerStream(streamIndex(id))
    // RFC 9000 §3.2: opening stream n implicitly opens every lower stream of the type
    for (let i = limits.peerOpenedBefore(); i <= streamIndex(id); i++) {
      const sid = i * 4 + (id % 4)
      if (!this.streams.has(sid)) { this.createStream(sid); this.events.push({ type: 'stream-opened', id: sid }) }
    }
    return this.streams.get(id)
  }

  private createStream (id: number): QuicStream {
    const peer = this.peerParams ?? defaultTransportParameters()
    const local = this.localParams
    const ours = initiatorOf(id) === this.role
    const bidi = isBidirectional(id)
    const sendWindow = bidi
      ? (ours ? peer.initialMaxStreamDataBidiRemote : peer.initialMaxStreamDataBidiLocal)
      : peer.initialMaxStreamDataUni
    const recvWindow = bidi
      ? (ours ? local.initialMaxStreamDataBidiLocal : local.initialMaxStreamDataBidiRemote)
      : local.initialMaxStreamDataUni
    const s: QuicStream = {
      id,
      send: canSend(this.role, id) ? new SendBuffer() : undefined,
      recv: canReceive(this.role, id) ? new RecvBuffer() : undefined,
      sendFc: new SendFlowControl(sendWindow),
      recvFc: new ReceiveFlowControl(recvWindow, this.streamWindowMax),
      pendingReset: undefined,
      pendingStopSending: undefined,
      readEnded: false,
      recvAbandoned: false
    }
    this.streams.set(id, s)
    return s
  }

  private onStreamFrame (id: number, offset: number, data: Uint8Array, fin: boolean): void {
    const s = this.streamFor(id, 'recv', FrameType.Stream)
    if (s?.recv === undefined) return
    const before = s.recv.highestOffset
    s.recvFc.onReceived(offset + data.length, `stream ${id}`)
    const grew = s.recv.insert(offset, data, fin)
    if (grew > 0) this.connRecvFc.onReceived(this.connRecvFc.received + (s.recv.highestOffset - before), 'connection')
    if (s.recvAbandoned) {
      this.abandonRecv(s)
      // the end still reaches the application, which may be waiting for it to forget the stream
      if (s.recv.finished) this.events.push({ type: 'stream-readable', id })
      return
    }
    const refused = this.chargeHeld()
    if (refused !== undefined) return this.refuseRecv(s, refused)
    if (s.recv.readable > 0 || s.recv.finished) this.events.push({ type: 'stream-readable', id })
  }

  /**
   * Bytes of `s` did not fit the memory budget. The credit they used was granted and is not revoked
   * (RFC 9000 §4.1): the stream is reset both ways, as the yamux session resets a stream whose data
   * would pass a budget, and everything it holds is dropped and credited back to the connection.
   */
  private refuseRecv (s: QuicStream, error: Error): void {
    // before abandonRecv: it may retire the stream ('stream-closed'), after which no event names it
    this.events.push({ type: 'stream-refused', id: s.id, error })
    this.resetStream(s.id, 0)
    this.stopSending(s.id, 0)
  }

  /** Discard what the application will never read and credit it to the connection (see `recvAbandoned`). */
  private abandonRecv (s: QuicStream): void {
    const recv = s.recv
    if (recv === undefined) return
    s.recvAbandoned = true
    while (recv.read() !== undefined) { /* discard */ }
    const unread = recv.highestOffset - s.recvFc.consumed
    if (unread > 0) {
      s.recvFc.onConsumed(unread)
      this.connRecvFc.onConsumed(unread)
      this.releaseHeld()
      const c = this.connRecvFc.nextUpdate(this.lastActivity, this.loss.rtt.smoothedRtt, this.mayGrowWindow)
      if (c !== undefined) this.controlQueue.push({ type: FrameType.MaxData, maximum: c })
    }
    if (recv.finished || recv.state === 'ResetRecvd') s.readEnded = true
    this.maybeRetire(s)
  }

  // ── TLS ───────────────────────────────────────────────────────────────────────────────────────

  private applyTls (actions: Array<TlsAction<T>>): void {
    for (const a of actions) {
      switch (a.type) {
        case 'message':
          (this.spaces[LEVEL_SPACE[a.level]] as Space).cryptoSend.write(a.data)
          break
        case 'secrets': {
          const write = this.role === 'client' ? a.clientSecret : a.serverSecret
          const read = this.role === 'client' ? a.serverSecret : a.clientSecret
          this.logSecrets(a.level, a.clientSecret, a.serverSecret)
          if (a.level === 'handshake') {
            const sp = this.spaces[PacketNumberSpace.Handshake] as Space
            sp.write = derivePacketKeys(a.suite, write)
            sp.read = derivePacketKeys(a.suite, read)
          } else {
            this.oneRtt = new OneRttKeys(a.suite, write, read)
            const limits = aeadLimits(a.suite)
            this.confidentialityLimit = limits.confidentiality
            this.integrityLimit = limits.integrity
            const sp = this.spaces[PacketNumberSpace.ApplicationData] as Space
            sp.write = this.oneRtt.write
            sp.read = this.oneRtt.read
          }
          break
        }
        case 'complete':
          this.onHandshakeComplete(a.result)
          break
        default:
          // RFC 9001 §6: KeyUpdate messages do not exist in QUIC
      }
    }
  }

  private logSecrets (level: 'handshake' | 'application', client: Uint8Array, server: Uint8Array): void {
    const log = this.config.keyLog
    const random = this.tls.clientRandom
    if (log === undefined || random === undefined) return
    const r = toHex(random)
    // NSS key log labels (RFC 9001 uses TLS's): *_HANDSHAKE_TRAFFIC_SECRET, then *_TRAFFIC_SECRET_0
    const label = level === 'handshake' ? 'HANDSHAKE_TRAFFIC_SECRET' : 'TRAFFIC_SECRET_0'
    log(`CLIENT_${label} ${r} ${toHex(client)}`)
    log(`SERVER_${label} ${r} ${toHex(server)}`)
  }

  private onHandshakeComplete (result: TlsHandshakeResult<T>): void {
    const ext = result.peerExtensions.find(e => e.type === ExtensionType.QuicTransportParameters)
    // RFC 9001 §8.2: missing transport parameters are a missing_extension alert (CRYPTO_ERROR 0x16d)
    if (ext === undefined) {
      throw new QuicError('ERR_QUIC_CRYPTO', 'peer sent no quic_transport_parameters', {
        transportErrorCode: 0x100 + 109
      })
    }
    const p = decodeTransportParameters(ext.data, this.role === 'client' ? 'server' : 'client')
    // RFC 9000 §7.3: authenticate the connection ids
    const expectedScid = this.role === 'client' ? this.remoteCid : this.config.remoteCid
    if (p.initialSourceConnectionId === undefined || !equal(p.initialSourceConnectionId, expectedScid)) {
      throw new QuicError('ERR_QUIC_TRANSPORT_PARAMETER', 'initial_source_connection_id does not match the packets')
    }
    if (
      this.role === 'client' &&
      (p.originalDestinationConnectionId === undefined || !equal(p.originalDestinationConnectionId, this.originalDcid))
    ) {
      throw new QuicError('ERR_QUIC_TRANSPORT_PARAMETER', 'original_destination_connection_id does not match')
    }
    // RFC 9000 §7.3: retry_source_connection_id present exactly when we took a Retry, and equal to its SCID
    if (this.role === 'client' && this.retrySourceCid === undefined && p.retrySourceConnectionId !== undefined) {
      throw new QuicError('ERR_QUIC_TRANSPORT_PARAMETER', 'retry_source_connection_id without a Retry')
    }
    if (
      this.role === 'client' && this.retrySourceCid !== undefined &&
      (p.retrySourceConnectionId === undefined || !equal(p.retrySourceConnectionId, this.retrySourceCid))
    ) {
      throw new QuicError(
        'ERR_QUIC_TRANSPORT_PARAMETER',
        p.retrySourceConnectionId === undefined
          ? 'retry_source_connection_id missing after a Retry'
          : 'retry_source_connection_id does not match the Retry'
      )
    }
    this.peerParams = p
    this.peerStatelessResetToken = p.statelessResetToken
    this.connSendFc = new SendFlowControl(p.initialMaxData)
    this.bidiLimits.onMaxStreams(p.initialMaxStreamsBidi)
    this.uniLimits.onMaxStreams(p.initialMaxStreamsUni)
    this.loss.maxAckDelay = p.maxAckDelay
    const ceiling = Math.min(this.config.maxDatagramSize ?? BASE_DATAGRAM_SIZE, p.maxUdpPayloadSize)
    if (ceiling > BASE_DATAGRAM_SIZE) this.pmtu = new PathMtuSearch(ceiling)
    this.idleDeadline = this.lastActivity + this.idleTimeout()
    this.handshakeResult = result
    this.state = 'established'
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes
      this.handshakeDoneToSend = true
      this.confirmHandshake()
    }
    this.events.push({ type: 'handshake-complete', result })
  }

  private confirmHandshake (): void {
    if (this.handshakeConfirmed) return
    this.handshakeConfirmed = true
    this.loss.handshakeConfirmed = true
    this.loss.peerCompletedAddressValidation = true
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed
    this.discardSpace(PacketNumberSpace.Initial)
    this.discardSpace(PacketNumberSpace.Handshake)
  }

  private discardSpace (id: PacketNumberSpace): void {
    const sp = this.spaces[id] as Space
    if (sp.discarded) return
    sp.discarded = true
    sp.write = undefined
    sp.read = undefined
    this.loss.discardSpace(id)
  }

  private keepAliveDeadline (): number {
    const period = Math.min(this.config.keepAliveMs ?? 15_000, this.idleTimeout() / 2)
    if (this.state !== 'established' || this.keepAlivePending || !(period > 0)) return Infinity
    return this.lastHeard + period
  }

  /** RFC 9000 §10.1: the smaller of both idle timeouts, but at least 3 PTO. */
  private idleTimeout (): number {
    const ours = this.localParams.maxIdleTimeout
    const theirs = this.peerParams?.maxIdleTimeout ?? 0
    const t = ours === 0 ? theirs : theirs === 0 ? ours : Math.min(ours, theirs)
    return t === 0 ? Infinity : Math.max(t, 3 * this.loss.rtt.pto(this.loss.maxAckDelay))
  }

  // ── acknowledgement and loss ─────────────────────────────────────────────────────────────────

  private onAcked (spaceId: PacketNumberSpace, frames: SentFrame[]): void {
    for (const f of frames) {
      if (f.kind === 'pmtu-probe') {
        this.pmtu?.onProbeAcked(f.size)
        this.applyDatagramSize()
      } else if (f.kind === 'crypto') (this.spaces[spaceId] as Space).cryptoSend.onAcked(f.offset, f.length, false)
      else if (f.kind === 'stream') {
        const s = this.streams.get(f.id)
        if (s?.send === undefined) continue
        s.send.onAcked(f.offset, f.length, f.fin)
        this.events.push({ type: 'stream-writable', id: f.id })
        this.maybeRetire(s)
      }
    }
  }

  private onLost (lost: Array<SentPacket<SentFrame[]>>, _now: number): void {
    if (lost.length === 0) return
    this.config.onTrace?.({ type: 'loss', space: (lost[0] as SentPacket<SentFrame[]>).space, pns: lost.map(p => p.pn) })
    for (const p of lost) {
      if (p.pmtuProbe === true) {
        for (const f of p.frames) if (f.kind === 'pmtu-probe') this.pmtu?.onProbeLost(f.size)
      } else this.requeue(p.space, p.frames)
    }
    if (this.loss.persistentCongestions !== this.persistentCongestionsSeen) {
      this.persistentCongestionsSeen = this.loss.persistentCongestions
      // RFC 8899 §4.3: a black hole for the larger datagrams looks like persistent congestion
      if (this.datagramSize > BASE_DATAGRAM_SIZE) this.pmtu?.onBlackHole()
    }
    this.applyDatagramSize()
  }

  /** Use the size DPLPMTUD confirmed (congestion control and the pacer count in datagrams of it). */
  private applyDatagramSize (): void {
    const size = this.pmtu?.current ?? BASE_DATAGRAM_SIZE
    if (size === this.datagramSize) return
    this.datagramSize = size
    this.loss.cc.onDatagramSizeChanged(size)
    if (this.pacer !== undefined) this.pacer.maxDatagramSize = size
  }

  private requeue (spaceId: PacketNumberSpace, frames: SentFrame[]): void {
    const sp = this.spaces[spaceId] as Space
    for (const f of frames) {
      if (f.kind === 'crypto') { if (!sp.discarded) sp.cryptoSend.onLost(f.offset, f.length, false) } else if (f.kind === 'stream') this.streams.get(f.id)?.send?.onLost(f.offset, f.length, f.fin)
      else if (f.kind === 'pmtu-probe') continue
      else if (f.frame.type === FrameType.HandshakeDone) this.handshakeDoneToSend = true
      else this.controlQueue.push(f.frame)
    }
  }

  /** PTO: send the unacknowledged data of the space again (RFC 9002 §6.2.4), without declaring it lost. */
  private requeueInFlight (spaceId: PacketNumberSpace): void {
    const list = this.loss.sent[spaceId] ?? []
    for (const p of list) {
      if (p.ackEliciting) this.requeue(spaceId, p.frames.filter(f => f.kind === 'crypto' || f.kind === 'stream'))
    }
  }

  private queueFlowUpdates (s: QuicStream): void {
    const srtt = this.loss.rtt.smoothedRtt
    const m = s.recvFc.nextUpdate(this.lastActivity, srtt)
    if (m !== undefined && s.recv !== undefined && s.recv.finalSize === undefined) {
      this.controlQueue.push({ type: FrameType.MaxStreamData, streamId: s.id, maximum: m })
    }
    const c = this.connRecvFc.nextUpdate(this.lastActivity, srtt, this.mayGrowWindow)
    if (c !== undefined) this.controlQueue.push({ type: FrameType.MaxData, maximum: c })
  }

  /** A stream both of whose directions are done leaves the map; peer streams return MAX_STREAMS credit. */
  private maybeRetire (s: QuicStream): void {
    const sendDone = s.send === undefined || s.send.state === 'DataRecvd' || s.send.state === 'ResetRecvd' ||
      s.send.state === 'ResetSent'
    // the receive side is done once its end was read and every byte consumed, or it was abandoned
    const recvDone = s.recv === undefined ||
      (s.readEnded && (s.recvAbandoned || s.recvFc.consumed >= s.recv.highestOffset))
    if (!sendDone || !recvDone) return
    this.streams.delete(s.id)
    this.events.push({ type: 'stream-closed', id: s.id })
    if (initiatorOf(s.id) !== this.role) {
      const limits = isBidirectional(s.id) ? this.bidiLimits : this.uniLimits
      const m = limits.onPeerStreamClosed()
      if (m !== undefined) {
        this.controlQueue.push({
          type: isBidirectional(s.id) ? FrameType.MaxStreamsBidi : FrameType.MaxStreamsUni,
          maximum: m
        })
      }
    }
  }

  // ── sending ───────────────────────────────────────────────────────────────────────────────────

  /** Datagrams to send now. */
  pollDatagrams (now: number): Uint8Array[] {
    const out: Uint8Array[] = []
    if (this.state === 'closed' || this.state === 'draining') return out
    if (this.state === 'closing') {
      if (this.closeFrame !== undefined) {
        const d = this.buildCloseDatagram()
        if (d !== undefined) out.push(d)
        this.closeFrame = undefined
      }
      return out
    }
    this.pacingDeadline = Infinity
    const probe = this.buildPmtuProbe(now)
    if (probe !== undefined) out.push(probe)
    for (let i = 0; i < MAX_DATAGRAMS_PER_POLL; i++) {
      const d = this.buildDatagram(now)
      if (d === undefined) break
      out.push(d)
    }
    // RFC 9002 §7.7: data the pacer held back goes when it allows (the one timer covers it)
    const size = this.datagramSize
    // data still waits (for the window or the pacer): a sender that would use larger datagrams
    if (!this.windowLimited && this.pmtu !== undefined && this.hasAnyPending()) this.windowLimited = true
    if (this.pacer !== undefined && this.loss.cc.canSend(size) && this.hasAnyPending()) {
      const at = this.pacer.delayUntil(now, size, this.loss.cc.congestionWindow, this.loss.rtt.smoothedRtt)
      if (at > now) this.pacingDeadline = at
    }
    return out
  }

  private hasAnyPending (): boolean {
    for (const [id, sp] of this.spaces.entries()) {
      if (!sp.discarded && sp.write !== undefined && this.hasPending(id, sp)) return true
    }
    return false
  }

  private buildDatagram (now: number): Uint8Array | undefined {
    const packets: Uint8Array[] = []
    let size = 0
    let hasInitial = false
    let elicitingInitial = false
    const allowance = this.amplification.allowance
    const datagramSize = this.datagramSize
    if (allowance < datagramSize && this.role === 'server' && !this.amplification.validated) {
      // RFC 9000 §8.1: stay under 3x what the client sent
      if (allowance <= 0) return undefined
    }
    const budgetTotal = Math.min(datagramSize, allowance)
    const cwnd = this.loss.cc.congestionWindow
    const srtt = this.loss.rtt.smoothedRtt
    this.paced = this.pacer !== undefined && this.pacer.delayUntil(now, datagramSize, cwnd, srtt) > now
    let eliciting = false
    for (const spaceId of [PacketNumberSpace.Initial, PacketNumberSpace.Handshake, PacketNumberSpace.ApplicationData]) {
      const sp = this.spaces[spaceId] as Space
      if (sp.discarded || sp.write === undefined) continue
      const room = budgetTotal - size
      if (room < 64) break
      const built = this.buildPacket(spaceId, sp, room, now, packets.length === 0 && this.role === 'client')
      if (built === undefined) continue
      packets.push(built.bytes)
      size += built.bytes.length
      if (spaceId === PacketNumberSpace.Initial) { hasInitial = true; elicitingInitial ||= built.eliciting }
      eliciting ||= built.eliciting
    }
    this.paced = false
    if (packets.length === 0) return undefined
    let datagram = concatBytes(packets)
    // RFC 9000 §14.1: datagrams with a client Initial, or a server's ack-eliciting Initial, are >= 1200 bytes
    if (hasInitial && (this.role === 'client' || elicitingInitial) && datagram.length < MIN_INITIAL_DATAGRAM_SIZE) {
      const extra = MIN_INITIAL_DATAGRAM_SIZE - datagram.length
      datagram = this.padLastPacket(packets, extra, now)
      const t = this.outTrace[this.outTrace.length - 1]
      if (t !== undefined) {
        this.outTrace[this.outTrace.length - 1] = {
          ...t,
          size: (packets[packets.length - 1] as Uint8Array).length,
          frames: [...t.frames, { type: FrameType.Padding, length: extra }]
        }
      }
    }
    for (const t of this.outTrace.splice(0)) this.config.onTrace?.(t)
    if (this.role === 'server') this.amplification.onSent(datagram.length)
    // ACK-only datagrams are not paced (RFC 9002 §7.7) and do not spend tokens
    if (eliciting) this.pacer?.onSent(now, datagram.length, cwnd, srtt)
    return datagram
  }

  /** Rebuild the datagram with the last packet grown by `extra` PADDING bytes (re-sealed). */
  private padLastPacket (packets: Uint8Array[], extra: number, _now: number): Uint8Array {
    const last = this.lastBuilt
    if (last === undefined) return concatBytes(packets)
    const sp = this.spaces[last.spaceId] as Space
    const keys = last.spaceId === PacketNumberSpace.ApplicationData
      ? (this.oneRtt as OneRttKeys).write
      : sp.write as PacketKeys
    const payload = new Uint8Array(last.payload.length + extra)
    payload.set(last.payload)
    const header = this.header(last.spaceId, last.pnLength, last.pn, payload.length + AEAD_TAG_LENGTH)
    const sealed = sealPacket(keys, header.bytes, header.pnOffset, last.pnLength, last.pn, payload)
    const sent = this.loss.sent[last.spaceId]?.find(p => p.pn === last.pn)
    if (sent !== undefined) {
      // the padding is in flight too
      this.loss.cc.bytesInFlight += sealed.length - sent.size
      sent.size = sealed.length
    }
    packets[packets.length - 1] = sealed
    const t = this.outTrace[this.outTrace.length - 1]
    if (t !== undefined) t.bytes = concatBytes([header.bytes, payload])
    return concatBytes(packets)
  }

  /** Packets of the datagram being built, for the trace hook. */
  private readonly outTrace: Array<QuicTraceEvent & { type: 'packet' }> = []

  private lastBuilt:
    | { spaceId: PacketNumberSpace, pn: number, pnLength: 1 | 2 | 3 | 4, payload: Uint8Array }
    | undefined

  private header (
    spaceId: PacketNumberSpace,
    pnLength: 1 | 2 | 3 | 4,
    pn: number,
    payloadLength: number
  ): { bytes: Uint8Array, pnOffset: number } {
    const truncated = truncatePacketNumber(pn, pnLength)
    if (spaceId === PacketNumberSpace.ApplicationData) {
      return encodeShortHeader(this.remoteCid, pnLength, truncated, this.oneRtt?.keyPhaseWrite ?? 0)
    }
    const type = spaceId === PacketNumberSpace.Initial ? LongPacketType.Initial : LongPacketType.Handshake
    const token = type === LongPacketType.Initial && this.role === 'client' ? this.retryToken : undefined
    return encodeLongHeader(
      { type, dcid: this.remoteCid, scid: this.localCid, ...(token === undefined ? {} : { token }) },
      pnLength,
      truncated,
      payloadLength
    )
  }

  private buildPacket (
    spaceId: PacketNumberSpace,
    sp: Space,
    room: number,
    now: number,
    _first: boolean
  ): { bytes: Uint8Array, eliciting: boolean } | undefined {
    const pn = sp.nextPn
    const pnLength = packetNumberLength(pn, this.loss.largestAcked[spaceId] as number)
    const tokenField = spaceId === PacketNumberSpace.Initial
      ? varintLength(this.retryToken.length) + this.retryToken.length
      : 0
    const overhead =
      (spaceId === PacketNumberSpace.ApplicationData
        ? 1 + this.remoteCid.length
        : 7 + this.remoteCid.length + this.localCid.length + tokenField + 2) + pnLength + AEAD_TAG_LENGTH
    let budget = room - overhead
    if (budget < 32) return undefined
    if (spaceId === PacketNumberSpace.ApplicationData && !this.keyUpdateAllowsSending()) return undefined
    const frames: Frame[] = []
    const sentFrames: SentFrame[] = []
    let eliciting = false
    const ccOpen = (this.loss.cc.canSend(this.datagramSize) && !this.paced && !this.pmtuWaiting) || sp.probes > 0
    // ACK first (never congestion controlled, RFC 9002 §7)
    if (sp.ack.ranges.length > 0 && (sp.ack.ackDue(now) || (ccOpen && this.hasPending(spaceId, sp)))) {
      const ack = sp.ack.buildAck(now, this.localParams.ackDelayExponent)
      if (ack !== undefined) {
        frames.push(ack); budget -= frameLength(ack)
        if (spaceId === PacketNumberSpace.ApplicationData) this.oneRtt?.onAckSent(ack.ranges[0]?.largest ?? -1)
      }
    }
    if (ccOpen) {
      // CRYPTO
      while (budget > 24) {
        const d = sp.cryptoSend.nextFrame(budget - 16, Infinity)
        if (d === undefined) break
        const f: Frame = { type: FrameType.Crypto, offset: d.offset, data: d.data }
        frames.push(f); sentFrames.push({ kind: 'crypto', offset: d.offset, length: d.data.length })
        budget -= frameLength(f)
        eliciting = true
      }
      if (spaceId === PacketNumberSpace.ApplicationData) {
        if (this.handshakeDoneToSend && budget > 1) {
          const f: Frame = { type: FrameType.HandshakeDone }
          frames.push(f); sentFrames.push({ kind: 'control', frame: f }); budget -= 1; eliciting = true
          this.handshakeDoneToSend = false
        }
        while (this.controlQueue.length > 0) {
          const f = this.controlQueue[0] as Frame
          const len = frameLength(f)
          if (len > budget) break
          this.controlQueue.shift()
          if (f.type === FrameType.Ping) this.keepAlivePending = false
          frames.push(f); sentFrames.push({ kind: 'control', frame: f }); budget -= len; eliciting = true
        }
        budget = this.addStreamFrames(frames, sentFrames, budget)
        if (sentFrames.some(f => f.kind === 'stream')) eliciting = true
      }
    }
    if (sp.probes > 0 && !eliciting && budget > 1) {
      frames.push({ type: FrameType.Ping }); budget -= 1; eliciting = true
    }
    if (eliciting && sp.probes > 0) sp.probes--
    if (frames.length === 0) return undefined
    // RFC 9001 §5.4.2: at least 4 bytes from the packet number start for the sample
    let payloadLength = frames.reduce((n, f) => n + frameLength(f), 0)
    if (payloadLength + pnLength < 4) {
      frames.push({ type: FrameType.Padding, length: 4 - pnLength - payloadLength })
      payloadLength = 4 - pnLength
    }
    const w = new QuicWriter(payloadLength + 8)
    for (const f of frames) encodeFrame(w, f)
    const payload = w.finish()
    const keys = spaceId === PacketNumberSpace.ApplicationData
      ? (this.oneRtt as OneRttKeys).write
      : sp.write as PacketKeys
    const header = this.header(spaceId, pnLength, pn, payload.length + AEAD_TAG_LENGTH)
    const bytes = sealPacket(keys, header.bytes, header.pnOffset, pnLength, pn, payload)
    sp.nextPn++
    if (spaceId === PacketNumberSpace.ApplicationData) this.oneRtt?.onSent(pn)
    this.lastBuilt = { spaceId, pn, pnLength, payload }
    this.loss.onPacketSent({
      pn,
      space: spaceId,
      timeSent: now,
      ackEliciting: eliciting,
      inFlight: eliciting,
      size: bytes.length,
      frames: sentFrames
    })
    if (eliciting) this.lastActivity = Math.max(this.lastActivity, now)
    // reported once the datagram is complete (padding may still grow this packet)
    if (this.config.onTrace !== undefined) {
      const plain = concatBytes([header.bytes, payload])
      this.outTrace.push({ type: 'packet', dir: 'out', space: spaceId, pn, size: bytes.length, frames, bytes: plain })
    }
    // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a Handshake packet
    if (this.role === 'client' && spaceId === PacketNumberSpace.Handshake) this.discardSpace(PacketNumberSpace.Initial)
    return { bytes, eliciting }
  }

  /**
   * RFC 9000 §14.4: a DPLPMTUD probe, one 1-RTT packet of PING and PADDING filling the size under
   * test, sent when the window and the pacer have room for a datagram, one at a time (pmtu.ts).
   */
  private buildPmtuProbe (now: number): Uint8Array | undefined {
    const search = this.pmtu
    if (search === undefined || !this.handshakeConfirmed || this.state !== 'established') return undefined
    this.pmtuWaiting = false
    // only for a sender congestion control or the pacer has held back (a short exchange gains nothing
    // from large datagrams), and at most half the window: the rest keeps data moving while the probe is out
    const cwnd = this.loss.cc.congestionWindow
    const size = this.windowLimited ? search.nextProbe(cwnd / 2) : undefined
    if (size === undefined) return undefined
    if (!this.loss.cc.canSend(size)) {
      // RFC 9002 §7: not beyond the window — new data waits until the probe fits, a fraction of a round trip
      this.pmtuWaiting = true
      return undefined
    }
    const srtt = this.loss.rtt.smoothedRtt
    if (this.pacer !== undefined && this.pacer.delayUntil(now, this.datagramSize, cwnd, srtt) > now) return undefined
    const spaceId = PacketNumberSpace.ApplicationData
    const sp = this.spaces[spaceId] as Space
    if (sp.write === undefined || this.oneRtt === undefined || !this.keyUpdateAllowsSending()) return undefined
    const pn = sp.nextPn
    const pnLength = packetNumberLength(pn, this.loss.largestAcked[spaceId] as number)
    const payloadLength = size - (1 + this.remoteCid.length + pnLength) - AEAD_TAG_LENGTH
    const frames: Frame[] = [{ type: FrameType.Ping }, { type: FrameType.Padding, length: payloadLength - 1 }]
    const w = new QuicWriter(payloadLength)
    for (const f of frames) encodeFrame(w, f)
    const header = this.header(spaceId, pnLength, pn, payloadLength + AEAD_TAG_LENGTH)
    const bytes = sealPacket(this.oneRtt.write, header.bytes, header.pnOffset, pnLength, pn, w.finish())
    sp.nextPn++
    this.oneRtt.onSent(pn)
    this.loss.onPacketSent({
      pn,
      space: spaceId,
      timeSent: now,
      ackEliciting: true,
      inFlight: true,
      size: bytes.length,
      frames: [{ kind: 'pmtu-probe', size }],
      pmtuProbe: true
    })
    search.onProbeSent(size)
    this.lastActivity = Math.max(this.lastActivity, now)
    this.pacer?.onSent(now, bytes.length, cwnd, srtt)
    this.config.onTrace?.({ type: 'packet', dir: 'out', space: spaceId, pn, size: bytes.length, frames })
    return bytes
  }

  private hasPending (spaceId: PacketNumberSpace, sp: Space): boolean {
    if (sp.cryptoSend.hasPending(Infinity)) return true
    if (spaceId !== PacketNumberSpace.ApplicationData) return false
    if (this.controlQueue.length > 0 || this.handshakeDoneToSend) return true
    for (const s of this.streams.values()) {
      if (s.pendingReset !== undefined || s.pendingStopSending !== undefined) return true
      if (s.send?.hasPending(Math.min(s.sendFc.peerMax, s.send.sendOffset + this.connSendFc.available)) === true) {
        return true
      }
    }
    return false
  }

  private addStreamFrames (frames: Frame[], sent: SentFrame[], budget: number): number {
    for (const s of this.streams.values()) {
      if (budget < 24) break
      if (s.pendingStopSending !== undefined) {
        const f: Frame = { type: FrameType.StopSending, streamId: s.id, errorCode: s.pendingStopSending }
        frames.push(f); sent.push({ kind: 'control', frame: f }); budget -= frameLength(f)
        s.pendingStopSending = undefined
      }
      if (s.send === undefined) continue
      if (s.pendingReset !== undefined) {
        const finalSize = s.send.reset()
        const f: Frame = { type: FrameType.ResetStream, streamId: s.id, errorCode: s.pendingReset, finalSize }
        frames.push(f); sent.push({ kind: 'control', frame: f }); budget -= frameLength(f)
        s.pendingReset = undefined
        this.maybeRetire(s)
        continue
      }
      while (budget > 24) {
        const connRoom = this.connSendFc.available
        const maxOffset = Math.min(s.sendFc.peerMax, s.send.sendOffset + connRoom)
        const before = s.send.sendOffset
        const d = s.send.nextFrame(budget - 24, maxOffset)
        if (d === undefined) break
        const fresh = Math.max(0, s.send.sendOffset - before)
        s.sendFc.onSent(fresh)
        this.connSendFc.onSent(fresh)
        const f: Frame = { type: FrameType.Stream, streamId: s.id, offset: d.offset, data: d.data, fin: d.fin }
        frames.push(f); sent.push({ kind: 'stream', id: s.id, offset: d.offset, length: d.data.length, fin: d.fin })
        budget -= frameLength(f)
      }
    }
    return budget
  }

  // ── closing ───────────────────────────────────────────────────────────────────────────────────

  /** Run `fn`; a QuicError closes the connection with its transport error code (RFC 9000 §10.2). */
  private guard (fn: () => void, now = this.lastActivity): void {
    try {
      fn()
    } catch (err) {
      const e = err instanceof QuicError ? err : toQuicError(err)
      this.enterClosing(
        {
          type: FrameType.ConnectionClose,
          errorCode: e.transportErrorCode,
          frameType: e.frameType,
          reason: new TextEncoder().encode(e.message.slice(0, 100))
        },
        now,
        e
      )
    }
  }

  private enterClosing (frame: Frame, now: number, error: QuicError | undefined): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return
    this.closeFrame = frame
    this.closeError = error
    this.state = 'closing'
    this.closeDeadline = now + 3 * this.loss.rtt.pto(0)
  }

  private buildCloseDatagram (): Uint8Array | undefined {
    const frame = this.closeFrame as Frame
    const packets: Uint8Array[] = []
    // RFC 9000 §10.2.3: before the handshake is confirmed, send the close at every level we have keys for
    for (const spaceId of [PacketNumberSpace.Initial, PacketNumberSpace.Handshake, PacketNumberSpace.ApplicationData]) {
      const sp = this.spaces[spaceId] as Space
      if (sp.discarded || sp.write === undefined) continue
      const f: Frame = spaceId !== PacketNumberSpace.ApplicationData && frame.type === FrameType.ConnectionCloseApp
        ? { type: FrameType.ConnectionClose, errorCode: 0x0c, frameType: 0, reason: new Uint8Array(0) }
        : frame
      const w = new QuicWriter(64)
      encodeFrame(w, f)
      if (w.pos < 4) w.bytes(new Uint8Array(4 - w.pos))
      const payload = w.finish()
      const pn = sp.nextPn++
      const pnLength = packetNumberLength(pn, this.loss.largestAcked[spaceId] as number)
      const keys = spaceId === PacketNumberSpace.ApplicationData ? (this.oneRtt as OneRttKeys).write : sp.write
      const header = this.header(spaceId, pnLength, pn, payload.length + AEAD_TAG_LENGTH)
      packets.push(sealPacket(keys, header.bytes, header.pnOffset, pnLength, pn, payload))
    }
    if (packets.length === 0) return undefined
    let d = concatBytes(packets)
    if (
      this.role === 'client' && !this.spaces[PacketNumberSpace.Initial]?.discarded &&
      d.length < MIN_INITIAL_DATAGRAM_SIZE
    ) {
      d = concatBytes([d, new Uint8Array(0)])
    }
    return d
  }

  private finishClose (): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.events.push(this.closeError === undefined ? { type: 'closed' } : { type: 'closed', error: this.closeError })
  }

  private drop (reason: string): void {
    this.config.onTrace?.({ type: 'dropped', reason })
  }

  /** True when `suite` is one this connection may negotiate (used by tests). */
  static supportsSuite (suite: number): boolean {
    return suiteParams(suite) !== undefined
  }

  /** Last probe space (for traces and tests). */
  get lastProbeSpace (): PacketNumberSpace | undefined { return this.lastPtoProbeSpace }
}

function toQuicError (err: unknown): QuicError {
  // TLS failures become CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8)
  const alert = (err as { alert?: unknown } | undefined)?.alert
  if (typeof alert === 'number') {
    return new QuicError('ERR_QUIC_CRYPTO', `TLS: ${toError(err).message}`, {
      transportErrorCode: 0x100 + alert,
      cause: err
    })
  }
  return new QuicError('ERR_QUIC_INTERNAL', `internal error: ${toError(err).message}`, { cause: err })
}

function equal (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function toHex (b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

function randomBytes (n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n))
}

/** The receive side still waits for bytes: Recv or Size Known (RFC 9000 §3.2), not all of them in. */
function recvOpen (s: { recv: RecvBuffer | undefined }): boolean {
  return s.recv !== undefined && (s.recv.state === 'Recv' || s.recv.state === 'SizeKnown')
}
