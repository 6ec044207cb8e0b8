/**
 * Published libp2p handshake-level DoS classes as regression tests, each named by its advisory or
 * the spec rule it enforces, on the sans-I/O machines (the same checks over real sockets:
 * test/integration/advisories.test.ts).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fakeIdentity, rsaPublicKeyOfBits } from '../helpers/hostile-keys.js'
import { NoiseError, TlsError } from '../../src/errors.js'
import { CipherState } from '../../src/security/cipher-state.js'
import { XXHandshake } from '../../src/security/handshake-xx.js'
import type { XXStep } from '../../src/security/handshake-xx.js'
import { generateEd25519, MAX_RSA_BITS, RsaPublicKey } from '../../src/security/keys.js'
import { MAX_STREAM_MUXERS } from '../../src/security/constants.js'
import { nodeSuite } from '../../src/security/index.js'
import { generateLibp2pCredential, verifyLibp2pCertificate } from '../../src/security/tls/certificate.js'

afterEach(() => { vi.restoreAllMocks() })

const unframe = (step: XXStep): Uint8Array => step.send!.subarray(2)

describe('CVE-2023-39533: RSA host keys over 8192 bits are refused before any signature check', () => {
  it('Noise: the responder refuses an RSA-16384 identity key in message 3 while parsing it; verify never runs', () => {
    const verify = vi.spyOn(RsaPublicKey.prototype, 'verify')
    const i = new XXHandshake({
      initiator: true,
      identity: fakeIdentity(rsaPublicKeyOfBits(16384)),
      suite: nodeSuite,
      muxers: []
    })
    const r = new XXHandshake({ initiator: false, identity: generateEd25519(), suite: nodeSuite, muxers: [] })
    r.start()
    const m2 = r.receive(unframe(i.start()))
    const m3 = i.receive(unframe(m2))
    let caught: unknown
    try { r.receive(unframe(m3)) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(NoiseError)
    expect((caught as NoiseError).code).toBe('ERR_NOISE_HANDSHAKE')
    expect((caught as Error).message).toMatch(
      new RegExp(
        `"identity_key" is not a valid public key: .*"modulus" expected 2048\\.\\.${MAX_RSA_BITS} bits, got 16384`
      )
    )
    expect(verify).not.toHaveBeenCalled()
  })

  it('TLS: a certificate whose libp2p extension carries an RSA-16384 host key is a bad_certificate; verify never runs', () => {
    const verify = vi.spyOn(RsaPublicKey.prototype, 'verify')
    const { chain } = generateLibp2pCredential(fakeIdentity(rsaPublicKeyOfBits(16384)))
    let caught: unknown
    try { verifyLibp2pCertificate(chain) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(TlsError)
    expect((caught as TlsError).code).toBe('ERR_TLS_BAD_CERTIFICATE')
    expect((caught as Error).message).toMatch(/SignedKey\.publicKey: .*"modulus" expected 2048\.\.8192 bits, got 16384/)
    expect(verify).not.toHaveBeenCalled()
  })

  it('an 8192-bit key is still parsed (the limit is inclusive, as go maxRsaKeyBits)', () => {
    const verify = vi.spyOn(RsaPublicKey.prototype, 'verify')
    const { chain } = generateLibp2pCredential(fakeIdentity(rsaPublicKeyOfBits(8192), 1024))
    expect(() => verifyLibp2pCertificate(chain)).toThrowError(/bad signature in the libp2p certificate extension/)
    expect(verify).toHaveBeenCalledTimes(1)
  })
})

describe(`Noise extensions: a peer proposing more than ${MAX_STREAM_MUXERS} muxers (go-libp2p noise maxProtoNum)`, () => {
  const run = (count: number): string | undefined => {
    const offered = Array.from({ length: count - 1 }, (_, k) => `/junk/${k}`).concat('/yamux/1.0.0')
    // The hostile initiator builds its payload itself (our noise() refuses to announce such a list).
    const i = new XXHandshake({ initiator: true, identity: generateEd25519(), suite: nodeSuite, muxers: offered })
    const r = new XXHandshake({
      initiator: false,
      identity: generateEd25519(),
      suite: nodeSuite,
      muxers: ['/yamux/1.0.0']
    })
    r.start()
    const m3 = i.receive(unframe(r.receive(unframe(i.start()))))
    return r.receive(unframe(m3)).result?.muxer
  }

  it(`${MAX_STREAM_MUXERS} are considered; ${MAX_STREAM_MUXERS + 1} or 1000 are ignored as a whole (the muxer is then negotiated with multistream-select), the handshake succeeds`, () => {
    expect(run(MAX_STREAM_MUXERS)).toBe('/yamux/1.0.0')
    expect(run(MAX_STREAM_MUXERS + 1)).toBeUndefined()
    expect(run(1000)).toBeUndefined()
  })
})

describe('Noise spec §5.1 DecryptWithAd: a failed decrypt does not advance the nonce', () => {
  it('a tampered message fails, n stays, and the genuine message still opens at that same n (nothing skipped, nothing reused)', () => {
    const key = randomBytes(32)
    const send = new CipherState(nodeSuite, key)
    const recv = new CipherState(nodeSuite, key)
    const first = send.encrypt(Buffer.from('first'))
    const second = send.encrypt(Buffer.from('second'))
    expect(new TextDecoder().decode(recv.decrypt(first))).toBe('first')
    const tampered = Uint8Array.from(second)
    tampered[0] = (tampered[0] as number) ^ 1
    expect(() => recv.decrypt(tampered)).toThrowError(expect.objectContaining({ code: 'ERR_NOISE_DECRYPT' }))
    expect(recv.nonce).toBe(1)
    expect(() => recv.decrypt(tampered)).toThrowError(expect.objectContaining({ code: 'ERR_NOISE_DECRYPT' }))
    expect(recv.nonce).toBe(1)
    expect(new TextDecoder().decode(recv.decrypt(second))).toBe('second')
    expect(recv.nonce).toBe(2)
  })
})
