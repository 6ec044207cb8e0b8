/** Target: multiaddr bytes and text (src/transport/multiaddr.ts). */
import { Multiaddr } from '../../src/transport/multiaddr.js'
import type { FuzzTarget } from '../engine.js'
import { concat, utf8 } from './util.js'

const ADDRS = [
  '/ip4/127.0.0.1/tcp/4001',
  '/ip6/::1/tcp/4001/ws',
  '/dns4/example.com/tcp/443/tls/ws',
  '/ip4/1.2.3.4/udp/4001/quic-v1',
  '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  '/unix/tmp%2Fsock',
  '/dnsaddr/bootstrap.libp2p.io'
]

function tryParse (text: string): Multiaddr | undefined {
  try { return Multiaddr.parse(text) } catch { return undefined }
}

export const addrBytes = (): Uint8Array[] =>
  ADDRS.map(tryParse).filter((m): m is Multiaddr => m !== undefined).map(m => m.bytes)

export const targets: FuzzTarget[] = [
  {
    name: 'multiaddr/parse',
    seeds: () => [...addrBytes(), ...ADDRS.map(utf8)],
    dictionary: [
      '/ip4/',
      '/ip6/',
      '/tcp/',
      '/udp/',
      '/quic-v1',
      '/ws',
      '/tls',
      '/p2p/',
      '/dns4/',
      '/unix/',
      Uint8Array.of(0x04),
      Uint8Array.of(0x06),
      Uint8Array.of(0xa5, 0x03)
    ],
    run: data => {
      if (data[0] === 0x2f /* '/' */) {
        const text = new TextDecoder().decode(data)
        const m = Multiaddr.parse(text)
        // oracle: text → bytes → text → bytes is stable
        const again = Multiaddr.fromBytes(m.bytes)
        if (Multiaddr.parse(again.toString()).toString() !== again.toString()) {
          throw new Error(`multiaddr ${again.toString()} does not round-trip`)
        }
      } else {
        const m = Multiaddr.fromBytes(data)
        const back = Multiaddr.parse(m.toString())
        if (concat(back.bytes).length !== m.bytes.length) throw new Error(`multiaddr ${m.toString()} text/bytes differ`)
      }
    }
  }
]
