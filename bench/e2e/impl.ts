/**
 * What the end-to-end benchmark needs from an implementation, in both roles. Three implement it:
 *
 *   switchyard   src/index.ts: a Switch with TCP + Noise + yamux (impl-switchyard.ts)
 *   js-libp2p    libp2p 3.x with @libp2p/tcp + @chainsafe/libp2p-noise + @chainsafe/libp2p-yamux (impl-js.ts)
 *   tcp          bare node:net: the physical limit (impl-tcp.ts); one connection is one "stream"
 *
 * Every server speaks the same three protocols (so any client can drive any server, which the WAN
 * bench uses): `/perf/1.0.0` (perf.md: u64 BE download size ‖ upload … FIN, then the download),
 * `/switchyard/echo/1.0.0` (every byte back, FIN after FIN) and `/ipfs/ping/1.0.0`.
 */
export type Impl = 'switchyard' | 'js-libp2p' | 'tcp'
export const IMPLS: readonly Impl[] = ['switchyard', 'js-libp2p', 'tcp']

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
  startServer: (listen: string) => Promise<BenchServer>
  startClient: () => Promise<BenchClient>
}

export async function loadImpl (impl: Impl): Promise<ImplModule> {
  switch (impl) {
    case 'switchyard': return await import('./impl-switchyard.js')
    case 'js-libp2p': return await import('./impl-js.js')
    case 'tcp': return await import('./impl-tcp.js')
  }
}

export function isImpl (s: string | undefined): s is Impl {
  return s !== undefined && (IMPLS as readonly string[]).includes(s)
}

/** The perf request header: u64 big-endian download size. */
export function perfHeader (downloadBytes: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(downloadBytes), false)
  return b
}

/** Shared, never-mutated block every bulk write is a view of. */
export const BLOCK = new Uint8Array(BLOCK_BYTES).fill(0x5a)
