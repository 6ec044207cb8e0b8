/**
 * Signed peer records: sign ours, verify theirs (libp2p specs RFC/0002-signed-envelopes.md,
 * RFC/0003-routing-records.md; the codecs are src/proto/envelope.ts).
 *
 * Verification, in order, each failure a KeyError naming the check:
 *  1. the envelope and its public key decode (ERR_INVALID_KEY / CodecError);
 *  2. the payload type is `libp2p-peer-record` (0x0301) (ERR_INVALID_RECORD);
 *  3. the signature covers domain `libp2p-peer-record` ‖ type ‖ payload (ERR_INVALID_SIGNATURE);
 *  4. the record's peer id is the signing key's, and the expected peer's when one is given
 *     (ERR_PEER_ID_MISMATCH) — go-libp2p `consumeSignedPeerRecord` checks both.
 */
import { KeyError } from '../errors.js'
import {
  decodeEnvelope,
  decodePeerRecord,
  encodeEnvelope,
  encodePeerRecord,
  envelopeSignedBytes,
  PEER_RECORD_DOMAIN,
  PEER_RECORD_PAYLOAD_TYPE
} from '../proto/envelope.js'
import { unmarshalPublicKey } from './keys.js'
import type { PrivateKey, PublicKey } from './keys.js'
import { PeerId } from './peer-id.js'

/** A peer record whose envelope verified. */
export interface VerifiedPeerRecord {
  peerId: PeerId
  /** The signer's key (its peer id is `peerId`). */
  publicKey: PublicKey
  seq: bigint
  /** Binary multiaddrs, as signed. */
  addresses: Uint8Array[]
}

let lastSeq = 0n

/**
 * A strictly increasing sequence number from the wall clock in nanoseconds, as go-libp2p's
 * `TimestampSeq`: a record signed later supersedes an earlier one even across restarts.
 */
export function timestampSeq (nowMs = Date.now()): bigint {
  let seq = BigInt(Math.floor(nowMs)) * 1_000_000n
  if (seq <= lastSeq) seq = lastSeq + 1n
  lastSeq = seq
  return seq
}

/** Our peer record for `addresses`, sealed in a signed envelope: the bytes identify sends in field 8. */
export function signPeerRecord (
  identity: PrivateKey,
  addresses: readonly Uint8Array[],
  seq: bigint = timestampSeq()
): Uint8Array {
  const peerId = PeerId.fromPublicKey(identity.publicKey)
  const payload = encodePeerRecord({ peerId: peerId.multihash, seq, addresses: [...addresses] })
  const signature = identity.sign(envelopeSignedBytes(PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload))
  return encodeEnvelope({
    publicKey: identity.publicKey.bytes(),
    payloadType: PEER_RECORD_PAYLOAD_TYPE,
    payload,
    signature
  })
}

/** Open and verify a signed peer record (module comment); `expected` is the peer it must be from. */
export function verifyPeerRecord (envelopeBytes: Uint8Array, expected?: PeerId): VerifiedPeerRecord {
  const env = decodeEnvelope(envelopeBytes)
  if (env.publicKey.length === 0) {
    throw new KeyError('ERR_INVALID_KEY', 'signed peer record: the envelope has no public key')
  }
  const publicKey = unmarshalPublicKey(env.publicKey)
  if (!bytesEqual(env.payloadType, PEER_RECORD_PAYLOAD_TYPE)) {
    throw new KeyError(
      'ERR_INVALID_RECORD',
      `signed peer record: payload type expected 0301 (libp2p-peer-record), got ${hex(env.payloadType) || 'none'}`
    )
  }
  if (!publicKey.verify(envelopeSignedBytes(PEER_RECORD_DOMAIN, env.payloadType, env.payload), env.signature)) {
    throw new KeyError(
      'ERR_INVALID_SIGNATURE',
      `signed peer record: the signature does not verify under the envelope's key for domain "${PEER_RECORD_DOMAIN}"`
    )
  }
  const signer = PeerId.fromPublicKey(publicKey)
  const record = decodePeerRecord(env.payload)
  const peerId = PeerId.fromMultihash(record.peerId)
  if (!peerId.equals(signer)) {
    throw new KeyError(
      'ERR_PEER_ID_MISMATCH',
      `signed peer record: the record names peer ${peerId.toString()}, but the envelope is signed by ${signer.toString()}`
    )
  }
  if (expected !== undefined && !signer.equals(expected)) {
    throw new KeyError(
      'ERR_PEER_ID_MISMATCH',
      `signed peer record: expected peer ${expected.toString()}, got a record of ${signer.toString()}`
    )
  }
  return { peerId: signer, publicKey, seq: record.seq, addresses: record.addresses }
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

function hex (b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}
