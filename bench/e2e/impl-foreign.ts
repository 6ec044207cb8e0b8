/**
 * go-libp2p and rust-libp2p in the end-to-end benchmark: the interop peers' bench modes
 * (interop/go/bench.go, interop/rust/src/bench.rs), release builds made by bench/anchors.sh:
 *
 *   go-libp2p    interop/go/bin/peer                                    (`go build`: optimised by default)
 *   rust-libp2p  $BENCH_ANCHORS_DIR/rust-target/release/peer           (`cargo build --release`, opt-level 3;
 *                (default .cache/bench-anchors, git-ignored)            NOT the interop profile's opt-level 1)
 *
 * `BENCH_GO_PEER` / `BENCH_RUST_PEER` name other binaries. The peers run the workloads inside their
 * own process (`peer bench-client`), timed by their own clock, the way client.ts runs them for the
 * Node implementations, and answer the same commands over the `words` wire of control.ts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Impl, Variant } from './impl.js'

/** The repository root, from dist/bench/e2e/ (compiled) or bench/e2e/ (sources). */
export const REPO_ROOT = ((): string => {
  let d = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d)
  return d
})()

export const ANCHORS_DIR = process.env.BENCH_ANCHORS_DIR ?? join(REPO_ROOT, '.cache/bench-anchors')

interface Foreign { binary: string, sources: string[], build: string }

function foreign (impl: Impl): Foreign | undefined {
  if (impl === 'go-libp2p') {
    return {
      binary: process.env.BENCH_GO_PEER ?? join(REPO_ROOT, 'interop/go/bin/peer'),
      sources: [join(REPO_ROOT, 'interop/go')],
      build: 'bash bench/anchors.sh go'
    }
  }
  if (impl === 'rust-libp2p') {
    return {
      binary: process.env.BENCH_RUST_PEER ?? join(ANCHORS_DIR, 'rust-target/release/peer'),
      sources: [join(REPO_ROOT, 'interop/rust/src'), join(REPO_ROOT, 'interop/rust/Cargo.toml')],
      build: 'bash bench/anchors.sh rust'
    }
  }
  return undefined
}

export const isForeign = (impl: Impl): boolean => foreign(impl) !== undefined

function newestSource (paths: string[]): number {
  let newest = 0
  const walk = (p: string): void => {
    if (!existsSync(p)) return
    const st = statSync(p)
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'bin' && e !== 'target') walk(join(p, e))
    } else if (/\.(go|rs|toml|mod|sum)$/.test(p)) newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of paths) walk(p)
  return newest
}

/**
 * The binary of a foreign implementation, or why it cannot run (not built). `stale` says the
 * binary is older than a source file: perhaps other code than the tree's, perhaps only a checkout
 * that touched the files (git sets mtimes), so it is a warning; bench/anchors.sh settles it.
 */
export function foreignBinary (impl: Impl): { path: string, stale?: string } | { missing: string } {
  const f = foreign(impl)
  if (f === undefined) return { missing: `${impl} is not a foreign implementation` }
  if (!existsSync(f.binary)) return { missing: `${impl}: ${f.binary} is not built (${f.build})` }
  const env = impl === 'go-libp2p' ? 'BENCH_GO_PEER' : 'BENCH_RUST_PEER'
  if (process.env[env] === undefined && statSync(f.binary).mtimeMs < newestSource(f.sources)) {
    return { path: f.binary, stale: `${impl}: ${f.binary} is older than its sources (${f.build} rebuilds if needed)` }
  }
  return { path: f.binary }
}

/** Arguments of `peer bench-server` / `peer bench-client` for a variant. */
export function foreignArgs (role: 'server' | 'client', variant: Variant, listen: string): string[] {
  return role === 'server'
    ? ['bench-server', '--listen', listen, '--security', variant.security]
    : ['bench-client', '--security', variant.security]
}
