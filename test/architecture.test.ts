/**
 * The dependency rules of src/, enforced from the import lines (no new dependency: a regex over
 * each file). Read `X: [Y, …]` as "files of layer X may import layers Y".
 *
 *   errors ← codec ← proto ← {multistream, security, muxer} ← switch ← standard ← {index, cli}
 *   resources (budgets): only errors; muxer, quic, switch charge it (a muxer never imports the switch).
 *   transport: only errors, connection types, codec, trace types, node:net/os and multiformats.
 *   transport/quic (layer "quic"): a transport with its own security (RFC 9001) and streams, so it may also use the
 *     TLS 1.3 machine of security/, the shared MuxedStream of muxer/ and the multiaddrs; nothing above.
 *   transport, security and muxer never import one another: they meet in connection.ts's seams.
 *   protocols: the Stream contract, codec and proto only — they never see which muxer carries them.
 *   switch: composes the seams; it imports no application protocol and no concrete transport,
 *     security protocol or muxer — only the shared utilities listed in SWITCH_SHARED.
 *   standard (src/standard.ts): the concrete layers and protocols put together (newStandardSwitch,
 *     the name → factory registries the CLI uses).
 *   trace/observer.ts is a types module every layer may import (layer "trace-types"); the rest of trace/
 *     (formatters, dissectors) and capture/ sit above the protocol layers and reuse their codecs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = join(import.meta.dirname, '..', 'src')

type Layer =
  | 'errors'
  | 'connection'
  | 'codec'
  | 'proto'
  | 'trace-types'
  | 'trace'
  | 'transport'
  | 'multistream'
  | 'security'
  | 'muxer'
  | 'protocols'
  | 'switch'
  | 'standard'
  | 'capture'
  | 'index'
  | 'cli'
  | 'quic'
  | 'resources'

const BASE: Layer[] = ['errors', 'connection', 'codec', 'trace-types']
const ALLOWED: Record<Layer, Layer[]> = {
  errors: [],
  // type-only: the seams name PeerId, keys and Multiaddr (checked below: `import type` only)
  // type-only for resources too: a muxer factory is handed its connection's scope
  // and for proto: the protocol context names the identify message an identify-push delivers
  connection: ['errors', 'trace-types', 'security', 'transport', 'resources', 'proto'],
  codec: ['errors'],
  proto: ['errors', 'codec'],
  // budgets of memory, streams and connections: pure accounting every layer that buffers may charge
  resources: ['errors'],
  'trace-types': ['errors', 'connection'],
  trace: [...BASE, 'proto', 'multistream', 'security', 'muxer'],
  transport: [...BASE],
  quic: [...BASE, 'proto', 'security', 'transport', 'muxer', 'resources'],
  multistream: [...BASE, 'proto'],
  security: [...BASE, 'proto'],
  muxer: [...BASE, 'proto', 'resources'],
  protocols: [...BASE, 'proto'],
  // transport and security only for SWITCH_SHARED (checked below); never quic, muxer or protocols
  switch: [...BASE, 'proto', 'transport', 'multistream', 'security', 'resources'],
  standard: [
    ...BASE,
    'proto',
    'transport',
    'quic',
    'multistream',
    'security',
    'muxer',
    'protocols',
    'switch',
    'resources'
  ],
  capture: [...BASE, 'proto', 'multistream', 'security', 'muxer', 'transport', 'quic', 'trace'],
  index: [
    ...BASE,
    'proto',
    'transport',
    'quic',
    'multistream',
    'security',
    'muxer',
    'protocols',
    'switch',
    'standard',
    'trace',
    'capture',
    'resources'
  ],
  cli: [
    ...BASE,
    'proto',
    'transport',
    'quic',
    'multistream',
    'security',
    'muxer',
    'protocols',
    'switch',
    'standard',
    'trace',
    'capture',
    'index',
    'resources'
  ]
}

/**
 * Imports allowed beyond ALLOWED for some files: the trace's identify decoder shows addresses as
 * multiaddr text (transport/multiaddr.ts, the one file of transport/ it imports).
 */
const FILE_EXCEPTIONS: Array<{ from: RegExp, to: Layer }> = [{ from: /^trace\/identify\.ts$/, to: 'transport' }]

/**
 * The only files of transport/ and security/ the switch may import: identities and addresses,
 * which every layer shares. Everything concrete reaches it through the seams of connection.ts.
 */
const SWITCH_SHARED = ['security/peer-record.ts', 'transport/multiaddr.ts', 'security/peer-id.ts', 'security/keys.ts']

/** Packages src/ may import, and where. */
const PACKAGE_RULES: Array<{ pattern: RegExp, layers: Layer[] }> = [
  { pattern: /^@noble\//, layers: ['security'] },
  { pattern: /^multiformats(\/|$)/, layers: ['security', 'transport'] },
  {
    pattern: /^node:/,
    layers: ['transport', 'quic', 'security', 'muxer', 'multistream', 'switch', 'trace', 'capture', 'cli', 'protocols']
  }
]

/** Sans-I/O state machines and pure codecs: no node:* module, no timers of their own. */
const PURE_FILES = [
  'codec/varint.ts', 'codec/chunk-queue.ts', 'codec/length-prefixed.ts', 'codec/protobuf.ts', 'codec/bytes.ts',
  'multistream/messages.ts', 'multistream/negotiation.ts',
  'muxer/frame.ts', 'muxer/frame-decoder.ts', 'muxer/flow-control.ts', 'muxer/stream-state.ts', 'muxer/session.ts',
  'muxer/mplex/frame.ts', 'muxer/mplex/frame-decoder.ts', 'muxer/mplex/session.ts',
  'security/cipher-state.ts', 'security/symmetric-state.ts', 'security/handshake-state.ts', 'security/handshake-xx.ts',
  'security/transport-codec.ts',
  'transport/ws/constants.ts',
  'transport/ws/frame.ts',
  'transport/ws/receiver.ts',
  'transport/ws/session.ts',
  'transport/quic/varint.ts',
  'transport/quic/buffer.ts',
  'transport/quic/packet-number.ts',
  'transport/quic/header.ts',
  'transport/quic/frame.ts',
  'transport/quic/transport-parameters.ts',
  'transport/quic/key-update.ts',
  'transport/quic/rtt.ts',
  'transport/quic/ack-tracker.ts',
  'transport/quic/congestion.ts',
  'transport/quic/loss-detection.ts',
  'transport/quic/stream-id.ts',
  'transport/quic/recv-buffer.ts',
  'transport/quic/send-buffer.ts',
  'transport/quic/flow-control.ts',
  'resources/scope.ts',
  'resources/manager.ts'
]

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}

function layerOf (rel: string): Layer {
  const top = (rel.split('/')[0] as string).replace(/\.js$/, '.ts')
  if (top === 'errors.ts') return 'errors'
  if (top === 'connection.ts') return 'connection'
  if (top === 'index.ts') return 'index'
  if (top === 'standard.ts') return 'standard'
  if (rel.replace(/\.js$/, '.ts') === 'trace/observer.ts') return 'trace-types'
  if (top === 'cli.ts' || top === 'cli') return 'cli'
  if (rel.startsWith('transport/quic/')) return 'quic'
  return top as Layer
}

function importsOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) {
    out.push(m[1] as string)
  }
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1] as string)
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string)
  return out
}

const files = walk(SRC).map(f => ({ abs: f, rel: relative(SRC, f).split('\\').join('/') }))

describe('architecture: dependency direction in src/', () => {
  it('finds the layers', () => {
    expect(files.length).toBeGreaterThan(20)
  })

  it('every relative import goes with the arrow', () => {
    const violations: string[] = []
    for (const f of files) {
      const from = layerOf(f.rel)
      for (const spec of importsOf(f.abs)) {
        if (!spec.startsWith('.')) continue
        const target = relative(SRC, join(f.abs, '..', spec)).split('\\').join('/')
        if (target.startsWith('..')) { violations.push(`${f.rel} imports outside src/: ${spec}`); continue }
        const to = layerOf(target)
        if (to === from) continue
        if (FILE_EXCEPTIONS.some(e => e.from.test(f.rel) && e.to === to)) continue
        if (!(ALLOWED[from] ?? []).includes(to)) violations.push(`${f.rel} (${from}) imports ${target} (${to})`)
      }
    }
    expect(violations).toEqual([])
  })

  it('the switch names no concrete transport, security protocol or muxer, and no application protocol', () => {
    const violations: string[] = []
    for (const f of files) {
      if (layerOf(f.rel) !== 'switch') continue
      for (const spec of importsOf(f.abs)) {
        if (!spec.startsWith('.')) continue
        const target = relative(SRC, join(f.abs, '..', spec)).split('\\').join('/').replace(/\.js$/, '.ts')
        const to = layerOf(target)
        if ((to === 'transport' || to === 'security') && !SWITCH_SHARED.includes(target)) {
          violations.push(`${f.rel} imports ${target}`)
        }
        if (to === 'quic' || to === 'muxer' || to === 'protocols' || to === 'standard') {
          violations.push(`${f.rel} imports ${target}`)
        }
      }
      // Nor by name: a protocol id or transport named in code (comments may mention them).
      const code = readFileSync(f.abs, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      for (
        const word of [
          '/noise',
          '/tls/',
          '/yamux/',
          '/mplex/',
          'tcpDial',
          'tcpListen',
          'Noise',
          'Yamux',
          'Mplex',
          'TcpConnection'
        ]
      ) {
        if (code.includes(word)) violations.push(`${f.rel} names ${word}`)
      }
    }
    expect(violations).toEqual([])
  })

  it('transport, security and muxer never import one another (quic, its own layer, may use security)', () => {
    const LAYERS: Layer[] = ['transport', 'security', 'muxer']
    const violations: string[] = []
    for (const f of files) {
      const from = layerOf(f.rel)
      if (!LAYERS.includes(from)) continue
      for (const spec of importsOf(f.abs)) {
        if (!spec.startsWith('.')) continue
        const to = layerOf(relative(SRC, join(f.abs, '..', spec)).split('\\').join('/'))
        if (to === from || !LAYERS.includes(to)) continue
        if (FILE_EXCEPTIONS.some(e => e.from.test(f.rel) && e.to === to)) continue
        violations.push(`${f.rel} (${from}) imports ${to}`)
      }
    }
    expect(violations).toEqual([])
  })

  it('connection.ts is types only', () => {
    const text = readFileSync(join(SRC, 'connection.ts'), 'utf8')
    const valueImports = [...text.matchAll(/(?:^|\n)\s*import\s+(?!type\s)[^;]*?from\s+['"]([^'"]+)['"]/g)].map(m =>
      m[1]
    )
    expect(valueImports).toEqual([])
  })

  it('packages are imported only where they belong; never libp2p', () => {
    const violations: string[] = []
    for (const f of files) {
      const from = layerOf(f.rel)
      for (const spec of importsOf(f.abs)) {
        if (spec.startsWith('.')) continue
        if (/^(libp2p|@libp2p\/|@chainsafe\/|it-|uint8|@multiformats\/)/.test(spec)) {
          violations.push(`${f.rel} imports ${spec}`)
          continue
        }
        const rule = PACKAGE_RULES.find(r => r.pattern.test(spec))
        if (rule === undefined) violations.push(`${f.rel} imports an unlisted package ${spec}`)
        else if (!rule.layers.includes(from)) violations.push(`${f.rel} (${from}) may not import ${spec}`)
      }
    }
    expect(violations).toEqual([])
  })

  it('codecs and state machines import no node:* module and start no timers', () => {
    const violations: string[] = []
    for (const rel of PURE_FILES) {
      const f = files.find(x => x.rel === rel)
      if (f === undefined) { violations.push(`missing ${rel}`); continue }
      const text = readFileSync(f.abs, 'utf8')
      if (importsOf(f.abs).some(s => s.startsWith('node:'))) violations.push(`${rel} imports node:*`)
      if (/\b(setTimeout|setInterval|setImmediate)\s*\(/.test(text)) violations.push(`${rel} starts a timer`)
    }
    expect(violations).toEqual([])
  })

  it('multistream, security and muxer never import each other and reach connection.ts by type only', () => {
    const violations: string[] = []
    for (const f of files) {
      const from = layerOf(f.rel)
      if (!['multistream', 'security', 'muxer'].includes(from)) continue
      const text = readFileSync(f.abs, 'utf8')
      for (
        const m of text.matchAll(
          /(?:^|\n)\s*import\s+(type\s+)?(?:\{[^}]*\}|[\w*]+(?:\s+as\s+\w+)?(?:\s*,\s*\{[^}]*\})?)\s*from\s+['"]([^'"]*\/connection\.js)['"]/g
        )
      ) {
        if (m[1] === undefined) violations.push(`${f.rel} imports connection.ts for values`)
      }
    }
    expect(violations).toEqual([])
  })
})
