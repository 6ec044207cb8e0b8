/**
 * Noise for libp2p, the numbers. Sources: libp2p/specs noise/README.md (r5), the Noise spec (rev 34),
 * go-libp2p p2p/security/noise/rw.go. Pinned by test/security/constants.test.ts.
 */

/** multistream-select id of this secure channel (noise/README.md §"Negotiation"). */
export const PROTOCOL_ID = '/noise'

/** noise/README.md §"Cryptographic Primitives": the one handshake libp2p speaks. 32 bytes, so `h` = name. */
export const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'

/** noise/README.md §"Static Key Authentication": prefix of the signed bytes. */
export const SIGNATURE_PREFIX = 'noise-libp2p-static-key:'

/** Noise §3: a Noise message is at most 65535 bytes. */
export const MAX_NOISE_MESSAGE_LENGTH = 0xffff

/** ChaCha20-Poly1305 authentication tag (Noise §5.1 `ENCRYPT` output = plaintext + 16). */
export const TAG_LENGTH = 16

/** go `MaxPlaintextLength`, js `NOISE_MSG_MAX_LENGTH_BYTES_WITHOUT_TAG`: 65535 - 16 = 65519. */
export const MAX_PLAINTEXT_LENGTH = MAX_NOISE_MESSAGE_LENGTH - TAG_LENGTH

/** noise/README.md §"Wire Format": every Noise message is preceded by a 2-byte big-endian length. */
export const LENGTH_PREFIX_BYTES = 2

/** X25519 key and DH output length (Noise §12.1 `DHLEN`). */
export const DH_LENGTH = 32

/** SHA-256 output length (Noise §12.4 `HASHLEN`). */
export const HASH_LENGTH = 32

/** ChaChaPoly key length. */
export const KEY_LENGTH = 32

/**
 * First nonce value we refuse to use. Noise §5.1 reserves n = 2^64 - 1; we count with a JS number, so
 * we stop at 2^53 - 1 instead (js-libp2p-noise stops at 2^32 - 1). Unreachable in practice: at
 * ten million frames per second it takes 28 years. Reaching it closes the connection.
 */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER

/** Default handshake deadline (go and js use 10 s / 20 s; we use go's). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** Muxers announced in `stream_muxers` by default (go announces exactly this list). */
export const DEFAULT_MUXERS: readonly string[] = ['/yamux/1.0.0']

/** go `maxProtoNum`: a longer `stream_muxers` list from the peer is ignored (treated as absent). */
export const MAX_STREAM_MUXERS = 100
