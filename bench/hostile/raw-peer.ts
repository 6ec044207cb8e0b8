/**
 * An authenticated peer that speaks raw yamux: a real TCP connection, multistream-select `/noise`,
 * a real Noise XX handshake (yamux agreed inside it, or by multistream-select after), and then
 * whatever frames the attack writes. What the listener sends back is counted, or — `pause()` —
 * not read at all.
 */
import { encodeLp } from '../../src/codec/length-prefixed.js'
import type { ByteConnection } from '../../src/connection.js'
import { selectOnConnection } from '../../src/multistream/negotiate.js'
import { encodeMessage } from '../../src/multistream/messages.js'
import { encodeHeader } from '../../src/muxer/frame.js'
import { noise } from '../../src/security/noise.js'
import { generateEd25519 } from '../../src/security/keys.js'
import { PeerId } from '../../src/security/peer-id.js'
import { dial } from '../../src/transport/tcp.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'

export const YAMUX = '/yamux/1.0.0'
export const [DATA, WINDOW_UPDATE] = [0, 1]
export const [SYN, ACK, FIN, RST] = [1, 2, 4, 8]

/** One yamux frame: 12-byte header (yamux spec §Framing) and its payload. */
export function frame (type: number, flags: number, streamId: number, length: number, body?: Uint8Array): Uint8Array[] {
  const h = encodeHeader({ type, flags, streamId, length } as Parameters<typeof encodeHeader>[0])
  return body === undefined ? [h] : [h, body]
}

/** A stream opened with its multistream proposal (header + protocol) as the first Data. */
export function openWithProposal (streamId: number, protocol: string, after?: Uint8Array): Uint8Array[] {
  const parts = [encodeMessage('/multistream/1.0.0'), encodeMessage(protocol), ...(after !== undefined ? [after] : [])]
  const body = Uint8Array.from(parts.flatMap(p => [...p]))
  return frame(DATA, SYN, streamId, body.length, body)
}

export { encodeLp }

export interface RawPeer {
  conn: ByteConnection
  peerId: PeerId
  received: () => number
  closed: () => boolean
  write: (frames: Uint8Array[]) => boolean
}

export async function rawYamuxPeer (target: string): Promise<RawPeer> {
  const ma = Multiaddr.parse(target)
  const expected = ma.peerId()
  const tcpAddr = target.replace(/\/p2p\/[^/]+$/, '')
  const identity = generateEd25519()
  const conn = await dial(tcpAddr, { timeoutMs: 10_000 })
  const sel = await selectOnConnection(conn, ['/noise'])
  const secured = await noise().secureOutbound(conn, {
    identity,
    muxers: [YAMUX],
    handshakeTimeoutMs: 10_000,
    initialBytes: sel.leftover,
    ...(expected !== undefined ? { expectedPeer: PeerId.parse(expected) } : {})
  })
  const channel = secured.connection
  if (secured.earlyMuxer !== YAMUX) await selectOnConnection(channel, [YAMUX])
  let received = 0
  let closed = false
  channel.attach(
    {
      onData: (c: Uint8Array) => {
        received += c.length
      },
      onEnd: () => {
        closed = true
      },
      onClose: () => {
        closed = true
      }
    } as Parameters<ByteConnection['attach']>[0]
  )
  return {
    conn: channel,
    peerId: PeerId.fromPublicKey(identity.publicKey),
    received: () => received,
    closed: () => closed || channel.closed,
    write: (frames) => channel.closed ? false : channel.write(frames)
  }
}
