/**
 * HandshakeState as a spectator (what the capture decoder replays recorded handshakes with): the
 * same machine reads all three XX messages; without keys it still reproduces `h`, with the logged
 * token keys it decrypts both static keys and both payloads.
 */
import { describe, expect, it } from 'vitest'
import { NoiseError } from '../../src/errors.js'
import { decodeNoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import { PROTOCOL_NAME } from '../../src/security/constants.js'
import { HandshakeState } from '../../src/security/handshake-state.js'
import { XXHandshake } from '../../src/security/handshake-xx.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { nodeSuite } from '../../src/security/suite.js'

function recorded (): {
  messages: Uint8Array[],
  hash: Uint8Array,
  keys: { ee: Uint8Array, es: Uint8Array, se: Uint8Array },
  initiator: XXHandshake,
  responder: XXHandshake
} {
  const initiator = new XXHandshake({
    initiator: true,
    identity: generateEd25519(),
    suite: nodeSuite,
    muxers: ['/yamux/1.0.0'],
    recordKeys: true
  })
  const responder = new XXHandshake({
    initiator: false,
    identity: generateEd25519(),
    suite: nodeSuite,
    muxers: ['/yamux/1.0.0']
  })
  const m1 = initiator.start().send as Uint8Array
  const m2 = responder.receive(m1.subarray(2)).send as Uint8Array
  const done = initiator.receive(m2.subarray(2))
  const m3 = done.send as Uint8Array
  responder.receive(m3.subarray(2))
  const result = done.result
  if (result?.tokenKeys === undefined) throw new Error('no keys recorded')
  return {
    messages: [m1, m2, m3].map(m => m.subarray(2)),
    hash: result.handshakeHash,
    keys: result.tokenKeys,
    initiator,
    responder
  }
}

describe('HandshakeState.spectator', () => {
  it('without keys: reads every message and reproduces h; keysKnown is false', () => {
    const r = recorded()
    const hs = HandshakeState.spectator({
      suite: nodeSuite,
      protocolName: PROTOCOL_NAME,
      prologue: new Uint8Array(0),
      tokenKey: () => undefined
    })
    for (const m of r.messages) hs.readMessage(m)
    expect(hs.isComplete).toBe(true)
    expect(hs.keysKnown).toBe(false)
    expect(hs.handshakeHash).toEqual(r.hash)
  })

  it('with the logged token keys: both static keys and both payloads decrypt, h matches; split() is refused', () => {
    const r = recorded()
    const keys: Record<string, Uint8Array> = r.keys
    const hs = HandshakeState.spectator({
      suite: nodeSuite,
      protocolName: PROTOCOL_NAME,
      prologue: new Uint8Array(0),
      tokenKey: t => keys[t]
    })
    expect(hs.readMessage(r.messages[0] as Uint8Array)).toEqual(new Uint8Array(0))
    const p2 = decodeNoiseHandshakePayload(hs.readMessage(r.messages[1] as Uint8Array))
    expect(hs.rs).toEqual(Uint8Array.from(r.responder.staticPublicKey))
    const p3 = decodeNoiseHandshakePayload(hs.readMessage(r.messages[2] as Uint8Array))
    expect(hs.rs).toEqual(Uint8Array.from(r.initiator.staticPublicKey))
    expect(p2.extensions?.streamMuxers).toEqual(['/yamux/1.0.0'])
    expect(p3.identityKey.length).toBeGreaterThan(0)
    expect(hs.keysKnown).toBe(true)
    expect(hs.handshakeHash).toEqual(r.hash)
    expect(() => hs.split()).toThrow(NoiseError)
  })

  it('a wrong recorded key fails the decryption as a NoiseError naming the message', () => {
    const r = recorded()
    const hs = HandshakeState.spectator({
      suite: nodeSuite,
      protocolName: PROTOCOL_NAME,
      prologue: new Uint8Array(0),
      tokenKey: () => new Uint8Array(32)
    })
    hs.readMessage(r.messages[0] as Uint8Array)
    expect(() => hs.readMessage(r.messages[1] as Uint8Array)).toThrow(/^handshake message 2: /)
  })
})
