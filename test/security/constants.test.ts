/** Pins the Noise numbers (noise/README.md, Noise rev 34, go rw.go) so a change is deliberate. */
import { expect, it } from 'vitest'
import * as C from '../../src/security/constants.js'

it('pins the protocol constants', () => {
  expect(C.PROTOCOL_ID).toBe('/noise')
  expect(C.PROTOCOL_NAME).toBe('Noise_XX_25519_ChaChaPoly_SHA256')
  expect(new TextEncoder().encode(C.PROTOCOL_NAME)).toHaveLength(32) // h = name, unhashed
  expect(C.SIGNATURE_PREFIX).toBe('noise-libp2p-static-key:')
  expect(C.SIGNATURE_PREFIX).toHaveLength(24)
  expect(C.MAX_NOISE_MESSAGE_LENGTH).toBe(65535)
  expect(C.TAG_LENGTH).toBe(16)
  expect(C.MAX_PLAINTEXT_LENGTH).toBe(65519)
  expect(C.LENGTH_PREFIX_BYTES).toBe(2)
  expect([C.DH_LENGTH, C.HASH_LENGTH, C.KEY_LENGTH]).toEqual([32, 32, 32])
  expect(C.MAX_NONCE).toBe(2 ** 53 - 1)
  expect(C.DEFAULT_HANDSHAKE_TIMEOUT_MS).toBe(10_000)
  expect(C.DEFAULT_MUXERS).toEqual(['/yamux/1.0.0'])
  expect(C.MAX_STREAM_MUXERS).toBe(100)
})
