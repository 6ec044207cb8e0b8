import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { multiaddr as jsMultiaddr } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { MultiaddrError } from '../../src/errors.js'
import { CODE_IP4, CODE_P2P, CODE_TCP, Multiaddr } from '../../src/transport/multiaddr.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

// specs digest §7 (multiaddr test/multiaddr.feature and go-multiaddr vectors).
const VECTORS: Array<[string, string]> = [
  ['/ip4/192.0.2.42/tcp/443', '04c000022a0601bb'],
  ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq',
    '047f000001060fa1a503260024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e'],
  ['/ip6/::1/tcp/4001', '2900000000000000000000000000000001060fa1'],
  ['/dns4/example.com/tcp/443', '360b6578616d706c652e636f6d0601bb'],
  ['/dns6/localhost/tcp/1', '37096c6f63616c686f7374060001'],
  ['/ip4/192.0.2.42/tcp/443/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
    '04c000022a0601bba5032212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9']
]

const ED_PEER = '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq'
const RSA_PEER = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'

describe('multiaddr vectors (digest §7)', () => {
  it.each(VECTORS)('%s', (text, bin) => {
    const fromText = Multiaddr.parse(text)
    expect(hex(fromText.bytes)).toBe(bin)
    expect(fromText.toString()).toBe(text)
    const fromBin = Multiaddr.fromBytes(unhex(bin))
    expect(fromBin.toString()).toBe(text)
    expect(fromBin.equals(fromText)).toBe(true)
    // Cross-check with the reference implementation.
    expect(hex(jsMultiaddr(text).bytes)).toBe(bin)
  })

  it('/dns is code 53 with a UTF-8 value', () => {
    expect(hex(Multiaddr.parse('/dns/example.com/tcp/443').bytes)).toBe('350b6578616d706c652e636f6d0601bb')
  })
})

describe('peer ids', () => {
  it('peerId() returns base58btc text and peerIdMultihash() the multihash bytes', () => {
    const ma = Multiaddr.parse(`/ip4/127.0.0.1/tcp/4001/p2p/${ED_PEER}`)
    expect(ma.peerId()).toBe(ED_PEER)
    expect(hex(ma.peerIdMultihash() as Uint8Array)).toBe(
      '002408011220' + '1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e'
    )
    expect(Multiaddr.parse('/ip4/127.0.0.1/tcp/1').peerId()).toBeUndefined()
    expect(Multiaddr.parse('/ip4/127.0.0.1/tcp/1').peerIdMultihash()).toBeUndefined()
  })

  it('/ipfs is a synonym of /p2p and prints as /p2p', () => {
    const ma = Multiaddr.parse(`/ip4/192.0.2.42/tcp/443/ipfs/${RSA_PEER}`)
    expect(ma.toString()).toBe(`/ip4/192.0.2.42/tcp/443/p2p/${RSA_PEER}`)
    expect(ma.equals(Multiaddr.parse(`/ip4/192.0.2.42/tcp/443/p2p/${RSA_PEER}`))).toBe(true)
  })

  it('accepts CIDv1 libp2p-key text (base32, base36) and prints base58btc', () => {
    const mh = Multiaddr.parse(`/p2p/${ED_PEER}`).peerIdMultihash() as Uint8Array
    const cid = CID.createV1(0x72, Digest.decode(mh))
    for (const text of [cid.toString(base32), cid.toString(base36)]) {
      const ma = Multiaddr.parse(`/ip4/1.2.3.4/tcp/5/p2p/${text}`)
      expect(ma.peerId()).toBe(ED_PEER)
      expect(ma.toString()).toBe(`/ip4/1.2.3.4/tcp/5/p2p/${ED_PEER}`)
    }
  })

  it('rejects a CID with another codec, naming /p2p', () => {
    const mh = Multiaddr.parse(`/p2p/${ED_PEER}`).peerIdMultihash() as Uint8Array
    const raw = CID.createV1(0x55, Digest.decode(mh)).toString()
    expect(() => Multiaddr.parse(`/p2p/${raw}`)).toThrow(/"\/p2p".*libp2p-key/)
  })

  it('rejects bad base58 and non-multihash peer ids', () => {
    expect(() => Multiaddr.parse('/p2p/QmNotBase58!!')).toThrow(MultiaddrError)
    expect(() => Multiaddr.parse('/p2p/1')).toThrow(/"\/p2p"/)
    // binary: /p2p with a 3-byte value that is not a multihash (declares 32 digest bytes, has 1)
    expect(() => Multiaddr.fromBytes(unhex('a50303122000'))).toThrow(/"\/p2p" expected a multihash/)
  })
})

describe('parse and format', () => {
  it('canonicalises IPv6 (RFC 5952) and accepts every text form', () => {
    const cases: Array<[string, string]> = [
      ['/ip6/0:0:0:0:0:0:0:1', '/ip6/::1'],
      ['/ip6/2001:DB8:0:0:1:0:0:1', '/ip6/2001:db8::1:0:0:1'],
      ['/ip6/1:0:0:2:0:0:0:3', '/ip6/1:0:0:2::3'],
      ['/ip6/::', '/ip6/::'],
      ['/ip6/1::', '/ip6/1::'],
      ['/ip6/1:2:3:4:5:6:7::', '/ip6/1:2:3:4:5:6:7:0'],
      ['/ip6/::ffff:127.0.0.1', '/ip6/::ffff:127.0.0.1'],
      ['/ip6/::ffff:7f00:1', '/ip6/::ffff:127.0.0.1'],
      ['/ip6/fe80::1:2.3.4.5', '/ip6/fe80::1:203:405'],
      ['/ip6/0001:0:0:0:0:0:0:0', '/ip6/1::']
    ]
    for (const [input, out] of cases) {
      const ma = Multiaddr.parse(input)
      expect(ma.toString()).toBe(out)
      expect(hex(ma.bytes)).toBe(hex(jsMultiaddr(input).bytes))
    }
  })

  it('tolerates one trailing slash; "/" is the empty multiaddr', () => {
    expect(Multiaddr.parse('/ip4/1.2.3.4/tcp/5/').toString()).toBe('/ip4/1.2.3.4/tcp/5')
    const empty = Multiaddr.parse('/')
    expect(empty.components).toHaveLength(0)
    expect(empty.bytes).toHaveLength(0)
    expect(empty.toString()).toBe('/')
  })

  it('value-less protocols', () => {
    const text = `/ip4/1.2.3.4/tcp/5/p2p/${ED_PEER}/p2p-circuit/p2p/${RSA_PEER}`
    const ma = Multiaddr.parse(text)
    expect(ma.toString()).toBe(text)
    expect(ma.peerId()).toBe(RSA_PEER)
    expect(hex(ma.bytes)).toBe(hex(jsMultiaddr(text).bytes))
    expect(Multiaddr.fromBytes(ma.bytes).toString()).toBe(text)
  })

  it('components expose code, name, value and raw bytes', () => {
    const ma = Multiaddr.parse('/ip4/10.0.0.1/tcp/80')
    expect(ma.components.map(c => [c.code, c.name, c.value, hex(c.raw)])).toEqual([
      [CODE_IP4, 'ip4', '10.0.0.1', '0a000001'],
      [CODE_TCP, 'tcp', '80', '0050']
    ])
    expect(Object.isFrozen(ma.components)).toBe(true)
  })

  const errors: Array<[string, RegExp]> = [
    ['', /starting with "\/"/],
    ['ip4/1.2.3.4', /starting with "\/"/],
    ['/ip4', /"\/ip4" expected a value/],
    ['/ip4/1.2.3', /"\/ip4" expected a dotted-quad IPv4 address, got "1.2.3"/],
    ['/ip4/256.1.1.1', /"\/ip4"/],
    ['/ip4/01.1.1.1', /"\/ip4"/],
    ['/ip4/1.2.3.4/tcp/65536', /"\/tcp" expected a port in \[0, 65535\], got "65536"/],
    ['/ip4/1.2.3.4/tcp/-1', /"\/tcp"/],
    ['/ip4/1.2.3.4/tcp/0x50', /"\/tcp"/],
    ['/ip4/1.2.3.4/tcp', /"\/tcp" expected a value/],
    ['/ip6/1:2:3:4:5:6:7:8:9', /"\/ip6" expected an IPv6 address/],
    ['/ip6/1::2::3', /"\/ip6"/],
    ['/ip6/12345::', /"\/ip6"/],
    ['/ip6/fe80::1%eth0', /"\/ip6"/],
    ['/ip6/1:2:3:4:5:6:7::8', /"\/ip6"/],
    ['/foo/1', /unknown protocol "\/foo"/],
    ['/ip4/1.2.3.4//tcp/1', /unknown protocol "\/"/],
    ['/ip4/1.2.3.4/sctp/1', /unknown protocol "\/sctp"/]
  ]
  it.each(errors)('rejects %j', (text, message) => {
    expect(() => Multiaddr.parse(text)).toThrow(MultiaddrError)
    expect(() => Multiaddr.parse(text)).toThrow(message)
  })

  it('rejects malformed binary, naming the component', () => {
    expect(() => Multiaddr.fromBytes(unhex('04c00002'))).toThrow(/"\/ip4" expected 4 value bytes, got 3/)
    expect(() => Multiaddr.fromBytes(unhex('ff01'))).toThrow(/unknown protocol code 255/)
    expect(() => Multiaddr.fromBytes(unhex('80'))).toThrow(/truncated protocol code/)
    expect(() => Multiaddr.fromBytes(unhex('3600'))).toThrow(/"\/dns4" expected a non-empty name/)
    expect(() => Multiaddr.fromBytes(unhex('3602ff00'))).toThrow(/"\/dns4" expected valid UTF-8/)
    expect(() => Multiaddr.fromBytes(unhex('3603612f62'))).toThrow(/"\/dns4" expected a name without "\/"/)
    expect(() => Multiaddr.fromBytes(unhex('8400'))).toThrow(/malformed protocol code/) // non-minimal varint
  })

  it('fromBytes copies its input', () => {
    const buf = unhex('04c000022a0601bb')
    const ma = Multiaddr.fromBytes(buf)
    buf.fill(0)
    expect(ma.toString()).toBe('/ip4/192.0.2.42/tcp/443')
  })
})

describe('encapsulate / decapsulate / node addresses', () => {
  it('encapsulate and withoutPeerId', () => {
    const base = Multiaddr.parse('/ip4/127.0.0.1/tcp/4001')
    const full = base.encapsulate(`/p2p/${ED_PEER}`)
    expect(full.toString()).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${ED_PEER}`)
    expect(full.withoutPeerId().equals(base)).toBe(true)
    expect(base.withoutPeerId()).toBe(base)
  })

  it('decapsulateCode removes from the last occurrence onward', () => {
    const ma = Multiaddr.parse(`/ip4/1.2.3.4/tcp/1/p2p/${ED_PEER}/p2p-circuit/p2p/${RSA_PEER}`)
    expect(ma.decapsulateCode(CODE_P2P).toString()).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${ED_PEER}/p2p-circuit`)
    expect(ma.decapsulateCode(CODE_TCP).toString()).toBe('/ip4/1.2.3.4')
    expect(ma.decapsulateCode(999)).toBe(ma)
  })

  it('toNodeAddress for every host kind', () => {
    expect(Multiaddr.parse(`/ip4/127.0.0.1/tcp/4001/p2p/${ED_PEER}`).toNodeAddress()).toEqual({
      host: '127.0.0.1',
      port: 4001,
      family: 4
    })
    expect(Multiaddr.parse('/ip6/::1/tcp/1').toNodeAddress()).toEqual({ host: '::1', port: 1, family: 6 })
    expect(Multiaddr.parse('/ip6zone/eth0/ip6/fe80::1/tcp/1').toNodeAddress()).toEqual({
      host: 'fe80::1%eth0',
      port: 1,
      family: 6
    })
    expect(Multiaddr.parse('/dns4/a.example/tcp/2').toNodeAddress()).toEqual({ host: 'a.example', port: 2, family: 4 })
    expect(Multiaddr.parse('/dns6/a.example/tcp/2').toNodeAddress()).toEqual({ host: 'a.example', port: 2, family: 6 })
    expect(Multiaddr.parse('/dns/a.example/tcp/2').toNodeAddress()).toEqual({ host: 'a.example', port: 2, family: 0 })
    expect(() => Multiaddr.parse('/ip4/1.2.3.4/udp/1').toNodeAddress()).toThrow(/not a TCP address/)
    expect(() => Multiaddr.parse('/ip4/1.2.3.4').toNodeAddress()).toThrow(MultiaddrError)
    expect(() => Multiaddr.parse(`/p2p/${ED_PEER}/tcp/1`).toNodeAddress()).toThrow(/"\/p2p" cannot carry a TCP host/)
  })

  it('fromNodeAddress', () => {
    expect(Multiaddr.fromNodeAddress('127.0.0.1', 80).toString()).toBe('/ip4/127.0.0.1/tcp/80')
    expect(Multiaddr.fromNodeAddress('::1', 80).toString()).toBe('/ip6/::1/tcp/80')
    expect(Multiaddr.fromNodeAddress('::ffff:127.0.0.1', 80).toString()).toBe('/ip6/::ffff:127.0.0.1/tcp/80')
    expect(Multiaddr.fromNodeAddress('fe80::1%lo', 80).toString()).toBe('/ip6zone/lo/ip6/fe80::1/tcp/80')
    expect(Multiaddr.fromNodeAddress('localhost', 80).toString()).toBe('/dns/localhost/tcp/80')
    expect(() => Multiaddr.fromNodeAddress('127.0.0.1', 70000)).toThrow(/"\/tcp"/)
  })
})

// --- property tests -------------------------------------------------------------------------

const arbPeerMultihash = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => Digest.create(0x12, d).bytes),
  fc.uint8Array({ minLength: 36, maxLength: 36 }).map(d => Digest.create(0x00, d).bytes)
)
const arbLabel = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/)
const arbComponent = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(p => `/ip4/${p.join('.')}`),
  fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map(w => `/ip6/${w.map(x => x.toString(16)).join(':')}`),
  fc.nat(65535).map(p => `/tcp/${p}`),
  fc.nat(65535).map(p => `/udp/${p}`),
  fc.tuple(fc.constantFrom('dns', 'dns4', 'dns6', 'dnsaddr'), fc.array(arbLabel, { minLength: 1, maxLength: 4 }))
    .map(([n, labels]) => `/${n}/${labels.join('.')}`),
  arbPeerMultihash.map(mh =>
    `/p2p/${Multiaddr.fromBytes(new Uint8Array([0xa5, 0x03, mh.length, ...mh])).peerId() as string}`
  ),
  fc.constantFrom('/p2p-circuit', '/ws', '/wss', '/quic-v1')
)
const arbText = fc.array(arbComponent, { minLength: 1, maxLength: 6 }).map(cs => cs.join(''))

function expectTypedOrOk (fn: () => unknown): void {
  try { fn() } catch (err) { expect(err).toBeInstanceOf(MultiaddrError) }
}

describe('properties', () => {
  it('text → bytes → text round trips and matches @multiformats/multiaddr bytes', () => {
    fc.assert(fc.property(arbText, text => {
      const ma = Multiaddr.parse(text)
      const back = Multiaddr.fromBytes(ma.bytes)
      expect(back.toString()).toBe(ma.toString())
      expect(Multiaddr.parse(ma.toString()).equals(ma)).toBe(true)
      expect(hex(ma.bytes)).toBe(hex(jsMultiaddr(text).bytes))
    }), { numRuns: 300 })
  })

  it('every strict prefix of a binary multiaddr either decodes to a prefix or throws MultiaddrError', () => {
    fc.assert(fc.property(arbText, text => {
      const bytes = Multiaddr.parse(text).bytes
      for (let i = 0; i < bytes.length; i++) expectTypedOrOk(() => Multiaddr.fromBytes(bytes.subarray(0, i)))
    }), { numRuns: 100 })
  })

  it('random garbage bytes and text give MultiaddrError, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), bytes => {
      expectTypedOrOk(() => Multiaddr.fromBytes(bytes).toString())
    }), { numRuns: 500 })
    fc.assert(fc.property(fc.string({ maxLength: 40 }), s => {
      expectTypedOrOk(() => Multiaddr.parse(`/${s}`))
    }), { numRuns: 500 })
  })
})
