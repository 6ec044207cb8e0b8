/**
 * The Identify message (libp2p/specs identify/README.md §"The Identify Message";
 * go-libp2p p2p/protocol/identify/pb/identify.proto):
 *
 *   message Identify {
 *     optional string protocolVersion  = 5;
 *     optional string agentVersion     = 6;
 *     optional bytes  publicKey        = 1;  // PublicKey protobuf (peer-ids spec)
 *     repeated bytes  listenAddrs      = 2;  // binary multiaddrs
 *     optional bytes  observedAddr     = 4;  // binary multiaddr
 *     repeated string protocols        = 3;
 *     optional bytes  signedPeerRecord = 8;  // go/js extension
 *   }
 *
 * Encoding: fields in field-number order (1, 2, 3, 4, 5, 6, 8), as go's protobuf-go writes them.
 * js-libp2p (protons) writes them in declaration order (5, 6, 1, 2, 4, 3, 8); both are valid
 * protobuf and each side decodes the other (pinned by test/proto/identify.test.ts).
 *
 * Decoding is proto2 with the strictness a peer-supplied message deserves:
 *  - a known field with the wrong wire type, invalid UTF-8 in a string, or truncated/malformed
 *    bytes → CodecError ERR_PROTOBUF_MALFORMED (never another exception);
 *  - unknown fields are skipped (protobuf's rule; newer peers may add fields);
 *  - a scalar seen twice keeps the last value, repeated fields append — protobuf merge semantics,
 *    so `decodeIdentify(a ‖ b)` equals `mergeIdentify(decodeIdentify(a), decodeIdentify(b))`.
 * What the bytes *mean* (a valid key, valid multiaddrs) is checked by the layers that own those
 * formats, not here.
 */
import { decodeFields, decodeString, ProtoWriter, WireType } from '../codec/protobuf.js'
import { CodecError } from '../errors.js'

/** identify.proto field numbers. */
export const IdentifyField = {
  publicKey: 1,
  listenAddrs: 2,
  protocols: 3,
  observedAddr: 4,
  protocolVersion: 5,
  agentVersion: 6,
  signedPeerRecord: 8
} as const

/**
 * A decoded (or to-be-encoded) Identify message. Absent optional fields are `undefined`, which is
 * not the same as present-and-empty: identify-push relies on the difference.
 */
export interface IdentifyMessage {
  protocolVersion?: string
  agentVersion?: string
  /** The sender's `PublicKey` protobuf (peer-ids spec §Keys). */
  publicKey?: Uint8Array
  /** Binary multiaddrs the sender listens on. */
  listenAddrs: Uint8Array[]
  /** Binary multiaddr of the receiver as the sender sees it. */
  observedAddr?: Uint8Array
  /** Protocol ids the sender accepts inbound streams for. */
  protocols: string[]
  /** Signed envelope holding a PeerRecord (passed through, not verified here). */
  signedPeerRecord?: Uint8Array
}

/** A message with no fields set. */
export function emptyIdentify (): IdentifyMessage {
  return { listenAddrs: [], protocols: [] }
}

/** Protobuf encoding of `msg`, fields in field-number order. */
export function encodeIdentify (msg: IdentifyMessage): Uint8Array {
  const w = new ProtoWriter()
  if (msg.publicKey !== undefined) w.bytes(IdentifyField.publicKey, msg.publicKey)
  for (const a of msg.listenAddrs) w.bytes(IdentifyField.listenAddrs, a)
  for (const p of msg.protocols) w.string(IdentifyField.protocols, p)
  if (msg.observedAddr !== undefined) w.bytes(IdentifyField.observedAddr, msg.observedAddr)
  if (msg.protocolVersion !== undefined) w.string(IdentifyField.protocolVersion, msg.protocolVersion)
  if (msg.agentVersion !== undefined) w.string(IdentifyField.agentVersion, msg.agentVersion)
  if (msg.signedPeerRecord !== undefined) w.bytes(IdentifyField.signedPeerRecord, msg.signedPeerRecord)
  return w.finish()
}

const FIELD_NAMES: Record<number, string> = {
  1: 'publicKey',
  2: 'listenAddrs',
  3: 'protocols',
  4: 'observedAddr',
  5: 'protocolVersion',
  6: 'agentVersion',
  8: 'signedPeerRecord'
}

/**
 * Decode one Identify message. Byte fields are copies: a decoded message is usually kept (peer
 * store), and a view would pin the whole frame it arrived in.
 */
export function decodeIdentify (buf: Uint8Array): IdentifyMessage {
  const msg = emptyIdentify()
  for (const f of decodeFields(buf)) {
    const name = FIELD_NAMES[f.field]
    if (name === undefined) continue // unknown field: skip
    if (f.wireType !== WireType.LengthDelimited) {
      throw new CodecError(
        'ERR_PROTOBUF_MALFORMED',
        `identify: field ${f.field} ("${name}") expected wire type 2 (length-delimited), got ${f.wireType}`
      )
    }
    switch (f.field) {
      case IdentifyField.publicKey:
        msg.publicKey = copy(f.bytes)
        break
      case IdentifyField.listenAddrs:
        msg.listenAddrs.push(copy(f.bytes))
        break
      case IdentifyField.protocols:
        msg.protocols.push(decodeString(f.bytes, 'identify "protocols" entry'))
        break
      case IdentifyField.observedAddr:
        msg.observedAddr = copy(f.bytes)
        break
      case IdentifyField.protocolVersion:
        msg.protocolVersion = decodeString(f.bytes, 'identify "protocolVersion"')
        break
      case IdentifyField.agentVersion:
        msg.agentVersion = decodeString(f.bytes, 'identify "agentVersion"')
        break
      case IdentifyField.signedPeerRecord:
        msg.signedPeerRecord = copy(f.bytes)
        break
    }
  }
  return msg
}

/**
 * A plain `Uint8Array` copy. (`slice()` would not do: on a Node `Buffer`, the type socket data often
 * arrives as, `slice()` returns a view.)
 */
function copy (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

/**
 * Protobuf merge (`proto.Merge`): set scalars in `next` replace those in `base`, repeated fields
 * append. This is how the several length-prefixed messages of one identify stream combine
 * (identify README §"Identify"; go `readAllIDMessages`). Returns a new message.
 */
export function mergeIdentify (base: IdentifyMessage, next: IdentifyMessage): IdentifyMessage {
  return {
    ...withDefined(base),
    ...withDefined(next),
    listenAddrs: [...base.listenAddrs, ...next.listenAddrs],
    protocols: [...base.protocols, ...next.protocols]
  }
}

/**
 * Apply an identify-push update to what we knew about a peer (identify README §"identify/push":
 * a push may be partial, carrying only what changed): every field the update sets replaces ours — a
 * non-empty repeated field replaces the whole list, an empty one leaves it unchanged.
 * Returns a new message.
 */
export function applyIdentifyUpdate (current: IdentifyMessage, update: IdentifyMessage): IdentifyMessage {
  return {
    ...withDefined(current),
    ...withDefined(update),
    listenAddrs: update.listenAddrs.length > 0 ? [...update.listenAddrs] : [...current.listenAddrs],
    protocols: update.protocols.length > 0 ? [...update.protocols] : [...current.protocols]
  }
}

/** The optional fields of `m` that are set (so spreading never copies an explicit `undefined`). */
function withDefined (m: IdentifyMessage): Partial<IdentifyMessage> {
  const out: Partial<IdentifyMessage> = {}
  if (m.protocolVersion !== undefined) out.protocolVersion = m.protocolVersion
  if (m.agentVersion !== undefined) out.agentVersion = m.agentVersion
  if (m.publicKey !== undefined) out.publicKey = m.publicKey
  if (m.observedAddr !== undefined) out.observedAddr = m.observedAddr
  if (m.signedPeerRecord !== undefined) out.signedPeerRecord = m.signedPeerRecord
  return out
}

/**
 * Encode `msg` as one message when it fits in `maxMessageBytes`, else as several, each within the
 * limit, whose protobuf merge is `msg` again. This works because a protobuf message is a
 * concatenation of fields: cutting the field-ordered encoding between fields gives messages that
 * merge back (repeated fields append in order, each scalar occurs once).
 * go-libp2p splits the same way, only coarser (`signedPeerRecord` alone in a second message when
 * the whole exceeds 2 KiB). Readers that take only one message (rust, nim) still see every field
 * whenever it fits one message — the common case. Throws RangeError when one field alone is larger
 * than `maxMessageBytes`.
 */
export function encodeIdentifyMessages (msg: IdentifyMessage, maxMessageBytes: number): Uint8Array[] {
  const whole = encodeIdentify(msg)
  if (whole.length <= maxMessageBytes) return [whole]
  const out: Uint8Array[] = []
  let start = 0
  let end = 0
  // decodeFields hands back views in wire order; a field's encoding ends where its bytes end.
  for (const f of decodeFields(whole)) {
    const fieldEnd = f.bytes.byteOffset - whole.byteOffset + f.bytes.length
    if (fieldEnd - end > maxMessageBytes) {
      throw new RangeError(
        `"identify field ${f.field}" expected an encoding of <= ${maxMessageBytes} bytes, got ${fieldEnd - end}`
      )
    }
    if (fieldEnd - start > maxMessageBytes) {
      out.push(whole.subarray(start, end))
      start = end
    }
    end = fieldEnd
  }
  out.push(whole.subarray(start, end))
  return out
}
