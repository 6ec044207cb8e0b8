/**
 * The compiled `switchyard` CLI and the examples, run as child processes over loopback TCP: the
 * contract other tools drive (LISTEN lines, output formats, one-line errors, exit statuses 0/1/2,
 * graceful SIGTERM/SIGINT), and the three nim tutorials printing what the tutorials print.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newStandardSwitch, PeerId, generateEd25519, standardLayers, Switch } from '../../src/index.js'
import { ECHO_CODEC, PERF_CODEC } from '../../src/protocols/constants.js'
import { STREAMS_MAX_COUNT } from '../../src/cli/commands.js'
import { buildToTemp, ROOT } from './build.js'
import type { Build } from './build.js'
import { lines, Listener, run } from './processes.js'
import { nimPingProtocol } from '../helpers/nim-ping-peer.js'
import { within } from '../helpers/wait.js'

let build: Build
let cli: string
const example = (name: string): string => join(build.dir, 'examples', `${name}.js`)

beforeAll(async () => {
  build = await buildToTemp([
    'src/cli.js',
    'examples/tutorial-1-connect.js',
    'examples/tutorial-2-customproto.js',
    'examples/tutorial-3-stream-proto.js'
  ])
  cli = join(build.dir, 'src/cli.js')
}, 240_000)

afterAll(async () => {
  await build?.remove()
})

const PARTS = Array.from({ length: 11 }, (_, i) => `[client] received from server: Part ${i}`)

/** A TCP port on 127.0.0.1 that nobody listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  await new Promise<void>(resolve =>
    server.close(() => {
      resolve()
    })
  )
  return address.port
}

/** Exactly one line on stderr, nothing on stdout, no stack trace. */
function expectOneLineError (r: { stdout: string, stderr: string }, pattern: RegExp): void {
  expect(r.stdout).toBe('')
  expect(lines(r.stderr)).toHaveLength(1)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

describe('examples (the nim-libp2p tutorials)', () => {
  it('tutorial 1 pings once and prints the duration as chronos does', async () => {
    const r = await run(example('tutorial-1-connect'), [])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toHaveLength(1)
    expect(r.stdout).toMatch(/^ping: (\d+s)?(\d+ms)?(\d+us)?(\d+ns)?\n$/)
    expect(r.stdout).not.toBe('ping: \n')
  })

  it('tutorial 2 delivers the one message to the server', async () => {
    const r = await run(example('tutorial-2-customproto'), [])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('Got from remote - Hello p2p!\n')
  })

  it('tutorial 3 (npm start) prints the request and the eleven parts', async () => {
    const r = await run(example('tutorial-3-stream-proto'), [])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual(['[server] received from client: please send data', ...PARTS])
  })
})

describe('switchyard CLI: usage', () => {
  it('has the shebang (package.json bin)', async () => {
    const text = await readFile(cli, 'utf8')
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true)
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }
    expect(pkg.bin.switchyard).toBe('dist/src/cli.js')
  })

  it('--help prints the usage of every command and exits 0', async () => {
    const r = await run(cli, ['--help'])
    expect(r.code).toBe(0)
    for (const cmd of ['listen', 'stream', 'ping', 'identify', 'perf', 'streams', 'keygen']) {
      expect(r.stdout).toContain(`switchyard ${cmd}`)
    }
  })

  it.each(['listen', 'stream', 'ping', 'identify', 'perf', 'streams', 'keygen'])(
    '%s --help describes the command and exits 0',
    async (cmd) => {
      const r = await run(cli, [cmd, '--help'])
      expect(r.code).toBe(0)
      expect(r.stderr).toBe('')
      expect(r.stdout.startsWith(`usage: switchyard ${cmd}`)).toBe(true)
    }
  )

  it('the help names WebSocket (/ws) addresses and TLS, not TCP alone', async () => {
    const listen = await run(cli, ['listen', '--help'])
    expect(listen.stdout).toMatch(
      /--listen <multiaddr> an address to listen on \(repeatable\): TCP \/ip4\/…\/tcp\/N or WebSocket\n\s+\/ip4\/…\/tcp\/N\/ws/
    )
    expect(listen.stdout).toContain('TCP or WebSocket + Noise or TLS 1.3 + yamux/mplex')
    const ping = await run(cli, ['ping', '--help'])
    expect(ping.stdout).toContain('/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooW…')
    expect(ping.stdout).toContain('TLS 1.3\n                       (NSS key log lines, which Wireshark reads)')
    const usage = await run(cli, ['--help'])
    expect(usage.stdout).toContain('(TCP, WebSocket, multistream-select, Noise, TLS 1.3, yamux, mplex)')
  })

  const peer = '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq'
  it.each([
    [[], /^usage error: missing command/],
    [['frobnicate'], /^usage error: unknown command "frobnicate"/],
    [['ping'], /^usage error: expected exactly one multiaddr/],
    [['ping', 'not-a-multiaddr'], /^usage error: invalid multiaddr "not-a-multiaddr"/],
    [['ping', '/ip4/300.1.1.1/tcp/1/p2p/' + peer], /^usage error: invalid multiaddr/],
    [
      ['stream', '/ip4/127.0.0.1/tcp/4001'],
      /^usage error: multiaddr "\/ip4\/127.0.0.1\/tcp\/4001" must end with \/p2p\/<peerId>/
    ],
    [['identify', '/ip4/127.0.0.1/udp/4001/p2p/' + peer], /^usage error: .*not a TCP address/],
    [['identify', '/ip4/127.0.0.1/udp/4001/quic/p2p/' + peer], /^usage error: invalid multiaddr/],
    [
      ['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--count', '0'],
      /^usage error: option --count expects an integer from 1/
    ],
    [
      ['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--count', '-3'],
      /^usage error: unknown option -3|^usage error: option --count expects/
    ],
    [
      ['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--count=1e3'],
      /^usage error: option --count expects an unsigned integer, got "1e3"/
    ],
    [
      ['perf', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--upload-bytes', '1'],
      /^usage error: option --download-bytes is required/
    ],
    [
      ['streams', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--count', '1001'],
      /^usage error: option --count expects an integer from 1 to 1000/
    ],
    [['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--bogus'], /^usage error: unknown option --bogus/],
    [
      ['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--trace=loud'],
      /^usage error: option --trace expects no value or --trace=hex/
    ],
    [['listen', '--listen', '/ip4/127.0.0.1/udp/0'], /^usage error: --listen: .*not a TCP address/],
    [['listen', 'extra'], /^usage error: listen takes no positional arguments/],
    [
      ['ping', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--security', 'frob'],
      /^usage error: option --security: unknown security protocol "frob" \(available: noise/
    ],
    [['listen', '--security', 'noise,'], /^usage error: option --security expects a comma-separated list of noise/],
    [
      ['stream', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, '--security=noise,noise'],
      /^usage error: option --security lists noise twice/
    ],
    [['keygen'], /^usage error: keygen takes exactly one file path/]
  ] as Array<[string[], RegExp]>)('%j → exit 2 with one line', async (args, pattern) => {
    const r = await run(cli, args)
    expect(r.code).toBe(2)
    expectOneLineError(r, pattern)
    expect(r.stderr).toMatch(/\(see switchyard --help\)\n$/)
  })

  it('an unreachable peer → exit 1 with one line', async () => {
    const port = await closedPort()
    const r = await run(cli, ['ping', `/ip4/127.0.0.1/tcp/${port}/p2p/${peer}`])
    expect(r.code).toBe(1)
    expectOneLineError(r, new RegExp(`^error: connecting to /ip4/127.0.0.1/tcp/${port}/p2p/${peer}: .*ECONNREFUSED`))
  })
})

describe('switchyard CLI: listen and the client commands', () => {
  let listener: Listener
  let target: string

  beforeAll(async () => {
    listener = await Listener.start(cli, ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0'], 2)
    target = listener.addrs[0] as string
  }, 30_000)

  afterAll(async () => {
    await listener?.stop('SIGKILL')
  })

  it('prints one LISTEN line per listen address, and nothing else on stdout', async () => {
    expect(listener.addrs).toHaveLength(2)
    const ids = new Set<string>()
    for (const line of lines(listener.stdout)) {
      const m = /^LISTEN \/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\/(12D3KooW\w+)$/.exec(line)
      expect(m, line).not.toBeNull()
      ids.add(m?.[2] ?? '')
    }
    expect(ids.size).toBe(1)
    expect(listener.addrs[0]).not.toBe(listener.addrs[1])
  })

  it('stream prints the eleven parts; the server logs the request on stderr', async () => {
    const r = await run(cli, ['stream', target])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual(PARTS)
    expect(listener.stderr).toContain('[server] received from client: please send data')
  })

  it('stream works on the second listen address too', async () => {
    const r = await run(cli, ['stream', listener.addrs[1] as string])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual(PARTS)
  })

  it('--security noise with --trace: the client and the listener name the negotiated security protocol', async () => {
    const r = await run(cli, ['ping', target, '--security', 'noise', '--trace'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /\[connect\] 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/tcp\/\d+: security \/noise, muxer \/yamux\/1\.0\.0 \(early\)/
    )
    expect(listener.stderr).toMatch(/\[listen\] peer 12D3KooW\w+, security noise tls, protocols/)
    expect(listener.stderr).toMatch(
      /\[listen\] connection \d+ inbound 12D3KooW\w+ at \S+ \(\/noise, \/yamux\/1\.0\.0\)/
    )
  })

  it('--security tls with --trace: TLS 1.3 with the muxer via ALPN, each handshake message and the libp2p extension shown', async () => {
    const r = await run(cli, ['ping', target, '--security', 'tls', '--trace'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /\[connect\] 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/tcp\/\d+: security \/tls\/1\.0\.0, muxer \/yamux\/1\.0\.0 \(early\)/
    )
    expect(r.stderr).toMatch(
      /tls -> ClientHello \(\d+ B, initial\) versions \[TLS 1\.3\]; suites \[TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384\]/
    )
    expect(r.stderr).toMatch(/ALPN \[\/yamux\/1\.0\.0, \/mplex\/6\.7\.0, libp2p\]/)
    expect(r.stderr).toMatch(
      /tls <- Certificate \(\d+ B, handshake\) 1 certificate; libp2p extension: Ed25519 12D3KooW\w+, signature verified/
    )
    expect(r.stderr).toMatch(
      /tls handshake complete: client, remote 12D3KooW\w+, TLS_AES_128_GCM_SHA256, x25519, muxer \/yamux\/1\.0\.0 \(early negotiation via ALPN\)/
    )
    expect(listener.stderr).toMatch(
      /\[listen\] connection \d+ inbound 12D3KooW\w+ at \S+ \(\/tls\/1\.0\.0, \/yamux\/1\.0\.0\)/
    )
  })

  it('ping --count 3 prints three RTT lines', async () => {
    const r = await run(cli, ['ping', target, '--count', '3'])
    expect(r.code).toBe(0)
    const out = lines(r.stdout)
    expect(out).toHaveLength(3)
    for (const line of out) expect(line).toMatch(/^RTT \d+\.\d{3} ms$/)
  })

  it('identify prints the listener as JSON', async () => {
    const r = await run(cli, ['identify', target])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toHaveLength(1)
    const info = JSON.parse(r.stdout) as Record<string, unknown>
    expect(Object.keys(info)).toEqual([
      'peerId',
      'protocolVersion',
      'agentVersion',
      'listenAddrs',
      'protocols',
      'observedAddr',
      'security',
      'signedPeerRecord'
    ])
    expect(info.security).toBe('/noise')
    // Our listener signs its addresses (RFC 0003); the client printed the record it verified.
    const record = info.signedPeerRecord as { peerId: string, seq: string, addresses: string[] }
    expect(record.peerId).toBe(info.peerId)
    expect(record.seq).toMatch(/^\d+$/)
    expect(record.addresses).toEqual(listener.addrs.map(a => a.split('/p2p/')[0]))
    expect(info.peerId).toBe(target.split('/p2p/')[1])
    expect(info.protocolVersion).toBe('ipfs/0.1.0')
    expect(info.agentVersion).toMatch(/^switchyard\//)
    expect(info.listenAddrs).toEqual(listener.addrs.map(a => a.split('/p2p/')[0]))
    expect(info.protocols).toEqual(expect.arrayContaining([
      '/test/stream-proto/1.0.0',
      '/ipfs/ping/1.0.0',
      '/ipfs/id/1.0.0',
      '/perf/1.0.0',
      '/switchyard/echo/1.0.0'
    ]))
    expect(info.observedAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
  })

  it('perf prints test-plans JSON lines ending with the exact byte counts', async () => {
    const r = await run(cli, ['perf', target, '--upload-bytes', String(3 << 20), '--download-bytes', String(5 << 20)])
    expect(r.code).toBe(0)
    const out = lines(r.stdout).map(l => JSON.parse(l) as Record<string, unknown>)
    const last = out[out.length - 1]
    expect(Object.keys(last ?? {})).toEqual(['type', 'timeSeconds', 'uploadBytes', 'downloadBytes'])
    expect(last).toMatchObject({ type: 'final', uploadBytes: 3 << 20, downloadBytes: 5 << 20 })
    expect(typeof last?.timeSeconds).toBe('number')
    for (const o of out.slice(0, -1)) expect(o.type).toBe('intermediary')
  })

  it('perf with zero bytes each way', async () => {
    const r = await run(cli, ['perf', target, '--upload-bytes', '0', '--download-bytes', '0'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'final', uploadBytes: 0, downloadBytes: 0 })
  })

  it('streams --count 40 echoes 40 distinct 64 KiB payloads concurrently', async () => {
    const r = await run(cli, ['streams', target, '--count', '40'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('OK 40\n')
  })

  it(`streams --count ${STREAMS_MAX_COUNT} (the largest) fits the listen test peer's stream and memory limits`, async () => {
    const r = await run(cli, ['streams', target, '--count', String(STREAMS_MAX_COUNT)])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`OK ${STREAMS_MAX_COUNT}\n`)
  })

  it('a client command interrupted by SIGINT stops and exits 1 with one line', async () => {
    const child = spawn(process.execPath, [cli, 'ping', target, '--count', '1000000'], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
    })
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString()
    })
    const exited = new Promise<number | null>(resolve => {
      child.on('close', code => {
        resolve(code)
      })
    })
    try {
      const until = Date.now() + 15_000
      while (!stdout.includes('RTT ')) {
        if (Date.now() > until) throw new Error(`no RTT line within 15 s; stderr ${stderr}`)
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      child.kill('SIGINT')
      const code = await within(15_000, 'exit after SIGINT', exited)
      expect(code).toBe(1)
      expect(lines(stderr)).toEqual(['error: interrupted by SIGINT'])
      for (const line of lines(stdout)) expect(line).toMatch(/^RTT \d+\.\d{3} ms$/)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('a wrong peer id at the listener\'s address → exit 1 with one line', async () => {
    const other = PeerId.fromPublicKey(generateEd25519().publicKey).toString()
    const addr = (target.split('/p2p/')[0] as string) + '/p2p/' + other
    const r = await run(cli, ['ping', addr])
    expect(r.code).toBe(1)
    expectOneLineError(r, /^error: connecting to .*peer/i)
  })

  it('a protocol the listener does not serve → exit 1 with one line (stream against a listener without it)', async () => {
    // The listener serves every CLI protocol, so ask a bare switchyard switch instead.
    const sw = newStandardSwitch({ log: () => {} })
    await sw.start()
    try {
      const addr = `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`
      const r = await run(cli, ['stream', addr])
      expect(r.code).toBe(1)
      expectOneLineError(r, /^error: .*\/test\/stream-proto\/1\.0\.0/)
    } finally {
      await sw.stop()
    }
  })
})

describe('switchyard CLI over QUIC (/udp/N/quic-v1)', () => {
  let listener: Listener
  let target: string

  beforeAll(async () => {
    listener = await Listener.start(cli, ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], 1)
    target = listener.addrs[0] as string
  }, 30_000)

  afterAll(async () => {
    await listener?.stop('SIGKILL')
  })

  it('listens, and ping --trace names QUIC\'s TLS and streams on both sides', async () => {
    expect(target).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\/12D3KooW\w+$/)
    const r = await run(cli, ['ping', target, '--trace'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /\[connect\] 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1: security \/tls\/1\.0\.0, muxer \/quic-v1 \(transport\)/
    )
    expect(listener.stderr).toMatch(
      /\[listen\] connection \d+ inbound 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1 \(\/tls\/1\.0\.0, \/quic-v1\)/
    )
  })

  it('stream and identify over QUIC', async () => {
    const s = await run(cli, ['stream', target])
    expect(s.code).toBe(0)
    expect(lines(s.stdout)).toEqual(PARTS)
    const r = await run(cli, ['identify', target])
    expect(r.code).toBe(0)
    const info = JSON.parse(r.stdout) as Record<string, unknown>
    expect(info.security).toBe('/tls/1.0.0')
    expect(info.listenAddrs).toEqual([target.split('/p2p/')[0]])
    expect(info.observedAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1$/)
  })
})

describe('switchyard CLI: ping against a listener that answers one payload per stream (as nim-libp2p)', () => {
  let sw: Switch

  beforeAll(async () => {
    sw = new Switch(standardLayers({ protocols: [nimPingProtocol], log: () => {} }))
    await sw.start()
  })

  afterAll(async () => {
    await sw?.stop()
  })

  it('ping --count 3 prints three RTT lines and notes each new stream on stderr', async () => {
    const addr = `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`
    const r = await run(cli, ['ping', addr, '--count', '3'])
    expect(r.code).toBe(0)
    const out = lines(r.stdout)
    expect(out).toHaveLength(3)
    for (const line of out) expect(line).toMatch(/^RTT \d+\.\d{3} ms$/)
    expect(lines(r.stderr)).toEqual([
      '[ping] the listener ended the stream after its echo; round 2 goes on over a new stream',
      '[ping] the listener ended the stream after its echo; round 3 goes on over a new stream'
    ])
  })
})

describe('switchyard CLI: perf checks the byte counts', () => {
  let sw: Switch

  beforeAll(async () => {
    // A perf server that sends one byte fewer than asked.
    sw = newStandardSwitch({ log: () => {} })
    sw.mount({
      codecs: [PERF_CODEC],
      handler: async (stream) => {
        const header = await stream.readExactly(8)
        const asked = Number(new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0))
        while (await stream.read() !== null) { /* drain the upload */ }
        if (asked > 1) await stream.write(new Uint8Array(asked - 1))
        await stream.close()
      }
    })
    await sw.start()
  })

  afterAll(async () => {
    await sw?.stop()
  })

  it('exits 1 with one line when the server sends fewer bytes than asked', async () => {
    const addr = `${sw.peerInfo.addrs[0]?.toString() ?? ''}/p2p/${sw.peerId.toString()}`
    const r = await run(cli, ['perf', addr, '--upload-bytes', '10', '--download-bytes', '1000'])
    expect(r.code).toBe(1)
    expectOneLineError(r, /^error: .*expected 1000 download bytes, got 999/)
  })
})

describe('switchyard CLI: keys and signals', () => {
  it('keygen writes an Ed25519 key file that listen --key uses; refuses to overwrite without --force', async () => {
    const dir = build.dir
    const file = join(dir, 'peer.key')
    const made = await run(cli, ['keygen', file])
    expect(made.code).toBe(0)
    const id = made.stdout.trim()
    expect(id).toMatch(/^12D3KooW\w+$/)
    expect((await stat(file)).size).toBe(68)
    expect((await stat(file)).mode & 0o777).toBe(0o600)

    const again = await run(cli, ['keygen', file])
    expect(again.code).toBe(1)
    expectOneLineError(again, /^error: key file .*already exists/)
    const forced = await run(cli, ['keygen', file, '--force'])
    expect(forced.code).toBe(0)
    const id2 = forced.stdout.trim()
    expect(id2).not.toBe(id)

    const l = await Listener.start(cli, ['--key', file])
    try {
      expect(l.addrs[0]).toMatch(new RegExp(`/p2p/${id2}$`))
    } finally {
      expect((await l.stop('SIGTERM')).code).toBe(0)
    }
  })

  it('listen --key <missing file> creates it and keeps the identity across runs', async () => {
    const file = join(build.dir, 'created.key')
    const first = await Listener.start(cli, ['--key', file])
    await first.stop('SIGTERM')
    expect((await stat(file)).size).toBe(68)
    const second = await Listener.start(cli, ['--key', file])
    await second.stop('SIGTERM')
    expect(second.addrs[0]?.split('/p2p/')[1]).toBe(first.addrs[0]?.split('/p2p/')[1])
  })

  it('a corrupt key file → exit 1 with one line', async () => {
    const r = await run(cli, ['listen', '--key', cli])
    expect(r.code).toBe(1)
    expectOneLineError(r, /^error: key file .*not a valid libp2p PrivateKey protobuf/)
  })

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'listen stops gracefully on %s and exits 0, with a connection and a stream open',
    async (signal) => {
      const l = await Listener.start(cli, [])
      const sw = newStandardSwitch({ log: () => {}, listenAddrs: [] })
      try {
        // An echo stream left open: the listener's stop waits for it (stopTimeoutMs), then resets it.
        const stream = await sw.dial(l.addrs[0] as string, ECHO_CODEC)
        await stream.write(new Uint8Array([1, 2, 3]))
        expect([...await stream.readExactly(3)]).toEqual([1, 2, 3])
        const done = await l.stop(signal)
        expect(done.code).toBe(0)
        expect(done.signal).toBeNull()
        expect(done.stderr).toContain(`[listen] ${signal} received, shutting down`)
        expect(lines(done.stdout)).toHaveLength(1)
        await expect(stream.read()).rejects.toThrow()
      } finally {
        await sw.stop()
      }
    }
  )

  it('listen on a port already taken → exit 1 with one line', async () => {
    const l = await Listener.start(cli, [])
    try {
      const taken = (l.addrs[0] as string).split('/p2p/')[0] as string
      const r = await run(cli, ['listen', '--listen', taken])
      expect(r.code).toBe(1)
      expectOneLineError(r, /^error: .*EADDRINUSE/)
    } finally {
      await l.stop('SIGTERM')
    }
  })
})

describe('switchyard CLI over WebSocket (--listen …/ws): real processes, real sockets', () => {
  let listener: Listener
  let wsTarget: string
  let tcpTarget: string

  beforeAll(async () => {
    listener = await Listener.start(cli, ['--listen', '/ip4/127.0.0.1/tcp/0/ws', '--listen', '/ip4/127.0.0.1/tcp/0'], 2)
    wsTarget = listener.addrs[0] as string
    tcpTarget = listener.addrs[1] as string
  }, 30_000)

  afterAll(async () => {
    await listener?.stop('SIGKILL')
  })

  it('prints a /ws LISTEN line with its real port beside the TCP one, for one peer id', () => {
    const ws = /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/ws\/p2p\/(12D3KooW\w+)$/.exec(wsTarget)
    const tcp = /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\/(12D3KooW\w+)$/.exec(tcpTarget)
    expect(ws, wsTarget).not.toBeNull()
    expect(tcp, tcpTarget).not.toBeNull()
    expect(Number(ws?.[1])).toBeGreaterThan(0)
    expect(ws?.[1]).not.toBe(tcp?.[1])
    expect(ws?.[2]).toBe(tcp?.[2])
  })

  it('stream over /ws prints the eleven parts; the listener logs the connection at its /ws address', async () => {
    const r = await run(cli, ['stream', wsTarget])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual(PARTS)
    expect(listener.stderr).toMatch(
      /\[listen\] connection \d+ inbound 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws \(\/noise, \/yamux\/1\.0\.0\)/
    )
  })

  it('ping --security tls --trace over /ws: the HTTP upgrade, masked binary frames, TLS inside them', async () => {
    const r = await run(cli, ['ping', wsTarget, '--security', 'tls', '--trace', '--count', '2'])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toHaveLength(2)
    expect(r.stderr).toMatch(
      /ws -> GET \/ HTTP\/1\.1 \(Host: 127\.0\.0\.1:\d+; Upgrade: websocket; Connection: Upgrade; Sec-WebSocket-Key: \S+; Sec-WebSocket-Version: 13\)/
    )
    expect(r.stderr).toMatch(
      /ws <- HTTP\/1\.1 101 Switching Protocols \(Upgrade: websocket; Connection: Upgrade; Sec-WebSocket-Accept: \S+\)/
    )
    expect(r.stderr).toMatch(/ws -> Binary FIN \d+ B masked/)
    expect(r.stderr).toMatch(/ws <- Binary FIN \d+ B\n/)
    expect(r.stderr).toMatch(/tls handshake complete: client, remote 12D3KooW\w+/)
    expect(r.stderr).toMatch(
      /\[connect\] 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws: security \/tls\/1\.0\.0, muxer \/yamux\/1\.0\.0 \(early\)/
    )
    expect(listener.stderr).toMatch(
      /\[listen\] connection \d+ inbound 12D3KooW\w+ at \/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws \(\/tls\/1\.0\.0, \/yamux\/1\.0\.0\)/
    )
  })

  it('identify over /ws: both listen addresses, a /ws observed address', async () => {
    const r = await run(cli, ['identify', wsTarget])
    expect(r.code).toBe(0)
    const info = JSON.parse(r.stdout) as { listenAddrs: string[], observedAddr: string, security: string }
    expect(info.listenAddrs).toEqual(listener.addrs.map(a => a.split('/p2p/')[0]))
    expect(info.observedAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws$/)
    expect(info.security).toBe('/noise')
  })

  it('streams --count 20 over /ws echoes 20 distinct 64 KiB payloads concurrently', async () => {
    const r = await run(cli, ['streams', wsTarget, '--count', '20'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('OK 20\n')
  })

  it.each([['noise'], ['tls']] as const)(
    'a library switch dials the CLI listener over /ws (%s): 4 MiB echoed byte for byte',
    async (security) => {
      const sw = newStandardSwitch({ log: () => {}, listenAddrs: [], security: [security] })
      try {
        const payload = new Uint8Array(4 << 20)
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24
        const stream = await sw.dial(wsTarget, ECHO_CODEC)
        expect(stream.connection.remoteAddr).toMatch(/\/ws$/)
        expect(stream.connection.security).toBe(security === 'tls' ? '/tls/1.0.0' : '/noise')
        const [, echoed] = await Promise.all([
          (async () => {
            await stream.write(payload)
            await stream.closeWrite()
          })(),
          within(
            60_000,
            'the echo',
            (async () => {
              const chunks: Uint8Array[] = []
              for await (const c of stream) chunks.push(c)
              return Buffer.concat(chunks)
            })()
          )
        ])
        expect(echoed.length).toBe(payload.length)
        expect(createHash('sha256').update(echoed).digest('hex')).toBe(
          createHash('sha256').update(payload).digest('hex')
        )
      } finally {
        await sw.stop()
      }
    }
  )
})
