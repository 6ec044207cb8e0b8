/**
 * The entry points libp2p's own runners call (github.com/libp2p/test-plans):
 *
 * `switchyard transport-interop` — transport-interop/README.md "Test spec". Configured by the
 * environment (`transport`, `muxer`, `security`, `is_dialer`, `ip` (default 0.0.0.0), `redis_addr`
 * (default redis:6379), `test_timeout_seconds` (default 180)):
 *   listener: listen on /ip4/<ip>/tcp/0 (/ws for ws), RPUSH `<multiaddr>/p2p/<id>` to the Redis list
 *             `listenerAddr`, then wait; the runner kills it when the dialer is done, and reaching
 *             the timeout is a failure (exit 1).
 *   dialer:   BLPOP `listenerAddr`, note the time, dial, ping once, print
 *             `{"handshakePlusOneRTTMillis":…,"pingRTTMilllis":…}` (the spec's spelling, three l)
 *             on stdout, exit 0. Logs go to stderr only.
 *
 * `switchyard perf-runner` — perf/README.md "Adding a new implementation": `--run-server
 * --server-address <ip>:<port>` serves /perf/1.0.0 on /ip4/<ip>/tcp/<port> with the runner's fixed
 * identity (the Ed25519 key of 32 zero bytes, peer 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN:
 * clients dial it without learning its id) and prints its multiaddrs; a client (`--server-address
 * <ip>:<port> --transport tcp --upload-bytes N --download-bytes M`) prints the perf JSON lines
 * (`intermediary` about once a second, then `final` with connection setup included) — the `perf`
 * command's output.
 */
import { networkInterfaces } from 'node:os'
import { MUXERS, newStandardSwitch, SECURITY, TRANSPORTS } from '../index.js'
import type { MuxerName, SecurityName, Switch, TransportName } from '../index.js'
import { PING_CODEC } from '../protocols/constants.js'
import { perfProtocol } from '../protocols/perf.js'
import { ping } from '../protocols/ping.js'
import { monotonicMs } from '../protocols/util.js'
import { Ed25519PrivateKey } from '../security/keys.js'
import { PeerId } from '../security/peer-id.js'
import { Multiaddr } from '../transport/multiaddr.js'
import { oneLine, optionValue, parseTarget, UsageError } from './args.js'
import type { ParsedArgs } from './args.js'
import { perfCommand } from './commands.js'
import { CliError } from './io.js'
import type { CliIo } from './io.js'
import { RedisClient } from './redis.js'
import { toError } from '../errors.js'

/** The Redis list the listener publishes its address to (transport-interop README, Listener step 3). */
export const LISTENER_ADDR_KEY = 'listenerAddr'
/** test-plans defaults. */
export const DEFAULT_TEST_TIMEOUT_SECONDS = 180
export const DEFAULT_REDIS_ADDR = 'redis:6379'
export const DEFAULT_LISTEN_IP = '0.0.0.0'

/** Transport names in test-plans → switchyard's registry (test-plans says `quic-v1`). */
const TEST_PLANS_TRANSPORTS: Readonly<Record<string, TransportName>> = { tcp: 'tcp', ws: 'ws', 'quic-v1': 'quic' }
/** Transports that bring their own security and streams: test-plans sets no `security`/`muxer` for them. */
const STANDALONE_TRANSPORTS: readonly string[] = ['quic-v1']

/**
 * What this build implements, as test-plans spells it: the names registered in src/standard.ts
 * (so a transport or security protocol registered there is offered here with no other change). A
 * runner asking for anything else gets a usage error naming what we have.
 */
export const TEST_PLANS_SUPPORT: Readonly<Record<'transport' | 'security' | 'muxer', readonly string[]>> = {
  transport: Object.keys(TEST_PLANS_TRANSPORTS).filter(t =>
    Object.hasOwn(TRANSPORTS, TEST_PLANS_TRANSPORTS[t] as string)
  ),
  security: Object.keys(SECURITY),
  muxer: Object.keys(MUXERS)
}

export interface TransportInteropConfig {
  /** The registry name (`quic` for test-plans' `quic-v1`). */
  transport: TransportName
  /** Unset for a standalone transport (quic-v1). */
  security?: SecurityName
  muxer?: MuxerName
  isDialer: boolean
  ip: string
  redisAddr: string
  timeoutSeconds: number
}

/** The test-plans environment → a checked config. UsageError for a missing or unsupported value. */
export function parseTransportInteropEnv (env: Readonly<Record<string, string | undefined>>): TransportInteropConfig {
  const get = (name: string): string | undefined => {
    const v = env[name]
    return v === undefined || v === '' ? undefined : v
  }
  const pick = (name: keyof typeof TEST_PLANS_SUPPORT): string => {
    const v = get(name)
    if (v === undefined) {
      throw new UsageError(`environment variable ${name} is required (${TEST_PLANS_SUPPORT[name].join(', ')})`)
    }
    if (!TEST_PLANS_SUPPORT[name].includes(v)) {
      throw new UsageError(
        `${name}=${v} is not supported by switchyard (supported: ${TEST_PLANS_SUPPORT[name].join(', ')})`
      )
    }
    return v
  }
  const named = pick('transport')
  const transport = TEST_PLANS_TRANSPORTS[named] as TransportName
  const standalone = STANDALONE_TRANSPORTS.includes(named)
  const security = standalone ? undefined : pick('security') as SecurityName
  const muxer = standalone ? undefined : pick('muxer') as MuxerName
  const dialer = get('is_dialer')
  if (dialer !== 'true' && dialer !== 'false') {
    throw new UsageError(`environment variable is_dialer must be true or false, got ${JSON.stringify(dialer ?? '')}`)
  }
  const ip = get('ip') ?? DEFAULT_LISTEN_IP
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new UsageError(`ip=${ip}: expected an IPv4 address`)
  const timeoutText = get('test_timeout_seconds') ?? String(DEFAULT_TEST_TIMEOUT_SECONDS)
  const timeoutSeconds = Number(timeoutText)
  if (!/^[0-9]{1,6}$/.test(timeoutText) || timeoutSeconds < 1) {
    throw new UsageError(`test_timeout_seconds=${timeoutText}: expected whole seconds >= 1`)
  }
  return {
    transport,
    ...(security === undefined ? {} : { security }),
    ...(muxer === undefined ? {} : { muxer }),
    isDialer: dialer === 'true',
    ip,
    redisAddr: get('redis_addr') ?? DEFAULT_REDIS_ADDR,
    timeoutSeconds
  }
}

/** What the dialer prints (transport-interop README, Dialer step 8; "Milllis" as the spec spells it). */
export function formatTransportInteropResult (handshakePlusOneRTTMillis: number, pingRTTMilllis: number): string {
  return JSON.stringify({ handshakePlusOneRTTMillis, pingRTTMilllis })
}

/** The listen address of a transport on `ip`, port chosen by the OS. */
function listenAddr (transport: TransportName, ip: string): string {
  if (transport === 'quic') return `/ip4/${ip}/udp/0/quic-v1`
  return `/ip4/${ip}/tcp/0${transport === 'ws' ? '/ws' : ''}`
}

/**
 * The address to publish: a wildcard listen address (0.0.0.0) is not dialable, so it is replaced by
 * this host's first non-internal IPv4 address (the container's address on the test network).
 */
export function publishableAddr (bound: Multiaddr, interfaces = networkInterfaces()): Multiaddr {
  const text = bound.toString()
  if (!text.startsWith('/ip4/0.0.0.0/')) return bound
  const external = Object.values(interfaces).flat().find(i => i !== undefined && i.family === 'IPv4' && !i.internal)
  if (external === undefined) {
    throw new CliError('listening on 0.0.0.0 but this host has no non-internal IPv4 address to publish')
  }
  return Multiaddr.parse(text.replace('/ip4/0.0.0.0/', `/ip4/${external.address}/`))
}

export async function transportInteropCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  if (args.positional.length !== 0) {
    throw new UsageError(
      'transport-interop takes no arguments: it is configured by its environment (transport, muxer, security, is_dialer, ip, redis_addr, test_timeout_seconds)'
    )
  }
  const config = parseTransportInteropEnv(process.env)
  const timeoutMs = config.timeoutSeconds * 1000
  io.err(
    `[transport-interop] ${config.isDialer ? 'dialer' : 'listener'}: transport ${config.transport}, security ${
      config.security ?? '(the transport\'s)'
    }, muxer ${config.muxer ?? '(the transport\'s)'}, redis ${config.redisAddr}, timeout ${config.timeoutSeconds} s`
  )
  const redis = await RedisClient.connect(config.redisAddr)
  const sw = newStandardSwitch({
    listenAddrs: config.isDialer ? [] : [listenAddr(config.transport, config.ip)],
    transports: [config.transport],
    ...(config.security === undefined ? {} : { security: [config.security] }),
    ...(config.muxer === undefined ? {} : { muxers: [config.muxer] }),
    log: line => { io.err(line) }
  })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new CliError(`test_timeout_seconds (${config.timeoutSeconds} s) reached`))
    }, timeoutMs)
  })
  try {
    await sw.start()
    if (config.isDialer) await Promise.race([dial(sw, redis, config, io), deadline])
    else await Promise.race([listen(sw, redis, io), deadline])
  } finally {
    clearTimeout(timer)
    redis.close()
    await sw.stop()
  }
}

/** Publish our address, then wait: the runner kills us (SIGTERM ends us with exit 0), or the deadline fails us. */
async function listen (sw: Switch, redis: RedisClient, io: CliIo): Promise<void> {
  const bound = sw.peerInfo.addrs[0]
  if (bound === undefined) throw new CliError('the switch reports no listen address')
  const addr = `${publishableAddr(bound).toString()}/p2p/${sw.peerId.toString()}`
  await redis.command('RPUSH', LISTENER_ADDR_KEY, addr)
  io.err(`[transport-interop] listening on ${addr}`)
  const name = await io.signal
  io.err(`[transport-interop] ${name} received, stopping`)
}

async function dial (sw: Switch, redis: RedisClient, config: TransportInteropConfig, io: CliIo): Promise<void> {
  const reply = await redis.command('BLPOP', LISTENER_ADDR_KEY, String(config.timeoutSeconds))
  if (!Array.isArray(reply) || typeof reply[1] !== 'string') {
    throw new CliError(`no listener address in Redis list ${LISTENER_ADDR_KEY} within ${config.timeoutSeconds} s`)
  }
  const target = parseTarget(reply[1])
  io.err(`[transport-interop] dialing ${target.text}`)
  const start = monotonicMs()
  let conn
  try {
    conn = await sw.dial(target.peerId, [target.addr])
  } catch (err) {
    throw new CliError(`connecting to ${target.text}: ${oneLine(toError(err).message)}`, { cause: err })
  }
  const stream = await conn.newStream(PING_CODEC, { lazy: true })
  const [rtt] = await ping(stream, { count: 1 })
  const total = monotonicMs() - start
  io.out(formatTransportInteropResult(total, rtt as number))
}

// ───────────────────────────── perf ─────────────────────────────

/** The identity every test-plans perf server uses: Ed25519 from a seed of 32 zero bytes. */
export function perfServerKey (): Ed25519PrivateKey {
  return new Ed25519PrivateKey(new Uint8Array(32))
}

/** `<ipv4>:<port>` or `[<ipv6>]:<port>` → the TCP multiaddr. */
export function parseServerAddress (text: string): string {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9a-fA-F:.]+)\]):([0-9]{1,5})$/.exec(text)
  const port = Number(m?.[3])
  if (m === null || port > 65535) {
    throw new UsageError(`--server-address ${JSON.stringify(text)}: expected <ipv4>:<port> or [<ipv6>]:<port>`)
  }
  return m[1] !== undefined ? `/ip4/${m[1]}/tcp/${port}` : `/ip6/${m[2] as string}/tcp/${port}`
}

export async function perfRunnerCommand (args: ParsedArgs, io: CliIo): Promise<void> {
  if (args.positional.length !== 0) {
    throw new UsageError(`perf-runner takes only options, got ${JSON.stringify(args.positional)}`)
  }
  const server = optionValue(args, 'server-address')
  if (server === undefined) throw new UsageError('option --server-address is required')
  const tcp = parseServerAddress(server)
  const transport = optionValue(args, 'transport') ?? 'tcp'
  if (!TEST_PLANS_SUPPORT.transport.includes(transport)) {
    throw new UsageError(
      `--transport ${transport} is not supported by switchyard (supported: ${TEST_PLANS_SUPPORT.transport.join(', ')})`
    )
  }
  const addr = transport === 'ws'
    ? `${tcp}/ws`
    : transport === 'quic-v1'
      ? `${tcp.replace('/tcp/', '/udp/')}/quic-v1`
      : tcp
  const key = perfServerKey()
  if (args.options.has('run-server')) {
    for (const name of ['upload-bytes', 'download-bytes']) {
      if (args.options.has(name)) throw new UsageError(`--${name} is a client option (not with --run-server)`)
    }
    await perfServer(addr, TEST_PLANS_TRANSPORTS[transport] as TransportName, key, io)
    return
  }
  // The client is the `perf` command against the server's fixed identity.
  const target = `${addr}/p2p/${PeerId.fromPublicKey(key.publicKey).toString()}`
  const options = new Map([...args.options].filter(([name]) => name === 'upload-bytes' || name === 'download-bytes'))
  for (const name of ['upload-bytes', 'download-bytes']) if (!options.has(name)) options.set(name, ['0'])
  await perfCommand({ positional: [target], options, help: false }, io)
}

/**
 * Serve /perf/1.0.0 (and ping, identify) on `addr` until SIGINT/SIGTERM; print each multiaddr as go's perf server does.
 */
async function perfServer (addr: string, transport: TransportName, key: Ed25519PrivateKey, io: CliIo): Promise<void> {
  const sw = newStandardSwitch({
    identity: key,
    listenAddrs: [addr],
    transports: [transport],
    protocols: [perfProtocol],
    log: line => {
      io.err(line)
    }
  })
  await sw.start()
  io.out(sw.peerInfo.addrs.map(a => `${a.toString()}/p2p/${sw.peerId.toString()}`).join('\n'))
  const name = await io.signal
  io.err(`[perf-runner] ${name} received, stopping`)
  await sw.stop()
}
