/**
 * The switch end to end against a real js-libp2p 3.x node (`libp2p` + `@libp2p/tcp` + one security
 * protocol + `@chainsafe/libp2p-yamux` + `@libp2p/ping` + `@libp2p/identify`) over loopback TCP, in
 * both directions — one suite, run once per security protocol (js-switch.test.ts: Noise,
 * js-switch-tls.test.ts: TLS):
 *
 *   - the nim tutorial's `/test/stream-proto/1.0.0` (all 11 parts; the js side is written with
 *     js-libp2p's own stream API),
 *   - ping (js-libp2p's ping service against our handler and our client against its handler),
 *   - identify (each side sees the other's peer id, protocols and listen addresses),
 *   - 64 MiB on one stream, echoed, with a SHA-256 of each direction,
 *   - 100 concurrent echo streams with distinct payloads,
 *   - js-libp2p peers with secp256k1 and RSA identities.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { newStandardSwitch, PeerId } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { ECHO_CODEC, IDENTIFY_CODEC, PING_CODEC, STREAM_PROTO_CODEC } from '../../src/protocols/constants.js'
import { unmarshalPublicKey } from '../../src/security/keys.js'
import { echo, echoProtocol } from '../../src/protocols/echo.js'
import { identify } from '../../src/protocols/identify.js'
import { ping } from '../../src/protocols/ping.js'
import { streamProtoClient, streamProtoProtocol } from '../../src/protocols/stream-proto.js'
import {
  BIG_BYTES,
  CHUNK,
  STREAMS,
  PARTS,
  jsSend,
  jsReadAll,
  jsStreamProtoClient,
  createJsNode,
  chunkOf,
  payloadOf,
  sha256,
  eventually,
  bigEcho
} from './js-peer.js'
import type { JsNode } from './js-peer.js'
import type { PeerConnection, StandardSwitchOptions } from '../../src/index.js'
import { within } from '../helpers/wait.js'

export interface JsSwitchVariant {
  /** The js-libp2p connection encrypter, fresh per node (`noise()`, `tls()`). */
  jsSecurity: () => Parameters<typeof createJsNode>[0][number]
  /** The switch's `security` option; undefined: its default (Noise). */
  security?: StandardSwitchOptions['security']
  /** What the variant checks beyond the common suite on a connection in each direction. */
  checkConnection?: (conn: PeerConnection) => void
  /** Check the signed peer records both ways (identify field 8). */
  signedPeerRecords: boolean
}

export function jsSwitchSuite (v: JsSwitchVariant): void {
  // ───────────────────────────── the pair ─────────────────────────────

  let js: JsNode
  let jsStreamProtoSeen: string[]
  let sw: Switch
  const serverLog: string[] = []

  beforeAll(async () => {
    ;({ node: js, streamProtoSeen: jsStreamProtoSeen } = await createJsNode([v.jsSecurity()]))
    sw = newStandardSwitch({
      ...(v.security === undefined ? {} : { security: v.security }),
      log: line => { serverLog.push(line) },
      protocols: [streamProtoProtocol, echoProtocol]
    })
    await sw.start()
  })

  afterAll(async () => {
    await Promise.all([js?.stop(), sw?.stop()])
  })

  const jsAddr = (node: JsNode = js): string => (node.getMultiaddrs()[0] as { toString: () => string }).toString()
  const ourAddr = (): string => `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`

  describe('switchyard dials js-libp2p', () => {
    it('stream-proto: the js server gets the request, we get all 11 parts', async () => {
      const stream = await sw.dial(jsAddr(), STREAM_PROTO_CODEC)
      const lines: string[] = []
      const parts = await within(10_000, 'stream-proto', streamProtoClient(stream, { log: l => { lines.push(l) } }))
      expect(parts).toEqual(PARTS)
      expect(lines).toEqual(PARTS.map(p => `[client] received from server: ${p}`))
      expect(jsStreamProtoSeen).toContain('please send data')
      expect(stream.remotePeer.toString()).toBe(js.peerId.toString())
    })

    it('ping: our client, js-libp2p\'s handler, 3 round trips', async () => {
      const stream = await sw.dial(jsAddr(), PING_CODEC)
      const rtts = await within(10_000, 'ping', ping(stream, { count: 3 }))
      expect(rtts).toHaveLength(3)
    })

    it('identify: we see js-libp2p\'s peer id, protocols and listen address', async () => {
      const conn = await sw.dial(jsAddr())
      expect(conn.remotePeer.toString()).toBe(js.peerId.toString())
      v.checkConnection?.(conn)
      // The switch's own identify on connect (js-libp2p serves one identify stream at a time: let it finish first).
      const identity = await within(10_000, 'identify on connect', conn.identified())
      expect(identity?.protocols).toEqual(
        expect.arrayContaining([STREAM_PROTO_CODEC, ECHO_CODEC, PING_CODEC, IDENTIFY_CODEC])
      )
      expect(identity?.listenAddrs.map(a => a.toString())).toContain(jsAddr().split('/p2p/')[0])
      if (v.signedPeerRecords) {
        // js-libp2p sends a signed peer record (identify field 8): it verified, over its listen address.
        expect(identity?.signedPeerRecordError).toBeUndefined()
        expect(identity?.signedPeerRecord?.addresses.map(a => a.toString())).toContain(jsAddr().split('/p2p/')[0])
      }
      // And our identify client on its own stream: the key is js-libp2p's.
      const msg = await within(10_000, 'identify', identify(await sw.dial(jsAddr(), IDENTIFY_CODEC)))
      const jsKey = js.peerId.publicKey
      if (jsKey === undefined) throw new Error('js-libp2p peer id without a public key')
      expect(msg.publicKey).toEqual(publicKeyToProtobuf(jsKey))
      // js-libp2p identified us too (it runs identify on every connection).
      const peer = await eventually('js-libp2p to store our identify answer', async () => {
        const p = await js.peerStore.get(peerIdFromString(sw.peerId.toString()))
        return p.protocols.includes(ECHO_CODEC) ? p : undefined
      })
      expect(peer.protocols).toEqual(
        expect.arrayContaining([STREAM_PROTO_CODEC, ECHO_CODEC, PING_CODEC, IDENTIFY_CODEC])
      )
      expect(peer.addresses.map(a => a.multiaddr.toString())).toContain(sw.peerInfo.addrs[0]?.toString())
    })

    it('64 MiB echoed by js-libp2p on one stream, checksummed both ways', async () => {
      const stream = await sw.dial(jsAddr(), ECHO_CODEC)
      const r = await within(60_000, '64 MiB echo', bigEcho(stream))
      expect(r.bytes).toBe(BIG_BYTES)
      expect(r.received).toBe(r.sent)
    }, 90_000)

    it('100 concurrent echo streams with distinct payloads', async () => {
      const conn = await sw.dial(jsAddr())
      const results = await within(30_000, '100 streams', Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
        const stream = await conn.newStream(ECHO_CODEC)
        return await echo(stream, payloadOf(i))
      })))
      results.forEach((got, i) => { expect(Buffer.compare(got, payloadOf(i)), `stream ${i}`).toBe(0) })
    })
  })

  describe('js-libp2p dials switchyard', () => {
    it('stream-proto: our server gets the request, the js client gets all 11 parts', async () => {
      const stream = await js.dialProtocol(multiaddr(ourAddr()), STREAM_PROTO_CODEC)
      const parts = await within(10_000, 'stream-proto', jsStreamProtoClient(stream))
      expect(parts).toEqual(PARTS)
      expect(serverLog).toContain('[server] received from client: please send data')
    })

    it('ping: js-libp2p\'s ping service against our handler', async () => {
      const rtt = await within(10_000, 'ping', js.services.ping.ping(multiaddr(ourAddr())))
      expect(rtt).toBeGreaterThanOrEqual(0)
    })

    it('identify: js-libp2p sees our peer id, protocols and address; we see its', async () => {
      const fresh = await createJsNode([v.jsSecurity()])
      try {
        const identified = sw.next('identify', ev => ev.connection.remotePeer.toString() === fresh.node.peerId.toString())
        const conn = await fresh.node.dial(multiaddr(ourAddr()))
        expect(conn.remotePeer.toString()).toBe(sw.peerId.toString())
        const peer = await eventually('js-libp2p to store our identify answer', async () => {
          const p = await fresh.node.peerStore.get(peerIdFromString(sw.peerId.toString()))
          return p.protocols.includes(ECHO_CODEC) ? p : undefined
        })
        expect(peer.protocols).toEqual(
          expect.arrayContaining([STREAM_PROTO_CODEC, ECHO_CODEC, PING_CODEC, IDENTIFY_CODEC])
        )
        expect(peer.addresses.map(a => a.multiaddr.toString())).toContain(sw.peerInfo.addrs[0]?.toString())
        expect(peer.id.toString()).toBe(sw.peerId.toString())
        if (v.signedPeerRecords) {
          // js-libp2p accepted our signed peer record (it keeps only a record that verified).
          const withRecord = await eventually('js-libp2p to store our signed peer record', async () => {
            const p = await fresh.node.peerStore.get(peerIdFromString(sw.peerId.toString()))
            return p.peerRecordEnvelope !== undefined ? p : undefined
          })
          const opened = await RecordEnvelope.openAndCertify(
            withRecord.peerRecordEnvelope as Uint8Array,
            PeerRecord.DOMAIN
          )
          expect(PeerRecord.createFromProtobuf(opened.payload).multiaddrs.map(m => m.toString())).toContain(
            sw.peerInfo.addrs[0]?.toString()
          )
        }
        // …and our switch identified the js-libp2p dialer on the inbound connection.
        const { identity, connection: inbound } = await within(10_000, 'our identify of the js dialer', identified)
        v.checkConnection?.(inbound)
        expect(identity.protocols).toEqual(
          expect.arrayContaining([STREAM_PROTO_CODEC, ECHO_CODEC, PING_CODEC, IDENTIFY_CODEC])
        )
        expect(identity.listenAddrs.map(a => a.toString())).toContain(jsAddr(fresh.node).split('/p2p/')[0])
      } finally {
        await fresh.node.stop()
      }
    })

    it('64 MiB from js-libp2p echoed by us on one stream, checksummed both ways', async () => {
      const stream = await js.dialProtocol(multiaddr(ourAddr()), ECHO_CODEC)
      const sent = sha256()
      const received = sha256()
      let bytes = 0
      const reading = (async () => {
        for await (const c of stream) {
          const b = c instanceof Uint8Array ? c : c.subarray()
          received.update(b)
          bytes += b.length
        }
      })()
      await within(60_000, '64 MiB from js', (async () => {
        for (let i = 0; i < BIG_BYTES / CHUNK; i++) {
          const c = chunkOf(9, i)
          sent.update(c)
          await jsSend(stream, c)
        }
        await stream.close()
        await reading
      })())
      expect(bytes).toBe(BIG_BYTES)
      expect(received.digest('hex')).toBe(sent.digest('hex'))
    }, 90_000)

    it('100 concurrent echo streams from js-libp2p with distinct payloads', async () => {
      const target = multiaddr(ourAddr())
      await js.dial(target)
      const results = await within(
        30_000,
        '100 streams from js',
        Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
          const stream = await js.dialProtocol(target, ECHO_CODEC)
          const reading = jsReadAll(stream)
          await jsSend(stream, payloadOf(i))
          await stream.close()
          return await reading
        }))
      )
      results.forEach((got, i) => {
        expect(Buffer.compare(got, payloadOf(i)), `stream ${i}`).toBe(0)
      })
    })
  })

  describe('js-libp2p peers with other key types', () => {
    it.each(['secp256k1', 'RSA'] as const)(
      'a %s js-libp2p peer is verified and accepted in both directions',
      async (type) => {
        const key = type === 'RSA' ? await generateKeyPair('RSA', 2048) : await generateKeyPair(type)
        const { node } = await createJsNode([v.jsSecurity()], key)
        try {
          expect(node.peerId.type).toBe(type)
          // We dial it: Noise checks its identity against the /p2p id in the address.
          const stream = await sw.dial(jsAddr(node), STREAM_PROTO_CODEC)
          expect(stream.remotePeer.toString()).toBe(node.peerId.toString())
          expect(await within(10_000, 'stream-proto', streamProtoClient(stream))).toEqual(PARTS)
          // It dials us.
          const rtt = await within(10_000, 'ping from js', node.services.ping.ping(multiaddr(ourAddr())))
          expect(rtt).toBeGreaterThanOrEqual(0)
          const inbound = sw.connections(node.peerId.toString())
          expect(inbound.length).toBeGreaterThan(0)
          expect(inbound.every(c => c.remotePeer.toString() === node.peerId.toString())).toBe(true)
          // Its key as identify reports it matches the authenticated peer id.
          const msg = await within(10_000, 'identify', identify(await sw.dial(jsAddr(node), IDENTIFY_CODEC)))
          expect(msg.publicKey).toEqual(publicKeyToProtobuf(key.publicKey))
          expect(PeerId.fromPublicKey(unmarshalPublicKey(msg.publicKey ?? new Uint8Array())).toString()).toBe(
            node.peerId.toString()
          )
        } finally {
          await node.stop()
        }
      },
      30_000
    )

    it('a js-libp2p peer answering for another peer id is refused', async () => {
      const { node } = await createJsNode([v.jsSecurity()])
      try {
        const other = await generateKeyPair('Ed25519')
        const wrong = `${jsAddr(node).split('/p2p/')[0] as string}/p2p/${peerIdFromPrivateKey(other).toString()}`
        await expect(sw.dial(wrong, PING_CODEC)).rejects.toMatchObject({ code: 'ERR_PEER_ID_MISMATCH' })
      } finally {
        await node.stop()
      }
    })
  })
}
