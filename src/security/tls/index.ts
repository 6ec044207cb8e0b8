/**
 * `switchyard/security/tls`: `/tls/1.0.0` (libp2p specs tls/tls.md) over a TLS 1.3 (RFC 8446)
 * written here — the sans-I/O handshake machine (TlsHandshake), the record layer on top of it, the
 * libp2p certificate (generate, verify) and `tlsSecurity()` as the switch's SecurityProtocol.
 */
export { tlsSecurity, TlsConnection } from './connection.js'
export type { TlsSecurityOptions } from './connection.js'
export { TlsHandshake, DEFAULT_CIPHER_SUITES, DEFAULT_GROUPS, DEFAULT_SIGNATURE_SCHEMES } from './handshake.js'
export type { TlsCredential, TlsHandshakeConfig, TlsHandshakeResult, TlsAction, EncryptionLevel, PeerCertificate } from './handshake.js'
export { TlsRecordLayer } from './record-layer.js'
export type { RecordLayerHooks, RecordLayerOutput } from './record-layer.js'
export { generateLibp2pCredential, verifyLibp2pCertificate } from './certificate.js'
export type { Libp2pPeer } from './certificate.js'
export { Libp2pCredentials, VerifiedCertificates, CERTIFICATE_RENEW_BEFORE_MS, VERIFIED_CERTIFICATES } from './credentials.js'
export {
  PROTOCOL_ID, ALPN_LIBP2P, AlertDescription, AlertLevel, CipherSuite, NamedGroup, SignatureScheme, ContentType,
  HandshakeType,
  LIBP2P_EXTENSION_OID, LIBP2P_SIGNATURE_PREFIX
} from './constants.js'
export { TlsError } from '../../errors.js'
