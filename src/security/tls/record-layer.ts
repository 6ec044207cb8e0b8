/**
 * The TLS record layer (RFC 8446 §5) around the handshake machine: what TLS over TCP adds. Sans-I/O
 * like the machine: bytes in → records to send, plaintext received and events; the adapter
 * (connection.ts) owns the socket.
 *
 * Read path, per complete record (one synchronous loop over a chunk queue):
 *  1. header: `type ‖ legacy_record_version ‖ length`; the length is checked here, before the body
 *     is buffered (≤ 2^14 + 256 protected, ≤ 2^14 plaintext → else record_overflow);
 *  2. change_cipher_spec `01` before the handshake is done: dropped (middlebox compatibility,
 *     RFC 8446 §5 and Appendix D.4); any other → unexpected_message;
 *  3. with read keys for the machine's `readLevel`: outer type must be application_data; open it
 *     (bad tag → bad_record_mac) and take the inner type (§5.4); without: plaintext handshake/alert;
 *  4. handshake bytes → the machine (it reassembles messages across records); alerts → close_notify
 *     ends the read side, anything else is fatal; application data only once the handshake is complete.
 *
 * Write path: handshake messages are coalesced per level into as few records as fit 2^14 bytes;
 * application data is cut into records of ≤ 2^14 bytes, each sealed straight from the caller's
 * chunks; after KEY_UPDATE_AFTER_RECORDS records under one key we send a KeyUpdate (§5.5).
 */
import { concatBytes } from '../../codec/bytes.js'
import { ChunkQueue } from '../../codec/chunk-queue.js'
import { TlsError } from '../../errors.js'
import {
  AlertDescription, AlertLevel, ContentType, KEY_UPDATE_AFTER_RECORDS, LEGACY_RECORD_VERSION_CLIENT_HELLO,
  MAX_CIPHERTEXT_LENGTH, MAX_PLAINTEXT_LENGTH, RECORD_HEADER_LENGTH
} from './constants.js'
import type { EncryptionLevel, TlsAction, TlsHandshake, TlsHandshakeResult } from './handshake.js'
import type { SuiteParams } from './key-schedule.js'
import { decodeAlert, encodeAlert } from './messages.js'
import { RecordCipher } from './primitives.js'
import { tlsError } from './wire.js'

export interface RecordLayerOutput<T> {
  /** Records to write, in order. */
  send: Uint8Array[]
  /** Application plaintext received, in order. */
  data: Uint8Array[]
  /** Set by the call that completed the handshake. */
  complete?: TlsHandshakeResult<T>
  /** The peer sent close_notify: it will send nothing more. */
  closeNotify?: boolean
}

export interface RecordLayerHooks {
  /** Every record in and out (trace): outer type, inner type when protected, length on the wire. */
  onRecord?: (
    dir: 'in' | 'out',
    record: { type: ContentType, innerType?: ContentType, length: number, bytes: Uint8Array }
  ) => void
  /** Traffic secrets as they are installed (key log). */
  onSecrets?: (
    level: 'handshake' | 'application',
    clientSecret: Uint8Array,
    serverSecret: Uint8Array,
    suite: SuiteParams
  ) => void
  /** Alerts in and out (trace). */
  onAlert?: (dir: 'in' | 'out', level: number, description: number) => void
}

const LEVELS: EncryptionLevel[] = ['initial', 'handshake', 'application']

export class TlsRecordLayer<T = unknown> {
  readonly handshake: TlsHandshake<T>
  private readonly isClient: boolean
  private readonly hooks: RecordLayerHooks
  private readonly queue = new ChunkQueue()
  private readonly readCiphers: Partial<Record<EncryptionLevel, RecordCipher>> = {}
  private readonly writeCiphers: Partial<Record<EncryptionLevel, RecordCipher>> = {}
  private firstRecord = true
  private peerClosed = false
  private failed = false

  constructor (handshake: TlsHandshake<T>, role: 'client' | 'server', hooks: RecordLayerHooks = {}) {
    this.handshake = handshake
    this.isClient = role === 'client'
    this.hooks = hooks
  }

  /** Bytes buffered of a record not yet complete. */
  get buffered (): number { return this.queue.length }

  start (): RecordLayerOutput<T> {
    const out: RecordLayerOutput<T> = { send: [], data: [] }
    this.apply(out, this.handshake.start())
    return out
  }

  /** Feed bytes from the socket. Throws TlsError (send `alertRecord(err.alert)`, then close). */
  receive (chunk: Uint8Array): RecordLayerOutput<T> {
    const out: RecordLayerOutput<T> = { send: [], data: [] }
    if (this.failed) return out
    this.queue.push(chunk)
    try {
      while (!this.peerClosed && this.queue.length >= RECORD_HEADER_LENGTH) {
        const q = this.queue
        const type = q.byteAt(0)
        // Checked at header time so that garbage (an HTTP request, a Noise message) fails at once.
        if (type < ContentType.ChangeCipherSpec || type > ContentType.ApplicationData || q.byteAt(1) !== 3) {
          throw unexpected(
            `not a TLS record: content type ${type}, version ${q.byteAt(1)}.${q.byteAt(2)} (RFC 8446 §5.1)`
          )
        }
        const length = (q.byteAt(3) << 8) | q.byteAt(4)
        const protectedRead = this.readCiphers[this.handshake.readLevel] !== undefined
        const max = protectedRead && type === ContentType.ApplicationData ? MAX_CIPHERTEXT_LENGTH : MAX_PLAINTEXT_LENGTH
        if (length > max) {
          throw new TlsError(
            'ERR_TLS_RECORD_OVERFLOW',
            `"record length" expected <= ${max}, got ${length} (RFC 8446 §5.1, §5.2)`,
            AlertDescription.record_overflow
          )
        }
        if (q.length < RECORD_HEADER_LENGTH + length) break
        const record = q.consume(RECORD_HEADER_LENGTH + length)
        this.record(out, type, record)
      }
    } catch (err) {
      this.failed = true
      throw err
    }
    return out
  }

  private record (out: RecordLayerOutput<T>, type: number, record: Uint8Array): void {
    const header = record.subarray(0, RECORD_HEADER_LENGTH)
    const body = record.subarray(RECORD_HEADER_LENGTH)
    const hs = this.handshake
    if (type === ContentType.ChangeCipherSpec) {
      this.hooks.onRecord?.('in', { type, length: record.length, bytes: record })
      if (hs.complete || body.length !== 1 || body[0] !== 1) {
        throw unexpected('change_cipher_spec outside the handshake or not `01` (RFC 8446 §5)')
      }
      return
    }
    const cipher = this.readCiphers[hs.readLevel]
    let inner: ContentType
    let content: Uint8Array
    if (cipher !== undefined) {
      if (type !== ContentType.ApplicationData) {
        throw unexpected(`plaintext ${ContentType[type] ?? type} record after keys were installed (RFC 8446 §5.2)`)
      }
      const opened = cipher.open(header, body)
      inner = opened.type
      content = opened.content
      this.hooks.onRecord?.('in', { type, innerType: inner, length: record.length, bytes: record })
    } else {
      if (type !== ContentType.Handshake && type !== ContentType.Alert) {
        throw unexpected(`${ContentType[type] ?? `type ${type}`} record before keys were installed`)
      }
      inner = type
      content = body
      this.hooks.onRecord?.('in', { type, length: record.length, bytes: record })
    }
    switch (inner) {
      case ContentType.Handshake:
        if (content.length === 0) throw unexpected('zero-length handshake record (RFC 8446 §5.1)')
        this.apply(out, hs.receive(hs.readLevel, content))
        return
      case ContentType.Alert: {
        const { level, description } = decodeAlert(content)
        this.hooks.onAlert?.('in', level, description)
        if (description === AlertDescription.close_notify) { this.peerClosed = true; out.closeNotify = true; return }
        if (description === AlertDescription.user_canceled) return // RFC 8446 §6.1: a close_notify follows
        throw new TlsError(
          'ERR_TLS_ALERT_RECEIVED',
          `tls: the peer sent the ${AlertLevel[level] ?? level} alert ${
            AlertDescription[description] ?? description
          } (${description})`,
          description,
          { remote: true }
        )
      }
      case ContentType.ApplicationData:
        if (!hs.complete || hs.readLevel !== 'application') {
          throw unexpected('application data before the handshake completed')
        }
        if (content.length > 0) out.data.push(content)
        return
      default:
        throw unexpected(`inner content type ${inner as number} (RFC 8446 §5.4)`)
    }
  }

  /** Apply the machine's actions in order: coalesce messages per level, install secrets. */
  private apply (out: RecordLayerOutput<T>, actions: Array<TlsAction<T>>): void {
    let pending: Uint8Array[] = []
    let pendingLevel: EncryptionLevel = 'initial'
    let pendingLength = 0
    const flush = (): void => {
      if (pending.length === 0) return
      this.writeHandshake(out, pendingLevel, pending)
      pending = []
      pendingLength = 0
    }
    for (const a of actions) {
      switch (a.type) {
        case 'message':
          if (
            pending.length > 0 && (a.level !== pendingLevel || pendingLength + a.data.length > MAX_PLAINTEXT_LENGTH)
          ) flush()
          pendingLevel = a.level
          pending.push(a.data)
          pendingLength += a.data.length
          break
        case 'secrets': {
          flush()
          const ours = this.isClient ? a.clientSecret : a.serverSecret
          const theirs = this.isClient ? a.serverSecret : a.clientSecret
          this.writeCiphers[a.level] = new RecordCipher(a.suite, ours)
          this.readCiphers[a.level] = new RecordCipher(a.suite, theirs)
          this.hooks.onSecrets?.(a.level, a.clientSecret, a.serverSecret, a.suite)
          break
        }
        case 'write-secret': {
          flush()
          const old = this.writeCiphers.application as RecordCipher
          this.writeCiphers.application = new RecordCipher(old.params, a.secret)
          break
        }
        case 'read-secret': {
          const old = this.readCiphers.application as RecordCipher
          this.readCiphers.application = new RecordCipher(old.params, a.secret)
          break
        }
        case 'complete':
          flush()
          out.complete = a.result
          break
      }
    }
    flush()
  }

  /** Handshake messages of one level as records (a message larger than 2^14 is fragmented). */
  private writeHandshake (out: RecordLayerOutput<T>, level: EncryptionLevel, messages: Uint8Array[]): void {
    const cipher = this.writeCiphers[level]
    const data = concatBytes(messages)
    for (let o = 0; o < data.length; o += MAX_PLAINTEXT_LENGTH) {
      const fragment = data.subarray(o, Math.min(data.length, o + MAX_PLAINTEXT_LENGTH))
      out.send.push(
        cipher === undefined
          ? this.plaintextRecord(ContentType.Handshake, fragment)
          : this.seal(cipher, ContentType.Handshake, [fragment])
      )
    }
  }

  private plaintextRecord (type: ContentType, fragment: Uint8Array): Uint8Array {
    const rec = new Uint8Array(RECORD_HEADER_LENGTH + fragment.length)
    const version = this.firstRecord && this.isClient ? LEGACY_RECORD_VERSION_CLIENT_HELLO : 0x0303
    this.firstRecord = false
    rec[0] = type
    rec[1] = version >>> 8; rec[2] = version & 0xff
    rec[3] = fragment.length >>> 8; rec[4] = fragment.length & 0xff
    rec.set(fragment, RECORD_HEADER_LENGTH)
    this.hooks.onRecord?.('out', { type, length: rec.length, bytes: rec })
    return rec
  }

  private seal (cipher: RecordCipher, type: ContentType, parts: readonly Uint8Array[]): Uint8Array {
    this.firstRecord = false
    const rec = cipher.seal(type, parts)
    this.hooks.onRecord?.('out', { type: ContentType.ApplicationData, innerType: type, length: rec.length, bytes: rec })
    return rec
  }

  /** Application data → records of ≤ 2^14 plaintext bytes each. */
  encrypt (chunks: readonly Uint8Array[]): Uint8Array[] {
    const cipher = this.writeCiphers.application
    if (cipher === undefined || !this.handshake.complete) {
      throw new Error('TLS application data before the handshake completed')
    }
    const records: Uint8Array[] = []
    let parts: Uint8Array[] = []
    let size = 0
    const emit = (): void => {
      let c = this.writeCiphers.application as RecordCipher
      if (c.seq >= KEY_UPDATE_AFTER_RECORDS) {
        records.push(...this.keyUpdate(false))
        c = this.writeCiphers.application as RecordCipher
      }
      records.push(this.seal(c, ContentType.ApplicationData, parts))
      parts = []
      size = 0
    }
    for (let chunk of chunks) {
      while (chunk.length > 0) {
        const room = MAX_PLAINTEXT_LENGTH - size
        const piece = chunk.length <= room ? chunk : chunk.subarray(0, room)
        parts.push(piece)
        size += piece.length
        chunk = chunk.subarray(piece.length)
        if (size === MAX_PLAINTEXT_LENGTH) emit()
      }
    }
    if (size > 0) emit()
    return records
  }

  /** Send a KeyUpdate; `requestPeer` asks the peer to update its keys too (RFC 8446 §4.6.3). */
  keyUpdate (requestPeer: boolean): Uint8Array[] {
    const out: RecordLayerOutput<T> = { send: [], data: [] }
    this.apply(out, this.handshake.keyUpdate(requestPeer))
    return out.send
  }

  /** An alert record at our current write level (fatal unless close_notify). */
  alertRecord (description: AlertDescription): Uint8Array {
    const level = description === AlertDescription.close_notify || description === AlertDescription.user_canceled
      ? AlertLevel.warning
      : AlertLevel.fatal
    this.hooks.onAlert?.('out', level, description)
    const body = encodeAlert(level, description)
    for (let i = LEVELS.length - 1; i >= 0; i--) {
      const c = this.writeCiphers[LEVELS[i] as EncryptionLevel]
      if (c !== undefined) return this.seal(c, ContentType.Alert, [body])
    }
    return this.plaintextRecord(ContentType.Alert, body)
  }
}

function unexpected (what: string): TlsError {
  return tlsError('ERR_TLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, what)
}
