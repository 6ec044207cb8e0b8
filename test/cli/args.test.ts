/** The CLI's argument grammar (src/cli/args.ts) and error reporting (src/cli/main.ts), in process. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { oneLine, parseArgs, parseListenAddr, parseTarget, uintOption, UsageError } from '../../src/cli/args.js'
import type { OptionSpec } from '../../src/cli/args.js'
import { echoPayload, formatRtt } from '../../src/cli/commands.js'
import { main, report } from '../../src/cli/main.js'
import { recordingIo } from '../helpers/cli-io.js'
import { CliError } from '../../src/cli/io.js'
import { TransportError } from '../../src/index.js'

const SPECS: OptionSpec[] = [
  { name: 'count', kind: 'value' },
  { name: 'listen', kind: 'value', repeatable: true },
  { name: 'force', kind: 'flag' },
  { name: 'trace', kind: 'optional' }
]
const PEER = '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq'

describe('parseArgs', () => {
  it('takes --name value and --name=value anywhere, flags and optional values', () => {
    const a = parseArgs(['x', '--count', '3', '--listen=/a', 'y', '--listen', '/b', '--force', '--trace=hex'], SPECS)
    expect(a.positional).toEqual(['x', 'y'])
    expect(a.options.get('count')).toEqual(['3'])
    expect(a.options.get('listen')).toEqual(['/a', '/b'])
    expect(a.options.get('force')).toEqual([''])
    expect(a.options.get('trace')).toEqual(['hex'])
    expect(a.help).toBe(false)
  })

  it('--trace without = takes no value (the next word stays positional)', () => {
    const a = parseArgs(['--trace', '/ip4/1.2.3.4/tcp/1'], SPECS)
    expect(a.options.get('trace')).toEqual([''])
    expect(a.positional).toEqual(['/ip4/1.2.3.4/tcp/1'])
  })

  it('--help and -h set help; -- ends the options', () => {
    expect(parseArgs(['--help'], SPECS).help).toBe(true)
    expect(parseArgs(['x', '-h'], SPECS).help).toBe(true)
    expect(parseArgs(['--', '--count'], SPECS).positional).toEqual(['--count'])
  })

  it.each([
    [['--nope'], /unknown option --nope/],
    [['-x'], /unknown option -x/],
    [['--count'], /option --count needs a value/],
    [['--count='], /option --count needs a non-empty value/],
    [['--force=yes'], /option --force takes no value/],
    [['--count', '1', '--count', '2'], /option --count given more than once/]
  ])('%j → UsageError', (argv, message) => {
    expect(() => parseArgs(argv, SPECS)).toThrow(UsageError)
    expect(() => parseArgs(argv, SPECS)).toThrow(message)
  })

  it('never throws anything but UsageError on arbitrary words', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('--count', '--force', '--trace', '--listen', '--', '-h'))),
        (argv) => {
          try {
            parseArgs(argv, SPECS)
          } catch (err) {
            expect(err).toBeInstanceOf(UsageError)
          }
        }
      )
    )
  })
})

describe('uintOption', () => {
  const parse = (v: string | undefined): number =>
    uintOption(parseArgs(v === undefined ? [] : ['--count', v], SPECS), 'count', { min: 1, max: 1000, def: 50 })

  it('accepts decimal digits within the range, defaults when absent', () => {
    expect(parse(undefined)).toBe(50)
    expect(parse('1')).toBe(1)
    expect(parse('1000')).toBe(1000)
    expect(parse('007')).toBe(7)
  })

  it.each(['0', '1001', '-1', '1e3', '0x10', '1.5', ' 3', 'ten', '99999999999999999999'])('refuses %j', (v) => {
    expect(() => parse(v)).toThrow(UsageError)
  })

  it('a required option without default', () => {
    expect(() => uintOption(parseArgs([], SPECS), 'count', { min: 0, max: 10 })).toThrow(/option --count is required/)
  })

  it('goes up to 2^53-1 and no further', () => {
    const big = (v: string): number =>
      uintOption(parseArgs(['--count', v], SPECS), 'count', { min: 0, max: Number.MAX_SAFE_INTEGER })
    expect(big('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(() => big('9007199254740992')).toThrow(UsageError)
  })
})

describe('parseTarget / parseListenAddr', () => {
  it('splits /p2p/<id> from a TCP address (ip4, ip6, dns)', () => {
    for (const addr of ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001', '/dns4/localhost/tcp/4001']) {
      const t = parseTarget(`${addr}/p2p/${PEER}`)
      expect(t.peerId.toString()).toBe(PEER)
      expect(t.addr.toString()).toBe(addr)
    }
    expect(parseTarget(`/ip4/127.0.0.1/tcp/4001/ipfs/${PEER}`).peerId.toString()).toBe(PEER)
  })

  it.each([
    ['garbage', /invalid multiaddr "garbage"/],
    ['/ip4/127.0.0.1/tcp/4001', /must end with \/p2p\/<peerId>/],
    [`/ip4/127.0.0.1/udp/4001/p2p/${PEER}`, /not a TCP address/],
    [`/p2p/${PEER}`, /not a TCP address/],
    ['/ip4/127.0.0.1/tcp/4001/p2p/notapeer', /invalid/],
    ['/ip4/127.0.0.1/tcp/70000/p2p/' + PEER, /invalid multiaddr/]
  ])('%s → UsageError', (text, message) => {
    expect(() => parseTarget(text)).toThrow(UsageError)
    expect(() => parseTarget(text)).toThrow(message)
  })

  it('listen addresses are TCP and carry no /p2p', () => {
    expect(parseListenAddr('/ip4/0.0.0.0/tcp/0').toString()).toBe('/ip4/0.0.0.0/tcp/0')
    expect(() => parseListenAddr(`/ip4/127.0.0.1/tcp/0/p2p/${PEER}`)).toThrow(/without \/p2p/)
    expect(() => parseListenAddr('/ip4/127.0.0.1/udp/0')).toThrow(UsageError)
    expect(parseListenAddr('/ip4/127.0.0.1/udp/0/quic-v1').toString()).toBe('/ip4/127.0.0.1/udp/0/quic-v1')
    expect(parseListenAddr('/ip6/::1/udp/4001/quic-v1').toString()).toBe('/ip6/::1/udp/4001/quic-v1')
  })
})

describe('output formats and error reporting', () => {
  it('RTT lines have three decimals, as the go and rust peers print them', () => {
    expect(formatRtt(0.4123)).toBe('RTT 0.412 ms')
    expect(formatRtt(12)).toBe('RTT 12.000 ms')
  })

  it('echo payloads are 64 KiB, deterministic and distinct per stream', () => {
    const a = echoPayload(0)
    expect(a.length).toBe(64 * 1024)
    expect(echoPayload(0)).toEqual(a)
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) seen.add(Buffer.from(echoPayload(i).subarray(0, 16)).toString('hex'))
    expect(seen.size).toBe(200)
    expect(echoPayload(3, 7).length).toBe(7)
  })

  it('usage errors → 2, everything else → 1, always one line', () => {
    const errs: string[] = []
    const io = { err: (l: string) => { errs.push(l) } }
    expect(report(new UsageError('bad\nthing'), io)).toBe(2)
    expect(report(new TransportError('ERR_CONNECTION_REFUSED', 'dial failed:\n  ECONNREFUSED'), io)).toBe(1)
    expect(report(new CliError('timed out'), io)).toBe(1)
    expect(report('a string', io)).toBe(1)
    expect(report(new Error(''), io)).toBe(1)
    expect(errs).toEqual([
      'usage error: bad thing (see switchyard --help)',
      'error: dial failed: ECONNREFUSED',
      'error: timed out',
      'error: a string',
      'error: Error'
    ])
    expect(oneLine('  a\n\n b ')).toBe('a b')
  })

  it('main: help, version and usage errors without touching the network', async () => {
    const io = recordingIo()
    const { stdout: out, stderr: err } = io
    expect(await main(['--version'], io)).toBe(0)
    expect(await main(['help', 'perf'], io)).toBe(0)
    expect(await main(['toString'], io)).toBe(2)
    expect(await main(['ping', '--count', '3'], io)).toBe(2)
    expect(out[0]).toMatch(/^\d+\.\d+\.\d+$/)
    expect(out[1]).toMatch(/^usage: switchyard perf/)
    expect(err).toEqual([
      'usage error: unknown command "toString" (see switchyard --help)',
      'usage error: expected exactly one multiaddr with /p2p/<peerId>, got 0 arguments (see switchyard --help)'
    ])
  })
})
