/**
 * The key protobufs of the peer-id spec (libp2p/specs peer-ids/peer-ids.md §Keys):
 *
 *   enum KeyType { RSA = 0; Ed25519 = 1; Secp256k1 = 2; ECDSA = 3; }
 *   message PublicKey  { required KeyType Type = 1; required bytes Data = 2; }
 *   message PrivateKey { required KeyType Type = 1; required bytes Data = 2; }
 *
 * The spec demands a deterministic encoding, stricter than protobuf: minimal varints, fields in tag
 * order, both fields present (Type = 0 for RSA is written as `08 00`), no other fields. A public key
 * is therefore always `08 <type> 12 <uvarint len> <data>` — the bytes a peer id is derived from.
 *
 * The decoder is strict in the same way: it accepts exactly that shape and nothing else, so a key
 * has a single encoding and therefore a single peer id (go and rust decode leniently; a lenient
 * decode that re-encodes differently would let one key map to two ids).
 */
import { decodeFields, ProtoWriter, WireType } from '../codec/protobuf.js'
import { CodecError, KeyError } from '../errors.js'

/** peer-ids.md §Keys `enum KeyType`. */
export const KeyType = {
  RSA: 0,
  Ed25519: 1,
  Secp256k1: 2,
  ECDSA: 3
} as const
export type KeyType = typeof KeyType[keyof typeof KeyType]

const KEY_TYPE_NAMES: Record<KeyType, string> = { 0: 'RSA', 1: 'Ed25519', 2: 'Secp256k1', 3: 'ECDSA' }

/** Human name of a key type, e.g. `Ed25519`. */
export function keyTypeName (type: KeyType): string {
  return KEY_TYPE_NAMES[type]
}

export function isKeyType (n: number): n is KeyType {
  return n === 0 || n === 1 || n === 2 || n === 3
}

/** A decoded `PublicKey` or `PrivateKey` message: the type and the type-specific `Data`. */
export interface KeyMessage {
  type: KeyType
  data: Uint8Array
}

/** peer-ids.md §Keys field numbers. */
const FIELD_TYPE = 1
const FIELD_DATA = 2

/** Deterministic encoding of a `PublicKey` or `PrivateKey` message (same wire shape). */
export function encodeKeyMessage (msg: KeyMessage): Uint8Array {
  return new ProtoWriter().varint(FIELD_TYPE, msg.type).bytes(FIELD_DATA, msg.data).finish()
}

/**
 * Decode a `PublicKey`/`PrivateKey` message, accepting only the deterministic encoding.
 * `what` names the message in errors ("public key", "private key").
 * Throws KeyError ERR_INVALID_KEY (malformed) or ERR_UNSUPPORTED_KEY_TYPE (unknown enum value).
 */
export function decodeKeyMessage (bytes: Uint8Array, what: string): KeyMessage {
  let fields
  try {
    fields = decodeFields(bytes)
  } catch (err) {
    throw new KeyError('ERR_INVALID_KEY', `${what}: not a protobuf message (${(err as CodecError).message})`, {
      cause: err
    })
  }
  const [t, d] = fields
  if (fields.length !== 2 || t === undefined || d === undefined ||
      t.field !== FIELD_TYPE || t.wireType !== WireType.Varint ||
      d.field !== FIELD_DATA || d.wireType !== WireType.LengthDelimited) {
    const got = fields.map(f => `${f.field}:${f.wireType}`).join(', ')
    throw new KeyError(
      'ERR_INVALID_KEY',
      `${what}: expected exactly Type (1, varint) then Data (2, bytes), got fields [${got}]`
    )
  }
  if (!isKeyType(t.value)) {
    throw new KeyError(
      'ERR_UNSUPPORTED_KEY_TYPE',
      `${what}: "Type" expected 0 (RSA), 1 (Ed25519), 2 (Secp256k1) or 3 (ECDSA), got ${t.value}`
    )
  }
  // decodeFields already refuses non-minimal varints, so the re-encoding matches byte for byte.
  return { type: t.value, data: d.bytes }
}
