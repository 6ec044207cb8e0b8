// libp2p's TLS 1.3 (libp2p specs tls/tls.md) over a loopback TCP connection: both sides present a
// libp2p certificate, ALPN agrees on the muxer, and a few bytes cross encrypted.
// Imports `switchyard/security/tls`, `switchyard/security` and `switchyard/transport/tcp`.
import { generateEd25519, PeerId } from 'switchyard/security'
import { tlsSecurity } from 'switchyard/security/tls'
import { dial, listen } from 'switchyard/transport/tcp'
import type { TcpConnection } from 'switchyard/transport/tcp'

const tls = tlsSecurity()
const server = generateEd25519()
const client = generateEd25519()
const options = { muxers: ['/yamux/1.0.0'], handshakeTimeoutMs: 5000 }

let accepted: (c: TcpConnection) => void = () => {}
const inbound = new Promise<TcpConnection>(resolve => { accepted = resolve })
const listener = await listen('/ip4/127.0.0.1/tcp/0', { onConnection: c => { accepted(c) } })
const outbound = await dial(listener.multiaddrs[0] ?? '')

const [c, s] = await Promise.all([
  tls.secureOutbound(outbound, { ...options, identity: client, expectedPeer: PeerId.fromPublicKey(server.publicKey) }),
  inbound.then(async conn => await tls.secureInbound(conn, { ...options, identity: server }))
])
console.log(`client authenticated ${c.remotePeer.toString()}, muxer by ALPN: ${c.earlyMuxer ?? 'none'}`)
console.log(`server authenticated ${s.remotePeer.toString()}`)

const received = new Promise<string>(resolve => {
  s.connection.attach({ onData: b => { resolve(new TextDecoder().decode(b)) }, onEnd: () => {}, onClose: () => {} })
})
c.connection.attach({ onData: () => {}, onEnd: () => {}, onClose: () => {} })
c.connection.write([new TextEncoder().encode('hello over TLS 1.3')])
console.log(`server read: ${await received}`)
await Promise.all([c.connection.close(), s.connection.close()])
await listener.close()
