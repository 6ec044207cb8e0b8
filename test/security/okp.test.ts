/**
 * Raw OKP keys through node:crypto (src/security/okp.ts): the RFC vectors pin that a private key
 * imported with an empty `x` yields the right public half, and a fresh process makes tens of
 * thousands of key pairs without hanging — what generateKeyPairSync + a JWK export did within a
 * few thousand on Node 20 (a GC finalizing the key-generation job under the export's own lock).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateEd25519, Ed25519PrivateKey } from '../../src/security/keys.js'
import { okpPrivateKey, okpPublicBytes } from '../../src/security/okp.js'
import { nodeSuite } from '../../src/security/suite.js'
import { buildToTemp } from '../cli/build.js'
import type { Build } from '../cli/build.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('OKP keys in node:crypto', () => {
  it('X25519: the public half of an imported private key (RFC 7748 §6.1, Alice and Bob)', () => {
    const alice = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'
    const bob = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'
    expect(toHex(okpPublicBytes(okpPrivateKey('X25519', hex(alice)))))
      .toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    const pair = nodeSuite.keyPairFromPrivateKey(hex(bob))
    expect(toHex(pair.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    // and the shared secret of §6.1
    expect(toHex(nodeSuite.dh(hex(alice), pair.publicKey)))
      .toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')
  })

  it('Ed25519: the public key of a seed (RFC 8032 §7.1, TEST 1)', () => {
    const key = new Ed25519PrivateKey(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'))
    expect(toHex(key.publicKey.raw)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
  })

  it('fresh key pairs are distinct, 32 bytes, and agree on DH', () => {
    const a = nodeSuite.generateKeyPair()
    const b = nodeSuite.generateKeyPair()
    expect(a.privateKey.length).toBe(32)
    expect(a.publicKey.length).toBe(32)
    expect(toHex(a.privateKey)).not.toBe(toHex(b.privateKey))
    expect(toHex(nodeSuite.dh(a.privateKey, b.publicKey))).toBe(toHex(nodeSuite.dh(b.privateKey, a.publicKey)))
    const id = generateEd25519()
    expect(id.publicKey.verify(Uint8Array.of(1, 2, 3), id.sign(Uint8Array.of(1, 2, 3)))).toBe(true)
  })
})

describe('key generation never hangs the process (Node 20 ExportJWK under a finalizer)', () => {
  let build: Build
  beforeAll(async () => {
    build = await buildToTemp(['src/security/suite.js', 'src/security/keys.js'])
  }, 120_000)
  afterAll(async () => { await build?.remove() })

  it('a fresh process makes 20,000 Noise key pairs and 20,000 Ed25519 identities and exits', async () => {
    const url = (f: string): string => pathToFileURL(join(build.dir, f)).href
    const script = `
      const { nodeSuite } = await import(${JSON.stringify(url('src/security/suite.js'))})
      const { generateEd25519 } = await import(${JSON.stringify(url('src/security/keys.js'))})
      for (let i = 0; i < 20000; i++) { nodeSuite.generateKeyPair(); generateEd25519() }
      console.log('done')
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { out += b.toString() })
    // A hung process never exits: it is killed after a bound far above the ~5 s this takes, and fails.
    const killer = setTimeout(() => { child.kill('SIGKILL') }, 90_000)
    const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
    clearTimeout(killer)
    expect(out.trim()).toBe('done')
    expect(code).toBe(0)
  }, 120_000)
})
