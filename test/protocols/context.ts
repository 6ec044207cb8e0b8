import type { ProtocolContext } from '../../src/protocols/types.js'
import type { IdentifyMessage } from '../../src/proto/identify.js'
import { AGENT_VERSION, IDENTIFY_PROTOCOL_VERSION } from '../../src/protocols/constants.js'

/** The Ed25519 PublicKey protobuf of peer-ids.md "Test vectors". */
export const PUBLIC_KEY = Uint8Array.from(
  Buffer.from('080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e', 'hex')
)
/** /ip4/127.0.0.1/tcp/4001 */
export const ADDR_IP4 = Uint8Array.from(Buffer.from('047f000001060fa1', 'hex'))
/** /ip6/::1/tcp/4001 */
export const ADDR_IP6 = Uint8Array.from(Buffer.from('2900000000000000000000000000000001060fa1', 'hex'))
/** /ip4/192.0.2.42/tcp/443 */
export const ADDR_OBSERVED = Uint8Array.from(Buffer.from('04c000022a0601bb', 'hex'))

/** A ProtocolContext whose log lines and identify pushes are collected. */
export function testContext (
  over: { protocols?: string[], listenAddrs?: Uint8Array[], remoteAddr?: Uint8Array | null } = {}
): {
  ctx: ProtocolContext,
  lines: string[],
  pushes: IdentifyMessage[]
} {
  const lines: string[] = []
  const pushes: IdentifyMessage[] = []
  const remoteAddr = over.remoteAddr === null ? undefined : (over.remoteAddr ?? ADDR_OBSERVED)
  const ctx: ProtocolContext = {
    localPeer: {
      publicKey: PUBLIC_KEY,
      listenAddrs: over.listenAddrs ?? [ADDR_IP4, ADDR_IP6],
      protocols: () => over.protocols ?? ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0'],
      agentVersion: AGENT_VERSION,
      protocolVersion: IDENTIFY_PROTOCOL_VERSION
    },
    ...(remoteAddr === undefined ? {} : { remoteAddr }),
    log: (line) => { lines.push(line) },
    onIdentifyPush: (update) => { pushes.push(update) }
  }
  return { ctx, lines, pushes }
}
