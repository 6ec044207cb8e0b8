/**
 * The libp2p XX machine without any I/O: message shapes, early muxer selection rules, payload checks
 * and their order, and the framing limit.
 */
import { describe, expect, it } from 'vitest'
import { frameMessage, selectMuxer, XXHandshake } from '../../src/security/handshake-xx.js'
import type { XXHandshakeOptions, XXStep } from '../../src/security/handshake-xx.js'
import { HandshakeState } from '../../src/security/handshake-state.js'
import { generateEd25519, nodeSuite, PeerId } from '../../src/security/index.js'
import { encodeNoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import { createHandshakePayload } from '../../src/security/identity.js'

const a = generateEd25519()
const b = generateEd25519()
const unframe = (step: XXStep): Uint8Array => step.send!.subarray(2)

function pair (i: Partial<XXHandshakeOptions> = {}, r: Partial<XXHandshakeOptions> = {}): [XXHandshake, XXHandshake] {
  return [
    new XXHandshake({ initiator: true, identity: a, suite: nodeSuite, muxers: ['/yamux/1.0.0'], ...i }),
    new XXHandshake({ initiator: false, identity: b, suite: nodeSuite, muxers: ['/yamux/1.0.0'], ...r })
  ]
}

describe('selectMuxer (inlined-muxer-negotiation.md)', () => {
  it.each([
    [['/yamux/1.0.0'], ['/yamux/1.0.0'], '/yamux/1.0.0'],
    [['/mplex/6.7.0', '/yamux/1.0.0'], ['/yamux/1.0.0', '/mplex/6.7.0'], '/mplex/6.7.0'],
    [['/a'], ['/b'], undefined],
    [[], ['/yamux/1.0.0'], undefined],
    [['/yamux/1.0.0'], [], undefined],
    [undefined, ['/yamux/1.0.0'], undefined],
    [['/yamux/1.0.0'], undefined, undefined]
  ])('initiator %j, responder %j → %s', (i, r, expected) => {
    expect(selectMuxer(i, r)).toBe(expected)
  })
})

describe('XXHandshake', () => {
  it('message sizes on the wire: 32 | 32+48+payload+16 | 48+payload+16', () => {
    const [i, r] = pair()
    const m1 = i.start()
    expect(r.start()).toEqual({})
    expect(m1.send).toHaveLength(2 + 32)
    const m2 = r.receive(unframe(m1))
    const p2 =
      createHandshakePayload(b, r.staticPublicKey, { webtransportCerthashes: [], streamMuxers: ['/yamux/1.0.0'] })
        .length
    expect(m2.send).toHaveLength(2 + 32 + 48 + p2 + 16)
    const m3 = i.receive(unframe(m2))
    const p3 =
      createHandshakePayload(a, i.staticPublicKey, { webtransportCerthashes: [], streamMuxers: ['/yamux/1.0.0'] })
        .length
    expect(m3.send).toHaveLength(2 + 48 + p3 + 16)
    expect(m3.result?.remotePeer.equals(PeerId.fromPublicKey(b.publicKey))).toBe(true)
    const done = r.receive(unframe(m3))
    expect(done.send).toBeUndefined()
    expect(done.result?.remotePeer.equals(PeerId.fromPublicKey(a.publicKey))).toBe(true)
    expect(() => r.receive(new Uint8Array(64))).toThrowError(expect.objectContaining({ code: 'ERR_NOISE_HANDSHAKE' }))
  })

  it('uses one static key per identity and process, and a fresh ephemeral per handshake', () => {
    const [i1] = pair()
    const [i2] = pair()
    expect(Buffer.from(i1.staticPublicKey).equals(Buffer.from(i2.staticPublicKey))).toBe(true)
    expect(Buffer.from(unframe(i1.start())).equals(Buffer.from(unframe(i2.start())))).toBe(false)
  })

  it('ignores a non-empty message 1 payload (unauthenticated; go ignores it too)', () => {
    const [, r] = pair()
    const hs = new HandshakeState({
      suite: nodeSuite,
      protocolName: 'Noise_XX_25519_ChaChaPoly_SHA256',
      initiator: true,
      prologue: new Uint8Array(0),
      s: nodeSuite.generateKeyPair()
    })
    expect(r.receive(hs.writeMessage(Uint8Array.of(1, 2, 3))).send).toBeDefined()
  })

  it('treats a remote muxer list longer than 100 entries as absent (go maxProtoNum)', () => {
    const many = Array.from({ length: 101 }, (_, k) => `/m/${k}`).concat('/yamux/1.0.0')
    const [i, r] = pair({}, { muxers: many })
    const m3 = i.receive(unframe(r.receive(unframe(i.start()))))
    expect(m3.result?.muxer).toBeUndefined()
  })

  it('checks the peer id before the signature, and both before message 3 exists', () => {
    const [i, r] = pair({ expectedPeer: PeerId.fromPublicKey(generateEd25519().publicKey) })
    const m2 = r.receive(unframe(i.start()))
    expect(() => i.receive(unframe(m2))).toThrowError(expect.objectContaining({ code: 'ERR_PEER_ID_MISMATCH' }))
    expect(() => i.receive(unframe(m2))).toThrowError(/already failed/)
  })

  it('refuses a payload that is not a protobuf, or has no valid identity key', () => {
    for (
      const payload of [
        Uint8Array.of(0xff, 0xff),
        encodeNoiseHandshakePayload({ identityKey: Uint8Array.of(8, 1), identitySig: new Uint8Array(64) })
      ]
    ) {
      const [i, r] = pair()
      ;(r as unknown as { localPayload: Uint8Array }).localPayload = payload
      const m2 = r.receive(unframe(i.start()))
      expect(() => i.receive(unframe(m2))).toThrowError(
        expect.objectContaining({ name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' })
      )
    }
  })

  it('frames with a 2-byte big-endian length and refuses a message over 65535 bytes', () => {
    expect([...frameMessage(new Uint8Array(0x0102))].slice(0, 2)).toEqual([1, 2])
    expect(frameMessage(new Uint8Array(65535))).toHaveLength(65537)
    expect(() => frameMessage(new Uint8Array(65536))).toThrowError(
      expect.objectContaining({ code: 'ERR_NOISE_MESSAGE_TOO_LARGE' })
    )
  })
})
