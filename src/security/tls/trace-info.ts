/**
 * What `--trace` shows of a TLS message or record: versions, suites, groups, ALPN, the
 * certificate's libp2p extension decoded (key type, peer id, signature). Pure; only called when an
 * observer listens.
 */
import { verifyLibp2pCertificate } from './certificate.js'
import {
  AlertDescription,
  CipherSuite,
  ContentType,
  ExtensionType,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  NamedGroup,
  SignatureScheme
} from './constants.js'
import { alpn, findExtension, keyShare, supportedVersions, u16ListExtension } from './messages.js'
import type { HandshakeMessage } from './messages.js'
import type { TlsCompleteEvent, TlsHandshakeInfo, TraceObserver } from '../../trace/observer.js'
import type { Libp2pPeer } from './certificate.js'
import type { TlsHandshakeResult, TlsMessageTrace } from './handshake.js'
import { toError } from '../../errors.js'

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`
export const suiteName = (s: number): string => CipherSuite[s] ?? hex4(s)
export const groupName = (g: number): string => NamedGroup[g] ?? hex4(g)
const schemeName = (s: number): string => SignatureScheme[s] ?? hex4(s)
const versionName = (v: number): string => v === 0x0304 ? 'TLS 1.3' : v === 0x0303 ? 'TLS 1.2' : hex4(v)

export function describeRecord (type: number, inner?: number): { contentType: string, innerType?: string } {
  const out: { contentType: string, innerType?: string } = { contentType: ContentType[type] ?? String(type) }
  if (inner !== undefined) out.innerType = ContentType[inner] ?? String(inner)
  return out
}

export function describeAlertDescription (d: number): string {
  return AlertDescription[d] ?? String(d)
}

function safe<T> (f: () => T): T | undefined {
  try { return f() } catch { return undefined }
}

export function describeMessage (msg: HandshakeMessage, now: number): { message: string, info: TlsHandshakeInfo } {
  const info: TlsHandshakeInfo = {}
  let message = HandshakeType[msg.type] ?? String(msg.type)
  const exts = 'extensions' in msg ? msg.extensions : []
  const ext = (t: ExtensionType): Uint8Array | undefined => findExtension(exts, t)
  const a = ext(ExtensionType.ApplicationLayerProtocolNegotiation)
  if (a !== undefined) { const names = safe(() => alpn.decode(a)); if (names !== undefined) info.alpn = names }
  switch (msg.type) {
    case HandshakeType.ClientHello: {
      info.cipherSuites = msg.cipherSuites.map(suiteName)
      const sv = ext(ExtensionType.SupportedVersions)
      if (sv !== undefined) info.versions = (safe(() => supportedVersions.decodeClient(sv)) ?? []).map(versionName)
      const sg = ext(ExtensionType.SupportedGroups)
      if (sg !== undefined) {
        info.groups = (safe(() => u16ListExtension.decode(sg, 'supported_groups')) ?? []).map(groupName)
      }
      const ks = ext(ExtensionType.KeyShare)
      if (ks !== undefined) info.keyShares = (safe(() => keyShare.decodeClient(ks)) ?? []).map(e => groupName(e.group))
      const sa = ext(ExtensionType.SignatureAlgorithms)
      if (sa !== undefined) {
        info.signatureSchemes = (safe(() => u16ListExtension.decode(sa, 'signature_algorithms')) ?? []).map(schemeName)
      }
      break
    }
    case HandshakeType.ServerHello: {
      const hrr = msg.random.every((b, i) => b === HELLO_RETRY_REQUEST_RANDOM[i])
      if (hrr) message = 'HelloRetryRequest'
      info.cipherSuite = suiteName(msg.cipherSuite)
      const sv = ext(ExtensionType.SupportedVersions)
      if (sv !== undefined) {
        const v = safe(() => supportedVersions.decodeServer(sv))
        if (v !== undefined) info.versions = [versionName(v)]
      }
      const ks = ext(ExtensionType.KeyShare)
      if (ks !== undefined) {
        const g = hrr ? safe(() => keyShare.decodeRetry(ks)) : safe(() => keyShare.decodeServer(ks).group)
        if (g !== undefined) info.group = groupName(g)
      }
      break
    }
    case HandshakeType.CertificateRequest: {
      const sa = ext(ExtensionType.SignatureAlgorithms)
      if (sa !== undefined) {
        info.signatureSchemes = (safe(() => u16ListExtension.decode(sa, 'signature_algorithms')) ?? []).map(schemeName)
      }
      break
    }
    case HandshakeType.Certificate: {
      info.certificates = msg.entries.length
      if (msg.entries.length > 0) {
        try {
          const r = verifyLibp2pCertificate(msg.entries.map(e => e.data), now)
          info.libp2p = { keyType: r.info.keyType, peerId: r.info.peerId.toString(), signature: 'verified' }
        } catch (err) {
          info.libp2p = { signature: 'invalid', error: toError(err).message }
        }
      }
      break
    }
    case HandshakeType.CertificateVerify:
      info.signatureScheme = schemeName(msg.algorithm)
      break
    case HandshakeType.KeyUpdate:
      info.requestUpdate = msg.requestUpdate === 1
      break
    default:
      break
  }
  return { message, info }
}

/**
 * The machine's `onMessage` hook that reports every handshake message to `observer`: one place for
 * TLS over TCP (connection.ts) and inside QUIC (RFC 9001), which carry the same messages.
 */
export function traceHandshakeMessages (observer: TraceObserver, now: () => number): (t: TlsMessageTrace) => void {
  return (t) => {
    observer.event({
      layer: 'tls',
      kind: 'handshake',
      dir: t.dir,
      level: t.level,
      length: t.bytes.length,
      bytes: t.bytes,
      ...describeMessage(t.message, now())
    })
  }
}

/** The `complete` event of a finished handshake (TLS over TCP and QUIC alike). */
export function completeEvent (role: 'client' | 'server', result: TlsHandshakeResult<Libp2pPeer>): TlsCompleteEvent {
  return {
    layer: 'tls',
    kind: 'complete',
    role,
    remotePeer: result.peer?.info.peerId.toString() ?? '(none)',
    cipherSuite: suiteName(result.cipherSuite),
    group: groupName(result.group),
    helloRetry: result.helloRetry,
    ...(result.alpn === undefined ? {} : { alpn: result.alpn })
  }
}
