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

/** Verify the payload signature over the remote static key. NoiseError ERR_INVALID_SIGNATURE on failure. */
export function verifyStaticKeySignature (key: PublicKey, signature: Uint8Array, remoteStaticKey: Uint8Array): void {
  if (!key.verify(staticKeySignedBytes(remoteStaticKey), signature)) {
    throw new NoiseError(
      'ERR_INVALID_SIGNATURE',
      `noise: bad signature in the peer's handshake payload: "identity_sig" is not a valid signature by the ${key.toString()} over "${SIGNATURE_PREFIX}" ‖ the remote static key (${signature.length}-byte signature)`
    )
  }
}
