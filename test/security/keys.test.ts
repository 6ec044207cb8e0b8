/**
 * Identity keys: the peer-id spec vectors for all four key types, signatures per type (including
 * signatures made by go-libp2p and by js-libp2p), malformed keys, and key generation.
 */
import { describe, expect, it } from 'vitest'
import {
  generateKeyPair,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
  publicKeyFromProtobuf,
  publicKeyToProtobuf
} from '@libp2p/crypto/keys'
import { encodeKeyMessage } from '../../src/proto/keys.js'
import { KeyError } from '../../src/errors.js'
import {
  generateEcdsa, generateEd25519, generateRsa, generateSecp256k1, KeyType, PeerId,
  privateKeyFromRaw, unmarshalPrivateKey, unmarshalPublicKey
} from '../../src/security/index.js'
import type { PrivateKey } from '../../src/security/index.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hex, KEY_VECTORS, SIGNED_PAYLOAD_VECTOR, unhex } from './vectors.js'

const msg = new TextEncoder().encode('noise-libp2p-static-key:hello')

describe.each(KEY_VECTORS.map(v => [v.name, v] as const))('peer-ids.md vector: %s', (_name, v) => {
  const priv = unmarshalPrivateKey(unhex(v.privateKey))
  const pub = unmarshalPublicKey(unhex(v.publicKey))

  it('derives the vector public key from the private key (spec: SHOULD check)', () => {
    expect(hex(priv.publicKey.bytes())).toBe(v.publicKey)
    expect(priv.publicKey.equals(pub)).toBe(true)
  })

  it('re-encodes both protobufs byte for byte', () => {
    expect(hex(pub.bytes())).toBe(v.publicKey)
    expect(hex(priv.bytes())).toBe(v.privateKey.toLowerCase())
  })

  it('signs, and the public key verifies; a changed message or signature does not verify', () => {
    const sig = priv.sign(msg)
    expect(pub.verify(msg, sig)).toBe(true)
    expect(pub.verify(msg.subarray(1), sig)).toBe(false)
    const bad = Uint8Array.from(sig)
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 1
    expect(pub.verify(msg, bad)).toBe(false)
    expect(pub.verify(msg, new Uint8Array(0))).toBe(false)
    expect(pub.verify(msg, new Uint8Array(300).fill(0x30))).toBe(false)
  })

  it('gives the vector peer id in both text forms', () => {
    const id = PeerId.fromPublicKey(pub)
    expect(id.toString()).toBe(v.peerId)
    expect(id.toCid()).toBe(v.cid)
  })
})

describe('Ed25519', () => {
  it('signs the signed-payload vector (digest §3.5) exactly (RFC 8032 is deterministic)', () => {
    const key = unmarshalPrivateKey(unhex(SIGNED_PAYLOAD_VECTOR.identityPrivateKey))
    const signed = unhex(SIGNED_PAYLOAD_VECTOR.signedBytesPrefix + SIGNED_PAYLOAD_VECTOR.staticPublic)
    expect(hex(key.sign(signed))).toBe(SIGNED_PAYLOAD_VECTOR.signature)
  })

  it('accepts the legacy 96-byte private form only when both public copies agree', () => {
    const v = KEY_VECTORS.find(k => k.name === 'Ed25519')!
    const data = unhex(v.privateKey).subarray(4)
    const legacy = new Uint8Array([...data, ...data.subarray(32)])
    const key = privateKeyFromRaw(KeyType.Ed25519, legacy)
    expect(hex(key.bytes())).toBe(v.privateKey) // written back in the 64-byte form
    const broken = Uint8Array.from(legacy)
    broken[95] = (broken[95] as number) ^ 1
    expect(() => privateKeyFromRaw(KeyType.Ed25519, broken)).toThrowError(/two different public keys/)
  })

  it('refuses a private key whose public half does not match its seed', () => {
    const data = Uint8Array.from(unhex(KEY_VECTORS.find(k => k.name === 'Ed25519')!.privateKey).subarray(4))
    data[40] = (data[40] as number) ^ 1
    expect(() => privateKeyFromRaw(KeyType.Ed25519, data)).toThrowError(KeyError)
  })

  it('generates fresh identities', () => {
    const a = generateEd25519()
    const b = generateEd25519()
    expect(a.publicKey.equals(b.publicKey)).toBe(false)
    expect(a.publicKey.bytes()).toHaveLength(36)
    expect(PeerId.fromPublicKey(a.publicKey).toString()).toMatch(/^12D3KooW/)
    expect(unmarshalPrivateKey(a.bytes()).publicKey.equals(a.publicKey)).toBe(true)
  })
})

describe('secp256k1', () => {
  it('emits low-S DER signatures (js-libp2p rejects high-S) and verifies high-S ones too', () => {
    const key = generateSecp256k1()
    const n = secp256k1.Point.CURVE().n
    for (let i = 0; i < 20; i++) {
      const m = new TextEncoder().encode(`message ${i}`)
      const sig = key.sign(m)
      const parsed = secp256k1.Signature.fromBytes(sig, 'der')
      expect(parsed.s <= n / 2n).toBe(true)
      const high = new secp256k1.Signature(parsed.r, n - parsed.s).toBytes('der')
      expect(key.publicKey.verify(m, high)).toBe(true)
    }
  })

  it('accepts the uncompressed public form and normalises it to compressed', () => {
    const key = generateSecp256k1()
    const uncompressed = secp256k1.Point.fromBytes(key.publicKey.raw).toBytes(false)
    const pub = unmarshalPublicKey(Uint8Array.from([0x08, 0x02, 0x12, 65, ...uncompressed]))
    expect(pub.equals(key.publicKey)).toBe(true)
    expect(pub.raw).toHaveLength(33)
  })

  it('refuses a point off the curve and a zero scalar', () => {
    const raw = Uint8Array.from(generateSecp256k1().publicKey.raw)
    raw[0] = 0x05
    expect(() => unmarshalPublicKey(Uint8Array.from([0x08, 0x02, 0x12, 33, ...raw]))).toThrowError(KeyError)
    expect(() => privateKeyFromRaw(KeyType.Secp256k1, new Uint8Array(32))).toThrowError(KeyError)
  })
})

/**
 * ECDSA keys and signatures produced by go-libp2p v0.49 (recorded in dart-libp2p's interop test):
 * message "noise-libp2p-static-key:hello".
 */
const GO_ECDSA = [
  {
    curve: 'P-256',
    publicKey:
      '0803125b3059301306072a8648ce3d020106082a8648ce3d030107034200045aeb4301c696080333039169ce896ee644373b3924a000a968ec3af9507be376e8c9815be6c588a7d1feafa00a801e4d338cb4976aaae604ec75535bdc5b1bd8',
    privateKey:
      '08031279307702010104205a8aecbf5318e44ca5e175687153c2f23c33e2deb1eb8e7475aa06c35d830f43a00a06082a8648ce3d030107a144034200045aeb4301c696080333039169ce896ee644373b3924a000a968ec3af9507be376e8c9815be6c588a7d1feafa00a801e4d338cb4976aaae604ec75535bdc5b1bd8',
    peerId: 'QmZu9py8NZfiSnsrrB1nYNMZ2WZp4Vr5z37QLftYGzVJiY',
    signature:
      '30440220073327d029b0ca814587fb09f9cdac24c7cee8f402e3e2f64626b7d47f4de8ca02200427d783c872828e464c5aab2047804f993358d92be35def4e64893b1b11f657'
  },
  {
    curve: 'P-384',
    publicKey:
      '080312783076301006072a8648ce3d020106052b81040022036200041725a0b849d136aebc32884cf072cf0c48e7f4f6da753a9f78fe1b1a69295b4885e485bc6d38a3bc3989363a465ce80f1d75d5b0bb46c5b9a691280fd03409c8ad03675b6f1fa4163a19e18d00f6a31635441bb585a303dcee29a62374bf4629',
    privateKey:
      '080312a7013081a40201010430cfa9d79c811269790474b8c8dbc1ad1f1b66f078854eae78b05c377670f1e158c139a7f618a4b75c516cecf46401e58aa00706052b81040022a164036200041725a0b849d136aebc32884cf072cf0c48e7f4f6da753a9f78fe1b1a69295b4885e485bc6d38a3bc3989363a465ce80f1d75d5b0bb46c5b9a691280fd03409c8ad03675b6f1fa4163a19e18d00f6a31635441bb585a303dcee29a62374bf4629',
    peerId: 'QmcDmwZw6pmb6QJEjDA9e3ADz3dw7GCy4jEmuhEETnSdsr',
    signature:
      '306402301e8f01bf40a1ea862af76d91ff8aaa461015508a5777234d8ef1a74141215d04b8b3565e0f6909b2cb1615d283dbc450023060292bbd2cd3b221587ace86332c4145bf5ff5be0bf7fa08bd73f218221da8fa2ab2c08280fdb5a49efae371db7c34bd'
  }
]

describe.each(GO_ECDSA.map(v => [v.curve, v] as const))('ECDSA %s with go-libp2p keys and signatures', (_curve, v) => {
  it('verifies the go signature, re-encodes both keys, derives the same peer id', () => {
    const pub = unmarshalPublicKey(unhex(v.publicKey))
    expect(pub.verify(msg, unhex(v.signature))).toBe(true)
    expect(pub.verify(Uint8Array.of(1, 2, 3), unhex(v.signature))).toBe(false)
    expect(hex(pub.bytes())).toBe(v.publicKey)
    expect(PeerId.fromPublicKey(pub).toString()).toBe(v.peerId)
    const priv = unmarshalPrivateKey(unhex(v.privateKey))
    expect(hex(priv.bytes())).toBe(v.privateKey)
    expect(pub.verify(msg, priv.sign(msg))).toBe(true)
  })

  it('refuses a point that is not on the curve', () => {
    const bad = unhex(v.publicKey)
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1
    expect(() => unmarshalPublicKey(bad)).toThrowError(KeyError)
  })
})

describe('ECDSA and RSA generation', () => {
  it('P-256 keys round-trip and sign', () => {
    const k = generateEcdsa()
    const again = unmarshalPrivateKey(k.bytes())
    expect(again.publicKey.equals(k.publicKey)).toBe(true)
    expect(k.publicKey.bytes()).toHaveLength(95)
    expect(k.publicKey.verify(msg, again.sign(msg))).toBe(true)
    expect(PeerId.fromPublicKey(k.publicKey).toString()).toMatch(/^Qm/)
  })

  it('refuses an RSA key below 2048 bits (go MinRsaKeyBits)', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' })
    const pb = encodeKeyMessage({ type: KeyType.RSA, data: small })
    expect(() => unmarshalPublicKey(pb)).toThrowError(/modulus" expected 2048\.\.8192 bits, got 1024/)
  })
})

describe('cross-check with js-libp2p (@libp2p/crypto, @libp2p/peer-id)', () => {
  const types = [['Ed25519'], ['secp256k1'], ['RSA']] as const
  it.each(types)('%s: same protobufs, same peer ids, signatures verify both ways', async (type) => {
    const { peerIdFromPublicKey } = await import('@libp2p/peer-id')
    const jsKey = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type)
    const ours = unmarshalPrivateKey(privateKeyToProtobuf(jsKey))
    expect(hex(ours.publicKey.bytes())).toBe(hex(publicKeyToProtobuf(jsKey.publicKey)))
    expect(publicKeyFromProtobuf(ours.publicKey.bytes()).equals(jsKey.publicKey)).toBe(true)
    const jsId = peerIdFromPublicKey(jsKey.publicKey)
    const ourId = PeerId.fromPublicKey(ours.publicKey)
    expect(ourId.toString()).toBe(jsId.toString())
    expect(ourId.toCid()).toBe(jsId.toCID().toString())
    expect(PeerId.parse(jsId.toString()).equals(ourId)).toBe(true)
    // js signs, we verify; we sign, js verifies
    expect(ours.publicKey.verify(msg, await jsKey.sign(msg))).toBe(true)
    expect(await jsKey.publicKey.verify(msg, ours.sign(msg))).toBe(true)
    // our private protobuf parses in js back to the same key
    expect(privateKeyFromProtobuf(ours.bytes()).publicKey.equals(jsKey.publicKey)).toBe(true)
  })

  it('RSA keys we generate are accepted by js-libp2p', async () => {
    const ours: PrivateKey = generateRsa(2048)
    const js = privateKeyFromProtobuf(ours.bytes())
    expect(await js.publicKey.verify(msg, ours.sign(msg))).toBe(true)
    expect(ours.publicKey.verify(msg, await js.sign(msg))).toBe(true)
  })
})

describe('malformed key protobufs', () => {
  it.each([
    ['empty', ''],
    ['Data before Type', '12020102' + '0801'],
    ['missing Data', '0801'],
    ['extra field', '0801120101' + '1801'],
    ['Type as bytes', '0a0101120101'],
    ['truncated Data', '08011220aabb'],
    ['non-minimal Type varint', '08810012020102'],
    ['wrong Ed25519 length', '0801120401020304']
  ])('%s → KeyError ERR_INVALID_KEY', (_name, h) => {
    expect(() => unmarshalPublicKey(unhex(h))).toThrowError(
      expect.objectContaining({ name: 'KeyError', code: 'ERR_INVALID_KEY' })
    )
  })

  it('unknown key type → ERR_UNSUPPORTED_KEY_TYPE', () => {
    expect(() => unmarshalPublicKey(unhex('0805120101'))).toThrowError(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_KEY_TYPE' })
    )
  })

  it('toString never prints key material', () => {
    const k = generateEd25519()
    expect(String(k)).toBe('Ed25519 private key')
    expect(JSON.stringify({ k })).toBe('{"k":"Ed25519 private key"}')
  })
})
