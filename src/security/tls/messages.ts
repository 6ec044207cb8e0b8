/**
 * TLS 1.3 handshake messages and extensions (RFC 8446 §4), pure codecs.
 *
 * `encodeHandshake(msg)` gives `msg_type(1) ‖ length(3) ‖ body`; `decodeHandshakeBody(type, body)`
 * parses one body (the framing is done by HandshakeReassembler in handshake.ts). Extensions stay a
 * raw `{type, data}` list in the messages — so unknown ones pass through untouched (QUIC's
 * quic_transport_parameters, a peer's GREASE) — with typed codecs for the ones we act on.
 * Malformed bytes → TlsError (decode_error); a repeated extension → illegal_parameter (§4.2).
 */
import { AlertDescription, ExtensionType, HANDSHAKE_HEADER_LENGTH, HandshakeType } from './constants.js'
import { decodeError, Reader, tlsError, Writer } from './wire.js'

export interface Extension {
  type: number
  data: Uint8Array
}

export interface ClientHello {
  type: HandshakeType.ClientHello
  legacyVersion: number
  random: Uint8Array
  legacySessionId: Uint8Array
  cipherSuites: number[]
  legacyCompressionMethods: Uint8Array
  extensions: Extension[]
}

/** ServerHello, and HelloRetryRequest (a ServerHello whose random is HELLO_RETRY_REQUEST_RANDOM). */
export interface ServerHello {
  type: HandshakeType.ServerHello
  legacyVersion: number
  random: Uint8Array
  legacySessionIdEcho: Uint8Array
  cipherSuite: number
  legacyCompressionMethod: number
  extensions: Extension[]
}

export interface EncryptedExtensions {
  type: HandshakeType.EncryptedExtensions
  extensions: Extension[]
}

export interface CertificateRequest {
  type: HandshakeType.CertificateRequest
  context: Uint8Array
  extensions: Extension[]
}

export interface CertificateEntry {
  data: Uint8Array
  extensions: Extension[]
}

export interface Certificate {
  type: HandshakeType.Certificate
  context: Uint8Array
  entries: CertificateEntry[]
}

export interface CertificateVerify {
  type: HandshakeType.CertificateVerify
  algorithm: number
  signature: Uint8Array
}

export interface Finished {
  type: HandshakeType.Finished
  verifyData: Uint8Array
}

export interface KeyUpdate {
  type: HandshakeType.KeyUpdate
  requestUpdate: number
}

/** Accepted and ignored (we do no resumption); parsed only to reject garbage. */
export interface NewSessionTicket {
  type: HandshakeType.NewSessionTicket
  lifetime: number
  ageAdd: number
  nonce: Uint8Array
  ticket: Uint8Array
  extensions: Extension[]
}

export type HandshakeMessage = ClientHello | ServerHello | EncryptedExtensions | CertificateRequest |
Certificate | CertificateVerify | Finished | KeyUpdate | NewSessionTicket

export function handshakeTypeName (type: number): string {
  return HandshakeType[type] ?? `unknown(${type})`
}

// ── extensions ──────────────────────────────────────────────────────────────────────────────────

function readExtensions (r: Reader, field = 'extensions'): Extension[] {
  const list = r.sub(2, field)
  const out: Extension[] = []
  const seen = new Set<number>()
  while (list.remaining > 0) {
    const type = list.u16('extension_type')
    const data = list.vector(2, 'extension_data')
    if (seen.has(type)) {
      throw tlsError(
        'ERR_TLS_ILLEGAL_PARAMETER',
        AlertDescription.illegal_parameter,
        `${r.what}: extension ${ExtensionType[type] ?? type} appears twice (RFC 8446 §4.2)`
      )
    }
    seen.add(type)
    out.push({ type, data })
  }
  return out
}

function writeExtensions (w: Writer, exts: readonly Extension[]): void {
  w.nested(2, x => { for (const e of exts) x.u16(e.type).vector(2, e.data) })
}

export function findExtension (exts: readonly Extension[], type: ExtensionType): Uint8Array | undefined {
  for (const e of exts) if (e.type === type) return e.data
  return undefined
}

/** supported_versions (§4.2.1): ClientHello `ProtocolVersion versions<2..254>`; ServerHello one version. */
export const supportedVersions = {
  encodeClient: (versions: readonly number[]): Uint8Array =>
    new Writer().nested(1, w => {
      for (const v of versions) w.u16(v)
    }).finish(),
  decodeClient: (data: Uint8Array): number[] => {
    const r = new Reader(data, 'supported_versions')
    const v = r.u16List(1, 'versions')
    r.done()
    return v
  },
  encodeServer: (version: number): Uint8Array => new Writer().u16(version).finish(),
  decodeServer: (data: Uint8Array): number => {
    const r = new Reader(data, 'supported_versions')
    const v = r.u16('selected_version')
    r.done()
    return v
  }
}

/** supported_groups (§4.2.7) and signature_algorithms (§4.2.3): `uint16 list<2..2^16-2>`. */
export const u16ListExtension = {
  encode: (values: readonly number[]): Uint8Array =>
    new Writer().nested(2, w => {
      for (const v of values) w.u16(v)
    }).finish(),
  decode: (data: Uint8Array, what: string): number[] => {
    const r = new Reader(data, what)
    const v = r.u16List(2, 'list')
    r.done()
    return v
  }
}

export interface KeyShareEntry {
  group: number
  keyExchange: Uint8Array
}

/** key_share (§4.2.8): ClientHello a list of entries, ServerHello one entry, HelloRetryRequest a group. */
export const keyShare = {
  encodeClient: (entries: readonly KeyShareEntry[]): Uint8Array =>
    new Writer().nested(2, w => { for (const e of entries) w.u16(e.group).vector(2, e.keyExchange) }).finish(),
  decodeClient: (data: Uint8Array): KeyShareEntry[] => {
    const r = new Reader(data, 'key_share')
    const list = r.sub(2, 'client_shares')
    r.done()
    const out: KeyShareEntry[] = []
    while (list.remaining > 0) {
      const group = list.u16('group')
      out.push({ group, keyExchange: list.vector(2, 'key_exchange', 1) })
    }
    return out
  },
  encodeServer: (e: KeyShareEntry): Uint8Array => new Writer().u16(e.group).vector(2, e.keyExchange).finish(),
  decodeServer: (data: Uint8Array): KeyShareEntry => {
    const r = new Reader(data, 'key_share')
    const group = r.u16('group')
    const keyExchange = r.vector(2, 'key_exchange', 1)
    r.done()
    return { group, keyExchange }
  },
  encodeRetry: (group: number): Uint8Array => new Writer().u16(group).finish(),
  decodeRetry: (data: Uint8Array): number => {
    const r = new Reader(data, 'key_share')
    const g = r.u16('selected_group')
    r.done()
    return g
  }
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** ALPN (RFC 7301 §3.1): `ProtocolName protocol_name_list<2..2^16-1>`, each `opaque <1..2^8-1>`. */
export const alpn = {
  encode: (protocols: readonly string[]): Uint8Array =>
    new Writer().nested(2, w => { for (const p of protocols) w.vector(1, utf8.encode(p)) }).finish(),
  decode: (data: Uint8Array): string[] => {
    const r = new Reader(data, 'application_layer_protocol_negotiation')
    const list = r.sub(2, 'protocol_name_list', 2)
    r.done()
    const out: string[] = []
    while (list.remaining > 0) {
      const name = list.vector(1, 'protocol_name', 1)
      try {
        out.push(utf8Decoder.decode(name))
      } catch {
        throw decodeError('ALPN', 'protocol_name is not UTF-8')
      }
    }
    return out
  }
}

/** cookie (§4.2.2): `opaque cookie<1..2^16-1>`. */
export const cookie = {
  encode: (c: Uint8Array): Uint8Array => new Writer().vector(2, c).finish(),
  decode: (data: Uint8Array): Uint8Array => {
    const r = new Reader(data, 'cookie')
    const c = r.vector(2, 'cookie', 1)
    r.done()
    return c
  }
}

// ── messages ────────────────────────────────────────────────────────────────────────────────────

function body (msg: HandshakeMessage): Uint8Array {
  const w = new Writer()
  switch (msg.type) {
    case HandshakeType.ClientHello:
      w.u16(msg.legacyVersion).bytes(msg.random).vector(1, msg.legacySessionId)
      w.nested(2, x => { for (const s of msg.cipherSuites) x.u16(s) })
      w.vector(1, msg.legacyCompressionMethods)
      writeExtensions(w, msg.extensions)
      break
    case HandshakeType.ServerHello:
      w.u16(msg.legacyVersion).bytes(msg.random).vector(1, msg.legacySessionIdEcho)
      w.u16(msg.cipherSuite).u8(msg.legacyCompressionMethod)
      writeExtensions(w, msg.extensions)
      break
    case HandshakeType.EncryptedExtensions:
      writeExtensions(w, msg.extensions)
      break
    case HandshakeType.CertificateRequest:
      w.vector(1, msg.context)
      writeExtensions(w, msg.extensions)
      break
    case HandshakeType.Certificate:
      w.vector(1, msg.context)
      w.nested(3, x => {
        for (const e of msg.entries) {
          x.vector(3, e.data)
          writeExtensions(x, e.extensions)
        }
      })
      break
    case HandshakeType.CertificateVerify:
      w.u16(msg.algorithm).vector(2, msg.signature)
      break
    case HandshakeType.Finished:
      w.bytes(msg.verifyData)
      break
    case HandshakeType.KeyUpdate:
      w.u8(msg.requestUpdate)
      break
    case HandshakeType.NewSessionTicket:
      w.u16(msg.lifetime >>> 16).u16(msg.lifetime & 0xffff).u16(msg.ageAdd >>> 16).u16(msg.ageAdd & 0xffff)
      w.vector(1, msg.nonce).vector(2, msg.ticket)
      writeExtensions(w, msg.extensions)
      break
  }
  return w.finish()
}

/** `Handshake { msg_type; uint24 length; body }` (§4). */
export function encodeHandshake (msg: HandshakeMessage): Uint8Array {
  const b = body(msg)
  const out = new Uint8Array(HANDSHAKE_HEADER_LENGTH + b.length)
  out[0] = msg.type
  out[1] = (b.length >>> 16) & 0xff
  out[2] = (b.length >>> 8) & 0xff
  out[3] = b.length & 0xff
  out.set(b, HANDSHAKE_HEADER_LENGTH)
  return out
}

/** Parse one handshake body of `type`. `hashLength` sizes Finished.verify_data. */
export function decodeHandshakeBody (type: number, data: Uint8Array, hashLength = 32): HandshakeMessage {
  const r = new Reader(data, handshakeTypeName(type))
  let msg: HandshakeMessage
  switch (type) {
    case HandshakeType.ClientHello: {
      const legacyVersion = r.u16('legacy_version')
      const random = r.bytes(32, 'random')
      const legacySessionId = r.vector(1, 'legacy_session_id')
      if (legacySessionId.length > 32) {
        throw decodeError(r.what, `"legacy_session_id" expected <= 32 bytes, got ${legacySessionId.length}`)
      }
      const cipherSuites = r.u16List(2, 'cipher_suites')
      const legacyCompressionMethods = r.vector(1, 'legacy_compression_methods', 1)
      const extensions = readExtensions(r)
      msg = { type, legacyVersion, random, legacySessionId, cipherSuites, legacyCompressionMethods, extensions }
      break
    }
    case HandshakeType.ServerHello: {
      const legacyVersion = r.u16('legacy_version')
      const random = r.bytes(32, 'random')
      const legacySessionIdEcho = r.vector(1, 'legacy_session_id_echo')
      if (legacySessionIdEcho.length > 32) {
        throw decodeError(r.what, `"legacy_session_id_echo" expected <= 32 bytes, got ${legacySessionIdEcho.length}`)
      }
      const cipherSuite = r.u16('cipher_suite')
      const legacyCompressionMethod = r.u8('legacy_compression_method')
      const extensions = readExtensions(r)
      msg = { type, legacyVersion, random, legacySessionIdEcho, cipherSuite, legacyCompressionMethod, extensions }
      break
    }
    case HandshakeType.EncryptedExtensions:
      msg = { type, extensions: readExtensions(r) }
      break
    case HandshakeType.CertificateRequest: {
      const context = r.vector(1, 'certificate_request_context')
      msg = { type, context, extensions: readExtensions(r) }
      break
    }
    case HandshakeType.Certificate: {
      const context = r.vector(1, 'certificate_request_context')
      const list = r.sub(3, 'certificate_list')
      const entries: CertificateEntry[] = []
      while (list.remaining > 0) {
        const certData = list.vector(3, 'cert_data', 1)
        entries.push({ data: certData, extensions: readExtensions(list) })
      }
      msg = { type, context, entries }
      break
    }
    case HandshakeType.CertificateVerify:
      msg = { type, algorithm: r.u16('algorithm'), signature: r.vector(2, 'signature', 1) }
      break
    case HandshakeType.Finished:
      msg = { type, verifyData: r.bytes(hashLength, 'verify_data') }
      break
    case HandshakeType.KeyUpdate: {
      const requestUpdate = r.u8('request_update')
      if (requestUpdate > 1) {
        throw tlsError(
          'ERR_TLS_ILLEGAL_PARAMETER',
          AlertDescription.illegal_parameter,
          `KeyUpdate: "request_update" expected 0 or 1, got ${requestUpdate}`
        )
      }
      msg = { type, requestUpdate }
      break
    }
    case HandshakeType.NewSessionTicket: {
      const lifetime = r.u16('ticket_lifetime') * 0x10000 + r.u16('ticket_lifetime')
      const ageAdd = r.u16('ticket_age_add') * 0x10000 + r.u16('ticket_age_add')
      const nonce = r.vector(1, 'ticket_nonce')
      const ticket = r.vector(2, 'ticket', 1)
      msg = { type, lifetime, ageAdd, nonce, ticket, extensions: readExtensions(r) }
      break
    }
    default:
      throw tlsError(
        'ERR_TLS_UNEXPECTED_MESSAGE',
        AlertDescription.unexpected_message,
        `handshake message type ${type} is not one TLS 1.3 sends`
      )
  }
  r.done()
  return msg
}

/** Alert (§6): level ‖ description. */
export function encodeAlert (level: number, description: number): Uint8Array {
  return Uint8Array.of(level, description)
}

export function decodeAlert (data: Uint8Array): { level: number, description: number } {
  const r = new Reader(data, 'Alert')
  const level = r.u8('level')
  const description = r.u8('description')
  r.done()
  return { level, description }
}
