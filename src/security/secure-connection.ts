/**
 * The adapter: runs the XX machine (handshake-xx.ts) over a ByteConnection, then wraps that
 * connection in the encrypted ByteConnection. This file owns the timer and the connection; the
 * protocol logic lives in the sans-I/O machine and the pure transport codec.
 *
 * Handshake driver:
 *  1. feed `initialBytes` (read past multistream-select, they belong to Noise) to the frame decoder;
 *  2. initiator: write message 1; attach to the connection;
 *  3. every complete frame goes to the machine; whatever it returns is written at once;
 *  4. on completion the frame decoder — possibly holding transport frames the initiator pipelined
 *     right after message 3 — is handed to the NoiseConnection, which decrypts nothing until its
 *     consumer attaches;
 *  5. any failure (bad message, wrong peer, bad signature, timeout, peer closing) aborts the
 *     connection and rejects with a NoiseError: no application byte is ever accepted from it.
 */
import type { ByteConnection, ByteSink } from '../connection.js'
import { MultistreamError, NoiseError, toError } from '../errors.js'
import type { SwitchyardError } from '../errors.js'
import type { TraceObserver } from '../trace/observer.js'
import type { NoiseExtensions } from '../proto/noise-payload.js'
import { EncryptedConnection } from './encrypted-connection.js'
import type { CipherState } from './cipher-state.js'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MUXERS, MAX_PLAINTEXT_LENGTH, MAX_STREAM_MUXERS } from './constants.js'
import { XXHandshake } from './handshake-xx.js'
import type { XXHandshakeOptions, XXHandshakeResult } from './handshake-xx.js'
import type { PrivateKey, PublicKey } from './keys.js'
import type { PeerId } from './peer-id.js'
import { nodeSuite } from './suite.js'
import type { CryptoSuite, X25519KeyPair } from './suite.js'
import { encryptFrames, NoiseFrameDecoder } from './transport-codec.js'
import { NoiseTransportReader } from './transport-reader.js'
import type { FrameCallback } from './transport-codec.js'

export interface SecureOptions {
  /** Our libp2p identity. */
  identity: PrivateKey
  /** Dialer: the peer we expect (from `/p2p/<id>`). A different remote → ERR_PEER_ID_MISMATCH. */
  expectedPeer?: PeerId
  /** Muxers to announce for early negotiation, in preference order. Default `['/yamux/1.0.0']`; `[]` announces none. */
  muxers?: readonly string[]
  /** Deadline for the whole handshake. Default 10000 ms. */
  handshakeTimeoutMs?: number
  /** Crypto backend. Default: the node:crypto suite. */
  suite?: CryptoSuite
  /** Bytes already read from the socket past multistream-select; they are fed first. */
  initialBytes?: readonly Uint8Array[]
  /** Trace hook (src/trace/observer.ts): handshake messages, completion, transport frames. */
  observer?: TraceObserver
  /** Put the transport keys on the result (for a key log). Never logged by switchyard. */
  exposeKeys?: boolean
  /** Fixed Noise static key (tests, vectors). Default: one per identity and process. */
  staticKey?: X25519KeyPair
  /** Fixed ephemeral key or randomness (tests, vectors). */
  ephemeralKey?: X25519KeyPair
  randomBytes?: (length: number) => Uint8Array
  /** Noise prologue. Default empty (every libp2p implementation over TCP). */
  prologue?: Uint8Array
}

export interface SecureResult {
  /** The encrypted channel: the same ByteConnection contract, carrying plaintext. */
  conn: ByteConnection
  remotePeer: PeerId
  remotePublicKey: PublicKey
  /** Early muxer negotiation result; undefined → negotiate the muxer with multistream-select. */
  muxer: string | undefined
  remoteExtensions: NoiseExtensions | undefined
  /** Noise handshake hash `h` (channel binding). */
  handshakeHash: Uint8Array
  /**
   * Only with `exposeKeys: true`: k1 encrypts initiator→responder, k2 responder→initiator
   * (Noise §5.2 Split). Secret: handle as such.
   */
  keys?: {
    k1: Uint8Array
    k2: Uint8Array
    /** The handshake cipher keys after the ee, es and se tokens (what src/trace/keylog.ts records). */
    handshake: { ee: Uint8Array, es: Uint8Array, se: Uint8Array }
  }
}

/** Handshake as the initiator (we dialed). */
export async function secureOutbound (conn: ByteConnection, opts: SecureOptions): Promise<SecureResult> {
  return await handshake(conn, true, opts)
}

/** Handshake as the responder (we accepted). */
export async function secureInbound (conn: ByteConnection, opts: SecureOptions): Promise<SecureResult> {
  return await handshake(conn, false, opts)
}

function validate (opts: SecureOptions): { muxers: readonly string[], timeoutMs: number } {
  if (opts.identity === undefined || typeof opts.identity.sign !== 'function') {
    throw new TypeError('"identity" expected a PrivateKey')
  }
  const timeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 0x7fff_ffff) {
    throw new RangeError(`"handshakeTimeoutMs" expected an integer in 1..${0x7fff_ffff}, got ${timeoutMs}`)
  }
  const muxers = opts.muxers ?? DEFAULT_MUXERS
  if (!Array.isArray(muxers) || muxers.some(m => typeof m !== 'string' || m.length === 0)) {
    throw new TypeError('"muxers" expected an array of non-empty protocol ids')
  }
  if (muxers.length > MAX_STREAM_MUXERS) {
    throw new RangeError(`"muxers" expected at most ${MAX_STREAM_MUXERS} entries, got ${muxers.length}`)
  }
  return { muxers, timeoutMs }
}

/** Every handshake failure surfaces as a NoiseError; an I/O error underneath becomes its cause. */
function asNoiseError (err: unknown): NoiseError {
  if (err instanceof NoiseError) return err
  return new NoiseError('ERR_NOISE_HANDSHAKE', `handshake failed: ${toError(err).message}`, { cause: err })
}

async function handshake (conn: ByteConnection, initiator: boolean, opts: SecureOptions): Promise<SecureResult> {
  const { muxers, timeoutMs } = validate(opts)
  const machineOpts: XXHandshakeOptions = { initiator, identity: opts.identity, suite: opts.suite ?? nodeSuite, muxers }
  if (opts.expectedPeer !== undefined) machineOpts.expectedPeer = opts.expectedPeer
  if (opts.staticKey !== undefined) machineOpts.staticKey = opts.staticKey
  if (opts.ephemeralKey !== undefined) machineOpts.ephemeralKey = opts.ephemeralKey
  if (opts.randomBytes !== undefined) machineOpts.randomBytes = opts.randomBytes
  if (opts.prologue !== undefined) machineOpts.prologue = opts.prologue
  if (opts.observer !== undefined) machineOpts.observer = opts.observer
  if (opts.exposeKeys === true) machineOpts.recordKeys = true

  return await new Promise<SecureResult>((resolve, reject) => {
    const decoder = new NoiseFrameDecoder()
    let machine: XXHandshake
    let received = 0
    let settled = false
    const timer = setTimeout(() => {
      fail(
        new NoiseError(
          'ERR_HANDSHAKE_TIMEOUT',
          `noise: handshake timed out after ${timeoutMs} ms: the peer (${conn.remoteAddr}) sent ${received} of its ${
            initiator ? 1 : 2
          } messages, then stalled`
        )
      )
    }, timeoutMs)

    const fail = (err: SwitchyardError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      conn.detach()
      conn.abort(err)
      reject(err)
    }

    const succeed = (result: XXHandshakeResult): void => {
      let keys: SecureResult['keys']
      if (opts.exposeKeys === true) {
        const [c1, c2] = initiator ? [result.encrypter, result.decrypter] : [result.decrypter, result.encrypter]
        const hk = result.tokenKeys
        if (c1.key === undefined || c2.key === undefined || hk === undefined) {
          throw new NoiseError('ERR_NOISE_HANDSHAKE', 'exposeKeys: keys missing after Split()')
        }
        keys = { k1: c1.key, k2: c2.key, handshake: hk }
      }
      settled = true
      clearTimeout(timer)
      const out: SecureResult = {
        conn: new NoiseConnection(conn, decoder, result.encrypter, result.decrypter, opts.observer),
        remotePeer: result.remotePeer,
        remotePublicKey: result.remotePublicKey,
        muxer: result.muxer,
        remoteExtensions: result.remoteExtensions,
        handshakeHash: result.handshakeHash
      }
      if (keys !== undefined) out.keys = keys
      resolve(out)
    }

    /** Run every complete handshake message through the machine. */
    const pump = (): void => {
      let msg: Uint8Array | undefined
      while (!settled && (msg = decoder.next()) !== undefined) {
        received++
        const step = machine.receive(msg)
        if (step.send !== undefined) conn.write([step.send])
        if (step.result !== undefined) { succeed(step.result); return }
      }
    }

    const closedEarly = (what: string, cause?: Error): void => {
      const partial = decoder.buffered > 0 ? ` (partial message: ${decoder.describePending()})` : ''
      fail(
        new NoiseError(
          'ERR_NOISE_HANDSHAKE',
          `peer ${what} during the Noise handshake, after ${received} of its ${initiator ? 1 : 2} messages${partial}`,
          cause === undefined ? undefined : { cause }
        )
      )
    }

    const sink: ByteSink = {
      onData (chunk) {
        if (settled) return
        decoder.push(chunk)
        try { pump() } catch (err) { fail(asNoiseError(err)) }
      },
      onEnd () { if (!settled) closedEarly('closed the connection') },
      onClose (err) {
        if (settled) return
        // A lazy multistream select underneath (lazy-connection.ts) reports the listener's verdict
        // through onClose: a refusal (`na`) or a multistream violation is the cause, not a reset.
        if (err instanceof MultistreamError) { fail(err); return }
        closedEarly(err === undefined ? 'closed the connection' : 'reset the connection', err)
      }
    }

    try {
      machine = new XXHandshake(machineOpts)
      for (const b of opts.initialBytes ?? []) decoder.push(b)
      const first = machine.start()
      if (first.send !== undefined) conn.write([first.send])
      pump()
    } catch (err) {
      fail(asNoiseError(err))
      return
    }
    if (!settled) {
      conn.attach(sink) // delivers whatever the connection buffered, synchronously
      if (!settled) conn.resume()
    }
  })
}

/**
 * The Noise secure channel (the shared adapter is encrypted-connection.ts). Reading: every chunk from
 * the connection is deciphered as it arrives (transport-reader.ts), so the reader keeps no socket
 * buffer and the TCP transport may read into one reused buffer (`borrowsChunks`); verified plaintext
 * waits for the sink, and a paused consumer pauses the socket. Writing: one batch of plaintext → its
 * frames (transport-codec.ts) → one write call.
 */
export class NoiseConnection extends EncryptedConnection {
  private readonly reader: NoiseTransportReader
  private readonly encrypter: CipherState
  /** Trace hook for outgoing frames; undefined (no cost) without an observer. */
  private readonly onFrameOut: FrameCallback | undefined

  constructor (
    conn: ByteConnection,
    decoder: NoiseFrameDecoder,
    encrypter: CipherState,
    decrypter: CipherState,
    observer?: TraceObserver
  ) {
    super(conn, 'Noise')
    this.encrypter = encrypter
    this.reader = new NoiseTransportReader(
      decrypter,
      observer === undefined
        ? undefined
        : frame => { observer.event({ layer: 'noise', kind: 'frame', dir: 'in', length: frame.length, bytes: frame }) }
    )
    // Bytes that came after the handshake's last message, in the handshake's decoder.
    for (const chunk of decoder.takeAll()) this.reader.push(chunk)
    this.onFrameOut = observer === undefined
      ? undefined
      : (length, body) => {
          observer.event({
            layer: 'noise',
            kind: 'frame',
            dir: 'out',
            length,
            ...(body !== undefined ? { bytes: body } : {})
          })
        }
    this.open(true)
  }

  protected receive (chunk: Uint8Array): void {
    this.reader.push(chunk)
    this.drain()
  }

  protected nextPlaintext (): Uint8Array | undefined {
    const piece = this.reader.shift()
    if (piece !== undefined) return piece
    // Every message before the bad one has been delivered: now the failure.
    const failure = this.reader.failure
    if (failure !== undefined) this.fatal(failure)
    return undefined
  }

  protected truncation (): Error | undefined {
    if (this.reader.partialBytes === 0) return undefined
    return new NoiseError(
      'ERR_UNEXPECTED_EOF',
      `peer half-closed in the middle of a Noise transport message: ${this.reader.describePending()}`
    )
  }

  protected seal (chunks: readonly Uint8Array[]): Uint8Array[] {
    try {
      return encryptFrames(this.encrypter, chunks, MAX_PLAINTEXT_LENGTH, this.onFrameOut)
    } catch (err) {
      // Only nonce exhaustion can fail here: the connection cannot continue (Noise §5.1).
      this.abort(toError(err))
      throw err
    }
  }
}
