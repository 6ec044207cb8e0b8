/**
 * The CLI's commands. The contract (output formats, exit statuses) is the one the go and rust
 * interop peers implement too (interop/go, interop/rust), so a test driver can run any of the
 * three against any other:
 *
 *   listen   → stdout: `LISTEN <multiaddr>/p2p/<peerId>` per listen address, nothing else; logs on stderr
 *   stream   → stdout: `[client] received from server: <text>` per message (nim tutorial 3)
 *   ping     → stdout: `RTT <ms with 3 decimals> ms` per round trip (stderr notes each new stream
 *              opened because the listener ended the last one, as nim-libp2p's does after one echo)
 *   identify → stdout: one JSON object {peerId, protocolVersion, agentVersion, listenAddrs, protocols, observedAddr,
 *              security, signedPeerRecord} (the last: the verified RFC 0003 record {peerId, seq, addresses}, or null
 *              when the peer sent none or it failed verification, which is then explained on stderr)
 *   perf     → stdout: JSON lines of libp2p/test-plans perf:
 * `{"type":"intermediary"|"final","timeSeconds","uploadBytes","downloadBytes"}`
 *   streams  → stdout: `OK <count>` once every echo came back intact
 *   keygen   → stdout: the new key's peer id
 *   decode   → stdout: the layered view of every connection in a capture (switchyard only; docs/study-the-wire.md)
 *
 * Commands return normally on success and throw on failure; main.ts turns errors into one line
 * and an exit status (UsageError → 2, anything else → 1).
 */
import { stat } from 'node:fs/promises'
import { newStandardSwitch } from '../index.js'
import type { PeerConnection, StandardSwitchOptions, Switch } from '../index.js'
import { ECHO_CODEC, IDENTIFY_CODEC, PERF_CODEC, PING_CODEC, STREAM_PROTO_CODEC } from '../protocols/constants.js'
import { echo, echoProtocol } from '../protocols/echo.js'
import { identify } from '../protocols/identify.js'
import { formatPerfOutput, perf, perfProtocol } from '../protocols/perf.js'
import { ping } from '../protocols/ping.js'
import { streamProtoClient, streamProtoProtocol } from '../protocols/stream-proto.js'
import { monotonicMs } from '../protocols/util.js'
import { loadPrivateKeyFile, savePrivateKeyFile } from '../security/key-file.js'
import { generateEd25519, unmarshalPublicKey } from '../security/keys.js'
import { verifyPeerRecord } from '../security/peer-record.js'
import type { PrivateKey } from '../security/keys.js'
import { PeerId } from '../security/peer-id.js'
import { Multiaddr } from '../transport/multiaddr.js'
import { oneLine, optionValue, parseListenAddr, parseTarget, securityOption, uintOption, UsageError } from './args.js'
import type { ParsedArgs, Target } from './args.js'
import { CliError } from './io.js'
import type { CliIo } from './io.js'
import { startTracing, traceArgs } from './trace.js'
import type { Tracing } from './trace.js'
import { toError } from '../errors.js'

/** Bound on every client command except perf (go and rust peers: 60 s). */
export const COMMAND_TIMEOUT_MS = 60_000
/** Bound on a perf run (go and rust peers: 10 min). */
export const PERF_TIMEOUT_MS = 10 * 60_000
/** Payload of each echo stream in `streams`. */
export const ECHO_PAYLOAD_BYTES = 64 * 1024
/** Default and largest `streams --count`. */
export const STREAMS_DEFAULT_COUNT = 50
export const STREAMS_MAX_COUNT = 1000
/**
 * ping and perf negotiate lazily (the proposal rides with the first bytes, go-multistream lazyClient.go, rust
 * multistream-select V1Lazy), as go's
 * and rust's do: their timings then include the 0-RTT negotiation test-plans measures. The other
 * commands negotiate before writing (the switch's default), so a peer without the protocol is
 * reported as such rather than as a reset stream.
 */
const LAZY = { lazy: true } as const
/** Inbound streams one connection may hold open on `listen` (above STREAMS_MAX_COUNT plus identify and ping). */
export const LISTEN_MAX_INBOUND_STREAMS = 1024
/**
 * The resource scopes of a CLI test peer, both roles: `streams --count 1000` means 1000 echo
 * streams plus identify and ping on one connection, each holding up to its 64 KiB payload while
 * the echo catches up — beyond the library's per-peer defaults (1000 streams, 32 MiB; docs/limits.md),
 * which are for a node serving many peers, not one interop client.
 */
const TEST_PEER_RESOURCES = {
  peer: { memoryBytes: 128 * 1024 * 1024, streams: 1100, inboundStreams: 1100 },
  connection: { memoryBytes: 128 * 1024 * 1024, streams: 1100, inboundStreams: LISTEN_MAX_INBOUND_STREAMS }
} as const
/** How long a client command's switch waits for streams still open when it stops. */
export const CLIENT_STOP_TIMEOUT_MS = 500
/** Default `--listen`. */
export const DEFAULT_LISTEN = '/ip4/127.0.0.1/tcp/0'
/**
 * Default `--security` of `listen`: every protocol we have (a listener accepts whichever the
 * dialer proposes); names not registered in src/standard.ts are left out.
 */
export const LISTEN_SECURITY_DEFAULT: readonly string[] = ['noise', 'tls']
/** Default `--security` of the client commands: Noise only, as before `--security` existed. */
export const DIAL_SECURITY_DEFAULT: readonly string[] = ['noise']

// ───────────────────────────── identity ─────────────────────────────

/**
 * `--key <file>`: the identity in that file; a missing file is created with a fresh Ed25519 key
 * (as the go and rust peers do). No `--key`: a fresh key for this run.
 */
async function loadIdentity (path: string | undefined, io: CliIo): Promise<PrivateKey | undefined> {
  if (path === undefined) return undefined
  const exists = await stat(path).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false
    throw new CliError(`key file ${JSON.stringify(path)}: cannot read it (${err.code ?? err.message})`)
  })
  if (exists) return await loadPrivateKeyFile(path)
  const key = generateEd25519()
  await savePrivateKeyFile(path, key)
  io.err(`[key] wrote a new Ed25519 key to ${path} (peer ${PeerId.fromPublicKey(key.publicKey).toString()})`)
  return key
}

// ───────────────────────────── listen ─────────────────────────────

export async function listenCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  if (args.positional.length !== 0) {
    throw new UsageError(`listen takes no positional arguments, got ${JSON.stringify(args.positional)}`)
  }
  const listen = (args.options.get('listen') ?? [DEFAULT_LISTEN]).map(parseListenAddr)
  const security = securityOption(args, LISTEN_SECURITY_DEFAULT)
  const trace = traceArgs(args)
  const identity = await loadIdentity(optionValue(args, 'key'), io)
  const tracing = await startTracing(trace, io)
  const sw = newStandardSwitch({
    ...(identity !== undefined ? { identity } : {}),
    ...tracing.switchOptions,
    listenAddrs: listen,
    security,
    // A test peer: room for `streams --count 1000` from any of the three CLIs on one connection.
    config: { maxInboundStreamsPerConnection: LISTEN_MAX_INBOUND_STREAMS },
    resources: TEST_PEER_RESOURCES,
    // echo's own per-connection limit (128, protocols/constants.ts) is for a node; a test peer takes
    // `streams --count 1000` on one connection.
    protocols: [streamProtoProtocol, perfProtocol, { ...echoProtocol, maxIncomingStreams: LISTEN_MAX_INBOUND_STREAMS }],
    log: line => { io.err(line) }
  })
  logSwitchEvents(sw, io)
  try {
    await sw.start()
  } catch (err) {
    await tracing.close()
    throw err
  }
  // The first lines on stdout, in one write: a driver reads them to learn where we listen.
  const id = sw.peerId.toString()
  io.out(sw.peerInfo.addrs.map(a => `LISTEN ${a.toString()}/p2p/${id}`).join('\n'))
  io.err(`[listen] peer ${id}, security ${security.join(' ')}, protocols ${sw.codecs().join(' ')}`)
  const name = await io.signal
  io.err(`[listen] ${name} received, shutting down`)
  await sw.stop()
  await tracing.close()
}

function logSwitchEvents (sw: Switch, io: CliIo): void {
  sw.on('connection:open', ({ connection: c }) => {
    io.err(
      `[listen] connection ${c.id} ${c.direction} ${c.remotePeer.toString()} at ${c.remoteAddr} (${c.security}, ${c.multiplexer})`
    )
  })
  sw.on('connection:close', ({ connection: c, error }) => {
    io.err(`[listen] connection ${c.id} closed${error !== undefined ? `: ${oneLine(error.message)}` : ''}`)
  })
  sw.on('connection:error', ({ direction, remoteAddr, stage, error }) => {
    io.err(`[listen] ${direction} connection ${remoteAddr} failed at ${stage}: ${oneLine(error.message)}`)
  })
  sw.on('protocol:error', ({ connection: c, streamId, protocol, stage, error }) => {
    io.err(
      `[listen] connection ${c.id} stream ${streamId}${
        protocol !== undefined ? ` ${protocol}` : ''
      } failed at ${stage}: ${oneLine(error.message)}`
    )
  })
}

// ───────────────────────────── client commands ─────────────────────────────

/** What every client command gets: a started dial-only switch, the target, and the connection. */
interface Session {
  sw: Switch
  target: Target
  conn: PeerConnection
}

/**
 * Run `work` against the target with a dial-only switch: parse the target, load the key, dial,
 * then stop the switch whatever happens. The whole run is bounded by `timeoutMs` and ends early on
 * SIGINT/SIGTERM.
 */
async function withSession (
  args: ParsedArgs,
  io: CliIo,
  timeoutMs: number,
  work: (s: Session) => Promise<void>,
  beforeDial?: () => void
): Promise<void> {
  if (args.positional.length !== 1) {
    throw new UsageError(`expected exactly one multiaddr with /p2p/<peerId>, got ${args.positional.length} arguments`)
  }
  const target = parseTarget(args.positional[0] as string)
  const security = securityOption(args, DIAL_SECURITY_DEFAULT)
  const trace = traceArgs(args)
  const identity = await loadIdentity(optionValue(args, 'key'), io)
  const tracing: Tracing = await startTracing(trace, io)
  const options: StandardSwitchOptions = {
    ...(identity !== undefined ? { identity } : {}),
    ...tracing.switchOptions,
    listenAddrs: [],
    security,
    // Every command closes its streams when it succeeds; after a failure or an interrupt, what is
    // left open is not worth waiting for.
    config: { stopTimeoutMs: CLIENT_STOP_TIMEOUT_MS },
    resources: TEST_PEER_RESOURCES,
    log: line => { io.err(line) }
  }
  const sw = newStandardSwitch(options)
  let timer: NodeJS.Timeout | undefined
  const bounded = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new CliError(`timed out after ${timeoutMs / 1000} s`)) }, timeoutMs)
    void io.signal.then(name => { reject(new CliError(`interrupted by ${name}`)) })
  })
  try {
    const run = (async () => {
      await sw.start()
      beforeDial?.()
      let conn: PeerConnection
      try {
        conn = await sw.dial(target.peerId, [target.addr])
      } catch (err) {
        throw new CliError(`connecting to ${target.text}: ${oneLine(toError(err).message)}`, { cause: err })
      }
      if (trace.view !== 'off') {
        io.err(
          `[connect] ${conn.remotePeer.toString()} at ${conn.remoteAddr}: security ${conn.security}, muxer ${conn.multiplexer} (${conn.muxerNegotiation})`
        )
      }
      await work({ sw, target, conn })
    })()
    run.catch(() => {}) // the race below reports the first failure; this one may come after it
    await Promise.race([run, bounded])
  } finally {
    clearTimeout(timer)
    await sw.stop()
    await tracing.close()
  }
}

/** nim tutorial 3's client: ask for data, print every part until the end of the stream. */
export async function streamCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  await withSession(args, io, COMMAND_TIMEOUT_MS, async ({ conn }) => {
    const stream = await conn.newStream(STREAM_PROTO_CODEC)
    await streamProtoClient(stream, { log: io.out })
  })
}

export async function pingCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  const count = uintOption(args, 'count', { min: 1, max: 1_000_000, def: 1 })
  await withSession(args, io, COMMAND_TIMEOUT_MS + count * 1000, async ({ conn }) => {
    const stream = await conn.newStream(PING_CODEC, LAZY)
    await ping(stream, {
      count,
      onRtt: rtt => { io.out(formatRtt(rtt)) },
      // nim-libp2p answers one payload per stream: go on over a new one (stdout keeps one line per RTT).
      openStream: async () => await conn.newStream(PING_CODEC, LAZY),
      onNewStream: (i, reason) => { io.err(`[ping] ${reason}; round ${i + 1} goes on over a new stream`) }
    })
  })
}

/** `RTT 0.412 ms`: what the go and rust peers print (`%.3f`). */
export function formatRtt (ms: number): string {
  return `RTT ${ms.toFixed(3)} ms`
}

/** identify's result as printed: absent optional fields are null (the go and rust peers' shape). */
export interface IdentifyOutput {
  peerId: string
  protocolVersion: string | null
  agentVersion: string | null
  listenAddrs: string[]
  protocols: string[]
  observedAddr: string | null
  /** The security protocol of the connection identify ran on, e.g. `/noise` (switchyard only). */
  security: string
  /** The peer's signed peer record, verified (seq as a decimal string: it may exceed 2^53). */
  signedPeerRecord: { peerId: string, seq: string, addresses: string[] } | null
}

export async function identifyCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  await withSession(args, io, COMMAND_TIMEOUT_MS, async ({ conn, target }) => {
    // Our own identify stream (besides the switch's background one), so we print exactly what
    // the remote sent on it. Opened only once the background one is done, as go's NewStream
    // waits for identify: js-libp2p serves one /ipfs/id/1.0.0 stream per connection at a time
    // and resets a second concurrent one.
    await conn.identified()
    const stream = await conn.newStream(IDENTIFY_CODEC)
    const msg = await identify(stream)
    let peerId = target.peerId
    if (msg.publicKey !== undefined) {
      peerId = PeerId.fromPublicKey(unmarshalPublicKey(msg.publicKey))
      if (!peerId.equals(target.peerId)) {
        throw new CliError(`identify publicKey is peer ${peerId.toString()}, expected ${target.peerId.toString()}`)
      }
    }
    const addr = (bytes: Uint8Array, what: string): string | undefined => {
      try {
        return Multiaddr.fromBytes(bytes).toString()
      } catch (err) {
        // A transport we do not know (webrtc, certhash…) must not hide the rest of the answer.
        io.err(`[identify] skipping ${what} ${Buffer.from(bytes).toString('hex')}: ${oneLine(toError(err).message)}`)
        return undefined
      }
    }
    const output: IdentifyOutput = {
      peerId: peerId.toString(),
      protocolVersion: msg.protocolVersion ?? null,
      agentVersion: msg.agentVersion ?? null,
      listenAddrs: msg.listenAddrs.map(b => addr(b, 'listenAddr')).filter((a): a is string => a !== undefined),
      protocols: [...msg.protocols],
      observedAddr: msg.observedAddr !== undefined ? addr(msg.observedAddr, 'observedAddr') ?? null : null,
      security: conn.security,
      signedPeerRecord: null
    }
    if (msg.signedPeerRecord !== undefined) {
      try {
        const record = verifyPeerRecord(msg.signedPeerRecord, target.peerId)
        output.signedPeerRecord = {
          peerId: record.peerId.toString(),
          seq: record.seq.toString(),
          addresses: record.addresses.map(b => addr(b, 'signed address')).filter((a): a is string => a !== undefined)
        }
      } catch (err) {
        io.err(`[identify] rejected the signed peer record: ${oneLine(toError(err).message)}`)
      }
    }
    io.out(JSON.stringify(output))
  })
}

export async function perfCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  const uploadBytes = uintOption(args, 'upload-bytes', { min: 0, max: Number.MAX_SAFE_INTEGER })
  const downloadBytes = uintOption(args, 'download-bytes', { min: 0, max: Number.MAX_SAFE_INTEGER })
  // test-plans perf: the final timeSeconds includes connection establishment.
  let startMs = 0
  await withSession(args, io, PERF_TIMEOUT_MS, async ({ conn }) => {
    const stream = await conn.newStream(PERF_CODEC, LAZY)
    await perf(stream, {
      uploadBytes,
      downloadBytes,
      startMs,
      now: monotonicMs,
      onOutput: o => { io.out(formatPerfOutput(o)) }
    })
  }, () => { startMs = monotonicMs() })
}

/**
 * `streams`: `count` concurrent `/switchyard/echo/1.0.0` streams on one connection, each sending
 * its own 64 KiB payload and half-closing; every echoed byte is checked.
 */
export async function streamsCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  const count = uintOption(args, 'count', { min: 1, max: STREAMS_MAX_COUNT, def: STREAMS_DEFAULT_COUNT })
  await withSession(args, io, COMMAND_TIMEOUT_MS, async ({ conn }) => {
    const results = await Promise.allSettled(Array.from({ length: count }, async (_, i) => {
      const payload = echoPayload(i)
      const stream = await conn.newStream(ECHO_CODEC)
      const got = await echo(stream, payload)
      const at = firstDifference(got, payload)
      if (at >= 0) throw new CliError(`echo differs at byte ${at} (got ${got.length} bytes, sent ${payload.length})`)
    }))
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`stream ${i}: ${oneLine(toError(r.reason).message)}`] : []
    )
    if (failures.length > 0) {
      throw new CliError(
        `${failures.length} of ${count} echo streams failed: ${failures.slice(0, 5).join('; ')}${
          failures.length > 5 ? '; …' : ''
        }`
      )
    }
    io.out(`OK ${count}`)
  })
}

/** The distinct payload of echo stream `i`: xorshift32 seeded with i + 1 (any distinct bytes do). */
export function echoPayload (i: number, length = ECHO_PAYLOAD_BYTES): Uint8Array {
  const out = new Uint8Array(length)
  const words = new Uint32Array(out.buffer, 0, length >>> 2)
  let x = (Math.imul(i + 1, 0x9e3779b1) >>> 0) || 1
  for (let w = 0; w < words.length; w++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[w] = x
  }
  for (let b = words.length * 4; b < length; b++) out[b] = (x >>> ((b & 3) * 8)) & 0xff
  return out
}

function firstDifference (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

// ───────────────────────────── decode ─────────────────────────────

/**
 * `decode <capture> [--keylog <file>] [--trace=hex] [--utc] [--trace-file <path>]`: the layered
 * view of every TCP and QUIC connection in a pcap/pcapng file (src/capture/decode-capture.ts). A capture that
 * breaks off prints the connections up to the break, then fails (exit status 1).
 */
export async function decodeCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  if (args.positional.length !== 1) {
    throw new UsageError(`decode takes exactly one capture file, got ${args.positional.length} arguments`)
  }
  const capture = args.positional[0] as string
  const trace = optionValue(args, 'trace')
  if (trace !== undefined && trace !== '' && trace !== 'hex') {
    throw new UsageError(`option --trace expects no value or --trace=hex, got --trace=${trace}`)
  }
  // Imported here: the capture decoder is ~20 modules no other command runs (cold start, issue #15).
  const { decodeFile } = await import('../capture/decode-capture.js')
  let result
  try {
    result = decodeFile({
      capture,
      keylog: optionValue(args, 'keylog'),
      hex: trace === 'hex' || args.options.has('hex'),
      utc: args.options.has('utc'),
      traceFile: optionValue(args, 'trace-file')
    }, io)
  } catch (err) {
    throw new CliError(`${capture}: ${oneLine(toError(err).message)}`, { cause: err })
  }
  if (result.error !== undefined) {
    throw new CliError(`${capture}: ${oneLine(result.error.message)} (the connections up to there are printed above)`, {
      cause: result.error
    })
  }
}

// ───────────────────────────── keygen ─────────────────────────────

/** `keygen <file> [--force]`: write a fresh Ed25519 key file (raw PrivateKey protobuf, mode 0600). */
export async function keygenCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  if (args.positional.length !== 1) {
    throw new UsageError(`keygen takes exactly one file path, got ${args.positional.length} arguments`)
  }
  const path = args.positional[0] as string
  const key = generateEd25519()
  await savePrivateKeyFile(path, key, { overwrite: args.options.has('force') })
  io.out(PeerId.fromPublicKey(key.publicKey).toString())
}
