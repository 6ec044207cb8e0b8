/** Targets: the protobuf messages of src/proto (identify, Noise payload, keys, signed peer records). */
import {
  decodeEnvelope,
  decodePeerRecord,
  encodeEnvelope,
  encodePeerRecord,
  PEER_RECORD_PAYLOAD_TYPE
} from '../../src/proto/envelope.js'
import { decodeIdentify, encodeIdentify } from '../../src/proto/identify.js'
import { decodeKeyMessage } from '../../src/proto/keys.js'
import { decodeNoiseHandshakePayload, encodeNoiseHandshakePayload } from '../../src/proto/noise-payload.js'
import { generateEd25519, generateSecp256k1, unmarshalPublicKey } from '../../src/security/keys.js'
import { signPeerRecord, verifyPeerRecord } from '../../src/security/peer-record.js'
import type { FuzzTarget } from '../engine.js'
import { addrBytes } from './multiaddr.js'
import { utf8 } from './util.js'

export const targets: FuzzTarget[] = [
  {
    name: 'proto/identify',
    seeds: () => [encodeIdentify({
      protocolVersion: 'ipfs/0.1.0',
      agentVersion: 'switchyard/0.1.0',
      publicKey: generateEd25519().publicKey.bytes(),
      listenAddrs: addrBytes(),
      observedAddr: addrBytes()[0],
      protocols: ['/ipfs/ping/1.0.0', '/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0'],
      signedPeerRecord: signPeerRecord(generateEd25519(), addrBytes().slice(0, 2), 1n)
    })],
    dictionary: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'],
    run: data => { decodeIdentify(data) }
  },
  {
    name: 'proto/noise-payload',
    seeds: () => {
      const k = generateEd25519()
      return [encodeNoiseHandshakePayload({
        identityKey: k.publicKey.bytes(),
        identitySig: k.sign(utf8('noise-libp2p-static-key:')),
        extensions: { webtransportCerthashes: [], streamMuxers: ['/yamux/1.0.0', '/mplex/6.7.0'] }
      })]
    },
    dictionary: ['/yamux/1.0.0', '/mplex/6.7.0'],
    run: data => { decodeNoiseHandshakePayload(data) }
  },
  {
    name: 'proto/keys',
    seeds:
      () => [generateEd25519().publicKey.bytes(), generateSecp256k1().publicKey.bytes(), generateEd25519().bytes()],
    run: data => {
      decodeKeyMessage(data, 'public key')
      unmarshalPublicKey(data)
    }
  },
  {
    name: 'proto/peer-record',
    seeds: () => {
      const env = signPeerRecord(generateEd25519(), addrBytes(), 1700000000000000000n)
      const e = decodeEnvelope(env)
      return [
        env,
        e.payload,
        encodeEnvelope({ ...e, payloadType: PEER_RECORD_PAYLOAD_TYPE }),
        encodePeerRecord(decodePeerRecord(e.payload))
      ]
    },
    dictionary: ['libp2p-peer-record', PEER_RECORD_PAYLOAD_TYPE],
    run: (data, report) => {
      try { decodePeerRecord(data) } catch (err) { report(err) }
      verifyPeerRecord(data)
    }
  }
]
