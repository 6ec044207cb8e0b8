/**
 * identify and identify-push in the trace (libp2p specs identify/README.md): each field by name,
 * addresses as multiaddrs, the key as a peer id, the signed peer record verified (RFC 0002/0003);
 * decoded from the stream's bytes in a live trace between two switches.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { newStandardSwitch } from '../../src/index.js'
import type { Switch } from '../../src/index.js'
import { encodeIdentify } from '../../src/proto/identify.js'
import { identifyPush } from '../../src/protocols/identify.js'
import { generateEd25519, generateSecp256k1 } from '../../src/security/keys.js'
import { PeerId } from '../../src/security/peer-id.js'
import { signPeerRecord } from '../../src/security/peer-record.js'
import { describeIdentify } from '../../src/trace/identify.js'
import { formatIdentify, TextFormatter } from '../../src/trace/format-text.js'
import { recordToJson } from '../../src/trace/format-jsonl.js'
import type { TraceRecord } from '../../src/trace/observer.js'
import { Tracer } from '../../src/trace/tracer.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'

const addr = (s: string): Uint8Array => Multiaddr.parse(s).bytes

describe('describeIdentify', () => {
  const key = generateEd25519()
  const peer = PeerId.fromPublicKey(key.publicKey).toString()

  it('every field: versions, key → peer id, addresses as multiaddrs, protocols, the record verified', () => {
    const body = encodeIdentify({
      protocolVersion: 'ipfs/0.1.0',
      agentVersion: 'go-libp2p/0.51.0',
      publicKey: key.publicKey.bytes(),
      listenAddrs: [addr('/ip4/10.0.0.1/tcp/4001'), addr('/ip6/::1/udp/4001/quic-v1')],
      observedAddr: addr('/ip4/127.0.0.1/tcp/50312'),
      protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'],
      signedPeerRecord: signPeerRecord(key, [addr('/ip4/10.0.0.1/tcp/4001')], 1733390000000000000n)
    })
    const info = describeIdentify(body, false)
    expect(info).toEqual({
      push: false,
      protocolVersion: 'ipfs/0.1.0',
      agentVersion: 'go-libp2p/0.51.0',
      publicKey: { keyType: 'Ed25519', peerId: peer },
      listenAddrs: ['/ip4/10.0.0.1/tcp/4001', '/ip6/::1/udp/4001/quic-v1'],
      observedAddr: '/ip4/127.0.0.1/tcp/50312',
      protocols: ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'],
      signedPeerRecord: {
        signature: 'verified',
        peerId: peer,
        seq: '1733390000000000000',
        addresses: ['/ip4/10.0.0.1/tcp/4001']
      }
    })
    expect(formatIdentify(info)).toEqual([
      'protocolVersion "ipfs/0.1.0", agentVersion "go-libp2p/0.51.0"',
      `publicKey Ed25519 ${peer}`,
      'listenAddrs /ip4/10.0.0.1/tcp/4001, /ip6/::1/udp/4001/quic-v1',
      'observedAddr /ip4/127.0.0.1/tcp/50312',
      'protocols /ipfs/id/1.0.0, /ipfs/ping/1.0.0',
      `signedPeerRecord signature verified, peer ${peer}, seq 1733390000000000000, addresses /ip4/10.0.0.1/tcp/4001`
    ])
  })

  it('a record signed by another peer than the message\'s key is shown invalid, with the reason', () => {
    const other = generateSecp256k1()
    const info = describeIdentify(
      encodeIdentify({
        publicKey: key.publicKey.bytes(),
        listenAddrs: [],
        protocols: [],
        signedPeerRecord: signPeerRecord(other, [])
      }),
      false
    )
    expect(info.signedPeerRecord?.signature).toBe('invalid')
    expect(info.signedPeerRecord?.error).toMatch(/expected peer .*, got a record of /)
    expect(formatIdentify(info).at(-1)).toMatch(
      /^signedPeerRecord SIGNATURE INVALID: signed peer record: expected peer /
    )
  })

  it('a push shows only what it carries; bad multiaddr bytes and bad keys are named, garbage is not an Identify message', () => {
    const push = describeIdentify(encodeIdentify({ listenAddrs: [Uint8Array.of(0xff, 0xff)], protocols: [] }), true)
    expect(push).toEqual({ push: true, listenAddrs: ['<invalid multiaddr ffff>'], protocols: [] })
    expect(formatIdentify(push)).toEqual(['listenAddrs <invalid multiaddr ffff>'])
    const badKey = describeIdentify(
      encodeIdentify({ publicKey: Uint8Array.of(1, 2, 3), listenAddrs: [], protocols: [] }),
      false
    )
    expect(badKey.publicKey).toHaveProperty('error')
    const garbage = describeIdentify(Uint8Array.of(0x0a, 0x05, 1), false)
    expect(garbage.error).toMatch(/./)
    expect(formatIdentify(garbage)[0]).toMatch(/^! not an Identify message: /)
  })
})

describe('identify in a live trace', () => {
  const switches: Switch[] = []
  afterEach(async () => { await Promise.all(switches.splice(0).map(s => s.stop())) })

  it('both ends show the identify answer and a push field by field, the signed record verified', async () => {
    const client: TraceRecord[] = []
    const keep = (records: TraceRecord[]): { write: (r: TraceRecord) => void } => ({
      write: r => {
        records.push({ ...r })
      }
    })
    const server = newStandardSwitch({ log: () => {} })
    const dialer = newStandardSwitch({
      log: () => {},
      listenAddrs: [],
      observer: new Tracer({ sinks: [keep(client)] }).switchObserver
    })
    switches.push(server, dialer)
    await server.start()
    await dialer.start()
    const identified = dialer.next('identify')
    await dialer.dial(server.peerId, server.peerInfo.addrs)
    await identified
    const pushStream = await dialer.dial(server.peerId, server.peerInfo.addrs, '/ipfs/id/push/1.0.0')
    await identifyPush(pushStream, { protocols: ['/new/1.0.0'], listenAddrs: [] })

    const messages = client.filter((r): r is Extract<TraceRecord, { layer: 'stream', kind: 'message' }> =>
      r.layer === 'stream' && r.kind === 'message'
    )
    const answer = messages.find(r => r.dir === 'in' && r.identify !== undefined && !r.identify.push)
    expect(answer?.identify).toMatchObject({
      push: false,
      agentVersion: expect.stringMatching(/^switchyard\//),
      publicKey: { keyType: 'Ed25519', peerId: server.peerId.toString() },
      listenAddrs: server.peerInfo.addrs.map(a => a.toString()),
      signedPeerRecord: {
        signature: 'verified',
        peerId: server.peerId.toString(),
        addresses: server.peerInfo.addrs.map(a => a.toString())
      }
    })
    expect(answer?.identify?.protocols).toContain('/ipfs/id/1.0.0')
    expect(answer?.identify?.observedAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    await expect.poll(() => client.some(r => r.layer === 'stream' && r.kind === 'message' && r.identify?.push === true))
      .toBe(true)
    const push = client.find(r => r.layer === 'stream' && r.kind === 'message' && r.identify?.push === true)
    expect(push).toMatchObject({ dir: 'out', identify: { push: true, protocols: ['/new/1.0.0'], listenAddrs: [] } })

    // The text view: the message line, then one line per field; JSON Lines carries the same object.
    const formatter = new TextFormatter({})
    const text = client.flatMap(r => formatter.format(r)).join('\n')
    expect(text).toMatch(/<- identify \(\d+ B\)\n\s+protocolVersion "ipfs\/0\.1\.0", agentVersion "switchyard\//)
    expect(text).toContain(`publicKey Ed25519 ${server.peerId.toString()}`)
    expect(text).toMatch(
      /signedPeerRecord signature verified, peer 12D3KooW\w+, seq \d+, addresses \/ip4\/127\.0\.0\.1\/tcp\/\d+/
    )
    expect(text).toMatch(/-> identify push \(\d+ B\)\n\s+protocols \/new\/1\.0\.0/)
    if (answer === undefined) throw new Error('no answer')
    expect(JSON.parse(JSON.stringify(recordToJson(answer))).identify).toEqual(answer.identify)
  })
})
