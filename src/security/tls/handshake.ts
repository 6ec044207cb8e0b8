/**
 * The TLS 1.3 handshake (RFC 8446 §4) as a synchronous sans-I/O machine, for both roles. It deals
 * in handshake messages per encryption level and knows nothing of records, sockets or timers, so
 * two transports share it:
 *
 *  - TCP: record-layer.ts wraps it in TLS records (RFC 8446 §5);
 *  - QUIC: RFC 9001 §4 carries the same messages in CRYPTO frames, one packet number space per level.
 *
 * Interface (stable; QUIC codes against it):
 *
 *   const hs = new TlsHandshake(config)          // config.role 'client' | 'server'
 *   hs.start()                → TlsAction[]       // client: ClientHello at 'initial'; server: []
 *   hs.receive(level, bytes)  → TlsAction[]       // handshake bytes received at `level` (any split)
 *   hs.readLevel                                  // the level the next inbound message must arrive at
 *   hs.keyUpdate(requestPeer) → TlsAction[]       // TCP only (RFC 9001 §6 forbids KeyUpdate in QUIC)
 *
 *   TlsAction, in the order they must be applied:
 *     { type: 'message', level, data }            send `data` (one handshake message) at `level`
 *     { type: 'secrets', level, clientSecret, serverSecret, suite }
 *                                                 keys for 'handshake' / 'application' are ready:
 *                                                 install both directions of that level (QUIC: RFC 9001
 *                                                 §5; TCP: the record layer writes the following
 *                                                 messages with them, and reads with them once
 *                                                 `readLevel` has moved there)
 *     { type: 'write-secret' | 'read-secret', secret }   KeyUpdate: next application secret (§7.2)
 *     { type: 'complete', result }                handshake done; the peer is authenticated
 *
 * Extra extensions (`config.extensions`: a client's go into ClientHello, a server's into
 * EncryptedExtensions — QUIC's quic_transport_parameters) pass through untouched, and the peer's
 * are on the result (`peerExtensions`). ALPN: `config.alpn` (client: offered, in order; server:
 * accepted, in preference order). Randomness and ephemeral keys are injectable (`randomBytes`,
 * `keyShare`) so RFC 8448 replays byte for byte. Every bad input throws a TlsError carrying the
 * alert to send; after a throw the machine is dead.
 *
 * Not implemented (libp2p needs none): PSK, resumption, 0-RTT, SNI, TLS ≤ 1.2.
 */
import type crypto from 'node:crypto'
import { concatBytes } from '../../codec/bytes.js'
import { TlsError } from '../../errors.js'
import {
  AlertDescription,
  CipherSuite,
  ExtensionType,
  HANDSHAKE_HEADER_LENGTH,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  KeyUpdateRequest,
  LEGACY_VERSION,
  NamedGroup,
  SignatureScheme,
  TLS13,
  DEFAULT_MAX_CERTIFICATE_BYTES,
  DEFAULT_MAX_HANDSHAKE_MESSAGE_BYTES
} from './constants.js'
import { finishedVerifyData, KeySchedule, nextTrafficSecret, suiteParams, Transcript } from './key-schedule.js'
import type { SuiteParams } from './key-schedule.js'
import {
  alpn as alpnCodec,
  cookie as cookieCodec,
  decodeHandshakeBody,
  encodeHandshake,
  findExtension,
  handshakeTypeName,
  keyShare as keyShareCodec,
  supportedVersions,
  u16ListExtension
} from './messages.js'
import type {
  Certificate,
  CertificateRequest,
  ClientHello,
  Extension,
  HandshakeMessage,
  ServerHello
} from './messages.js'
import { generateKeyShare, schemeFitsKey, schemeForKey, signWithScheme, verifyWithScheme } from './primitives.js'
import type { KeyShare } from './primitives.js'
import { tlsError } from './wire.js'

export type EncryptionLevel = 'initial' | 'handshake' | 'application'

/** Our certificate chain (libp2p: exactly one self-signed certificate) and its private key. */
export interface TlsCredential {
  chain: readonly Uint8Array[]
  privateKey: crypto.KeyObject
}

/** What the certificate verifier returns: the key CertificateVerify must verify with, plus its own findings. */
export interface PeerCertificate<T> {
  publicKey: crypto.KeyObject
  info: T
}

/** A handshake message crossing the machine, for traces. */
export interface TlsMessageTrace {
  dir: 'in' | 'out'
  level: EncryptionLevel
  message: HandshakeMessage
  /** The encoded message (header ‖ body). */
  bytes: Uint8Array
}

export interface TlsHandshakeConfig<T> {
  role: 'client' | 'server'
  /** Server: required. Client: sent when the server asks (an empty Certificate otherwise). */
  credential?: TlsCredential
  /** Checks the peer's chain (throw a TlsError to refuse); not called for an empty client chain. */
  verifyPeer: (chain: readonly Uint8Array[]) => PeerCertificate<T>
  /** Server: send CertificateRequest and refuse a client without a certificate (libp2p tls.md: MUST). */
  requireClientCertificate?: boolean
  /** Preference order. Default: AES-128-GCM, ChaCha20-Poly1305, AES-256-GCM. */
  cipherSuites?: readonly number[]
  /** supported_groups, in preference order (unknown values are only advertised). Default x25519, secp256r1. */
  groups?: readonly number[]
  /** Client: groups the first ClientHello carries a key share for. Default: the first group. */
  keyShareGroups?: readonly NamedGroup[]
  /** Schemes accepted from the peer (signature_algorithms). */
  signatureSchemes?: readonly number[]
  /**
   * Client: protocols offered. Server: protocols accepted, in preference order (none shared → no_application_protocol).
   */
  alpn?: readonly string[]
  /** Client: extra ClientHello extensions. Server: extra EncryptedExtensions. */
  extensions?: readonly Extension[]
  /**
   * Client: extensions the second ClientHello (after a HelloRetryRequest) adds to `extensions` —
   * e.g. RFC 7685 padding, which NSS adds to a ClientHello longer than 256 bytes (the RFC 8448 §5 trace).
   */
  retryExtensions?: readonly Extension[]
  /** Client: the order of ClientHello extensions by type (vectors); others follow in their default order. */
  extensionOrder?: readonly number[]
  /** Client: legacy_session_id (RFC 8446 §4.1.2: empty unless in middlebox compatibility mode; QUIC: empty). */
  legacySessionId?: Uint8Array
  /** RFC 9001: KeyUpdate and NewSessionTicket handling differ. */
  quic?: boolean
  randomBytes?: (length: number) => Uint8Array
  keyShare?: (group: NamedGroup) => KeyShare
  maxHandshakeMessageBytes?: number
  maxCertificateBytes?: number
  /** Called for every handshake message in and out (trace hook; no cost when absent). */
  onMessage?: (trace: TlsMessageTrace) => void
}

export interface TlsHandshakeResult<T> {
  cipherSuite: CipherSuite
  group: NamedGroup
  /** The ALPN protocol agreed, if any. */
  alpn: string | undefined
  /** Undefined only for a server that did not require a client certificate and got none. */
  peer: PeerCertificate<T> | undefined
  /** The peer's extensions: a server's EncryptedExtensions, or a client's ClientHello. */
  peerExtensions: readonly Extension[]
  helloRetry: boolean
}

export type TlsAction<T = unknown> =
  | { type: 'message', level: EncryptionLevel, data: Uint8Array }
  | {
    type: 'secrets',
    level: 'handshake' | 'application',
    clientSecret: Uint8Array,
    serverSecret: Uint8Array,
    suite: SuiteParams
  }
  | { type: 'write-secret', secret: Uint8Array }
  | { type: 'read-secret', secret: Uint8Array }
  | { type: 'complete', result: TlsHandshakeResult<T> }

/** The `secrets` action of a level: both directions' traffic secrets (RFC 8446 §7.1). */
function secretsAction<T> (
  level: 'handshake' | 'application',
  secrets: { client: Uint8Array, server: Uint8Array },
  suite: SuiteParams
): TlsAction<T> {
  return { type: 'secrets', level, clientSecret: secrets.client, serverSecret: secrets.server, suite }
}

export const DEFAULT_CIPHER_SUITES: readonly number[] = [
  CipherSuite.TLS_AES_128_GCM_SHA256,
  CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
  CipherSuite.TLS_AES_256_GCM_SHA384
]
export const DEFAULT_GROUPS: readonly number[] = [NamedGroup.x25519, NamedGroup.secp256r1]
export const DEFAULT_SIGNATURE_SCHEMES: readonly number[] = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512
]

const IMPLEMENTED_GROUPS = new Set<number>([NamedGroup.x25519, NamedGroup.secp256r1])

type State =
  | 'start'
  | 'wait-server-hello'
  | 'wait-encrypted-extensions'
  | 'wait-certificate-or-request'
  | 'wait-certificate'
  | 'wait-certificate-verify'
  | 'wait-finished'
  | 'wait-client-hello'
  | 'wait-client-certificate'
  | 'wait-client-certificate-verify'
  | 'wait-client-finished'
  | 'connected'
  | 'failed'

const encoder = new TextEncoder()
const SERVER_CV_CONTEXT = encoder.encode('TLS 1.3, server CertificateVerify')
const CLIENT_CV_CONTEXT = encoder.encode('TLS 1.3, client CertificateVerify')

/** RFC 8446 §4.4.3: 64 × 0x20 ‖ context string ‖ 0x00 ‖ Transcript-Hash. */
export function certificateVerifyContent (server: boolean, transcriptHash: Uint8Array): Uint8Array {
  const ctx = server ? SERVER_CV_CONTEXT : CLIENT_CV_CONTEXT
  const out = new Uint8Array(64 + ctx.length + 1 + transcriptHash.length)
  out.fill(0x20, 0, 64)
  out.set(ctx, 64)
  out.set(transcriptHash, 64 + ctx.length + 1)
  return out
}

function unexpected (what: string): TlsError {
  return tlsError('ERR_TLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, what)
}
function illegal (what: string): TlsError {
  return tlsError('ERR_TLS_ILLEGAL_PARAMETER', AlertDescription.illegal_parameter, what)
}
function missing (what: string): TlsError {
  return tlsError('ERR_TLS_MISSING_EXTENSION', AlertDescription.missing_extension, what)
}
function handshakeFailure (what: string): TlsError {
  return tlsError('ERR_TLS_HANDSHAKE_FAILURE', AlertDescription.handshake_failure, what)
}
function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number)
  return d === 0
}
function hexOf (n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`
}

export class TlsHandshake<T = unknown> {
  private readonly config: TlsHandshakeConfig<T>
  private readonly isClient: boolean
  private state: State = 'start'
  private readonly cipherSuites: readonly number[]
  private readonly groups: readonly number[]
  private readonly schemes: readonly number[]
  private readonly maxMessage: number
  private readonly maxCertificate: number
  private readonly randomBytes: (n: number) => Uint8Array
  private readonly makeKeyShare: (group: NamedGroup) => KeyShare
  private readonly transcript = new Transcript()

  /** Inbound bytes of a message not yet complete, and the level they came at. */
  private buffer: Uint8Array = new Uint8Array(0)
  private bufferLevel: EncryptionLevel = 'initial'
  private level: EncryptionLevel = 'initial'

  // negotiated
  private params: SuiteParams | undefined
  private schedule: KeySchedule | undefined
  private group: NamedGroup | undefined
  private helloRetry = false
  private selectedAlpn: string | undefined
  private peer: PeerCertificate<T> | undefined
  private peerExtensions: readonly Extension[] = []
  private handshakeSecrets: { client: Uint8Array, server: Uint8Array } | undefined
  private applicationSecrets: { client: Uint8Array, server: Uint8Array } | undefined

  // client
  private random: Uint8Array | undefined
  private sessionId: Uint8Array = new Uint8Array(0)
  private shares: KeyShare[] = []
  private certificateRequest: CertificateRequest | undefined
  private clientHelloExtensions: Extension[] = []
  // server
  private clientSessionId: Uint8Array = new Uint8Array(0)
  private clientSchemes: number[] = []
  private requestedClientCert = false

  /** The ClientHello random (keys the NSS key log). */
  clientRandom: Uint8Array | undefined

  constructor (config: TlsHandshakeConfig<T>) {
    this.config = config
    this.isClient = config.role === 'client'
    this.cipherSuites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES
    this.groups = config.groups ?? DEFAULT_GROUPS
    this.schemes = config.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES
    this.maxMessage = config.maxHandshakeMessageBytes ?? DEFAULT_MAX_HANDSHAKE_MESSAGE_BYTES
    this.maxCertificate = config.maxCertificateBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES
    this.randomBytes = config.randomBytes ??
      ((n) => new Uint8Array(globalThis.crypto.getRandomValues(new Uint8Array(n))))
    this.makeKeyShare = config.keyShare ?? ((g) => generateKeyShare(g))
    if (this.cipherSuites.length === 0 || this.cipherSuites.some(s => suiteParams(s) === undefined)) {
      throw new RangeError('"cipherSuites" expected a non-empty list of TLS 1.3 suites')
    }
    if (!this.isClient && config.credential === undefined) throw new TypeError('a TLS server needs a "credential"')
    if (!this.groups.some(g => IMPLEMENTED_GROUPS.has(g))) {
      throw new RangeError('"groups" expected x25519 and/or secp256r1')
    }
  }

  /** The level the next inbound handshake message must arrive at. */
  get readLevel (): EncryptionLevel {
    return this.level
  }

  get complete (): boolean {
    return this.state === 'connected'
  }

  get suite (): SuiteParams | undefined {
    return this.params
  }

  start (): Array<TlsAction<T>> {
    if (this.state !== 'start') throw new Error('TlsHandshake.start called twice')
    if (!this.isClient) {
      this.state = 'wait-client-hello'
      return []
    }
    const out: Array<TlsAction<T>> = []
    this.random = this.randomBytes(32)
    this.clientRandom = this.random
    this.sessionId = this.config.legacySessionId ?? new Uint8Array(0)
    const shareGroups = this.config.keyShareGroups ?? [this.groups.find(g => IMPLEMENTED_GROUPS.has(g)) as NamedGroup]
    this.shares = shareGroups.map(g => this.makeKeyShare(g))
    this.sendClientHello(out, undefined)
    this.state = 'wait-server-hello'
    return out
  }

  private sendClientHello (out: Array<TlsAction<T>>, cookie: Uint8Array | undefined): void {
    const c = this.config
    const exts: Extension[] = [
      { type: ExtensionType.SupportedVersions, data: supportedVersions.encodeClient([TLS13]) },
      { type: ExtensionType.SupportedGroups, data: u16ListExtension.encode(this.groups) },
      { type: ExtensionType.SignatureAlgorithms, data: u16ListExtension.encode(this.schemes) },
      {
        type: ExtensionType.KeyShare,
        data: keyShareCodec.encodeClient(this.shares.map(s => ({ group: s.group, keyExchange: s.publicKey })))
      }
    ]
    if (c.alpn !== undefined && c.alpn.length > 0) {
      exts.push({ type: ExtensionType.ApplicationLayerProtocolNegotiation, data: alpnCodec.encode(c.alpn) })
    }
    if (cookie !== undefined) exts.push({ type: ExtensionType.Cookie, data: cookieCodec.encode(cookie) })
    for (const e of c.extensions ?? []) exts.push(e)
    if (this.helloRetry) { for (const e of c.retryExtensions ?? []) exts.push(e) }
    const order = c.extensionOrder
    if (order !== undefined) {
      const rank = (t: number): number => {
        const i = order.indexOf(t)
        return i < 0 ? order.length : i
      }
      exts.sort((a, b) => rank(a.type) - rank(b.type))
    }
    this.clientHelloExtensions = exts
    const ch: ClientHello = {
      type: HandshakeType.ClientHello,
      legacyVersion: LEGACY_VERSION,
      random: this.random as Uint8Array,
      legacySessionId: this.sessionId,
      cipherSuites: [...this.cipherSuites],
      legacyCompressionMethods: Uint8Array.of(0),
      extensions: exts
    }
    this.send(out, 'initial', ch)
  }

  receive (level: EncryptionLevel, data: Uint8Array): Array<TlsAction<T>> {
    if (this.state === 'failed') throw unexpected('handshake data after a failure')
    if (this.state === 'start') throw new Error('TlsHandshake.receive before start')
    const out: Array<TlsAction<T>> = []
    try {
      if (level !== this.level) {
        throw unexpected(`handshake data at level ${level}, expected ${this.level}`)
      }
      if (this.buffer.length > 0 && this.bufferLevel !== level) {
        throw unexpected('a handshake message spans a key change (RFC 8446 §5.1)')
      }
      this.bufferLevel = level
      this.buffer = this.buffer.length === 0 ? data : concatBytes([this.buffer, data])
      while (this.buffer.length >= HANDSHAKE_HEADER_LENGTH) {
        const b = this.buffer
        const type = b[0] as number
        const length = ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)
        // Limit checked at header time, before the body is buffered.
        if (length > this.maxMessage) {
          throw new TlsError(
            'ERR_TLS_MESSAGE_TOO_LARGE',
            `"${handshakeTypeName(type)} length" expected <= ${this.maxMessage}, got ${length}`,
            AlertDescription.decode_error
          )
        }
        if (b.length < HANDSHAKE_HEADER_LENGTH + length) break
        const raw = b.subarray(0, HANDSHAKE_HEADER_LENGTH + length)
        this.buffer = b.subarray(HANDSHAKE_HEADER_LENGTH + length)
        const before = this.level
        this.handle(out, level, type, raw)
        if (this.level !== before && this.buffer.length > 0) {
          throw unexpected('a handshake message spans a key change (RFC 8446 §5.1)')
        }
      }
      if (this.buffer.length > 0 && this.buffer.length < HANDSHAKE_HEADER_LENGTH) {
        this.buffer = Uint8Array.from(this.buffer)
      }
    } catch (err) {
      this.state = 'failed'
      throw err
    }
    return out
  }

  /** Send a KeyUpdate (RFC 8446 §4.6.3); our write key moves on right after it. */
  keyUpdate (requestPeer: boolean): Array<TlsAction<T>> {
    if (this.state !== 'connected' || this.config.quic === true) {
      throw new Error('KeyUpdate only on a connected TLS-over-TCP session')
    }
    const out: Array<TlsAction<T>> = []
    this.sendKeyUpdate(out, requestPeer ? KeyUpdateRequest.update_requested : KeyUpdateRequest.update_not_requested)
    return out
  }

  private sendKeyUpdate (out: Array<TlsAction<T>>, request: KeyUpdateRequest): void {
    const params = this.params as SuiteParams
    const secrets = this.applicationSecrets as { client: Uint8Array, server: Uint8Array }
    this.sendRaw(out, 'application', { type: HandshakeType.KeyUpdate, requestUpdate: request }, false)
    if (this.isClient) secrets.client = nextTrafficSecret(params, secrets.client)
    else secrets.server = nextTrafficSecret(params, secrets.server)
    out.push({ type: 'write-secret', secret: this.isClient ? secrets.client : secrets.server })
  }

  private send (out: Array<TlsAction<T>>, level: EncryptionLevel, msg: HandshakeMessage): Uint8Array {
    return this.sendRaw(out, level, msg, true)
  }

  /** CertificateVerify (RFC 8446 §4.4.3): our signature over the transcript so far, in our role's context. */
  private sendCertificateVerify (out: Array<TlsAction<T>>, scheme: number, key: crypto.KeyObject): void {
    const content = certificateVerifyContent(!this.isClient, this.transcript.current())
    this.send(out, 'handshake', {
      type: HandshakeType.CertificateVerify,
      algorithm: scheme,
      signature: signWithScheme(scheme, key, content)
    })
  }

  /** Finished (RFC 8446 §4.4.4): the MAC of the transcript under our handshake traffic secret. */
  private sendFinished (out: Array<TlsAction<T>>, params: SuiteParams, baseKey: Uint8Array): void {
    this.send(out, 'handshake', {
      type: HandshakeType.Finished,
      verifyData: finishedVerifyData(params, baseKey, this.transcript.current())
    })
  }

  private sendRaw (
    out: Array<TlsAction<T>>,
    level: EncryptionLevel,
    msg: HandshakeMessage,
    transcript: boolean
  ): Uint8Array {
    const data = encodeHandshake(msg)
    if (transcript) this.transcript.update(data)
    out.push({ type: 'message', level, data })
    this.config.onMessage?.({ dir: 'out', level, message: msg, bytes: data })
    return data
  }

  private decode (type: number, raw: Uint8Array): HandshakeMessage {
    return decodeHandshakeBody(type, raw.subarray(HANDSHAKE_HEADER_LENGTH), this.params?.hashLength ?? 32)
  }

  private handle (out: Array<TlsAction<T>>, level: EncryptionLevel, type: number, raw: Uint8Array): void {
    const msg = this.decode(type, raw)
    this.config.onMessage?.({ dir: 'in', level, message: msg, bytes: raw })
    if (this.state === 'connected') {
      this.postHandshake(out, msg)
      return
    }
    const expect = (t: HandshakeType): void => {
      if (msg.type !== t) {
        throw unexpected(`expected ${HandshakeType[t]} in state ${this.state}, got ${handshakeTypeName(msg.type)}`)
      }
    }
    switch (this.state) {
      // ── client ──
      case 'wait-server-hello':
        expect(HandshakeType.ServerHello)
        this.onServerHello(out, msg as ServerHello, raw)
        return
      case 'wait-encrypted-extensions': {
        expect(HandshakeType.EncryptedExtensions)
        this.transcript.update(raw)
        const exts = (msg as { extensions: Extension[] }).extensions
        this.peerExtensions = exts
        const a = findExtension(exts, ExtensionType.ApplicationLayerProtocolNegotiation)
        if (a !== undefined) {
          const names = alpnCodec.decode(a)
          const offered = this.config.alpn ?? []
          if (names.length !== 1 || !offered.includes(names[0] as string)) {
            throw illegal(
              `ALPN: the server selected ${JSON.stringify(names)}, we offered ${
                JSON.stringify(offered)
              } (RFC 7301 §3.1: exactly one offered protocol)`
            )
          }
          this.selectedAlpn = names[0]
        }
        this.state = 'wait-certificate-or-request'
        return
      }
      case 'wait-certificate-or-request':
        if (msg.type === HandshakeType.CertificateRequest) {
          this.transcript.update(raw)
          if (msg.context.length !== 0) {
            throw illegal(
              'CertificateRequest: certificate_request_context must be empty in the handshake (RFC 8446 §4.3.2)'
            )
          }
          if (findExtension(msg.extensions, ExtensionType.SignatureAlgorithms) === undefined) {
            throw missing('CertificateRequest without signature_algorithms (RFC 8446 §4.3.2)')
          }
          this.certificateRequest = msg
          this.state = 'wait-certificate'
          return
        }
        expect(HandshakeType.Certificate)
        this.onPeerCertificate(msg as Certificate, raw)
        return
      case 'wait-certificate':
      case 'wait-client-certificate':
        expect(HandshakeType.Certificate)
        this.onPeerCertificate(msg as Certificate, raw)
        return
      case 'wait-certificate-verify':
      case 'wait-client-certificate-verify':
        expect(HandshakeType.CertificateVerify)
        this.onPeerCertificateVerify(
          msg as { type: HandshakeType.CertificateVerify, algorithm: number, signature: Uint8Array },
          raw
        )
        return
      case 'wait-finished':
        expect(HandshakeType.Finished)
        this.onServerFinished(out, (msg as { verifyData: Uint8Array }).verifyData, raw)
        return
      // ── server ──
      case 'wait-client-hello':
        expect(HandshakeType.ClientHello)
        this.onClientHello(out, msg as ClientHello, raw)
        return
      case 'wait-client-finished':
        expect(HandshakeType.Finished)
        this.onClientFinished(out, (msg as { verifyData: Uint8Array }).verifyData, raw)
        return
      default:
        throw unexpected(`${handshakeTypeName(msg.type)} in state ${this.state}`)
    }
  }

  // ── client side ─────────────────────────────────────────────────────────────────────────────

  private onServerHello (out: Array<TlsAction<T>>, sh: ServerHello, raw: Uint8Array): void {
    const sv = findExtension(sh.extensions, ExtensionType.SupportedVersions)
    if (sv === undefined) {
      throw tlsError(
        'ERR_TLS_PROTOCOL_VERSION',
        AlertDescription.protocol_version,
        `the server chose legacy version ${
          hexOf(sh.legacyVersion)
        } without supported_versions: TLS 1.3 only (tls.md: MUST NOT negotiate lower versions)`
      )
    }
    const version = supportedVersions.decodeServer(sv)
    if (version !== TLS13) {
      throw illegal(
        `supported_versions: the server selected ${hexOf(version)}, we offered only 0x0304 (RFC 8446 §4.2.1)`
      )
    }
    if (!bytesEqual(sh.legacySessionIdEcho, this.sessionId)) {
      throw illegal('ServerHello: legacy_session_id_echo differs from our legacy_session_id (RFC 8446 §4.1.3)')
    }
    if (sh.legacyCompressionMethod !== 0) {
      throw illegal(`ServerHello: legacy_compression_method expected 0, got ${sh.legacyCompressionMethod}`)
    }
    if (!this.cipherSuites.includes(sh.cipherSuite)) {
      throw illegal(`ServerHello: cipher_suite ${hexOf(sh.cipherSuite)} was not offered`)
    }
    if (this.params !== undefined && this.params.suite !== sh.cipherSuite) {
      throw illegal('ServerHello: cipher_suite differs from the HelloRetryRequest one (RFC 8446 §4.1.4)')
    }
    for (const e of sh.extensions) {
      if (
        e.type !== ExtensionType.SupportedVersions && e.type !== ExtensionType.KeyShare &&
        e.type !== ExtensionType.Cookie && e.type !== ExtensionType.PreSharedKey
      ) {
        throw tlsError(
          'ERR_TLS_ILLEGAL_PARAMETER',
          AlertDescription.unsupported_extension,
          `ServerHello: extension ${e.type} was not offered / is not allowed there (RFC 8446 §4.2)`
        )
      }
    }
    const params = suiteParams(sh.cipherSuite) as SuiteParams
    this.params = params
    this.transcript.setHash(params.hash)

    if (bytesEqual(sh.random, HELLO_RETRY_REQUEST_RANDOM)) {
      // RFC 8446 §4.1.4 HelloRetryRequest.
      if (this.helloRetry) throw unexpected('a second HelloRetryRequest (RFC 8446 §4.1.4)')
      this.helloRetry = true
      const ks = findExtension(sh.extensions, ExtensionType.KeyShare)
      if (ks === undefined) throw illegal('HelloRetryRequest without key_share: we have nothing to change')
      const group = keyShareCodec.decodeRetry(ks)
      if (!this.groups.includes(group) || !IMPLEMENTED_GROUPS.has(group)) {
        throw illegal(`HelloRetryRequest: selected_group ${hexOf(group)} was not offered`)
      }
      if (this.shares.some(s => s.group === group)) {
        throw illegal(`HelloRetryRequest: selected_group ${hexOf(group)} already had a key share (RFC 8446 §4.2.8)`)
      }
      const c = findExtension(sh.extensions, ExtensionType.Cookie)
      this.transcript.replaceWithMessageHash()
      this.transcript.update(raw)
      this.shares = [this.makeKeyShare(group as NamedGroup)]
      this.sendClientHello(out, c === undefined ? undefined : cookieCodec.decode(c))
      return
    }
    const ks = findExtension(sh.extensions, ExtensionType.KeyShare)
    if (ks === undefined) throw missing('ServerHello without key_share (we do no PSK)')
    const entry = keyShareCodec.decodeServer(ks)
    const share = this.shares.find(s => s.group === entry.group)
    if (share === undefined) {
      throw illegal(`ServerHello: key_share group ${hexOf(entry.group)} is not one we sent a share for`)
    }
    this.group = share.group
    const shared = share.computeSharedSecret(entry.keyExchange)
    this.transcript.update(raw)
    this.schedule = new KeySchedule(params)
    this.handshakeSecrets = this.schedule.handshake(shared, this.transcript.current())
    out.push(secretsAction('handshake', this.handshakeSecrets, params))
    this.level = 'handshake'
    this.state = 'wait-encrypted-extensions'
  }

  private onPeerCertificate (msg: Certificate, raw: Uint8Array): void {
    this.transcript.update(raw)
    if (this.isClient) {
      if (msg.context.length !== 0) throw illegal('server Certificate: certificate_request_context must be empty')
      if (msg.entries.length === 0) {
        throw tlsError(
          'ERR_TLS_DECODE',
          AlertDescription.decode_error,
          'the server sent an empty Certificate (RFC 8446 §4.4.2.4)'
        )
      }
    } else if (msg.entries.length === 0) {
      if (this.config.requireClientCertificate === true) {
        throw tlsError(
          'ERR_TLS_CERTIFICATE_REQUIRED',
          AlertDescription.certificate_required,
          'the client sent no certificate (tls.md: servers MUST require client authentication)'
        )
      }
      this.state = 'wait-client-finished'
      return
    }
    for (const e of msg.entries) {
      if (e.data.length > this.maxCertificate) {
        throw new TlsError(
          'ERR_TLS_MESSAGE_TOO_LARGE',
          `"certificate" expected <= ${this.maxCertificate} bytes, got ${e.data.length}`,
          AlertDescription.bad_certificate
        )
      }
    }
    this.peer = this.config.verifyPeer(msg.entries.map(e => e.data))
    this.state = this.isClient ? 'wait-certificate-verify' : 'wait-client-certificate-verify'
  }

  private onPeerCertificateVerify (msg: { algorithm: number, signature: Uint8Array }, raw: Uint8Array): void {
    const peer = this.peer as PeerCertificate<T>
    const accepted = this.isClient ? this.schemes : this.schemes
    if (!accepted.includes(msg.algorithm) || !schemeFitsKey(msg.algorithm, peer.publicKey)) {
      throw illegal(
        `CertificateVerify: scheme ${hexOf(msg.algorithm)} was not offered or does not fit the ${
          peer.publicKey.asymmetricKeyType ?? '?'
        } certificate key (RFC 8446 §4.4.3)`
      )
    }
    const content = certificateVerifyContent(this.isClient, this.transcript.current())
    if (!verifyWithScheme(msg.algorithm, peer.publicKey, content, msg.signature)) {
      throw tlsError(
        'ERR_TLS_DECRYPT_ERROR',
        AlertDescription.decrypt_error,
        `CertificateVerify: the ${
          SignatureScheme[msg.algorithm] ?? hexOf(msg.algorithm)
        } signature does not verify (RFC 8446 §4.4.3)`
      )
    }
    this.transcript.update(raw)
    this.state = this.isClient ? 'wait-finished' : 'wait-client-finished'
  }

  private checkFinished (verifyData: Uint8Array, baseKey: Uint8Array, who: string): void {
    const expected = finishedVerifyData(this.params as SuiteParams, baseKey, this.transcript.current())
    if (!bytesEqual(expected, verifyData)) {
      throw tlsError(
        'ERR_TLS_DECRYPT_ERROR',
        AlertDescription.decrypt_error,
        `${who} Finished: verify_data does not match the transcript (RFC 8446 §4.4.4)`
      )
    }
  }

  private onServerFinished (out: Array<TlsAction<T>>, verifyData: Uint8Array, raw: Uint8Array): void {
    if (this.peer === undefined) throw unexpected('server Finished before its Certificate')
    const params = this.params as SuiteParams
    const hs = this.handshakeSecrets as { client: Uint8Array, server: Uint8Array }
    this.checkFinished(verifyData, hs.server, 'server')
    this.transcript.update(raw)
    this.applicationSecrets = (this.schedule as KeySchedule).application(this.transcript.current())
    // Our second flight, at the handshake level.
    const cr = this.certificateRequest
    if (cr !== undefined) {
      const cred = this.config.credential
      this.send(out, 'handshake', {
        type: HandshakeType.Certificate,
        context: cr.context,
        entries: (cred?.chain ?? []).map(data => ({ data, extensions: [] }))
      })
      if (cred !== undefined && cred.chain.length > 0) {
        const wanted = u16ListExtension.decode(
          findExtension(cr.extensions, ExtensionType.SignatureAlgorithms) as Uint8Array,
          'signature_algorithms'
        )
        const scheme = schemeForKey(cred.privateKey)
        if (scheme === undefined || !wanted.includes(scheme)) {
          throw handshakeFailure(
            `the server accepts none of our certificate's signature schemes (it offered ${
              wanted.map(hexOf).join(', ')
            })`
          )
        }
        this.sendCertificateVerify(out, scheme, cred.privateKey)
      }
    }
    this.sendFinished(out, params, hs.client)
    out.push(secretsAction('application', this.applicationSecrets, params))
    this.level = 'application'
    this.finish(out)
  }

  // ── server side ─────────────────────────────────────────────────────────────────────────────

  private onClientHello (out: Array<TlsAction<T>>, ch: ClientHello, raw: Uint8Array): void {
    const sv = findExtension(ch.extensions, ExtensionType.SupportedVersions)
    if (sv === undefined || !supportedVersions.decodeClient(sv).includes(TLS13)) {
      throw tlsError(
        'ERR_TLS_PROTOCOL_VERSION',
        AlertDescription.protocol_version,
        'the client does not offer TLS 1.3 (tls.md: MUST NOT negotiate lower versions)'
      )
    }
    if (ch.legacyCompressionMethods.length !== 1 || ch.legacyCompressionMethods[0] !== 0) {
      throw illegal('ClientHello: legacy_compression_methods must be exactly [0] (RFC 8446 §4.1.2)')
    }
    if (this.helloRetry && !bytesEqual(ch.legacySessionId, this.clientSessionId)) {
      throw illegal('second ClientHello changed legacy_session_id')
    }
    this.clientSessionId = ch.legacySessionId

    let params = this.params
    if (params === undefined) {
      const suite = this.cipherSuites.find(s => ch.cipherSuites.includes(s))
      if (suite === undefined) {
        throw handshakeFailure(`no cipher suite in common: the client offers ${ch.cipherSuites.map(hexOf).join(', ')}`)
      }
      params = suiteParams(suite) as SuiteParams
      this.params = params
      this.transcript.setHash(params.hash)
    } else if (!ch.cipherSuites.includes(params.suite)) {
      throw illegal('second ClientHello no longer offers the cipher suite of the HelloRetryRequest')
    }

    const sa = findExtension(ch.extensions, ExtensionType.SignatureAlgorithms)
    if (sa === undefined) throw missing('ClientHello without signature_algorithms (RFC 8446 §4.2.3)')
    this.clientSchemes = u16ListExtension.decode(sa, 'signature_algorithms')
    const sg = findExtension(ch.extensions, ExtensionType.SupportedGroups)
    const ks = findExtension(ch.extensions, ExtensionType.KeyShare)
    if (sg === undefined || ks === undefined) {
      throw missing('ClientHello without supported_groups / key_share (RFC 8446 §9.2)')
    }
    const clientGroups = u16ListExtension.decode(sg, 'supported_groups')
    const clientShares = keyShareCodec.decodeClient(ks)
    for (const s of clientShares) {
      if (!clientGroups.includes(s.group)) {
        throw illegal(`key_share for group ${hexOf(s.group)} that supported_groups does not list (RFC 8446 §4.2.8)`)
      }
    }
    const ours = this.groups.filter(g => IMPLEMENTED_GROUPS.has(g))
    const shareGroup = ours.find(g => clientShares.some(s => s.group === g))
    if (shareGroup === undefined) {
      const common = ours.find(g => clientGroups.includes(g))
      if (common === undefined) {
        throw handshakeFailure(
          `no key exchange group in common: the client supports ${clientGroups.map(hexOf).join(', ')}`
        )
      }
      if (this.helloRetry) {
        throw illegal(`second ClientHello has no key share for ${hexOf(this.group as number)} (RFC 8446 §4.1.2)`)
      }
      // RFC 8446 §4.1.4: HelloRetryRequest naming the group we want a share for.
      this.helloRetry = true
      this.group = common as NamedGroup
      this.transcript.update(raw)
      this.transcript.replaceWithMessageHash()
      this.send(out, 'initial', {
        type: HandshakeType.ServerHello,
        legacyVersion: LEGACY_VERSION,
        random: HELLO_RETRY_REQUEST_RANDOM,
        legacySessionIdEcho: ch.legacySessionId,
        cipherSuite: params.suite,
        legacyCompressionMethod: 0,
        extensions: [
          { type: ExtensionType.KeyShare, data: keyShareCodec.encodeRetry(common) },
          { type: ExtensionType.SupportedVersions, data: supportedVersions.encodeServer(TLS13) }
        ]
      })
      return
    }
    if (this.helloRetry && shareGroup !== this.group) {
      throw illegal('second ClientHello shares a group other than the one the HelloRetryRequest asked for')
    }
    this.group = shareGroup as NamedGroup

    // ALPN (RFC 7301 §3.2): our preference order; nothing in common → no_application_protocol.
    const a = findExtension(ch.extensions, ExtensionType.ApplicationLayerProtocolNegotiation)
    if (a !== undefined && this.config.alpn !== undefined && this.config.alpn.length > 0) {
      const offered = alpnCodec.decode(a)
      this.selectedAlpn = this.config.alpn.find(p => offered.includes(p))
      if (this.selectedAlpn === undefined) {
        throw tlsError(
          'ERR_TLS_NO_APPLICATION_PROTOCOL',
          AlertDescription.no_application_protocol,
          `ALPN: the client offers ${JSON.stringify(offered)}, we accept ${JSON.stringify(this.config.alpn)}`
        )
      }
    }
    const cred = this.config.credential as TlsCredential
    const ourScheme = schemeForKey(cred.privateKey)
    if (ourScheme === undefined || !this.clientSchemes.includes(ourScheme)) {
      throw handshakeFailure(
        `the client accepts none of our certificate's signature schemes (it offers ${
          this.clientSchemes.map(hexOf).join(', ')
        })`
      )
    }
    this.peerExtensions = ch.extensions
    this.clientRandom = ch.random
    this.transcript.update(raw)

    const share = this.makeKeyShare(shareGroup as NamedGroup)
    const peerShare = clientShares.find(s => s.group === shareGroup) as { keyExchange: Uint8Array }
    const shared = share.computeSharedSecret(peerShare.keyExchange)
    this.send(out, 'initial', {
      type: HandshakeType.ServerHello,
      legacyVersion: LEGACY_VERSION,
      random: this.randomBytes(32),
      legacySessionIdEcho: ch.legacySessionId,
      cipherSuite: params.suite,
      legacyCompressionMethod: 0,
      extensions: [
        {
          type: ExtensionType.KeyShare,
          data: keyShareCodec.encodeServer({ group: share.group, keyExchange: share.publicKey })
        },
        { type: ExtensionType.SupportedVersions, data: supportedVersions.encodeServer(TLS13) }
      ]
    })
    this.schedule = new KeySchedule(params)
    const hs = this.schedule.handshake(shared, this.transcript.current())
    this.handshakeSecrets = hs
    out.push(secretsAction('handshake', hs, params))
    this.level = 'handshake'

    const ee: Extension[] = []
    if (this.selectedAlpn !== undefined) {
      ee.push({ type: ExtensionType.ApplicationLayerProtocolNegotiation, data: alpnCodec.encode([this.selectedAlpn]) })
    }
    for (const e of this.config.extensions ?? []) ee.push(e)
    this.send(out, 'handshake', { type: HandshakeType.EncryptedExtensions, extensions: ee })
    this.requestedClientCert = this.config.requireClientCertificate === true
    if (this.requestedClientCert) {
      this.send(out, 'handshake', {
        type: HandshakeType.CertificateRequest,
        context: new Uint8Array(0),
        extensions: [{ type: ExtensionType.SignatureAlgorithms, data: u16ListExtension.encode(this.schemes) }]
      })
    }
    this.send(out, 'handshake', {
      type: HandshakeType.Certificate,
      context: new Uint8Array(0),
      entries: cred.chain.map(data => ({ data, extensions: [] }))
    })
    this.sendCertificateVerify(out, ourScheme, cred.privateKey)
    this.sendFinished(out, params, hs.server)
    const app = this.schedule.application(this.transcript.current())
    this.applicationSecrets = app
    out.push(secretsAction('application', app, params))
    this.state = this.requestedClientCert ? 'wait-client-certificate' : 'wait-client-finished'
  }

  private onClientFinished (out: Array<TlsAction<T>>, verifyData: Uint8Array, raw: Uint8Array): void {
    this.checkFinished(verifyData, (this.handshakeSecrets as { client: Uint8Array }).client, 'client')
    this.transcript.update(raw)
    this.level = 'application'
    this.finish(out)
  }

  private finish (out: Array<TlsAction<T>>): void {
    this.state = 'connected'
    out.push({
      type: 'complete',
      result: {
        cipherSuite: (this.params as SuiteParams).suite,
        group: this.group as NamedGroup,
        alpn: this.selectedAlpn,
        peer: this.peer,
        peerExtensions: this.peerExtensions,
        helloRetry: this.helloRetry
      }
    })
  }

  // ── after the handshake ───────────────────────────────────────────────────────────────────────

  private postHandshake (out: Array<TlsAction<T>>, msg: HandshakeMessage): void {
    if (msg.type === HandshakeType.NewSessionTicket && this.isClient) return // accepted and ignored: no resumption
    if (msg.type === HandshakeType.KeyUpdate && this.config.quic !== true) {
      const params = this.params as SuiteParams
      const secrets = this.applicationSecrets as { client: Uint8Array, server: Uint8Array }
      if (this.isClient) secrets.server = nextTrafficSecret(params, secrets.server)
      else secrets.client = nextTrafficSecret(params, secrets.client)
      out.push({ type: 'read-secret', secret: this.isClient ? secrets.server : secrets.client })
      // §4.6.3: answer update_requested with our own KeyUpdate(update_not_requested).
      if (msg.requestUpdate === KeyUpdateRequest.update_requested) {
        this.sendKeyUpdate(out, KeyUpdateRequest.update_not_requested)
      }
      return
    }
    throw unexpected(`${handshakeTypeName(msg.type)} after the handshake`)
  }
}
