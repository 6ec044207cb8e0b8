/**
 * `switchyard/security/noise`: libp2p's Noise XX (libp2p specs noise/README.md) in its three
 * layers — the Noise §5 state objects (HandshakeState), the sans-I/O libp2p handshake machine
 * (XXHandshake: payloads, signatures, early muxer negotiation) and the adapter over a ByteConnection
 * (secureOutbound/secureInbound, and `noise()` as the switch's SecurityProtocol).
 */
export { noise, NOISE_MAX_PREAUTH_BYTES } from './noise.js'
export type { NoiseInit } from './noise.js'
export { secureInbound, secureOutbound, NoiseConnection } from './secure-connection.js'
export type { SecureOptions, SecureResult } from './secure-connection.js'
export { XXHandshake, frameMessage, selectMuxer } from './handshake-xx.js'
export type { XXHandshakeOptions, XXHandshakeResult, XXStep } from './handshake-xx.js'
export { HandshakeState, XX_PATTERN } from './handshake-state.js'
export type { HandshakeStateInit, MessagePattern, Token } from './handshake-state.js'
export { createHandshakePayload, staticKeySignedBytes, verifyStaticKeySignature } from './identity.js'
export { nodeSuite, nobleSuite } from './suite.js'
export type { CryptoSuite, X25519KeyPair } from './suite.js'
export {
  PROTOCOL_ID, PROTOCOL_NAME, SIGNATURE_PREFIX, MAX_NOISE_MESSAGE_LENGTH, MAX_PLAINTEXT_LENGTH,
  DEFAULT_HANDSHAKE_TIMEOUT_MS
} from './constants.js'
export { decodeNoiseHandshakePayload, encodeNoiseHandshakePayload } from '../proto/noise-payload.js'
export type { NoiseExtensions, NoiseHandshakePayload } from '../proto/noise-payload.js'
export { NoiseError } from '../errors.js'
