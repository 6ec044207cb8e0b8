/**
 * switchyard's public API (also `switchyard/switch`): the switch, the protocol shape, peer ids and
 * identities, the errors, and the types that appear in their signatures. Each layer (codecs,
 * multistream, Noise, TLS, muxers, transports, application protocols, trace) is its own subpath
 * entry point (package.json `exports`, listed in docs/library.md); other modules are internal.
 *
 * The nim-libp2p tutorial ("custom streaming protocol") in TypeScript:
 *
 * ```ts
 * import { newStandardSwitch, LPProtocol, EndOfStreamError } from 'switchyard'
 *
 * const TestStreamCodec = '/test/stream-proto/1.0.0'
 * class TestStreamProto extends LPProtocol {
 *   constructor () {
 *     super({ codecs: [TestStreamCodec], handler: async (conn, proto) => {
 *       console.log('[server] received from client:', new TextDecoder().decode(await conn.readLp(1024)))
 *       for (let i = 0; i <= 10; i++) await conn.writeLp(`Part ${i}`)
 *       await conn.close()
 *     } })
 *   }
 * }
 *
 * const proto = new TestStreamProto()
 * const switch1 = newStandardSwitch()
 * const switch2 = newStandardSwitch()
 * switch1.mount(proto)
 * await switch1.start()
 * await switch2.start()
 * const conn = await switch2.dial(switch1.peerInfo.peerId, switch1.peerInfo.addrs, TestStreamCodec)
 * await conn.writeLp('please send data')
 * try {
 *   for (;;) console.log('[client] received from server:', new TextDecoder().decode(await conn.readLp(1024)))
 * } catch (err) {
 *   if (!(err instanceof EndOfStreamError)) throw err
 *   await conn.close()
 * }
 * await Promise.all([switch1.stop(), switch2.stop()])
 * ```
 */
export { Switch, DEFAULT_LISTEN_ADDR } from './switch/switch.js'
export {
  newStandardSwitch, standardLayers, standardIdentify, TRANSPORTS, SECURITY, MUXERS,
  DEFAULT_TRANSPORTS, DEFAULT_SECURITY, DEFAULT_MUXERS
} from './standard.js'
export { tcp } from './transport/tcp-transport.js'
export { noise } from './security/noise.js'
export { yamux } from './muxer/yamux.js'
export { mplex } from './muxer/mplex/mplex.js'
export { LPProtocol } from './switch/protocol.js'
export { DEFAULT_SWITCH_CONFIG } from './switch/config.js'
export { PeerId } from './security/peer-id.js'
export { generateEd25519 } from './security/keys.js'
export { loadPrivateKeyFile, savePrivateKeyFile } from './security/key-file.js'
export {
  SwitchyardError, CodecError, VarintError, MultiaddrError, TransportError, MultistreamError,
  ProtocolNotSupportedError, KeyError, NoiseError, TlsError, YamuxError, MplexError, StreamResetError,
  StreamClosedError, EndOfStreamError, SwitchError
} from './errors.js'
export { ProtocolError } from './protocols/errors.js'

export type { ErrorCode } from './errors.js'
export type {
  Stream, ByteConnection, ByteSink, StreamMuxer, StreamMuxerFactory, StreamLimits, SecurityProtocol,
  SecureConnectionOptions, SecuredConnection, UpgradedConnection, TransportConnection, Transport,
  TransportListener, TransportDialOptions, TransportListenOptions, ConnectionEndpoints
} from './connection.js'
export type { StandardSwitchOptions, LayerSettings, TransportName, SecurityName, MuxerName } from './standard.js'
export type { SwitchOptions, SwitchClock, SwitchInspection, SwitchState, PeerInfo, IdentifyService, SwitchObserver } from './switch/switch.js'
export type { SwitchEvents, ConnectionErrorStage } from './switch/events.js'
export type { ConnectionView, PendingUpgradeView } from './switch/connection-manager.js'
export type { SwitchConfig } from './switch/config.js'
export type { LPProtocolInit, ProtocolDefinition, StreamHandler, HandlerContext, LocalPeerInfo } from './switch/protocol.js'
export type { SwitchStream } from './switch/stream.js'
export type { PeerConnection, PeerIdentity, NewStreamOptions, ConnectionStatus } from './switch/peer-connection.js'
export type { PrivateKey, PublicKey } from './security/keys.js'
export type { Multiaddr } from './transport/multiaddr.js'
export type { YamuxConfig } from './muxer/config.js'
export type { MplexConfig } from './muxer/mplex/session.js'
export type { TraceObserver, TraceEvent } from './trace/observer.js'
