/**
 * The switch over TLS (`/tls/1.0.0`) end to end against a real js-libp2p 3.x node whose only
 * security is `@libp2p/tls`: the common suite of js-switch-suite.ts, plus the early muxer agreed via
 * ALPN (no multistream round trip for the muxer) on the connection in each direction.
 */
import { expect } from 'vitest'
import { tls } from '@libp2p/tls'
import { jsSwitchSuite } from './js-switch-suite.js'

jsSwitchSuite({
  jsSecurity: () => tls(),
  security: ['tls'],
  // TLS, and the muxer agreed in the handshake via ALPN (js offers /yamux/1.0.0 then libp2p)
  checkConnection: (conn) => {
    expect(conn.security).toBe('/tls/1.0.0')
    expect(conn.muxerNegotiation).toBe('early')
    expect(conn.multiplexer).toBe('/yamux/1.0.0')
  },
  signedPeerRecords: false
})
