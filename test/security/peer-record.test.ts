/**
 * Signed peer records (RFC 0002 envelope, RFC 0003 record): our codecs and checks against
 * js-libp2p's @libp2p/peer-record in both directions, property tests for the decoders, and every
 * verification failure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord as JsPeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { CodecError, KeyError } from '../../src/errors.js'
import {
  decodeEnvelope,
  decodePeerRecord,
  encodeEnvelope,
  encodePeerRecord,
  envelopeSignedBytes,
  PEER_RECORD_DOMAIN,
  PEER_RECORD_PAYLOAD_TYPE
} from '../../src/proto/envelope.js'
import { signPeerRecord, timestampSeq, verifyPeerRecord } from '../../src/security/peer-record.js'
import { generateEd25519, generateSecp256k1 } from '../../src/security/keys.js'
import { PeerId } from '../../src/security/peer-id.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'

const ADDR = Multiaddr.parse('/ip4/127.0.0.1/tcp/4001').bytes

describe('signed peer records', () => {
  it('we sign, we verify: peer id, seq, addresses', () => {
    const key = generateEd25519()
    const env = signPeerRecord(key, [ADDR], 1_700_000_000_123_456_789n)
    const r = verifyPeerRecord(env, PeerId.fromPublicKey(key.publicKey))
    expect(r.peerId.equals(PeerId.fromPublicKey(key.publicKey))).toBe(true)
    expect(r.seq).toBe(1_700_000_000_123_456_789n)
    expect(r.addresses.map(a => Multiaddr.fromBytes(a).toString())).toEqual(['/ip4/127.0.0.1/tcp/4001'])
  })

  it('the wire layout: envelope fields 1, 2, 3, 5 (not RFC 0002\'s 4), payload type 0x0301', () => {
    const env = signPeerRecord(generateEd25519(), [ADDR], 1n)
    const d = decodeEnvelope(env)
    expect(Buffer.from(d.payloadType).toString('hex')).toBe('0301')
    // field 5, length-delimited: tag 0x2a; an Ed25519 signature is 64 bytes
    const sigAt = env.length - 64 - 2
    expect(env[sigAt]).toBe(0x2a)
    expect(env[sigAt + 1]).toBe(64)
    expect(Buffer.from(envelopeSignedBytes(PEER_RECORD_DOMAIN, d.payloadType, Uint8Array.of(9))).toString('hex'))
      .toBe('12' + Buffer.from('libp2p-peer-record').toString('hex') + '020301' + '0109')
  })

  it('js-libp2p verifies ours (RecordEnvelope.openAndCertify) and reads the record', async () => {
    const key = generateEd25519()
    const env = signPeerRecord(key, [ADDR], 42n)
    const opened = await RecordEnvelope.openAndCertify(env, JsPeerRecord.DOMAIN)
    const rec = JsPeerRecord.createFromProtobuf(opened.payload)
    expect(rec.peerId.toString()).toBe(PeerId.fromPublicKey(key.publicKey).toString())
    expect(rec.seqNumber).toBe(42n)
    expect(rec.multiaddrs.map(m => m.toString())).toEqual(['/ip4/127.0.0.1/tcp/4001'])
  })

  it.each(['Ed25519', 'secp256k1'] as const)('we verify js-libp2p\'s (%s key)', async (type) => {
    const jsKey = await generateKeyPair(type)
    const jsId = peerIdFromPrivateKey(jsKey)
    const record = new JsPeerRecord({ peerId: jsId, multiaddrs: [multiaddr('/ip4/10.0.0.1/tcp/1234')], seqNumber: 7n })
    const env = (await RecordEnvelope.seal(record, jsKey)).marshal()
    const r = verifyPeerRecord(env, PeerId.parse(jsId.toString()))
    expect(r.seq).toBe(7n)
    expect(r.addresses.map(a => Multiaddr.fromBytes(a).toString())).toEqual(['/ip4/10.0.0.1/tcp/1234'])
  })

  it('a seq above 2^53 (go-libp2p uses UnixNano) round-trips exactly', () => {
    const seq = (1n << 63n) + 12345n
    expect(decodePeerRecord(encodePeerRecord({ peerId: Uint8Array.of(1), seq, addresses: [] })).seq).toBe(seq)
    expect(timestampSeq(1)).toBeLessThan(timestampSeq(1))
  })

  describe('each check fails with its own error', () => {
    const key = generateEd25519()
    const good = decodeEnvelope(signPeerRecord(key, [ADDR], 5n))

    it('a flipped signature bit → ERR_INVALID_SIGNATURE', () => {
      const sig = good.signature.slice()
      sig[0] = (sig[0] ?? 0) ^ 1
      expect(() => verifyPeerRecord(encodeEnvelope({ ...good, signature: sig }))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_SIGNATURE' })
      )
    })

    it('a record signed for another domain → ERR_INVALID_SIGNATURE', () => {
      const signature = key.sign(envelopeSignedBytes('libp2p-routing-state', good.payloadType, good.payload))
      expect(() => verifyPeerRecord(encodeEnvelope({ ...good, signature }))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_SIGNATURE' })
      )
    })

    it('another payload type → ERR_INVALID_RECORD', () => {
      const payloadType = Uint8Array.of(0x03, 0x02)
      const signature = key.sign(envelopeSignedBytes(PEER_RECORD_DOMAIN, payloadType, good.payload))
      expect(() => verifyPeerRecord(encodeEnvelope({ ...good, payloadType, signature }))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_RECORD' })
      )
    })

    it('a record naming another peer, or from a peer we did not expect → ERR_PEER_ID_MISMATCH', () => {
      const other = PeerId.fromPublicKey(generateSecp256k1().publicKey)
      const payload = encodePeerRecord({ peerId: other.multihash, seq: 1n, addresses: [] })
      const signature = key.sign(envelopeSignedBytes(PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload))
      expect(() => verifyPeerRecord(encodeEnvelope({ ...good, payload, signature }))).toThrow(/names peer .* signed by/)
      expect(() => verifyPeerRecord(encodeEnvelope(good), other)).toThrow(
        expect.objectContaining({ code: 'ERR_PEER_ID_MISMATCH' })
      )
    })

    it('no key → ERR_INVALID_KEY', () => {
      expect(() => verifyPeerRecord(encodeEnvelope({ ...good, publicKey: new Uint8Array(0) }))).toThrow(KeyError)
    })
  })

  describe('decoders', () => {
    const arbRecord = fc.record({
      peerId: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      addresses: fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 4 })
    })
    it('round trip', () => {
      fc.assert(fc.property(arbRecord, r => {
        expect(decodePeerRecord(encodePeerRecord(r))).toEqual(r)
      }))
      fc.assert(
        fc.property(
          fc.uint8Array(),
          fc.uint8Array(),
          fc.uint8Array(),
          fc.uint8Array(),
          (publicKey, payloadType, payload, signature) => {
            expect(decodeEnvelope(encodeEnvelope({ publicKey, payloadType, payload, signature }))).toEqual({
              publicKey,
              payloadType,
              payload,
              signature
            })
          }
        )
      )
    })
    it('truncation at every offset and garbage: a typed error or a value, never anything else', () => {
      const env = signPeerRecord(generateEd25519(), [ADDR], 99n)
      for (let i = 0; i < env.length; i++) {
        try {
          verifyPeerRecord(env.subarray(0, i))
        } catch (err) {
          expect(err instanceof CodecError || err instanceof KeyError).toBe(true)
        }
      }
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => {
        try {
          decodePeerRecord(bytes)
          decodeEnvelope(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError)
        }
      }))
    })
  })
})
