/**
 * Noise core against the cacophony Noise_XX_25519_ChaChaPoly_SHA256 vector, through both suites:
 * every handshake and transport message byte for byte, and the handshake hash.
 */
import { describe, expect, it } from 'vitest'
import { HandshakeState, XX_PATTERN } from '../../src/security/handshake-state.js'
import { SUITES } from '../../src/security/suite.js'
import type { CryptoSuite } from '../../src/security/suite.js'
import { NoiseError } from '../../src/errors.js'
import { hex, NOISE_XX_VECTOR as V, unhex } from './vectors.js'

function parties (suite: CryptoSuite): { init: HandshakeState, resp: HandshakeState } {
  const init = new HandshakeState({
    suite,
    protocolName: V.protocolName,
    initiator: true,
    prologue: unhex(V.initPrologue),
    s: suite.keyPairFromPrivateKey(unhex(V.initStatic)),
    e: suite.keyPairFromPrivateKey(unhex(V.initEphemeral))
  })
  const resp = new HandshakeState({
    suite,
    protocolName: V.protocolName,
    initiator: false,
    prologue: unhex(V.respPrologue),
    s: suite.keyPairFromPrivateKey(unhex(V.respStatic)),
    e: suite.keyPairFromPrivateKey(unhex(V.respEphemeral))
  })
  return { init, resp }
}

describe.each(SUITES.map(s => [s.name, s] as const))('cacophony XX vector (%s suite)', (_name, suite) => {
  it('reproduces every handshake message, the handshake hash and every transport message', () => {
    const { init, resp } = parties(suite)
    const hs = V.messages.slice(0, XX_PATTERN.length)
    hs.forEach((m, i) => {
      const [writer, reader] = i % 2 === 0 ? [init, resp] : [resp, init]
      const wire = writer.writeMessage(unhex(m.payload))
      expect(hex(wire)).toBe(m.ciphertext)
      expect(hex(reader.readMessage(wire))).toBe(m.payload)
    })
    expect(init.isComplete && resp.isComplete).toBe(true)
    expect(hex(init.handshakeHash)).toBe(V.handshakeHash)
    expect(hex(resp.handshakeHash)).toBe(V.handshakeHash)

    const [i1, i2] = init.split()
    const [r1, r2] = resp.split()
    // Transport: the vector continues with resp, init, resp (c1: initiator→responder).
    V.messages.slice(XX_PATTERN.length).forEach((m, j) => {
      const fromResponder = j % 2 === 0
      const [enc, dec] = fromResponder ? [r2, i2] : [i1, r1]
      const ct = enc.encrypt(unhex(m.payload))
      expect(hex(ct)).toBe(m.ciphertext)
      expect(hex(dec.decrypt(ct))).toBe(m.payload)
    })
  })

  it('refuses a tampered handshake message with a NoiseError and keeps refusing', () => {
    const { init, resp } = parties(suite)
    resp.readMessage(init.writeMessage(unhex(V.messages[0]!.payload)))
    const msg2 = resp.writeMessage(unhex(V.messages[1]!.payload))
    msg2[40] = (msg2[40] as number) ^ 1 // inside enc(s)
    expect(() => init.readMessage(msg2)).toThrow(NoiseError)
  })

  it('refuses a message shorter than its tokens need', () => {
    const { init, resp } = parties(suite)
    resp.readMessage(init.writeMessage())
    const msg2 = resp.writeMessage()
    for (const len of [0, 31, 32, 79, 95]) {
      const { init: fresh, resp: r2 } = parties(suite)
      r2.readMessage(fresh.writeMessage())
      r2.writeMessage()
      expect(() => fresh.readMessage(msg2.subarray(0, len))).toThrowError(
        expect.objectContaining({ code: 'ERR_NOISE_HANDSHAKE' })
      )
    }
  })

  it('enforces turn order and completion', () => {
    const { init, resp } = parties(suite)
    expect(() => resp.writeMessage()).toThrowError(expect.objectContaining({ code: 'ERR_NOISE_HANDSHAKE' }))
    expect(() => init.readMessage(new Uint8Array(32))).toThrowError(
      expect.objectContaining({ code: 'ERR_NOISE_HANDSHAKE' })
    )
    expect(() => init.split()).toThrowError(expect.objectContaining({ code: 'ERR_NOISE_HANDSHAKE' }))
  })

  it('fails the handshake on a low-order remote ephemeral (all-zero DH), identically in both suites', () => {
    const { init, resp } = parties(suite)
    resp.readMessage(init.writeMessage())
    const msg2 = resp.writeMessage()
    msg2.fill(0, 0, 32) // re = 0: a low-order point, X25519 output is all zeros
    expect(() => init.readMessage(msg2)).toThrowError(
      expect.objectContaining({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
    )
  })
})
