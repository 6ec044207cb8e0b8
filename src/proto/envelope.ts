/**
 * Signed envelopes (libp2p specs RFC/0002-signed-envelopes.md) and the peer record they carry in
 * identify (RFC/0003-routing-records.md), as pure codecs; signing and verifying live in
 * src/security/peer-record.ts.
 *
 *   message Envelope {
 *     PublicKey public_key   = 1;  // PublicKey protobuf (peer-ids spec)
 *     bytes     payload_type = 2;  // multicodec type hint: 0x03 0x01 for a peer record
 *     bytes     payload      = 3;
 *     bytes     signature    = 5;  // RFC 0002 says 4; go-libp2p core/record/pb/envelope.proto,
 *   }                               // rust libp2p-core envelope.proto and js @libp2p/peer-record all use 5
 *
 *   message PeerRecord {
 *     bytes   peer_id = 1;                     // binary peer id (multihash)
 *     uint64  seq     = 2;                     // go: UnixNano, which needs more than 53 bits
 *     repeated AddressInfo addresses = 3;      // message AddressInfo { bytes multiaddr = 1; }
 *   }
 *
 * Signed bytes (RFC 0002 §"Signature Production / Verification"):
 *   uvarint(len(domain)) ‖ domain ‖ uvarint(len(payload_type)) ‖ payload_type ‖ uvarint(len(payload)) ‖ payload
 *
 * proto3: absent fields decode as empty; unknown fields are skipped; a known field with the wrong
 * wire type → CodecError ERR_PROTOBUF_MALFORMED. Byte fields are copies (records are kept).
 */
import { concatBytes } from '../codec/bytes.js'
import { decodeFields, ProtoWriter, WireType } from '../codec/protobuf.js'
import type { ProtoField } from '../codec/protobuf.js'
import { encodeUvarint } from '../codec/varint.js'
import { CodecError } from '../errors.js'

/** Envelope field numbers (go-libp2p core/record/pb/envelope.proto). */
export const EnvelopeField = { publicKey: 1, payloadType: 2, payload: 3, signature: 5 } as const
/** PeerRecord field numbers (RFC 0003, go-libp2p core/peer/pb/peer_record.proto). */
export const PeerRecordField = { peerId: 1, seq: 2, addresses: 3 } as const
/** AddressInfo field number. */
export const AddressInfoField = { multiaddr: 1 } as const

/** Domain separation string of peer records (RFC 0003; go `PeerRecordEnvelopeDomain`). */
export const PEER_RECORD_DOMAIN = 'libp2p-peer-record'
/** Payload type of peer records: the multicodec `libp2p-peer-record` (0x0301) as a uvarint. */
export const PEER_RECORD_PAYLOAD_TYPE = Uint8Array.of(0x03, 0x01)

export interface Envelope {
  /** The signer's `PublicKey` protobuf. */
  publicKey: Uint8Array
  payloadType: Uint8Array
  payload: Uint8Array
  signature: Uint8Array
}

export interface PeerRecord {
  /** Binary peer id (its multihash). */
  peerId: Uint8Array
  /** Sequence number: higher is newer. */
  seq: bigint
  /** Binary multiaddrs. */
  addresses: Uint8Array[]
}

export function encodeEnvelope (e: Envelope): Uint8Array {
  return new ProtoWriter()
    .bytes(EnvelopeField.publicKey, e.publicKey)
    .bytes(EnvelopeField.payloadType, e.payloadType)
    .bytes(EnvelopeField.payload, e.payload)
    .bytes(EnvelopeField.signature, e.signature)
    .finish()
}

export function decodeEnvelope (buf: Uint8Array): Envelope {
  const e: Envelope = { publicKey: EMPTY, payloadType: EMPTY, payload: EMPTY, signature: EMPTY }
  for (const f of decodeFields(buf)) {
    switch (f.field) {
      case EnvelopeField.publicKey: e.publicKey = lengthDelimited(f, 'envelope', 'public_key'); break
      case EnvelopeField.payloadType: e.payloadType = lengthDelimited(f, 'envelope', 'payload_type'); break
      case EnvelopeField.payload: e.payload = lengthDelimited(f, 'envelope', 'payload'); break
      case EnvelopeField.signature: e.signature = lengthDelimited(f, 'envelope', 'signature'); break
    }
  }
  return e
}

export function encodePeerRecord (r: PeerRecord): Uint8Array {
  const w = new ProtoWriter().bytes(PeerRecordField.peerId, r.peerId).uint64(PeerRecordField.seq, r.seq)
  for (const a of r.addresses) {
    w.bytes(PeerRecordField.addresses, new ProtoWriter().bytes(AddressInfoField.multiaddr, a).finish())
  }
  return w.finish()
}

export function decodePeerRecord (buf: Uint8Array): PeerRecord {
  const r: PeerRecord = { peerId: EMPTY, seq: 0n, addresses: [] }
  for (const f of decodeFields(buf, { uint64: true })) {
    switch (f.field) {
      case PeerRecordField.peerId: r.peerId = lengthDelimited(f, 'peer record', 'peer_id'); break
      case PeerRecordField.seq:
        if (f.wireType !== WireType.Varint) throw wrongType('peer record', 'seq', 0, f.wireType)
        r.seq = f.value64 ?? 0n
        break
      case PeerRecordField.addresses: {
        let addr: Uint8Array = EMPTY
        for (const g of decodeFields(lengthDelimited(f, 'peer record', 'addresses'))) {
          if (g.field === AddressInfoField.multiaddr) addr = lengthDelimited(g, 'peer record address', 'multiaddr')
        }
        r.addresses.push(addr)
        break
      }
    }
  }
  return r
}

/** The bytes an envelope's signature covers (RFC 0002). */
export function envelopeSignedBytes (domain: string, payloadType: Uint8Array, payload: Uint8Array): Uint8Array {
  const d = new TextEncoder().encode(domain)
  return concatBytes([
    encodeUvarint(d.length),
    d,
    encodeUvarint(payloadType.length),
    payloadType,
    encodeUvarint(payload.length),
    payload
  ])
}

const EMPTY: Uint8Array = new Uint8Array(0)

function lengthDelimited (f: ProtoField, message: string, name: string): Uint8Array {
  if (f.wireType !== WireType.LengthDelimited) throw wrongType(message, name, 2, f.wireType)
  return new Uint8Array(f.bytes)
}

function wrongType (message: string, name: string, expected: number, got: number): CodecError {
  return new CodecError(
    'ERR_PROTOBUF_MALFORMED',
    `${message}: field "${name}" expected wire type ${expected}, got ${got}`
  )
}
