/**
 * The switch over Noise end to end against a real js-libp2p 3.x node (`@chainsafe/libp2p-noise`):
 * the common suite of js-switch-suite.ts, plus the signed peer records both ways.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { jsSwitchSuite } from './js-switch-suite.js'

jsSwitchSuite({ jsSecurity: () => noise(), signedPeerRecords: true })
