/**
 * Peer ids (libp2p/specs peer-ids/peer-ids.md §"Peer Ids").
 *
 * A peer id is the multihash of the `PublicKey` protobuf: the identity multihash when the encoding
 * is at most 42 bytes (Ed25519 → `12D3KooW…`, secp256k1 → `16Uiu2HA…`), SHA-256 otherwise (RSA,
 * ECDSA → `Qm…`). Text forms (we MUST parse both, and print the legacy one):
 *  1. legacy: base58btc of the bare multihash, no multibase prefix;
 *  2. CIDv1: multibase(`01` ‖ `72` libp2p-key ‖ multihash), printed in base32 (`bafz…`).
 *
 * `multiformats` provides base58btc, base32/base36, CID and multihash framing; it is used only here
 * (and in transport/multiaddr.ts).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { KeyError, toError } from '../errors.js'
import { unmarshalPublicKey } from './keys.js'
import type { PublicKey } from './keys.js'

/** peer-ids.md §"Peer Ids": encodings up to this length are inlined (identity multihash). */
export const MAX_INLINE_KEY_LENGTH = 42
/** multicodec table: `identity`, `sha2-256`, `libp2p-key`. */
export const IDENTITY_CODE = 0x00
export const SHA2_256_CODE = 0x12
export const LIBP2P_KEY_CODEC = 0x72

const cidDecoder = base32.decoder.or(base36.decoder).or(base58btc.decoder)

function invalidPeerId (detail: string, cause?: unknown): KeyError {
  return new KeyError('ERR_INVALID_PEER_ID', detail, cause === undefined ? undefined : { cause })
}

export class PeerId {
  /** The multihash bytes (identity or sha2-256). */
  readonly multihash: Uint8Array
  /**
   * The public key, when known: always for an identity multihash (it is inlined), and for ids built
   * with `fromPublicKey`. Undefined for a parsed sha2-256 id (RSA/ECDSA) until the key is learnt.
   */
  readonly publicKey: PublicKey | undefined
  private text: string | undefined

  private constructor (multihash: Uint8Array, publicKey: PublicKey | undefined) {
    this.multihash = multihash
    this.publicKey = publicKey
  }

  /** peer-ids.md §"Peer Ids": identity multihash up to 42 encoded bytes, SHA-256 above. */
  static fromPublicKey (publicKey: PublicKey): PeerId {
    const encoded = publicKey.bytes()
    const digest = encoded.length <= MAX_INLINE_KEY_LENGTH
      ? Digest.create(IDENTITY_CODE, encoded)
      : Digest.create(SHA2_256_CODE, sha256(encoded))
    return new PeerId(digest.bytes, publicKey)
  }

  /**
   * From multihash bytes. Accepts an identity multihash that inlines a valid public key of at most
   * 42 bytes, or a 32-byte sha2-256 multihash (what js-libp2p accepts). KeyError ERR_INVALID_PEER_ID.
   */
  static fromMultihash (bytes: Uint8Array): PeerId {
    let digest: Digest.Digest<number, number>
    try {
      digest = Digest.decode(bytes)
    } catch (err) {
      throw invalidPeerId(`not a multihash (${toError(err).message})`, err)
    }
    if (digest.code === IDENTITY_CODE) {
      if (digest.size > MAX_INLINE_KEY_LENGTH) {
        throw invalidPeerId(`identity multihash expected <= ${MAX_INLINE_KEY_LENGTH} bytes of key, got ${digest.size}`)
      }
      let key: PublicKey
      try {
        key = unmarshalPublicKey(digest.digest)
      } catch (err) {
        throw invalidPeerId(`identity multihash does not hold a valid public key: ${toError(err).message}`, err)
      }
      return new PeerId(Uint8Array.from(bytes), key)
    }
    if (digest.code === SHA2_256_CODE) {
      if (digest.size !== 32) throw invalidPeerId(`sha2-256 multihash expected 32 bytes of digest, got ${digest.size}`)
      return new PeerId(Uint8Array.from(bytes), undefined)
    }
    throw invalidPeerId(`multihash code expected 0x00 (identity) or 0x12 (sha2-256), got 0x${digest.code.toString(16)}`)
  }

  /**
   * Parse either text form (peer-ids.md §"Decoding"): a string starting with `1` or `Qm` is a bare
   * base58btc multihash; anything else must be a multibase CIDv1 with the libp2p-key codec (0x72).
   */
  static parse (text: string): PeerId {
    if (text.startsWith('1') || text.startsWith('Qm')) {
      let mh: Uint8Array
      try {
        mh = base58btc.baseDecode(text)
      } catch (err) {
        throw invalidPeerId(`"${text}" is not valid base58btc`, err)
      }
      return PeerId.fromMultihash(mh)
    }
    let cid: CID
    try {
      cid = CID.parse(text, cidDecoder)
    } catch (err) {
      throw invalidPeerId(`"${text}" is neither a base58btc peer id (1…/Qm…) nor a CID: ${toError(err).message}`, err)
    }
    if (cid.version !== 1 || cid.code !== LIBP2P_KEY_CODEC) {
      throw invalidPeerId(
        `"${text}": CID expected version 1 with codec 0x72 (libp2p-key), got version ${cid.version} codec 0x${
          cid.code.toString(16)
        }`
      )
    }
    return PeerId.fromMultihash(cid.multihash.bytes)
  }

  /** The legacy text form: base58btc of the multihash (what every implementation prints). */
  toString (): string {
    if (this.text === undefined) {
      const text = base58btc.baseEncode(this.multihash)
      // base-x builds the text one character at a time: a rope of ~50 V8 cons cells (1.3 KB, measured
      // in a heap snapshot: 10 % of an idle connection) that every connection keeps through its peer
      // id. Reading a character flattens it in place into one 52-byte string.
      text.charCodeAt(0)
      this.text = text
    }
    return this.text
  }

  /** The CIDv1 text form in base32 (`bafz…`). */
  toCid (): string {
    return CID.createV1(LIBP2P_KEY_CODEC, Digest.decode(this.multihash)).toString(base32)
  }

  toJSON (): string {
    return this.toString()
  }

  equals (other: PeerId | undefined | null): boolean {
    if (other == null) return false
    const a = this.multihash
    const b = other.multihash
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
}
