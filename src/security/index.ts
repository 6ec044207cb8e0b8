/**
 * The secure channel (`/noise`) and peer identities: what the rest of the stack uses.
 */
export { PROTOCOL_ID, PROTOCOL_NAME, MAX_PLAINTEXT_LENGTH, MAX_NOISE_MESSAGE_LENGTH, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MUXERS } from './constants.js'
export {
  KeyType, keyTypeName,
  generateEd25519, generateSecp256k1, generateEcdsa, generateRsa,
  unmarshalPublicKey, unmarshalPrivateKey, publicKeyFromRaw, privateKeyFromRaw
} from './keys.js'
export type { PublicKey, PrivateKey } from './keys.js'
export { loadPrivateKeyFile, savePrivateKeyFile } from './key-file.js'
export { PeerId } from './peer-id.js'
export { secureInbound, secureOutbound, NoiseConnection } from './secure-connection.js'
export type { SecureOptions, SecureResult } from './secure-connection.js'
export { nodeSuite, nobleSuite } from './suite.js'
export type { CryptoSuite, X25519KeyPair } from './suite.js'
export { selectMuxer } from './handshake-xx.js'
export type { NoiseExtensions } from '../proto/noise-payload.js'
export { tlsSecurity, TlsConnection } from './tls/connection.js'
export type { TlsSecurityOptions } from './tls/connection.js'
export { PROTOCOL_ID as TLS_PROTOCOL_ID } from './tls/constants.js'
export { noise, NOISE_MAX_PREAUTH_BYTES } from './noise.js'
export type { NoiseInit } from './noise.js'
