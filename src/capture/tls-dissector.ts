/**
 * A recorded `/tls/1.0.0` connection, read from both sides (the dialer is the TLS client):
 *
 *  1. Split each direction into TLS records (RFC 8446 §5.1) and report each.
 *  2. Plaintext handshake records: ClientHello (its random keys the NSS key log) and ServerHello
 *     (the cipher suite; a HelloRetryRequest just waits for the second ClientHello).
 *  3. With the connection's secrets from the key log (CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, then
 *     CLIENT/SERVER_TRAFFIC_SECRET_0), open the protected records with the project's RecordCipher:
 *     handshake messages are shown as `--trace` shows them (suites, ALPN, the certificate's libp2p
 *     extension checked); each direction moves to its application secret after its Finished;
 *     KeyUpdate moves it on (RFC 8446 §7.2); application data goes to the muxer dissector (the
 *     early muxer from ALPN, or multistream-select).
 *  4. Without secrets: the plaintext hellos, then a count of what stayed encrypted.
 */
import { concatBytes } from '../codec/bytes.js'
import {
  ContentType,
  HANDSHAKE_HEADER_LENGTH,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  MAX_CIPHERTEXT_LENGTH,
  RECORD_HEADER_LENGTH,
  ALPN_LIBP2P,
  ExtensionType
} from '../security/tls/constants.js'
import { nextTrafficSecret, suiteParams } from '../security/tls/key-schedule.js'
import type { SuiteParams } from '../security/tls/key-schedule.js'
import { alpn, decodeAlert, decodeHandshakeBody, findExtension, keyShare } from '../security/tls/messages.js'
import type { HandshakeMessage, ServerHello } from '../security/tls/messages.js'
import { RecordCipher } from '../security/tls/primitives.js'
import {
  describeAlertDescription,
  describeMessage,
  describeRecord,
  groupName,
  suiteName
} from '../security/tls/trace-info.js'
import { SwitchyardError } from '../errors.js'
import { errorEvent, TimedBuffer } from '../trace/dissect.js'
import type { Dissector, Emit } from '../trace/dissect.js'
import type { KeyLog, TlsSecrets } from '../trace/keylog.js'
import type { TlsCompleteEvent, TraceDirection } from '../trace/observer.js'

const isHelloRetryRequest = (msg: ServerHello): boolean =>
  msg.random.every((b, i) => b === HELLO_RETRY_REQUEST_RANDOM[i])

/**
 * What a spectator learns of a TLS 1.3 handshake from its messages: the agreed suite's parameters and
 * the key-share group (ServerHello, RFC 8446 §4.1.3), the ALPN protocol (EncryptedExtensions, RFC 7301
 * §3.1) and the server's peer id (its Certificate's libp2p extension, libp2p specs tls/tls.md). Shared
 * by the TLS-over-TCP dissector and the QUIC one, which carries the same messages (RFC 9001 §4).
 */
export class HandshakeFacts {
  params: SuiteParams | undefined
  group: string | undefined
  alpn: string | undefined
  remotePeer: string | undefined

  /**
   * Learn from one handshake message (`dir` 'out': the client's); `peer` is the peer id its
   * description found. A HelloRetryRequest teaches nothing: the real ServerHello follows.
   */
  learn (dir: TraceDirection, msg: HandshakeMessage, peer: string | undefined): void {
    switch (msg.type) {
      case HandshakeType.ServerHello: {
        if (isHelloRetryRequest(msg)) return
        const params = suiteParams(msg.cipherSuite)
        if (params === undefined) {
          throw new SwitchyardError('ERR_TLS_ILLEGAL_PARAMETER', `cipher suite 0x${msg.cipherSuite.toString(16)}`)
        }
        this.params = params
        const ks = findExtension(msg.extensions, ExtensionType.KeyShare)
        if (ks !== undefined) this.group = groupName(keyShare.decodeServer(ks).group)
        return
      }
      case HandshakeType.EncryptedExtensions: {
        const a = findExtension(msg.extensions, ExtensionType.ApplicationLayerProtocolNegotiation)
        if (a !== undefined) this.alpn = alpn.decode(a)[0]
        return
      }
      case HandshakeType.Certificate:
        if (dir === 'in' && peer !== undefined) this.remotePeer = peer
        break
      default:
    }
  }

  /** The `complete` event a spectator reports when the client's Finished goes by. */
  completeEvent (): TlsCompleteEvent {
    return {
      layer: 'tls',
      kind: 'complete',
      role: 'client',
      remotePeer: this.remotePeer ?? '(unknown)',
      cipherSuite: this.params !== undefined ? suiteName(this.params.suite) : '?',
      group: this.group ?? '?',
      helloRetry: false,
      ...(this.alpn !== undefined ? { alpn: this.alpn } : {})
    }
  }
}

export class TlsDissector implements Dissector {
  private readonly buffers = { in: new TimedBuffer(), out: new TimedBuffer() }
  private readonly hsBuffers: Record<TraceDirection, Uint8Array> = { in: new Uint8Array(0), out: new Uint8Array(0) }
  private readonly ciphers: Partial<Record<TraceDirection, RecordCipher>> = {}
  private readonly failed = { in: false, out: false }
  private readonly hs = new HandshakeFacts()
  private secrets: TlsSecrets | undefined
  private clientRandom: Uint8Array | undefined
  private next: Dissector | undefined
  private undecrypted = { records: 0, bytes: 0 }
  decrypted = false

  constructor (
    private readonly emit: Emit,
    private readonly keyLog: KeyLog | undefined,
    /** The muxer dissector: `early` from ALPN, or undefined for multistream-select. */
    private readonly startMuxer: (early: string | undefined, time: number) => Dissector | undefined
  ) {}

  push (dir: TraceDirection, bytes: Uint8Array, time: number): void {
    if (this.failed[dir]) return
    this.buffers[dir].push(bytes, time)
    const buf = this.buffers[dir]
    while (!this.failed[dir]) {
      const v = buf.view()
      if (v.length < RECORD_HEADER_LENGTH) return
      const length = ((v[3] as number) << 8) | (v[4] as number)
      if (length > MAX_CIPHERTEXT_LENGTH) {
        this.fail(
          dir,
          new SwitchyardError(
            'ERR_TLS_RECORD_OVERFLOW',
            `record of ${length} bytes (RFC 8446 §5.2: at most ${MAX_CIPHERTEXT_LENGTH})`
          ),
          time
        )
        return
      }
      if (v.length < RECORD_HEADER_LENGTH + length) return
      const record = v.slice(0, RECORD_HEADER_LENGTH + length)
      const t = buf.consume(RECORD_HEADER_LENGTH + length)
      try {
        this.record(dir, record, t)
      } catch (err) {
        this.fail(dir, err, t)
      }
    }
  }

  finish (time: number): void {
    for (const dir of ['out', 'in'] as const) {
      const left = this.buffers[dir].length
      if (left > 0 && !this.failed[dir]) {
        this.emit({
          layer: 'tls',
          kind: 'error',
          code: 'ERR_UNEXPECTED_EOF',
          message: `the ${
            dir === 'out' ? 'client' : 'server'
          }'s bytes end in the middle of a TLS record (${left} bytes of it)`
        }, time)
      }
    }
    if (this.undecrypted.records > 0) {
      this.emit({
        layer: 'tls',
        kind: 'note',
        message:
          `${this.undecrypted.records} protected records (${this.undecrypted.bytes} B) not decrypted: no TLS secrets for this connection in the key log (NSS format, --keylog)`
      }, time)
    }
  }

  private fail (dir: TraceDirection, err: unknown, time: number): void {
    this.failed[dir] = true
    this.emit(errorEvent('tls', err), time)
  }

  private record (dir: TraceDirection, record: Uint8Array, time: number): void {
    const type = record[0] as number
    const header = record.subarray(0, RECORD_HEADER_LENGTH)
    const body = record.subarray(RECORD_HEADER_LENGTH)
    const cipher = this.ciphers[dir]
    if (type === ContentType.ChangeCipherSpec) {
      this.emit(
        { layer: 'tls', kind: 'record', dir, ...describeRecord(type), length: record.length, bytes: record },
        time
      )
      return
    }
    let inner = type
    let content = body
    if (type === ContentType.ApplicationData) {
      if (cipher === undefined) {
        this.undecrypted.records++
        this.undecrypted.bytes += record.length
        this.emit(
          { layer: 'tls', kind: 'record', dir, ...describeRecord(type), length: record.length, bytes: record },
          time
        )
        return
      }
      const opened = cipher.open(header, body)
      inner = opened.type
      content = opened.content
      this.emit({
        layer: 'tls',
        kind: 'record',
        dir,
        ...describeRecord(type, inner),
        length: record.length,
        bytes: record
      }, time)
    } else {
      this.emit(
        { layer: 'tls', kind: 'record', dir, ...describeRecord(type), length: record.length, bytes: record },
        time
      )
    }
    switch (inner) {
      case ContentType.Handshake: this.handshake(dir, content, time); return
      case ContentType.Alert: {
        const a = decodeAlert(content)
        this.emit({
          layer: 'tls',
          kind: 'alert',
          dir,
          level: a.level === 1 ? 'warning' : 'fatal',
          description: describeAlertDescription(a.description)
        }, time)
        return
      }
      case ContentType.ApplicationData:
        if (content.length > 0) this.next?.push(dir, content, time)
        return
      default:
        throw new SwitchyardError('ERR_TLS_UNEXPECTED_MESSAGE', `record content type ${inner}`)
    }
  }

  private handshake (dir: TraceDirection, content: Uint8Array, time: number): void {
    let buf = this.hsBuffers[dir].length === 0 ? content : concatBytes([this.hsBuffers[dir], content])
    while (buf.length >= HANDSHAKE_HEADER_LENGTH) {
      const length = ((buf[1] as number) << 16) | ((buf[2] as number) << 8) | (buf[3] as number)
      if (buf.length < HANDSHAKE_HEADER_LENGTH + length) break
      const raw = buf.subarray(0, HANDSHAKE_HEADER_LENGTH + length)
      buf = buf.subarray(HANDSHAKE_HEADER_LENGTH + length)
      const msg = decodeHandshakeBody(
        raw[0] as number,
        raw.subarray(HANDSHAKE_HEADER_LENGTH),
        this.hs.params?.hashLength ?? 32
      )
      const d = describeMessage(msg, time)
      const level = this.ciphers[dir] === undefined ? 'initial' : this.nextLevel(dir)
      this.emit({ layer: 'tls', kind: 'handshake', dir, level, length: raw.length, bytes: raw.slice(), ...d }, time)
      this.onMessage(dir, msg, time, d.info.libp2p?.peerId)
    }
    this.hsBuffers[dir] = buf.slice()
  }

  private readonly finished = { in: false, out: false }
  private nextLevel (dir: TraceDirection): 'handshake' | 'application' {
    return this.finished[dir] ? 'application' : 'handshake'
  }

  private onMessage (
    dir: TraceDirection,
    msg: ReturnType<typeof decodeHandshakeBody>,
    time: number,
    peer: string | undefined
  ): void {
    this.hs.learn(dir, msg, peer)
    switch (msg.type) {
      case HandshakeType.ClientHello:
        this.clientRandom = msg.random
        this.secrets = this.keyLog?.findTls(msg.random)
        return
      case HandshakeType.ServerHello: {
        const params = this.hs.params
        if (isHelloRetryRequest(msg) || params === undefined) return
        const s = this.secrets
        if (s?.clientHandshake !== undefined && s.serverHandshake !== undefined) {
          this.ciphers.out = new RecordCipher(params, s.clientHandshake)
          this.ciphers.in = new RecordCipher(params, s.serverHandshake)
          this.decrypted = true
        } else {
          this.emit({
            layer: 'tls',
            kind: 'note',
            message: 'no TLS secrets for this connection in the key log: showing the hellos only'
          }, time)
        }
        return
      }
      case HandshakeType.Finished: {
        this.finished[dir] = true
        const secret = dir === 'out' ? this.secrets?.client0 : this.secrets?.server0
        const params = this.hs.params
        if (secret !== undefined && params !== undefined) this.ciphers[dir] = new RecordCipher(params, secret)
        else delete this.ciphers[dir]
        if (dir === 'in') {
          const alpn = this.hs.alpn
          this.next = this.startMuxer(alpn !== undefined && alpn !== ALPN_LIBP2P ? alpn : undefined, time)
        } else {
          this.emit(this.hs.completeEvent(), time)
        }
        return
      }
      case HandshakeType.KeyUpdate: {
        const c = this.ciphers[dir]
        if (c !== undefined) this.ciphers[dir] = new RecordCipher(c.params, nextTrafficSecret(c.params, c.secret))
        break
      }
      default:
    }
  }
}
