/**
 * `--trace` and `--keylog` over QUIC through the built CLI: the packets (type, number, frames)
 * between UDP and the libp2p layers, the TLS messages of the CRYPTO frames, and the NSS key log
 * lines (the labels tshark uses to decrypt QUIC).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildToTemp } from './build.js'
import type { Build } from './build.js'
import { Listener, run } from './processes.js'

let build: Build
let cli: string
let dir: string

beforeAll(async () => {
  build = await buildToTemp(['src/cli.js'])
  cli = join(build.dir, 'src/cli.js')
  dir = await mkdtemp(join(tmpdir(), 'quic-wire-'))
}, 240_000)

afterAll(async () => {
  await build?.remove()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('switchyard CLI: see the QUIC wire', () => {
  let listener: Listener

  beforeAll(async () => {
    listener = await Listener.start(cli, ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--trace'], 1)
  }, 30_000)

  afterAll(async () => { await listener?.stop('SIGKILL') })

  it(
    'ping --trace --keylog: packets and frames, TLS inside CRYPTO, the stream; four NSS secrets in the key log',
    async () => {
      const keylog = join(dir, 'keys.log')
      const r = await run(cli, ['ping', listener.addrs[0] as string, '--trace', '--keylog', keylog])
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(
        /#1 udp open \/ip4\/[\d.]+\/udp\/\d+\/quic-v1 -> \/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1 \(outbound\)/
      )
      expect(r.stderr).toMatch(/ {2}quic -> Initial #0 \(1200 B\): CRYPTO 0\+\d+, PADDING \d+/)
      expect(r.stderr).toMatch(/ {4}tls -> ClientHello \(\d+ B, initial\).*ALPN \[libp2p\]/)
      expect(r.stderr).toMatch(/ {2}quic <- Handshake #0 \(\d+ B\): CRYPTO 0\+\d+/)
      expect(r.stderr).toMatch(/ {2}quic <- 1-RTT #\d+ \(\d+ B\): .*HANDSHAKE_DONE/)
      expect(r.stderr).toMatch(/ {2}quic -> 1-RTT #\d+ \(\d+ B\): .*STREAM \d+ @0\+\d+/)
      expect(r.stderr).toMatch(/\[\d+\] protocol \/ipfs\/ping\/1\.0\.0/)
      // the listener's trace sees the same exchange from the other side
      expect(listener.stderr).toMatch(/ {2}quic <- Initial #0 \(1200 B\): CRYPTO 0\+\d+/)
      const keys = (await readFile(keylog, 'utf8')).trim().split('\n').filter(l => !l.startsWith('#'))
      expect(keys.map(l => l.split(' ')[0])).toEqual([
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
        'SERVER_HANDSHAKE_TRAFFIC_SECRET',
        'CLIENT_TRAFFIC_SECRET_0',
        'SERVER_TRAFFIC_SECRET_0'
      ])
      for (const l of keys) expect(l).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64}$/)
    },
    60_000
  )
})
