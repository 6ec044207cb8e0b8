/**
 * Targets: the Noise XX handshake machine (src/security/handshake-xx.ts) and the transport framing.
 * Message 2 is either the fuzzed bytes themselves or, to get past decryption, a real responder's
 * `<- e, ee, s, es` carrying the fuzzed payload (identity key, signature, extensions).
 */
import { HandshakeState } from '../../src/security/handshake-state.js'
import { XXHandshake } from '../../src/security/handshake-xx.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { encodeNoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import { nodeSuite } from '../../src/security/suite.js'
import type { X25519KeyPair } from '../../src/security/suite.js'
import { NoiseFrameDecoder } from '../../src/security/transport-codec.js'
import type { FuzzTarget } from '../engine.js'
import { chunks, concat, counterRandom, utf8, whole } from './util.js'

const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'
const suite = nodeSuite
const rnd = counterRandom()
const keyPair = (): X25519KeyPair => suite.keyPairFromPrivateKey(rnd(32))
const initiatorIdentity = generateEd25519()
const responderIdentity = generateEd25519()
const iStatic = keyPair(); const iEph = keyPair(); const rStatic = keyPair(); const rEph = keyPair()

function validPayload (muxers: string[]): Uint8Array {
  const sig = responderIdentity.sign(concat(utf8('noise-libp2p-static-key:'), rStatic.publicKey))
  return encodeNoiseHandshakePayload({
    identityKey: responderIdentity.publicKey.bytes(),
    identitySig: sig,
    extensions: { webtransportCerthashes: [], streamMuxers: muxers }
  })
}

export const targets: FuzzTarget[] = [
  {
    name: 'noise/initiator',
    seeds:
      () => [
        Uint8Array.of(1, ...validPayload(['/yamux/1.0.0'])),
        Uint8Array.of(1, ...validPayload([])),
        Uint8Array.of(0, ...new Uint8Array(96))
      ],
    dictionary: [
      '/yamux/1.0.0',
      '/mplex/6.7.0',
      'noise-libp2p-static-key:',
      Uint8Array.of(0x0a),
      Uint8Array.of(0x12),
      Uint8Array.of(0x22)
    ],
    maxLength: 8192,
    run: data => {
      const xx = new XXHandshake({
        initiator: true,
        identity: initiatorIdentity,
        suite,
        staticKey: iStatic,
        ephemeralKey: iEph,
        muxers: ['/yamux/1.0.0']
      })
      const first = xx.start().send as Uint8Array
      let msg2: Uint8Array
      if (((data[0] ?? 0) & 1) === 1) {
        const hs = new HandshakeState({
          suite,
          protocolName: PROTOCOL_NAME,
          initiator: false,
          prologue: new Uint8Array(0),
          s: rStatic,
          e: rEph
        })
        hs.readMessage(first.subarray(2))
        msg2 = hs.writeMessage(data.subarray(1))
      } else {
        msg2 = data.subarray(1)
      }
      xx.receive(msg2)
    }
  },
  {
    name: 'noise/responder',
    seeds: () => {
      const hs = new HandshakeState({
        suite,
        protocolName: PROTOCOL_NAME,
        initiator: true,
        prologue: new Uint8Array(0),
        s: iStatic,
        e: iEph
      })
      return [whole(hs.writeMessage(new Uint8Array(0))), whole(new Uint8Array(32))]
    },
    run: data => {
      const xx = new XXHandshake({
        initiator: false,
        identity: responderIdentity,
        suite,
        staticKey: rStatic,
        ephemeralKey: rEph,
        muxers: []
      })
      xx.start()
      const dec = new NoiseFrameDecoder()
      // the input is the initiator's byte stream: u16-framed messages 1 and 3
      for (const c of chunks(data)) {
        dec.push(c)
        for (let msg = dec.next(); msg !== undefined; msg = dec.next()) {
          if (xx.isComplete) return
          xx.receive(msg)
        }
      }
    }
  }
]
