/**
 * libp2p/test-plans entry points (src/cli/test-plans.ts): the environment contract of
 * `switchyard transport-interop` and the arguments of `switchyard perf-runner`, then the
 * transport-interop contract end to end with a real redis-server (Debian's `redis-server`
 * package; a missing one fails these tests) between two switchyard processes and between
 * switchyard and the js-libp2p interop peer, in both directions — the same harness
 * (interop/transport-interop.ts) CI runs against go, rust and js.
 */
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  formatTransportInteropResult,
  parseServerAddress,
  parseTransportInteropEnv,
  perfServerKey,
  publishableAddr,
  TEST_PLANS_SUPPORT
} from '../../src/cli/test-plans.js'
import { PeerId } from '../../src/security/peer-id.js'
import { Multiaddr } from '../../src/transport/multiaddr.js'
import { RedisServer, runCase } from '../../interop/transport-interop.js'
import type { Case, Impl } from '../../interop/transport-interop.js'
import { buildToTemp } from './build.js'
import type { Build } from './build.js'
import { Listener, run } from './processes.js'

const ENV = { transport: 'tcp', muxer: 'yamux', security: 'noise', is_dialer: 'true' }

describe('transport-interop environment (test-plans transport-interop/README.md "Test spec")', () => {
  it('applies the documented defaults: ip 0.0.0.0, redis_addr redis:6379, test_timeout_seconds 180', () => {
    expect(parseTransportInteropEnv(ENV)).toEqual({
      transport: 'tcp',
      security: 'noise',
      muxer: 'yamux',
      isDialer: true,
      ip: '0.0.0.0',
      redisAddr: 'redis:6379',
      timeoutSeconds: 180
    })
    expect(
      parseTransportInteropEnv({
        ...ENV,
        is_dialer: 'false',
        ip: '10.0.0.2',
        redis_addr: '127.0.0.1:7000',
        test_timeout_seconds: '30',
        muxer: 'mplex'
      })
    )
      .toMatchObject({
        isDialer: false,
        ip: '10.0.0.2',
        redisAddr: '127.0.0.1:7000',
        timeoutSeconds: 30,
        muxer: 'mplex'
      })
  })

  it('quic-v1 is the registry\'s quic and needs no security or muxer (test-plans sets none for it)', () => {
    expect(TEST_PLANS_SUPPORT.transport).toEqual(['tcp', 'ws', 'quic-v1'])
    expect(parseTransportInteropEnv({ transport: 'quic-v1', is_dialer: 'false' })).toEqual({
      transport: 'quic', isDialer: false, ip: '0.0.0.0', redisAddr: 'redis:6379', timeoutSeconds: 180
    })
  })

  it.each([
    [{ ...ENV, transport: undefined }, /environment variable transport is required/],
    [{ ...ENV, transport: 'webtransport' }, /transport=webtransport is not supported by switchyard/],
    [{ ...ENV, muxer: 'quic' }, /muxer=quic is not supported by switchyard/],
    [{ ...ENV, security: 'plaintext' }, /security=plaintext is not supported by switchyard/],
    [{ ...ENV, is_dialer: 'yes' }, /is_dialer must be true or false/],
    [{ ...ENV, ip: '::' }, /expected an IPv4 address/],
    [{ ...ENV, test_timeout_seconds: '1.5' }, /whole seconds/]
  ])('refuses %j with a usage error', (env, message) => {
    expect(() => parseTransportInteropEnv(env)).toThrowError(
      expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringMatching(message) })
    )
  })

  it('prints the result with the spec\'s spelling (pingRTTMilllis, three l)', () => {
    expect(formatTransportInteropResult(12.5, 0.25)).toBe('{"handshakePlusOneRTTMillis":12.5,"pingRTTMilllis":0.25}')
  })

  it('publishes an address another host can dial when listening on 0.0.0.0', () => {
    const bound = Multiaddr.parse('/ip4/0.0.0.0/tcp/4001')
    const interfaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [{ address: '172.18.0.3', family: 'IPv4', internal: false }]
    }
    expect(publishableAddr(bound, interfaces as never).toString()).toBe('/ip4/172.18.0.3/tcp/4001')
    expect(publishableAddr(Multiaddr.parse('/ip4/127.0.0.1/tcp/5')).toString()).toBe('/ip4/127.0.0.1/tcp/5')
    expect(() => publishableAddr(bound, { lo: interfaces.lo } as never)).toThrowError(/no non-internal IPv4 address/)
  })
})

describe('perf-runner arguments (test-plans perf/README.md)', () => {
  it('the server identity is the runners\' fixed one: Ed25519 of 32 zero bytes', () => {
    // go-libp2p's perf main.go: GenerateEd25519Key over a reader of zeros, peer id hard-coded in its client.
    expect(PeerId.fromPublicKey(perfServerKey().publicKey).toString()).toBe(
      '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    )
  })

  it.each([
    ['127.0.0.1:4001', '/ip4/127.0.0.1/tcp/4001'],
    ['0.0.0.0:4001', '/ip4/0.0.0.0/tcp/4001'],
    ['[::1]:4001', '/ip6/::1/tcp/4001']
  ])('--server-address %s → %s', (text, ma) => {
    expect(parseServerAddress(text)).toBe(ma)
  })

  it.each(['localhost:4001', '127.0.0.1', '127.0.0.1:70000', '::1:4001'])('refuses --server-address %j', (text) => {
    expect(() => parseServerAddress(text)).toThrowError(expect.objectContaining({ code: 'ERR_USAGE' }))
  })
})

describe('the test-plans entry points as processes', () => {
  let build: Build
  let redis: RedisServer
  let logs: string
  let cli: string
  let argv: Record<Impl, string[]>
  beforeAll(async () => {
    build = await buildToTemp(['src/cli.js', 'interop/js/peer.js'])
    cli = join(build.dir, 'src/cli.js')
    argv = {
      sw: [process.execPath, cli, 'transport-interop'],
      js: [process.execPath, join(build.dir, 'interop/js/peer.js'), 'transport-interop'],
      go: [],
      rust: []
    }
    redis = await RedisServer.start()
    logs = mkdtempSync(join(tmpdir(), 'switchyard-test-plans-'))
  }, 120_000)
  afterAll(async () => {
    await redis?.stop()
    await build?.remove()
    if (logs !== undefined) rmSync(logs, { recursive: true, force: true })
  })

  const cases: Case[] = [
    { dialer: 'sw', listener: 'sw', transport: 'tcp', security: 'noise', muxer: 'yamux' },
    { dialer: 'sw', listener: 'sw', transport: 'tcp', security: 'noise', muxer: 'mplex' },
    { dialer: 'sw', listener: 'js', transport: 'tcp', security: 'noise', muxer: 'yamux' },
    { dialer: 'js', listener: 'sw', transport: 'tcp', security: 'noise', muxer: 'yamux' }
  ]
  it.each(cases)(
    'transport-interop $dialer -> $listener over $transport/$security/$muxer with a real redis-server',
    async (c) => {
      const r = await runCase(c, redis.addr, join(logs, `${c.dialer}-${c.listener}-${c.muxer}`), {
        argv,
        requireSwitchyard: true
      })
      expect(r.detail).toMatch(/^handshake\+1RTT/)
      expect(r.status).toBe('PASS')
      // js-libp2p's ping service reports whole milliseconds: 0 on a fast loopback.
      expect(r.pingRTTMilllis).toBeGreaterThanOrEqual(c.dialer === 'js' ? 0 : Number.MIN_VALUE)
      expect(r.handshakePlusOneRTTMillis).toBeGreaterThanOrEqual(r.pingRTTMilllis as number)
    },
    90_000
  )

  it('transport-interop refuses what switchyard lacks with a usage error naming it (exit 2)', async () => {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, [cli, 'transport-interop'], {
      env: { ...process.env, ...ENV, transport: 'webtransport', redis_addr: redis.addr },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const code = await new Promise(resolve => child.on('close', resolve))
    expect(code).toBe(2)
    expect(stderr).toMatch(
      /^usage error: transport=webtransport is not supported by switchyard \(supported: tcp, ws, quic-v1/
    )
  })

  it('perf-runner: a server with the fixed identity, and a client printing test-plans JSON lines', async () => {
    const l = await Listener.startCommand(
      cli,
      ['perf-runner', '--run-server', '--server-address', '127.0.0.1:0'],
      /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN$/m
    )
    try {
      const port = /\/tcp\/(\d+)\//.exec(l.stdout)?.[1] as string
      const r = await run(cli, [
        'perf-runner',
        '--server-address',
        `127.0.0.1:${port}`,
        '--transport',
        'tcp',
        '--upload-bytes',
        String(3 << 20),
        '--download-bytes',
        String(2 << 20)
      ], 60_000)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const lines = r.stdout.split('\n').filter(x => x !== '').map(x => JSON.parse(x) as Record<string, unknown>)
      const final = lines.at(-1) as Record<string, unknown>
      expect(Object.keys(final).sort()).toEqual(['downloadBytes', 'timeSeconds', 'type', 'uploadBytes'])
      expect(final).toMatchObject({ type: 'final', uploadBytes: 3 << 20, downloadBytes: 2 << 20 })
      expect(final.timeSeconds).toBeGreaterThan(0)
      for (const x of lines.slice(0, -1)) expect(x.type).toBe('intermediary')
    } finally {
      const stopped = await l.stop()
      expect(stopped.code).toBe(0)
    }
    const bad = await run(cli, [
      'perf-runner',
      '--server-address',
      '127.0.0.1:4001',
      '--transport',
      'webrtc-direct',
      '--upload-bytes',
      '1'
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--transport webrtc-direct is not supported by switchyard/)
  }, 90_000)

  it('lists the names it supports in its help', async () => {
    const r = await run(cli, ['transport-interop', '--help'])
    expect(r.code).toBe(0)
    for (const name of [...TEST_PLANS_SUPPORT.transport, ...TEST_PLANS_SUPPORT.security, ...TEST_PLANS_SUPPORT.muxer]) {
      expect(r.stdout).toContain(name)
    }
  })
})
