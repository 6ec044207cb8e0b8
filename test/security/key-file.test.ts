/** Private key files: the raw PrivateKey protobuf, written 0600, with clear refusals. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  generateEcdsa,
  generateEd25519,
  generateSecp256k1,
  KeyType,
  loadPrivateKeyFile,
  PeerId,
  savePrivateKeyFile
} from '../../src/security/index.js'
import { hex, KEY_VECTORS, unhex } from './vectors.js'

const dir = mkdtempSync(join(tmpdir(), 'switchyard-keys-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const path = (): string => join(dir, `key-${n++}`)

describe('key files', () => {
  it('save then load gives the same key; the file is the raw protobuf, mode 0600', async () => {
    for (const key of [generateEd25519(), generateSecp256k1(), generateEcdsa()]) {
      const p = path()
      await savePrivateKeyFile(p, key)
      expect(hex(readFileSync(p))).toBe(hex(key.bytes()))
      expect(statSync(p).mode & 0o777).toBe(0o600)
      const loaded = await loadPrivateKeyFile(p)
      expect(loaded.publicKey.equals(key.publicKey)).toBe(true)
    }
    const ed = generateEd25519()
    const p = path()
    await savePrivateKeyFile(p, ed)
    expect(readFileSync(p)).toHaveLength(68)
  })

  it('loads the spec vectors and a key file written by js-libp2p', async () => {
    for (const v of KEY_VECTORS) {
      const p = path()
      writeFileSync(p, unhex(v.privateKey))
      expect(PeerId.fromPublicKey((await loadPrivateKeyFile(p)).publicKey).toString()).toBe(v.peerId)
    }
    const js = await generateKeyPair('Ed25519')
    const p = path()
    writeFileSync(p, privateKeyToProtobuf(js))
    expect(hex((await loadPrivateKeyFile(p)).publicKey.raw)).toBe(hex(js.publicKey.raw))
  })

  it('never overwrites unless asked', async () => {
    const p = path()
    const a = generateEd25519()
    await savePrivateKeyFile(p, a)
    await expect(savePrivateKeyFile(p, generateEd25519())).rejects.toMatchObject({
      code: 'ERR_KEY_FILE',
      message: expect.stringContaining('already exists')
    })
    expect((await loadPrivateKeyFile(p)).publicKey.equals(a.publicKey)).toBe(true)
    const b = generateEd25519()
    await savePrivateKeyFile(p, b, { overwrite: true })
    expect((await loadPrivateKeyFile(p)).publicKey.equals(b.publicKey)).toBe(true)
  })

  it.each([
    ['missing', null, /cannot read it \(ENOENT\)/],
    ['empty', '', /the file is empty/],
    ['PEM', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n', /PEM file/],
    ['hex text', KEY_VECTORS[1]!.privateKey, /hex text/],
    ['base64 text', Buffer.from(unhex(KEY_VECTORS[1]!.privateKey)).toString('base64'), /base64 text/],
    [
      'a public key instead of a private one',
      unhex(KEY_VECTORS[1]!.publicKey),
      /Ed25519 private key: "Data" expected 64 bytes/
    ],
    ['unknown key type', Uint8Array.of(0x08, 0x07, 0x12, 0x01, 0x00), /"Type" expected 0 \(RSA\)/]
  ])('refuses a %s file with ERR_KEY_FILE and says why', async (_name, content, message) => {
    const p = path()
    if (content !== null) writeFileSync(p, content)
    await expect(loadPrivateKeyFile(p)).rejects.toMatchObject({
      name: 'KeyError',
      code: 'ERR_KEY_FILE',
      message: expect.stringMatching(message)
    })
  })

  it('refuses a key type the caller does not allow', async () => {
    const p = path()
    await savePrivateKeyFile(p, generateSecp256k1())
    await expect(loadPrivateKeyFile(p, { allowedTypes: [KeyType.Ed25519] })).rejects.toMatchObject({
      code: 'ERR_KEY_FILE', message: expect.stringContaining('key type expected Ed25519, got Secp256k1')
    })
  })
})
