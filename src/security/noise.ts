/**
 * `/noise` as a SecurityProtocol (src/connection.ts): the seam the switch composes. The handshake
 * itself is secure-connection.ts (adapter) over handshake-xx.ts (sans-I/O machine); this file maps
 * the seam's options and result onto it and formats the key log lines (noise-keylog.ts).
 */
import type { ByteConnection, SecureConnectionOptions, SecuredConnection, SecurityProtocol } from '../connection.js'
import { MAX_NOISE_MESSAGE_LENGTH, MAX_STREAM_MUXERS, PROTOCOL_ID } from './constants.js'
import { noiseKeyLogLines } from './noise-keylog.js'
import { secureInbound, secureOutbound } from './secure-connection.js'
import type { SecureOptions, SecureResult } from './secure-connection.js'
import type { CryptoSuite } from './suite.js'

/**
 * Bytes an unauthenticated peer may send us up to the end of the Noise handshake: one multistream
 * negotiation (a few messages of <= 1024 bytes), Noise messages 1 and 3 (each <= 65537 bytes with
 * its prefix) and whatever it pipelined behind message 3 in the same socket read (<= 64 KiB). Four
 * times the largest Noise message covers every honest peer with room to spare.
 */
export const NOISE_MAX_PREAUTH_BYTES = 4 * (MAX_NOISE_MESSAGE_LENGTH + 2)

export interface NoiseInit {
  /** Crypto backend. Default: the node:crypto suite. */
  suite?: CryptoSuite
}

/** The Noise XX security protocol (libp2p specs noise/README.md). */
export function noise (init: NoiseInit = {}): SecurityProtocol {
  const suite = init.suite
  if (
    suite !== undefined && (typeof suite !== 'object' || suite === null || typeof suite.generateKeyPair !== 'function')
  ) {
    throw new TypeError(`"noise suite" expected a CryptoSuite, got ${String(suite)}`)
  }
  const run = async (
    conn: ByteConnection,
    opts: SecureConnectionOptions,
    initiator: boolean
  ): Promise<SecuredConnection> => {
    if (opts.muxers.length > MAX_STREAM_MUXERS) {
      throw new RangeError(`"muxers" expected at most ${MAX_STREAM_MUXERS} entries, got ${opts.muxers.length}`)
    }
    const o: SecureOptions = {
      identity: opts.identity,
      muxers: opts.muxers,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      exposeKeys: opts.keyLog !== undefined
    }
    if (opts.expectedPeer !== undefined) o.expectedPeer = opts.expectedPeer
    if (opts.initialBytes !== undefined) o.initialBytes = opts.initialBytes
    if (opts.observer !== undefined) o.observer = opts.observer
    if (suite !== undefined) o.suite = suite
    const secure = initiator ? await secureOutbound(conn, o) : await secureInbound(conn, o)
    if (opts.keyLog !== undefined) logKeys(conn, secure, initiator, opts.keyLog)
    const out: SecuredConnection = {
      connection: secure.conn,
      remotePeer: secure.remotePeer,
      remoteKey: secure.remotePublicKey
    }
    if (secure.muxer !== undefined) out.earlyMuxer = secure.muxer
    return out
  }
  return {
    protocol: PROTOCOL_ID,
    maxPreAuthBytes: NOISE_MAX_PREAUTH_BYTES,
    secureOutbound: async (conn, opts) => await run(conn, opts, true),
    secureInbound: async (conn, opts) => await run(conn, opts, false)
  }
}

/** The connection's key log lines (noise-keylog.ts), once the handshake is done. */
function logKeys (
  conn: ByteConnection,
  secure: SecureResult,
  initiator: boolean,
  keyLog: (line: string) => void
): void {
  const keys = secure.keys
  if (keys === undefined) return
  const lines = noiseKeyLogLines({
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
    role: initiator ? 'initiator' : 'responder',
    initiatorToResponder: keys.k1,
    responderToInitiator: keys.k2,
    handshakeHash: secure.handshakeHash,
    handshakeKeys: keys.handshake
  })
  for (const line of lines) keyLog(line)
}
