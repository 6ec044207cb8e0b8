/**
 * The standard registry's WebSocket, QUIC and TLS entries load their modules on first use
 * (src/standard.ts, issue #15 cold start): their address checks must answer exactly as the real
 * transports' do, and their protocol id must be the real one.
 */
import { describe, expect, it } from 'vitest'
import { SECURITY, TRANSPORTS } from '../../src/standard.js'
import { tlsSecurity } from '../../src/security/tls/connection.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'
import { quic } from '../../src/transport/quic/transport.js'
import { ws } from '../../src/transport/ws/transport.js'
import { generateEd25519 } from '../../src/security/keys.js'

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const ADDRS = [
  '/ip4/127.0.0.1/tcp/4001',
  '/ip4/127.0.0.1/tcp/4001/ws',
  `/ip4/127.0.0.1/tcp/4001/ws/p2p/${PEER}`,
  '/ip6/::1/tcp/80/ws',
  '/dns4/example.com/tcp/443/ws',
  '/dns4/example.com/tcp/443/wss',
  '/ip4/1.2.3.4/tcp/80/wss/p2p/' + PEER,
  '/ip4/127.0.0.1/udp/4001/quic-v1',
  `/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${PEER}`,
  '/ip6/::1/udp/4001/quic-v1',
  '/ip4/127.0.0.1/udp/4001',
  '/dns4/example.com/udp/4001/quic-v1'
].map(a => Multiaddr.parse(a))

describe('lazily loaded registry layers', () => {
  it.each([['ws', ws()], ['quic', quic()]] as const)('%s: name, canDial and canListen as the real transport', (name, real) => {
    const lazy = TRANSPORTS[name]({})
    expect(lazy.name).toBe(real.name)
    for (const ma of ADDRS) {
      expect([ma.toString(), lazy.canDial(ma)]).toEqual([ma.toString(), real.canDial(ma)])
      expect([ma.toString(), lazy.canListen(ma)]).toEqual([ma.toString(), real.canListen(ma)])
    }
  })

  it('tls: the real protocol id', () => {
    expect(SECURITY.tls({}).protocol).toBe(tlsSecurity().protocol)
  })

  it('ws: listens and dials through the loaded transport', async () => {
    const t = TRANSPORTS.ws({})
    const identity = generateEd25519()
    const accepted: unknown[] = []
    const l = await t.listen(Multiaddr.parse('/ip4/127.0.0.1/tcp/0/ws'), { identity, onConnection: c => { accepted.push(c) } })
    try {
      const addr = l.multiaddrs[0]
      expect(addr?.toString()).toMatch(/\/tcp\/\d+\/ws$/)
      const c = await t.dial(addr as Multiaddr, { identity })
      expect(c.kind).toBe('raw')
      if (c.kind === 'raw') c.connection.close()
    } finally {
      await l.close()
    }
  })
})
