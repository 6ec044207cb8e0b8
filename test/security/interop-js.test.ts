/**
 * Interop with js-libp2p's Noise (`@chainsafe/libp2p-noise` 17) over real loopback TCP: the common
 * suite of js-interop-suite.ts (both roles, encrypted bytes both ways, the early-muxer extension
 * present and absent, the wrong-peer cases, secp256k1 and RSA js identities).
 */
import { noise as jsNoise } from '@chainsafe/libp2p-noise'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { noise } from '../../src/security/index.js'
import { jsSecuritySuite, muxerUpgrader } from './js-interop-suite.js'

jsSecuritySuite({
  name: 'Noise',
  roles: { outbound: 'initiator', inbound: 'responder' },
  ours: noise(),
  // "js announces nothing" is `skipStreamMuxerNegotiation: true` (js then sends an empty list and
  // does not pick); an upgrader with no muxers would make js throw on our list instead.
  js: (key, muxers) => jsNoise()({
    peerId: peerIdFromPrivateKey(key),
    privateKey: key,
    logger: defaultLogger(),
    upgrader: muxerUpgrader(muxers)
  }),
  muxerCases: ['extension present on both sides', 'we announce nothing', 'js announces nothing'],
  jsInboundHonoursSkip: true,
  // js aborts after our message 2; we never get message 3
  wrongPeerInboundError: { name: 'NoiseError', code: 'ERR_NOISE_HANDSHAKE' }
})
