/**
 * QUIC v1 numbers, named and valued as in RFC 9000 / 9001 / 9002. Pinned by
 * test/transport/quic/constants.test.ts.
 */

/** RFC 9000 §15: QUIC version 1. */
export const QUIC_V1 = 0x0000_0001
/** RFC 9000 §17.2.1: a Version Negotiation packet carries version 0. */
export const VERSION_NEGOTIATION = 0x0000_0000

/** RFC 9000 §17.2: connection ids are at most 20 bytes in v1. */
export const MAX_CID_LENGTH = 20
/** RFC 9000 §7.2: the client's first Destination Connection ID is at least 8 bytes. */
export const MIN_INITIAL_DCID_LENGTH = 8
/** RFC 9000 §14.1: a client pads every datagram carrying an Initial to at least 1200 bytes. */
export const MIN_INITIAL_DATAGRAM_SIZE = 1200
/** RFC 9000 §18.2: default and ceiling of max_udp_payload_size. */
export const DEFAULT_MAX_UDP_PAYLOAD_SIZE = 65527
/** RFC 9000 §10.3: a stateless reset token is 16 bytes; a reset is at least 21 bytes long. */
export const STATELESS_RESET_TOKEN_LENGTH = 16
export const MIN_STATELESS_RESET_LENGTH = 21
/** RFC 9000 §17.2.5: the Retry Integrity Tag is an AEAD tag, 16 bytes. */
export const RETRY_INTEGRITY_TAG_LENGTH = 16
/** RFC 9000 §19.12, §19.17: PATH_CHALLENGE / PATH_RESPONSE carry 8 bytes. */
export const PATH_DATA_LENGTH = 8
/** RFC 9000 §19.11, §4.6: stream counts may not exceed 2^60. */
export const MAX_STREAMS_LIMIT = 2 ** 60
/**
 * RFC 9000 §19.8: offset + length of STREAM / CRYPTO data may not exceed 2^62-1. As doubles 2^62-1
 * and 2^62 are the same number, so the check is `sum >= 2^62` and refuses both (no flow-control
 * window comes anywhere near either).
 */
export const STREAM_OFFSET_BOUND = 2 ** 62

/** RFC 9000 §17.2 long packet types (bits 5-4 of the first byte). */
export enum LongPacketType {
  Initial = 0x0,
  ZeroRtt = 0x1,
  Handshake = 0x2,
  Retry = 0x3
}

/** RFC 9000 §17.2/§17.3 first-byte bits. */
export const HEADER_FORM_BIT = 0x80
export const FIXED_BIT = 0x40
/** Short header: RFC 9000 §17.3.1 spin bit and key phase bit. */
export const SPIN_BIT = 0x20
export const KEY_PHASE_BIT = 0x04

/** RFC 9000 §12.3: the three packet number spaces. */
export enum PacketNumberSpace {
  Initial = 0,
  Handshake = 1,
  ApplicationData = 2
}

/** RFC 9000 §19 / §12.4 Table 3: frame types of v1 (DATAGRAM, RFC 9221, is not supported). */
export enum FrameType {
  Padding = 0x00,
  Ping = 0x01,
  Ack = 0x02,
  AckEcn = 0x03,
  ResetStream = 0x04,
  StopSending = 0x05,
  Crypto = 0x06,
  NewToken = 0x07,
  /** 0x08-0x0f: STREAM with the OFF (0x04), LEN (0x02) and FIN (0x01) bits. */
  Stream = 0x08,
  MaxData = 0x10,
  MaxStreamData = 0x11,
  MaxStreamsBidi = 0x12,
  MaxStreamsUni = 0x13,
  DataBlocked = 0x14,
  StreamDataBlocked = 0x15,
  StreamsBlockedBidi = 0x16,
  StreamsBlockedUni = 0x17,
  NewConnectionId = 0x18,
  RetireConnectionId = 0x19,
  PathChallenge = 0x1a,
  PathResponse = 0x1b,
  ConnectionClose = 0x1c,
  ConnectionCloseApp = 0x1d,
  HandshakeDone = 0x1e
}

/** RFC 9000 §19.8: STREAM frame type bits. */
export const STREAM_FIN_BIT = 0x01
export const STREAM_LEN_BIT = 0x02
export const STREAM_OFF_BIT = 0x04

/** RFC 9000 §18.2: transport parameter ids. */
export enum TransportParameterId {
  OriginalDestinationConnectionId = 0x00,
  MaxIdleTimeout = 0x01,
  StatelessResetToken = 0x02,
  MaxUdpPayloadSize = 0x03,
  InitialMaxData = 0x04,
  InitialMaxStreamDataBidiLocal = 0x05,
  InitialMaxStreamDataBidiRemote = 0x06,
  InitialMaxStreamDataUni = 0x07,
  InitialMaxStreamsBidi = 0x08,
  InitialMaxStreamsUni = 0x09,
  AckDelayExponent = 0x0a,
  MaxAckDelay = 0x0b,
  DisableActiveMigration = 0x0c,
  PreferredAddress = 0x0d,
  ActiveConnectionIdLimit = 0x0e,
  InitialSourceConnectionId = 0x0f,
  RetrySourceConnectionId = 0x10
}

/** RFC 9000 §18.2 defaults and bounds. */
export const DEFAULT_ACK_DELAY_EXPONENT = 3
export const MAX_ACK_DELAY_EXPONENT = 20
export const DEFAULT_MAX_ACK_DELAY_MS = 25
/** max_ack_delay values of 2^14 or more are invalid. */
export const MAX_MAX_ACK_DELAY_MS = 2 ** 14 - 1
export const DEFAULT_ACTIVE_CONNECTION_ID_LIMIT = 2
