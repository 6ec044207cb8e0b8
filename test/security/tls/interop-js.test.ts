/**
 * Interop with js-libp2p's TLS (`@libp2p/tls`, which wraps node:tls) over real loopback TCP: the
 * common suite of ../js-interop-suite.ts (both roles, encrypted bytes both ways, early muxer
 * negotiation via ALPN present and absent (`libp2p`), the wrong-peer cases, secp256k1 and RSA js
 * identities).
 */
import { tls } from '@libp2p/tls'
import { defaultLogger } from '@libp2p/logger'
import { tlsSecurity } from '../../../src/security/tls/connection.js'
import { jsSecuritySuite, muxerUpgrader } from '../js-interop-suite.js'

jsSecuritySuite({
  name: 'TLS',
  roles: { outbound: 'client', inbound: 'server' },
  ours: tlsSecurity(),
  // js lists its upgrader's muxers in ALPN and always adds `libp2p` last; "js offers only libp2p"
  // is `skipStreamMuxerNegotiation: true`
  js: (key, muxers) => tls()({ privateKey: key, logger: defaultLogger(), upgrader: muxerUpgrader(muxers) } as never),
  muxerCases: ['ALPN on both sides: early muxer', 'we offer only libp2p', 'js offers only libp2p'],
  // As a server, @libp2p/tls 3.1 answers ALPN from its upgrader's muxers even with
  // skipStreamMuxerNegotiation (its ALPNCallback ignores the option), and picks in the *client's*
  // order; so against a js server "js offers only libp2p" still yields the early muxer.
  jsInboundHonoursSkip: false,
  // TLS 1.3: js's client checks the server's peer id after sending its Finished, so our server's
  // handshake completes before js aborts
  wrongPeerInboundError: undefined
})
