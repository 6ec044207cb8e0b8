/**
 * QUIC transport parameters (RFC 9000 §18): a sequence of (id varint, length varint, value), carried
 * in the TLS `quic_transport_parameters` extension (RFC 9001 §8.2, codepoint 0x39).
 *
 * Validation (RFC 9000 §7.4, §18.2), every failure a TRANSPORT_PARAMETER_ERROR:
 *  - a parameter twice; a value whose length does not match its type; an id the client may not send
 *    (original_destination_connection_id, stateless_reset_token, preferred_address,
 *    retry_source_connection_id);
 *  - max_udp_payload_size < 1200, ack_delay_exponent > 20, max_ack_delay >= 2^14,
 *    active_connection_id_limit < 2, initial_max_streams_* > 2^60;
 *  - a preferred_address with a zero-length connection id.
 * Unknown ids (including the reserved 31*N+27 grease ids) are skipped (§18.1).
 */
import { QuicError } from '../../errors.js'
import { QuicReader, QuicWriter } from './buffer.js'
import {
  DEFAULT_ACK_DELAY_EXPONENT,
  DEFAULT_ACTIVE_CONNECTION_ID_LIMIT,
  DEFAULT_MAX_ACK_DELAY_MS,
  DEFAULT_MAX_UDP_PAYLOAD_SIZE,
  MAX_ACK_DELAY_EXPONENT,
  MAX_CID_LENGTH,
  MAX_MAX_ACK_DELAY_MS,
  MAX_STREAMS_LIMIT,
  MIN_INITIAL_DATAGRAM_SIZE,
  STATELESS_RESET_TOKEN_LENGTH,
  TransportParameterId as Id
} from './constants.js'
import { varintLength } from './varint.js'

/** RFC 9000 §18.2 preferred_address. */
export interface PreferredAddress {
  ipv4Address: Uint8Array
  ipv4Port: number
  ipv6Address: Uint8Array
  ipv6Port: number
  connectionId: Uint8Array
  statelessResetToken: Uint8Array
}

export interface TransportParameters {
  originalDestinationConnectionId?: Uint8Array
  /** Milliseconds; 0 = no idle timeout from this side. */
  maxIdleTimeout: number
  statelessResetToken?: Uint8Array
  maxUdpPayloadSize: number
  initialMaxData: number
  initialMaxStreamDataBidiLocal: number
  initialMaxStreamDataBidiRemote: number
  initialMaxStreamDataUni: number
  initialMaxStreamsBidi: number
  initialMaxStreamsUni: number
  ackDelayExponent: number
  /** Milliseconds. */
  maxAckDelay: number
  disableActiveMigration: boolean
  preferredAddress?: PreferredAddress
  activeConnectionIdLimit: number
  initialSourceConnectionId?: Uint8Array
  retrySourceConnectionId?: Uint8Array
}

/** RFC 9000 §18.2 defaults for every absent parameter. */
export function defaultTransportParameters (): TransportParameters {
  return {
    maxIdleTimeout: 0,
    maxUdpPayloadSize: DEFAULT_MAX_UDP_PAYLOAD_SIZE,
    initialMaxData: 0,
    initialMaxStreamDataBidiLocal: 0,
    initialMaxStreamDataBidiRemote: 0,
    initialMaxStreamDataUni: 0,
    initialMaxStreamsBidi: 0,
    initialMaxStreamsUni: 0,
    ackDelayExponent: DEFAULT_ACK_DELAY_EXPONENT,
    maxAckDelay: DEFAULT_MAX_ACK_DELAY_MS,
    disableActiveMigration: false,
    activeConnectionIdLimit: DEFAULT_ACTIVE_CONNECTION_ID_LIMIT
  }
}

function paramError (what: string): QuicError {
  return new QuicError('ERR_QUIC_TRANSPORT_PARAMETER', `transport parameters: ${what}`)
}

const VARINT_PARAMS: ReadonlyArray<[Id, keyof TransportParameters]> = [
  [Id.MaxIdleTimeout, 'maxIdleTimeout'],
  [Id.MaxUdpPayloadSize, 'maxUdpPayloadSize'],
  [Id.InitialMaxData, 'initialMaxData'],
  [Id.InitialMaxStreamDataBidiLocal, 'initialMaxStreamDataBidiLocal'],
  [Id.InitialMaxStreamDataBidiRemote, 'initialMaxStreamDataBidiRemote'],
  [Id.InitialMaxStreamDataUni, 'initialMaxStreamDataUni'],
  [Id.InitialMaxStreamsBidi, 'initialMaxStreamsBidi'],
  [Id.InitialMaxStreamsUni, 'initialMaxStreamsUni'],
  [Id.AckDelayExponent, 'ackDelayExponent'],
  [Id.MaxAckDelay, 'maxAckDelay'],
  [Id.ActiveConnectionIdLimit, 'activeConnectionIdLimit']
]
const VARINT_BY_ID = new Map(VARINT_PARAMS)
const CID_PARAMS: ReadonlyArray<
  [Id, 'originalDestinationConnectionId' | 'initialSourceConnectionId' | 'retrySourceConnectionId']
> = [
  [Id.OriginalDestinationConnectionId, 'originalDestinationConnectionId'],
  [Id.InitialSourceConnectionId, 'initialSourceConnectionId'],
  [Id.RetrySourceConnectionId, 'retrySourceConnectionId']
]
const CID_BY_ID = new Map(CID_PARAMS)

/** RFC 9000 §18.2: parameters only a server may send. */
const SERVER_ONLY = new Set<number>([
  Id.OriginalDestinationConnectionId,
  Id.StatelessResetToken,
  Id.PreferredAddress,
  Id.RetrySourceConnectionId
])

/** Encode `p`, writing only what differs from the defaults (and every connection id present). */
export function encodeTransportParameters (p: TransportParameters): Uint8Array {
  const w = new QuicWriter(128)
  const d = defaultTransportParameters()
  for (const [id, key] of CID_PARAMS) {
    const cid = p[key]
    if (cid !== undefined) w.varint(id).varint(cid.length).bytes(cid)
  }
  for (const [id, key] of VARINT_PARAMS) {
    const v = p[key] as number
    if (v !== d[key]) w.varint(id).varint(varintLength(v)).varint(v)
  }
  if (p.statelessResetToken !== undefined) {
    w.varint(Id.StatelessResetToken).varint(p.statelessResetToken.length).bytes(p.statelessResetToken)
  }
  if (p.disableActiveMigration) w.varint(Id.DisableActiveMigration).varint(0)
  if (p.preferredAddress !== undefined) {
    const a = p.preferredAddress
    w.varint(Id.PreferredAddress).varint(4 + 2 + 16 + 2 + 1 + a.connectionId.length + STATELESS_RESET_TOKEN_LENGTH)
    w.bytes(a.ipv4Address).u8(a.ipv4Port >>> 8).u8(a.ipv4Port)
    w.bytes(a.ipv6Address).u8(a.ipv6Port >>> 8).u8(a.ipv6Port)
    w.u8(a.connectionId.length).bytes(a.connectionId).bytes(a.statelessResetToken)
  }
  return w.finish()
}

/**
 * Decode and validate the parameters `sender` sent. Byte fields are views into `buf`.
 */
export function decodeTransportParameters (buf: Uint8Array, sender: 'client' | 'server'): TransportParameters {
  const p = defaultTransportParameters()
  const seen = new Set<number>()
  const r = new QuicReader(buf, what => paramError(`truncated ${what}`))
  while (r.remaining > 0) {
    const id = r.varint('parameter id')
    const length = r.varint('parameter length')
    const value = r.bytes(length, `parameter 0x${id.toString(16)}`)
    if (seen.has(id)) throw paramError(`parameter 0x${id.toString(16)} repeated`)
    seen.add(id)
    if (sender === 'client' && SERVER_ONLY.has(id)) throw paramError(`parameter 0x${id.toString(16)} sent by a client`)
    const varintKey = VARINT_BY_ID.get(id)
    if (varintKey !== undefined) {
      const vr = new QuicReader(value, what => paramError(`truncated ${what}`))
      const v = vr.varint(varintKey)
      if (vr.remaining !== 0) throw paramError(`"${varintKey}" has ${vr.remaining} trailing bytes`)
      ;(p as unknown as Record<string, number>)[varintKey] = v
      continue
    }
    const cidKey = CID_BY_ID.get(id)
    if (cidKey !== undefined) {
      if (value.length > MAX_CID_LENGTH) throw paramError(`"${cidKey}" expected <= 20 bytes, got ${value.length}`)
      p[cidKey] = value
      continue
    }
    switch (id) {
      case Id.StatelessResetToken:
        if (value.length !== STATELESS_RESET_TOKEN_LENGTH) {
          throw paramError(`"statelessResetToken" expected 16 bytes, got ${value.length}`)
        }
        p.statelessResetToken = value
        break
      case Id.DisableActiveMigration:
        if (value.length !== 0) throw paramError(`"disableActiveMigration" expected 0 bytes, got ${value.length}`)
        p.disableActiveMigration = true
        break
      case Id.PreferredAddress:
        p.preferredAddress = decodePreferredAddress(value)
        break
      default:
        // RFC 9000 §18.1: unknown parameters are ignored
    }
  }
  validate(p)
  return p
}

function decodePreferredAddress (value: Uint8Array): PreferredAddress {
  const r = new QuicReader(value, what => paramError(`truncated preferred_address ${what}`))
  const ipv4Address = r.bytes(4, 'ipv4 address')
  const ipv4Port = (r.u8('ipv4 port') << 8) | r.u8('ipv4 port')
  const ipv6Address = r.bytes(16, 'ipv6 address')
  const ipv6Port = (r.u8('ipv6 port') << 8) | r.u8('ipv6 port')
  const cidLength = r.u8('connection id length')
  if (cidLength === 0 || cidLength > MAX_CID_LENGTH) {
    throw paramError(`preferred_address connection id length ${cidLength} outside 1..20`)
  }
  const connectionId = r.bytes(cidLength, 'connection id')
  const statelessResetToken = r.bytes(STATELESS_RESET_TOKEN_LENGTH, 'stateless reset token')
  if (r.remaining !== 0) throw paramError(`preferred_address has ${r.remaining} trailing bytes`)
  return { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken }
}

function validate (p: TransportParameters): void {
  if (p.maxUdpPayloadSize < MIN_INITIAL_DATAGRAM_SIZE) {
    throw paramError(`"maxUdpPayloadSize" expected >= 1200, got ${p.maxUdpPayloadSize}`)
  }
  if (p.ackDelayExponent > MAX_ACK_DELAY_EXPONENT) {
    throw paramError(`"ackDelayExponent" expected <= 20, got ${p.ackDelayExponent}`)
  }
  if (p.maxAckDelay > MAX_MAX_ACK_DELAY_MS) throw paramError(`"maxAckDelay" expected < 2^14, got ${p.maxAckDelay}`)
  if (p.activeConnectionIdLimit < 2) {
    throw paramError(`"activeConnectionIdLimit" expected >= 2, got ${p.activeConnectionIdLimit}`)
  }
  if (p.initialMaxStreamsBidi > MAX_STREAMS_LIMIT) {
    throw paramError(`"initialMaxStreamsBidi" expected <= 2^60, got ${p.initialMaxStreamsBidi}`)
  }
  if (p.initialMaxStreamsUni > MAX_STREAMS_LIMIT) {
    throw paramError(`"initialMaxStreamsUni" expected <= 2^60, got ${p.initialMaxStreamsUni}`)
  }
}
