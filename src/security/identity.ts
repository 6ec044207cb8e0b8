/**
 * Binding the Noise static key to the libp2p identity (noise/README.md §"Static Key Authentication";
 * libp2p specs noise/README.md §Static Key Authentication): the identity key signs `"noise-libp2p-static-key:" ‖ static
 * public key`; the receiver
 * verifies that signature over the static key the handshake delivered (`rs`).
 */
import { NoiseError, toError } from '../errors.js'
import { encodeNoiseHandshakePayload } from '../proto/noise-payload.js'
import type { NoiseExtensions, NoiseHandshakePayload } from '../proto/noise-payload.js'
import { SIGNATURE_PREFIX } from './constants.js'
import { unmarshalPublicKey } from './keys.js'
import type { PrivateKey, PublicKey } from './keys.js'

const PREFIX = new TextEncoder().encode(SIGNATURE_PREFIX)

/** The signed bytes: prefix (24 bytes) ‖ X25519 static public key (32 bytes). */
export function staticKeySignedBytes (staticPublicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREFIX.length + staticPublicKey.length)
  out.set(PREFIX)
  out.set(staticPublicKey, PREFIX.length)
  return out
}

/** Our handshake payload: identity key, signature over the static key, optional extensions. */
export function createHandshakePayload (
  identity: PrivateKey,
  staticPublicKey: Uint8Array,
  extensions?: NoiseExtensions
): Uint8Array {
  const payload: NoiseHandshakePayload = {
    identityKey: identity.publicKey.bytes(),
    identitySig: identity.sign(staticKeySignedBytes(staticPublicKey))
  }
  if (extensions !== undefined) payload.extensions = extensions
  return encodeNoiseHandshakePayload(payload)
}

/** The remote identity key of a decoded payload. NoiseError ERR_NOISE_HANDSHAKE when it does not parse. */
export function payloadIdentityKey (payload: NoiseHandshakePayload): PublicKey {
  try {
    return unmarshalPublicKey(payload.identityKey)
  } catch (err) {
    throw new NoiseError(
      'ERR_NOISE_HANDSHAKE',
      `noise: handshake payload: "identity_key" is not a valid public key: ${toError(err).message}`,
      { cause: err }
    )
  }
}

/**
 * Static-key signatures that verified, so that a peer met again is not verified again. The Noise
 * static key may be reused across connections (noise/README.md §"Static Key Authentication": one per
 * process is what js and switchyard do), so a reconnecting peer sends the very same identity key,
 * signature and static key; an Ed25519 verification is ~130 µs on Node 20, the largest single cost
 * of a warm setup after the DHs. `verify` is a pure function of those bytes, so remembering a `true`
 * skips no check: a hit needs the exact triple that verified before, and the handshake still proves
 * possession of the static private key (es/se). Failures are never remembered. Bounded, least
 * recently used first out.
 */
export class VerifiedSignatures {
  readonly maxEntries: number
  private readonly entries = new Map<string, true>()

  constructor (maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new RangeError(`"maxEntries" expected a non-negative integer, got ${maxEntries}`)
    }
    this.maxEntries = maxEntries
  }

  get size (): number { return this.entries.size }

  /** True when `key` signed `"noise-libp2p-static-key:" ‖ remoteStaticKey` with `signature`. */
  verify (key: PublicKey, signature: Uint8Array, remoteStaticKey: Uint8Array): boolean {
    const id = cacheKey(key.bytes(), signature, remoteStaticKey)
    if (this.entries.delete(id)) {
      this.entries.set(id, true)
      return true
    }
    if (!key.verify(staticKeySignedBytes(remoteStaticKey), signature)) return false
    if (this.maxEntries === 0) return true
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(id, true)
    return true
  }

  clear (): void { this.entries.clear() }
}

/** Lengths first, so that no two triples share a key. Latin-1: one char per byte, no hashing. */
function cacheKey (key: Uint8Array, signature: Uint8Array, remoteStaticKey: Uint8Array): string {
  const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1')
  const lengths = `${key.length},${signature.length},${remoteStaticKey.length}:`
  return lengths + latin1(key) + latin1(signature) + latin1(remoteStaticKey)
}

/**
 * The process's memo of verified static-key signatures (VerifiedSignatures): 256 peers — ~50 KiB for Ed25519
 * peers, ~0.6 MiB at most if all were RSA-8192 (the largest key a handshake accepts, CVE-2023-39533).
 */
export const verifiedSignatures = new VerifiedSignatures(256)

/** Verify the payload signature over the remote static key. NoiseError ERR_INVALID_SIGNATURE on failure. */
export function verifyStaticKeySignature (key: PublicKey, signature: Uint8Array, remoteStaticKey: Uint8Array): void {
  if (!verifiedSignatures.verify(key, signature, remoteStaticKey)) {
    throw new NoiseError(
      'ERR_INVALID_SIGNATURE',
      `noise: bad signature in the peer's handshake payload: "identity_sig" is not a valid signature by the ${key.toString()} over "${SIGNATURE_PREFIX}" ‖ the remote static key (${signature.length}-byte signature)`
    )
  }
}
