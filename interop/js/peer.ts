#!/usr/bin/env node
/**
 * A js-libp2p 3.x interop test peer (libp2p + @libp2p/tcp + @libp2p/websockets + @chainsafe/libp2p-noise
 * + @libp2p/tls + @chainsafe/libp2p-yamux + @libp2p/ping + @libp2p/identify), the third foreign peer of the interop
 * matrix next to interop/go and interop/rust. It implements their command contract exactly
 * (interop/go/README.md "Command contract"):
 *
 *   peer listen [--listen <ma>]... [--key <file>]          LISTEN <ma>/p2p/<id> per address, until SIGINT/SIGTERM
 *   peer stream <ma/p2p/id>                                  nim tutorial 3 client on /test/stream-proto/1.0.0
 *   peer ping <ma/p2p/id> [--count N]                        RTT <ms> ms per ping, N pings on one stream
 *   peer identify <ma/p2p/id>                                one JSON object (own /ipfs/id/1.0.0 stream)
 *   peer perf <ma/p2p/id> --upload-bytes N --download-bytes M   test-plans perf JSON lines
 *   peer streams <ma/p2p/id> [--count N]                     N concurrent /switchyard/echo/1.0.0 streams, OK N
 *   peer transport-interop                                   libp2p/test-plans transport-interop (environment)
 *
 * Every command takes `--security noise|tls|tls,noise|noise,tls` (connection encrypters in that
 * preference order, default noise) and `--transport tcp|ws` (listen: the default listen address;
 * clients: must match the multiaddr, which picks the transport anyway).
 *
 * Ping and identify *servers* are js-libp2p's own services; the ping and identify *clients* are
 * written here on one raw stream, because the contract wants N pings on one stream and the
 * identify answer exactly as sent (js-libp2p's ping service opens a stream per ping). Everything
 * else is written on js-libp2p's stream API (`send` + `onDrain` backpressure, async iteration).
 * Identity: js-libp2p's default key type, Ed25519. This is test code: it never imports switchyard.
 *
 * Exit status: 0 success, 1 runtime failure (`error: <reason>` on stderr), 2 usage error.
 */
import './with-resolvers.js'
import './websocket-global.js'
import { readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { tls } from '@libp2p/tls'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { identify } from '@libp2p/identify'
import {
  generateKeyPair,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
  publicKeyFromProtobuf
} from '@libp2p/crypto/keys'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { RedisClient } from '../../src/cli/redis.js'

const STREAM_PROTO = '/test/stream-proto/1.0.0'
const ECHO = '/switchyard/echo/1.0.0'
const PERF = '/perf/1.0.0'
const PING = '/ipfs/ping/1.0.0'
const IDENTIFY = '/ipfs/id/1.0.0'

/** js-libp2p and this peer, for identify's agentVersion (the matrix checks the prefix). */
const JS_LIBP2P_VERSION = '3.3.11'
const AGENT_VERSION = `switchyard-interop-js/js-libp2p@${JS_LIBP2P_VERSION}`

/** The tutorial server's readLp(1024) limit and its 11 parts. */
const STREAM_PROTO_MAX_MESSAGE = 1024
const STREAM_PROTO_PARTS = 11
/** perf's block size (go's test-plans perf uses 64 KiB too) and echo payload size of `streams`. */
const BLOCK = 64 * 1024
const ECHO_PAYLOAD = 64 * 1024
/** go-libp2p's identify limits: 8 KiB per message, at most 10 messages. */
const IDENTIFY_MAX_MESSAGE = 8 * 1024
const IDENTIFY_MAX_PARTS = 10
const PING_BYTES = 32
/** Bounds of the client commands (as the go and rust peers). */
const COMMAND_TIMEOUT_MS = 60_000
const PERF_TIMEOUT_MS = 10 * 60_000
/** Room for `streams --count 1000` in either role, plus identify and ping. */
const MAX_STREAMS = 1100

class UsageError extends Error {}

// ───────────────────────────── arguments ─────────────────────────────

interface Args {
  positional: string[]
  options: Map<string, string[]>
}

/** `--name value` and `--name=value` anywhere; every option takes a value (go peer's rules). */
function parseArgs (raw: readonly string[], allowed: readonly string[]): Args {
  const args: Args = { positional: [], options: new Map() }
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i] as string
    if (!arg.startsWith('--')) { args.positional.push(arg); continue }
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`)
    let value: string
    if (eq >= 0) value = arg.slice(eq + 1)
    else {
      if (i + 1 >= raw.length) throw new UsageError(`option --${name} needs a value`)
      value = raw[++i] as string
    }
    args.options.set(name, [...(args.options.get(name) ?? []), value])
  }
  return args
}

const lastOption = (a: Args, name: string): string | undefined => a.options.get(name)?.at(-1)

type Security = 'noise' | 'tls'

/** `--security`: noise and/or tls, comma separated, in preference order; default noise. */
function parseSecurity (text: string | undefined): Security[] {
  if (text === undefined) return ['noise']
  const list = text.split(',')
  for (const [i, name] of list.entries()) {
    if (name !== 'noise' && name !== 'tls') {
      throw new UsageError(`--security: unknown security ${JSON.stringify(name)} (noise, tls)`)
    }
    if (list.indexOf(name) !== i) throw new UsageError(`--security: ${name} named twice`)
  }
  return list as Security[]
}

type TransportName = 'tcp' | 'ws'

function parseTransport (text: string): TransportName {
  if (text !== 'tcp' && text !== 'ws') {
    throw new UsageError(`--transport: unknown transport ${JSON.stringify(text)} (tcp, ws)`)
  }
  return text
}

const listenAddrOf = (t: TransportName, ip: string): string => `/ip4/${ip}/tcp/0${t === 'ws' ? '/ws' : ''}`
const transportOf = (addr: string): TransportName => /\/ws(\/|$)/.test(addr) ? 'ws' : 'tcp'

function uintOption (a: Args, name: string, def: bigint | undefined): bigint {
  const v = lastOption(a, name)
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`option --${name} is required`)
    return def
  }
  if (!/^\d+$/.test(v) || BigInt(v) >= 2n ** 64n) {
    throw new UsageError(`option --${name} expects an unsigned integer, got ${JSON.stringify(v)}`)
  }
  return BigInt(v)
}

interface Target { addr: Multiaddr, peerId: string, text: string }

function parseTarget (text: string): Target {
  let addr: Multiaddr
  try {
    addr = multiaddr(text)
  } catch (err) {
    throw new UsageError(`invalid multiaddr ${JSON.stringify(text)}: ${(err as Error).message}`)
  }
  const at = text.lastIndexOf('/p2p/')
  if (at < 0) throw new UsageError(`multiaddr ${JSON.stringify(text)} must end with /p2p/<peerId>`)
  const id = text.slice(at + 5)
  try {
    peerIdFromString(id)
  } catch (err) {
    throw new UsageError(`multiaddr ${JSON.stringify(text)} has an invalid peer id: ${(err as Error).message}`)
  }
  return { addr, peerId: id, text }
}

// ───────────────────────────── identity and node ─────────────────────────────

/** `--key <file>`: a libp2p PrivateKey protobuf; a missing file gets a new Ed25519 key (mode 0600). */
async function loadKey (path: string | undefined): Promise<PrivateKey> {
  if (path === undefined) return await generateKeyPair('Ed25519')
  let data: Uint8Array
  try {
    data = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`reading key file ${path}: ${(err as Error).message}`)
    }
    const key = await generateKeyPair('Ed25519')
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600 })
    return key
  }
  try {
    return privateKeyFromProtobuf(data)
  } catch (err) {
    throw new Error(`key file ${path} is not a protobuf libp2p PrivateKey: ${(err as Error).message}`)
  }
}

type Node = Libp2p<{ ping: ReturnType<ReturnType<typeof ping>>, identify: ReturnType<ReturnType<typeof identify>> }>

/**
 * `autoIdentify: false` turns off js-libp2p's identify on every new connection: the `identify`
 * command opens its own stream instead, and js-libp2p allows one outbound (and serves one inbound)
 * /ipfs/id/1.0.0 stream per connection at a time.
 */
async function createNode (
  key: PrivateKey,
  listen: string[],
  autoIdentify = true,
  security: readonly Security[] = ['noise']
): Promise<Node> {
  const node = await createLibp2p({
    privateKey: key,
    addresses: { listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: security.map(s => s === 'tls' ? tls() : noise()),
    streamMuxers: [yamux()],
    nodeInfo: { userAgent: AGENT_VERSION },
    // js-libp2p refuses more than 5 inbound connections per second from one host by default; the
    // matrix runs one short client process after another from 127.0.0.1.
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { ping: ping(), identify: identify({ runOnConnectionOpen: autoIdentify }) }
  })
  const limits = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }
  await node.handle(STREAM_PROTO, async (stream) => { await serve('stream-proto', stream, streamProtoServer) })
  await node.handle(ECHO, async (stream) => { await serve('echo', stream, echoServer) }, limits)
  await node.handle(PERF, async (stream) => { await serve('perf', stream, perfServer) })
  return node
}

// ───────────────────────────── stream helpers ─────────────────────────────

/** Send with js-libp2p's backpressure: `send` returning false means wait for drain. */
async function send (s: Stream, data: Uint8Array): Promise<void> {
  if (!s.send(data)) await s.onDrain()
}

function encodeUvarint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}

function lp (body: Uint8Array): Uint8Array {
  const prefix = encodeUvarint(body.length)
  const out = new Uint8Array(prefix.length + body.length)
  out.set(prefix)
  out.set(body, prefix.length)
  return out
}

/**
 * Pull-style reads over a js-libp2p stream, built on its events rather than its async iterator:
 * the iterator (js-libp2p 3.3) ends only on a 'remoteCloseWrite' event it sees itself, so when the
 * remote's FIN arrives during protocol negotiation (an identify answer, or a lazily negotiated echo
 * payload with its FIN) before the iterator is attached, it never ends. 'end' and `readableEnded`
 * (the documented way for late consumers) do not have that race.
 */
class Reader {
  private readonly buffer = new Uint8ArrayList()
  private ended = false
  private error: Error | undefined
  private wake: (() => void) | undefined

  constructor (private readonly stream: Stream) {
    stream.addEventListener('message', (evt) => { this.buffer.append(evt.data); this.notify() })
    stream.addEventListener('end', () => { this.ended = true; this.notify() })
    stream.addEventListener('close', (evt) => {
      if (evt.error !== undefined) this.error = evt.error
      this.ended = true
      this.notify()
    })
    if (stream.readableEnded) this.ended = true
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /**
   * Wait for more bytes; false at end of stream (throws if the stream was reset). 'end' is not
   * the last word while the stream still holds unread bytes: after negotiating, multistream-select
   * gives the bytes it read past its last message back (`unshift`), possibly after 'end' fired,
   * and they are dispatched on a later tick.
   */
  private async fill (): Promise<boolean> {
    const before = this.buffer.byteLength
    while (this.buffer.byteLength === before) {
      if (this.error !== undefined) throw this.error
      if (this.ended && this.stream.readBufferLength === 0) return false
      await new Promise<void>(resolve => { this.wake = resolve })
    }
    return true
  }

  /** Whatever is buffered (waiting for something), or null at end of stream. */
  async chunk (): Promise<Uint8Array | null> {
    if (this.buffer.byteLength === 0 && !await this.fill()) return null
    const out = this.buffer.subarray()
    this.buffer.consume(out.length)
    return out
  }

  async exactly (n: number, what: string): Promise<Uint8Array> {
    while (this.buffer.byteLength < n) {
      if (!await this.fill()) throw new Error(`${what}: end of stream after ${this.buffer.byteLength} of ${n} bytes`)
    }
    const out = this.buffer.subarray(0, n)
    this.buffer.consume(n)
    return out
  }

  /** One uvarint-length-prefixed message; null at a clean end of stream before its first byte. */
  async lp (maxLength: number, what: string): Promise<Uint8Array | null> {
    for (;;) {
      let value = 0
      for (let i = 0; i < Math.min(this.buffer.byteLength, 9); i++) {
        const b = this.buffer.get(i)
        value += (b & 0x7f) * 2 ** (7 * i)
        if ((b & 0x80) !== 0) continue
        if (value > maxLength) {
          throw new Error(`${what}: message length ${value} exceeds the limit of ${maxLength} bytes`)
        }
        if (this.buffer.byteLength < i + 1 + value) break
        const msg = this.buffer.subarray(i + 1, i + 1 + value)
        this.buffer.consume(i + 1 + value)
        return msg
      }
      if (!await this.fill()) {
        if (this.buffer.byteLength === 0) return null
        throw new Error(`${what}: end of stream inside a message (${this.buffer.byteLength} bytes buffered)`)
      }
    }
  }

  /** Discard (and count) everything until end of stream. */
  async drain (onBytes: (n: number) => void = () => {}): Promise<number> {
    let total = 0
    for (;;) {
      const c = await this.chunk()
      if (c === null) return total
      total += c.length
      onBytes(c.length)
    }
  }
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

// ───────────────────────────── servers ─────────────────────────────

/** Run a handler; on failure log one line and reset the stream (go peer's behaviour). */
async function serve (name: string, stream: Stream, handler: (s: Stream) => Promise<void>): Promise<void> {
  try {
    await handler(stream)
  } catch (err) {
    process.stderr.write(`[server] ${name} failed: ${oneLine(err)}\n`)
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** nim tutorial 3's server: one LP message (≤ 1024 bytes), then Part 0 … Part 10, one write each, then FIN. */
async function streamProtoServer (stream: Stream): Promise<void> {
  const msg = await new Reader(stream).lp(STREAM_PROTO_MAX_MESSAGE, 'stream-proto request')
  if (msg === null) throw new Error('stream-proto: end of stream before the request')
  // stdout carries only the LISTEN lines.
  process.stderr.write(`[server] received from client: ${text(msg)}\n`)
  for (let i = 0; i < STREAM_PROTO_PARTS; i++) await send(stream, lp(new TextEncoder().encode(`Part ${i}`)))
  await stream.close()
}

async function echoServer (stream: Stream): Promise<void> {
  const reader = new Reader(stream)
  for (let c = await reader.chunk(); c !== null; c = await reader.chunk()) await send(stream, c)
  await stream.close()
}

/** perf/perf.md server: the 8-byte big-endian size, drain the upload to EOF, then send that many bytes and close. */
async function perfServer (stream: Stream): Promise<void> {
  const reader = new Reader(stream)
  const header = await reader.exactly(8, 'perf size')
  const toSend = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)
  const received = await reader.drain()
  await sendZeros(stream, toSend)
  await stream.close()
  process.stderr.write(`[server] perf: received ${received} bytes, sent ${toSend} bytes\n`)
}

const ZEROS = new Uint8Array(BLOCK)

async function sendZeros (stream: Stream, n: bigint, onBytes: (n: number) => void = () => {}): Promise<void> {
  while (n > 0n) {
    const size = n < BigInt(BLOCK) ? Number(n) : BLOCK
    await send(stream, size === BLOCK ? ZEROS : ZEROS.subarray(0, size))
    onBytes(size)
    n -= BigInt(size)
  }
}

// ───────────────────────────── clients ─────────────────────────────

/** nim tutorial 3's client: send "please send data", print every LP message until EOF, close. */
async function clientStream (conn: Connection, signal: AbortSignal): Promise<void> {
  const stream = await conn.newStream(STREAM_PROTO, { signal })
  const reader = new Reader(stream)
  await send(stream, lp(new TextEncoder().encode('please send data')))
  for (;;) {
    const msg = await reader.lp(STREAM_PROTO_MAX_MESSAGE, 'stream-proto part')
    if (msg === null) break
    out(`[client] received from server: ${text(msg)}`)
  }
  await stream.close()
}

/** N pings of 32 random bytes on one stream, each echo compared; then half-close. */
async function clientPing (conn: Connection, count: number, signal: AbortSignal): Promise<void> {
  const stream = await conn.newStream(PING, { signal })
  const reader = new Reader(stream)
  for (let i = 0; i < count; i++) {
    const data = randomBytes(PING_BYTES)
    const start = performance.now()
    await send(stream, data)
    const echo = await reader.exactly(PING_BYTES, `ping ${i + 1}`)
    const rtt = performance.now() - start
    if (Buffer.compare(echo, data) !== 0) throw new Error(`ping ${i + 1}: the echo differs from the 32 bytes sent`)
    out(`RTT ${rtt.toFixed(3)} ms`)
  }
  await stream.close()
}

/** The fields of an Identify message the output needs (identify/README.md). */
interface IdentifyMessage {
  publicKey?: Uint8Array
  listenAddrs: Uint8Array[]
  protocols: string[]
  observedAddr?: Uint8Array
  protocolVersion?: string
  agentVersion?: string
}

/**
 * Merge one protobuf-encoded Identify into `msg` (protobuf merge: repeated fields append, singular
 * fields take the last value). Only wire types 0, 1, 2 and 5 exist; others are malformed.
 */
function mergeIdentify (msg: IdentifyMessage, buf: Uint8Array): void {
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw new Error('identify: truncated varint')
      const b = buf[at++] as number
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    throw new Error('identify: varint longer than 10 bytes')
  }
  while (at < buf.length) {
    const key = varint()
    const field = Math.floor(key / 8)
    const wire = key % 8
    if (wire === 0) { varint(); continue }
    if (wire === 1 || wire === 5) { at += wire === 1 ? 8 : 4; continue }
    if (wire !== 2) throw new Error(`identify: field ${field} has unsupported wire type ${wire}`)
    const len = varint()
    if (at + len > buf.length) throw new Error(`identify: field ${field} length ${len} runs past the message`)
    const value = buf.subarray(at, at + len)
    at += len
    switch (field) {
      case 1: msg.publicKey = value; break
      case 2: msg.listenAddrs.push(value); break
      case 3: msg.protocols.push(text(value)); break
      case 4: msg.observedAddr = value; break
      case 5: msg.protocolVersion = text(value); break
      case 6: msg.agentVersion = text(value); break
      default: break // signedPeerRecord (8) and unknown fields
    }
  }
  if (at > buf.length) throw new Error('identify: a fixed-size field runs past the message')
}

/** Our own /ipfs/id/1.0.0 stream: LP messages until EOF, merged, printed as the contract's JSON. */
async function clientIdentify (conn: Connection, target: Target, signal: AbortSignal): Promise<void> {
  const stream = await conn.newStream(IDENTIFY, { signal })
  const reader = new Reader(stream)
  const msg: IdentifyMessage = { listenAddrs: [], protocols: [] }
  let parts = 0
  for (;;) {
    const part = await reader.lp(IDENTIFY_MAX_MESSAGE, `identify message ${parts + 1}`)
    if (part === null) break
    if (++parts > IDENTIFY_MAX_PARTS) throw new Error(`identify response has more than ${IDENTIFY_MAX_PARTS} messages`)
    mergeIdentify(msg, part)
  }
  await stream.close()
  if (parts === 0) throw new Error('identify stream closed without a message')
  let peerId = target.peerId
  if (msg.publicKey !== undefined) {
    peerId = peerIdFromPublicKey(publicKeyFromProtobuf(msg.publicKey)).toString()
    if (peerId !== target.peerId) throw new Error(`identify publicKey is peer ${peerId}, expected ${target.peerId}`)
  }
  out(JSON.stringify({
    peerId,
    protocolVersion: msg.protocolVersion ?? null,
    agentVersion: msg.agentVersion ?? null,
    listenAddrs: msg.listenAddrs.map(b => multiaddr(b).toString()),
    protocols: msg.protocols,
    observedAddr: msg.observedAddr !== undefined ? multiaddr(msg.observedAddr).toString() : null
  }))
}

/** Intermediary perf lines, at most once a second (bytes and time since the previous line). */
class PerfProgress {
  private last = performance.now()
  private up = 0
  private down = 0

  add (up: number, down: number): void {
    this.up += up
    this.down += down
    const elapsed = performance.now() - this.last
    if (elapsed < 1000) return
    out(
      JSON.stringify({
        type: 'intermediary',
        timeSeconds: elapsed / 1000,
        uploadBytes: this.up,
        downloadBytes: this.down
      })
    )
    this.last = performance.now()
    this.up = 0
    this.down = 0
  }
}

/**
 * perf/perf.md client: the 8-byte big-endian download size, the upload in 64 KiB blocks of zeros,
 * half-close, read to EOF. timeSeconds counts from before the dial (test-plans perf).
 */
async function clientPerf (
  conn: Connection,
  startMs: number,
  upload: bigint,
  download: bigint,
  signal: AbortSignal
): Promise<void> {
  const stream = await conn.newStream(PERF, { signal })
  const reader = new Reader(stream)
  const progress = new PerfProgress()
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, download)
  await send(stream, header)
  await sendZeros(stream, upload, n => { progress.add(n, 0) })
  await stream.close()
  const received = await reader.drain(n => {
    progress.add(0, n)
  })
  out(
    JSON.stringify({
      type: 'final',
      timeSeconds: (performance.now() - startMs) / 1000,
      uploadBytes: Number(upload),
      downloadBytes: received
    })
  )
  if (BigInt(received) !== download) throw new Error(`perf downloaded ${received} bytes, requested ${download}`)
}

/**
 * The distinct payload of echo stream i: xorshift32 seeded with i + 1 (any distinct bytes do; the listener only
 * echoes).
 */
function echoPayload (i: number): Uint8Array {
  const outBytes = new Uint8Array(ECHO_PAYLOAD)
  const words = new Uint32Array(outBytes.buffer)
  let x = (Math.imul(i + 1, 0x9e3779b1) >>> 0) || 1
  for (let w = 0; w < words.length; w++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[w] = x
  }
  return outBytes
}

/** N concurrent echo streams on one connection, each writing its payload, half-closing and checking the echo. */
async function clientStreams (conn: Connection, count: number, signal: AbortSignal): Promise<void> {
  const results = await Promise.allSettled(Array.from({ length: count }, async (_, i) => {
    const payload = echoPayload(i)
    const stream = await conn.newStream(ECHO, { signal, maxOutboundStreams: MAX_STREAMS })
    const writing = (async () => { await send(stream, payload); await stream.close() })()
    writing.catch(() => {}) // awaited below, after the echo
    const reader = new Reader(stream)
    const got = new Uint8ArrayList()
    for (let c = await reader.chunk(); c !== null; c = await reader.chunk()) {
      got.append(c)
      if (got.byteLength > payload.length) throw new Error(`echo longer than the ${payload.length} bytes sent`)
    }
    await writing
    const echoed = got.subarray()
    if (Buffer.compare(echoed, payload) !== 0) {
      let at = 0
      while (at < echoed.length && echoed[at] === payload[at]) at++
      throw new Error(`echo differs at byte ${at} (got ${echoed.length} bytes, sent ${payload.length})`)
    }
  }))
  const failures = results.flatMap((r, i) => r.status === 'rejected' ? [`stream ${i}: ${oneLine(r.reason)}`] : [])
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${count} echo streams failed: ${failures.slice(0, 5).join('; ')}`)
  }
  out(`OK ${count}`)
}

// ───────────────────────────── main ─────────────────────────────

function out (line: string): void {
  process.stdout.write(line + '\n')
}

function oneLine (err: unknown): string {
  // js-libp2p rejects some waits (close, onDrain) with the stream's close event itself.
  if (err instanceof Event) {
    const cause = (err as Event & { error?: unknown }).error
    return `stream ${err.type} event${cause !== undefined ? `: ${oneLine(cause)}` : ''}`
  }
  // js-libp2p errors say most in their name (StreamResetError, …); a plain Error only in its message.
  const message = err instanceof Error
    ? (err.message === '' ? err.name : err.name === 'Error' ? err.message : `${err.name}: ${err.message}`)
    : String(err)
  return message.replace(/\s*\n\s*/g, ' ')
}

const USAGE = `usage:
  peer listen [--listen <multiaddr>]... [--key <file>] [--transport tcp|ws] [--security noise,tls]
  peer stream <multiaddr/p2p/id>
  peer ping <multiaddr/p2p/id> [--count N]
  peer identify <multiaddr/p2p/id>
  peer perf <multiaddr/p2p/id> --upload-bytes N --download-bytes M
  peer streams <multiaddr/p2p/id> [--count N]
  peer transport-interop   (libp2p/test-plans transport-interop; configured by the environment)
client commands also take --key, --transport tcp|ws (must match the multiaddr) and --security
(comma list in preference order: noise, tls; default noise)`

const CLIENT_OPTIONS: Record<string, string[]> = {
  stream: ['key', 'security', 'transport'],
  ping: ['key', 'count', 'security', 'transport'],
  identify: ['key', 'security', 'transport'],
  perf: ['key', 'upload-bytes', 'download-bytes', 'security', 'transport'],
  streams: ['key', 'count', 'security', 'transport']
}

/** Resolves with the first of SIGINT/SIGTERM. */
const signalled = new Promise<string>(resolve => {
  process.once('SIGINT', () => { resolve('SIGINT') })
  process.once('SIGTERM', () => { resolve('SIGTERM') })
})

async function listen (raw: readonly string[]): Promise<void> {
  const a = parseArgs(raw, ['listen', 'key', 'security', 'transport'])
  if (a.positional.length !== 0) {
    throw new UsageError(`listen takes no positional arguments, got ${JSON.stringify(a.positional)}`)
  }
  const security = parseSecurity(lastOption(a, 'security'))
  const addrs = a.options.get('listen') ??
    [listenAddrOf(parseTransport(lastOption(a, 'transport') ?? 'tcp'), '127.0.0.1')]
  for (const s of addrs) {
    try {
      multiaddr(s)
    } catch (err) {
      throw new UsageError(`invalid --listen multiaddr ${JSON.stringify(s)}: ${(err as Error).message}`)
    }
  }
  const node = await createNode(await loadKey(lastOption(a, 'key')), addrs, true, security)
  // One stderr line per connection naming what was negotiated (the matrix reads the security off it).
  node.addEventListener('connection:open', (evt) => {
    const c = evt.detail
    process.stderr.write(
      `[listen] connection from ${c.remotePeer.toString()} at ${c.remoteAddr.toString()}: security ${
        c.encryption ?? '?'
      }, muxer ${c.multiplexer ?? '?'}\n`
    )
  })
  // getMultiaddrs() already ends every address in /p2p/<id>; one write, flushed.
  process.stdout.write(node.getMultiaddrs().map(ma => `LISTEN ${ma.toString()}\n`).join(''))
  const name = await signalled
  process.stderr.write(`[listen] ${name} received, shutting down\n`)
  await node.stop()
}

async function client (cmd: string, raw: readonly string[]): Promise<void> {
  const a = parseArgs(raw, CLIENT_OPTIONS[cmd] as string[])
  if (a.positional.length !== 1) throw new UsageError(`${cmd} takes exactly one multiaddr with /p2p/<peerId>`)
  const target = parseTarget(a.positional[0] as string)
  const security = parseSecurity(lastOption(a, 'security'))
  const transport = lastOption(a, 'transport')
  if (transport !== undefined && parseTransport(transport) !== transportOf(target.text)) {
    throw new UsageError(`--transport ${transport} does not match ${target.text}`)
  }
  let count = 1
  if (cmd === 'ping' || cmd === 'streams') {
    const n = uintOption(a, 'count', cmd === 'ping' ? 1n : 50n)
    if (n < 1n || (cmd === 'streams' && n > 1000n)) {
      throw new UsageError(cmd === 'ping' ? '--count must be at least 1' : '--count must be between 1 and 1000')
    }
    if (n > 1_000_000n) throw new UsageError('--count must be at most 1000000')
    count = Number(n)
  }
  let upload = 0n
  let download = 0n
  if (cmd === 'perf') {
    upload = uintOption(a, 'upload-bytes', undefined)
    download = uintOption(a, 'download-bytes', undefined)
  }
  const signal = AbortSignal.any([
    AbortSignal.timeout(cmd === 'perf' ? PERF_TIMEOUT_MS : COMMAND_TIMEOUT_MS),
    abortOnSignal()
  ])
  const node = await createNode(await loadKey(lastOption(a, 'key')), [], cmd !== 'identify', security)
  try {
    const startMs = performance.now()
    let conn: Connection
    try {
      conn = await node.dial(target.addr, { signal })
    } catch (err) {
      throw new Error(`connecting to ${target.text}: ${oneLine(err)}`)
    }
    const work = (async () => {
      switch (cmd) {
        case 'stream': await clientStream(conn, signal); break
        case 'ping': await clientPing(conn, count, signal); break
        case 'identify': await clientIdentify(conn, target, signal); break
        case 'perf': await clientPerf(conn, startMs, upload, download, signal); break
        case 'streams': await clientStreams(conn, count, signal); break
      }
    })()
    // Every stream operation is bounded by the same signal.
    await Promise.race([work, new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(new Error(`${cmd}: ${oneLine(signal.reason)}`)) }, { once: true })
    })])
  } finally {
    await node.stop()
  }
}

/**
 * libp2p/test-plans transport-interop (its transport-interop/README.md "Test spec"), configured by
 * the environment: transport (tcp, ws), muxer (yamux), security (noise, tls), is_dialer, ip (default
 * 0.0.0.0), redis_addr (default redis:6379), test_timeout_seconds (default 180). The listener
 * RPUSHes its address to the Redis list `listenerAddr` and waits to be killed; the dialer BLPOPs
 * it, dials, pings once with js-libp2p's ping service and prints
 * {"handshakePlusOneRTTMillis":…,"pingRTTMilllis":…} (the spec's spelling). Redis: switchyard's
 * RESP client (src/cli/redis.ts) — harness plumbing, not part of any libp2p stack under test.
 */
async function transportInterop (): Promise<void> {
  const env = (name: string): string | undefined => process.env[name] === '' ? undefined : process.env[name]
  const required = (name: string): string => {
    const v = env(name)
    if (v === undefined) throw new UsageError(`environment variable ${name} is required`)
    return v
  }
  const transport = parseTransport(required('transport'))
  const muxer = required('muxer')
  if (muxer !== 'yamux') throw new UsageError(`muxer ${JSON.stringify(muxer)} is not supported (yamux)`)
  const security = parseSecurity(required('security'))
  if (security.length !== 1) throw new UsageError('security: exactly one of noise, tls')
  const dialer = required('is_dialer')
  if (dialer !== 'true' && dialer !== 'false') {
    throw new UsageError(`is_dialer ${JSON.stringify(dialer)}: true or false`)
  }
  const ip = env('ip') ?? '0.0.0.0'
  const timeoutText = env('test_timeout_seconds') ?? '180'
  if (!/^[0-9]{1,6}$/.test(timeoutText)) {
    throw new UsageError(`test_timeout_seconds ${JSON.stringify(timeoutText)}: whole seconds`)
  }
  const timeoutS = Number(timeoutText)
  const redis = await RedisClient.connect(env('redis_addr') ?? 'redis:6379')
  const node = await createNode(
    await loadKey(undefined),
    dialer === 'false' ? [listenAddrOf(transport, ip)] : [],
    true,
    security
  )
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`test_timeout_seconds (${timeoutS} s) reached`)) }, timeoutS * 1000)
  })
  try {
    if (dialer === 'false') {
      // On 0.0.0.0 js-libp2p lists every interface: publish one another host can reach.
      const addrs = node.getMultiaddrs().map(ma => ma.toString())
      const published = addrs.find(a => !a.startsWith('/ip4/127.') || ip.startsWith('127.'))
      if (published === undefined) throw new Error(`no listen address to publish among ${addrs.join(' ')}`)
      await redis.command('RPUSH', 'listenerAddr', published)
      process.stderr.write(`[transport-interop] listening on ${published}\n`)
      await Promise.race([signalled, deadline])
      return
    }
    const run = async (): Promise<void> => {
      const reply = await redis.command('BLPOP', 'listenerAddr', String(timeoutS))
      if (!Array.isArray(reply) || typeof reply[1] !== 'string') {
        throw new Error(`no listener address in Redis within ${timeoutS} s`)
      }
      const target = parseTarget(reply[1])
      const start = performance.now()
      await node.dial(target.addr)
      const pingRTTMilllis = await node.services.ping.ping(target.addr)
      const handshakePlusOneRTTMillis = performance.now() - start
      out(JSON.stringify({ handshakePlusOneRTTMillis, pingRTTMilllis }))
    }
    await Promise.race([run(), deadline])
  } finally {
    clearTimeout(timer)
    redis.close()
    await node.stop()
  }
}

function abortOnSignal (): AbortSignal {
  const controller = new AbortController()
  void signalled.then(name => { controller.abort(new Error(`interrupted by ${name}`)) })
  return controller.signal
}

async function run (argv: readonly string[]): Promise<void> {
  const [cmd, ...rest] = argv
  if (cmd === undefined) throw new UsageError('missing command')
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') { out(USAGE); return }
  if (cmd === 'listen') { await listen(rest); return }
  if (Object.hasOwn(CLIENT_OPTIONS, cmd)) { await client(cmd, rest); return }
  if (cmd === 'transport-interop') {
    if (rest.length !== 0) throw new UsageError('transport-interop takes no arguments (it reads its environment)')
    await transportInterop(); return
  }
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`)
}

let status = 0
try {
  await run(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`usage error: ${oneLine(err)} (see peer --help)\n`)
    status = 2
  } else {
    process.stderr.write(`error: ${oneLine(err)}\n`)
    status = 1
  }
}
// js-libp2p may leave timers behind after stop(): exit once stdout is flushed.
process.stdout.write('', () => { process.exit(status) })
