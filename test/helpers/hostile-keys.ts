/**
 * Keys an attacker presents without owning them: an RSA public key of any size (no key pair is
 * generated: an RSA-16384 key takes minutes), and an identity that shows a given public key and
 * signs with garbage. For CVE-2023-39533 tests (test/security/advisories.test.ts and
 * test/integration/advisories.test.ts).
 */
import { randomBytes } from 'node:crypto'
import { encodeKeyMessage, KeyType } from '../../src/proto/keys.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { PrivateKey } from '../../src/security/keys.js'

// ── a minimal DER writer for one RSA SubjectPublicKeyInfo ──
function derLength (n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n)
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Uint8Array.of(0x80 | bytes.length, ...bytes)
}
const tlv = (tag: number, ...parts: Uint8Array[]): Uint8Array => {
  const body = Buffer.concat(parts)
  return new Uint8Array(Buffer.concat([Uint8Array.of(tag), derLength(body.length), body]))
}
const RSA_ENCRYPTION = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01)

/**
 * The libp2p PublicKey protobuf of an RSA key with a `bits`-bit modulus. No key pair is generated
 * (an RSA-16384 key takes minutes): a random odd modulus parses like any other.
 */
export function rsaPublicKeyOfBits (bits: number): Uint8Array {
  const n = randomBytes(bits / 8)
  n[0] = (n[0] as number) | 0x80
  n[n.length - 1] = (n[n.length - 1] as number) | 1
  const rsaKey = tlv(0x30, tlv(0x02, Uint8Array.of(0), n), tlv(0x02, Uint8Array.of(0x01, 0x00, 0x01)))
  const spki = tlv(0x30, tlv(0x30, RSA_ENCRYPTION, Uint8Array.of(0x05, 0x00)), tlv(0x03, Uint8Array.of(0), rsaKey))
  return encodeKeyMessage({ type: KeyType.RSA, data: spki })
}

/** An identity that presents `publicKey` and signs with garbage of `sigBytes` (an attacker needs no real key). */
export function fakeIdentity (publicKey: Uint8Array, sigBytes = 2048): PrivateKey {
  const real = generateEd25519()
  return {
    ...real,
    type: KeyType.RSA,
    publicKey: { ...real.publicKey, bytes: () => publicKey },
    sign: () => randomBytes(sigBytes)
  } as unknown as PrivateKey
}
