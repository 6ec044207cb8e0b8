/**
 * Peer ids: spec text-form examples, both parse paths, the identity/sha256 rule at 42 bytes,
 * js-libp2p agreement on random keys, and typed errors for every malformed input.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { peerIdFromString } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { KeyError } from '../../src/errors.js'
import { generateEd25519, generateSecp256k1, KeyType, PeerId, publicKeyFromRaw } from '../../src/security/index.js'
import { encodeKeyMessage } from '../../src/proto/keys.js'
import { hex, KEY_VECTORS, TEXT_FORM_VECTORS, unhex } from './vectors.js'

describe('text forms', () => {
  it('spec example: the legacy and CIDv1 forms of one sha256 id are equal', () => {
    const a = PeerId.parse(TEXT_FORM_VECTORS.sha256.legacy)
    const b = PeerId.parse(TEXT_FORM_VECTORS.sha256.cid)
    expect(a.equals(b)).toBe(true)
    expect(b.toString()).toBe(TEXT_FORM_VECTORS.sha256.legacy)
    expect(a.toCid()).toBe(TEXT_FORM_VECTORS.sha256.cid)
    expect(a.publicKey).toBeUndefined() // a hash: the key is not in it
  })

  it('spec example: an Ed25519 id is an identity multihash that carries its key', () => {
    const id = PeerId.parse(TEXT_FORM_VECTORS.ed25519.legacy)
    expect(hex(id.multihash)).toBe(TEXT_FORM_VECTORS.ed25519.multihash)
    expect(id.publicKey?.type).toBe(KeyType.Ed25519)
    expect(PeerId.fromPublicKey(id.publicKey!).equals(id)).toBe(true)
  })

  it('parses a base36 CID (k51…) as well', () => {
    const id = PeerId.fromPublicKey(generateEd25519().publicKey)
    const k = CID.createV1(0x72, Digest.decode(id.multihash)).toString(base36)
    expect(k.startsWith('k')).toBe(true)
    expect(PeerId.parse(k).equals(id)).toBe(true)
  })

  it('uses the identity multihash up to 42 bytes of encoded key and sha2-256 above', () => {
    const ed = PeerId.fromPublicKey(generateEd25519().publicKey)
    expect(ed.multihash[0]).toBe(0x00)
    expect(ed.multihash[1]).toBe(36)
    const k1 = PeerId.fromPublicKey(generateSecp256k1().publicKey)
    expect([k1.multihash[0], k1.multihash[1]]).toEqual([0x00, 37])
    expect(k1.toString()).toMatch(/^16Uiu2HA/)
    const rsa = PeerId.fromPublicKey(
      publicKeyFromRaw(KeyType.RSA, unhex(KEY_VECTORS.find(v => v.name === 'RSA-4096')!.publicKey).subarray(5))
    )
    expect([rsa.multihash[0], rsa.multihash[1], rsa.multihash.length]).toEqual([0x12, 0x20, 34])
  })

  it('agrees with js-libp2p on random keys, both forms, both directions', () => {
    for (let i = 0; i < 20; i++) {
      const key = i % 2 === 0 ? generateEd25519() : generateSecp256k1()
      const id = PeerId.fromPublicKey(key.publicKey)
      const js = peerIdFromString(id.toString())
      expect(js.toString()).toBe(id.toString())
      expect(js.toCID().toString()).toBe(id.toCid())
      expect(PeerId.parse(js.toCID().toString()).equals(id)).toBe(true)
      expect(PeerId.parse(id.toCid()).publicKey?.equals(key.publicKey)).toBe(true)
    }
  })

  it('equality is by multihash; toJSON is the legacy form', () => {
    const key = generateEd25519().publicKey
    const a = PeerId.fromPublicKey(key)
    expect(a.equals(PeerId.parse(a.toString()))).toBe(true)
    expect(a.equals(PeerId.fromPublicKey(generateEd25519().publicKey))).toBe(false)
    expect(a.equals(undefined)).toBe(false)
    expect(JSON.stringify({ a })).toBe(`{"a":"${a.toString()}"}`)
  })
})

describe('malformed peer ids → KeyError ERR_INVALID_PEER_ID', () => {
  const bad = (fn: () => unknown): void => {
    expect(fn).toThrowError(expect.objectContaining({ name: 'KeyError', code: 'ERR_INVALID_PEER_ID' }))
  }

  it.each([
    ['empty', ''],
    ['base58 with a forbidden character', '12D3KooW0000000000000000000000000000000000000000000000'],
    ['truncated legacy id', TEXT_FORM_VECTORS.sha256.legacy.slice(0, 20)],
    ['CID with another codec (dag-pb)', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'],
    ['not a CID at all', 'bafz!!!'],
    ['unknown multibase prefix', 'xyz']
  ])('%s', (_name, text) => {
    bad(() => PeerId.parse(text))
  })

  it('refuses other hash functions, wrong digest sizes, oversize or invalid inlined keys', () => {
    bad(() => PeerId.fromMultihash(unhex('1114' + '00'.repeat(20)))) // sha1
    bad(() => PeerId.fromMultihash(unhex('1210' + '00'.repeat(16)))) // sha2-256 of 16 bytes
    bad(() => PeerId.fromMultihash(unhex('002b' + '00'.repeat(43)))) // identity > 42
    bad(() => PeerId.fromMultihash(unhex('0004' + '08011200'))) // identity of an empty Ed25519 key
    bad(() => PeerId.fromMultihash(unhex('12'))) // truncated
    const tooLong = encodeKeyMessage({ type: KeyType.Ed25519, data: new Uint8Array(32) })
    expect(PeerId.fromMultihash(Uint8Array.from([0, tooLong.length, ...tooLong])).publicKey?.type).toBe(KeyType.Ed25519)
  })

  it('random strings and bytes never raise anything but a KeyError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), s => {
        try {
          PeerId.parse(s)
        } catch (err) {
          return err instanceof KeyError && err.code === 'ERR_INVALID_PEER_ID'
        }
        return true
      }),
      { numRuns: 500 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), b => {
        try {
          PeerId.fromMultihash(b)
        } catch (err) {
          return err instanceof KeyError && err.code === 'ERR_INVALID_PEER_ID'
        }
        return true
      }),
      { numRuns: 500 }
    )
  })
})
