/**
 * Identify and identify-push messages decoded for the trace (libp2p specs identify/README.md), as
 * the Noise payload already is: each field by name, addresses as multiaddrs, the key as a peer id,
 * and the signed peer record (field 8, specs RFC/0002-signed-envelopes.md and
 * RFC/0003-routing-records.md) verified — against the message's own key when it carries one, so a
 * record signed by someone else shows as invalid. Only built when a trace is being taken.
 */
import { toError } from '../errors.js'
import { decodeIdentify } from '../proto/identify.js'
import type { IdentifyMessage } from '../proto/identify.js'
import { keyTypeName, unmarshalPublicKey } from '../security/keys.js'
import { PeerId } from '../security/peer-id.js'
import { verifyPeerRecord } from '../security/peer-record.js'
import { Multiaddr } from '../transport/multiaddr.js'
import type { IdentifyInfo, SignedPeerRecordInfo } from './observer.js'

/** The identify protocol ids and whether each is the push variant. */
export const IDENTIFY_PROTOCOLS: ReadonlyMap<string, boolean> = new Map([
  ['/ipfs/id/1.0.0', false],
  ['/ipfs/id/push/1.0.0', true]
])

/** `bytes` as multiaddr text, or a marker naming the bad bytes. */
function multiaddrText (bytes: Uint8Array): string {
  try {
    return Multiaddr.fromBytes(bytes).toString()
  } catch {
    return `<invalid multiaddr ${Buffer.from(bytes).toString('hex')}>`
  }
}

/** One Identify message body (without its length prefix), decoded for the trace; never throws. */
export function describeIdentify (body: Uint8Array, push: boolean): IdentifyInfo {
  let msg: IdentifyMessage
  try {
    msg = decodeIdentify(body)
  } catch (err) {
    return { push, listenAddrs: [], protocols: [], error: toError(err).message }
  }
  const info: IdentifyInfo = { push, listenAddrs: msg.listenAddrs.map(multiaddrText), protocols: msg.protocols }
  if (msg.protocolVersion !== undefined) info.protocolVersion = msg.protocolVersion
  if (msg.agentVersion !== undefined) info.agentVersion = msg.agentVersion
  let signer: PeerId | undefined
  if (msg.publicKey !== undefined) {
    try {
      const key = unmarshalPublicKey(msg.publicKey)
      signer = PeerId.fromPublicKey(key)
      info.publicKey = { keyType: keyTypeName(key.type), peerId: signer.toString() }
    } catch (err) {
      info.publicKey = { error: toError(err).message }
    }
  }
  if (msg.observedAddr !== undefined) info.observedAddr = multiaddrText(msg.observedAddr)
  if (msg.signedPeerRecord !== undefined) info.signedPeerRecord = describeRecord(msg.signedPeerRecord, signer)
  return info
}

function describeRecord (envelope: Uint8Array, signer: PeerId | undefined): SignedPeerRecordInfo {
  try {
    const r = verifyPeerRecord(envelope, signer)
    return {
      signature: 'verified',
      peerId: r.peerId.toString(),
      seq: r.seq.toString(),
      addresses: r.addresses.map(multiaddrText)
    }
  } catch (err) {
    return { signature: 'invalid', error: toError(err).message }
  }
}
