/**
 * A peer that upgrades a TCP connection the way every libp2p implementation does (multistream-select
 * → Noise, the muxer agreed inside the handshake) out of switchyard's own layers, and then hands the
 * decrypted connection to the test, which writes muxer frames by hand: a GoAway with any code, a RST
 * on a stream, a TCP RST in the middle of a transfer. What a foreign peer can do to us, on demand.
 */
import type { ByteConnection } from '../../src/connection.js'
import { handleOnConnection } from '../../src/multistream/index.js'
import { decodeHeader, encodeHeader } from '../../src/muxer/frame.js'
import type { Header } from '../../src/muxer/frame.js'
import { FrameType, HEADER_LENGTH } from '../../src/muxer/constants.js'
import { generateEd25519 } from '../../src/security/keys.js'
import type { PrivateKey } from '../../src/security/keys.js'
import { noise } from '../../src/security/noise.js'
import { PeerId } from '../../src/security/peer-id.js'
import { listen } from '../../src/transport/tcp.js'
import type { TcpConnection } from '../../src/transport/tcp.js'

/** One upgraded connection of the misbehaving peer. */
export interface RawUpgraded {
  /** The TCP connection under it (`tcp.abort()` sends a RST, as go-libp2p's close with unread bytes does). */
  readonly tcp: TcpConnection
  /** The decrypted connection: muxer frames go here, raw. */
  readonly conn: ByteConnection
  /** Every decrypted byte received so far, in order. */
  readonly received: () => Uint8Array
  /** Resolves once `predicate` holds on the bytes received so far. */
  readonly until: (predicate: (bytes: Uint8Array) => boolean) => Promise<Uint8Array>
}

export interface MisbehavingListener {
  readonly addr: string
  readonly peerId: PeerId
  /** The next connection, once upgraded. */
  readonly next: () => Promise<RawUpgraded>
  readonly close: () => Promise<void>
}

/** Listen on loopback; each connection is upgraded with Noise and `muxer` agreed inside the handshake. */
export async function misbehavingListener (
  muxer: string,
  identity: PrivateKey = generateEd25519()
): Promise<MisbehavingListener> {
  const ready: RawUpgraded[] = []
  const waiters: Array<(c: RawUpgraded) => void> = []
  const upgrade = async (tcp: TcpConnection): Promise<void> => {
    const ms = await handleOnConnection(tcp, ['/noise'])
    const secured = await noise().secureInbound(tcp, {
      identity,
      muxers: [muxer],
      handshakeTimeoutMs: 5000,
      initialBytes: ms.leftover
    })
    const chunks: Uint8Array[] = []
    const watchers: Array<{ predicate: (b: Uint8Array) => boolean, resolve: (b: Uint8Array) => void }> = []
    const all = (): Uint8Array => new Uint8Array(Buffer.concat(chunks))
    secured.connection.attach({
      onData: chunk => {
        chunks.push(Uint8Array.from(chunk))
        const bytes = all()
        for (const w of watchers.splice(0)) { if (w.predicate(bytes)) w.resolve(bytes); else watchers.push(w) }
      },
      onEnd: () => {},
      onClose: () => {}
    })
    const peer: RawUpgraded = {
      tcp,
      conn: secured.connection,
      received: all,
      until: async predicate => {
        const bytes = all()
        if (predicate(bytes)) return bytes
        return await new Promise(resolve => watchers.push({ predicate, resolve }))
      }
    }
    const w = waiters.shift()
    if (w !== undefined) w(peer); else ready.push(peer)
  }
  const listener = await listen('/ip4/127.0.0.1/tcp/0', {
    onConnection: tcp => {
      upgrade(tcp).catch(() => {
        tcp.abort()
      })
    }
  })
  const peerId = PeerId.fromPublicKey(identity.publicKey)
  return {
    addr: listener.multiaddrs[0]?.toString() ?? '',
    peerId,
    next: async () => ready.shift() ?? await new Promise<RawUpgraded>(resolve => waiters.push(resolve)),
    close: async () => {
      await listener.close({ closeConnections: false })
      for (const c of listener.connections) c.abort()
    }
  }
}

/** The yamux frames in `bytes` (whole ones only). */
export function yamuxFrames (bytes: Uint8Array): Array<{ header: Header, data: Uint8Array }> {
  const out: Array<{ header: Header, data: Uint8Array }> = []
  let offset = 0
  while (offset + HEADER_LENGTH <= bytes.length) {
    const header = decodeHeader(bytes, offset)
    if (header === undefined) break
    const dataLength = header.type === FrameType.Data ? header.length : 0
    if (offset + HEADER_LENGTH + dataLength > bytes.length) break
    out.push({ header, data: bytes.subarray(offset + HEADER_LENGTH, offset + HEADER_LENGTH + dataLength) })
    offset += HEADER_LENGTH + dataLength
  }
  return out
}

/** One yamux frame: a header (spec §Framing) and, for Data, its payload. */
export function yamuxFrame (
  type: FrameType,
  flags: number,
  streamId: number,
  lengthOrData: number | Uint8Array
): Uint8Array {
  const data = typeof lengthOrData === 'number' ? undefined : lengthOrData
  const length = data === undefined ? lengthOrData as number : data.length
  const header = encodeHeader({ type, flags, streamId, length } as Header)
  return data === undefined ? header : new Uint8Array(Buffer.concat([header, data]))
}
