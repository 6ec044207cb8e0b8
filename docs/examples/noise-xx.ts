// The libp2p Noise XX handshake (libp2p specs noise/README.md) between two in-memory machines:
// each message with its tokens and size, then both sides' view of the other. No socket, no timer.
// Imports only `switchyard/security/noise` and `switchyard/security`.
import { generateEd25519, PeerId } from 'switchyard/security'
import { XX_PATTERN, XXHandshake, nodeSuite } from 'switchyard/security/noise'

const alice = generateEd25519()
const bob = generateEd25519()
const initiator = new XXHandshake({ initiator: true, identity: alice, suite: nodeSuite, muxers: ['/yamux/1.0.0'] })
const responder = new XXHandshake({ initiator: false, identity: bob, suite: nodeSuite, muxers: ['/yamux/1.0.0'] })

const unframe = (b: Uint8Array): Uint8Array => b.subarray(2) // the 2-byte big-endian length prefix
const log = (n: number, from: string, b: Uint8Array): void => {
  console.log(`message ${n} ${from}: ${(XX_PATTERN[n - 1] ?? []).join(', ')} (${b.length - 2} bytes)`)
}

const m1 = initiator.start().send
if (m1 === undefined) throw new Error('the initiator writes first')
log(1, 'initiator -> responder', m1)
const m2 = responder.receive(unframe(m1)).send
if (m2 === undefined) throw new Error('the responder answers message 1')
log(2, 'responder -> initiator', m2)
const done = initiator.receive(unframe(m2))
if (done.send === undefined || done.result === undefined) throw new Error('the initiator finishes with message 3')
log(3, 'initiator -> responder', done.send)
const theirs = responder.receive(unframe(done.send)).result
if (theirs === undefined) throw new Error('the responder finishes on message 3')

console.log(`initiator authenticated ${done.result.remotePeer.toString()} (bob is ${PeerId.fromPublicKey(bob.publicKey).toString()})`)
console.log(`responder authenticated ${theirs.remotePeer.toString()}`)
console.log(`early muxer: ${done.result.muxer ?? 'none'}; same handshake hash: ${Buffer.from(done.result.handshakeHash).equals(Buffer.from(theirs.handshakeHash))}`)
