/**
 * The `/tls/1.0.0` adapter (libp2p specs tls/tls.md): runs the record layer + handshake machine
 * over a ByteConnection and returns the encrypted ByteConnection, with the same contract as the
 * Noise one (src/security/secure-connection.ts): push delivery, pause/resume backpressure,
 * half-close, abort. This file owns the timer and the connection; the protocol is in the
 * sans-I/O machine (handshake.ts) and record layer (record-layer.ts).
 *
 * Handshake driver:
 *  1. our certificate: one per identity, kept by this SecurityProtocol across connections and
 *     renewed near its end (credentials.ts; an ECDSA P-256 key the host key signed, certificate.ts);
 *  2. ALPN: the muxers we support, then `libp2p` (connections/inlined-muxer-negotiation.md); an
 *     agreed muxer id is `earlyMuxer`, `libp2p` means multistream-select for the muxer;
 *  3. feed `initialBytes`, start, attach; every record goes through the record layer, whatever it
 *     returns is written at once;
 *  4. the peer's certificate is checked as it arrives (in full the first time, then its validity
 *     period only: credentials.ts VerifiedCertificates; CertificateVerify proves its key every
 *     time): a dialer refuses a peer id other than the expected one (ERR_PEER_ID_MISMATCH) before
 *     any application data can exist;
 *  5. on completion the record layer — possibly holding application records the peer pipelined
 *     behind its Finished — becomes the TlsConnection, which delivers nothing until attached;
 *  6. any failure: the alert goes out (when we have one), the connection is closed, the promise
 *     rejects with a TlsError; a timeout aborts.
 *
 * Closing (RFC 8446 §6.1): closeWrite sends close_notify then half-closes TCP; a received
 * close_notify is the peer's end of stream (onEnd) and we may keep writing; TCP EOF without
 * close_notify ends the stream too (go and js send close_notify; a cut inside a record is an error).
 */
import type {
  ByteConnection,
  ByteSink,
  SecureConnectionOptions,
  SecuredConnection,
  SecurityProtocol
} from '../../connection.js'
import { TlsError, toError } from '../../errors.js'
import { EncryptedConnection } from '../encrypted-connection.js'
import type { TraceObserver } from '../../trace/observer.js'
import type { PrivateKey, PublicKey } from '../keys.js'
import type { PeerId } from '../peer-id.js'
import type { Libp2pPeer } from './certificate.js'
import { Libp2pCredentials, VerifiedCertificates } from './credentials.js'
import {
  ALPN_LIBP2P,
  AlertDescription,
  DEFAULT_MAX_CERTIFICATE_BYTES,
  DEFAULT_MAX_HANDSHAKE_MESSAGE_BYTES,
  PROTOCOL_ID
} from './constants.js'
import { TlsHandshake } from './handshake.js'
import type { TlsCredential, TlsHandshakeConfig, TlsHandshakeResult } from './handshake.js'
import { TlsRecordLayer } from './record-layer.js'
import type { RecordLayerHooks, RecordLayerOutput } from './record-layer.js'
import { completeEvent, describeRecord, traceHandshakeMessages } from './trace-info.js'
import { tlsError } from './wire.js'

export interface TlsSecurityOptions {
  /** Cap on one handshake message. Default 64 KiB. */
  maxHandshakeMessageBytes?: number
  /** Cap on the peer's certificate. Default 16 KiB. */
  maxCertificateBytes?: number
  /** Clock for certificate validity (tests). Default Date.now. */
  now?: () => number
  /**
   * Our certificate and its key (tests that play a misbehaving peer, e.g. a bad host key signature).
   * Called for every connection. Default: one libp2p certificate per identity, kept across connections
   * (credentials.ts `Libp2pCredentials`).
   */
  credential?: (identity: PrivateKey, now: number) => TlsCredential
  /** Machine overrides (tests): suites, groups… */
  handshake?: Partial<Pick<TlsHandshakeConfig<Libp2pPeer>, 'cipherSuites' | 'groups' | 'keyShareGroups'>>
}

/** NSS key log labels (the format Wireshark reads). */
const KEYLOG_LABELS = {
  handshake: ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET'],
  application: ['CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0']
} as const

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')

/** The `/tls/1.0.0` SecurityProtocol. */
export function tlsSecurity (options: TlsSecurityOptions = {}): SecurityProtocol {
  const memo: Memo = { credentials: new Libp2pCredentials(), verified: new VerifiedCertificates() }
  return {
    protocol: PROTOCOL_ID,
    secureOutbound: async (conn, opts) => await secure(conn, 'client', opts, options, memo),
    secureInbound: async (conn, opts) => await secure(conn, 'server', opts, options, memo)
  }
}

/** What one `tlsSecurity()` keeps across its connections (credentials.ts). */
interface Memo { credentials: Libp2pCredentials, verified: VerifiedCertificates }

function asTlsError (err: unknown): TlsError {
  if (err instanceof TlsError) return err
  const code = (err as { code?: string })?.code === 'ERR_PEER_ID_MISMATCH' ? 'ERR_PEER_ID_MISMATCH' : 'ERR_TLS_INTERNAL'
  return tlsError(
    code,
    code === 'ERR_PEER_ID_MISMATCH' ? AlertDescription.bad_certificate : AlertDescription.internal_error,
    `TLS handshake failed: ${toError(err).message}`,
    err
  )
}

function hooksFor (
  observer: TraceObserver | undefined,
  keyLog: ((line: string) => void) | undefined,
  clientRandom: () => Uint8Array | undefined
): RecordLayerHooks {
  const hooks: RecordLayerHooks = {}
  if (observer !== undefined) {
    hooks.onRecord = (dir, r) => {
      observer.event({
        layer: 'tls',
        kind: 'record',
        dir,
        ...describeRecord(r.type, r.innerType),
        length: r.length,
        bytes: r.bytes
      })
    }
    hooks.onAlert = (dir, level, description) => {
      observer.event({ layer: 'tls', kind: 'alert', dir, ...describeAlert(level, description) })
    }
  }
  if (keyLog !== undefined) {
    hooks.onSecrets = (level, client, server) => {
      const cr = clientRandom()
      if (cr === undefined) return
      keyLog(`${KEYLOG_LABELS[level][0]} ${hexOf(cr)} ${hexOf(client)}`)
      keyLog(`${KEYLOG_LABELS[level][1]} ${hexOf(cr)} ${hexOf(server)}`)
    }
  }
  return hooks
}

function describeAlert (level: number, description: number): { level: string, description: string } {
  return {
    level: level === 1 ? 'warning' : level === 2 ? 'fatal' : String(level),
    description: AlertDescription[description] ?? String(description)
  }
}

async function secure (
  conn: ByteConnection,
  role: 'client' | 'server',
  opts: SecureConnectionOptions,
  options: TlsSecurityOptions,
  memo: Memo
): Promise<SecuredConnection> {
  const timeoutMs = opts.handshakeTimeoutMs
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 0x7fff_ffff) {
    throw new RangeError(`"handshakeTimeoutMs" expected an integer in 1..${0x7fff_ffff}, got ${timeoutMs}`)
  }
  const now = options.now ?? Date.now
  const observer = opts.observer
  const alpn = [...opts.muxers.filter(m => m !== ALPN_LIBP2P), ALPN_LIBP2P]

  const config: TlsHandshakeConfig<Libp2pPeer> = {
    role,
    credential: options.credential !== undefined
      ? options.credential(opts.identity, now())
      : memo.credentials.get(opts.identity, now()),
    requireClientCertificate: true,
    alpn,
    maxHandshakeMessageBytes: options.maxHandshakeMessageBytes ?? DEFAULT_MAX_HANDSHAKE_MESSAGE_BYTES,
    maxCertificateBytes: options.maxCertificateBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES,
    ...options.handshake,
    verifyPeer: (chain) => {
      const peer = memo.verified.verify(chain, now())
      const expected = opts.expectedPeer
      if (role === 'client' && expected !== undefined && !expected.equals(peer.info.peerId)) {
        throw tlsError(
          'ERR_PEER_ID_MISMATCH',
          AlertDescription.bad_certificate,
          `tls: dialed ${expected.toString()}, but the certificate authenticates ${peer.info.peerId.toString()} (wrong peer id)`
        )
      }
      return peer
    }
  }
  if (observer !== undefined) config.onMessage = traceHandshakeMessages(observer, now)
  const m = new TlsHandshake(config)
  const rl = new TlsRecordLayer(m, role, hooksFor(observer, opts.keyLog, () => m.clientRandom))

  return await new Promise<SecuredConnection>((resolve, reject) => {
    let settled = false
    const early: Uint8Array[] = []
    let earlyEnd = false
    const timer = setTimeout(() => {
      fail(
        new TlsError(
          'ERR_HANDSHAKE_TIMEOUT',
          `tls: handshake timed out after ${timeoutMs} ms: the peer (${conn.remoteAddr}) stalled`,
          AlertDescription.user_canceled
        )
      )
    }, timeoutMs)

    const fail = (err: TlsError): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      conn.detach()
      if (err.code === 'ERR_HANDSHAKE_TIMEOUT') conn.abort(err)
      else alertAndClose(conn, rl, err)
      reject(err)
    }

    const handle = (out: RecordLayerOutput<Libp2pPeer>): void => {
      if (out.send.length > 0) conn.write(out.send)
      for (const d of out.data) early.push(d)
      if (out.closeNotify === true) earlyEnd = true
      const result = out.complete
      if (result !== undefined) succeed(result)
    }

    const succeed = (result: TlsHandshakeResult<Libp2pPeer>): void => {
      const peer = result.peer
      if (peer === undefined) {
        fail(
          tlsError(
            'ERR_TLS_CERTIFICATE_REQUIRED',
            AlertDescription.certificate_required,
            'tls: the peer sent no certificate'
          )
        )
        return
      }
      settled = true
      clearTimeout(timer)
      const muxer = result.alpn !== undefined && result.alpn !== ALPN_LIBP2P && opts.muxers.includes(result.alpn)
        ? result.alpn
        : undefined
      observer?.event(completeEvent(role, result))
      const secured: SecuredConnection = {
        connection: new TlsConnection(conn, rl, early, earlyEnd, observer),
        remotePeer: peer.info.peerId as PeerId,
        remoteKey: peer.info.hostKey as PublicKey
      }
      if (muxer !== undefined) secured.earlyMuxer = muxer
      resolve(secured)
    }

    const sink: ByteSink = {
      onData (chunk) {
        if (settled) return
        try { handle(rl.receive(chunk)) } catch (err) { fail(asTlsError(err)) }
      },
      onEnd () {
        if (!settled) {
          fail(
            tlsError(
              'ERR_TLS_TRUNCATED',
              AlertDescription.close_notify,
              `peer closed the connection during the TLS handshake${
                rl.buffered > 0 ? ` (${rl.buffered} bytes of a record pending)` : ''
              }`
            )
          )
        }
      },
      onClose (err) {
        if (!settled) {
          fail(
            new TlsError(
              'ERR_TLS_TRUNCATED',
              `peer ${err === undefined ? 'closed' : 'reset'} the connection during the TLS handshake`,
              AlertDescription.close_notify,
              { cause: err, remote: true }
            )
          )
        }
      }
    }

    try {
      handle(rl.start())
      for (const b of opts.initialBytes ?? []) { if (!settled) handle(rl.receive(b)) }
    } catch (err) {
      fail(asTlsError(err))
      return
    }
    if (!settled) {
      conn.attach(sink)
      if (!settled) conn.resume()
    } else {
      // Completed from initialBytes alone: the TlsConnection attached itself.
    }
  })
}

/**
 * A fatal error: when it is ours, the alert must reach the peer, so write it and close gracefully
 * (an abort could RST it away); a peer's alert or a dead connection: abort.
 */
function alertAndClose (conn: ByteConnection, rl: TlsRecordLayer<Libp2pPeer>, err: Error): void {
  if (err instanceof TlsError && !err.remote && !conn.closed) {
    try { conn.write([rl.alertRecord(err.alert)]) } catch { /* the connection is gone already */ }
    void conn.close().catch(() => {})
  } else {
    conn.abort(err)
  }
}

/**
 * The TLS secure channel (the shared adapter is ../encrypted-connection.ts). Reading: chunks go
 * through the record layer, which opens every complete record at once; the plaintext waits in order
 * until the sink takes it (with the socket paused meanwhile). Writing: one batch of plaintext →
 * records of ≤ 2^14 bytes → one write call. Closing sends close_notify first (RFC 8446 §6.1).
 */
export class TlsConnection extends EncryptedConnection {
  private readonly rl: TlsRecordLayer<Libp2pPeer>
  private readonly observer: TraceObserver | undefined
  private readonly pending: Uint8Array[]
  private pendingIndex = 0
  /** The peer's close_notify arrived: its end of stream, whatever TCP does afterwards. */
  private closeNotified: boolean

  constructor (
    conn: ByteConnection,
    rl: TlsRecordLayer<Libp2pPeer>,
    early: Uint8Array[],
    earlyEnd: boolean,
    observer?: TraceObserver
  ) {
    super(conn, 'TLS')
    this.rl = rl
    this.pending = early
    this.remoteEnded = earlyEnd
    this.closeNotified = earlyEnd
    this.observer = observer
    this.open()
  }

  protected receive (chunk: Uint8Array): void {
    if (this.closeState !== undefined) return
    let out: RecordLayerOutput<Libp2pPeer>
    try {
      out = this.rl.receive(chunk)
    } catch (err) {
      this.fatal(asTlsError(err))
      return
    }
    if (out.send.length > 0 && !this.writeClosed) this.conn.write(out.send) // KeyUpdate answers
    for (const d of out.data) this.pending.push(d)
    if (out.closeNotify === true) { this.closeNotified = true; this.remoteEnded = true }
    this.drain()
    if ((this.sink === undefined || this.userPaused) && this.pending.length - this.pendingIndex > 0) this.conn.pause()
  }

  protected nextPlaintext (): Uint8Array | undefined {
    if (this.pendingIndex >= this.pending.length) return undefined
    const piece = this.pending[this.pendingIndex] as Uint8Array
    this.pending[this.pendingIndex++] = EMPTY
    if (this.pendingIndex === this.pending.length) { this.pending.length = 0; this.pendingIndex = 0 }
    return piece
  }

  protected truncation (): Error | undefined {
    if (this.closeNotified || this.rl.buffered === 0) return undefined
    return tlsError(
      'ERR_TLS_TRUNCATED',
      AlertDescription.decode_error,
      `peer half-closed inside a TLS record (${this.rl.buffered} bytes pending)`
    )
  }

  protected seal (chunks: readonly Uint8Array[]): Uint8Array[] {
    return this.rl.encrypt(chunks)
  }

  /** Send a KeyUpdate (RFC 8446 §4.6.3); `requestPeer` asks the peer to update its sending keys too. */
  keyUpdate (requestPeer = false): void {
    this.assertWritable('KeyUpdate')
    this.conn.write(this.rl.keyUpdate(requestPeer))
  }

  protected override sendCloseNotify (): void {
    if (this.closeState !== undefined || this.conn.closed) return
    try { this.conn.write([this.rl.alertRecord(AlertDescription.close_notify)]) } catch { /* gone */ }
  }

  protected override closeTransport (err: Error): void {
    alertAndClose(this.conn, this.rl, err)
  }
}

const EMPTY = new Uint8Array(0)
