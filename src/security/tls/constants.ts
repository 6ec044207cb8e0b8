/**
 * TLS 1.3 wire constants (RFC 8446 §B), named and valued as in the RFC, and the libp2p ones
 * (libp2p specs tls/tls.md). test/security/tls/constants.test.ts pins the numbers.
 */

/** multistream-select protocol id (tls.md §"Handshake Protocol"). */
export const PROTOCOL_ID = '/tls/1.0.0'
/** ALPN token meaning "negotiate the muxer with multistream-select" (connections/inlined-muxer-negotiation.md). */
export const ALPN_LIBP2P = 'libp2p'

/** RFC 8446 §5.1 ContentType. */
export enum ContentType {
  ChangeCipherSpec = 20,
  Alert = 21,
  Handshake = 22,
  ApplicationData = 23
}

/** RFC 8446 §4 HandshakeType. */
export enum HandshakeType {
  ClientHello = 1,
  ServerHello = 2,
  NewSessionTicket = 4,
  EndOfEarlyData = 5,
  EncryptedExtensions = 8,
  Certificate = 11,
  CertificateRequest = 13,
  CertificateVerify = 15,
  Finished = 20,
  KeyUpdate = 24,
  MessageHash = 254
}

/** RFC 8446 §4.2 ExtensionType (and RFC 7301 ALPN, RFC 9001 §8.2 quic_transport_parameters). */
export enum ExtensionType {
  ServerName = 0,
  SupportedGroups = 10,
  SignatureAlgorithms = 13,
  ApplicationLayerProtocolNegotiation = 16,
  PreSharedKey = 41,
  EarlyData = 42,
  SupportedVersions = 43,
  Cookie = 44,
  PskKeyExchangeModes = 45,
  CertificateAuthorities = 47,
  SignatureAlgorithmsCert = 50,
  KeyShare = 51,
  QuicTransportParameters = 0x39
}

/** RFC 8446 §B.4 CipherSuite. */
export enum CipherSuite {
  TLS_AES_128_GCM_SHA256 = 0x1301,
  TLS_AES_256_GCM_SHA384 = 0x1302,
  TLS_CHACHA20_POLY1305_SHA256 = 0x1303
}

/** RFC 8446 §4.2.7 NamedGroup (the two we implement). */
export enum NamedGroup {
  secp256r1 = 0x0017,
  x25519 = 0x001d
}

/** RFC 8446 §4.2.3 SignatureScheme (the ones we sign or verify). */
export enum SignatureScheme {
  ecdsa_secp256r1_sha256 = 0x0403,
  ecdsa_secp384r1_sha384 = 0x0503,
  rsa_pss_rsae_sha256 = 0x0804,
  rsa_pss_rsae_sha384 = 0x0805,
  rsa_pss_rsae_sha512 = 0x0806,
  ed25519 = 0x0807
}

/** RFC 8446 §6 AlertLevel. */
export enum AlertLevel {
  warning = 1,
  fatal = 2
}

/** RFC 8446 §6 AlertDescription. */
export enum AlertDescription {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  handshake_failure = 40,
  bad_certificate = 42,
  unsupported_certificate = 43,
  certificate_revoked = 44,
  certificate_expired = 45,
  certificate_unknown = 46,
  illegal_parameter = 47,
  unknown_ca = 48,
  access_denied = 49,
  decode_error = 50,
  decrypt_error = 51,
  protocol_version = 70,
  insufficient_security = 71,
  internal_error = 80,
  inappropriate_fallback = 86,
  user_canceled = 90,
  missing_extension = 109,
  unsupported_extension = 110,
  unrecognized_name = 112,
  bad_certificate_status_response = 113,
  unknown_psk_identity = 115,
  certificate_required = 116,
  no_application_protocol = 120
}

/** RFC 8446 §4.6.3 KeyUpdateRequest. */
export enum KeyUpdateRequest {
  update_not_requested = 0,
  update_requested = 1
}

/** `legacy_version` of every hello: TLS 1.2 (RFC 8446 §4.1.2). */
export const LEGACY_VERSION = 0x0303
/** `legacy_record_version` of the first ClientHello record (RFC 8446 §5.1: 0x0301 for compatibility). */
export const LEGACY_RECORD_VERSION_CLIENT_HELLO = 0x0301
/** The only version we negotiate (supported_versions, RFC 8446 §4.2.1). tls.md: TLS 1.3 or higher. */
export const TLS13 = 0x0304
/** RFC 8446 §5.1: TLSPlaintext.fragment ≤ 2^14 bytes. */
export const MAX_PLAINTEXT_LENGTH = 1 << 14
/** RFC 8446 §5.2: TLSCiphertext.length ≤ 2^14 + 256. */
export const MAX_CIPHERTEXT_LENGTH = (1 << 14) + 256
/** type(1) ‖ legacy_record_version(2) ‖ length(2). */
export const RECORD_HEADER_LENGTH = 1 + 2 + 2
/** msg_type(1) ‖ length(3). */
export const HANDSHAKE_HEADER_LENGTH = 1 + 3
/** AEAD tag length of every TLS 1.3 suite (RFC 5116 / RFC 8439). */
export const AEAD_TAG_LENGTH = 16
/** RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest = SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.from(
  Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex')
)

/** Default cap on one handshake message (its 24-bit length allows 16 MiB). */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE_BYTES = 64 * 1024
/** Default cap on one certificate (a libp2p cert with an RSA-8192 host key is ~3 KiB). */
export const DEFAULT_MAX_CERTIFICATE_BYTES = 16 * 1024
/**
 * Send a KeyUpdate after this many records under one key. RFC 8446 §5.5 bounds AES-GCM at 2^24.5
 * full-size records per key; we rotate well before.
 */
export const KEY_UPDATE_AFTER_RECORDS = 1 << 23

/** libp2p specs tls/tls.md §"libp2p Public Key Extension". */
export const LIBP2P_EXTENSION_OID = '1.3.6.1.4.1.53594.1.1'
export const LIBP2P_SIGNATURE_PREFIX = 'libp2p-tls-handshake:'
