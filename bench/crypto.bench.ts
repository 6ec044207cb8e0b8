/**
 * Noise benchmarks, in one run:
 *
 *  - transport: seal + open of one 65519-byte and one 100-byte message through our transport codec
 *    (seal into the chunks of one socket write; parse the wire, authenticate, decrypt) with the node:crypto suite and
 * the
 *    @noble reference suite, beside a bare node:crypto ChaCha20-Poly1305 loop (the ceiling: one
 *    createCipheriv + createDecipheriv per message, nothing else) and js-libp2p-noise's own crypto
 *    (`defaultCrypto`: AssemblyScript below 1200 B, node:crypto above);
 *  - a 1 MiB write: one batch → 17 frames in one buffer, then decoded, against the bare loop over
 *    the same 17 messages;
 *  - handshakes per second: a full XX handshake with Ed25519 identities over an in-memory
 *    connection, ours (secureOutbound/secureInbound) beside @chainsafe/libp2p-noise (its
 *    ConnectionEncrypter over @libp2p/utils' in-memory MultiaddrConnection pair).
 *
 * Every pairing is verified before it is timed (same plaintext back, same ciphertext as the bare
 * cipher). Run alone: `npm run build && node dist/bench/crypto.bench.js [--quick]`.
 */
// js-libp2p 3.x (the anchor only) needs Promise.withResolvers on Node 20: the one shim, imported first.
import '../interop/js/with-resolvers.js'
import crypto from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { tls as jsTls } from '@libp2p/tls'
import { defaultCrypto as jsNoiseCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { ConnectionEncrypter, Upgrader } from '@libp2p/interface'
import type { ByteConnection, ByteSink } from '../src/connection.js'
import { CipherState } from '../src/security/cipher-state.js'
import { MAX_PLAINTEXT_LENGTH } from '../src/security/constants.js'
import { generateEd25519 } from '../src/security/keys.js'
import { secureInbound, secureOutbound } from '../src/security/secure-connection.js'
import { nobleSuite, nodeSuite, writeNonce } from '../src/security/suite.js'
import type { CryptoSuite } from '../src/security/suite.js'
import { encryptFrames, NoiseFrameDecoder } from '../src/security/transport-codec.js'
import { tlsSecurity } from '../src/security/tls/connection.js'
import { TlsHandshake } from '../src/security/tls/handshake.js'
import { TlsRecordLayer } from '../src/security/tls/record-layer.js'
import { crossCheck, FULL, formatTable, measureAsync, measureSync, QUICK, row, summarize } from './lib/harness.js'
import type { MeasureOptions, Sample } from './lib/harness.js'
import type { BenchRow } from './lib/types.js'

const MiB = 1024 * 1024
const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 1) & 0xff)
const EMPTY = new Uint8Array(0)

/**
 * Time several variants in interleaved rounds (2 × runs rounds of minTime / 2 each, rotating which
 * goes first), so that a load spike on a shared machine lands on all of them rather than on one.
 */
function interleaved (fns: ReadonlyArray<(it: number) => number>, opts: MeasureOptions): Sample[] {
  const rates: number[][] = fns.map(() => [])
  const round = { runs: 1, minTimeMs: opts.minTimeMs / 2 }
  for (let r = 0; r < 2 * opts.runs; r++) {
    for (let j = 0; j < fns.length; j++) {
      const i = (j + r) % fns.length
      ;(rates[i] as number[]).push(measureSync(fns[i] as (it: number) => number, round).median)
    }
  }
  return rates.map(summarize)
}

function scale (s: Sample, f: number): Sample {
  return { median: s.median * f, min: s.min * f, max: s.max * f }
}

// ---------------------------------------------------------------------------------------------
// transport

/** The ceiling: seal then open each message with node:crypto and nothing else. Returns bytes opened. */
function bareSealOpen (messages: readonly Uint8Array[], nonce: Buffer, start: number): number {
  let n = 0
  let i = start
  for (const pt of messages) {
    writeNonce(nonce, i++)
    const c = crypto.createCipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 })
    const ct = c.update(pt)
    c.final()
    const tag = c.getAuthTag()
    const d = crypto.createDecipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 })
    d.setAuthTag(tag)
    n += d.update(ct).length
    d.final()
  }
  return n
}

/**
 * Ours: seal one batch through the transport codec (the chunks one socket write would carry), and
 * open the same frames as the receiving socket delivers them — one contiguous buffer — through the
 * frame decoder. Both CipherStates restart at nonce 0 each time so that `wire` (sealed once, up
 * front, and checked equal to what `encryptFrames` produces) stays valid.
 */
function oursSealOpen (
  tx: CipherState,
  rx: CipherState,
  decoder: NoiseFrameDecoder,
  batch: readonly Uint8Array[],
  wire: Uint8Array
): number {
  tx.setNonce(0)
  let n = 0
  for (const c of encryptFrames(tx, batch)) n += c.length
  rx.setNonce(0)
  decoder.push(wire)
  let frame: Uint8Array | undefined
  while ((frame = decoder.next()) !== undefined) n -= rx.decrypt(frame).length
  return n // = 18 bytes per frame when all went well
}

function transportRows (opts: MeasureOptions): BenchRow[] {
  const rows: BenchRow[] = []
  const cases: Array<[string, number, number]> = [
    // label, message size, messages per batch
    ['65519 B', MAX_PLAINTEXT_LENGTH, 1],
    ['100 B', 100, 1],
    ['1 MiB batch (17 frames)', MiB, 1]
  ]
  for (const [label, size] of cases) {
    const pt = Uint8Array.from({ length: size }, (_, i) => (i * 131 + 7) & 0xff)
    // The bare loop works on the same frame-sized pieces our codec produces.
    const pieces: Uint8Array[] = []
    for (let off = 0; off < size; off += MAX_PLAINTEXT_LENGTH) {
      pieces.push(pt.subarray(off, Math.min(size, off + MAX_PLAINTEXT_LENGTH)))
    }
    const nonce = Buffer.alloc(12)

    // Verify: our first frame is byte for byte what the bare cipher produces at nonce 0.
    const frames = Buffer.concat(encryptFrames(new CipherState(nodeSuite, KEY), [pt]))
    writeNonce(nonce, 0)
    const c = crypto.createCipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 })
    const bare = Buffer.concat([c.update(pieces[0] as Uint8Array), c.final(), c.getAuthTag()])
    crossCheck(`noise frame ${label}`, frames.subarray(2, 2 + bare.length), bare)

    const perBatch = size / MiB
    const bareFn = (it: number): number => {
      let n = 0
      for (let k = 0; k < it; k++) n += bareSealOpen(pieces, nonce, k * pieces.length)
      return n
    }
    const jsNonce = new Uint8Array(12)
    const jsFn = (it: number): number => {
      let n = 0
      for (let k = 0; k < it; k++) {
        for (const p of pieces) {
          writeNonce(jsNonce, k)
          const sealed = jsNoiseCrypto.chaCha20Poly1305Encrypt(p, jsNonce, EMPTY, KEY) as Uint8Array
          n += (jsNoiseCrypto.chaCha20Poly1305Decrypt(sealed, jsNonce, EMPTY, KEY) as Uint8Array).length
        }
      }
      return n
    }
    const suiteFn = (suite: CryptoSuite): (it: number) => number => {
      const tx = new CipherState(suite, KEY)
      const rx = new CipherState(suite, KEY)
      const decoder = new NoiseFrameDecoder()
      const batch = [pt]
      const wire = new Uint8Array(Buffer.concat(encryptFrames(new CipherState(suite, KEY), batch)))
      crossCheck(`${suite.name} suite wire ${label}`, wire, frames)
      const overhead = 18 * pieces.length
      if (oursSealOpen(tx, rx, decoder, batch, wire) !== overhead) {
        throw new Error(`${suite.name}: round trip lost bytes`)
      }
      return it => {
        let n = 0
        for (let k = 0; k < it; k++) n += oursSealOpen(tx, rx, decoder, batch, wire)
        return n
      }
    }
    const nodeFn = suiteFn(nodeSuite)
    const nobleFn = suiteFn(nobleSuite)
    // Warm every variant up before timing any (JIT, OpenSSL tables), then time ours, the ceiling and
    // the anchor in short interleaved rounds, so that load drifts on a shared machine hit all three.
    const warm = { runs: 1, minTimeMs: Math.max(20, opts.minTimeMs / 4) }
    for (const f of [bareFn, nodeFn, jsFn, nobleFn]) measureSync(f, warm)
    const [node, bareS, js] = interleaved([nodeFn, bareFn, jsFn], opts) as [Sample, Sample, Sample]
    const noble = measureSync(nobleFn, { runs: opts.runs, minTimeMs: Math.min(opts.minTimeMs, 150) })
    const unit = size >= 1000 ? 'MiB/s' : 'msgs/s'
    const f = size >= 1000 ? perBatch : 1
    const limit = { name: 'bare node:crypto', value: bareS.median * f }
    const nodeRow = row('noise', `seal+open ${label}, node suite`, unit, scale(node, f), {
      name: 'js-libp2p-noise crypto',
      sample: scale(js, f)
    }, limit)
    if (size >= 1000) nodeRow.goals = [{ against: 'limit', op: '>=', ratio: 0.9, label: '≥0.9x bare cipher' }]
    else {
      nodeRow.note =
        'small messages: node:crypto pays ~8 µs per seal+open in createCipheriv/createDecipheriv; js-libp2p-noise switches to an AssemblyScript ChaCha below 1200 B (a third backend, which STYLE rules out for us)'
    }
    rows.push(nodeRow)
    rows.push(row('noise', `seal+open ${label}, noble suite`, unit, scale(noble, f), undefined, limit))
  }
  return rows
}

// ---------------------------------------------------------------------------------------------
// handshakes

/** Two in-memory ByteConnections; bytes cross on a microtask. Just enough for a handshake. */
function memoryPair (): [ByteConnection, ByteConnection] {
  const make = (
    direction: 'inbound' | 'outbound'
  ): ByteConnection & {
    peer?: ByteConnection & { deliver: (c: Uint8Array) => void },
    deliver: (c: Uint8Array) => void
  } => {
    let sink: ByteSink | undefined
    const pending: Uint8Array[] = []
    let closed = false
    const self = {
      peer: undefined as (ByteConnection & { deliver: (c: Uint8Array) => void }) | undefined,
      remoteAddr: '/memory/1',
      localAddr: '/memory/0',
      direction,
      writableLength: 0,
      get closed () {
        return closed
      },
      deliver (c: Uint8Array) {
        if (sink !== undefined) sink.onData(c)
        else pending.push(c)
      },
      attach (s: ByteSink) {
        sink = s
        while (pending.length > 0 && sink === s) s.onData(pending.shift() as Uint8Array)
      },
      detach () {
        sink = undefined
      },
      write (chunks: readonly Uint8Array[]) {
        const peer = self.peer
        for (const c of chunks) queueMicrotask(() => peer?.deliver(c))
        return true
      },
      pause () {},
      resume () {},
      closeWrite () {},
      async close () { closed = true },
      abort () { closed = true }
    }
    return self
  }
  const a = make('outbound')
  const b = make('inbound')
  a.peer = b
  b.peer = a
  return [a, b]
}

async function handshakeRows (opts: MeasureOptions): Promise<BenchRow[]> {
  const idA = generateEd25519()
  const idB = generateEd25519()
  const ours = async (): Promise<number> => {
    const [a, b] = memoryPair()
    const [ra, rb] = await Promise.all([secureOutbound(a, { identity: idA }), secureInbound(b, { identity: idB })])
    if (!ra.remotePeer.equals(rb.remotePeer) && ra.muxer !== '/yamux/1.0.0') throw new Error('handshake result')
    return 1
  }

  const [kA, kB] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const upgrader = {
    getStreamMuxers: () => new Map([['/yamux/1.0.0', { protocol: '/yamux/1.0.0' }]])
  } as unknown as Upgrader
  const jsA: ConnectionEncrypter = noise()({
    peerId: peerIdFromPrivateKey(kA),
    privateKey: kA,
    logger: defaultLogger(),
    upgrader
  })
  const jsB: ConnectionEncrypter = noise()({
    peerId: peerIdFromPrivateKey(kB),
    privateKey: kB,
    logger: defaultLogger(),
    upgrader
  })
  const theirs = async (): Promise<number> => {
    const [a, b] = multiaddrConnectionPair()
    const [ra] = await Promise.all([jsA.secureOutbound(a), jsB.secureInbound(b)])
    if (ra.remotePeer.toString() !== peerIdFromPrivateKey(kB).toString()) throw new Error('js handshake result')
    return 1
  }

  const hsOpts = { runs: opts.runs, minTimeMs: opts.minTimeMs * 2 }
  const oursS = await measureAsync(ours, hsOpts)
  const theirsS = await measureAsync(theirs, hsOpts)
  const r = row('noise', 'XX handshakes (both sides, Ed25519, in memory)', 'ops/s', oursS, {
    name: '@chainsafe/libp2p-noise',
    sample: theirsS
  })
  r.goals = [{ against: 'anchor', op: '>=', ratio: 1, label: '≥1x js' }]
  return [r]
}

// ---------------------------------------------------------------------------------------------
// TLS 1.3 (/tls/1.0.0)

/** Two record layers with a finished handshake (machines driven in memory, synchronously). */
function tlsRecordPair (): [TlsRecordLayer, TlsRecordLayer] {
  const cred = (): { chain: Uint8Array[], privateKey: crypto.KeyObject } => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    return { chain: [new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))], privateKey }
  }
  const verifyPeer = (chain: readonly Uint8Array[]): { publicKey: crypto.KeyObject, info: undefined } => ({
    publicKey: crypto.createPublicKey({ key: Buffer.from(chain[0] as Uint8Array), format: 'der', type: 'spki' }),
    info: undefined
  })
  const c = new TlsRecordLayer(new TlsHandshake({ role: 'client', credential: cred(), verifyPeer }), 'client')
  const s = new TlsRecordLayer(
    new TlsHandshake({ role: 'server', credential: cred(), verifyPeer, requireClientCertificate: true }),
    'server'
  )
  s.start()
  let toServer = c.start().send
  while (toServer.length > 0) {
    const toClient = toServer.flatMap(r => s.receive(r).send)
    toServer = toClient.flatMap(r => c.receive(r).send)
  }
  if (!c.handshake.complete || !s.handshake.complete) throw new Error('TLS record pair: handshake did not complete')
  return [c, s]
}

async function tlsRows (opts: MeasureOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  // bulk: 1 MiB of application data per iteration, sealed into 2^14-byte records and opened
  const [c, s] = tlsRecordPair()
  const chunk = new Uint8Array(64 * 1024).fill(7)
  const batch = Array.from({ length: 16 }, () => chunk)
  const bulk = (it: number): number => {
    let n = 0
    for (let k = 0; k < it; k++) for (const r of c.encrypt(batch)) for (const d of s.receive(r).data) n += d.length
    return n
  }
  if (bulk(1) !== MiB) throw new Error('TLS bulk: round trip lost bytes')
  measureSync(bulk, { runs: 1, minTimeMs: Math.max(20, opts.minTimeMs / 4) })
  const bulkS = measureSync(bulk, opts)
  rows.push(row('noise', 'TLS 1.3 records seal+open, AES-128-GCM, 1 MiB in 16 KiB records', 'MiB/s', bulkS))

  // handshakes: ours over in-memory connections against js-libp2p's @libp2p/tls (node:tls inside)
  const idA = generateEd25519()
  const idB = generateEd25519()
  const sec = tlsSecurity()
  const ours = async (): Promise<number> => {
    const [a, b] = memoryPair()
    const o = { muxers: ['/yamux/1.0.0'], handshakeTimeoutMs: 10_000 }
    const [ra, rb] = await Promise.all([
      sec.secureOutbound(a, { identity: idA, ...o }),
      sec.secureInbound(b, { identity: idB, ...o })
    ])
    if (ra.earlyMuxer !== '/yamux/1.0.0' || !rb.remoteKey.equals(idA.publicKey)) throw new Error('TLS handshake result')
    return 1
  }
  const [kA, kB] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const upgrader = {
    getStreamMuxers: () => new Map([['/yamux/1.0.0', { protocol: '/yamux/1.0.0' }]])
  } as unknown as Upgrader
  const jsA: ConnectionEncrypter = jsTls()({ privateKey: kA, logger: defaultLogger(), upgrader } as never)
  const jsB: ConnectionEncrypter = jsTls()({ privateKey: kB, logger: defaultLogger(), upgrader } as never)
  const theirs = async (): Promise<number> => {
    const [a, b] = multiaddrConnectionPair()
    const [ra] = await Promise.all([jsA.secureOutbound(a), jsB.secureInbound(b)])
    if (ra.remotePeer.toString() !== peerIdFromPrivateKey(kB).toString()) throw new Error('js TLS handshake result')
    return 1
  }
  const hsOpts = { runs: opts.runs, minTimeMs: opts.minTimeMs * 2 }
  const oursS = await measureAsync(ours, hsOpts)
  const theirsS = await measureAsync(theirs, hsOpts)
  const r = row(
    'noise',
    'TLS 1.3 handshakes (both sides, Ed25519 hosts, fresh P-256 certs, in memory)',
    'ops/s',
    oursS,
    { name: '@libp2p/tls', sample: theirsS }
  )
  r.note = 'each handshake generates two certificates (P-256 key + host signature), as go and js do per connection'
  rows.push(r)
  return rows
}

/** The crypto suite of the benchmark table (see the module comment). */
export async function runCryptoBench (opts: { quick: boolean }): Promise<BenchRow[]> {
  const m = opts.quick ? QUICK : FULL
  return [...transportRows(m), ...await handshakeRows(m), ...await tlsRows(m)]
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rows = await runCryptoBench({ quick: process.argv.includes('--quick') })
  console.log(formatTable(rows))
}
