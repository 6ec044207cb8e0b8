/**
 * `switchyard <command> …`: dispatch, help, and the exit-status contract shared with the go and
 * rust interop peers:
 *
 *   0  success (and `listen` stopped by SIGINT/SIGTERM)
 *   1  runtime failure   → stderr: `error: <one line>`
 *   2  usage error       → stderr: `usage error: <one line> (see switchyard --help)`
 *
 * Never a stack trace: every error is reduced to its message on one line.
 */
import { SWITCHYARD_VERSION } from '../protocols/constants.js'
import { oneLine, parseArgs, UsageError } from './args.js'
import type { OptionSpec, ParsedArgs } from './args.js'
import {
  decodeCommand, identifyCommand, keygenCommand, listenCommand, perfCommand, pingCommand, streamCommand, streamsCommand,
  DIAL_SECURITY_DEFAULT, LISTEN_SECURITY_DEFAULT, STREAMS_DEFAULT_COUNT, STREAMS_MAX_COUNT
} from './commands.js'
import type { CliIo } from './io.js'
import { perfRunnerCommand, TEST_PLANS_SUPPORT, transportInteropCommand } from './test-plans.js'
import { TRACE_OPTIONS } from './trace.js'
import { SECURITY as SECURITY_REGISTRY } from '../standard.js'

interface Command {
  readonly options: readonly OptionSpec[]
  readonly help: string
  readonly run: (args: ParsedArgs, io: CliIo) => Promise<void>
}

const KEY: OptionSpec = { name: 'key', kind: 'value' }
const SECURITY: OptionSpec = { name: 'security', kind: 'value' }
const CLIENT: readonly OptionSpec[] = [KEY, SECURITY, ...TRACE_OPTIONS]

const TARGET_HELP = `<multiaddr> is a TCP or WebSocket address ending in /p2p/<peerId>, e.g.
  /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… or /ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooW… (/wss: not supported yet)`
const SECURITY_NAMES = Object.keys(SECURITY_REGISTRY).join('|')
const DIAL_SECURITY_HELP = `  --security <list>    security protocols to propose, comma-separated in order of preference
                       (${SECURITY_NAMES}); default ${DIAL_SECURITY_DEFAULT.join(',')}`
const COMMON_HELP =
  `  --key <file>         our identity: a libp2p PrivateKey protobuf file (created with a new Ed25519 key
                       if missing); default: a new key for this run
  --trace[=hex]        print every connection's layers (TCP, WebSocket, multistream, Noise or TLS,
                       yamux/mplex, streams)
                       on stderr, with hex dumps when =hex
  --trace-file <path>  write every trace record as JSON Lines to <path>
  --keylog <path>      append the session keys to <path>: Noise (SWITCHYARD_NOISE lines) and TLS 1.3
                       (NSS key log lines, which Wireshark reads), for \`switchyard decode\` of a capture`

const COMMANDS: Record<string, Command> = {
  listen: {
    options: [{ name: 'listen', kind: 'value', repeatable: true }, ...CLIENT],
    run: listenCommand,
    help:
      `usage: switchyard listen [--listen <multiaddr>]... [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

Listen for libp2p connections (TCP or WebSocket + Noise or TLS 1.3 + yamux/mplex) and serve
  /test/stream-proto/1.0.0, /ipfs/ping/1.0.0, /ipfs/id/1.0.0 (+ push), /perf/1.0.0, /switchyard/echo/1.0.0.
Prints one line \`LISTEN <multiaddr>/p2p/<peerId>\` per listen address on stdout, then logs on stderr.
Runs until SIGINT or SIGTERM, then stops gracefully and exits 0.

  --listen <multiaddr> an address to listen on (repeatable): TCP /ip4/…/tcp/N or WebSocket
                       /ip4/…/tcp/N/ws (port 0: any free port); default /ip4/127.0.0.1/tcp/0
  --security <list>    security protocols to accept, comma-separated in order of preference
                       (${SECURITY_NAMES}); default ${LISTEN_SECURITY_DEFAULT.join(',')} (those available)
${COMMON_HELP}`
  },
  stream: {
    options: CLIENT,
    run: streamCommand,
    help:
      `usage: switchyard stream <multiaddr> [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

The nim-libp2p tutorial 3 client on /test/stream-proto/1.0.0: send "please send data", then print
\`[client] received from server: <message>\` for each message until the server closes the stream.
${TARGET_HELP}

${DIAL_SECURITY_HELP}
${COMMON_HELP}`
  },
  ping: {
    options: [{ name: 'count', kind: 'value' }, ...CLIENT],
    run: pingCommand,
    help:
      `usage: switchyard ping <multiaddr> [--count N] [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

Ping over /ipfs/ping/1.0.0 (N round trips on one stream, default 1); prints \`RTT <ms> ms\` per round trip.
${TARGET_HELP}

  --count N            round trips (default 1)
${DIAL_SECURITY_HELP}
${COMMON_HELP}`
  },
  identify: {
    options: CLIENT,
    run: identifyCommand,
    help:
      `usage: switchyard identify <multiaddr> [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

Ask the peer /ipfs/id/1.0.0 and print its answer as one JSON object:
  {"peerId","protocolVersion","agentVersion","listenAddrs","protocols","observedAddr","security"} (absent
  fields are null; "security" is the security protocol the connection negotiated, e.g. /noise).
${TARGET_HELP}

${DIAL_SECURITY_HELP}
${COMMON_HELP}`
  },
  perf: {
    options: [{ name: 'upload-bytes', kind: 'value' }, { name: 'download-bytes', kind: 'value' }, ...CLIENT],
    run: perfCommand,
    help:
      `usage: switchyard perf <multiaddr> --upload-bytes N --download-bytes M [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

Run /perf/1.0.0 (libp2p specs perf/perf.md): upload N bytes, then download M bytes. Prints JSON lines
in libp2p/test-plans' perf format: \`{"type":"intermediary",…}\` about once a second, then
\`{"type":"final","timeSeconds":…,"uploadBytes":…,"downloadBytes":…}\` (the time includes connecting).
Exits 1 if the server sends a different number of bytes than asked.
${TARGET_HELP}

  --upload-bytes N     bytes to upload (0 … 2^53-1)
  --download-bytes M   bytes to ask for (0 … 2^53-1)
${DIAL_SECURITY_HELP}
${COMMON_HELP}`
  },
  streams: {
    options: [{ name: 'count', kind: 'value' }, ...CLIENT],
    run: streamsCommand,
    help:
      `usage: switchyard streams <multiaddr> [--count N] [--security <list>] [--key <file>] [--trace[=hex]] [--trace-file <path>] [--keylog <path>]

Open N concurrent /switchyard/echo/1.0.0 streams on one connection, each sending its own 64 KiB
payload; check every echoed byte and print \`OK N\`.
${TARGET_HELP}

  --count N            streams (1 … ${STREAMS_MAX_COUNT}, default ${STREAMS_DEFAULT_COUNT})
${DIAL_SECURITY_HELP}
${COMMON_HELP}`
  },
  decode: {
    options: [{ name: 'keylog', kind: 'value' }, { name: 'trace', kind: 'optional' }, { name: 'hex', kind: 'flag' }, {
      name: 'utc',
      kind: 'flag'
    }, { name: 'trace-file', kind: 'value' }],
    run: decodeCommand,
    help: `usage: switchyard decode <capture.pcap|pcapng> [--keylog <file>] [--trace=hex] [--utc] [--trace-file <path>]

Read a packet capture (tcpdump/Wireshark pcap or pcapng; link types Ethernet, Linux cooked SLL/SLL2,
raw IP, BSD loopback; IPv4 and IPv6), reassemble every TCP connection in it, and print the same
layered view as --trace: TCP, the WebSocket upgrade and frames (/ws), multistream-select, the Noise
or TLS 1.3 handshake, and — for connections whose keys are in the key log — the decrypted
yamux/mplex frames and stream messages. Other connections are shown up to the end of the handshake.
QUIC v1 over UDP too: long headers, the Initial packets (no key needed), and with the NSS lines of
the key log every packet's frames, the TLS messages in CRYPTO frames and each stream's protocol and
messages; packets that stay encrypted are listed with the reason. See docs/study-the-wire.md.
Exits 1 (after printing the connections decoded so far) if the capture is cut short or malformed.

  --keylog <file>      keys written by --keylog (SWITCHYARD_NOISE lines for Noise, NSS key log lines for TLS and QUIC)
  --trace=hex, --hex   hex dumps of every layer's bytes
  --utc                times of day in UTC (default: local time)
  --trace-file <path>  also write the decoded events as JSON Lines to <path>`
  },
  'transport-interop': {
    options: [],
    run: transportInteropCommand,
    help: `usage: switchyard transport-interop   (configured by its environment)

libp2p/test-plans transport-interop (transport-interop/README.md "Test spec"). Environment:
  transport             ${TEST_PLANS_SUPPORT.transport.join(', ')}
  security              ${TEST_PLANS_SUPPORT.security.join(', ')}
  muxer                 ${TEST_PLANS_SUPPORT.muxer.join(', ')}
  is_dialer             true or false
  ip                    listen address of the listener (default 0.0.0.0)
  redis_addr            host:port of the Redis server (default redis:6379)
  test_timeout_seconds  default 180
The listener RPUSHes <multiaddr>/p2p/<id> to the Redis list listenerAddr and waits until it is killed
(exit 1 at the timeout). The dialer BLPOPs that address, dials, pings once and prints
{"handshakePlusOneRTTMillis":…,"pingRTTMilllis":…} (the spec's spelling) on stdout. Logs go to stderr.`
  },
  'perf-runner': {
    options: [
      { name: 'run-server', kind: 'flag' },
      { name: 'server-address', kind: 'value' },
      { name: 'transport', kind: 'value' },
      { name: 'upload-bytes', kind: 'value' },
      { name: 'download-bytes', kind: 'value' }
    ],
    run: perfRunnerCommand,
    help: `usage: switchyard perf-runner --run-server --server-address <ip>:<port>
       switchyard perf-runner --server-address <ip>:<port> [--transport tcp] --upload-bytes N --download-bytes M

libp2p/test-plans perf (perf/README.md "Adding a new implementation"). The server serves /perf/1.0.0 on
that address with the runners' fixed identity (Ed25519 key of 32 zero bytes, peer
12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN), prints its multiaddrs and runs until
SIGINT/SIGTERM. The client dials that peer and prints the perf JSON lines of \`switchyard perf\`
(intermediary about once a second, then final; the time includes connecting).

  --run-server           run as the server
  --server-address A     <ipv4>:<port> or [<ipv6>]:<port> (required)
  --transport T          ${TEST_PLANS_SUPPORT.transport.join(', ')} (default tcp)
  --upload-bytes N       bytes to upload (default 0)
  --download-bytes M     bytes to download (default 0)`
  },
  keygen: {
    options: [{ name: 'force', kind: 'flag' }],
    run: keygenCommand,
    help: `usage: switchyard keygen <file> [--force]

Write a new Ed25519 identity to <file> (the raw libp2p PrivateKey protobuf, as go-libp2p and
js-libp2p write it; mode 0600) and print its peer id. Refuses to overwrite a file unless --force.`
  }
}

export const USAGE =
  `switchyard ${SWITCHYARD_VERSION} — a libp2p-compatible stack (TCP, WebSocket, multistream-select, Noise, TLS 1.3, yamux, mplex)

usage:
  switchyard listen [--listen <multiaddr>]... [--key <file>]
  switchyard stream <multiaddr/p2p/id>
  switchyard ping <multiaddr/p2p/id> [--count N]
  switchyard identify <multiaddr/p2p/id>
  switchyard perf <multiaddr/p2p/id> --upload-bytes N --download-bytes M
  switchyard streams <multiaddr/p2p/id> [--count N]
  switchyard keygen <file> [--force]
  switchyard decode <capture.pcap|pcapng> [--keylog <file>] [--trace=hex]
  switchyard transport-interop           (libp2p/test-plans; configured by its environment)
  switchyard perf-runner [--run-server] --server-address <ip>:<port> [--transport tcp] [--upload-bytes N] [--download-bytes M]

Commands that connect also take --security <list>, --key <file>, --trace[=hex], --trace-file <path>
and --keylog <path>.
\`switchyard <command> --help\` describes each command.
Exit status: 0 success, 1 runtime failure, 2 usage error.`

/** Run the CLI on `argv` (the words after `switchyard`). Resolves with the exit status; never throws. */
export async function main (argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const [name, ...rest] = argv
    if (name === undefined) throw new UsageError('missing command')
    if (name === '--help' || name === '-h' || name === 'help') {
      const topic = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined
      io.out(topic?.help ?? USAGE)
      return 0
    }
    if (name === '--version') {
      io.out(SWITCHYARD_VERSION)
      return 0
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
    if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    const args = parseArgs(rest, command.options)
    if (args.help) {
      io.out(command.help)
      return 0
    }
    await command.run(args, io)
    return 0
  } catch (err) {
    return report(err, io)
  }
}

/** One line on stderr and the exit status for `err`. */
export function report (err: unknown, io: Pick<CliIo, 'err'>): number {
  if (err instanceof UsageError) {
    io.err(`usage error: ${oneLine(err.message)} (see switchyard --help)`)
    return 2
  }
  const message = err instanceof Error ? err.message : String(err)
  io.err(`error: ${oneLine(message === '' ? String(err) : message)}`)
  return 1
}
