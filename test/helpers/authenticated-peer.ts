/**
 * A raw authenticated peer for hostile tests: one TCP connection from a chosen local address
 * (127.0.0.x: every 127/8 address is loopback on Linux, so one test can play several hosts),
 * upgraded with the switch's own upgrader (multistream → Noise → muxer), and then left to the
 * test to misbehave on. No switch on this side: nothing reuses connections, answers streams or
 * runs identify, so a thousand of them cost one socket and one muxer each.
 */
import { connect } from 'node:net'
import type { StreamMuxerFactory, UpgradedConnection } from '../../src/connection.js'
import type { PrivateKey } from '../../src/security/keys.js'
import { noise } from '../../src/security/noise.js'
import type { PeerId } from '../../src/security/peer-id.js'
import type { TraceObserver } from '../../src/trace/observer.js'
import { yamux } from '../../src/muxer/yamux.js'
import { upgradeOutbound } from '../../src/switch/upgrader.js'
import { TcpConnection } from '../../src/transport/tcp.js'

export interface AuthenticatedPeerOptions {
  identity: PrivateKey
  /** The listener's peer id (checked by Noise). */
  expectedPeer: PeerId
  /** Source address to bind, e.g. `127.0.0.2`. Default: the kernel's choice. */
  localAddress?: string
  muxer?: StreamMuxerFactory
  handshakeTimeoutMs?: number
  /** Trace observer handed to every layer (e.g. to see the yamux frames the listener sends). */
  observer?: TraceObserver
}

/** Connect to `127.0.0.1:port` and upgrade; rejects with the upgrade's (or the socket's) error. */
export async function authenticatedConnection (
  port: number,
  opts: AuthenticatedPeerOptions
): Promise<UpgradedConnection> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    localAddress: opts.localAddress,
    allowHalfOpen: true,
    noDelay: true
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const raw = new TcpConnection(socket, 'outbound')
  const up = await upgradeOutbound(raw, {
    ...(opts.observer === undefined ? {} : { observer: opts.observer }),
    identity: opts.identity,
    expectedPeer: opts.expectedPeer,
    security: [noise()],
    muxers: [opts.muxer ?? yamux()],
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000
  })
  up.muxer.onStream = (s) => { s.reset() }
  return up
}
