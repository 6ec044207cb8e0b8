/**
 * What the end-to-end benchmark needs from an implementation, in both roles. Five implement it:
 *
 *   switchyard   src/index.ts: a Switch with TCP + Noise + yamux (impl-switchyard.ts)
 *   js-libp2p    libp2p 3.x with @libp2p/tcp + @chainsafe/libp2p-noise + @chainsafe/libp2p-yamux (impl-js.ts)
 *   tcp          bare node:net: the physical limit (impl-tcp.ts); one connection is one "stream"
 *   go-libp2p    interop/go's `peer bench-server` / `bench-client` (impl-foreign.ts; its own process
 *   rust-libp2p  interop/rust's, likewise      and clock, driven over the same control channel)
 *
 * Every libp2p implementation also runs over the other transport × security variants
 * (`Variant`: TCP or WebSocket, Noise or TLS 1.3, and QUIC v1); raw TCP is TCP only. QUIC brings
 * its own TLS 1.3 and streams (no security or muxer negotiation); js-libp2p has no QUIC transport
 * of its own for Node.js, so it has no QUIC column (`supportsVariant`).
 *
 * Every server speaks the same three protocols (so any client can drive any server, which the WAN
 * bench uses): `/perf/1.0.0` (perf.md: u64 BE download size ‖ upload … FIN, then the download),
 * `/switchyard/echo/1.0.0` (every byte back, FIN after FIN) and `/ipfs/ping/1.0.0`.
 */
export type Impl = 'switchyard' | 'js-libp2p' | 'tcp' | 'go-libp2p' | 'rust-libp2p'
export const IMPLS: readonly Impl[] = ['switchyard', 'js-libp2p', 'go-libp2p', 'rust-libp2p', 'tcp']
/** The implementations that run as Node processes (server.ts / client.ts). */
export type NodeImpl = 'switchyard' | 'js-libp2p' | 'tcp'
export const FOREIGN_IMPLS: readonly Impl[] = ['go-libp2p', 'rust-libp2p']

/**
 * Transport × security of a run; the muxer is yamux over TCP and WebSocket. QUIC v1 is always
 * TLS 1.3 (RFC 9001) with QUIC's own streams: its variant is `{ transport: 'quic', security: 'tls' }`.
 */
export interface Variant { transport: 'tcp' | 'ws' | 'quic', security: 'noise' | 'tls' }
export const DEFAULT_VARIANT: Variant = { transport: 'tcp', security: 'noise' }
export const QUIC_VARIANT: Variant = { transport: 'quic', security: 'tls' }
export const VARIANTS: readonly Variant[] = [
  { transport: 'tcp', security: 'noise' },
  { transport: 'tcp', security: 'tls' },
  { transport: 'ws', security: 'noise' },
  { transport: 'ws', security: 'tls' },
  QUIC_VARIANT
]
export const variantName = (v: Variant): string =>
  v.transport === 'quic' ? 'QUIC v1' : `${v.transport.toUpperCase()}+${v.security === 'tls' ? 'TLS' : 'Noise'}`
/** The short name `--variants` takes: tcp-noise, tcp-tls, ws-noise, ws-tls, quic. */
export const variantId = (v: Variant): string => v.transport === 'quic' ? 'quic' : `${v.transport}-${v.security}`
/** The listen address of a variant on `ip` (default loopback), port chosen by the OS. */
export const listenAddr = (v: Variant, ip = '127.0.0.1'): string =>
  v.transport === 'quic'
    ? `/ip4/${ip}/udp/0/quic-v1`
    : v.transport === 'ws' ? `/ip4/${ip}/tcp/0/ws` : `/ip4/${ip}/tcp/0`

/**
 * Whether `impl` runs over `v`: raw TCP only over TCP (its "security" is none), js-libp2p not over
 * QUIC (no QUIC transport of its own for Node.js: @chainsafe/libp2p-quic binds a Rust QUIC stack
 * through napi, so its figures would be Rust's, not JavaScript's; it is not installed here).
 */
export function supportsVariant (impl: Impl, v: Variant): boolean {
  if (impl === 'tcp') return v.transport === 'tcp'
  if (impl === 'js-libp2p') return v.transport !== 'quic'
  return true
}

/** `--transport tcp|ws|quic --security noise|tls` as server.ts and client.ts take them. */
export function parseVariant (argv: readonly string[]): Variant {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const transport = opt('--transport') ?? 'tcp'
  const security = opt('--security') ?? (transport === 'quic' ? 'tls' : 'noise')
  if (
    (transport !== 'tcp' && transport !== 'ws' && transport !== 'quic') ||
    (security !== 'noise' && security !== 'tls') || (transport === 'quic' && security !== 'tls')
  ) {
    throw new Error(`unknown variant --transport ${transport} --security ${security}`)
  }
  return { transport, security }
}

export const PERF = '/perf/1.0.0'
export const ECHO = '/switchyard/echo/1.0.0'
export const PING = '/ipfs/ping/1.0.0'
export type Protocol = typeof PERF | typeof ECHO | typeof PING

/** Write size of the bulk transfers (perf implementations of go and js use 64 KiB blocks). */
export const BLOCK_BYTES = 64 * 1024

/** Limits raised on both libp2p implementations so the workloads fit (1000 connections, 1000 streams). */
export const MAX_CONNECTIONS = 4096
export const MAX_STREAMS = 4096

/** A stream as the workloads use it: pull reads, writes that wait for backpressure. */
export interface BenchStream {
  write: (data: Uint8Array) => Promise<void>
  /** The next chunk, or null at EOF. */
  read: () => Promise<Uint8Array | null>
  /** Half-close (FIN); reading goes on. */
  closeWrite: () => Promise<void>
  /** Release the stream once both sides are done. */
  close: () => Promise<void>
}

export interface BenchConnection {
  stream: (protocol: Protocol) => Promise<BenchStream>
  close: () => Promise<void>
}

export interface BenchClient {
  /** true for raw TCP: a "stream" is a whole connection, opened by `connect`. */
  readonly oneStreamPerConnection: boolean
  /** A fresh connection to `addr` (never one already open). */
  connect: (addr: string) => Promise<BenchConnection>
  stop: () => Promise<void>
}

export interface BenchServer {
  /** Dialable address, with `/p2p/<id>` for the libp2p implementations. */
  readonly addr: string
  stats: () => { connections: number, streams: number }
  stop: () => Promise<void>
}

export interface ImplModule {
  startServer: (listen: string, variant: Variant) => Promise<BenchServer>
  startClient: (variant: Variant) => Promise<BenchClient>
}

export async function loadImpl (impl: NodeImpl): Promise<ImplModule> {
  switch (impl) {
    case 'switchyard': return await import('./impl-switchyard.js')
    case 'js-libp2p': return await import('./impl-js.js')
    case 'tcp': return await import('./impl-tcp.js')
  }
}

export function isNodeImpl (s: string | undefined): s is NodeImpl {
  return s === 'switchyard' || s === 'js-libp2p' || s === 'tcp'
}

/** The perf request header: u64 big-endian download size. */
export function perfHeader (downloadBytes: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(downloadBytes), false)
  return b
}

/** Shared, never-mutated block every bulk write is a view of. */
export const BLOCK = new Uint8Array(BLOCK_BYTES).fill(0x5a)
